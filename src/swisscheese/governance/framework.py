"""A safety framework as code: risk domains, levels with early-warning and threshold conditions in
CEL over recorded evidence, the mitigations each level requires, red lines, and the gate decision
that follows from them.

The decision, from the worst finding:

- **no-go**: a red line is crossed or cannot be shown uncrossed; or a level's threshold is
  reached (or cannot be shown unreached) while a mitigation it requires is not in the deployed
  policy;
- **go with conditions**: a threshold reached with every required mitigation in place, or an
  early warning raised (or unknown);
- **go**: nothing else.

A condition whose evidence is missing (no evaluation recorded, a category never measured) is
*unknown*, and unknown counts as crossed: missing evidence is not evidence of safety.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import cel
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from swisscheese.config import (
    ConfigError,
    Issue,
    Loc,
    Policy,
    line_of,
    parse_document,
    read_document,
)
from swisscheese.core import Action
from swisscheese.governance.evidence import is_known_path, paths_in, unknown_roots

__all__ = [
    "Condition",
    "Decision",
    "Framework",
    "FrameworkError",
    "GateDecision",
    "LoadedFramework",
    "Mitigation",
    "evaluate",
    "load_framework",
    "parse_framework",
    "reference_path",
    "run_condition",
]


class FrameworkError(ConfigError):
    """A framework that cannot be used; each issue names file, line and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Mitigation(_Strict):
    """A rule the deployed policy must have: ``monitor`` at ``layer`` acting at least as
    strongly as ``action`` (halt > block > escalate > modify > flag > log)."""

    id: str = Field(min_length=1)
    description: str = ""
    layer: str = Field(min_length=1)
    monitor: str = Field(min_length=1)
    action: Action = Action.BLOCK


class Level(_Strict):
    id: str = Field(min_length=1)
    name: str = ""
    early_warning: str | None = None
    """CEL: true when the level is near (go with conditions)."""
    threshold: str
    """CEL: true when the level is reached; its mitigations must then be in place."""
    mitigations: tuple[str, ...] = ()
    """Ids of entries under ``mitigations``."""


class Domain(_Strict):
    id: str = Field(min_length=1)
    name: str = ""
    levels: tuple[Level, ...] = Field(min_length=1)


class RedLine(_Strict):
    id: str = Field(min_length=1)
    description: str = ""
    condition: str
    """CEL: true when the red line is crossed (no-go, whatever the mitigations)."""


class Response(_Strict):
    """What the framework does to the deployment when it decides: ``halt`` when one of
    ``red_lines`` is crossed (or cannot be shown uncrossed), or when the decision is
    ``decision``."""

    id: str = Field(min_length=1)
    red_lines: tuple[str, ...] = ()
    decision: Literal["no-go", "go with conditions"] | None = None
    action: Literal["halt"] = "halt"

    @model_validator(mode="after")
    def _one_trigger(self) -> Response:
        if bool(self.red_lines) == (self.decision is not None):
            raise ValueError(f"response {self.id!r}: give exactly one of 'red_lines', 'decision'")
        return self


class Framework(_Strict):
    version: Literal[1] = 1
    framework: str = Field(min_length=1)
    description: str = ""
    mitigations: tuple[Mitigation, ...] = ()
    domains: tuple[Domain, ...] = Field(min_length=1)
    red_lines: tuple[RedLine, ...] = ()
    responses: tuple[Response, ...] = ()

    @field_validator("mitigations")
    @classmethod
    def _unique(cls, value: tuple[Mitigation, ...]) -> tuple[Mitigation, ...]:
        seen = [m.id for m in value]
        doubles = sorted({i for i in seen if seen.count(i) > 1})
        if doubles:
            raise ValueError(f"mitigation ids given twice: {', '.join(doubles)}")
        return value


@dataclass(frozen=True)
class LoadedFramework:
    framework: Framework
    source: str
    digest: str
    """SHA-256 of the file's bytes: what a decision was made against."""
    programs: dict[Loc, Any] = field(repr=False)
    """Compiled CEL, by the location of the condition in the document."""


