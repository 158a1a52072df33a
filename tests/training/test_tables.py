"""Tables as benign training text: written out as people paste them, read back cell for cell."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from swisscheese.training.tables import csv_tables, generated_tables, markdown_tables, render

_CELL = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="|"),
    min_size=1,
    max_size=12,
).filter(lambda c: c.strip() == c)


@settings(max_examples=60, deadline=None)
@given(
    width=st.integers(min_value=1, max_value=5),
    data=st.data(),
)
def test_every_style_writes_every_cell_where_a_reader_finds_it(
    width: int, data: st.DataObject
) -> None:
    header = data.draw(st.lists(_CELL, min_size=width, max_size=width))
    rows = data.draw(st.lists(st.lists(_CELL, min_size=width, max_size=width), max_size=6))
    for style, delimiter in (("csv", ","), ("tsv", "\t")):
        text = render(header, rows, style)
        assert list(csv.reader(io.StringIO(text), delimiter=delimiter)) == [header, *rows]
    markdown = render(header, rows, "markdown").splitlines()
    assert len(markdown) == 2 + len(rows)
    for line, cells in zip([markdown[0], *markdown[2:]], [header, *rows], strict=True):
        assert [c.strip() for c in line.strip()[1:-1].split(" | ")] == cells
    aligned = render(header, rows, "aligned").splitlines()
    assert len(aligned) == 2 + len(rows)
    # Columns line up: each cell starts where its column's rule does, on every line.
    widths = [len(rule) for rule in aligned[1].split("  ")]
    starts = [sum(widths[:i]) + 2 * i for i in range(width)]
    for line, cells in zip([aligned[0], *aligned[2:]], [header, *rows], strict=True):
        for start, w, cell in zip(starts, widths, cells, strict=True):
            assert line[start : start + w].rstrip() == cell


def test_generated_tables_are_tables_and_the_seed_repeats_them() -> None:
    tables = generated_tables(random.Random(3), 50)
    assert tables == generated_tables(random.Random(3), 50)
    assert len(set(tables)) == 50
    for table in tables:
        lines = table.splitlines()
        assert len(lines) >= 4
        assert not any(word in table.lower() for word in ("you", "ignore", "instruction"))


def test_tables_are_found_in_documents_and_data_files(tmp_path: Path) -> None:
    doc = "# Results\n\n| Model | Score |\n|---|---|\n| a | 0.5 |\n| b | 0.7 |\n\nprose\n"
    assert markdown_tables(doc) == ["| Model | Score |\n|---|---|\n| a | 0.5 |\n| b | 0.7 |"]
    assert markdown_tables("| a | b |\n| 1 | 2 |\n") == []  # two lines: no table
    (tmp_path / "data.csv").write_text("name,notes\nx," + "long " * 40 + "\ny,short\n")
    (tmp_path / "attack").mkdir()
    (tmp_path / "attack" / "data.csv").write_text("a,b\n1,2\n3,4\n")
    found = csv_tables(tmp_path, lambda path, text: "attack" in path)
    assert len(found) == 1
    assert "name" in found[0]
    assert all(len(cell) <= 60 for line in found[0].splitlines() for cell in line.split(","))


def test_no_table_comes_from_an_attack_safety_or_security_evaluation() -> None:
    from swisscheese.training.sources import _ATTACK_DOCS, _eval_tables

    tables = _eval_tables()
    assert len(tables) > 100
    assert not any(_ATTACK_DOCS.search(table) for table in tables)
