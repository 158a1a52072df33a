"""`swisscheese incidents`: the incident register and its reporting clocks."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swisscheese.cli._common import (
    ByOption,
    DbOption,
    JsonOption,
    OperatorKeyOption,
    fail,
    fail_issues,
    operations,
    operator_signer,
    out,
    read_text,
)
from swisscheese.cli._framework import FrameworkOption, respond_to_incident

if TYPE_CHECKING:
    from swisscheese.governance.incidents import Incident, Regime, Regimes
    from swisscheese.ops import Operations
    from swisscheese.recorder import Recorder

incidents_app = typer.Typer(
    help="Incidents: OECD reporting fields, linked events, deadlines per regime.",
    no_args_is_help=True,
)
RegimesOption = Annotated[
    Path | None,
    typer.Option("--regimes", help="Regimes file (default: the shipped EU, California, New York)."),
]
JURISDICTIONS_ENV = "SWISSCHEESE_JURISDICTIONS"


def jurisdictions() -> tuple[str, ...]:
    """Where automatically opened incidents happen: ``SWISSCHEESE_JURISDICTIONS`` (e.g.
    ``EU,US-CA``), else unspecified (no regime's clock starts until someone says where)."""
    raw = os.environ.get(JURISDICTIONS_ENV, "")
    return tuple(j.strip() for j in raw.split(",") if j.strip()) or ("unspecified",)


def _say(text: str) -> None:
    out.print(text, highlight=False, soft_wrap=True)


def regimes_from(path: Path | None) -> Regimes:
    from swisscheese.governance.incidents import IncidentError, load_regimes

    try:
        return load_regimes(path)
    except IncidentError as exc:
        fail_issues(exc)


def _regime(regimes: Regimes, regime: str) -> Regime:
    from swisscheese.governance.incidents import IncidentError

    try:
        return regimes.get(regime)
    except IncidentError as exc:
        fail(exc.issues[0].message)


def _incident(ops: Operations, incident_id: str) -> Incident:
    found = _current(ops).get(incident_id)
    if found is None:
        fail(f"no incident {incident_id!r}")
    return found


def _recorder(ops: Operations) -> Recorder:
    assert ops.recorder is not None  # `operations` always opens one
    return ops.recorder


def _current(ops: Operations) -> dict[str, Incident]:
    from swisscheese.governance.register import current

    found = current(_recorder(ops).store)
    missing = [i for i, (_, _, inc) in found.items() if inc is None]
    if missing:
        fail(f"incidents whose records were erased: {', '.join(missing)}")
    return {i: inc for i, (_, _, inc) in found.items() if inc is not None}


@incidents_app.command("open")
def open_incident(
    file: Annotated[Path, typer.Argument(help="The incident (YAML or JSON), or - for stdin.")],
    by: ByOption = "operator",
    key: OperatorKeyOption = None,
    framework: FrameworkOption = None,
    db: DbOption = None,
) -> None:
    """Open an incident from a file with the OECD fields (id, title, what, occurred_at,
    aware_at with time zones, where, system, harms, affected, causes, actions, flags, events,
    failed_mitigations). The deployment's framework then decides again, with the incident in
    its evidence, and acts on its responses (e.g. halts the deployment)."""
    from swisscheese.governance.incidents import IncidentError, parse_incident
    from swisscheese.governance.register import record
    from swisscheese.ops import OpsError

    text, name = read_text(file)
    try:
        incident = parse_incident(text, name)
    except IncidentError as exc:
        fail_issues(exc)
    signer = operator_signer(by, key, required=key is not None)
    with operations(db) as ops:
        try:
            receipt = record(_recorder(ops), incident, by, new=True)
        except OpsError as exc:
            fail(str(exc))
        _say(f"incident {incident.id} opened (log entry {receipt.index})")
        respond_to_incident(ops, incident.system.deployment, incident.id, by, signer, framework)


@incidents_app.command("update")
def update(
    incident_id: Annotated[str, typer.Argument(help="The incident's id.")],
    status: Annotated[str | None, typer.Option(help="open, mitigated or closed.")] = None,
    action: Annotated[list[str] | None, typer.Option(help="An action taken (repeatable).")] = None,
    reported: Annotated[
        list[str] | None, typer.Option(help="A regime it was reported under (repeatable).")
    ] = None,
    by: ByOption = "operator",
    key: OperatorKeyOption = None,
    framework: FrameworkOption = None,
    db: DbOption = None,
) -> None:
    """Record a new revision: status, actions taken, regimes reported under (now); the
    deployment's framework then decides again."""
    from pydantic import ValidationError

    from swisscheese.governance.register import record
    from swisscheese.ops import OpsError

    regimes = regimes_from(None)
    for regime in reported or []:
        _regime(regimes, regime)
    signer = operator_signer(by, key, required=key is not None)
    with operations(db) as ops:
        found = _incident(ops, incident_id)
        now = dt.datetime.now(dt.UTC)
        changes: dict[str, object] = {
            "actions": (*found.actions, *(action or [])),
            "reported": {**found.reported, **dict.fromkeys(reported or [], now)},
        }
        if status is not None:
            changes["status"] = status
        try:
            revised = type(found).model_validate(found.model_dump() | changes)
        except ValidationError as exc:
            fail(f"{incident_id}: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}")
        try:
            receipt = record(_recorder(ops), revised, by, new=False)
        except OpsError as exc:
            fail(str(exc))
        _say(f"incident {incident_id} updated (log entry {receipt.index})")
        respond_to_incident(ops, revised.system.deployment, incident_id, by, signer, framework)


@incidents_app.command("list")
def list_incidents(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every incident's current revision."""
    with operations(db) as ops:
        incidents = _current(ops)
    if as_json:
        print(json.dumps([i.model_dump(mode="json") for i in incidents.values()]))
        return
    if not incidents:
        _say("no incidents")
    for i in incidents.values():
        _say(
            f"{i.id}  {i.status:9} {i.severity.value:8} {i.system.deployment:12} "
            f"aware {i.aware_at.isoformat()}  {i.title}"
        )


@incidents_app.command("due")
def due(
    regimes_file: RegimesOption = None, db: DbOption = None, as_json: JsonOption = False
) -> None:
    """What must be reported to whom by when, soonest first; overdue ones are marked."""
    from swisscheese.governance.incidents import deadlines

    regimes = regimes_from(regimes_file)
    with operations(db) as ops:
        incidents = _current(ops)
    found = deadlines(incidents.values(), regimes)
    now = dt.datetime.now(dt.UTC)
    if as_json:
        rows = [
            {
                "incident": d.incident,
                "regime": d.regime,
                "due": d.due.isoformat(),
                "overdue": d.due < now,
                "rule": d.rule,
                "authority": d.authority,
            }
            for d in found
        ]
        print(json.dumps(rows))
        return
    if not found:
        _say("nothing due")
    for d in found:
        left = d.due - now
        when = "OVERDUE" if left.total_seconds() < 0 else f"in {_span(left)}"
        _say(f"{d.due.isoformat()}  {when:14} {d.incident}  {d.regime} ({d.rule}) -> {d.authority}")


def _span(delta: dt.timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d {hours % 24}h" if hours >= 24 else f"{hours}h"


@incidents_app.command("export")
def export(
    incident_id: Annotated[str, typer.Argument(help="The incident's id.")],
    regime: Annotated[str, typer.Option(help="The regime whose report to build.")],
    regimes_file: RegimesOption = None,
    db: DbOption = None,
) -> None:
    """The incident as a regime's report asks for it (JSON): its fields, the deadline and the
    rule that sets it."""
    from swisscheese.governance.incidents import regime_report

    regimes = regimes_from(regimes_file)
    chosen = _regime(regimes, regime)
    with operations(db) as ops:
        found = _incident(ops, incident_id)
    print(json.dumps(regime_report(found, chosen, regimes), indent=2))


@incidents_app.command("detect")
def detect(
    spike_factor: Annotated[
        float, typer.Option(min=1.0, help="Blocks in the last hour over the 24-hour mean.")
    ] = 5.0,
    spike_minimum: Annotated[int, typer.Option(min=1, help="And at least this many.")] = 20,
    db: DbOption = None,
) -> None:
    """Open the incidents the log shows: a canary token in an answer, a halt without an
    incident, a spike in blocked requests. Reads from where the last run stopped; run it
    periodically (cron, a systemd timer). Jurisdictions from SWISSCHEESE_JURISDICTIONS."""
    from swisscheese.governance.detect import detect as run_detection

    with operations(db) as ops:
        found = run_detection(
            _recorder(ops), ops.store, jurisdictions(),
            spike_factor=spike_factor, spike_minimum=spike_minimum,
        )  # fmt: skip
    start, end = found.scanned
    _say(f"read log entries {start}..{end - 1}: {len(found.opened)} incident(s) opened")
    for incident in found.opened:
        _say(f"  {incident.id}: {incident.title}")
