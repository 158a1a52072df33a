"""What every console route shares: the session, roles, CSRF, templates and security headers."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from swisscheese.console.auth import Permission, may
from swisscheese.console.users import ConsoleUsers
from swisscheese.ops import Operations
from swisscheese.recorder import Recorder
from swisscheese.store import ConsoleSession, LogStore

COOKIE = "sc_console"
LOGIN_CSRF_COOKIE = "sc_login_csrf"
HERE = Path(__file__).parent

# Pages load scripts and styles only from the console itself: a recorded <script> that were
# ever rendered as markup would still not run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)
# A figure served as an image: its own inline styles, nothing else.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
# An evaluation report is a whole page with inline styles and SVG, and no scripts.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"
)


@dataclass
class ConsoleSettings:
    case: Path | None = None
    """The safety case the case page evaluates (default: the reference case)."""
    regimes: Path | None = None
    """Reporting regimes for incident deadlines (default: the reference regimes)."""
    secure_cookies: bool | None = None
    """Mark cookies Secure; None: when the request came over TLS."""
    stream_poll_s: float = 0.5
    """How often the live traffic stream looks for new verdicts."""
    page_size: int = 50


@dataclass
class ConsoleState:
    users: ConsoleUsers
    log: LogStore
    ops: Operations
    recorder: Recorder | None
    settings: ConsoleSettings
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=str(HERE / "templates"))
    )


def state(request: Request) -> ConsoleState:
    found: ConsoleState = request.app.state.console
    return found


def root(request: Request) -> str:
    """Where the console is mounted (``/console`` inside the gateway)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


class NeedSignIn(Exception):
    """No live session: pages redirect to the sign-in form, the rest answer 401."""


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def session(request: Request) -> ConsoleSession:
    cookie = request.cookies.get(COOKIE)
    found = state(request).users.store.session(cookie) if cookie else None
    if found is None:
        raise NeedSignIn()
    return found


def require(request: Request, permission: Permission) -> ConsoleSession:
    """The session, if its role grants ``permission``; a 403 otherwise (enforced here, not by
    hiding buttons)."""
    current = session(request)
    if not may(current.role, permission):
        raise Refused(403, f"your role ({current.role}) may not {permission.value}")
    return current


def check_csrf(current: ConsoleSession, token: str | None) -> None:
    if not token or not hmac.compare_digest(token, current.csrf):
        raise Refused(403, "the form's CSRF token is missing or wrong: reload the page")


def render(
    request: Request,
    template: str,
    current: ConsoleSession | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    context |= {
        "root": root(request),
        "user": current,
        "may": (lambda p: current is not None and may(current.role, Permission(p))),
        "path": request.url.path,
    }
    return state(request).templates.TemplateResponse(request, template, context, status_code=status)


def secure(request: Request) -> bool:
    chosen = state(request).settings.secure_cookies
    return request.url.scheme == "https" if chosen is None else chosen


async def on_sign_in_needed(request: Request, _: Exception) -> Response:
    if request.method == "GET" and "text/event-stream" not in request.headers.get("accept", ""):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{root(request)}/login?next={_quote(target)}", status_code=303)
    return Response("sign in first", status_code=401, media_type="text/plain")


async def on_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    try:
        current: ConsoleSession | None = session(request)
    except NeedSignIn:
        current = None
    return render(request, "error.html", current, exc.status, message=exc.message)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


class SecurityHeaders:
    """Security headers on every response, streams included (a plain ASGI middleware, so the
    live traffic stream is not buffered)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CSP)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, with_headers)
