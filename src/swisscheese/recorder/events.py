"""Every kind of event the flight recorder holds: one versioned, discriminated union.

A leaf is the RFC 8785 canonical JSON of ``{"v": EVENT_VERSION, "type": ..., "time": ...,
**fields, "payload": digest?}``. Fields hold identifiers and digests, never content: text goes
in the erasable payload. A later capability adds its own event class here and to ``Event``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from swisscheese.core import Verdict

EVENT_VERSION = 1


class _Event(BaseModel):
    # Leaves carry v, time and payload beside the fields; reading ignores them.
    model_config = ConfigDict(frozen=True, extra="ignore")

    OMIT_IF_NONE: ClassVar[frozenset[str]] = frozenset()
    """Fields added to an event type later: left out of the leaf when unset, so an event
    without them is written exactly as before they existed."""

    def fields(self) -> dict[str, Any]:
        """What goes into the leaf besides v, type, time and the payload digest."""
        data = self.model_dump(mode="json", exclude={"type"})
        for name in self.OMIT_IF_NONE:
            if data.get(name) is None:
                data.pop(name, None)
        return data


class PolicyLoaded(_Event):
    type: Literal["policy"] = "policy"
    deployment: str
    policy: str
    source: str | None = None


class VerdictRecorded(_Event):
    OMIT_IF_NONE = frozenset({"agent", "found"})
    type: Literal["verdict"] = "verdict"
    deployment: str
    verdict: str
    stage: str
    layer: str | None
    action: str
    policy: str
    content: str
    runs: dict[str, str]
    agent: str | None = None
    """The agent run (``name/instance``) the request acted for, when it showed a token."""
    found: list[str] | None = None
    """Monitors with findings (sorted), so the traffic index can be filtered by monitor."""

    @classmethod
    def of(cls, verdict: Verdict, deployment: str, agent: str | None = None) -> VerdictRecorded:
        return cls(
            agent=agent,
            deployment=deployment,
            verdict=verdict.id,
            stage=verdict.stage.value,
            layer=verdict.layer,
            action=verdict.action.value,
            policy=verdict.policy_digest,
            content=verdict.content_digest,
            runs={r.monitor: r.status.value for r in verdict.runs},
            found=sorted({f.monitor for f in verdict.findings}) or None,
        )


class StreamClosed(_Event):
    """What a windowed stream emitted, next to the verdicts on what was checked."""

    type: Literal["stream"] = "stream"
    deployment: str
    outcome: str
    finish_reason: str | None
    emitted_chars: int
    checks: list[str]


class UpstreamFailed(_Event):
    type: Literal["upstream_error"] = "upstream_error"
    deployment: str
    status: int
    verdicts: list[str]


class EvidenceRecorded(_Event):
    """Headline figures of an evaluation; the whole results document is the payload."""

    model_config = ConfigDict(frozen=True, extra="allow")
    type: Literal["evidence"] = "evidence"
    kind: str


class SigningKey(_Event):
    type: Literal["key"] = "key"
    verifier: str


class KeyRevoked(_Event):
    """A log key that must not be trusted for anything signed after this entry (compromised
    or withdrawn); what it signed before stays valid."""

    type: Literal["key_revoked"] = "key_revoked"
    verifier: str
    reason: str
    by: str


class Erasure(_Event):
    type: Literal["erasure"] = "erasure"
    digest: str
    reason: str = ""


class ApprovalRequested(_Event):
    type: Literal["approval_requested"] = "approval_requested"
    deployment: str
    approval: str
    stage: str
    verdict: str
    summary: str


class ApprovalDecided(_Event):
    OMIT_IF_NONE = frozenset({"signed", "reason"})
    type: Literal["approval_decided"] = "approval_decided"
    approval: str
    decision: Literal["approved", "denied"]
    by: str
    signed: str | None = None
    """The decision as a note signed by ``by``'s operator key (``recorder.decisions``)."""
    reason: str | None = None
    """Why, in the approver's words (signed with the decision)."""


