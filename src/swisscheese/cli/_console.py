"""`console` (the operator web console) and `users` (who may sign in to it)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swisscheese.cli._common import ByOption, DbOption, JsonOption, err, fail, operations

if TYPE_CHECKING:
    from fastapi import FastAPI

    from swisscheese.config import Settings
    from swisscheese.console import ConsoleSettings
    from swisscheese.console.users import ConsoleUsers
    from swisscheese.guard import Guard
    from swisscheese.ops import Operations

users_app = typer.Typer(
    help="Console users: local accounts with a role (viewer, approver, admin).",
    no_args_is_help=True,
)

RoleOption = Annotated[
    str, typer.Option("--role", help="viewer (reads), approver (+ decides), admin (+ halts).")
]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from standard input's first line."),
]
CaseOption = Annotated[
    Path | None,
    typer.Option(
        "--case", envvar="SWISSCHEESE_CONSOLE_CASE", help="The safety case the console shows."
    ),
]
RegimesOption = Annotated[
    Path | None,
    typer.Option(
        "--regimes",
        envvar="SWISSCHEESE_CONSOLE_REGIMES",
        help="Reporting regimes for incident deadlines.",
    ),
]
SecureCookies = Annotated[
    bool | None,
    typer.Option(
        "--secure-cookies/--no-secure-cookies",
        envvar="SWISSCHEESE_CONSOLE_SECURE_COOKIES",
        help="Mark session cookies Secure (default: when the request came over TLS; set it "
        "behind a TLS-terminating proxy).",
    ),
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True, err=True))


@contextmanager
def _users(db: str | None, *, create: bool = False) -> Iterator[tuple[ConsoleUsers, Operations]]:
    from swisscheese.console.users import ConsoleUsers
    from swisscheese.store import UserStore

    with operations(db, create=create) as ops:
        yield ConsoleUsers(UserStore(ops.store.db), ops.recorder), ops


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="The user's sign-in name.")],
    role: RoleOption = "viewer",
    password_stdin: PasswordStdin = False,
    operator_key: Annotated[
        bool,
        typer.Option(
            "--operator-key/--no-operator-key",
            help="Create the user's operator key (.swisscheese/operators/NAME.key) if there is "
            "none: approvers and admins sign their decisions with it.",
        ),
    ] = True,
    by: ByOption = "operator",
    db: DbOption = None,
) -> None:
    """Add a console user (the password is hashed with scrypt; the change is recorded)."""
    from swisscheese.cli._keys import create_operator_key
    from swisscheese.console.users import UserError
    from swisscheese.recorder.decisions import operator_key_path

    password = _password(password_stdin)
    with _users(db, create=True) as (users, ops):
        try:
            user = users.add(name, role, password, by)
        except (UserError, ValueError) as exc:
            fail(str(exc))
        path = operator_key_path(name)
        if operator_key and user.role != "viewer" and not path.exists():
            create_operator_key(ops, name, path)
            err.print(f"wrote {path}: {name}'s operator key", highlight=False)
    err.print(f"added {name} ({user.role})", highlight=False)


@users_app.command("list")
def users_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Every active user with their role and lock-out state."""
    import json

    with _users(db) as (users, _):
        found = users.store.users()
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "name": u.name,
                        "role": u.role,
                        "locked_until": u.locked_until.isoformat() if u.locked_until else None,
                    }
                    for u in found
                ]
            )
        )
        return
    if not found:
        err.print("no console users: add one with `swisscheese users add NAME --role admin`")
    for u in found:
        locked = f"  locked until {u.locked_until:%Y-%m-%d %H:%M}" if u.locked_until else ""
        print(f"{u.name:20} {u.role:9}{locked}")


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument()], by: ByOption = "operator", db: DbOption = None
) -> None:
    """Remove a user: their sessions end at once."""
    from swisscheese.console.users import UserError

    with _users(db) as (users, _):
        try:
            users.remove(name, by)
        except UserError as exc:
            fail(str(exc))
    err.print(f"removed {name}", highlight=False)


@users_app.command("set-role")
def users_set_role(
    name: Annotated[str, typer.Argument()],
    role: RoleOption,
    by: ByOption = "operator",
    db: DbOption = None,
) -> None:
    """Give a user another role (their sessions end; it applies from the next sign-in)."""
    from swisscheese.console.users import UserError

    with _users(db) as (users, _):
        try:
            users.set_role(name, role, by)
        except UserError as exc:
            fail(str(exc))
    err.print(f"{name} is now {role}", highlight=False)


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument()],
    password_stdin: PasswordStdin = False,
    by: ByOption = "operator",
    db: DbOption = None,
) -> None:
    """Set a user's password (clears a lock-out; their sessions end)."""
    from swisscheese.console.users import UserError

    password = _password(password_stdin)
    with _users(db) as (users, _):
        try:
            users.set_password(name, password, by)
        except (UserError, ValueError) as exc:
            fail(str(exc))
    err.print(f"new password set for {name}", highlight=False)


def console_settings(
    case: Path | None, regimes: Path | None, secure_cookies: bool | None
) -> ConsoleSettings:
    from swisscheese.console import ConsoleSettings

    for path in (case, regimes):
        if path is not None and not path.is_file():
            fail(f"{path}: no such file")
    return ConsoleSettings(case=case, regimes=regimes, secure_cookies=secure_cookies)


def gateway_with_console(settings: Settings) -> tuple[FastAPI, Guard]:
    """The gateway the settings describe, with the console mounted when they ask for it."""
    from swisscheese.console import ConsoleSettings, create_console, mount_console
    from swisscheese.gateway import build_from_settings

    app, guard = build_from_settings(settings)
    if settings.console:
        assert guard.recorder is not None  # build_app always records
        chosen = ConsoleSettings(
            case=settings.console_case,
            regimes=settings.console_regimes,
            secure_cookies=settings.console_secure_cookies,
        )
        mount_console(app, create_console(guard.recorder, chosen))
    return app, guard


def console_app_from_settings() -> FastAPI:
    """A worker process's gateway and console, from the settings ``serve`` passed on."""
    from swisscheese.config import Settings

    return gateway_with_console(Settings())[0]


def console(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
    case: CaseOption = None,
    regimes: RegimesOption = None,
    secure_cookies: SecureCookies = None,
    db: DbOption = None,
) -> None:
    """Run the operator console alone (it reads and acts on the same store as the gateways;
    `serve --console` serves it from the gateway process instead)."""
    import uvicorn

    from swisscheese.cli._log import DEFAULT_ORIGIN, open_recorder
    from swisscheese.console import standalone

    settings = console_settings(case, regimes, secure_cookies)
    recorder = open_recorder(db, None, DEFAULT_ORIGIN, create=True)
    app = standalone(recorder, settings)
    err.print(f"swisscheese console on http://{host}:{port}/console", highlight=False)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        recorder.close()


def register(app: typer.Typer) -> None:
    app.command("console")(console)
    app.add_typer(users_app, name="users")
