"""Errors in the OpenAI API format: {"error": {"message", "type", "param", "code"}}."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "upstream_timeout",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """``message`` goes to the client; ``detail`` (default: the message) to the log only."""
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.detail = detail or message
        self.headers = headers

    def response(self) -> JSONResponse:
        return error_response(
            self.status, self.message, code=self.code, param=self.param, headers=self.headers
        )


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "error": {
            "message": message,
            "type": _TYPES.get(status, "invalid_request_error"),
            "param": param,
            "code": code,
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def unrecorded(exc: Exception) -> ApiError:
    """Fail closed: nothing goes on that the flight recorder cannot prove (503)."""
    return ApiError(503, f"the flight recorder is unavailable: {exc}")
