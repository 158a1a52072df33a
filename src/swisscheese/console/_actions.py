"""What operators decide: escalated requests (approvers) and halting deployments (admins)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from swisscheese.console._web import Refused, check_csrf, render, require, root, state
from swisscheese.console.auth import Permission
from swisscheese.ops import OpsError
from swisscheese.recorder.decisions import load_operator_key, operator_key_path
from swisscheese.recorder.note import NoteError, Signer

router = APIRouter()

Reason = Annotated[str, Form(max_length=2000)]


def _signer(user: str) -> Signer:
    """The user's operator key, which signs what they decide here."""
    try:
        signer = load_operator_key(user)
    except NoteError as exc:
        raise Refused(409, f"your operator key cannot be used: {exc}") from None
    if signer is None:
        raise Refused(
            409,
            f"you have no operator key to sign with ({operator_key_path(user)}): an admin "
            f"creates one with `swisscheese keys init-operator {user}`",
        )
    return signer


def _content_view(content: str) -> Any:
    """A tool call's excerpt is a JSON document (call, rules, cited trace steps); a message is
    text."""
    try:
        value = json.loads(content)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "call" in value else None


@router.get("/approvals", name="approvals")
def approvals(request: Request) -> HTMLResponse:
    current = require(request, Permission.VIEW)
    pending = state(request).ops.store.pending()
    return render(
        request,
        "approvals.html",
        current,
        pending=[(a, _content_view(a.content)) for a in pending],
    )


@router.post("/approvals/{approval}")
def decide(
    request: Request,
    approval: str,
    decision: Annotated[str, Form()],
    reason: Reason,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    current = require(request, Permission.DECIDE)
    check_csrf(current, csrf)
    if decision not in ("approve", "deny"):
        raise Refused(400, "decision: approve or deny")
    if not reason.strip():
        raise Refused(400, "say why: a decision needs a reason")
    try:
        state(request).ops.decide(
            approval, decision == "approve", current.user, _signer(current.user), reason.strip()
        )
    except OpsError as exc:
        raise Refused(409, str(exc)) from None
    return RedirectResponse(f"{root(request)}/approvals", status_code=303)


@router.get("/deployments", name="deployments")
def deployments(request: Request) -> HTMLResponse:
    current = require(request, Permission.VIEW)
    return render(
        request, "deployments.html", current, deployments=state(request).ops.store.deployments()
    )


@router.post("/deployments/{name}/{change}")
def halt_or_resume(
    request: Request,
    name: str,
    change: str,
    reason: Reason,
    confirm: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    current = require(request, Permission.HALT)
    check_csrf(current, csrf)
    if change not in ("halt", "resume"):
        raise Refused(404, "no such action")
    if confirm != name:
        raise Refused(400, f"type the deployment's name ({name}) to confirm")
    if not reason.strip():
        raise Refused(400, "say why: a halt or resume needs a reason")
    ops, signer = state(request).ops, _signer(current.user)
    try:
        if change == "halt":
            ops.halt(name, reason.strip(), current.user, signer)
        else:
            ops.resume(name, reason.strip(), current.user, signer)
    except OpsError as exc:
        raise Refused(409, str(exc)) from None
    return RedirectResponse(f"{root(request)}/deployments", status_code=303)
