"""YAML through libyaml's parser reads as PyYAML's safe loader does, marks and errors included."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from swisscheese.common import yamls

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(documents, st.booleans())
def test_documents_read_as_the_safe_loader_reads_them(data: Any, flow: bool) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    assert yamls.load(text) == yaml.safe_load(text)
    node, loaded = yamls.compose_and_load(text)
    assert loaded == yaml.safe_load(text)
    assert node is not None


def test_each_key_keeps_its_line_and_a_bad_document_says_where() -> None:
    node, data = yamls.compose_and_load("a: 1\nb:\n  c: [x, y]\n")
    assert data == {"a": 1, "b": {"c": ["x", "y"]}}
    assert isinstance(node, yaml.MappingNode)
    assert [key.start_mark.line for key, _ in node.value] == [0, 1]
    assert yamls.compose_and_load("") == (None, None)
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        yamls.compose_and_load("a: 1\nb: [x, y\n")
    assert caught.value.problem_mark is not None
    assert caught.value.problem_mark.line >= 1
    with pytest.raises(yaml.constructor.ConstructorError):
        yamls.load("!!python/object:os.system x")
