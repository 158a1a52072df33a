"""Request-body limits as ASGI middleware: a size cap and a deadline on the body's arrival.

The body is limited as the route reads it, not read ahead: the route authenticates first, so
an unauthenticated client never makes the gateway read its body.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from swisscheese.gateway._errors import ApiError


class BodyLimits:
    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, self._limited(scope, receive), send)

    def _limited(self, scope: Scope, receive: Receive) -> Receive:
        limit, timeout = self.max_bytes, self.timeout_s
        declared = _content_length(scope)
        seen = 0
        deadline: float | None = None

        async def limited() -> Message:
            nonlocal seen, deadline
            if declared is not None and declared > limit:
                raise ApiError(413, f"request body over {limit} bytes")
            if deadline is None:
                deadline = time.monotonic() + timeout  # from the route's first read
            try:
                with anyio.fail_after(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                raise ApiError(408, f"request body not received within {timeout:g} s") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, f"request body over {limit} bytes")
            return message

        return limited


def _content_length(scope: Scope) -> int | None:
    headers: Any = scope.get("headers") or []
    for name, value in headers:
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None
