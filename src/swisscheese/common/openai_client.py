"""The one client for OpenAI-compatible endpoints: the gateway's upstream, the tier-2 adapters
and the evaluation's URL targets and judges all call through here.

aiohttp for async callers (measured: its connection pool cost a fraction of httpx's under
load); the evaluation's synchronous workers use ``chat_sync``, which needs no event loop. Every
failure is an ``EndpointError`` whose ``status`` is the HTTP status to report: the endpoint's
own for a 4xx, 502 for a 5xx, a malformed or an over-long answer or no connection, 504 for a
timeout.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from swisscheese.core.errors import SwisscheeseError

if TYPE_CHECKING:
    import aiohttp

MAX_ANSWER_BYTES = 8 << 20


class EndpointError(SwisscheeseError):
    """``message`` says everything known (for logs and operators); ``public`` says what may be
    shown to a third party: no upstream text, no address."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        public: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.public = public or message
        self.headers: Mapping[str, str] = headers or {}


class ChatEndpoint:
    """An OpenAI-compatible base URL (``http://host:port/v1``).

    ``pooled``: one session kept for the endpoint's life (a server's upstream; close it with
    ``aclose``); otherwise a session per call, so nothing stays open when the caller's event
    loop goes away (monitors called from several loops).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 120.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        pooled: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        import aiohttp  # here, not at import: processes that never call an endpoint skip it

        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeout = aiohttp.ClientTimeout(total=timeout, connect=min(10.0, timeout))
        self.max_answer_bytes = max_answer_bytes
        self.pooled = pooled
        self._session: aiohttp.ClientSession | None = None

    def _new_session(self) -> aiohttp.ClientSession:
        import aiohttp

        return aiohttp.ClientSession(
            headers=self.headers, timeout=self.timeout, connector=aiohttp.TCPConnector(limit=256)
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def chat(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/chat/completions", body)

    async def models(self) -> dict[str, Any]:
        return await self._call("GET", "/models", None)

    async def _call(self, method: str, path: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        async def once(session: aiohttp.ClientSession) -> dict[str, Any]:
            async with session.request(method, self.base_url + path, json=body) as r:
                return await _json_or_error(r, self.max_answer_bytes)

        return await self._with_session(once)

    async def stream(self, body: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The chunks of a streamed chat completion, each a JSON object; reading stops at
        ``max_answer_bytes``."""
        with _network_errors():
            try:
                if self.pooled:
                    async for piece in self._chunks(self._pooled(), body):
                        yield piece
                else:
                    async with self._new_session() as session:
                        async for piece in self._chunks(session, body):
                            yield piece
            except ValueError:  # aiohttp: a line longer than its buffer
                raise EndpointError(502, "the upstream model sent an over-long line") from None

    async def _chunks(
        self, session: aiohttp.ClientSession, body: Mapping[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        async with session.post(self.base_url + "/chat/completions", json=body) as r:
            if r.status >= 400:
                await _json_or_error(r, self.max_answer_bytes)
            if "json" in r.headers.get("content-type", ""):
                # A server that ignores stream=true: its one answer as one chunk.
                yield _as_chunk(await _json_or_error(r, self.max_answer_bytes))
                return
            size = 0
            async for raw in r.content:
                size += len(raw)
                if size > self.max_answer_bytes:
                    raise EndpointError(
                        502, f"the upstream answer exceeded {self.max_answer_bytes} bytes"
                    )
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    piece = json.loads(data)
                except ValueError:
                    raise EndpointError(502, "the upstream model sent a malformed chunk") from None
                if not isinstance(piece, dict):
                    raise EndpointError(502, "the upstream model sent a malformed chunk")
                yield piece

    def _pooled(self) -> aiohttp.ClientSession:
        # Created on first use, inside the server's event loop.
        if self._session is None or self._session.closed:
            self._session = self._new_session()
        return self._session

    async def _with_session(self, call: Any) -> dict[str, Any]:
        with _network_errors():
            if self.pooled:
                result: dict[str, Any] = await call(self._pooled())
                return result
            async with self._new_session() as session:
                result = await call(session)
                return result


@contextmanager
def _network_errors() -> Iterator[None]:
    """aiohttp's failures as the errors to report: a timeout 504, anything else 502."""
    import aiohttp

    try:
        yield
    except TimeoutError:
        raise EndpointError(504, "the upstream model did not answer in time") from None
    except aiohttp.ClientError as exc:
        raise EndpointError(
            502,
            f"the upstream model is unreachable: {exc}",
            public="the upstream model is unreachable",
        ) from None


def _as_chunk(answer: dict[str, Any]) -> dict[str, Any]:
    """A whole completion as a stream chunk: each choice's message as its delta."""
    choices = answer.get("choices")
    piece = {k: v for k, v in answer.items() if k != "choices"}
    if isinstance(choices, list):
        piece["choices"] = [
            {**{k: v for k, v in c.items() if k != "message"}, "delta": c.get("message")}
            if isinstance(c, dict)
            else c
            for c in choices
        ]
    return piece


async def _json_or_error(response: aiohttp.ClientResponse, limit: int) -> dict[str, Any]:
    parts: list[bytes] = []
    size = 0
    while part := await response.content.read(1 << 16):
        size += len(part)
        if size > limit:
            raise EndpointError(502, f"the upstream answer exceeded {limit} bytes")
        parts.append(part)
    return _decoded(response.status, b"".join(parts), dict(response.headers))


def _decoded(status: int, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    text = body.decode("utf-8", "replace")
    if status >= 400:
        try:
            message = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = text[:500]
        raise EndpointError(
            502 if status >= 500 else status,
            f"upstream: {message}",
            headers,
            public=f"the upstream model {'failed' if status >= 500 else 'refused the request'}"
            f" ({status})",
        )
    try:
        data = json.loads(text)
    except ValueError:
        raise EndpointError(502, "the upstream model answered with invalid JSON") from None
    if not isinstance(data, dict):
        raise EndpointError(502, "the upstream model answered with an unexpected shape")
    return data


def chat_sync(
    base_url: str,
    body: Mapping[str, Any],
    *,
    api_key: str | None = None,
    timeout: float = 60.0,
) -> tuple[dict[str, Any], Mapping[str, str]]:
    """One chat completion from synchronous code (no event loop): the answer and the response
    headers. Errors as ``ChatEndpoint``'s, with the error response's headers."""
    headers = {"content-type": "application/json"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    url = base_url.rstrip("/") + "/chat/completions"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(MAX_ANSWER_BYTES + 1)
            got = dict(response.headers.items())
            status = response.status
    except urllib.error.HTTPError as exc:
        with exc:
            got = dict(exc.headers.items()) if exc.headers else {}
            return _decoded(exc.code, exc.read(MAX_ANSWER_BYTES), got), got
    except TimeoutError:
        raise EndpointError(504, f"{url} did not answer in time") from None
    except urllib.error.URLError as exc:
        raise EndpointError(
            502, f"{url} is unreachable: {exc.reason}", public="the model is unreachable"
        ) from None
    if len(data) > MAX_ANSWER_BYTES:
        raise EndpointError(502, f"the answer exceeded {MAX_ANSWER_BYTES} bytes")
    return _decoded(status, data, got), got
