"""The model behind the gateway: any OpenAI-compatible HTTP endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

import aiohttp

from swisscheese.gateway._errors import ApiError


class Upstream(Protocol):
    async def chat(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]: ...

    async def models(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


class HttpUpstream:
    """An OpenAI-compatible server reached through one pooled aiohttp session.

    aiohttp rather than httpx here: under concurrent load httpx's pool bookkeeping cost more
    than the rest of the proxying (measured with py-spy at 32 concurrent requests).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_answer_bytes: int = 8 << 20,
    ) -> None:
        """``max_answer_bytes``: reading stops there and the request fails with 502, so an
        answer (or a stream that never ends) cannot grow the gateway's memory without bound."""
        self.base_url = base_url.rstrip("/")
        self.max_answer_bytes = max_answer_bytes
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=10.0)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use, inside the server's event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=256),
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self._client().post(self.base_url + "/chat/completions", json=body) as r:
                return await _json_or_error(r, self.max_answer_bytes)
        except TimeoutError:
            raise ApiError(504, "the upstream model did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise ApiError(502, f"the upstream model is unreachable: {exc}") from None

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            async with self._client().post(self.base_url + "/chat/completions", json=body) as r:
                if r.status >= 400:
                    await _json_or_error(r, self.max_answer_bytes)
                size = 0
                async for raw in r.content:
                    size += len(raw)
                    if size > self.max_answer_bytes:
                        raise ApiError(
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
                        raise ApiError(502, "the upstream model sent a malformed chunk") from None
                    if not isinstance(piece, dict):
                        raise ApiError(502, "the upstream model sent a malformed chunk")
                    yield piece
        except ValueError:  # aiohttp: a line longer than its buffer
            raise ApiError(502, "the upstream model sent an over-long line") from None
        except TimeoutError:
            raise ApiError(504, "the upstream model did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise ApiError(502, f"the upstream model is unreachable: {exc}") from None

    async def models(self) -> dict[str, Any]:
        try:
            async with self._client().get(self.base_url + "/models") as r:
                return await _json_or_error(r, self.max_answer_bytes)
        except TimeoutError:
            raise ApiError(504, "the upstream model did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise ApiError(502, f"the upstream model is unreachable: {exc}") from None


async def _json_or_error(response: aiohttp.ClientResponse, limit: int) -> dict[str, Any]:
    parts: list[bytes] = []
    size = 0
    while part := await response.content.read(1 << 16):
        size += len(part)
        if size > limit:
            raise ApiError(502, f"the upstream answer exceeded {limit} bytes")
        parts.append(part)
    text = b"".join(parts).decode("utf-8", "replace")
    if response.status >= 400:
        try:
            message = json.loads(text)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = text[:500]
        status = 502 if response.status >= 500 else response.status
        raise ApiError(status, f"upstream: {message}", code="upstream_error")
    try:
        data = json.loads(text)
    except ValueError:
        raise ApiError(502, "the upstream model answered with invalid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(502, "the upstream model answered with an unexpected shape")
    return data
