"""YAML read with libyaml's parser where PyYAML has it (several times faster than the pure-Python
one: the policy and the signature catalogue are read at every start)."""

from __future__ import annotations

from typing import Any

import yaml

# CSafeLoader is libyaml's parser with the same constructor and resolver as SafeLoader.
SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """The document in ``text``, as ``yaml.safe_load`` reads it."""
    return yaml.load(text, Loader=SafeLoader)


def compose_and_load(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (with the marks that give each key its line) and its data, from
    one parse."""
    loader = SafeLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()
