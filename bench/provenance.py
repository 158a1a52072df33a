"""Signed output statements: time to sign one statement and to verify it (p50, p99).

Sign: build the in-toto statement and sign its DSSE envelope (Ed25519, securesystemslib).
Verify: the envelope's signature, then a whole bundle (signature, digest, record, checkpoint,
inclusion proof against a log of 10,000 entries).

    .venv/bin/python bench/provenance.py [--n 2000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from securesystemslib.dsse import Envelope

from swisscheese.provenance import StatementSigner, answer_bundle, output_statement, verify_bundle
from swisscheese.provenance.statements import _sslib_key, text_sha256
from swisscheese.recorder import Recorder
from swisscheese.recorder.events import AnswerReleased
from swisscheese.recorder.note import Signer
from swisscheese.store import LogStore


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: object, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    key = Signer.generate("bench-log")
    signer = StatementSigner(key)
    text = "The capital of France is Paris. " * 20
    answer = {
        "deployment": "default", "model": "m", "policy": "sha256:" + "0" * 64,
        "verdicts_digest": "sha256:" + "1" * 64, "released": [text_sha256(text)],
    }  # fmt: skip
    sign = timed(lambda: signer.envelope(output_statement(answer, "bench/log", 7)), args.n)
    envelope = signer.envelope(output_statement(answer, "bench/log", 7))
    public = _sslib_key(key.verifier)
    parsed = Envelope.from_dict(json.loads(json.dumps(envelope)))
    verify = timed(lambda: parsed.verify([public], 1), args.n)

    with tempfile.TemporaryDirectory() as tmp:
        recorder = Recorder(LogStore(str(Path(tmp) / "log.db")), signer=key, origin="bench/log")
        event = AnswerReleased(**answer)  # type: ignore[arg-type]
        for _ in range(9_999):
            recorder.submit(recorder.prepare_event(event))
        receipt = recorder.record(event)
        bundle = answer_bundle(recorder, signer, receipt.index)
        whole = timed(lambda: verify_bundle(text, bundle, key.verifier), max(200, args.n // 10))
        recorder.close()
    for name, values in (
        ("sign (statement + DSSE)", sign),
        ("verify (envelope signature)", verify),
        ("verify (whole bundle, 10^4-entry log)", whole),
    ):
        print(
            f"{name:40} p50 {statistics.median(values):.3f} ms   "
            f"p99 {percentile(values, 0.99):.3f} ms"
        )
    print(f"sign + verify p50: {statistics.median(sign) + statistics.median(verify):.3f} ms")


if __name__ == "__main__":
    main()
