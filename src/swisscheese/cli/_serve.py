"""`serve`: the OpenAI-compatible gateway."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from swisscheese.cli._common import (
    AgentRootOption,
    DbOption,
    RequireAgentOption,
    err,
    fail,
    fail_issues,
)
from swisscheese.cli._console import (
    CaseOption,
    RegimesOption,
    SecureCookies,
    console_settings,
    gateway_with_console,
)
from swisscheese.cli._screen import PolicyOption


class DurabilityChoice(StrEnum):
    REQUEST = "request"
    STAGE = "stage"


def serve(
    upstream: Annotated[
        str | None,
        typer.Option(
            envvar="SWISSCHEESE_UPSTREAM",
            help="OpenAI-compatible base URL of the model, e.g. http://host:8080/v1; "
            "local:PATH for a local GGUF file or transformers directory; default: the "
            "embedded SmolLM2-135M-Instruct (extra [local]).",
        ),
    ] = None,
    policy: PolicyOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: DbOption = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="No API keys (only on a loopback address).")
    ] = False,
    rate: Annotated[float | None, typer.Option(help="Default requests/s per client key.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    durability: Annotated[
        DurabilityChoice,
        typer.Option(
            envvar="SWISSCHEESE_DURABILITY",
            help="request (default): a request's log entries are written together, one fsync, "
            "before its answer; stage: each stage's as soon as it is screened (two fsyncs; the "
            "input stays on record if the process dies during the model call). Both: nothing "
            "reaches the client before it is on disk, power loss included (SQLite "
            "synchronous=FULL, PostgreSQL commit).",
        ),
    ] = DurabilityChoice.REQUEST,
    agent_root: AgentRootOption = None,
    require_agent: RequireAgentOption = False,
    public_metrics: Annotated[
        bool,
        typer.Option(
            "--public-metrics",
            envvar="SWISSCHEESE_PUBLIC_METRICS",
            help="Serve /metrics and /openapi.json without a client key.",
        ),
    ] = False,
    console: Annotated[
        bool,
        typer.Option(
            "--console",
            envvar="SWISSCHEESE_CONSOLE",
            help="Also serve the operator console at /console (users: `swisscheese users add`).",
        ),
    ] = False,
    case: CaseOption = None,
    regimes: RegimesOption = None,
    secure_cookies: SecureCookies = None,
) -> None:
    """Run the OpenAI-compatible gateway: every request and answer passes the policy and is
    recorded."""
    import ipaddress
    import os
    import socket

    import uvicorn

    from swisscheese.config import PolicyError, Settings
    from swisscheese.gateway import GuardedHttpProtocol, LocalModelError
    from swisscheese.store import resolve_url

    if no_auth:
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            fail(f"--no-auth is only allowed on a loopback address, not {host}")
    if console:
        console_settings(case, regimes, secure_cookies)  # the files are checked before start
    url = resolve_url(db)
    # The options win over the environment; workers read the result back as settings.
    settings = Settings().model_copy(
        update={
            "upstream": upstream,
            "db": url,
            "no_auth": no_auth,
            "policy": policy,
            "rate": rate,
            "public_metrics": public_metrics,
            "agent_root": agent_root,
            "require_agent": require_agent,
            "durability": durability.value,
            "console": console,
            "console_case": case,
            "console_regimes": regimes,
            "console_secure_cookies": secure_cookies,
        }
    )
    try:
        app_, guard = gateway_with_console(settings)
    except PolicyError as exc:
        fail_issues(exc)
    except LocalModelError as exc:
        fail(f"cannot start the local model: {exc}")
    except ValueError as exc:
        fail(str(exc))
    except Exception as exc:
        fail(f"cannot start: {type(exc).__name__}: {exc}")
    # Bound before the banner: "on http://..." is then true, and a port in use is an error
    # with its reason rather than a log line after the banner.
    try:
        listener = socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    listener.set_inheritable(True)
    err.print(
        f"swisscheese gateway on http://{host}:{port}/v1 → {upstream or 'the embedded model'} "
        f"(policy {guard.policy_digest[:19]}…, auth {'off' if no_auth else 'on'}, "
        f"{workers} worker{'s' if workers > 1 else ''})"
        + (f"; console on http://{host}:{port}/console" if console else ""),
        highlight=False,
    )
    if workers == 1:
        uvicorn.run(app_, fd=listener.fileno(), log_level="warning", http=GuardedHttpProtocol)
        return
    # Each worker process builds its own app (and monitors) from the same settings; the one
    # built above checked them.
    for name in [n for n in os.environ if n.startswith("SWISSCHEESE_")]:
        del os.environ[name]
    os.environ.update(settings.worker_environment())
    uvicorn.run(
        "swisscheese.cli._console:console_app_from_settings"
        if console
        else "swisscheese.gateway:app_from_env",
        factory=True,
        fd=listener.fileno(),
        workers=workers,
        log_level="warning",
        http=GuardedHttpProtocol,
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
