"""Load a policy from YAML, keeping line numbers so every error names file, line and key."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from swisscheese.config._schema import Policy
from swisscheese.core.errors import SwisscheeseError

Loc = tuple[str | int, ...]


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


class PolicyError(SwisscheeseError, ValueError):
    """A policy that cannot be used; ``issues`` names each problem with its file and line."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


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
        errors = exc.errors()
        locs = [prefix + tuple(e["loc"]) for e in errors]
        issues = []
        for e, loc in zip(errors, locs, strict=True):
            # A list whose every item failed also reports itself as empty: say it once.
            if e["type"] == "too_short" and any(o[: len(loc)] == loc and o != loc for o in locs):
                continue
            issues.append(Issue(self.source, self.line_of(loc), loc, e["msg"]))
        return PolicyError(issues)


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


def parse_policy(text: str, source: str = "<policy>") -> LoadedPolicy:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise PolicyError([Issue(source, line, (), f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([Issue(source, None, (), f"invalid YAML: {exc}")]) from None
    lines: dict[Loc, int] = {}
    dups: list[Issue] = []
    if node is not None:
        _index_lines(node, (), lines, dups)
    if dups:
        raise PolicyError([Issue(source, d.line, d.loc, d.message) for d in dups])
    if not isinstance(data, dict):
        raise PolicyError([Issue(source, 1, (), "a policy is a YAML mapping")])
    loaded = LoadedPolicy(Policy.model_construct(), source, lines)
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise loaded.errors_from(exc) from None
    return LoadedPolicy(policy, source, lines)


def load_policy(path: str | Path) -> LoadedPolicy:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError([Issue(str(path), None, (), f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise PolicyError([Issue(str(path), None, (), "not UTF-8 text")]) from None
    return parse_policy(text, str(path))


def default_policy_text() -> str:
    """The commented default policy that ``swisscheese init`` writes."""
    ref = resources.files("swisscheese.config").joinpath("default_policy.yaml")
    return ref.read_text(encoding="utf-8")


def default_policy() -> LoadedPolicy:
    return parse_policy(default_policy_text(), "<default policy>")
