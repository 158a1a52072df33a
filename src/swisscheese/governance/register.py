"""The incident register in the flight recorder: every revision of an incident is an event, the
newest revision of an id is its current state."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from swisscheese.core import Receipt
from swisscheese.governance.incidents import Harm, Incident, Severity, System
from swisscheese.ops import OpsError
from swisscheese.recorder import Recorder
from swisscheese.recorder.events import IncidentRecorded
from swisscheese.store import LogStore

__all__ = ["current", "halt_incident", "record", "revisions", "tamper_incident"]


def revisions(
    log: LogStore, before: int | None = None
) -> Iterator[tuple[int, IncidentRecorded, Incident | None]]:
    """Every incident revision below index ``before`` (default: all), newest first, with the
    full record when its payload remains (an erased payload leaves the event's fields)."""
    for entry in log.newest_of_type("incident", before):
        event = IncidentRecorded.model_validate_json(entry.event)
        data = log.payload(entry.payload_digest) if entry.payload_digest else None
        incident = Incident.model_validate(json.loads(data)) if data else None
        yield entry.index, event, incident


def current(
    log: LogStore, before: int | None = None
) -> dict[str, tuple[int, IncidentRecorded, Incident | None]]:
    """The newest revision of each incident below ``before`` (default: now), by id."""
    out: dict[str, tuple[int, IncidentRecorded, Incident | None]] = {}
    for index, event, incident in revisions(log, before):
        out.setdefault(event.incident, (index, event, incident))
    return out


def record(recorder: Recorder, incident: Incident, by: str, *, new: bool) -> Receipt:
    """Record a revision. ``new``: the id must not exist yet (opening); otherwise it must."""
    previous = current(recorder.store).get(incident.id)
    if new and previous is not None:
        raise OpsError(f"incident {incident.id!r} exists (revision {previous[1].revision})")
    if not new and previous is None:
        raise OpsError(f"no incident {incident.id!r}")
    event = IncidentRecorded(
        incident=incident.id,
        revision=1 if previous is None else previous[1].revision + 1,
        deployment=incident.system.deployment,
        status=incident.status,
        severity=incident.severity.value,
        occurred_at=incident.occurred_at.isoformat(),
        aware_at=incident.aware_at.isoformat(),
        where=list(incident.where),
        flags=list(incident.flags),
        by=by,
    )
    return recorder.record(event, incident.model_dump(mode="json"))


def _auto_id(kind: str, at: dt.datetime, index: int | None) -> str:
    return f"{kind}-{at.strftime('%Y%m%dT%H%M%SZ')}" + (f"-{index}" if index is not None else "")


def halt_incident(
    deployment: str, reason: str, by: str, at: dt.datetime, halt_record: int | None,
    where: tuple[str, ...],
) -> Incident:  # fmt: skip
    """The incident a halt opens: the deployment stopped serving; why, who, which event."""
    return Incident(
        id=_auto_id("halt", at, halt_record),
        title=f"{deployment} halted",
        what=f"The deployment {deployment} was halted by {by}: {reason}",
        occurred_at=at,
        aware_at=at,
        where=where,
        system=System(deployment=deployment),
        harms=(Harm(type="other", severity=Severity.MINOR, description="service stopped"),),
        actions=(f"halted by {by}",),
        events=() if halt_record is None else (halt_record,),
    )


def tamper_incident(
    deployment: str, problems: list[str], at: dt.datetime, where: tuple[str, ...]
) -> Incident:
    """The incident a failed log verification opens: the record of what the system did can no
    longer be trusted until it is explained."""
    return Incident(
        id=_auto_id("tamper", at, None),
        title="flight recorder verification failed",
        what="log verify found: " + "; ".join(problems[:10]),
        occurred_at=at,
        aware_at=at,
        where=where,
        system=System(deployment=deployment),
        harms=(Harm(type="security", severity=Severity.SERIOUS, description="audit trail"),),
        causes=("unknown: tampering, corruption or a bug",),
    )
