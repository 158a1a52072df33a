"""The model behind the gateway: any OpenAI-compatible HTTP endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from swisscheese.common.openai_client import MAX_ANSWER_BYTES, ChatEndpoint, EndpointError
from swisscheese.gateway._errors import ApiError


class Upstream(Protocol):
    async def chat(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]: ...

    async def models(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


class HttpUpstream:
    """An OpenAI-compatible server, through the project's one pooled client; its failures
    become the gateway's OpenAI-format errors (502, 504, or the upstream's own 4xx)."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        """``max_answer_bytes``: reading stops there and the request fails with 502, so an
        answer (or a stream that never ends) cannot grow the gateway's memory without bound."""
        self.endpoint = ChatEndpoint(
            base_url, api_key, timeout=timeout, max_answer_bytes=max_answer_bytes
        )
        self.base_url = self.endpoint.base_url

    async def aclose(self) -> None:
        await self.endpoint.aclose()

    async def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self.endpoint.chat(body)
        except EndpointError as exc:
            raise _api_error(exc) from None

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            async for piece in self.endpoint.stream(body):
                yield piece
        except EndpointError as exc:
            raise _api_error(exc) from None

    async def models(self) -> dict[str, Any]:
        try:
            return await self.endpoint.models()
        except EndpointError as exc:
            raise _api_error(exc) from None


def _api_error(exc: EndpointError) -> ApiError:
    code = "upstream_error" if exc.message.startswith("upstream:") else None
    return ApiError(exc.status, exc.message, code=code)
