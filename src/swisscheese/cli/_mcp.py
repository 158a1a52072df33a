"""`mcp-proxy` (swisscheese in front of an MCP server) and `mcp-pins` (its pinned tools)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from swisscheese.cli._common import (
    AgentRootOption,
    ByOption,
    DbOption,
    JsonOption,
    RequireAgentOption,
    err,
    fail,
    fail_issues,
    out,
)
from swisscheese.cli._screen import PolicyOption

DEFAULT_PINS = Path(".swisscheese/mcp-pins.json")
PinsOption = Annotated[
    Path,
    typer.Option(
        "--pins",
        help="Pinned tool definitions (JSON; default .swisscheese/mcp-pins.json).",
    ),
]

mcp_pins_app = typer.Typer(
    help="Pinned MCP tool definitions: list them; accept a changed one.", no_args_is_help=True
)


def mcp_proxy(
    command: Annotated[
        list[str] | None,
        typer.Argument(help="The MCP server to run over stdio, after --: -- COMMAND [ARGS]..."),
    ] = None,
    upstream_url: Annotated[
        str | None,
        typer.Option("--upstream-url", help="The MCP server's streamable-HTTP URL instead."),
    ] = None,
    policy: PolicyOption = None,
    db: DbOption = None,
    pins: PinsOption = DEFAULT_PINS,
    listen: Annotated[
        str | None,
        typer.Option(
            help="HOST:PORT: serve streamable HTTP at http://HOST:PORT/mcp (default: stdio)."
        ),
    ] = None,
    approval_timeout: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds an escalated call waits for a human (default 0: refused)."
        ),
    ] = 0.0,
    agent_root: AgentRootOption = None,
    require_agent: RequireAgentOption = False,
    agent_token: Annotated[
        str | None, typer.Option(help="Over stdio: the token of the agent this proxy serves.")
    ] = None,
    agent_instance: Annotated[str | None, typer.Option(help="Over stdio: its run.")] = None,
    agent_proof: Annotated[
        str | None, typer.Option(help="Over stdio: its proof of the run (`agents prove`).")
    ] = None,
) -> None:
    """Run swisscheese in front of an MCP server: tool definitions are screened and pinned,
    calls pass the tool_call layer (tool policy, flow rules), results the retrieved layer;
    everything is recorded."""
    import socket

    import anyio

    from swisscheese.agents.identity import AgentCredentials, TokenVerifier, public_from_hex
    from swisscheese.agents.mcp_proxy import (
        McpProxy,
        parse_upstream,
        serve_http,
        serve_stdio,
        upstream_name,
    )
    from swisscheese.agents.pins import PinError, ToolPins
    from swisscheese.config import PolicyError, load_policy
    from swisscheese.guard import Guard
    from swisscheese.ops import DeploymentWatch, Operations
    from swisscheese.recorder import Recorder
    from swisscheese.recorder.sealing import ContentRecord
    from swisscheese.store import AccessStore, Database, LogStore, resolve_url

    try:
        upstream = parse_upstream(upstream_url, command or [])
        tool_pins = ToolPins(pins)
        verifier = TokenVerifier(public_from_hex(agent_root)) if agent_root else None
    except (ValueError, PinError) as exc:
        fail(str(exc))
    credentials = None
    if agent_token is not None:
        credentials = AgentCredentials(agent_token, agent_instance or "", agent_proof or "")
    host, port = "", 0
    if listen is not None:
        host, _, port_text = listen.rpartition(":")
        if not host or not port_text.isdigit():
            fail(f"--listen takes HOST:PORT, not {listen!r}")
        port = int(port_text)
    try:
        database = Database(resolve_url(db))
        recorder = Recorder(LogStore(database), content=ContentRecord.from_settings())
        guard = Guard(load_policy(policy) if policy else None, recorder=recorder)
    except PolicyError as exc:
        fail_issues(exc)
    except Exception as exc:
        fail(f"cannot start: {type(exc).__name__}: {exc}")
    store = AccessStore(database)
    name = upstream_name(upstream)
    store.register_deployment(guard.deployment, guard.policy_digest, f"mcp:{name}")
    watch = DeploymentWatch(store, Operations(store, recorder), guard.deployment)
    try:
        proxy = McpProxy(
            guard,
            upstream,
            pins=tool_pins,
            watch=watch,
            approval_timeout=approval_timeout,
            agent_tokens=verifier,
            require_agent=require_agent,
            agent=credentials,
        )
    except ValueError as exc:
        fail(str(exc))
    where = "stdio"
    fd: int | None = None
    if listen is not None:
        try:
            listener = socket.create_server((host, port))
        except OSError as exc:
            fail(f"cannot listen on {listen}: {exc.strerror or exc}")
        fd = listener.fileno()
        where = f"http://{listen}/mcp"
    err.print(
        f"swisscheese MCP proxy on {where} → {name} "
        f"(deployment {guard.deployment}, policy {guard.policy_digest[:19]}…, pins {pins})",
        highlight=False,
    )
    try:
        if fd is None:
            anyio.run(serve_stdio, proxy)
        else:
            anyio.run(serve_http, proxy, host, port, fd)
    finally:
        guard.close()
        recorder.close()


@mcp_pins_app.command("list")
def pins_list(pins: PinsOption = DEFAULT_PINS, as_json: JsonOption = False) -> None:
    """Every pinned tool, by server, and the changed definitions waiting to be accepted."""
    from swisscheese.agents.pins import PinError, ToolPins

    if not pins.exists():
        fail(f"no pin file at {pins}")
    try:
        found = ToolPins(pins).pins()
    except PinError as exc:
        fail(str(exc))
    if as_json:
        rows = [
            {"server": p.server, "tool": p.tool, "digest": p.digest, "pending": p.pending}
            for p in found
        ]
        print(json.dumps(rows, indent=2))
        return
    for p in found:
        state = f"CHANGED → {p.pending[:23]}… (accept to pin)" if p.pending else "pinned"
        out.print(f"{p.server}  {p.tool}  {p.digest[:23]}…  {state}", highlight=False)


@mcp_pins_app.command("accept")
def pins_accept(
    server: Annotated[str, typer.Argument(help="The server, as `mcp-pins list` names it.")],
    tool: Annotated[str, typer.Argument(help="The tool whose new definition to pin.")],
    by: ByOption,
    pins: PinsOption = DEFAULT_PINS,
    db: DbOption = None,
) -> None:
    """Pin a changed tool definition (after reading it: `swisscheese log show`), recorded."""
    from swisscheese.agents.pins import PinError, ToolPins
    from swisscheese.cli._log import DEFAULT_ORIGIN, open_recorder
    from swisscheese.recorder.events import ToolDefinitionSeen

    if not pins.exists():
        fail(f"no pin file at {pins}")
    try:
        pin = ToolPins(pins).accept(server, tool)
    except PinError as exc:
        fail(str(exc))
    with open_recorder(db, None, DEFAULT_ORIGIN, create=True) as recorder:
        receipt = recorder.record(
            ToolDefinitionSeen(
                deployment="",
                server=server,
                tool=tool,
                digest=pin.digest,
                status="accepted",
                pinned=pin.pending,
                by=by,
            )
        )
    out.print(f"pinned {tool} ({pin.digest[:23]}…) from {server}; log entry {receipt.index}")


def register(app: typer.Typer) -> None:
    app.command("mcp-proxy", context_settings={"allow_interspersed_args": False})(mcp_proxy)
    app.add_typer(mcp_pins_app, name="mcp-pins")
