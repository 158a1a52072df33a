"""The operations service: store writes and their events, together."""

from __future__ import annotations

from swisscheese.core import Receipt
from swisscheese.core.errors import SwisscheeseError
from swisscheese.recorder import Recorder
from swisscheese.recorder.decisions import sign_decision
from swisscheese.recorder.events import (
    ApprovalDecided,
    ApprovalRequested,
    ClientKeyCreated,
    ClientKeyRevoked,
    ClientKeyRotated,
    Event,
    Halted,
    OperatorKey,
    Resumed,
)
from swisscheese.recorder.note import Signer
from swisscheese.store import AccessStore, ClientKey, Deployment


def _signed(signer: Signer | None, kind: str, fields: dict[str, str]) -> str | None:
    if signer is None:
        return None
    if signer.name != fields["by"]:
        raise OpsError(f"the key of {signer.name!r} cannot sign for {fields['by']!r}")
    return sign_decision(signer, kind, fields)


class OpsError(SwisscheeseError, ValueError):
    """An operation that cannot apply (no such key, no pending approval); nothing changed."""


class Operations:
    def __init__(self, store: AccessStore, recorder: Recorder | None) -> None:
        """``recorder`` None: the store alone (an embedded gateway without a flight recorder)."""
        self.store = store
        self.recorder = recorder

    def _record(self, event: Event) -> Receipt | None:
        return self.recorder.record(event) if self.recorder is not None else None

    def known(self, deployment: str) -> Deployment:
        """The deployment a gateway registered; OpsError naming the known ones otherwise (a
        typo must not halt nothing while the real deployment keeps serving)."""
        found = self.store.deployment(deployment)
        if found is None:
            names = ", ".join(d.name for d in self.store.deployments()) or "none yet"
            raise OpsError(
                f"unknown deployment {deployment!r} (known: {names}; a deployment is known "
                "once a gateway has served it)"
            )
        return found

    def halt(
        self, deployment: str, reason: str, by: str, signer: Signer | None = None
    ) -> Receipt | None:
        """Halt now, record after. ``signer``: the operator's key, so the log proves who."""
        self.known(deployment)
        self.store.set_halted(deployment, True, reason)
        fields = {"deployment": deployment, "reason": reason, "by": by}
        signed = _signed(signer, "halt", fields)
        return self._record(Halted(deployment=deployment, reason=reason, by=by, signed=signed))

    def resume(
        self, deployment: str, reason: str, by: str, signer: Signer | None = None
    ) -> Receipt | None:
        self.known(deployment)
        fields = {"deployment": deployment, "reason": reason, "by": by}
        signed = _signed(signer, "resume", fields)
        receipt = self._record(Resumed(deployment=deployment, reason=reason, by=by, signed=signed))
        self.store.set_halted(deployment, False, reason)
        return receipt

    def register_operator(self, signer: Signer) -> Receipt | None:
        """Put an operator's public key in the log: their signed decisions verify against it."""
        return self._record(OperatorKey(name=signer.name, verifier=signer.verifier.encode()))

    def request_approval(
        self, deployment: str, stage: str, verdict: str, summary: str, content: str = ""
    ) -> tuple[str, Receipt | None]:
        """``content``: what the approver must read (kept in the store, not in the log)."""
        approval = self.store.request_approval(deployment, stage, verdict, summary, content)
        event = ApprovalRequested(
            deployment=deployment, approval=approval, stage=stage, verdict=verdict, summary=summary
        )
        return approval, self._record(event)

    def decide(
        self,
        approval: str,
        approved: bool,
        by: str,
        signer: Signer | None = None,
        reason: str | None = None,
    ) -> Receipt | None:
        """Record and apply a human decision; ``signer``: the approver's key, which signs it
        (with ``reason``, when given)."""
        pending = self.store.approval(approval)
        if pending is None or pending.status != "pending":
            raise OpsError(f"no pending approval {approval}")
        fields = {"approval": approval, "decision": "approved" if approved else "denied", "by": by}
        if reason:
            fields["reason"] = reason
        event = ApprovalDecided(
            approval=approval,
            decision="approved" if approved else "denied",
            by=by,
            signed=_signed(signer, "approval_decided", fields),
            reason=reason or None,
        )
        if approved:
            receipt = self._record(event)
            decided = self.store.decide(approval, True, by)
        else:
            decided = self.store.decide(approval, False, by)
            receipt = self._record(event)
        if not decided:
            raise OpsError(f"approval {approval} was decided meanwhile")
        return receipt

    def create_client_key(
        self,
        name: str,
        *,
        by: str,
        deployment: str | None = None,
        rate: float | None = None,
        burst: int | None = None,
    ) -> tuple[ClientKey, str, Receipt | None]:
        """The key, its secret (shown once, stored hashed) and the receipt of its event."""
        key, secret = self.store.create_key(name, deployment=deployment, rate=rate, burst=burst)
        event = ClientKeyCreated(
            name=name, key_id=key.id, deployment=deployment, rate=rate, burst=burst, by=by
        )
        try:
            receipt = self._record(event)
        except Exception:
            self.store.revoke_key(name)  # a key the log cannot prove is not handed out
            raise
        return key, secret, receipt

    def rotate_client_key(self, name: str, by: str) -> tuple[ClientKey, str, Receipt | None]:
        """A new secret for the active key ``name`` (same deployment and limits); the old one
        stops working at once."""
        rotated = self.store.rotate_key(name)
        if rotated is None:
            raise OpsError(f"no active client key named {name!r}")
        old, new, secret = rotated
        event = ClientKeyRotated(name=name, old_key_id=old.id, new_key_id=new.id, by=by)
        try:
            receipt = self._record(event)
        except Exception:
            self.store.revoke_key(name)  # as for a new key: unrecorded, not handed out
            raise
        return new, secret, receipt

    def revoke_client_key(self, name: str, by: str) -> Receipt | None:
        if not self.store.revoke_key(name):
            raise OpsError(f"no active client key named {name!r}")
        return self._record(ClientKeyRevoked(name=name, by=by))
