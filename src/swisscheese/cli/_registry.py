"""`swisscheese registry`: deployments, models and safety configurations, as recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swisscheese.cli._common import DbOption, JsonOption, fail, operations, out

if TYPE_CHECKING:
    from swisscheese.governance.registry import Registry
    from swisscheese.ops import Operations

registry_app = typer.Typer(
    help="The registry: deployments, models, policy versions; CycloneDX export.",
    no_args_is_help=True,
)


def _say(text: str) -> None:
    out.print(text, highlight=False, soft_wrap=True, markup=False)


def _read(ops: Operations) -> Registry:
    from swisscheese.governance.registry import read_registry

    assert ops.recorder is not None
    return read_registry(ops.recorder.store, ops.store)


@registry_app.command("show")
def show(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every deployment (state, model, policy and its versions, framework decision, safety
    case status) and every model (fingerprint, signature, checks)."""
    with operations(db) as ops:
        registry = _read(ops)
    if as_json:
        print(json.dumps(registry.to_dict()))
        return
    for d in registry.deployments.values():
        state = "halted" if d.halted else "serving"
        _say(f"{d.name}: {state}, model {d.model}, policy {d.policy} ({len(d.versions)} versions)")
        if d.framework:
            _say(f"  framework {d.framework['framework']}: {d.framework['decision']}")
        if d.case:
            _say(f"  safety case {d.case['case']}: {d.case['status']}")
    for m in registry.models.values():
        signed = f"signed ({m.signed_by[:16]}...)" if m.signed_by else "unsigned"
        _say(f"model {m.name}: fingerprint {m.fingerprint or 'unknown'}, {signed}")


@registry_app.command("diff")
def diff(
    deployment: Annotated[str, typer.Argument(help="The deployment.")],
    old: Annotated[int, typer.Option(help="Older version, by position (0 = first).")] = -2,
    new: Annotated[int, typer.Option(help="Newer version, by position (-1 = latest).")] = -1,
    db: DbOption = None,
) -> None:
    """A unified diff between two of the deployment's recorded policy versions (default: the
    last two)."""
    with operations(db) as ops:
        found = _read(ops).deployments.get(deployment)
    if found is None:
        fail(f"unknown deployment {deployment!r}")
    if len(found.versions) < 2:
        _say(f"{deployment} has {len(found.versions)} policy version(s): nothing to compare")
        return
    try:
        print(found.diff(old, new), end="")
    except IndexError:
        fail(f"{deployment} has {len(found.versions)} policy versions: no version {old} or {new}")


@registry_app.command("export")
def export(
    output: Annotated[Path, typer.Option("--out", help="Where to write the document.")],
    fmt: Annotated[str, typer.Option("--format", help="cyclonedx (CycloneDX 1.6 JSON).")] = (
        "cyclonedx"
    ),
    db: DbOption = None,
) -> None:
    """Export the registry as an ML-BOM, validated with the CycloneDX library's own strict
    validator before it is written."""
    from importlib.metadata import version

    from swisscheese.governance.registry import cyclonedx_json, shipped_detectors

    if fmt != "cyclonedx":
        fail(
            f"--format {fmt!r}: only cyclonedx (SPDX 3: spdx-tools 0.8's writer does not pass "
            "its own validator; see docs/governance.md)"
        )
    with operations(db) as ops:
        registry = _read(ops)
    try:
        text = cyclonedx_json(registry, shipped_detectors(), version("swisscheese"))
    except ValueError as exc:
        fail(str(exc))
    output.write_text(text, encoding="utf-8")
    _say(f"{output}: CycloneDX 1.6, {len(registry.deployments)} deployments, "
         f"{len(registry.models)} models, validated")  # fmt: skip
