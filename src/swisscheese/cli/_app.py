"""The `swisscheese` command: its groups and commands, each group in a module of its own."""

from __future__ import annotations

from typing import Annotated

import typer

from swisscheese.cli._agents import agents_app
from swisscheese.cli._ai_text import register as register_ai_text
from swisscheese.cli._approvals import approvals_app
from swisscheese.cli._audit import audit_app
from swisscheese.cli._case import case_app
from swisscheese.cli._console import register as register_console
from swisscheese.cli._curate import register as register_curate
from swisscheese.cli._deployment import deployment_app
from swisscheese.cli._detectors import register as register_detectors
from swisscheese.cli._eval import register as register_eval
from swisscheese.cli._framework import framework_app
from swisscheese.cli._incidents import incidents_app
from swisscheese.cli._keys import keys_app
from swisscheese.cli._log import log_app
from swisscheese.cli._mcp import register as register_mcp
from swisscheese.cli._model import model_app
from swisscheese.cli._provenance import provenance_app
from swisscheese.cli._real_words import register as register_real_words
from swisscheese.cli._registry import registry_app
from swisscheese.cli._report import report_app
from swisscheese.cli._screen import register as register_screening
from swisscheese.cli._serve import register as register_serve
from swisscheese.cli._watermark import watermark_app

app = typer.Typer(
    name="swisscheese",
    help="Layered, measured safeguards for language models and agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help texts are plain: Rich markup would eat bracketed words such as "[local]".
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"swisscheese {version('swisscheese')}")
        raise typer.Exit()


@app.callback()
def main(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Layered, measured safeguards for language models and agents."""


register_eval(app)
register_detectors(app)
register_screening(app)
register_serve(app)
register_mcp(app)
register_ai_text(app)
register_console(app)
register_curate(app)
register_real_words(app)
app.add_typer(keys_app, name="keys")
app.add_typer(log_app, name="log")
app.add_typer(deployment_app, name="deployment")
app.add_typer(approvals_app, name="approvals")
app.add_typer(agents_app, name="agents")
app.add_typer(provenance_app, name="provenance")
app.add_typer(model_app, name="model")
app.add_typer(watermark_app, name="watermark")
app.add_typer(framework_app, name="framework")
app.add_typer(incidents_app, name="incidents")
app.add_typer(case_app, name="case")
app.add_typer(audit_app, name="audit")
app.add_typer(registry_app, name="registry")
app.add_typer(report_app, name="report")
