"""The pure value types every layer speaks: stages, actions, content, findings, verdicts."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from swisscheese.core.serialised import LAST_TURN, READINGS


class Stage(enum.StrEnum):
    """Where in the life of a request the content is inspected."""

    INPUT = "input"
    RETRIEVED = "retrieved"
    REASONING = "reasoning"
    OUTPUT = "output"
    TOOL_CALL = "tool_call"
    CORPUS = "corpus"


_ACTION_ORDER = ("allow", "log", "flag", "modify", "escalate", "block", "halt")


@enum.unique
class Action(enum.StrEnum):
    """An intervention, totally ordered by severity: the verdict of a layer is the maximum."""

    ALLOW = "allow"
    LOG = "log"
    FLAG = "flag"
    MODIFY = "modify"
    ESCALATE = "escalate"
    BLOCK = "block"
    HALT = "halt"

    # Set on each member below: comparisons sit on the hot path, so no lookups per call.
    rank: int
    stops: bool
    """True when the content must not go further (ESCALATE, BLOCK, HALT)."""

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Action):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Action):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Action):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Action):
            return NotImplemented
        return self.rank >= other.rank


for _member in Action:
    _member.rank = _ACTION_ORDER.index(_member.value)
    _member.stops = _member.rank >= _ACTION_ORDER.index("escalate")


Role = Literal["system", "user", "assistant", "tool", "developer"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool invocation proposed by a model: the name and its JSON arguments."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None

    @classmethod
    def from_wire(cls, name: str, arguments: Any, id: str | None = None) -> ToolCall:
        """A call whose arguments arrive as JSON text (or a value): text that is not JSON is
        kept as ``{"_raw": text}`` and a JSON value that is not an object as ``{"_value": v}``,
        so a malformed call is still inspected (and refused by the tool policy), never lost."""
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
        except ValueError:
            return cls(name, {"_raw": arguments}, id)
        if isinstance(parsed, dict):
            return cls(name, parsed, id)
        if isinstance(arguments, str):
            return cls(name, {"_raw": arguments}, id)
        return cls(name, {"_value": parsed}, id)


@dataclass(frozen=True, slots=True)
class Content:
    """What is under inspection: text (or a tool call), with its role, stage and origin."""

    text: str
    role: Role = "user"
    stage: Stage = Stage.INPUT
    source: str | None = None
    tool_call: ToolCall | None = None
    trace: tuple[Content, ...] = ()

    @property
    def from_operator(self) -> bool:
        """Written by the deployment's operator: a system or developer message, or a tool or
        response-schema definition (read as retrieved content in the system role)."""
        return self.role in ("system", "developer")

    def with_text(self, text: str) -> Content:
        return Content(
            text=text,
            role=self.role,
            stage=self.stage,
            source=self.source,
            tool_call=self.tool_call,
            trace=self.trace,
        )


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Half-open character offsets [start, end) into the inspected text."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid span [{self.start}, {self.end})")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a finding on decoded text came from: the encodings peeled off, outermost first,
    and the span of the encoded segment in the caller's text."""

    chain: tuple[str, ...]
    span: Span

    @property
    def disguised(self) -> bool:
        """Whether a step of the chain undid a disguise (an encoding, a cipher, spread-out
        letters), rather than only read a serialised text as its reader does or a part of it
        (a conversation's last turn)."""
        return not _PLAIN_VIEWS.issuperset(self.chain)


_PLAIN_VIEWS = READINGS | {LAST_TURN}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a monitor found: which monitor, what category, how sure, and where.

    ``spans`` are offsets into the text the caller passed in, whatever normalising or
    decoding happened on the way. ``detail`` holds monitor-specific, JSON-serialisable facts;
    the key ``replacement`` (if present) is what a MODIFY action puts in place of the spans,
    and ``degraded`` (if present) names the parts of the monitor it was decided without, and
    why (see ``left_out``); ``instance`` (if present) names which of a monitor's configurations
    found it, where a policy builds more than one (see ``instance_of``).
    """

    monitor: str
    category: str
    score: float
    spans: tuple[Span, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)
    origin: Origin | None = None
    """Set by the Guard on findings in a decoded view (``detail`` shows the same facts as
    ``encoding`` and ``decoded_from`` for JSON readers)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score {self.score} outside [0, 1]")


