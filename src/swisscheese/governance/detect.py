"""Incidents the log shows without anyone filing them: a canary token in an answer, a halt
nobody opened an incident for, a spike in blocked requests.

``detect`` reads the log from where the previous run stopped (an ``incident_scan`` event
records how far it read), so a periodic run costs what was recorded since; the first run reads
the whole log. Spikes come from the hourly verdict counts, not from the scan.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from swisscheese.core.stamps import read_stamp
from swisscheese.governance.incidents import Harm, Incident, Severity, System
from swisscheese.governance.register import current, halt_incident, record
from swisscheese.recorder import Recorder
from swisscheese.recorder.events import IncidentScan
from swisscheese.store import AccessStore

__all__ = ["Detection", "detect"]

BY = "incidents detect"


@dataclass(frozen=True, slots=True)
class Detection:
    opened: list[Incident]
    scanned: tuple[int, int]
    """The log range read: [from, to)."""


def _last_scan(recorder: Recorder) -> int:
    found = recorder.store.latest_of_type("incident_scan", 1)
    return int(json.loads(found[0].event)["to"]) if found else 0


def _canary_incident(
    event: dict[str, object], index: int, at: dt.datetime, where: tuple[str, ...]
) -> Incident:
    deployment = str(event["deployment"])
    return Incident(
        id=f"canary-{deployment}-{index}",
        title="canary token in an answer",
        what=(
            f"The canary placed in {deployment}'s system prompt appeared at the "
            f"{event['stage']} stage (verdict {event['verdict']}, action {event['action']}): "
            "someone extracted the system prompt, or tried to."
        ),
        occurred_at=at,
        aware_at=at,
        where=where,
        system=System(deployment=deployment, policy=str(event["policy"])),
        harms=(Harm(type="security", severity=Severity.SERIOUS, description="prompt leak"),),
        causes=("prompt extraction reached the model",),
        events=(index,),
    )


def _spikes(
    access: AccessStore, recorder: Recorder, now: dt.datetime, factor: float, minimum: int,
    where: tuple[str, ...],
) -> list[Incident]:  # fmt: skip
    """A deployment whose blocks in the last full hour reach ``factor`` times the mean of the
    24 hours before (and at least ``minimum``)."""
    hour = int(now.timestamp()) // 3600 - 1
    out = []
    for deployment in access.deployments():
        counts = recorder.store.verdict_counts_by_hour(deployment.name, hour - 24, "block")
        last = counts.get(hour, 0)
        before = sum(n for h, n in counts.items() if h < hour) / 24
        if last >= minimum and last >= factor * max(before, 1.0):
            at = dt.datetime.fromtimestamp(hour * 3600, dt.UTC)
            out.append(
                Incident(
                    id=f"spike-{deployment.name}-{at.strftime('%Y%m%dT%H')}",
                    title=f"spike in blocked requests on {deployment.name}",
                    what=(
                        f"{last} blocks in the hour from {at.isoformat()}, against "
                        f"{before:.1f} an hour over the 24 hours before: an attack campaign, "
                        "or a safeguard refusing legitimate traffic."
                    ),
                    occurred_at=at,
                    aware_at=now,
                    where=where,
                    system=System(deployment=deployment.name),
                    harms=(Harm(type="other", severity=Severity.MINOR),),
                )
            )
    return out


def detect(
    recorder: Recorder,
    access: AccessStore,
    where: Sequence[str],
    *,
    now: dt.datetime | None = None,
    spike_factor: float = 5.0,
    spike_minimum: int = 20,
) -> Detection:
    now = now or dt.datetime.now(dt.UTC)
    jurisdictions = tuple(where)
    start, end = _last_scan(recorder), recorder.size()
    known = current(recorder.store)
    linked = {e for _, _, inc in known.values() if inc is not None for e in inc.events}
    found: list[Incident] = []
    for entry in recorder.store.entries(start, end):
        if entry.type == "halt" and entry.index not in linked:
            event = json.loads(entry.event)
            at = read_stamp(event["time"])
            deployment, reason, by = (str(event[k]) for k in ("deployment", "reason", "by"))
            found.append(halt_incident(deployment, reason, by, at, entry.index, jurisdictions))
        # Events are canonical JSON (no spaces): most verdicts are skipped without parsing.
        elif entry.type == "verdict" and b'"action":"allow"' not in entry.event:
            event = json.loads(entry.event)
            data = recorder.store.payload(entry.payload_digest) if entry.payload_digest else None
            findings = json.loads(data).get("verdict", {}).get("findings", []) if data else []
            if any(f.get("category") == "canary_leak" for f in findings):
                at = read_stamp(event["time"])
                found.append(_canary_incident(event, entry.index, at, jurisdictions))
    found += _spikes(access, recorder, now, spike_factor, spike_minimum, jurisdictions)
    opened = []
    for incident in found:
        if incident.id not in known:
            record(recorder, incident, BY, new=True)
            opened.append(incident)
    recorder.record(IncidentScan(start=start, to=end, opened=[i.id for i in opened]))
    return Detection(opened, (start, end))
