"""Sign-in and sign-out."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from swisscheese.console._web import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    NeedSignIn,
    Refused,
    check_csrf,
    render,
    root,
    secure,
    session,
    state,
)
from swisscheese.console.users import SESSION_LIFETIME, SignInRefused

router = APIRouter()


def _safe_next(request: Request, target: str | None) -> str:
    """Only a path inside the console: an open redirect would let a link sign someone in and
    send them elsewhere."""
    base = root(request)
    if target and target.startswith(f"{base}/") and not target.startswith("//"):
        return target
    return f"{base}/traffic"


def _login_form(request: Request, status: int = 200, message: str | None = None) -> Response:
    # Before a session exists, CSRF is a double-submitted token: a cookie and a form field
    # that must match (a forged cross-site form cannot read the cookie).
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        None,
        status,
        csrf=token,
        message=message,
        next=_safe_next(request, request.query_params.get("next")),
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure(request),
        path=root(request) or "/",
    )
    return response


@router.get("/login", name="login")
def login_page(request: Request) -> Response:
    return _login_form(request)


@router.post("/login")
def login(
    request: Request,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf, expected):
        raise Refused(403, "the sign-in form's CSRF token is missing or wrong: reload the page")
    address = request.client.host if request.client else None
    try:
        signed = state(request).users.sign_in(name, password, address)
    except SignInRefused as exc:
        return _login_form(request, 429 if exc.locked else 401, str(exc))
    response = RedirectResponse(_safe_next(request, next), status_code=303)
    response.set_cookie(
        COOKIE,
        signed.cookie,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=secure(request),
        path=root(request) or "/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=root(request) or "/")
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    try:
        current = session(request)
    except NeedSignIn:
        return RedirectResponse(f"{root(request)}/login", status_code=303)
    check_csrf(current, csrf)
    state(request).users.sign_out(request.cookies[COOKIE], current.user)
    response = RedirectResponse(f"{root(request)}/login", status_code=303)
    response.delete_cookie(COOKIE, path=root(request) or "/")
    return response
