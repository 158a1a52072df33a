"""How a windowed detector reads a document: the half-overlapping grid, and each paragraph
from its own start."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from swisscheese.learned.predict import document_windows, windows

SIZE = 300

# Paragraphs of prose-like text: no line breaks inside, not starting or ending with spaces.
_paragraph = (
    st.text(
        st.characters(codec="utf-8", categories=("L", "N", "P", "Zs"), exclude_characters="\u2028"),
        min_size=1,
        max_size=500,
    )
    .map(str.strip)
    .filter(bool)
)
_separator = st.sampled_from(["\n\n", "\n\n\n", "\n  \n", "\n\t\n    "])


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[int]]:
    """A document of paragraphs, and where each paragraph after the first starts."""
    paragraphs = draw(st.lists(_paragraph, min_size=1, max_size=12))
    text, starts = paragraphs[0], []
    for paragraph in paragraphs[1:]:
        text += draw(_separator)
        starts.append(len(text))
        text += paragraph
    return text, starts


@given(documents())
def test_every_paragraph_is_read_from_its_start(document: tuple[str, list[int]]) -> None:
    text, starts = document
    read = document_windows(text, SIZE)
    grid = windows(text, SIZE, SIZE // 2)
    assert read[: len(grid)] == grid, "the grid is read as before"
    assert all(len(w) <= max(SIZE, len(text)) and w in text for w in read)
    if len(grid) == 1:
        assert read == [text], "a short document is one window"
        return
    ends = [*starts[1:], len(text)]
    for start, end in zip(starts, ends, strict=True):
        # A short paragraph (a heading, a marker) is read in the window of the next one, one
        # near the end of the text in the grid's last window, and one that starts within a
        # quarter window of a paragraph read in that paragraph's window.
        if end - start >= SIZE // 10 and len(text) - start > SIZE // 4:
            near = range(max(0, start - SIZE // 4 + 1), start + 1)
            assert any(text[s : s + SIZE] in read for s in near), start


@given(st.lists(st.integers(1, 80), min_size=1, max_size=400), _separator)
def test_short_lines_add_at_most_two_windows_per_window_of_the_grid(
    lengths: list[int], separator: str
) -> None:
    text = separator.join("x" * n for n in lengths)
    grid = windows(text, SIZE, SIZE // 2)
    assert len(document_windows(text, SIZE)) <= 3 * len(grid)


def test_the_largest_text_the_guard_reads_costs_at_most_three_grids() -> None:
    # 256 KB of short paragraphs: one window per line would be 7,500 windows.
    lines = ("The quick brown fox jumps over it\n\n" * 10_000)[:262_144]
    assert len(document_windows(lines, SIZE)) <= 3 * len(windows(lines, SIZE, SIZE // 2))