def _conditions(fw: Framework) -> Iterator[tuple[Loc, str]]:
    for d, domain in enumerate(fw.domains):
        for lv, level in enumerate(domain.levels):
            base: Loc = ("domains", d, "levels", lv)
            if level.early_warning is not None:
                yield (*base, "early_warning"), level.early_warning
            yield (*base, "threshold"), level.threshold
    for r, red in enumerate(fw.red_lines):
        yield ("red_lines", r, "condition"), red.condition


def parse_framework(text: str, source: str = "<framework>") -> LoadedFramework:
    fw, lines = parse_document(text, source, Framework, what="a framework", error=FrameworkError)
    issues: list[Issue] = []

    def issue(loc: Loc, message: str) -> None:
        issues.append(Issue(source, line_of(lines, loc), loc, message))

    programs: dict[Loc, Any] = {}
    for loc, expression in _conditions(fw):
        try:
            programs[loc] = cel.compile(expression)
        except ValueError as exc:
            # The library's message carries the expression with a caret: keep its first line.
            issue(loc, f"CEL: {str(exc).splitlines()[0]}")
            continue
        for root in unknown_roots(expression, programs[loc].variables()):
            roots = "eval, incidents, production and deployment"
            issue(loc, f"unknown evidence {root!r} (the roots are {roots})")
        for path in paths_in(expression):
            if not is_known_path(path):
                issue(loc, f"unknown evidence {path!r} (see docs/governance.md for the names)")
    lines_known = {r.id for r in fw.red_lines}
    for r, response in enumerate(fw.responses):
        for i, red in enumerate(response.red_lines):
            if red not in lines_known:
                issue(("responses", r, "red_lines", i), f"no red line {red!r}")
    known = {m.id for m in fw.mitigations}
    for d, domain in enumerate(fw.domains):
        for lv, level in enumerate(domain.levels):
            for i, mid in enumerate(level.mitigations):
                if mid not in known:
                    issue(("domains", d, "levels", lv, "mitigations", i), f"no mitigation {mid!r}")
    if issues:
        raise FrameworkError(issues)
    digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return LoadedFramework(fw, source, digest, programs)


def reference_path() -> Path:
    """The shipped reference framework for the default deployment."""
    return Path(str(resources.files("swisscheese.governance").joinpath("reference/framework.yaml")))


def load_framework(path: str | Path) -> LoadedFramework:
    return parse_framework(read_document(path, FrameworkError), str(path))


class Decision(enum.StrEnum):
    GO = "go"
    CONDITIONS = "go with conditions"
    NO_GO = "no-go"


_RANK = {Decision.GO: 0, Decision.CONDITIONS: 1, Decision.NO_GO: 2}


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition's outcome: ``value`` True/False, or None (unknown) with the reason."""

    id: str
    kind: Literal["early_warning", "threshold", "red_line"]
    expression: str
    value: bool | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MitigationCheck:
    id: str
    in_place: bool
    found: str
    """The policy rule that satisfies it, or why none does."""


@dataclass(frozen=True, slots=True)
class GateDecision:
    framework: str
    digest: str
    decision: Decision
    reasons: tuple[str, ...]
    conditions: tuple[Condition, ...]
    mitigations: tuple[MitigationCheck, ...]
    responses: tuple[str, ...] = ()
    """Ids of the framework's responses this decision calls for."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "digest": self.digest,
            "decision": self.decision.value,
            "reasons": list(self.reasons),
            "conditions": [
                {
                    "id": c.id,
                    "kind": c.kind,
                    "expression": c.expression,
                    "value": c.value,
                    **({"reason": c.reason} if c.reason else {}),
                }
                for c in self.conditions
            ],
            "mitigations": [
                {"id": m.id, "in_place": m.in_place, "found": m.found} for m in self.mitigations
            ],
            "responses": list(self.responses),
        }


def _missing(expression: str, evidence: Mapping[str, Any]) -> str | None:
    """The first evidence name in ``expression`` the evidence lacks, up to the missing key."""
    for path in paths_in(expression):
        node: Any = evidence
        walked: list[str] = []
        for part in path.split("."):
            walked.append(part)
            if not isinstance(node, Mapping) or part not in node:
                return ".".join(walked)
            node = node[part]
    return None


def run_condition(program: Any, evidence: Mapping[str, Any]) -> tuple[bool | None, str]:
    """A compiled condition's value on the evidence, or None with the reason it has none."""
    try:
        value = program.execute(dict(evidence))
    except KeyError as exc:
        missing = _missing(program.source, evidence) or str(exc.args[0])
        return None, f"no evidence {missing}"
    except Exception as exc:  # the library raises plain errors for type mismatches
        return None, f"cannot evaluate: {exc}"
    if not isinstance(value, bool):
        return None, f"not true or false but {value!r}"
    return value, ""