def instance_of(finding: Finding) -> str:
    """Which of the policy's built monitors found it: the monitor's name for its first
    configuration, ``NAME#N`` for another (two rules of ``indirect-injection``, one per tier).
    The Guard writes the second kind into ``detail["instance"]``; a recorded finding reads the
    same."""
    label = finding.detail.get("instance")
    return label if isinstance(label, str) else finding.monitor


def left_out(detail: Mapping[str, Any]) -> dict[str, str]:
    """The parts of a monitor a finding was decided without, and why: an ensemble's members
    that were late. Empty for a whole decision. Reads a live finding's ``detail`` or a recorded
    one alike."""
    parts = detail.get("degraded")
    if not isinstance(parts, Mapping):
        return {}
    return {str(part): str(why) for part, why in parts.items()}


class RunStatus(enum.StrEnum):
    """How one monitor's run ended. Only OK means the content was actually inspected."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class MonitorRun:
    """The record of one monitor's run on one text: status and wall time."""

    monitor: str
    status: RunStatus
    duration_ms: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RuleDecision:
    """What one policy rule decided, and why."""

    rule: int
    monitor: str
    action: Action
    reason: str
    findings: int = 0


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where an event landed in the flight recorder: its leaf index (or QUEUED while it waits
    durably in a spool), the leaf hash, and the digest of its erasable payload."""

    index: int
    leaf_hash: bytes
    payload_digest: str | None = None

    QUEUED = -1

    @property
    def queued(self) -> bool:
        return self.index == Receipt.QUEUED

    def to_dict(self) -> dict[str, Any]:
        return {
            **({"queued": True} if self.queued else {"index": self.index}),
            "leaf_hash": self.leaf_hash.hex(),
            **({"payload": self.payload_digest} if self.payload_digest else {}),
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a layer on one piece of content."""

    action: Action
    stage: Stage
    layer: str | None
    findings: tuple[Finding, ...]
    decisions: tuple[RuleDecision, ...]
    runs: tuple[MonitorRun, ...]
    policy_digest: str
    content_digest: str
    modified: str | None = None
    duration_ms: float = 0.0
    id: str = ""
    receipt: Receipt | None = None
    """Set once the verdict is durable in a flight recorder."""

    @property
    def allowed(self) -> bool:
        """True when the content may go on (possibly modified)."""
        return not self.action.stops

    @property
    def record(self) -> dict[str, Any]:
        """The receipt as JSON (empty when the verdict was not recorded)."""
        return self.receipt.to_dict() if self.receipt is not None else {}

    @property
    def timings_ms(self) -> dict[str, float]:
        """Wall time per monitor, summed over the texts it inspected."""
        out: dict[str, float] = {}
        for run in self.runs:
            out[run.monitor] = out.get(run.monitor, 0.0) + run.duration_ms
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the one the CLI prints and the recorder stores)."""
        return {
            "id": self.id,
            "action": self.action.value,
            "stage": self.stage.value,
            "layer": self.layer,
            "findings": [
                {
                    "monitor": f.monitor,
                    "category": f.category,
                    "score": round(f.score, 6),
                    "spans": [[s.start, s.end] for s in f.spans],
                    "detail": dict(f.detail),
                }
                for f in self.findings
            ],
            "decisions": [
                {
                    "rule": d.rule,
                    "monitor": d.monitor,
                    "action": d.action.value,
                    "reason": d.reason,
                    "findings": d.findings,
                }
                for d in self.decisions
            ],
            "runs": [
                {
                    "monitor": r.monitor,
                    "status": r.status.value,
                    "duration_ms": round(r.duration_ms, 4),
                    **({"error": r.error} if r.error else {}),
                }
                for r in self.runs
            ],
            "timings_ms": {k: round(v, 4) for k, v in self.timings_ms.items()},
            "duration_ms": round(self.duration_ms, 4),
            "modified": self.modified,
            "policy_digest": self.policy_digest,
            "content_digest": self.content_digest,
            **({"record": self.record} if self.receipt is not None else {}),
        }
