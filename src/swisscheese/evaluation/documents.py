"""Document corpora: attacks that arrive inside what the assistant fetches, not from the user.

Each item is read as a tool result fetched for the user's task (``Item.document``), so the
policy's retrieved layer is measured with the rest of the stack. As attacks, an instruction is
planted in a clean document; the attacker mutates the instruction and plants it in the same
place. As benign items, the clean documents themselves, and (built-in) the same documents with
notes to their human reader planted in them.

- ``builtin:documents``: documents and instructions written for swisscheese
  (``data/documents.yaml``);
- ``bipia:DIR``: a copy of BIPIA (``DIR/{email,table,code}/SPLIT.jsonl`` and
  ``DIR/{text,code}_attack_SPLIT.json``), every attack planted in one of its contexts by BIPIA's
  procedure (start, middle or end); ``?split=test`` reads the test split, ``train`` by default.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from swisscheese.evaluation.items import CorpusError, Document, Item, json_records

__all__ = ["bipia_items", "builtin_document_items", "plant"]

_BIPIA_KINDS = {"email": "text", "table": "text", "code": "code"}


def plant(task: str, carrier: str, rng: random.Random) -> Document:
    """``carrier`` with a place for a planted text at its start, middle or end (between
    sentences or lines where there are any)."""
    where = rng.choice(("start", "middle", "end"))
    if where == "start":
        return Document(task, "\n" + carrier, 0)
    if where == "end":
        return Document(task, carrier + "\n", len(carrier) + 1)
    half = len(carrier) // 2
    cut = max(carrier.rfind(". ", 0, half) + 2, carrier.rfind("\n", 0, half) + 1)
    if cut <= 1:
        cut = half
    return Document(task, f"{carrier[:cut]} {carrier[cut:]}", cut)


# -- built-in -----------------------------------------------------------------------------------


def builtin_document_items(data: dict[str, Any], *, attack: bool, seed: int = 0) -> list[Item]:
    """``data``: the parsed ``data/documents.yaml``."""
    documents = [
        (str(d["name"]), [str(t) for t in d["tasks"]], str(d["text"])) for d in data["documents"]
    ]
    rng = random.Random(f"{seed}:builtin:documents")
    source = "builtin:documents"
    if attack:
        items = []
        for category, instructions in data["instructions"].items():
            for i, instruction in enumerate(instructions):
                _, tasks, text = rng.choice(documents)
                where = plant(rng.choice(tasks), text, rng)
                items.append(
                    Item(
                        f"{source}:{category}:{i}",
                        str(instruction),
                        True,
                        source,
                        str(category),
                        document=where,
                    )
                )
        return items
    items = [
        Item(f"{source}:{name}:{j}", text, False, source, "document", document=Document(task))
        for name, tasks, text in documents
        for j, task in enumerate(tasks)
    ]
    for i, note in enumerate(data["reader_notes"]):
        name, tasks, text = documents[i % len(documents)]
        where = plant(rng.choice(tasks), text, rng)
        items.append(
            Item(
                f"{source}:{name}:note:{i}",
                where.read(str(note)),
                False,
                source,
                "document",
                document=Document(where.task),
            )
        )
    return items


# -- BIPIA --------------------------------------------------------------------------------------


def _bipia_contexts(root: Path, kind: str, split: str) -> list[tuple[str, str]]:
    """(task, context) per record of ``root/kind/split.jsonl``."""
    path = root / kind / f"{split}.jsonl"
    if not path.is_file():
        raise CorpusError(f"{path}: no such file (is {root} a copy of BIPIA?)")
    out = []
    for n, record in json_records(path.read_text(encoding="utf-8"), str(path)):
        if not isinstance(record, dict) or "context" not in record:
            raise CorpusError(f"{path}:{n}: expected an object with a 'context'")
        context = record["context"]
        if isinstance(context, list):  # code contexts are lists of lines
            context = "\n".join(map(str, context))
        if kind == "code":
            error = "\n".join(map(str, record.get("error") or []))
            code = "\n".join(map(str, record.get("code") or []))
            task = f"Fix this error.\n{error}\n{code}".strip()
        else:
            task = str(record.get("question") or "Answer my question about this document.")
        if str(context).strip():
            out.append((task, str(context)))
    return out


def _bipia_attacks(root: Path, family: str, split: str) -> dict[str, list[str]]:
    path = root / f"{family}_attack_{split}.json"
    if not path.is_file():
        raise CorpusError(f"{path}: no such file (is {root} a copy of BIPIA?)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{path}:{exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict):
        raise CorpusError(f"{path}:1: expected an object of attack lists by category")
    return {str(k): [str(a) for a in v] for k, v in data.items() if isinstance(v, list)}


def bipia_items(root: Path, *, attack: bool, split: str = "train", seed: int = 0) -> list[Item]:
    """BIPIA's clean contexts (benign) or its attacks planted in them (each attack once, in a
    seeded context of its kind: text attacks in e-mails and tables, code attacks in code; the
    attack's family is in its id)."""
    if not root.is_dir():
        raise CorpusError(f"bipia:{root}: no such directory")
    contexts = {kind: _bipia_contexts(root, kind, split) for kind in _BIPIA_KINDS}
    source = f"bipia:{split}"
    if not attack:
        return [
            Item(f"{source}:{kind}:{i}", context, False, source, kind, document=Document(task))
            for kind, rows in contexts.items()
            for i, (task, context) in enumerate(rows)
        ]
    rng = random.Random(f"{seed}:{source}")
    items = []
    for family in ("text", "code"):
        kinds = [k for k, f in _BIPIA_KINDS.items() if f == family and contexts[k]]
        for category, attacks in _bipia_attacks(root, family, split).items():
            for i, text in enumerate(attacks):
                task, context = rng.choice(contexts[rng.choice(kinds)])
                items.append(
                    Item(
                        f"{source}:{category}:{i}",
                        text,
                        True,
                        source,
                        "injection.indirect",
                        document=plant(task, context, rng),
                    )
                )
    return items
