"""Governance figures: the framework gate over a large log, and the closed loop's latency.

1. Gate at scale: a store with --events verdict events (10^6 by default), a recorded policy, an
   evaluation and a few incidents; a generated framework of 50 conditions (25 levels, each an
   early warning and a threshold over per-category attack success). Prints the p50 and max of
   gathering the evidence and deciding, over --repeats runs (target: 1 s). Evidence is found
   by the log's type index, not by scanning the verdicts.
2. Closed loop: a real gateway process on a SQLite store (it polls halts every 0.2 s) or on
   PostgreSQL (--postgres URL: pushed by LISTEN/NOTIFY); --runs times an incident that names a
   failed safeguard is recorded and the framework decides and halts; the figure is from the
   start of filing to the gateway's /readyz answering 503 (target: 2 s p50).

    .venv/bin/python bench/governance.py [--events 1000000] [--runs 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from swisscheese.config import default_policy  # noqa: E402
from swisscheese.evaluation.run import record_evidence  # noqa: E402
from swisscheese.governance.framework import evaluate, parse_framework  # noqa: E402
from swisscheese.governance.gate import check_gate, gather  # noqa: E402
from swisscheese.governance.incidents import Incident  # noqa: E402
from swisscheese.governance.register import record  # noqa: E402
from swisscheese.ops import Operations  # noqa: E402
from swisscheese.policy import compile_policy  # noqa: E402
from swisscheese.recorder import Recorder  # noqa: E402
from swisscheese.recorder.events import PolicyLoaded  # noqa: E402
from swisscheese.store import AccessStore, Database, LogStore  # noqa: E402

CATEGORIES = ["cbrne", "cyber", "violent_crimes", "non_violent_crimes", "self_harm"]


def framework(levels: int = 25) -> str:
    lines = ["version: 1", "framework: bench", "domains:"]
    for i in range(levels):
        cat = CATEGORIES[i % len(CATEGORIES)]
        lines += [
            f"  - id: d{i}",
            "    levels:",
            f"      - id: l{i}",
            f"        early_warning: eval.asr.by_category.{cat}.at_k > {0.01 * (i % 5):.2f}",
            f"        threshold: eval.asr.by_category.{cat}.at_k > 0.5"
            f" || size(incidents.failed) > {i}",
        ]
    return "\n".join(lines) + "\n"


def incident(i: int, deployment: str, failed: tuple[str, ...] = ()) -> Incident:
    now = dt.datetime.now(dt.UTC)
    return Incident.model_validate(
        {
            "id": f"inc-{i}",
            "title": "bench",
            "what": "bench",
            "occurred_at": now,
            "aware_at": now,
            "where": ["EU"],
            "system": {"deployment": deployment},
            "harms": [{"type": "security", "severity": "serious"}],
            "failed_mitigations": failed,
        }
    )


def seed(db: str, events: int, deployment: str) -> tuple[Database, Recorder]:
    database = Database(db, create=True)
    recorder = Recorder(LogStore(database))
    loaded = default_policy()
    digest = compile_policy(loaded).digest
    AccessStore(database).register_deployment(deployment, digest, "bench")
    recorder.record(
        PolicyLoaded(deployment=deployment, policy=digest), loaded.policy.model_dump(mode="json")
    )
    record_evidence(evaluation(digest, 0.2), recorder)
    event = {"deployment": deployment, "action": "allow", "stage": "input"}
    started = time.perf_counter()
    chunk = 5000
    for start in range(0, events, chunk):
        futures = [
            recorder.submit(recorder.prepare("verdict", {**event, "n": i}))
            for i in range(start, min(events, start + chunk))
        ]
        futures[-1].result()
    for i in range(10):
        record(recorder, incident(i, deployment), "bench", new=True)
    took = time.perf_counter() - started
    print(f"seeded {events:,} verdict events in {took:.0f} s ({recorder.size():,} entries)")
    return database, recorder


def _estimate(value: float) -> dict[str, Any]:
    return {"value": value, "ci95": [max(0.0, value - 0.1), min(1.0, value + 0.1)]}


def evaluation(policy_digest: str | None, at_k: float) -> dict[str, Any]:
    """A results document with what the evidence reads: every category at ``at_k``."""
    rates = {k: _estimate(v) for k, v in (("tpr", 0.9), ("fpr", 0.0), ("roc_auc", 0.95),
             ("recall_at_1pct_fpr", 0.8), ("recall_at_0_1pct_fpr", 0.7))}  # fmt: skip
    return {
        "schema": "swisscheese.eval/1",
        "created": dt.datetime.now(dt.UTC).isoformat(),
        "config": {"policy_digest": policy_digest},
        "target": "guard",
        "judge": "guard",
        "counts": {"attacks": 40, "attack_prompts": 100, "benign": 100},
        "layers": {},
        "stack": rates,
        "asr": {
            "k": 10,
            "goals": 40,
            "at_1": _estimate(at_k),
            "at_k": _estimate(at_k),
            "by_category": {c: {"goals": 8, "at_1": at_k, "at_k": at_k} for c in CATEGORIES},
        },
        "swiss_cheese": {"observed_miss": _estimate(0.1), "independent_miss": _estimate(0.1)},
        "latency_ms": {"stack": {"p50": 0.6, "p99": 2.0}},
        "benign": {"refused": [], "fpr_by_category": {}},
    }


def gate_at_scale(events: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database, recorder = seed(f"sqlite:///{tmp}/gov.db", events, "bench")
        loaded = parse_framework(framework())
        conditions = len(loaded.programs)
        access = AccessStore(database)
        deployment = access.deployment("bench")
        assert deployment is not None
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            gathered = gather(recorder.store, deployment, dt.datetime.now(dt.UTC))
            decision = evaluate(loaded, gathered.evidence, gathered.policy)
            times.append(time.perf_counter() - started)
        print(
            f"gate: {conditions} conditions over {recorder.size():,} entries: "
            f"p50 {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms "
            f"({decision.decision.value}; target 1 s)"
        )
        recorder.close()
        database.close()


def closed_loop(runs: int, db: str | None) -> None:
    from tests.helpers.fleet import gateway_process
    from tests.helpers.scripted import completion, make_scripted
    from tests.helpers.servers import serve

    from swisscheese.cli._framework import load as load_framework

    with tempfile.TemporaryDirectory() as tmp:
        url = db or f"sqlite:///{tmp}/loop.db"
        if db:
            from tests.conftest import reset_postgres

            reset_postgres(db)
        upstream_app, script = make_scripted()
        script.answer = completion({"role": "assistant", "content": "ok"})
        with (
            serve(upstream_app) as upstream,
            gateway_process(upstream + "/v1", url, Path(tmp) / "gw.log") as gw,
        ):
            database = Database(url)
            recorder = Recorder(LogStore(database))
            ops = Operations(AccessStore(database), recorder)
            fw = load_framework(None)
            digest = ops.known("default").policy_digest
            times: list[float] = []
            decided: list[float] = []
            with httpx.Client(timeout=2) as client:
                for i in range(runs):
                    record_evidence(evaluation(digest, 0.0), recorder)
                    started = time.perf_counter()
                    filed = incident(1000 + i, "default", ("injection",))
                    record(recorder, filed, "bench", new=True)
                    check_gate(ops, fw, "default", "bench", cause=f"incident {filed.id}")
                    decided.append(time.perf_counter() - started)
                    while client.get(gw + "/readyz").status_code != 503:
                        time.sleep(0.002)
                    times.append(time.perf_counter() - started)
                    closed = filed.model_copy(update={"status": "closed"})
                    record(recorder, closed, "bench", new=False)
                    record_evidence(evaluation(digest, 0.0), recorder)
                    ops.resume("default", "bench", "bench")
                    while client.get(gw + "/readyz").status_code != 200:
                        time.sleep(0.01)
            kind = "PostgreSQL (LISTEN/NOTIFY)" if db else "SQLite (polling every 0.2 s)"
            print(
                f"closed loop on {kind}: incident filed -> gateway refusing, {runs} runs: "
                f"p50 {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms "
                f"(target 2 s); of which recording, deciding and halting "
                f"{statistics.median(decided) * 1000:.0f} ms p50"
            )
            recorder.close()
            database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres", help="also run the loop on this PostgreSQL URL")
    args = parser.parse_args()
    gate_at_scale(args.events, args.repeats)
    closed_loop(args.runs, None)
    if args.postgres:
        closed_loop(args.runs, args.postgres)


if __name__ == "__main__":
    main()