class Halted(_Event):
    OMIT_IF_NONE = frozenset({"signed"})
    type: Literal["halt"] = "halt"
    deployment: str
    reason: str
    by: str
    signed: str | None = None


class Resumed(_Event):
    OMIT_IF_NONE = frozenset({"signed"})
    type: Literal["resume"] = "resume"
    deployment: str
    reason: str
    by: str
    signed: str | None = None


class FrameworkDecided(_Event):
    """A safety framework's gate decision for a deployment, from the evidence recorded at
    ``evidence`` (an evaluation's log index) and the deployed ``policy``; the full report,
    every condition's value, is the payload."""

    OMIT_IF_NONE = frozenset({"signed", "evidence", "policy"})
    type: Literal["framework_decision"] = "framework_decision"
    deployment: str
    framework: str
    digest: str
    decision: str
    evidence: int | None = None
    policy: str | None = None
    by: str
    signed: str | None = None


class IncidentRecorded(_Event):
    """One revision of an incident: its state and clocks here, the whole record (what happened,
    harms, parties, causes, actions) as the payload. The newest revision of an id is current."""

    type: Literal["incident"] = "incident"
    incident: str
    revision: int
    deployment: str
    status: str
    severity: str
    occurred_at: str
    aware_at: str
    where: list[str]
    flags: list[str]
    by: str


class IncidentScan(_Event):
    """How far ``incidents detect`` read the log, and the incidents it opened."""

    type: Literal["incident_scan"] = "incident_scan"
    start: int
    to: int
    opened: list[str]


class CaseEvaluated(_Event):
    """A safety case's status computed from the evidence at ``evidence`` (an evaluation's log
    index); every node's status and reason is the payload."""

    OMIT_IF_NONE = frozenset({"evidence"})
    type: Literal["safety_case"] = "safety_case"
    deployment: str
    case: str
    digest: str
    status: str
    evidence: int | None = None
    by: str


class AnswerReleased(_Event):
    """What the gateway released for a request: the SHA-256 of each choice's text, the model,
    the policy and the digest of the request's verdicts (the subject and predicate of its
    signed output statement)."""

    type: Literal["answer"] = "answer"
    deployment: str
    model: str
    policy: str
    verdicts_digest: str
    released: list[str]


class AgentRegistered(_Event):
    """An agent's Ed25519 identity."""

    type: Literal["agent"] = "agent"
    name: str
    key: str
    by: str


class TokenIssued(_Event):
    """A capability token for an agent (the token itself is not recorded)."""

    type: Literal["agent_token"] = "agent_token"
    agent: str
    token: str
    """Its revocation id."""
    tools: list[str]
    bounds: dict[str, float]
    expires: str
    by: str


class CapabilityDenied(_Event):
    """A call an agent's token does not allow (or a token refused): nothing ran."""

    type: Literal["capability_denied"] = "capability_denied"
    deployment: str
    agent: str | None
    tool: str | None
    reason: str


class OperatorKey(_Event):
    """An operator's public key: their signed decisions are checked against it."""

    type: Literal["operator_key"] = "operator_key"
    name: str
    verifier: str


class ClientKeyCreated(_Event):
    type: Literal["client_key_created"] = "client_key_created"
    name: str
    key_id: str
    deployment: str | None
    rate: float | None
    burst: int | None
    by: str


class ClientKeyRevoked(_Event):
    type: Literal["client_key_revoked"] = "client_key_revoked"
    name: str
    by: str


class PayloadRevealed(_Event):
    """Someone opened the sealed original of a recorded text with the payload key."""

    type: Literal["payload_revealed"] = "payload_revealed"
    index: int
    by: str


class ClientKeyRotated(_Event):
    """The active key ``name`` was replaced by a new secret with the same limits."""

    type: Literal["client_key_rotated"] = "client_key_rotated"
    name: str
    old_key_id: str
    new_key_id: str
    by: str


