"""`swisscheese agents`: agent identities and their capability tokens (each issue recorded)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from swisscheese.cli._common import ByOption, DbOption, err, fail, operations

if TYPE_CHECKING:
    from biscuit_auth import KeyPair

agents_app = typer.Typer(
    help="Agent identities (Ed25519) and attenuable capability tokens (Biscuit).",
    no_args_is_help=True,
)
ROOT_KEY = Path(".swisscheese/agents-root.key")
AGENT_KEYS = Path(".swisscheese/agents")
RootOption = Annotated[
    Path, typer.Option("--root", help="The root key that issues tokens (keep it secret).")
]
ToolOption = Annotated[
    list[str] | None, typer.Option("--tool", help="A tool the token allows (repeat).")
]
BoundOption = Annotated[
    list[str] | None,
    typer.Option("--bound", help="TOOL.ARGUMENT=NUMBER: the largest value allowed (repeat)."),
]


def _root(path: Path) -> KeyPair:
    from swisscheese.agents.identity import CapabilityError, root_from_text

    try:
        return root_from_text(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"no root key at {path}; create it with `swisscheese agents init-root`")
    except CapabilityError as exc:
        fail(f"{path}: {exc}")


@agents_app.command("init-root")
def init_root(
    root: RootOption = ROOT_KEY,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key.")] = False,
) -> None:
    """Create the key that issues agent tokens; print its public half (give it to `serve
    --agent-root` and `mcp-proxy --agent-root`)."""
    from swisscheese.agents.identity import new_root, public_hex, root_to_text
    from swisscheese.recorder.sealing import write_private

    key = new_root()
    try:
        write_private(root, root_to_text(key), force=force)
    except FileExistsError:
        fail(f"{root} exists; refusing to replace the root key (--force replaces it)")
    err.print(f"wrote {root} (keep it secret); public key:", highlight=False)
    print(public_hex(key))


@agents_app.command("register")
def register(
    name: Annotated[str, typer.Argument(help="The agent's name.")],
    by: ByOption = "operator",
    key: Annotated[
        Path | None, typer.Option(help="Where to write its key (default .swisscheese/agents/).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create an agent's Ed25519 identity (its key file goes to the agent) and record it."""
    from swisscheese.agents.identity import AgentKey, CapabilityError
    from swisscheese.recorder.events import AgentRegistered
    from swisscheese.recorder.sealing import write_private

    try:
        agent = AgentKey.generate(name)
    except CapabilityError as exc:
        fail(str(exc))
    path = key or AGENT_KEYS / f"{name}.key"
    try:
        write_private(path, agent.encode(), force=False)
    except FileExistsError:
        fail(f"{path} exists; an agent keeps its identity")
    with operations(db, create=True) as ops:
        assert ops.recorder is not None
        receipt = ops.recorder.record(AgentRegistered(name=name, key=agent.public_hex, by=by))
    err.print(f"wrote {path}; identity recorded as entry {receipt.index}:", highlight=False)
    print(agent.public_hex)


@agents_app.command("token")
def token(
    name: Annotated[str, typer.Argument(help="A registered agent.")],
    key: Annotated[str, typer.Option(help="The agent's public key (hex, from `register`).")],
    tool: ToolOption = None,
    bound: BoundOption = None,
    ttl: Annotated[int, typer.Option(min=1, help="Seconds until it expires.")] = 3600,
    by: ByOption = "operator",
    root: RootOption = ROOT_KEY,
    db: DbOption = None,
) -> None:
    """Issue a capability token: these tools, these bounds, until then. Printed once; only
    its revocation id is recorded."""
    from swisscheese.agents.identity import Capabilities, CapabilityError, issue, parse_bounds
    from swisscheese.recorder.events import TokenIssued

    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl)
    try:
        bounds = parse_bounds(bound or [])
        caps = Capabilities(tools=tuple(tool or ()), bounds=bounds, expires=expires)
        issued = issue(_root(root), name, key, caps)
    except CapabilityError as exc:
        fail(str(exc))
    import biscuit_auth

    token_id = str(biscuit_auth.UnverifiedBiscuit.from_base64(issued).revocation_ids[0])
    with operations(db, create=True) as ops:
        assert ops.recorder is not None
        ops.recorder.record(
            TokenIssued(
                agent=name,
                token=token_id,
                tools=sorted(caps.tools),
                bounds=bounds,
                expires=expires.isoformat(),
                by=by,
            )
        )
    print(issued)


@agents_app.command("attenuate")
def attenuate_token(
    token: Annotated[str, typer.Argument(help="The token to narrow.")],
    root_public: Annotated[str, typer.Option("--root-public", help="The root's public key.")],
    tool: ToolOption = None,
    bound: BoundOption = None,
    ttl: Annotated[int | None, typer.Option(min=1, help="Expire within seconds.")] = None,
    instance: Annotated[str | None, typer.Option(help="Only this run may use it.")] = None,
) -> None:
    """Narrow a token (fewer tools, lower bounds, sooner expiry, one run): needs no secret."""
    from swisscheese.agents.identity import (
        Capabilities,
        CapabilityError,
        attenuate,
        parse_bounds,
        public_from_hex,
    )

    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl) if ttl else None
    try:
        caps = Capabilities(tuple(tool or ()), parse_bounds(bound or []), expires, instance)
        print(attenuate(token, public_from_hex(root_public), caps))
    except CapabilityError as exc:
        fail(str(exc))


@agents_app.command("prove")
def prove(
    instance: Annotated[str, typer.Argument(help="The run's instance id.")],
    key: Annotated[Path, typer.Option(help="The agent's key file.")],
) -> None:
    """The agent's proof that it runs INSTANCE (send it as x-swisscheese-agent-proof)."""
    from swisscheese.agents.identity import AgentKey, CapabilityError

    try:
        print(AgentKey.parse(key.read_text(encoding="utf-8")).prove_instance(instance))
    except (OSError, CapabilityError) as exc:
        fail(f"{key}: {exc}")
