"""`swisscheese report`: reports generated from the flight recorder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swisscheese.cli._common import DbOption, fail, out
from swisscheese.cli._incidents import RegimesOption, regimes_from
from swisscheese.cli._log import DEFAULT_ORIGIN, KeyOption, OriginOption, open_recorder

report_app = typer.Typer(help="Reports generated from recorded data.", no_args_is_help=True)


@report_app.command("transparency")
def transparency(
    period: Annotated[
        str, typer.Option(help="2026-Q4, 2026-11, 2026, or START..END (ISO, with zones).")
    ],
    output: Annotated[Path, typer.Option("--out", help="Directory for report.json/.html/.sig.")],
    deployment: Annotated[
        str | None, typer.Option(help="One deployment (default: every deployment).")
    ] = None,
    regimes_file: RegimesOption = None,
    db: DbOption = None,
    key: KeyOption = None,
    origin: OriginOption = DEFAULT_ORIGIN,
) -> None:
    """What the deployment did over the period, from the log: requests, interventions by
    action, layer and category, the latest evaluation's measured rates with intervals,
    incidents and their deadlines, framework decisions, safety cases, halts. Writes JSON, HTML
    with plots, and a note signed by the log key over the JSON."""
    import hashlib
    import json

    from swisscheese.governance.transparency import (
        build_report,
        parse_period,
        render_html,
        signed_note,
    )

    try:
        chosen = parse_period(period)
    except ValueError as exc:
        fail(f"--period {exc}")
    regimes = regimes_from(regimes_file)
    with open_recorder(db, key, origin, need_key=True) as recorder:
        report = build_report(recorder, chosen, deployment, regimes)
        body = (json.dumps(report, indent=2, sort_keys=True) + "\n").encode()
        note = signed_note(recorder, body)
    output.mkdir(parents=True, exist_ok=True)
    (output / "report.json").write_bytes(body)
    (output / "report.html").write_text(render_html(report), encoding="utf-8")
    (output / "report.sig").write_text(note, encoding="utf-8")
    digest = hashlib.sha256(body).hexdigest()
    out.print(
        f"{output}: {report['requests']} requests, "
        f"{sum(v for k, v in report['interventions']['by_action'].items() if k != 'allow')} "
        f"interventions, {len(report['incidents'])} incidents; report.json sha256:{digest} "
        "signed in report.sig",
        highlight=False,
        soft_wrap=True,
    )
