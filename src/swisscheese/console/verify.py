"""A record's inclusion in the log, checked against the latest signed checkpoint, as steps a
person can follow: the leaf hash of the stored event, each hash of the audit path, the
checkpoint's signature, and the root the path reaches against the root the checkpoint signed."""

from __future__ import annotations

from dataclasses import dataclass, field

from swisscheese.core import merkle
from swisscheese.recorder import Recorder, open_with_keys


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str
    hashes: list[tuple[str, str]] = field(default_factory=list)
    """(label, hex) pairs the step computed or read."""


@dataclass(frozen=True)
class Verification:
    index: int
    steps: list[Step]

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)


def verify_record(recorder: Recorder, index: int) -> Verification:
    """Check entry ``index`` against the newest checkpoint that covers it, signing a new one
    first when none does and the recorder holds the log key."""
    steps: list[Step] = []
    entry = recorder.store.entry(index)
    if entry is None:
        return Verification(index, [Step("record", False, f"no log entry {index}")])
    leaf = merkle.leaf_hash(entry.event)
    steps.append(
        Step(
            "leaf",
            leaf == entry.leaf_hash,
            "SHA-256 of 0x00 and the stored event "
            + ("matches the stored leaf hash" if leaf == entry.leaf_hash else "DIFFERS from it"),
            [("leaf hash", leaf.hex())],
        )
    )
    checkpoints = recorder.store.checkpoints()
    if (not checkpoints or checkpoints[-1][0] <= index) and recorder.signer is not None:
        recorder.checkpoint()
        checkpoints = recorder.store.checkpoints()
    if not checkpoints or checkpoints[-1][0] <= index:
        steps.append(Step("checkpoint", False, "no signed checkpoint covers this entry yet"))
        return Verification(index, steps)
    size, note = checkpoints[-1]
    # The keys `log verify` accepts for it: adopted before it and not revoked by then, or
    # the log's own key when it recorded none.
    keys = recorder.checkpoint_keys(size)
    if not keys and recorder.signer is not None:
        keys = [recorder.signer.verifier]
    checkpoint, key, problem = open_with_keys(note, keys)
    if checkpoint is None or key is None:
        steps.append(
            Step(
                "checkpoint",
                False,
                f"the checkpoint at size {size} verifies with no key the log held then"
                + (f" ({problem})" if problem else ""),
            )
        )
        return Verification(index, steps)
    steps.append(
        Step(
            "checkpoint",
            checkpoint.size == size,
            f"{checkpoint.origin}, size {checkpoint.size}, signed by {key.name} "
            f"(a key valid for it)",
            [("signed root", checkpoint.root.hex())],
        )
    )
    proof = recorder.prove_inclusion(index, checkpoint.size)
    path = merkle.inclusion_steps(leaf, index, checkpoint.size, proof.audit_path)
    if path is None:
        steps.append(Step("audit path", False, "the path does not fit this index and size"))
        return Verification(index, steps)
    steps.append(
        Step(
            "audit path",
            True,
            f"{len(path)} hashes from leaf {index} up to the root of {checkpoint.size} entries",
            [
                (
                    f"{n + 1}: H({'sibling, hash' if s.left else 'hash, sibling'}) with "
                    f"sibling {s.sibling.hex()[:16]}…",
                    s.result.hex(),
                )
                for n, s in enumerate(path)
            ],
        )
    )
    reached = path[-1].result if path else leaf
    steps.append(
        Step(
            "root",
            reached == checkpoint.root,
            "the path reaches the signed root"
            if reached == checkpoint.root
            else "the path does NOT reach the signed root",
            [("reached", reached.hex()), ("signed", checkpoint.root.hex())],
        )
    )
    return Verification(index, steps)
