"""Who may call the gateway and how often; halts and human approvals.

State lives in the shared store so every replica agrees; reads are cached briefly in memory so
the database is not on every request's path (a revoked key stops working within ``cache_ttl``).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio

from swisscheese.core import Verdict
from swisscheese.gateway._errors import ApiError, unrecorded
from swisscheese.guard import approval_summary
from swisscheese.ops import DeploymentWatch, Operations
from swisscheese.recorder import Recorder, RecordError
from swisscheese.store import AccessStore, ClientKey

T = TypeVar("T")

MAX_KEY_CHARS = 512  # far above any key `keys create-client` makes


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = field(default_factory=time.monotonic)

    def take(self) -> float:
        """0 if a request may go now, else the seconds until one may."""
        now = time.monotonic()
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class AccessControl:
    def __init__(
        self,
        store: AccessStore | None,
        deployment: str,
        *,
        require_auth: bool = True,
        default_rate: float | None = None,
        default_burst: int | None = None,
        cache_ttl: float = 10.0,
        cache_size: int = 4096,
        poll_interval: float = 0.2,
        recorder: Recorder | None = None,
    ) -> None:
        """``recorder``: where halts and approval requests are recorded (``create_app`` uses
        the guard's when none is given)."""
        if require_auth and store is None:
            raise ValueError("authentication needs a store holding the client keys")
        self.store = store
        self.ops = Operations(store, recorder) if store is not None else None
        self.deployment = deployment
        self.require_auth = require_auth
        self.default_rate = default_rate
        self.default_burst = default_burst
        self.cache_ttl = cache_ttl
        self.cache_size = cache_size
        self.poll_interval = poll_interval
        # Keyed by the secret's digest, least recently used first, bounded: bogus keys
        # neither stay in memory as sent nor grow it without end.
        self._keys: OrderedDict[bytes, tuple[ClientKey | None, float]] = OrderedDict()
        self._buckets: dict[str, TokenBucket] = {}
        self.watch = (
            DeploymentWatch(store, self.ops, deployment, poll_interval=poll_interval)
            if store is not None and self.ops is not None
            else None
        )

    async def authenticate(self, authorization: str | None) -> ClientKey | None:
        if not self.require_auth or self.store is None:
            return None
        if not authorization or not authorization.lower().startswith("bearer "):
            raise ApiError(
                401, "missing API key: send Authorization: Bearer <key>", code="invalid_api_key"
            )
        secret = authorization[7:].strip()
        if len(secret) > MAX_KEY_CHARS:
            raise ApiError(401, "invalid API key", code="invalid_api_key")
        slot = hashlib.sha256(secret.encode("utf-8", "replace")).digest()
        cached = self._keys.get(slot)
        now = time.monotonic()
        if cached is None or cached[1] < now:
            key = await anyio.to_thread.run_sync(self.store.authenticate, secret)
            self._keys[slot] = (key, now + self.cache_ttl)
            while len(self._keys) > self.cache_size:
                self._keys.popitem(last=False)
        else:
            key = cached[0]
        self._keys.move_to_end(slot)
        if key is None:
            raise ApiError(401, "invalid API key", code="invalid_api_key")
        if key.deployment and key.deployment != self.deployment:
            raise ApiError(
                403, f"this key is for deployment {key.deployment!r}", code="wrong_deployment"
            )
        return key

    def limit(self, key: ClientKey | None) -> None:
        rate = key.rate if key and key.rate else self.default_rate
        if not rate:
            return
        burst = key.burst if key and key.burst else self.default_burst or max(1, int(rate))
        name = key.id if key else "anonymous"
        bucket = self._buckets.get(name)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[name] = TokenBucket(rate, float(burst))
        wait = bucket.take()
        if wait > 0:
            raise ApiError(
                429,
                f"rate limit of {rate:g} requests/s exceeded; retry in {wait:.2f} s",
                code="rate_limit_exceeded",
                headers={"retry-after": str(max(1, math.ceil(wait)))},
            )

    async def halted(self) -> str | None:
        """Why the deployment is halted, or None (cached; pushed on PostgreSQL)."""
        return None if self.watch is None else await self.watch.halted()

    async def check_halt(self) -> None:
        reason = await self.halted()
        if reason is not None:
            raise ApiError(
                503,
                f"deployment {self.deployment!r} is halted: {reason}; "
                f"an operator resumes it with `swisscheese deployment resume`",
                code="deployment_halted",
            )

    async def halt(self, verdict: Verdict) -> None:
        if self.watch is not None:
            reason = f"HALT verdict {verdict.id} at {verdict.stage.value}"
            await _recorded(self.watch.halt, reason, "policy")

    async def escalate(
        self, verdict: Verdict, content: str, wait_seconds: float
    ) -> tuple[bool, str]:
        """Ask a human about ``content`` (what was screened, redacted if a rule redacted it);
        (approved, approval id). Waits up to ``wait_seconds``."""
        if self.watch is None:
            return False, ""
        summary = approval_summary(verdict)
        return await _recorded(
            self.watch.ask, verdict.stage.value, verdict.id, summary, content, wait_seconds
        )


async def _recorded(operation: Callable[..., Awaitable[T]], *args: Any) -> T:
    """An operation that records; a log that cannot record it is a 503 (a halt has taken
    effect all the same: tightening acts first)."""
    try:
        return await operation(*args)
    except RecordError as exc:
        raise unrecorded(exc) from None
