"""The tool policy: which tools, with which arguments. Each check is a pure function of the
proposed call; through the policy file its errors name file, line and key."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swisscheese import Guard
from swisscheese.config import PolicyError, parse_policy
from swisscheese.core import Action, Content, Stage, ToolCall
from swisscheese.monitors.tools import (
    PathRule,
    SqlRule,
    ToolPolicyConfig,
    ToolPolicyMonitor,
    UrlRule,
    check_path,
    check_sql,
    check_url,
)

CONFIG: dict[str, Any] = {
    "unknown": "block",
    "tools": {
        "transfer": {
            "action": "escalate",
            "schema": {
                "type": "object",
                "required": ["amount", "currency", "to"],
                "properties": {"amount": {"type": "number"}, "to": {"type": "string"}},
            },
            "bounds": {"amount": {"max": 500, "unit": "EUR", "unit_argument": "currency"}},
        },
        "order": {"bounds": {"quantity": {"min": 1, "max": 10}}},
        "read_file": {"paths": {"path": {"allow": ["/srv/data"]}}},
        "fetch": {"urls": {"url": {"schemes": ["https"], "hosts": ["*.example.com"]}}},
        "browse": {"urls": {"url": {}}},
        "query": {"sql": {"sql": {"dialect": "postgres"}}},
        "shutdown": {"action": "block"},
    },
}
MONITOR = ToolPolicyMonitor(ToolPolicyConfig.model_validate(CONFIG))


def problems(name: str, **arguments: Any) -> list[tuple[str, str]]:
    return list(MONITOR.problems(ToolCall(name, arguments)))


def categories(name: str, **arguments: Any) -> set[str]:
    return {c for c, _ in problems(name, **arguments)}


def test_only_listed_tools_pass_and_each_tool_has_its_action() -> None:
    assert problems("order", quantity=2) == []
    assert categories("rm_rf") == {"tool.denied.unlisted"}
    assert categories("shutdown") == {"tool.denied.blocked"}
    assert categories("transfer", amount=20, currency="EUR", to="alice") == {"tool.approval"}


def test_schema_bounds_and_units() -> None:
    assert "tool.denied.schema" in categories("transfer", amount="20", currency="EUR", to="x")
    assert ("tool.denied.bound", "amount 900 EUR exceeds 500 EUR") in problems(
        "transfer", amount=900, currency="EUR", to="x"
    )
    # An amount in another currency is not comparable with a bound in euros.
    assert ("tool.denied.bound", "amount is in 'USD', not EUR (the bound's unit)") in problems(
        "transfer", amount=20, currency="USD", to="x"
    )
    assert categories("order", quantity=11) == {"tool.denied.bound"}
    assert categories("order", quantity=0) == {"tool.denied.bound"}
    assert categories("order", quantity=True) == {"tool.denied.bound"}  # a bool is not a number


def test_arguments_that_are_not_a_json_object_are_malformed() -> None:
    assert categories("order", _raw="{quantity: 2") == {"tool.denied.malformed"}


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/srv/data/report.csv", True),
        ("/srv/data", True),
        ("/srv/data/../../etc/shadow", False),
        ("/srv/database/x", False),  # a prefix of the name is not the directory
        ("srv/data/x", False),
        ("/etc/passwd", False),
        ("/srv/data/x\x00.txt", False),
        ("/srv/data/..\\..\\etc", False),
        (5, False),
    ],
)
def test_paths(path: Any, allowed: bool) -> None:
    assert (check_path(path, PathRule(allow=("/srv/data",))) is None) == allowed


@given(st.lists(st.sampled_from(["a", "b", "..", ".", "", "srv", "data"]), max_size=8))
def test_no_path_the_rule_accepts_leaves_its_directory(parts: list[str]) -> None:
    import posixpath

    path = "/srv/data/" + "/".join(parts)
    if check_path(path, PathRule(allow=("/srv/data",))) is None:
        resolved = posixpath.normpath(path)
        assert resolved == "/srv/data" or resolved.startswith("/srv/data/")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.example.com/v1", True),
        ("http://api.example.com/v1", False),
        ("https://example.com.evil.net/", False),
        ("https://evil.net/?x=api.example.com", False),
        ("https://user@evil.net/", False),
        ("javascript:alert(1)", False),
    ],
)
def test_urls_against_an_allow_list(url: str, allowed: bool) -> None:
    rule = UrlRule(schemes=("https",), hosts=("*.example.com",))
    assert (check_url(url, rule) is None) == allowed


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://10.0.0.5/admin",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/",
        "https://localhost:8080/",
        "https://2130706433/",  # 127.0.0.1 as one integer
        "https://127.1/",
        "https://192.168.1.1/",
    ],
)
def test_private_addresses_are_refused_without_a_host_list(url: str) -> None:
    assert "private" in str(check_url(url, UrlRule()))
    assert check_url(url, UrlRule(private=True)) is None


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT name FROM users WHERE id = 1", None),
        ("WITH t AS (SELECT 1 AS x) SELECT x FROM t UNION SELECT 2", None),
        ("DELETE FROM users", "is a DELETE statement, not a query"),
        ("SELECT 1; DROP TABLE users", "holds 2 statements, not one"),
        ("UPDATE users SET admin = true", "is a UPDATE statement, not a query"),
        ("CREATE TABLE x (a int)", "is a CREATE statement, not a query"),
        ("SELECT * INTO backup FROM users", "writes (INTO)"),
        ("SELECT pg_read_file('/etc/passwd')", "calls pg_read_file()"),
        ("SELECT pg_sleep(10)", "calls pg_sleep()"),
        ("SELECT * FROM (SELECT lo_export(1, '/tmp/x')) s", "calls lo_export()"),
        ("SELEC name FROM", "does not parse as SQL"),
    ],
)
def test_sql_is_read_only(sql: str, reason: str | None) -> None:
    assert check_sql(sql, SqlRule(dialect="postgres")) == reason


def test_mysql_outfile_is_refused() -> None:
    reason = check_sql("SELECT * FROM users INTO OUTFILE '/tmp/u.txt'", SqlRule(dialect="mysql"))
    assert reason is not None


def policy_text(tools: str) -> str:
    return (
        "version: 1\ndeployment: agent\nlayers:\n  tool_call:\n    rules:\n"
        "      - monitor: tool-policy\n        action: block\n        config:\n"
        "          tools:\n" + tools
    )


def test_errors_in_the_tool_policy_name_file_line_and_key() -> None:
    bad_schema = "            transfer:\n              schema: {type: 5}\n"
    with pytest.raises(PolicyError) as info:
        Guard(parse_policy(policy_text(bad_schema), "p.yaml"))
    (issue,) = info.value.issues
    assert str(issue).startswith("p.yaml:11: layers.tool_call.rules.0.config.tools.transfer.schema")
    assert "not a valid JSON Schema" in str(issue)
    relative = "            read:\n              paths:\n                path: {allow: [data]}\n"
    with pytest.raises(PolicyError, match="'data' is not an absolute directory"):
        Guard(parse_policy(policy_text(relative), "p.yaml"))
    dialect = "            q:\n              sql:\n                s: {dialect: klingon}\n"
    with pytest.raises(PolicyError, match="unknown SQL dialect 'klingon'"):
        Guard(parse_policy(policy_text(dialect), "p.yaml"))


AGENT_POLICY = """\
version: 1
deployment: agent
layers:
  tool_call:
    rules:
      - monitor: tool-policy
        categories: [tool.approval]
        action: escalate
        config: &tools
          tools:
            search: {}
            transfer:
              action: escalate
              bounds: {amount: {max: 500}}
      - monitor: tool-policy
        categories: [tool.denied]
        action: block
        config: *tools
"""


def test_through_the_guard_a_tool_call_is_escalated_blocked_or_allowed() -> None:
    guard = Guard(parse_policy(AGENT_POLICY))

    def action(name: str, **arguments: Any) -> Action:
        content = Content("", "assistant", Stage.TOOL_CALL, tool_call=ToolCall(name, arguments))
        return guard.check_sync("tool_call", content).action

    assert action("search", q="weather") is Action.ALLOW
    assert action("transfer", amount=20) is Action.ESCALATE
    assert action("transfer", amount=2000) is Action.BLOCK
    assert action("format_disk") is Action.BLOCK
    guard.close()


def test_the_readme_example_is_a_valid_policy() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("A tool policy for an agent")[1].split("```yaml\n")[1].split("```")[0]
    policy = "version: 1\ndeployment: agent\nlayers:\n" + block
    guard = Guard(parse_policy(policy, "README.md"))
    content = Content("", "assistant", Stage.TOOL_CALL, tool_call=ToolCall("query", {
        "sql": "SELECT 1; DROP TABLE users"}))  # fmt: skip
    assert guard.check_sync("tool_call", content).action is Action.BLOCK
    guard.close()
