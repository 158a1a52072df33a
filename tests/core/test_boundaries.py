"""The core imports nothing else of ours and nothing that does I/O."""

from __future__ import annotations

import ast
import pathlib

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
