"""An MCP proxy: swisscheese between an agent and any MCP server (the official ``mcp`` SDK).

To the agent it is an MCP server (stdio or streamable HTTP); to the real server, a client.

- ``tools/list``: each tool's definition (name, description, schemas, annotations) passes the
  ``retrieved`` layer, where instructions hidden in a description are looked for (tool
  poisoning); a definition is pinned by digest when first seen, and one that changes later (a
  rug pull) is withheld until an operator accepts it (``swisscheese mcp pins accept``). A
  withheld tool is not offered and cannot be called.
- ``tools/call``: the call passes the ``tool_call`` layer with the session's trace (every call
  and result through this proxy), so the tool policy and the flow rules apply; an escalated
  call waits for a human (``approval_timeout``); the result passes the ``retrieved`` layer
  before the agent sees it: text blocks, embedded text resources and structured content are
  screened, anything no monitor can read (images, audio, blobs, links) is withheld.
- Resources, prompts and completions are not offered: what the proxy does not screen does not
  pass. A halted deployment offers no tools and refuses every call.

Every verdict is recorded by the guard's recorder; pins and changes as ``mcp_tool`` events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp import Client, StdioServerParameters
from mcp.server.lowlevel import Server

from swisscheese.agents.identity import (
    AgentCredentials,
    CapabilityError,
    Grant,
    TokenVerifier,
)
from swisscheese.agents.pins import ToolPins, definition_digest
from swisscheese.core import Action, Content, Stage, ToolCall, Verdict, json_text
from swisscheese.core.acting import ACTING_AGENT
from swisscheese.guard import Guard, approval_excerpt, approval_summary
from swisscheese.ops import DeploymentWatch
from swisscheese.recorder.events import CapabilityDenied, ToolDefinitionSeen

Upstream = StdioServerParameters | str

TRACE_LIMIT = 2000  # steps kept per session (the flow rules refuse longer traces anyway)
MAX_TRACES = 1024  # agent sessions followed at once; the oldest is forgotten first


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the proxy did not pass a call on, as the agent sees it."""

    reason: str

    def result(self) -> types.CallToolResult:
        text = f"swisscheese refused this call: {self.reason}"
        return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def upstream_name(upstream: Upstream) -> str:
    """How a server is named in pins and records: its URL, or its command line."""
    if isinstance(upstream, str):
        return upstream
    return " ".join([upstream.command, *upstream.args])


def _definition(tool: types.Tool) -> dict[str, Any]:
    return tool.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"meta"})


