"""The console as an ASGI app: mounted at ``/console`` in the gateway (``serve --console``) or
served alone (``swisscheese console``)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from swisscheese.console import _actions, _datasets, _governance, _signin, _traffic
from swisscheese.console._web import (
    HERE,
    ConsoleSettings,
    ConsoleState,
    NeedSignIn,
    Refused,
    SecurityHeaders,
    on_refused,
    on_sign_in_needed,
    root,
)
from swisscheese.console.users import ConsoleUsers
from swisscheese.ops import Operations
from swisscheese.recorder import Recorder
from swisscheese.store import AccessStore, UserStore

MOUNT = "/console"


def create_console(recorder: Recorder, settings: ConsoleSettings | None = None) -> FastAPI:
    """The console over ``recorder``'s store (users, sessions, approvals and deployments live
    in the same database as the log); every sign-in and action is recorded there."""
    db = recorder.store.db
    app = FastAPI(title="swisscheese console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.console = ConsoleState(
        users=ConsoleUsers(UserStore(db), recorder),
        log=recorder.store,
        ops=Operations(AccessStore(db), recorder),
        recorder=recorder,
        settings=settings or ConsoleSettings(),
    )
    app.add_exception_handler(NeedSignIn, on_sign_in_needed)
    app.add_exception_handler(Refused, on_refused)
    for module in (_signin, _traffic, _actions, _governance, _datasets):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        return RedirectResponse(f"{root(request)}/traffic", status_code=303)

    app.add_middleware(SecurityHeaders)
    return app


def mount_console(parent: FastAPI, console: FastAPI) -> None:
    """Serve ``console`` at ``/console`` of ``parent`` (the gateway's routes stay as they are)."""
    parent.mount(MOUNT, console)


def standalone(recorder: Recorder, settings: ConsoleSettings | None = None) -> FastAPI:
    """The console alone: ``/console`` plus a redirect from ``/``."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse(f"{MOUNT}/traffic", status_code=303)

    mount_console(app, create_console(recorder, settings))
    return app
