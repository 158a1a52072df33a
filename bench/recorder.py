"""Flight recorder figures: durable appends per second (SQLite and PostgreSQL, one writer and 4
writer processes), proof generation time at 10^4, 10^5 and 10^6 leaves, full verification of
10^6 leaves, and peak memory.

    .venv/bin/python bench/recorder.py [--leaves 1000000] [--postgres URL]

PostgreSQL figures need a server: `--postgres URL` or SWISSCHEESE_TEST_POSTGRES (.ci/postgres.sh
starts one). Appends are durable when counted: SQLite runs WAL with synchronous=FULL.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from swisscheese.recorder import Recorder
from swisscheese.store import LogStore

ROOT = Path(__file__).resolve().parents[1]

WRITER = textwrap.dedent("""
    import sys, time
    from swisscheese.recorder import Recorder
    from swisscheese.store import LogStore
    url, n = sys.argv[1], int(sys.argv[2])
    rec = Recorder(LogStore(url))
    event = {"deployment": "bench", "action": "allow", "stage": "input"}
    futures = [rec.submit(rec.prepare("verdict", {**event, "n": i}, {"text": "x" * 200}))
               for i in range(n)]
    for f in futures:
        f.result()
    rec.close()
""")

VERIFY = textwrap.dedent("""
    import resource, sys, time
    from swisscheese.recorder import Recorder
    from swisscheese.store import LogStore
    rec = Recorder(LogStore(sys.argv[1]))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    report = rec.verify()
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(report.ok, report.size, elapsed, before, peak)
""")


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def appends_per_second(url: str, writers: int, per_writer: int) -> float:
    LogStore(url).close()
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, url, str(per_writer)], env=env())
        for _ in range(writers)
    ]
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError("writer failed")
    return writers * per_writer / (time.perf_counter() - t0)


def fresh_postgres(url: str) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.conftest import reset_postgres

    reset_postgres(url)


def grow(rec: Recorder, target: int) -> None:
    """Append (pipelined, in bursts) until the log has ``target`` leaves."""
    size = rec.size()
    while size < target:
        n = min(20_000, target - size)
        futures = [rec.submit(rec.prepare("verdict", {"n": size + i})) for i in range(n)]
        for f in futures:
            f.result()
        size += n


def proof_ms(rec: Recorder, size: int, samples: int = 200) -> tuple[float, float]:
    rng = random.Random(size)
    incl, cons = [], []
    for _ in range(samples):
        index = rng.randrange(size)
        t0 = time.perf_counter()
        rec.prove_inclusion(index, size)
        incl.append((time.perf_counter() - t0) * 1000)
        old = rng.randrange(1, size + 1)
        t0 = time.perf_counter()
        rec.prove_consistency(old, size)
        cons.append((time.perf_counter() - t0) * 1000)
    return statistics.median(incl), statistics.median(cons)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=20_000)
    parser.add_argument("--postgres", default=os.environ.get("SWISSCHEESE_TEST_POSTGRES"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="swisscheese-bench-"))

    print("durable appends per second (pipelined, group commit):")
    for writers in (1, 4):
        rate = appends_per_second(str(tmp / f"w{writers}.db"), writers, args.appends // writers)
        print(f"  SQLite      {writers} writer process(es): {rate:9.0f}/s")
    if args.postgres:
        for writers in (1, 4):
            fresh_postgres(args.postgres)
            rate = appends_per_second(args.postgres, writers, args.appends // writers)
            print(f"  PostgreSQL  {writers} writer process(es): {rate:9.0f}/s")
    else:
        print("  PostgreSQL: not measured (give --postgres URL)")

    print("\nproofs (median of 200, SQLite file):")
    big = tmp / "big.db"
    rec = Recorder(LogStore(str(big)))
    sizes = [s for s in (10_000, 100_000, 1_000_000) if s <= args.leaves]
    t_build = time.perf_counter()
    for size in sizes:
        grow(rec, size)
        incl, cons = proof_ms(rec, size)
        print(f"  {size:>9} leaves: inclusion {incl:.3f} ms, consistency {cons:.3f} ms")
    built = time.perf_counter() - t_build
    print(f"  (built {rec.size()} leaves in {built:.0f} s: {rec.size() / built:.0f} appends/s)")
    rec.close()

    out = subprocess.run(
        [sys.executable, "-c", VERIFY, str(big)],
        env=env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    ok, size, elapsed, before, peak = out[0], int(out[1]), float(out[2]), int(out[3]), int(out[4])
    print(
        f"\nfull verification of {size} leaves: {elapsed:.1f} s, ok={ok}, "
        f"peak RSS {peak / 1024:.0f} MB (before: {before / 1024:.0f} MB)"
    )
    print(f"database size: {big.stat().st_size / 1e6:.0f} MB")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS of this process (appending, proving): {own / 1024:.0f} MB")


if __name__ == "__main__":
    main()