class McpProxy:
    def __init__(
        self,
        guard: Guard,
        upstream: Upstream,
        *,
        pins: ToolPins | None = None,
        watch: DeploymentWatch | None = None,
        approval_timeout: float = 0.0,
        name: str | None = None,
        agent_tokens: TokenVerifier | None = None,
        require_agent: bool = False,
        agent: AgentCredentials | None = None,
    ) -> None:
        """``agent_tokens``: accept agent tokens of this root; ``agent``: the credentials of
        the one agent a stdio proxy serves (HTTP clients send them as headers instead)."""
        if require_agent and agent_tokens is None:
            raise ValueError("requiring agent tokens needs the root that issues them")
        self.agent_tokens = agent_tokens
        self.require_agent = require_agent
        self.agent = agent
        self.guard = guard
        self.upstream = upstream
        self.name = name or upstream_name(upstream)
        self.pins = pins
        self.watch = watch
        self.approval_timeout = approval_timeout
        self.client: Client | None = None
        self._offered: dict[str, types.Tool] = {}
        self._traces: dict[str, list[Content]] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    @asynccontextmanager
    async def connected(self) -> AsyncIterator[McpProxy]:
        """Connect to the real server for as long as the block runs."""
        if self.watch is not None:
            self.watch.start()
        try:
            async with Client(self.upstream, cache=None) as client:
                self.client = client
                try:
                    yield self
                finally:
                    self.client = None
        finally:
            if self.watch is not None:
                self.watch.stop()

    def server(self) -> Server[Any]:
        """The MCP server the agent talks to (serve it over stdio or streamable HTTP)."""
        return Server(
            "swisscheese-mcp-proxy",
            instructions=None,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    # -- tools/list ---------------------------------------------------------------------------

    async def _list_tools(
        self, ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        if self.watch is not None and await self.watch.halted():
            return types.ListToolsResult(tools=[])
        return types.ListToolsResult(tools=await self.refresh())

    async def refresh(self) -> list[types.Tool]:
        """List the real server's tools and offer those that pass; returns them."""
        assert self.client is not None, "use `async with proxy.connected()`"
        tools: list[types.Tool] = []
        cursor: str | None = None
        while True:
            page = (
                await self.client.list_tools(cursor=cursor)
                if cursor
                else (await self.client.list_tools())
            )
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        offered: dict[str, types.Tool] = {}
        for tool in tools:
            if await self._offers(tool):
                offered[tool.name] = tool
        self._offered = offered
        return list(offered.values())

    async def _offers(self, tool: types.Tool) -> bool:
        """Whether a tool is offered: its definition passes the retrieved layer and is the one
        pinned (the first definition that passed is pinned)."""
        definition = _definition(tool)
        text = json_text(definition)
        content = Content(text, "system", Stage.RETRIEVED, f"mcp:{self.name}/{tool.name}")
        verdict = await self.guard.check(Stage.RETRIEVED, content)
        if verdict.action.stops or verdict.modified is not None:
            return False
        if self.pins is not None:
            digest = definition_digest(definition)
            status, pinned = self.pins.check(self.name, tool.name, digest)
            if status != "same":
                await self._record_definition(tool.name, digest, status, pinned, definition)
            return status != "changed"
        return True

    async def _record_definition(
        self, tool: str, digest: str, status: str, pinned: str | None, definition: Any
    ) -> None:
        recorder = self.guard.recorder
        if recorder is None:
            return
        event = ToolDefinitionSeen(
            deployment=self.guard.deployment,
            server=self.name,
            tool=tool,
            digest=digest,
            status="pinned" if status == "new" else "changed",
            pinned=pinned,
        )
        await recorder.arecord(event, {"definition": definition})

    # -- tools/call ---------------------------------------------------------------------------

    def _trace(self, ctx: Any) -> list[Content]:
        """The trace of the agent run a request belongs to: its HTTP session when the client
        keeps one, else one trace for the whole proxy (over stdio, one agent). Runs that share
        a trace only see more taint, never less."""
        request = getattr(ctx, "request", None)
        headers = getattr(request, "headers", None)
        key = (headers.get("mcp-session-id") if headers is not None else None) or ""
        trace = self._traces.get(key)
        if trace is None:
            trace = self._traces[key] = []
            while len(self._traces) > MAX_TRACES:
                self._traces.pop(next(iter(self._traces)))
        return trace

    async def _call_tool(
        self, ctx: Any, params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        call = ToolCall(params.name, params.arguments or {})
        grant: Grant | None = None
        try:
            grant, token = self._grant(ctx)
            if grant is not None and self.agent_tokens is not None:
                self.agent_tokens.authorize(token, grant, call)
        except CapabilityError as exc:
            await self._record_denial(grant.label() if grant else None, call.name, str(exc))
            return Refusal(str(exc)).result()
        reset = ACTING_AGENT.set(grant.label() if grant else None)
        try:
            return await self.call(params.name, params.arguments or {}, self._trace(ctx))
        finally:
            ACTING_AGENT.reset(reset)

    def _grant(self, ctx: Any) -> tuple[Grant | None, str]:
        """The agent run a request acts for (its token verified), and the token."""
        headers = getattr(getattr(ctx, "request", None), "headers", None)
        credentials = AgentCredentials.from_headers(headers) or self.agent
        if credentials is None:
            if self.require_agent:
                raise CapabilityError("this proxy serves agents only: no agent token")
            return None, ""
        if self.agent_tokens is None:
            raise CapabilityError("this proxy accepts no agent tokens")
        grant = self.agent_tokens.verify(credentials.token, credentials.instance, credentials.proof)
        return grant, credentials.token

    async def _record_denial(self, agent: str | None, tool: str | None, reason: str) -> None:
        if self.guard.recorder is not None:
            denied = CapabilityDenied(
                deployment=self.guard.deployment, agent=agent, tool=tool, reason=reason
            )
            await self.guard.recorder.arecord(denied)

    async def call(
        self, name: str, arguments: dict[str, Any], trace: list[Content]
    ) -> types.CallToolResult:
        """Screen a call, run it on the real server if it passes, screen what it returns."""
        assert self.client is not None, "use `async with proxy.connected()`"
        if self.watch is not None:
            halted = await self.watch.halted()
            if halted is not None:
                return Refusal(f"the deployment is halted ({halted})").result()
        call = ToolCall(name, arguments)
        verdict = await self.guard.check_call(call, tuple(trace))
        refusal = await self._decide(verdict, call, trace)
        if refusal is not None:
            return refusal.result()
        if name not in self._offered:
            await self.refresh()
            if name not in self._offered:
                return Refusal(f"{name!r} is not a tool this proxy offers").result()
        if verdict.modified is not None:
            arguments = _modified_arguments(verdict.modified, arguments)
        result = await self.client.call_tool(name, arguments)
        if not isinstance(result, types.CallToolResult):
            return Refusal("the server's answer is not a tool result").result()
        trace.append(Content("", "assistant", Stage.TOOL_CALL, name, ToolCall(name, arguments)))
        screened, shown = await self._screen_result(name, result)
        trace.append(Content(shown, "tool", Stage.RETRIEVED, name))
        del trace[:-TRACE_LIMIT]
        return screened

    async def _decide(
        self, verdict: Verdict, call: ToolCall, trace: Sequence[Content]
    ) -> Refusal | None:
        if verdict.action is Action.HALT and self.watch is not None:
            await self.watch.halt(f"HALT verdict {verdict.id} at tool_call", "policy")
            return Refusal("the policy halted the deployment")
        if verdict.action is Action.ESCALATE:
            if self.watch is None or self.approval_timeout <= 0:
                return Refusal("approval required")
            approved, _ = await self.watch.ask(
                "tool_call",
                verdict.id,
                approval_summary(verdict),
                approval_excerpt(verdict, Content("", tool_call=call, trace=tuple(trace))),
                self.approval_timeout,
            )
            return None if approved else Refusal("approval required (not approved in time)")
        if verdict.action.stops:
            return Refusal(f"blocked by the policy at {verdict.stage.value}")
        return None

    async def _screen_result(
        self, tool: str, result: types.CallToolResult
    ) -> tuple[types.CallToolResult, str]:
        """The result as the agent may see it, and its text (what the trace keeps)."""
        texts: list[str] = []
        blocks: list[types.ContentBlock] = []
        for block in result.content:
            if isinstance(block, types.TextContent):
                texts.append(block.text)
            elif isinstance(block, types.EmbeddedResource) and isinstance(
                block.resource, types.TextResourceContents
            ):
                texts.append(block.resource.text)
        verdicts = await self.guard.check_many(
            Stage.RETRIEVED, [Content(t, "tool", Stage.RETRIEVED, tool) for t in texts]
        )
        by_text = iter(verdicts)
        for block in result.content:
            if isinstance(block, types.TextContent):
                blocks.append(types.TextContent(text=_shown(next(by_text), block.text)))
            elif isinstance(block, types.EmbeddedResource) and isinstance(
                block.resource, types.TextResourceContents
            ):
                text = _shown(next(by_text), block.resource.text)
                resource = block.resource.model_copy(update={"text": text})
                blocks.append(types.EmbeddedResource(resource=resource))
            else:
                kind = getattr(block, "type", "content")
                blocks.append(types.TextContent(text=f"[{kind} withheld: no monitor reads it]"))
        structured = result.structured_content
        if structured is not None:
            content = Content(json_text(structured), "tool", Stage.RETRIEVED, tool)
            seen = await self.guard.check(Stage.RETRIEVED, content)
            if seen.action.stops or seen.modified is not None:
                structured = None
        shown = types.CallToolResult(
            content=blocks, structured_content=structured, is_error=result.is_error
        )
        return shown, "\n".join(texts)


WITHHELD = "[withheld by the retrieved-content policy]"


def _shown(verdict: Verdict, text: str) -> str:
    if verdict.action.stops:
        return WITHHELD
    return verdict.modified if verdict.modified is not None else text


def _modified_arguments(modified: str, original: dict[str, Any]) -> dict[str, Any]:
    """The redacted arguments of a call a rule modified (its text is the call's JSON)."""
    import json

    try:
        value = json.loads(modified)
        arguments = value["arguments"]
    except (ValueError, KeyError, TypeError):
        return original
    return arguments if isinstance(arguments, dict) else original


# -- serving ----------------------------------------------------------------------------------


async def serve_stdio(proxy: McpProxy) -> None:
    """Serve the proxy over this process's stdin and stdout until the agent closes them."""
    from mcp.server.stdio import stdio_server

    server = proxy.server()
    async with proxy.connected(), stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def serve_http(proxy: McpProxy, host: str, port: int, fd: int | None = None) -> None:
    """Serve the proxy over streamable HTTP at ``http://HOST:PORT/mcp``."""
    import uvicorn

    app = proxy.server().streamable_http_app(host=host)
    config = uvicorn.Config(app, host=host, port=port, fd=fd, log_level="warning")
    async with proxy.connected():
        await uvicorn.Server(config).serve()


def parse_upstream(url: str | None, command: Sequence[str]) -> Upstream:
    """The real server: a streamable-HTTP URL, or a command line run over stdio."""
    if url and command:
        raise ValueError("give the upstream server as a URL or a command, not both")
    if url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the upstream must be an http(s) URL, not {url!r}")
        return url
    if not command:
        raise ValueError("give the upstream server: --upstream-url URL, or -- COMMAND [ARGS]")
    return StdioServerParameters(command=command[0], args=list(command[1:]))
