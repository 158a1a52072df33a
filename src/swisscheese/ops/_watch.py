"""What a serving process (a gateway, an MCP proxy) asks of its deployment on the request path:
is it halted, and what did a human decide about a request that waits.

The halt state is read at most once per ``halt_ttl`` (so the store is not on every request's
path, and a replica learns of a halt within that time by polling); on PostgreSQL it is also
pushed (LISTEN/NOTIFY) once ``start`` was called, so every replica learns of it as soon as it
commits. A halt decided in this process takes effect here at once.
"""

from __future__ import annotations

import time

import anyio

from swisscheese.ops._operations import Operations
from swisscheese.store import AccessStore, HaltListener

APPROVAL_EXCERPT = 4000  # characters of the content an approver is shown


class DeploymentWatch:
    def __init__(
        self,
        store: AccessStore,
        ops: Operations,
        deployment: str,
        *,
        halt_ttl: float = 1.0,
        poll_interval: float = 0.2,
    ) -> None:
        self.store = store
        self.ops = ops
        self.deployment = deployment
        self.halt_ttl = halt_ttl
        self.poll_interval = poll_interval
        self._halt: tuple[str | None, float] = (None, 0.0)
        self._listener: HaltListener | None = None

    def start(self) -> None:
        """Follow halts the store pushes (PostgreSQL); with SQLite, reads keep polling."""
        if self._listener is None and self.store.db.dialect == "postgresql":
            self._listener = HaltListener(self.store.db, self._pushed).start()

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    def _pushed(self, deployment: str) -> None:
        """On the listener's thread: re-read the state a notification is about."""
        if deployment in ("*", self.deployment):
            reason = self.store.halted(self.deployment)
            self._halt = (reason, time.monotonic() + self.halt_ttl)

    async def halted(self) -> str | None:
        """The reason the deployment is halted, or None (read at most once per ``halt_ttl``)."""
        reason, until = self._halt
        now = time.monotonic()
        if until < now:
            reason = await anyio.to_thread.run_sync(self.store.halted, self.deployment)
            self._halt = (reason, now + self.halt_ttl)
        return reason

    async def halt(self, reason: str, by: str) -> None:
        """Halt the deployment: here at once, then in the store and the log (raises RecordError
        if the log cannot take it; the halt holds all the same)."""
        self._halt = (reason, time.monotonic() + self.halt_ttl)
        await anyio.to_thread.run_sync(self.ops.halt, self.deployment, reason, by)

    async def ask(
        self, stage: str, verdict: str, summary: str, content: str, wait_seconds: float
    ) -> tuple[bool, str]:
        """File an approval request and wait up to ``wait_seconds`` for the decision:
        (approved, approval id). No decision in time is a denial."""
        approval_id, _ = await anyio.to_thread.run_sync(
            self.ops.request_approval,
            self.deployment,
            stage,
            verdict,
            summary,
            content[:APPROVAL_EXCERPT],
        )
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            await anyio.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
            approval = await anyio.to_thread.run_sync(self.store.approval, approval_id)
            if approval is not None and approval.status != "pending":
                return approval.status == "approved", approval_id
        return False, approval_id
