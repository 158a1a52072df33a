"""The framework gate against the store: gather the evidence, decide, sign and record."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from swisscheese.config import Policy
from swisscheese.core import Receipt
from swisscheese.governance.evidence import (
    PRODUCTION_DAYS,
    evaluation_evidence,
    incident_evidence,
    production_evidence,
)
from swisscheese.governance.framework import GateDecision, LoadedFramework, evaluate
from swisscheese.governance.register import current
from swisscheese.ops import Operations, OpsError
from swisscheese.recorder.decisions import sign_decision
from swisscheese.recorder.events import FrameworkDecided
from swisscheese.recorder.note import Signer
from swisscheese.store import Deployment, LogStore, StoredEntry

__all__ = ["Gathered", "check_gate", "gather"]


@dataclass(frozen=True, slots=True)
class Gathered:
    evidence: dict[str, Any]
    policy: Policy | None
    evaluation_record: int | None


def _newest(log: LogStore, kind: str) -> Iterator[tuple[StoredEntry, dict[str, Any]]]:
    for entry in log.newest_of_type(kind):
        yield entry, json.loads(entry.event)


def _payload(log: LogStore, entry: StoredEntry) -> Any:
    if entry.payload_digest is None:
        return None
    data = log.payload(entry.payload_digest)
    return None if data is None else json.loads(data)


def _deployed_policy(log: LogStore, deployment: Deployment) -> Policy | None:
    """The policy the deployment's gateway last loaded, from its recorded payload (None when it
    was erased or never recorded)."""
    for entry, event in _newest(log, "policy"):
        if event.get("deployment") != deployment.name:
            continue
        if deployment.policy_digest and event.get("policy") != deployment.policy_digest:
            continue
        payload = _payload(log, entry)
        try:
            return None if payload is None else Policy.model_validate(payload)
        except ValidationError:
            return None
    return None


def _evaluation(
    log: LogStore, policy_digest: str | None
) -> tuple[dict[str, Any] | None, int | None]:
    """The newest evaluation of the deployed policy, else the newest of any policy."""
    fallback: tuple[StoredEntry, dict[str, Any]] | None = None
    for entry, event in _newest(log, "evidence"):
        if event.get("kind") != "evaluation":
            continue
        if policy_digest is not None and event.get("policy") == policy_digest:
            return _payload(log, entry), entry.index
        if fallback is None:
            fallback = (entry, event)
    if fallback is None:
        return None, None
    return _payload(log, fallback[0]), fallback[0].index


def gather(log: LogStore, deployment: Deployment, now: dt.datetime) -> Gathered:
    results, record = _evaluation(log, deployment.policy_digest)
    register = [(i, inc) for i, _, inc in current(log).values() if inc is not None]
    evidence = {
        "eval": evaluation_evidence(
            results, record=record, deployed_policy=deployment.policy_digest, now=now
        ),
        "incidents": incident_evidence(register, deployment.name, record),
        "production": production_evidence(
            log.verdict_counts(deployment.name, int(now.timestamp()) // 3600 - 24 * PRODUCTION_DAYS)
        ),
        "deployment": {
            "name": deployment.name,
            "halted": deployment.halted,
            "policy": deployment.policy_digest,
            "model": deployment.model,
        },
    }
    return Gathered(evidence, _deployed_policy(log, deployment), record)


FRAMEWORK_HALT = "framework "
"""How the reason of a halt the framework made begins: resuming it needs the gate's consent."""


def check_gate(
    ops: Operations,
    loaded: LoadedFramework,
    deployment: str,
    by: str,
    signer: Signer | None = None,
    now: dt.datetime | None = None,
    *,
    respond: bool = True,
    cause: str = "",
) -> tuple[GateDecision, Gathered, Receipt | None]:
    """Decide for ``deployment`` on the recorded evidence; record the decision (signed by
    ``by``'s key when given), with the full report as its payload; then, unless ``respond`` is
    False, carry out the responses it calls for (a halt through ``ops``, signed and recorded
    the same way). ``cause`` says what prompted the check (kept with the decision)."""
    if ops.recorder is None:
        raise OpsError("a framework decision needs the flight recorder")
    known = ops.known(deployment)
    gathered = gather(ops.recorder.store, known, now or dt.datetime.now(dt.UTC))
    decision = evaluate(loaded, gathered.evidence, gathered.policy)
    fields: dict[str, Any] = {
        "deployment": known.name,
        "framework": decision.framework,
        "digest": decision.digest,
        "decision": decision.decision.value,
        "by": by,
    }
    if gathered.evaluation_record is not None:
        fields["evidence"] = gathered.evaluation_record
    if known.policy_digest is not None:
        fields["policy"] = known.policy_digest
    if signer is not None and signer.name != by:
        raise OpsError(f"the key of {signer.name!r} cannot sign for {by!r}")
    signed = sign_decision(signer, "framework_decision", fields) if signer else None
    report = decision.to_dict() | {"evidence": gathered.evidence, "cause": cause}
    receipt = ops.recorder.record(FrameworkDecided(**fields, signed=signed), report)
    if respond and decision.responses and not known.halted:
        # Clients see a halt's reason in every 503: the why (red lines, incident ids) stays in
        # the decision's record, whose log index the reason gives.
        where = f"decision at log entry {receipt.index}" if receipt else "decision"
        reason = f"{FRAMEWORK_HALT}{decision.framework}: {decision.decision.value} ({where})"
        ops.halt(known.name, reason, by, signer)
    return decision, gathered, receipt
