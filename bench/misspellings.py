"""Misspelt attack words through the default policy, with the decoder's `misspelt` reading and
without it (`config: {misspellings: false}` on the `obfuscation` rules), side by side.

    .venv/bin/python bench/misspellings.py [--files 1000] [--attacks 600] [--seed 1]

- Attacks: a seeded sample of ASCII attacks of the `injection` training sources, each through
  the evaluation's `typos` mutator (a letter swapped, dropped or doubled, or the inner letters
  shuffled, in words of five letters or more); the share blocked by the input layer (sent as a
  prompt) and by the retrieved layer (returned by a tool), then the same attacks as written.
- Ordinary text no shipped model trained on (the installed distributions' READMEs and source
  files of `bench/documents.py`): the share with a misspelt reading, the words read back, and
  the share each layer blocks either way.
- Cost: p50 milliseconds per KB of the reading alone, and of the input layer either way
  (alternated, on the READMEs).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from decoder_views import attack_sample
from detectors import package_readmes
from documents import screen, source_files
from swisscheese import Guard
from swisscheese.config import default_policy_text, parse_policy
from swisscheese.core import Content, Role, Stage
from swisscheese.evaluation.mutators import compose
from swisscheese.monitors import _typos

LAYERS: tuple[tuple[Stage, Role], ...] = ((Stage.INPUT, "user"), (Stage.RETRIEVED, "tool"))


def guards() -> dict[str, Guard]:
    text = default_policy_text()
    off = text.replace(
        "      - monitor: obfuscation",
        "      - monitor: obfuscation\n        config: {misspellings: false}",
    )
    assert off != text
    return {
        "with": Guard(parse_policy(text, "default")),
        "without": Guard(parse_policy(off, "default, misspellings off")),
    }


def blocked(guard: Guard, texts: list[str], stage: Stage, role: Role) -> float:
    return screen(guard, texts, stage, role)[0]


def per_kb(seconds: float, text: str) -> float:
    return seconds * 1000 / max(len(text) / 1000, 0.001)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--attacks", type=int, default=600)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    both = guards()
    rng = random.Random(args.seed)
    plain = [t for t in attack_sample(args.attacks * 2) if t][: args.attacks * 2]
    plain = random.Random(0).sample(plain, min(args.attacks, len(plain)))
    typed = [compose(["typos"], t, rng).text for t in plain]
    print(f"share blocked, with the misspelt reading / without it ({len(plain)} injection attacks)")
    for stage, role in LAYERS:
        for name, texts in (("typos", typed), ("as written", plain)):
            with_, without = (blocked(g, texts, stage, role) for g in both.values())
            print(f"  {stage.value:9} {name:10} {with_:.3f} / {without:.3f}")

    sets = {"READMEs": package_readmes(), "source files": source_files(args.files)}
    print("ordinary text: share read as misspelt; share blocked with / without")
    words: Counter[str] = Counter()
    for name, texts in sets.items():
        read = 0
        for text in texts:
            found = list(_typos._misspelt_words(text))
            words.update(found)
            read += bool(found)
        layers = [
            f"{stage.value} {blocked(both['with'], texts, stage, role):.4f} / "
            f"{blocked(both['without'], texts, stage, role):.4f}"
            for stage, role in LAYERS
        ]
        print(f"  {name:12} ({len(texts):5}) read {read / len(texts):.4f}; {'; '.join(layers)}")
    print(f"  words read back: {dict(words.most_common(20))}")

    readmes = sets["READMEs"]
    alone: list[float] = []
    layer: dict[str, list[float]] = {"with": [], "without": []}
    for text in readmes:
        started = time.perf_counter()
        _typos.misspelt_views(text)
        alone.append(per_kb(time.perf_counter() - started, text))
        for name, guard in both.items():
            started = time.perf_counter()
            guard.check_sync(Stage.INPUT, Content(text, "user", Stage.INPUT))
            layer[name].append(per_kb(time.perf_counter() - started, text))
    print(
        f"cost on READMEs, p50 ms per KB: the reading alone {statistics.median(alone):.4f}; "
        f"input layer with {statistics.median(layer['with']):.3f}, without "
        f"{statistics.median(layer['without']):.3f}"
    )
    for guard in both.values():
        guard.close()


if __name__ == "__main__":
    main()
