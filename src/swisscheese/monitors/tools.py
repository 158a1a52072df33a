"""The tool policy: which tools an agent may call, and with which arguments.

Per tool: an action (allow, escalate to a human, block), a JSON Schema for its arguments
(checked with ``jsonschema``), numeric bounds with units, path and URL allow-lists, and a
read-only SQL rule (parsed with ``sqlglot``). A tool that is not listed gets ``unknown``.
Everything is a pure function of the proposed call: no DNS lookups, no file system.

Findings (score 1.0) carry a category per reason, so a policy maps them to actions:
``tool.approval`` (escalate) and ``tool.denied.*`` (block): ``unlisted``, ``blocked``,
``malformed``, ``schema``, ``bound``, ``path``, ``url``, ``sql``. One YAML anchor gives both
rules the same config, so they share one instance.
"""

from __future__ import annotations

import ipaddress
import posixpath
from collections.abc import Iterator, Mapping
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from swisscheese.core import Content, Context, Finding, Stage, ToolCall
from swisscheese.monitors._registry import Inline, MonitorConfig, monitor

ToolAction = Literal["allow", "escalate", "block"]
R = TypeVar("R")

# Functions that read or write files, run commands, reach other servers or stall the server.
DENIED_SQL_FUNCTIONS = (
    "load_file", "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file",
    "lo_import", "lo_export", "dblink", "dblink_exec", "xp_cmdshell", "sys_exec", "sys_eval",
    "pg_sleep", "sleep", "benchmark", "waitfor", "utl_http.request", "load_extension",
)  # fmt: skip

CATEGORIES = ("tool.approval", "tool.denied")


class Bound(MonitorConfig):
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    """The unit the bound is in, e.g. EUR."""
    unit_argument: str | None = None
    """The argument that names the call's unit; it must equal ``unit`` (an amount in USD is
    not comparable with a bound in EUR)."""

    @model_validator(mode="after")
    def _unit_needs_argument(self) -> Bound:
        if (self.unit is None) != (self.unit_argument is None):
            raise ValueError("give unit and unit_argument together")
        return self


class PathRule(MonitorConfig):
    allow: tuple[str, ...] = Field(min_length=1)
    """Absolute directories the path must lie in."""

    @field_validator("allow")
    @classmethod
    def _absolute(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for prefix in value:
            if not prefix.startswith("/"):
                raise ValueError(f"{prefix!r} is not an absolute directory")
        return tuple(posixpath.normpath(p) for p in value)


class UrlRule(MonitorConfig):
    schemes: tuple[str, ...] = ("https",)
    hosts: tuple[str, ...] = ()
    """Allowed host names, exact or ``*.example.com`` (empty: any public host)."""
    private: bool = False
    """Allow loopback, private, link-local and reserved addresses (and ``localhost``)."""


class SqlRule(MonitorConfig):
    read_only: bool = True
    """One statement, a query: no DML, DDL, SELECT INTO or commands."""
    deny_functions: tuple[str, ...] = DENIED_SQL_FUNCTIONS
    dialect: str | None = None
    """A sqlglot dialect name (postgres, mysql, sqlite, ...); default: generic."""


class ToolSpec(MonitorConfig):
    action: ToolAction = "allow"
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    """A JSON Schema the arguments must satisfy."""
    bounds: dict[str, Bound] = Field(default_factory=dict)
    paths: dict[str, PathRule] = Field(default_factory=dict)
    urls: dict[str, UrlRule] = Field(default_factory=dict)
    sql: dict[str, SqlRule] = Field(default_factory=dict)

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            import jsonschema

            try:
                jsonschema.Draft202012Validator.check_schema(value)
            except jsonschema.SchemaError as exc:
                raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return value

    @field_validator("sql")
    @classmethod
    def _known_dialect(cls, value: dict[str, SqlRule]) -> dict[str, SqlRule]:
        from sqlglot.dialects.dialect import Dialect

        for rule in value.values():
            if rule.dialect is not None:
                try:
                    Dialect.get_or_raise(rule.dialect)
                except ValueError:
                    raise ValueError(f"unknown SQL dialect {rule.dialect!r}") from None
        return value


class ToolPolicyConfig(MonitorConfig):
    tools: dict[str, ToolSpec] = Field(default_factory=dict)
    """The tools the agent may call, by name."""
    unknown: ToolAction = "block"
    """What a call to a tool not listed gets."""


def _argument(arguments: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """The argument at a dotted path: (present, value)."""
    value: Any = arguments
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return False, None
        value = value[key]
    return True, value


def _present(arguments: Mapping[str, Any], rules: Mapping[str, R]) -> Iterator[tuple[str, R, Any]]:
    """(name, rule, value) for each ruled argument the call has."""
    for name, rule in rules.items():
        present, value = _argument(arguments, name)
        if present:
            yield name, rule, value


def check_path(value: Any, rule: PathRule) -> str | None:
    """Why a path argument is refused, or None."""
    if not isinstance(value, str) or not value:
        return "is not a path"
    if "\x00" in value:
        return "holds a NUL byte"
    if ".." in value.replace("\\", "/").split("/"):
        return "climbs with '..'"
    if not value.startswith("/"):
        return "is not absolute"
    normal = posixpath.normpath(value)
    if not any(normal == p or normal.startswith(p.rstrip("/") + "/") for p in rule.allow):
        return f"is outside {', '.join(rule.allow)}"
    return None


def check_url(value: Any, rule: UrlRule) -> str | None:
    """Why a URL argument is refused, or None."""
    if not isinstance(value, str):
        return "is not a URL"
    try:
        parts = urlsplit(value.strip())
        host = parts.hostname
    except ValueError:
        return "is not a URL"
    if parts.scheme.lower() not in rule.schemes:
        return f"has scheme {parts.scheme!r}, not one of {', '.join(rule.schemes)}"
    if not host:
        return "has no host"
    if rule.hosts and not any(
        host == h or (h.startswith("*.") and host.endswith(h[1:])) for h in rule.hosts
    ):
        return f"host {host!r} is not allowed"
    if not rule.private and _private_host(host):
        return f"host {host!r} is a private, loopback or reserved address"
    return None


def _private_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # integer and short forms that resolvers still accept: 2130706433, 127.1
            address = ipaddress.ip_address(_inet_aton_like(host))
        except ValueError:
            return False
    return not address.is_global


def _inet_aton_like(host: str) -> int:
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(p.isdigit() for p in parts):
        raise ValueError(host)
    numbers = [int(p) for p in parts]
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - i))
    return value


