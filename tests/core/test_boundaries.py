"""The core imports nothing else of ours and nothing that does I/O."""

from __future__ import annotations

import ast
import pathlib

import pytest

import swisscheese.core

CORE = pathlib.Path(swisscheese.core.__file__).parent
FORBIDDEN_STDLIB = {"socket", "subprocess", "sqlite3", "urllib", "http", "asyncio", "os"}


def imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_depends_on_nothing_else_of_ours() -> None:
    for path in CORE.rglob("*.py"):
        for name in imported_modules(path):
            if name.startswith("swisscheese"):
                assert name.startswith("swisscheese.core"), f"{path.name} imports {name}"
            assert name.split(".")[0] not in FORBIDDEN_STDLIB, f"{path.name} imports {name}"


SRC = CORE.parent

# DESIGN's dependency rule, one row per package: what it may import of ours. Arrows point
# inward (core <- monitors, policy <- guard <- gateway, evaluation, cli; core <- store <-
# recorder <- ops <- gateway, agents, cli; agents beside the gateway: the MCP proxy serves
# through the guard); ``config`` (the policy schema and the settings) and
# ``common`` (I/O helpers) sit just above core; nothing imports the CLI but ``__main__``.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "common": {"core"},
    "config": {"common", "core"},
    "learned": {"common", "core", "config"},
    "store": {"common", "core", "config"},
    "monitors": {"common", "core", "config", "learned"},
    "agents": {"common", "core", "config", "guard", "ops", "recorder", "store"},
    "policy": {"common", "core", "config", "monitors"},
    "recorder": {"common", "core", "config", "store"},
    "ops": {"common", "core", "store", "recorder"},
    "guard": {"common", "core", "config", "monitors", "policy", "recorder", "store"},
    "scanning": {"common", "core", "guard"},
    "gateway": {
        "agents", "common", "core", "config", "guard", "learned", "ops", "provenance",
        "recorder", "store",
    },
    "provenance": {"common", "core", "recorder"},
    "governance": {"common", "core", "config", "ops", "recorder", "store"},
    "evaluation": {
        "common", "core", "config", "guard", "learned", "monitors", "policy", "recorder",
    },
    "training": {"common", "core", "learned", "evaluation"},
    "curation": {"common", "core", "config", "guard", "provenance", "recorder", "store"},
    "console": {"common", "core", "evaluation", "governance", "ops", "recorder", "store"},
    "cli": {
        "agents", "common", "console", "core", "config", "curation", "evaluation", "gateway",
        "governance", "guard",
        "learned", "provenance",
        "monitors", "ops", "recorder", "scanning", "store", "training",
    },
    "__init__": {"core", "guard", "monitors"},
    "__main__": {"cli"},
    "examples": set(),
    "testing": {"common", "core", "monitors"},
}  # fmt: skip


def _imports_of_ours(path: pathlib.Path) -> set[str]:
    return {n for n in imported_modules(path) if n.startswith("swisscheese.")}


def _package_of(path: pathlib.Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_the_dependency_rule_allows(package: str) -> None:
    for path in SRC.rglob("*.py"):
        if _package_of(path) != package:
            continue
        for name in _imports_of_ours(path):
            target = name.split(".")[1]
            assert target == package or target in ALLOWED[package], (
                f"{path.relative_to(SRC)} imports {name}: {package} -> {target} is not an arrow "
                "of the dependency rule"
            )


def test_every_package_is_in_the_rule() -> None:
    packages = {_package_of(p) for p in SRC.rglob("*.py")}
    assert packages <= set(ALLOWED), packages - set(ALLOWED)


def test_no_package_imports_another_packages_private_modules() -> None:
    for path in SRC.rglob("*.py"):
        package = _package_of(path)
        for name in _imports_of_ours(path):
            parts = name.split(".")
            private = any(p.startswith("_") for p in parts[2:])
            assert not (private and parts[1] != package), f"{path.relative_to(SRC)} imports {name}"
