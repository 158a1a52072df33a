"""The model behind the gateway: any OpenAI-compatible HTTP endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx

from swisscheese.gateway._errors import ApiError


class Upstream(Protocol):
    async def chat(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]: ...

    async def models(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


class HttpUpstream:
    """An OpenAI-compatible server reached with one pooled httpx client."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 120.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout, connect=10.0)
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post("/chat/completions", json=body)
        except httpx.TimeoutException:
            raise ApiError(504, "the upstream model did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ApiError(502, f"the upstream model is unreachable: {exc}") from None
        return _json_or_error(response)

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            async with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    _json_or_error(response)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        yield json.loads(data)
                    except ValueError:
                        raise ApiError(502, "the upstream model sent a malformed chunk") from None
        except httpx.TimeoutException:
            raise ApiError(504, "the upstream model did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ApiError(502, f"the upstream model is unreachable: {exc}") from None

    async def models(self) -> dict[str, Any]:
        try:
            response = await self._client.get("/models")
        except httpx.HTTPError as exc:
            raise ApiError(502, f"the upstream model is unreachable: {exc}") from None
        return _json_or_error(response)


def _json_or_error(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text[:500]
        status = 502 if response.status_code >= 500 else response.status_code
        raise ApiError(status, f"upstream: {message}", code="upstream_error")
    try:
        data = response.json()
    except ValueError:
        raise ApiError(502, "the upstream model answered with invalid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(502, "the upstream model answered with an unexpected shape")
    return data