class ToolDefinitionSeen(_Event):
    """An MCP tool definition as the proxy first saw it, or changed since it was pinned (a rug
    pull: the tool is withheld until an operator accepts the new definition)."""

    OMIT_IF_NONE = frozenset({"pinned", "by"})
    type: Literal["mcp_tool"] = "mcp_tool"
    deployment: str
    server: str
    tool: str
    digest: str
    status: Literal["pinned", "changed", "accepted"]
    pinned: str | None = None
    """The digest pinned before, for a changed or accepted definition."""
    by: str | None = None
    """Who accepted a changed definition."""


class ModelKey(_Event):
    """A model-signing key (ECDSA P-256) adopted or revoked. A model it signed before its
    revocation (a ``model_signed`` entry earlier in the log) stays valid."""

    OMIT_IF_NONE = frozenset({"reason", "by"})
    type: Literal["model_key"] = "model_key"
    hint: str
    """model-signing's key identifier: SHA-256 of the PEM public key."""
    public_key: str
    status: Literal["adopted", "revoked"]
    reason: str | None = None
    by: str | None = None


class ModelSigned(_Event):
    """A model signature made here: the files' digest it covers, the tensor fingerprint, the
    key and, for a fine-tune, the parent's fingerprint."""

    OMIT_IF_NONE = frozenset({"parent"})
    type: Literal["model_signed"] = "model_signed"
    model: str
    subject: str
    fingerprint: str
    key: str
    parent: str | None = None


class ModelChecked(_Event):
    """The gateway's check of its local model against the policy's signature requirement;
    a refused model is never served."""

    OMIT_IF_NONE = frozenset({"fingerprint", "reason"})
    type: Literal["model_check"] = "model_check"
    deployment: str
    model: str
    outcome: Literal["verified", "refused"]
    fingerprint: str | None = None
    reason: str | None = None


class ConsoleSignIn(_Event):
    """A console sign-in attempt or sign-out, by the name given (which may not exist)."""

    type: Literal["console_signin"] = "console_signin"
    user: str
    outcome: Literal["signed_in", "failed", "locked_out", "refused_locked", "signed_out"]
    address: str | None = None


class ConsoleUserChanged(_Event):
    """A console user added, removed, given another role or a new password."""

    OMIT_IF_NONE = frozenset({"role"})
    type: Literal["console_user"] = "console_user"
    user: str
    change: Literal["added", "removed", "role", "password"]
    by: str
    role: str | None = None


class DatasetCurated(_Event):
    """A dataset curated: its Merkle root over the kept shards, the digest of its signed
    manifest statement, the counts, and the policy that filtered it (the manifest is the
    payload)."""

    type: Literal["dataset_curated"] = "dataset_curated"
    root: str
    statement: str
    policy: str
    records: int
    kept: int
    removed: int
    by: str


class WatermarkKey(_Event):
    """A text-watermark key adopted: its identifier, never the key (detection needs the key)."""

    type: Literal["watermark_key"] = "watermark_key"
    key_id: str


Event = Annotated[
    PolicyLoaded
    | VerdictRecorded
    | StreamClosed
    | UpstreamFailed
    | EvidenceRecorded
    | SigningKey
    | KeyRevoked
    | Erasure
    | ApprovalRequested
    | ApprovalDecided
    | Halted
    | Resumed
    | ClientKeyCreated
    | ClientKeyRevoked
    | ClientKeyRotated
    | PayloadRevealed
    | ToolDefinitionSeen
    | OperatorKey
    | AnswerReleased
    | AgentRegistered
    | TokenIssued
    | CapabilityDenied
    | ModelKey
    | ModelSigned
    | ModelChecked
    | WatermarkKey
    | ConsoleSignIn
    | ConsoleUserChanged
    | DatasetCurated
    | FrameworkDecided
    | IncidentRecorded
    | CaseEvaluated
    | IncidentScan,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES: frozenset[str] = frozenset(
    c.model_fields["type"].default for c in _Event.__subclasses__()
)


def parse_event(data: bytes | str) -> Event:
    """The typed event of a leaf's canonical JSON (raises ValueError on anything else)."""
    value = json.loads(data)
    if not isinstance(value, dict) or value.get("v") != EVENT_VERSION:
        raise ValueError("not a version-1 swisscheese event")
    return _ADAPTER.validate_python(value)
