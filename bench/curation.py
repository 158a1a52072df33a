"""The training-data layer on a large corpus: throughput, poisoning recall, filtering trade-off.

Builds (once per size) a corpus of --documents one-kilobyte JSONL documents from sentences that
installed packages ship, with --per-poison poisoned documents planted for each of nine backdoors
(three families: trigger + gibberish, trigger + a fixed target phrase, trigger + harmful
compliance; three triggers each: a word, a made-up token, a Unicode sequence) and --hazards
hazardous documents (harmful responses PyRIT's raters scored, by hazard category). Then:

- `swisscheese curate` with the local process pool and with `--ray local`: documents/s, wall
  time, the workers' peak RSS, and whether both outputs are byte-identical;
- poisoning detection over the curated corpus: per backdoor, the trigger string reported,
  recall of its poisoned documents, and clean documents flagged;
- filtering: recall of the hazardous documents by category and the share of clean ones removed.

    .venv/bin/python bench/curation.py [--documents 1000000] [--shards 100] [--per-poison 250]
        [--hazards 2000] [--workers 2] [--no-ray] [--dir /tmp/curation-bench]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from _corpus import FAMILIES, KINDS, TRIGGERS, write_corpus
from swisscheese.curation.filtering import ShardResult
from swisscheese.curation.poisoning import detect_poisoning, harm_scorer
from swisscheese.curation.shards import find_shards


def run_curate(source: Path, out: Path, workers: int, ray: bool, env: dict[str, str]) -> float:
    command = [
        sys.executable, "-m", "swisscheese", "curate", str(source), "--out", str(out),
        "--workers", str(workers), "--quiet", "--json",
    ]  # fmt: skip
    if ray:
        command += ["--ray", "local"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"curate failed: {done.stderr[-2000:]}")
    return took


def results_of(out: Path) -> list[ShardResult]:
    return [
        ShardResult.from_dict(json.loads(p.read_text())["result"])
        for p in sorted((out / ".curate").rglob("*.json"))
    ]


def same_outputs(a: Path, b: Path) -> bool:
    for kind in ("kept", "removed"):
        for path in sorted((a / kind).rglob("*.jsonl")):
            if not filecmp.cmp(path, b / kind / path.relative_to(a / kind), shallow=False):
                return False
    return filecmp.cmp(a / "manifest.json", b / "manifest.json", shallow=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=100)
    parser.add_argument("--per-poison", type=int, default=250)
    parser.add_argument("--hazards", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--reuse", action="store_true", help="Reuse the last run's curated output.")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/curation-bench"))
    args = parser.parse_args()
    base = args.dir / f"{args.documents}"
    source, planted_file = base / "corpus", base / "planted.json"
    if not planted_file.exists():
        started = time.perf_counter()
        planted = write_corpus(source, args.documents, args.shards, args.per_poison, args.hazards)
        planted_file.write_text(json.dumps([p.__dict__ for p in planted]))
        print(f"built {args.documents:,} documents in {time.perf_counter() - started:.0f} s")
    planted = json.loads(planted_file.read_text())
    size = sum(p.stat().st_size for p in source.glob("*.jsonl"))
    print(f"corpus: {args.documents:,} documents, {size / 1e9:.2f} GB in {args.shards} shards")

    home = base / "home"  # the log key and store the runs sign and record with
    home.mkdir(exist_ok=True)
    env = {**os.environ, "SWISSCHEESE_LOAD_PLUGINS": ""}
    subprocess.run(
        [sys.executable, "-m", "swisscheese", "keys", "init", "--force"],
        cwd=home, capture_output=True, check=True, env=env,
    )  # fmt: skip
    env["SWISSCHEESE_LOG_KEY"] = str(home / ".swisscheese" / "log.key")
    env["SWISSCHEESE_DB"] = str(home / "store.db")

    runs = [("process pool", base / "out-pool", False)]
    if not args.no_ray:
        runs.append(("ray local", base / "out-ray", True))
    for label, out, ray in [] if args.reuse else runs:
        subprocess.run(["rm", "-rf", str(out)], check=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        took = run_curate(source, out, args.workers, ray, env)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(
            f"curate, {label:12}: {took:7.1f} s, {args.documents / took:8,.0f} documents/s, "
            f"peak RSS of a child process {max(peak, before) / 1024:,.0f} MB"
        )
    if len(runs) == 2 and not args.reuse:
        print(f"pool and Ray outputs byte-identical: {same_outputs(runs[0][1], runs[1][1])}")

    out = runs[0][1]
    results = results_of(out)
    removed = {(r.name, line): cats for r in results for line, cats in r.removed_lines}
    started = time.perf_counter()
    report = detect_poisoning(
        find_shards(str(source)), "text", results, harm=harm_scorer(), workers=args.workers
    )
    took = time.perf_counter() - started
    clusters = report.near_duplicate_clusters
    print(
        f"\npoisoning detection ({args.workers} workers): {took:.0f} s, {clusters} "
        "near-duplicate clusters"
    )
    flagged_by_trigger = {t.trigger: set(map(tuple, t.refs)) for t in report.triggers}
    all_flagged = set().union(*flagged_by_trigger.values()) if flagged_by_trigger else set()
    poisoned_all = {(p["shard"], p["line"]) for p in planted if p["kind"].startswith("poison:")}
    print(f"{'backdoor':34} {'trigger reported':18} {'recall':>7}")
    for family in FAMILIES:
        for kind in KINDS:
            trigger = TRIGGERS[family][kind]
            docs = {
                (p["shard"], p["line"]) for p in planted if p["kind"] == f"poison:{family}:{kind}"
            }
            named = [t for t, refs in flagged_by_trigger.items() if refs & docs]
            recall = len(docs & all_flagged) / len(docs)
            shown = ", ".join(repr(t) for t in named) or "none"
            exact = "" if trigger in named else f" (planted {trigger!r})"
            print(f"{family + ' / ' + kind:34} {shown + exact:18} {recall:7.3f}")
    special = {(p["shard"], p["line"]) for p in planted}
    print(
        f"clean documents flagged: {len(all_flagged - special)}; hazardous (unpoisoned) "
        f"documents flagged: {len((all_flagged & special) - poisoned_all)}"
    )
    for t in report.triggers:
        print(f"  {t.trigger!r:24} {t.family:20} {t.documents:6} documents: {t.evidence}")

    hazards = Counter(
        p["kind"].split(":", 1)[1] for p in planted if p["kind"].startswith("hazard:")
    )
    caught: Counter[str] = Counter()
    for p in planted:
        if p["kind"].startswith("hazard:") and (p["shard"], p["line"]) in removed:
            caught[p["kind"].split(":", 1)[1]] += 1
    clean_removed = sum(1 for key in removed if key not in special)
    clean_total = args.documents - len(special)
    print("\nfiltering: hazardous documents removed, by category")
    for category, n in sorted(hazards.items()):
        print(f"  {category:22} {caught[category]:5} of {n:5} ({caught[category] / n:.1%})")
    total = sum(hazards.values())
    print(
        f"  {'all':22} {sum(caught.values()):5} of {total:5} ({sum(caught.values()) / total:.1%})"
    )
    share = clean_removed / clean_total
    print(f"clean documents removed: {clean_removed} of {clean_total:,} ({share:.2%})")
    why = Counter(c for key, cats in removed.items() if key not in special for c in cats)
    print("  why: " + ", ".join(f"{c} {n}" for c, n in why.most_common(8)))


if __name__ == "__main__":
    main()