def check_mitigation(mitigation: Mitigation, policy: Policy | None) -> MitigationCheck:
    if policy is None:
        return MitigationCheck(mitigation.id, False, "no deployed policy recorded")
    layer = policy.layers.get(mitigation.layer)
    if layer is None:
        return MitigationCheck(mitigation.id, False, f"the policy has no {mitigation.layer} layer")
    for i, rule in enumerate(layer.rules):
        if rule.monitor == mitigation.monitor and rule.action >= mitigation.action:
            where = f"layers.{mitigation.layer}.rules[{i}]: {rule.monitor} -> {rule.action.value}"
            return MitigationCheck(mitigation.id, True, where)
    wanted = f"{mitigation.monitor} rule at {mitigation.layer} acting at least as"
    return MitigationCheck(mitigation.id, False, f"no {wanted} {mitigation.action.value}")


def evaluate(
    loaded: LoadedFramework, evidence: Mapping[str, Any], policy: Policy | None
) -> GateDecision:
    """The gate decision for the evidence and the deployed policy."""
    fw = loaded.framework
    decision = Decision.GO
    reasons: list[str] = []
    conditions: list[Condition] = []
    checks: dict[str, MitigationCheck] = {}
    by_id = {m.id: m for m in fw.mitigations}

    def worsen(to: Decision, why: str) -> None:
        nonlocal decision
        reasons.append(why)
        if _RANK[to] > _RANK[decision]:
            decision = to

    def outcome(loc: Loc, cid: str, kind: Any, expression: str) -> Condition:
        value, reason = run_condition(loaded.programs[loc], evidence)
        found = Condition(cid, kind, expression, value, reason)
        conditions.append(found)
        return found

    for r, red in enumerate(fw.red_lines):
        c = outcome(("red_lines", r, "condition"), red.id, "red_line", red.condition)
        if c.value is not False:
            state = "crossed" if c.value else f"unknown ({c.reason})"
            worsen(Decision.NO_GO, f"red line {red.id}: {state}")
    for d, domain in enumerate(fw.domains):
        for lv, level in enumerate(domain.levels):
            base: Loc = ("domains", d, "levels", lv)
            t = outcome((*base, "threshold"), level.id, "threshold", level.threshold)
            if t.value is not False:
                state = "reached" if t.value else f"unknown ({t.reason})"
                missing = []
                for mid in level.mitigations:
                    check = checks.setdefault(mid, check_mitigation(by_id[mid], policy))
                    if not check.in_place:
                        missing.append(mid)
                if missing:
                    worsen(
                        Decision.NO_GO,
                        f"{domain.id}/{level.id} threshold {state}; mitigations missing: "
                        + ", ".join(missing),
                    )
                else:
                    worsen(
                        Decision.CONDITIONS,
                        f"{domain.id}/{level.id} threshold {state}; required mitigations in place",
                    )
            if level.early_warning is not None:
                e = outcome(
                    (*base, "early_warning"), level.id, "early_warning", level.early_warning
                )
                if e.value is not False and t.value is False:
                    state = "raised" if e.value else f"unknown ({e.reason})"
                    worsen(Decision.CONDITIONS, f"{domain.id}/{level.id} early warning {state}")
    crossed = {c.id for c in conditions if c.kind == "red_line" and c.value is not False}
    fired = tuple(
        r.id
        for r in fw.responses
        if crossed & set(r.red_lines) or (r.decision is not None and r.decision == decision.value)
    )
    return GateDecision(
        fw.framework,
        loaded.digest,
        decision,
        tuple(reasons),
        tuple(conditions),
        tuple(checks.values()),
        fired,
    )
