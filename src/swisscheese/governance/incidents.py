"""Incidents with the OECD common-reporting fields, and the reporting deadlines each regime sets.

An incident says what happened, when it happened and when the provider became aware of it (the
clocks start there), where (jurisdictions), which AI system, the harms with their severity, the
affected parties, the causes and the actions taken, and the recorded events it concerns. Flags
(``death``, ``critical_infrastructure``, ...) select the stricter deadlines. The regimes are
data (``reference/regimes.yaml``, or a file of the same shape), each rule with its source.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from swisscheese.config import ConfigError, parse_document, read_document

__all__ = [
    "FLAGS",
    "Deadline",
    "Harm",
    "Incident",
    "IncidentError",
    "Regime",
    "Regimes",
    "Severity",
    "System",
    "deadlines",
    "load_regimes",
    "parse_incident",
    "reference_regimes",
    "regime_report",
]


class IncidentError(ConfigError):
    """An incident or a regimes file that cannot be used; each issue names file, line, key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Severity(enum.StrEnum):
    MINOR = "minor"
    SERIOUS = "serious"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


Flag = Literal[
    "death",
    "serious_injury",
    "imminent_risk_of_death_or_serious_injury",
    "critical_infrastructure",
    "widespread_infringement",
    "cybersecurity_breach",
    "gpai_systemic_risk",
    "frontier_developer",
]
FLAGS: tuple[str, ...] = get_args(Flag)
"""What an incident can be flagged with; regimes' rules select on them."""


class Harm(_Strict):
    type: Literal[
        "physical", "psychological", "economic", "property", "environmental",
        "fundamental_rights", "societal", "reputational", "security", "other",
    ]  # fmt: skip
    severity: Severity
    description: str = ""


class System(_Strict):
    """The AI system involved (OECD: the system, its version and who deployed it)."""

    deployment: str = Field(min_length=1)
    model: str | None = None
    policy: str | None = None
    """The policy digest in force when it happened."""


_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Incident(_Strict):
    id: str
    title: str = Field(min_length=1)
    what: str = Field(min_length=1)
    """What happened, in plain words."""
    occurred_at: AwareDatetime
    aware_at: AwareDatetime
    """When the provider became aware of it: reporting clocks start here."""
    where: tuple[str, ...] = Field(min_length=1)
    """Jurisdictions (``EU``, ``US-CA``, ``US-NY``, ISO 3166 codes)."""
    system: System
    harms: tuple[Harm, ...] = ()
    affected: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    flags: tuple[Flag, ...] = ()
    events: tuple[int, ...] = ()
    """Log indexes of the recorded events the incident concerns."""
    failed_mitigations: tuple[str, ...] = ()
    """Monitors whose rules failed to stop what happened (``injection``, ``canary``): the
    safety-case claims that rely on them are defeated and the framework's red lines see them
    until a newer evaluation passes after the incident is mitigated or closed."""
    status: Literal["open", "mitigated", "closed"] = "open"
    reported: dict[str, AwareDatetime] = Field(default_factory=dict)
    """When the incident was reported under each regime (by regime id): no longer due there."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise ValueError("an id is 1-64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("aware_at")
    @classmethod
    def _aware_after(cls, value: dt.datetime, info: Any) -> dt.datetime:
        occurred = info.data.get("occurred_at")
        if occurred is not None and value < occurred:
            raise ValueError("the provider cannot become aware before it happened")
        return value

    @property
    def severity(self) -> Severity:
        """The worst harm's severity (minor when no harm is recorded)."""
        return max((h.severity for h in self.harms), key=lambda s: s.rank, default=Severity.MINOR)


def parse_incident(text: str, source: str = "<incident>") -> Incident:
    incident, _ = parse_document(text, source, Incident, what="an incident", error=IncidentError)
    return incident


class Rule(_Strict):
    flags: tuple[Flag, ...] = ()
    within: dt.timedelta
    source: str = Field(min_length=1)


class Regime(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    source: str = Field(min_length=1)
    jurisdictions: tuple[str, ...] = Field(min_length=1)
    min_severity: Severity = Severity.SERIOUS
    requires: tuple[Flag, ...] = ()
    """Flags the incident (or the provider) must have for the regime to apply at all."""
    authority: str = ""
    rules: tuple[Rule, ...] = Field(min_length=1)
    fields: tuple[str, ...] = Field(min_length=1)
    """The incident fields its report carries (``regime_report``)."""

    @field_validator("rules")
    @classmethod
    def _fallback_last(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        if rules[-1].flags:
            raise ValueError("the last rule must have no flags: the deadline when none apply")
        return rules

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, fields: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [f for f in fields if f not in Incident.model_fields]
        if unknown:
            raise ValueError(f"not incident fields: {', '.join(unknown)}")
        return fields


class Regimes(_Strict):
    version: Literal[1] = 1
    regimes: tuple[Regime, ...] = Field(min_length=1)

    def get(self, regime: str) -> Regime:
        for r in self.regimes:
            if r.id == regime:
                return r
        known = ", ".join(r.id for r in self.regimes)
        raise IncidentError([_issue(f"unknown regime {regime!r} (known: {known})")])


def _issue(message: str) -> Any:
    from swisscheese.config import Issue

    return Issue("<regimes>", None, (), message)


def reference_regimes_path() -> Path:
    return Path(str(resources.files("swisscheese.governance").joinpath("reference/regimes.yaml")))


def load_regimes(path: str | Path | None = None) -> Regimes:
    path = path or reference_regimes_path()
    text = read_document(path, IncidentError)
    regimes, _ = parse_document(
        text, str(path), Regimes, what="a regimes file", error=IncidentError
    )
    return regimes


def reference_regimes() -> Regimes:
    return load_regimes()


@dataclass(frozen=True, slots=True)
class Deadline:
    incident: str
    regime: str
    name: str
    due: dt.datetime
    rule: str
    """The source of the rule that set it."""
    authority: str


def _applies(regime: Regime, incident: Incident) -> bool:
    if not set(regime.jurisdictions) & set(incident.where):
        return False
    if incident.severity.rank < regime.min_severity.rank:
        return False
    return set(regime.requires) <= set(incident.flags)


def deadlines(incidents: Iterable[Incident], regimes: Regimes) -> list[Deadline]:
    """Each incident's reporting deadline under every regime that applies to it and that it was
    not yet reported under (closing an incident does not discharge a duty to report it): the
    earliest rule whose flags it has. Sorted by due time."""
    out: list[Deadline] = []
    for incident in incidents:
        for regime in regimes.regimes:
            if regime.id in incident.reported or not _applies(regime, incident):
                continue
            rules = [r for r in regime.rules if set(r.flags) <= set(incident.flags)]
            rule = min(rules, key=lambda r: r.within)
            out.append(
                Deadline(
                    incident.id,
                    regime.id,
                    regime.name,
                    incident.aware_at + rule.within,
                    rule.source,
                    regime.authority,
                )
            )
    return sorted(out, key=lambda d: d.due)


def regime_report(incident: Incident, regime: Regime, regimes: Regimes) -> dict[str, Any]:
    """The fields ``regime`` asks for, with the deadline and the rule that set it."""
    data = incident.model_dump(mode="json")
    unreported = incident.model_copy(update={"reported": {}})
    found = [d for d in deadlines([unreported], regimes) if d.regime == regime.id]
    return {
        "regime": regime.id,
        "name": regime.name,
        "source": regime.source,
        "authority": regime.authority,
        "applies": bool(found),
        "due": found[0].due.isoformat() if found else None,
        "rule": found[0].rule if found else None,
        "incident": {field: data[field] for field in regime.fields},
    }
