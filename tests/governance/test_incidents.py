"""Incidents and their reporting clocks: each regime's deadline from the incident's flags,
with the rules as data, and clear errors for incidents that cannot be used."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swisscheese.governance.incidents import (
    FLAGS,
    Incident,
    IncidentError,
    deadlines,
    load_regimes,
    parse_incident,
    reference_regimes,
    regime_report,
)

AWARE = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
REGIMES = reference_regimes()


def incident(*flags: str, where: tuple[str, ...] = ("EU",), severity: str = "serious") -> Incident:
    return Incident.model_validate(
        {
            "id": "inc-1",
            "title": "t",
            "what": "w",
            "occurred_at": AWARE - dt.timedelta(hours=3),
            "aware_at": AWARE,
            "where": where,
            "system": {"deployment": "default"},
            "harms": [{"type": "physical", "severity": severity}],
            "flags": flags,
        }
    )


def due(i: Incident) -> dict[str, dt.timedelta]:
    return {d.regime: d.due - i.aware_at for d in deadlines([i], REGIMES)}


def test_eu_ai_act_article_73_deadlines() -> None:
    assert due(incident()) == {"eu-ai-act-art73": dt.timedelta(days=15)}
    assert due(incident("death"))["eu-ai-act-art73"] == dt.timedelta(days=10)
    assert due(incident("widespread_infringement"))["eu-ai-act-art73"] == dt.timedelta(days=2)
    # The strictest rule wins when several apply.
    assert due(incident("death", "critical_infrastructure"))["eu-ai-act-art73"] == dt.timedelta(
        days=2
    )


def test_regimes_for_frontier_and_gpai_providers() -> None:
    everywhere = ("EU", "US-CA", "US-NY")
    plain = due(incident(where=everywhere))
    assert set(plain) == {"eu-ai-act-art73"}  # the others need the provider's standing
    frontier = due(incident("frontier_developer", "gpai_systemic_risk", where=everywhere))
    assert frontier == {
        "eu-ai-act-art73": dt.timedelta(days=15),
        "eu-gpai-code-of-practice": dt.timedelta(days=15),
        "us-ca-sb53": dt.timedelta(days=15),
        "us-ny-raise": dt.timedelta(hours=72),
    }
    urgent = due(
        incident("frontier_developer", "imminent_risk_of_death_or_serious_injury", where=("US-CA",))
    )
    assert urgent == {"us-ca-sb53": dt.timedelta(hours=24)}
    breach = due(incident("gpai_systemic_risk", "cybersecurity_breach"))
    assert breach["eu-gpai-code-of-practice"] == dt.timedelta(days=5)


def test_minor_incidents_and_reported_ones_are_not_due() -> None:
    assert due(incident(severity="minor")) == {}
    reported = incident().model_copy(update={"reported": {"eu-ai-act-art73": AWARE}})
    assert deadlines([reported], REGIMES) == []
    # The export still states the deadline that applied.
    report = regime_report(reported, REGIMES.get("eu-ai-act-art73"), REGIMES)
    assert report["due"] == (AWARE + dt.timedelta(days=15)).isoformat()
    assert set(report["incident"]) >= {"what", "occurred_at", "harms", "system"}


@given(st.sets(st.sampled_from(FLAGS)), st.sampled_from(["serious", "critical"]))
def test_a_deadline_is_never_later_than_the_regimes_default(flags: set[str], severity: str) -> None:
    i = incident(*sorted(flags), where=("EU", "US-CA", "US-NY"), severity=severity)
    for d in deadlines([i], REGIMES):
        regime = REGIMES.get(d.regime)
        assert i.aware_at < d.due <= i.aware_at + regime.rules[-1].within
        assert d.due - i.aware_at in {r.within for r in regime.rules}


def test_bad_incidents_are_named_by_file_line_and_key() -> None:
    text = (
        "id: inc-1\ntitle: t\nwhat: w\noccurred_at: 2026-11-30T10:00:00\n"
        "aware_at: 2026-11-30T09:00:00Z\nwhere: [EU]\nsystem: {deployment: d}\n"
    )
    with pytest.raises(IncidentError, match=r"inc\.yaml:4: occurred_at: .*timezone"):
        parse_incident(text, "inc.yaml")
    backwards = text.replace("10:00:00\n", "10:00:00Z\n")
    with pytest.raises(IncidentError, match="cannot become aware before it happened"):
        parse_incident(backwards, "inc.yaml")
    with pytest.raises(IncidentError, match=r"flags\.0"):
        parse_incident(backwards.replace("09:00", "11:00") + "flags: [dead]\n", "inc.yaml")


def test_regimes_are_data_and_checked(tmp_path: Path) -> None:
    with pytest.raises(IncidentError, match="unknown regime 'eu'"):
        REGIMES.get("eu")
    path = tmp_path / "regimes.yaml"
    path.write_text(
        "version: 1\nregimes:\n  - id: x\n    name: X\n    source: s\n    jurisdictions: [EU]\n"
        "    rules:\n      - {flags: [death], within: P1D, source: s}\n    fields: [id, colour]\n"
    )
    with pytest.raises(IncidentError) as caught:
        load_regimes(path)
    text = str(caught.value)
    assert "the last rule must have no flags" in text
    assert "not incident fields: colour" in text
    assert f"{path}:7: regimes.0.rules" in text
