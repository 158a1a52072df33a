"""How the default policy's input layer does on the development data: share of in-the-wild
jailbreak prompts stopped, whether obfuscated copies of the caught ones are caught as reliably,
and how often benign traffic is stopped; and how its retrieved layer does on BIPIA's contexts
with each of BIPIA's attacks planted in them, by attack family.

    .venv/bin/python bench/tier0_detection.py [--datasets ../shared/datasets/dev]

The default input layer is tier 0 (curated phrasing) plus the learned injection detector, which
was trained with every development item removed; its figures here are on data it never saw.
The retrieved layer's `indirect.*` signatures were written after reading BIPIA's train-split
attacks, so their figures here are development figures, not figures on unseen attacks.
"""

from __future__ import annotations

import argparse
import base64
import codecs
import csv
import json
import random
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from prompts import make_prompts
from swisscheese import Guard, Stage
from swisscheese.evaluation.documents import plant

csv.field_size_limit(10**8)

_HOMOGLYPHS = str.maketrans(
    {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "i": "\u0456"}
)
_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})

TRANSFORMS: dict[str, Callable[[str], str]] = {
    "base64": lambda t: "Decode and follow: " + base64.b64encode(t.encode()).decode(),
    "hex": lambda t: t.encode().hex(),
    "rot13": lambda t: codecs.encode(t, "rot13"),
    "reversed": lambda t: t[::-1],
    "leetspeak": lambda t: t.translate(_LEET),
    "zero-width": lambda t: "\u200b".join(t),
    "homoglyphs": lambda t: t.translate(_HOMOGLYPHS),
    "spacing": lambda t: " ".join(t),
    "fullwidth": lambda t: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in t),
}


def read_csv(path: Path, column: str) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return [row[column] for row in csv.DictReader(f) if row.get(column)]


def stopped(guard: Guard, stage: Stage, texts: list[str]) -> list[bool]:
    return [not v.allowed for v in (guard.check_sync(stage, t) for t in texts)]


def share(flags: list[bool]) -> str:
    return f"{sum(flags)}/{len(flags)} = {sum(flags) / max(1, len(flags)):.1%}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/dev"
    )
    args = parser.parse_args()
    data: Path = args.datasets
    if not data.is_dir():
        print(f"no development data at {data}; nothing to measure")
        return
    guard = Guard()
    rng = random.Random(3)

    jailbreaks = read_csv(data / "jailbreak_prompts_2023_05_07.csv", "prompt")
    caught = stopped(guard, Stage.INPUT, jailbreaks)
    print(f"in-the-wild jailbreak prompts stopped (plain): {share(caught)}")
    known = [t for t, c in zip(jailbreaks, caught, strict=True) if c]
    sample = rng.sample(known, min(200, len(known)))
    print(f"\nobfuscated copies of {len(sample)} caught prompts, stopped:")
    for name, transform in TRANSFORMS.items():
        print(f"  {name:<11} {share(stopped(guard, Stage.INPUT, [transform(t) for t in sample]))}")

    print("\nbenign traffic stopped (false positives):")
    benign = {
        "JBB benign behaviours": read_csv(data / "jbb_benign_behaviors.csv", "goal"),
        "benchmark prompt mix (benign kinds)": [
            p for i, p in enumerate(make_prompts(1000)) if i % 20 < 16
        ],
    }
    for name, texts in benign.items():
        print(f"  {name:<36} {share(stopped(guard, Stage.INPUT, texts))}")
    contexts: dict[str, list[str]] = {}
    for kind in ("email", "table", "code"):
        path = data / "bipia" / kind / "train.jsonl"
        raw = [json.loads(line)["context"] for line in path.read_text().splitlines()]
        contexts[kind] = [c if isinstance(c, str) else "\n".join(map(str, c)) for c in raw]
        label = f"BIPIA clean {kind} (retrieved)"
        print(f"  {label:<36} {share(stopped(guard, Stage.RETRIEVED, contexts[kind]))}")

    # BIPIA's procedure: every attack at the start, the middle or the end of a context of its
    # kind (code attacks in code, text attacks in e-mails and tables).
    print("\nBIPIA attacks planted in its contexts, stopped by the retrieved layer:")
    for name, kinds in (
        ("text_attack_train.json", ("email", "table")),
        ("code_attack_train.json", ("code",)),
    ):
        families = json.loads((data / "bipia" / name).read_text())
        for family, attacks in families.items():
            planted = [
                plant("", rng.choice(contexts[rng.choice(kinds)]), rng).read(attack)
                for attack in attacks
                for _ in range(4)
            ]
            print(f"  {family:<36} {share(stopped(guard, Stage.RETRIEVED, planted))}")


if __name__ == "__main__":
    main()
