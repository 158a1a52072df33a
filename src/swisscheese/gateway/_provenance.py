"""Signed output statements at the gateway: the ``answer`` event each released completion
records, the compact envelope in ``x-swisscheese-provenance``, and the full bundle at
``GET /v1/provenance/{record}``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from swisscheese.core import Verdict, digest, json_text
from swisscheese.gateway._pipeline import Records
from swisscheese.provenance import StatementSigner, compact, output_statement, text_sha256
from swisscheese.recorder.events import AnswerReleased
from swisscheese.store import NewEntry

HEADER = "x-swisscheese-provenance"


def released_text(message: Any) -> str:
    """What a statement's subject is the digest of: a choice's content as the client received
    it, or (a tool call, a refusal without content) its whole message as canonical JSON."""
    if isinstance(message, dict) and isinstance(message.get("content"), str):
        return str(message["content"])
    return json_text(message)


def answer_event(
    deployment: str,
    model: str,
    policy: str,
    completion: dict[str, Any],
    verdicts: Sequence[Verdict],
) -> AnswerReleased:
    choices = completion.get("choices") or []
    released = [
        text_sha256(released_text(c.get("message"))) for c in choices if isinstance(c, dict)
    ]
    summary = [[v.id, v.stage.value, v.action.value] for v in verdicts]
    return AnswerReleased(
        deployment=deployment,
        model=model,
        policy=policy,
        verdicts_digest=digest(summary),
        released=released,
    )


def stage_answer(records: Records, event: AnswerReleased) -> NewEntry | None:
    """Queue the answer event with the request's other entries (one transaction)."""
    if records.recorder is None:
        return None
    entry = records.recorder.prepare_event(event)
    records.add(None, entry)
    return entry


def header(
    signer: StatementSigner, records: Records, entry: NewEntry | None, event: AnswerReleased
) -> str | None:
    """The compact envelope, once the answer event has its index (None while spooled)."""
    if entry is None or records.recorder is None:
        return None
    index = records.indexes.get(entry.leaf_hash)
    if index is None:
        return None
    fields = event.model_dump(mode="json")
    statement = output_statement(fields, records.recorder.origin, index)
    return compact(signer.envelope(statement))
