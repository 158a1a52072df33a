"""Operators' decisions signed with their own keys: approvals, denials, halts and resumes.

An operator's key is an Ed25519 signed-note key (the log's checkpoint format), registered in the
log by an ``operator_key`` event. A decision event carries ``signed``: a note whose text is the
canonical JSON of the decision (its event's fields and the time it was signed), signed by the
operator's key. ``verify_decisions`` checks every signed decision against the key its signer
had registered before it, so the log proves who decided what, not only that it was recorded.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swisscheese.core import canonical_json
from swisscheese.recorder.note import NoteError, Signer, Verifier, open_note

OPERATOR_KEYS = Path(".swisscheese/operators")
SIGNED_TYPES = ("approval_decided", "halt", "resume", "framework_decision")


def operator_key_path(name: str) -> Path:
    return OPERATOR_KEYS / f"{name}.key"


def load_operator_key(name: str, path: Path | None = None) -> Signer | None:
    """The operator's signer from ``path`` (or the default file for ``name``); None when the
    default file does not exist. Raises NoteError for a file that is not a key of ``name``."""
    location = path or operator_key_path(name)
    if path is None and not location.exists():
        return None
    try:
        signer = Signer.parse(location.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NoteError(f"{location}: {exc.strerror or exc}") from None
    except NoteError as exc:
        raise NoteError(f"{location}: {exc}") from None
    if signer.name != name:
        raise NoteError(f"{location} is the key of {signer.name!r}, not of {name!r}")
    return signer


def sign_decision(signer: Signer, kind: str, fields: Mapping[str, Any]) -> str:
    """The signed note of a decision: the event type, its fields and the signing time."""
    at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    statement = {"type": kind, **fields, "at": at}
    return signer.sign(canonical_json(statement).decode() + "\n")


@dataclass
class DecisionReport:
    signed: int = 0
    unsigned: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)


def verify_decisions(events: Iterable[tuple[int, Mapping[str, Any]]]) -> DecisionReport:
    """Check each signed decision among ``(index, event)`` against the key its signer had
    registered earlier in the log; the statement must match the event's fields."""
    report = DecisionReport()
    keys: dict[str, Verifier] = {}
    for index, event in events:
        kind = event.get("type")
        if kind == "operator_key":
            try:
                keys[str(event["name"])] = Verifier.parse(str(event["verifier"]))
            except (KeyError, NoteError) as exc:
                report.problems.append((index, f"entry {index}: unreadable operator key ({exc})"))
            continue
        if kind not in SIGNED_TYPES:
            continue
        note = event.get("signed")
        if not note:
            report.unsigned += 1
            continue
        by = str(event.get("by"))
        verifier = keys.get(by)
        if verifier is None:
            report.problems.append((index, f"entry {index}: {kind} signed by {by!r}, no key"))
            continue
        try:
            statement = json.loads(open_note(str(note), verifier))
        except (NoteError, ValueError) as exc:
            report.problems.append((index, f"entry {index}: {kind} signature is bad ({exc})"))
            continue
        fields = {k: v for k, v in event.items() if k not in ("v", "time", "payload", "signed")}
        if any(statement.get(k) != v for k, v in fields.items()):
            report.problems.append((index, f"entry {index}: the signed statement is not this"))
            continue
        report.signed += 1
    return report
