"""Load a policy from YAML, keeping line numbers so every error names file, line and key."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from swisscheese.common import yamls
from swisscheese.config._schema import Policy
from swisscheese.core.errors import SwisscheeseError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Issue:
    source: str
    line: int | None
    loc: Loc
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        key = ".".join(str(p) for p in self.loc)
        return f"{where}: {key}: {self.message}" if key else f"{where}: {self.message}"


class ConfigError(SwisscheeseError, ValueError):
    """A YAML document that cannot be used; ``issues`` names each problem with its file and
    line."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


class PolicyError(ConfigError):
    """A policy that cannot be used."""


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    source: str
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        return line_of(self.lines, loc)

    def error(self, loc: Loc, message: str) -> PolicyError:
        return PolicyError([Issue(self.source, self.line_of(loc), loc, message)])

    def errors_from(self, exc: ValidationError, prefix: Loc = ()) -> PolicyError:
        return PolicyError(validation_issues(exc, self.source, self.lines, prefix))


def line_of(lines: dict[Loc, int], loc: Iterable[str | int]) -> int | None:
    """The line of the deepest YAML node on the path ``loc``."""
    path = tuple(loc)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


def _index_lines(node: yaml.Node, loc: Loc, out: dict[Loc, int], dups: list[Issue]) -> None:
    """Record each node's line; a key given twice in one mapping goes to ``dups``.

    YAML loaders keep the last of two equal keys, so a repeated ``input:`` would silently
    drop every rule of the first one.
    """
    out[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if isinstance(key, str) and key in seen:
                message = f"duplicate key (first given on line {seen[key]})"
                dups.append(Issue("", line, (*loc, key), message))
            elif isinstance(key, str):
                seen[key] = line
            _index_lines(value_node, (*loc, key), out, dups)
            # An error about a value points at its key's line, which is what users read.
            out[(*loc, key)] = line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*loc, i), out, dups)


def parse_document(
    text: str,
    source: str,
    schema: type[M],
    *,
    what: str,
    error: type[ConfigError] = ConfigError,
) -> tuple[M, dict[Loc, int]]:
    """A YAML document validated against ``schema``, with the line of every key; each problem
    (bad YAML, a duplicate key, a value against the schema) is an ``error`` naming its line."""
    try:
        node, data = yamls.compose_and_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise error([Issue(source, line, (), f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise error([Issue(source, None, (), f"invalid YAML: {exc}")]) from None
    lines: dict[Loc, int] = {}
    dups: list[Issue] = []
    if node is not None:
        _index_lines(node, (), lines, dups)
    if dups:
        raise error([Issue(source, d.line, d.loc, d.message) for d in dups])
    if not isinstance(data, dict):
        raise error([Issue(source, 1, (), f"{what} is a YAML mapping")])
    try:
        return schema.model_validate(data), lines
    except ValidationError as exc:
        raise error(validation_issues(exc, source, lines)) from None


def validation_issues(
    exc: ValidationError, source: str, lines: dict[Loc, int], prefix: Loc = ()
) -> list[Issue]:
    errors = exc.errors()
    locs = [prefix + tuple(e["loc"]) for e in errors]
    issues = []
    for e, loc in zip(errors, locs, strict=True):
        # A list whose every item failed also reports itself as empty: say it once.
        if e["type"] == "too_short" and any(o[: len(loc)] == loc and o != loc for o in locs):
            continue
        issues.append(Issue(source, line_of(lines, loc), loc, e["msg"]))
    return issues


def read_document(path: str | Path, error: type[ConfigError] = ConfigError) -> str:
    """A YAML file's text; unreadable or not UTF-8 is an ``error`` naming the file."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error([Issue(str(path), None, (), f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise error([Issue(str(path), None, (), "not UTF-8 text")]) from None


def parse_policy(text: str, source: str = "<policy>") -> LoadedPolicy:
    policy, lines = parse_document(text, source, Policy, what="a policy", error=PolicyError)
    return LoadedPolicy(policy, source, lines)


def load_policy(path: str | Path) -> LoadedPolicy:
    return parse_policy(read_document(path, PolicyError), str(path))


_OPT_IN = re.compile(
    r"^(?P<indent>[ ]*)# opt-in (?P<name>[a-z0-9-]+):.*\n(?:(?P=indent)#.*\n)*", re.M
)
"""Where an opt-in's rules go: its comment in the default policy (with the comment lines that
continue it), replaced by the rules at the comment's indentation."""


def opt_ins() -> tuple[str, ...]:
    """The names ``default_policy_text`` takes: rules the default leaves off because they need
    an extra the base install lacks."""
    return _opt_ins_in(_config_text("default_policy.yaml"))


def _opt_ins_in(text: str) -> tuple[str, ...]:
    return tuple(m["name"] for m in _OPT_IN.finditer(text))


def default_policy_text(opt_in: Iterable[str] = ()) -> str:
    """The commented default policy that ``swisscheese init`` writes, with the rules of each
    named opt-in in place."""
    wanted = set(opt_in)
    text = _config_text("default_policy.yaml")
    if not wanted:
        return text
    known = _opt_ins_in(text)
    if unknown := wanted - set(known):
        raise ValueError(
            f"no opt-in named {', '.join(sorted(unknown))}; choose from {', '.join(known)}"
        )

    def rules(found: re.Match[str]) -> str:
        if found["name"] not in wanted:
            return found[0]
        fragment = _config_text(f"opt_in/{found['name']}.yaml")
        return "".join(found["indent"] + line for line in fragment.splitlines(keepends=True))

    return _OPT_IN.sub(rules, text)


def _config_text(name: str) -> str:
    return resources.files("swisscheese.config").joinpath(name).read_text(encoding="utf-8")


def default_policy(opt_in: Iterable[str] = ()) -> LoadedPolicy:
    names = sorted(set(opt_in))
    source = f"<default policy + {', '.join(names)}>" if names else "<default policy>"
    return parse_policy(default_policy_text(names), source)
