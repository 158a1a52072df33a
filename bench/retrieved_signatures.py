"""The retrieved layer's own signatures on ordinary files: which of them match installed code and
documentation, and what the signatures monitor costs there.

    .venv/bin/python bench/retrieved_signatures.py [--limit 100000] [--show 3]

Every installed ``.py``, ``.md``, ``.rst`` and ``.txt`` file (its first ``--limit`` characters;
the packages that ship attacks on purpose left out) is read as a tool result by the built-in
catalogue. For each signature limited to retrieved content (``stages: [retrieved]``) the count of
files it matches at the default block threshold (0.7) is printed, with the first few paths:
none of them is an order to a model, so each is a false positive a coding agent would meet.
Then the monitor's median microseconds per KB over three passes of the same files.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import sysconfig
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from detectors import ATTACK_TOOLS
from swisscheese.core import Content, Context, Stage
from swisscheese.monitors.signatures import SignaturesConfig, SignaturesMonitor, load_catalogue

SUFFIXES = (".py", ".md", ".rst", ".txt")
# Packages that ship attack corpora besides the red-teaming tools.
ATTACK_DATA = ATTACK_TOOLS | {"bastioncorpus", "agent-injection-bench"}
BLOCK = 0.7


def installed_files(limit: int) -> list[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["purelib"])
    skip = {name.replace("-", "_") for name in ATTACK_DATA}
    out = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.suffix not in SUFFIXES or skip & {p.lower() for p in relative.parts}:
            continue
        if any(p.endswith(".dist-info") for p in relative.parts) or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")[:limit]
        except (UnicodeDecodeError, OSError):
            continue
        out.append((relative.as_posix(), text))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100_000, help="characters read per file")
    parser.add_argument("--show", type=int, default=3, help="paths printed per signature")
    args = parser.parse_args()
    retrieved_only = sorted(
        str(e["id"])
        for e in load_catalogue(SignaturesConfig())
        if list(e.get("stages", ())) == ["retrieved"]
    )
    monitor = SignaturesMonitor(SignaturesConfig())
    files = installed_files(args.limit)
    contents = [Content(text, "tool", Stage.RETRIEVED) for _, text in files]
    matched: dict[str, list[str]] = defaultdict(list)
    for (name, _), content in zip(files, contents, strict=True):
        for finding in monitor.inspect_sync(content, Context()):
            signature = str(finding.detail.get("signature", ""))
            if signature in retrieved_only and finding.score >= BLOCK:
                matched[signature].append(name)
    print(f"{len(files):,} installed files ({', '.join(SUFFIXES)}), read as tool results")
    for signature in retrieved_only:
        names = matched.get(signature, [])
        print(f"  {signature:34} {len(names):5} files  {'  '.join(names[: args.show])}")
    kb = sum(len(c.text) for c in contents) / 1000
    passes = []
    for _ in range(3):
        start = time.perf_counter()
        for content in contents:
            monitor.inspect_sync(content, Context())
        passes.append((time.perf_counter() - start) / kb * 1e6)
    print(f"signatures monitor: p50 {statistics.median(passes):.0f} µs per KB over {kb:,.0f} KB")


if __name__ == "__main__":
    main()
