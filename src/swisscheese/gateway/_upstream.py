"""The model behind the gateway: any OpenAI-compatible HTTP endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from swisscheese.common.openai_client import MAX_ANSWER_BYTES, ChatEndpoint, EndpointError
from swisscheese.gateway import _wire as wire
from swisscheese.gateway._errors import ApiError


class Upstream(Protocol):
    async def chat(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]: ...

    async def models(self) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


class HttpUpstream:
    """An OpenAI-compatible server, through the project's one pooled client; its failures
    become the gateway's OpenAI-format errors (502, or 504 for a timeout); answers and chunks
    whose known fields have the wrong types are 502s too."""

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
            answer = await self.endpoint.chat(body)
            wire.check_answer(answer)
        except EndpointError as exc:
            raise _api_error(exc) from None
        except wire.ShapeError as exc:
            raise ApiError(502, str(exc), code="upstream_error") from None
        return answer

    async def stream(self, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        try:
            async for piece in self.endpoint.stream(body):
                wire.check_chunk(piece)
                yield piece
        except EndpointError as exc:
            raise _api_error(exc) from None
        except wire.ShapeError as exc:
            raise ApiError(502, str(exc), code="upstream_error") from None

    async def models(self) -> dict[str, Any]:
        try:
            return await self.endpoint.models()
        except EndpointError as exc:
            raise _api_error(exc) from None


def _api_error(exc: EndpointError) -> ApiError:
    """The client learns that the upstream failed and how (502, or 504 for a timeout), never
    the upstream's own words or address: those go to the log as the detail."""
    status = 504 if exc.status == 504 else 502
    return ApiError(status, exc.public, code="upstream_error", detail=exc.message)