def check_sql(value: Any, rule: SqlRule) -> str | None:
    """Why a SQL argument is refused, or None."""
    import sqlglot
    from sqlglot import exp

    if not isinstance(value, str) or not value.strip():
        return "is not a SQL statement"
    try:
        statements = [s for s in sqlglot.parse(value, read=rule.dialect) if s is not None]
    except sqlglot.errors.SqlglotError:
        return "does not parse as SQL"
    if rule.read_only:
        if len(statements) != 1:
            return f"holds {len(statements)} statements, not one"
        (statement,) = statements
        if not isinstance(statement, exp.Query):
            return f"is a {statement.key.upper()} statement, not a query"
        writes = (
            exp.Into, exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter,
            exp.Command,
        )  # fmt: skip
        for node in statement.walk():
            if isinstance(node, writes):
                return f"writes ({node.key.upper()})"
        if "outfile" in value.lower() or "dumpfile" in value.lower():
            return "writes a file (INTO OUTFILE)"
    denied = {f.lower() for f in rule.deny_functions}
    for statement in statements:
        for function in statement.find_all(exp.Func):
            name = (
                function.name if isinstance(function, exp.Anonymous) else function.sql_name()
            ).lower()
            if name in denied:
                return f"calls {name}()"
    return None


class ToolPolicyMonitor(Inline):
    name = "tool-policy"
    stages = frozenset({Stage.TOOL_CALL})

    def __init__(self, config: ToolPolicyConfig) -> None:
        self.config = config
        self._validators: dict[str, Any] = {}
        for tool, spec in config.tools.items():
            if spec.schema_ is not None:
                import jsonschema

                self._validators[tool] = jsonschema.Draft202012Validator(spec.schema_)

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        call = content.tool_call
        if call is None:
            return []
        return [
            Finding(self.name, category, 1.0, (), {"tool": call.name, "reason": reason})
            for category, reason in self.problems(call)
        ]

    def problems(self, call: ToolCall) -> Iterator[tuple[str, str]]:
        """Every reason the call is refused or needs a human, as (category, reason)."""
        spec = self.config.tools.get(call.name)
        if spec is None:
            if self.config.unknown == "block":
                yield "tool.denied.unlisted", f"{call.name!r} is not an allowed tool"
            elif self.config.unknown == "escalate":
                yield "tool.approval", f"{call.name!r} is not listed: a human decides"
            return
        if spec.action == "block":
            yield "tool.denied.blocked", f"{call.name!r} is blocked"
        elif spec.action == "escalate":
            yield "tool.approval", f"{call.name!r} needs approval"
        arguments = call.arguments
        if set(arguments) & {"_raw", "_value"}:
            yield "tool.denied.malformed", "the arguments are not a JSON object"
            return
        validator = self._validators.get(call.name)
        if validator is not None:
            for error in validator.iter_errors(dict(arguments)):
                where = "/".join(str(p) for p in error.absolute_path) or "arguments"
                yield "tool.denied.schema", f"{where}: {error.message[:200]}"
        for name, bound in spec.bounds.items():
            reason = self._bound(arguments, name, bound)
            if reason:
                yield "tool.denied.bound", f"{name} {reason}"
        checks: list[tuple[str, str, str | None]] = [
            *(("path", n, check_path(v, r)) for n, r, v in _present(arguments, spec.paths)),
            *(("url", n, check_url(v, r)) for n, r, v in _present(arguments, spec.urls)),
            *(("sql", n, check_sql(v, r)) for n, r, v in _present(arguments, spec.sql)),
        ]
        for kind, name, reason in checks:
            if reason:
                yield f"tool.denied.{kind}", f"{name} {reason}"

    @staticmethod
    def _bound(arguments: Mapping[str, Any], name: str, bound: Bound) -> str | None:
        present, value = _argument(arguments, name)
        if not present:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            return "is not a number"
        if bound.unit is not None and bound.unit_argument is not None:
            _, unit = _argument(arguments, bound.unit_argument)
            if not isinstance(unit, str) or unit.strip().upper() != bound.unit.upper():
                return f"is in {unit!r}, not {bound.unit} (the bound's unit)"
        suffix = f" {bound.unit}" if bound.unit else ""
        if bound.max is not None and value > bound.max:
            return f"{value:g}{suffix} exceeds {bound.max:g}{suffix}"
        if bound.min is not None and value < bound.min:
            return f"{value:g}{suffix} is below {bound.min:g}{suffix}"
        return None


@monitor(
    "tool-policy",
    stages=[Stage.TOOL_CALL],
    categories=CATEGORIES,
    config=ToolPolicyConfig,
    description="Allowed tools and their arguments: schema, bounds, paths, URLs, read-only SQL",
)
def tool_policy_monitor(config: ToolPolicyConfig) -> ToolPolicyMonitor:
    return ToolPolicyMonitor(config)
