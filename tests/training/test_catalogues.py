"""Reading gettext catalogues: what a translator finished, and nothing else."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swisscheese.evaluation.items import CorpusError
from swisscheese.training.catalogues import Message, fill_placeholders, po_messages

CATALOGUE = r"""# Translation of the shop's interface.
msgid ""
msgstr ""
"Language: de\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

#: shop/forms.py:12
msgid "Enter a valid e-mail address."
msgstr "Bitte eine gültige E-Mail-Adresse eingeben."

#, fuzzy
msgid "Delete"
msgstr "Löschen?"

msgid "Untranslated"
msgstr ""

msgctxt "month name"
msgid "May"
msgstr "Mai"

#, python-format
msgid "%(count)d item"
msgid_plural "%(count)d items"
msgstr[0] "%(count)d Artikel"
msgstr[1] "%(count)d Artikel"

msgid ""
"A long message "
"over two lines."
msgstr ""
"Eine lange Nachricht "
"über zwei Zeilen, \"zitiert\"\n"
"und umbrochen."
msgid "No blank line before me"
msgstr "Keine Leerzeile davor"

#~ msgid "Obsolete"
#~ msgstr "Veraltet"
"""


def test_only_finished_translations_are_read() -> None:
    assert po_messages(CATALOGUE) == [
        Message("Enter a valid e-mail address.", "Bitte eine gültige E-Mail-Adresse eingeben."),
        Message("May", "Mai", context="month name"),
        Message("%(count)d item", "%(count)d Artikel"),
        Message(
            "A long message over two lines.",
            'Eine lange Nachricht über zwei Zeilen, "zitiert"\nund umbrochen.',
        ),
        Message("No blank line before me", "Keine Leerzeile davor"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ('msgid "a"\nmsgstr "b"\nmsgtxt "c"\n', 3, "not a PO line"),
        ('"orphan"\nmsgid "a"\n', 1, "continues no keyword"),
        ('msgid "a"\nmsgstr "b \\q"\n', 2, "unknown escape"),
        ('msgid "a"\nmsgstr "b" c"\n', 2, "unescaped quote"),
        ('msgid "a"\nmsgid "b"\n', 2, "msgid twice"),
    ],
)
def test_a_broken_catalogue_is_an_error_naming_file_and_line(
    text: str, line: int, says: str
) -> None:
    with pytest.raises(CorpusError, match=f"shop.po:{line}: .*{says}"):
        po_messages(text, "shop.po")


_PO_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029")
    | st.sampled_from(['"', "\\", "\n", "\t"]),
    min_size=1,
    max_size=40,
)


def _literal(text: str) -> str:
    return (
        '"'
        + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        + '"'
    )


def _written(text: str, cuts: list[int]) -> str:
    """``text`` as PO writes it: an empty first string, then pieces, each quoted on a line."""
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    pieces = [text[a:b] for a, b in itertools.pairwise(points) if b > a]
    return '""\n' + "\n".join(_literal(p) for p in pieces)


@given(
    st.lists(st.tuples(_PO_TEXT, _PO_TEXT, st.lists(st.integers(0, 40), max_size=3)), max_size=6)
)
def test_what_is_written_is_read_back(entries: list[tuple[str, str, list[int]]]) -> None:
    unique = list(
        {source: (source, translation, cuts) for source, translation, cuts in entries}.values()
    )
    text = "\n\n".join(
        f"#: file.py:1\nmsgid {_written(source, cuts)}\nmsgstr {_written(translation, cuts)}"
        for source, translation, cuts in unique
    )
    assert po_messages(text) == [Message(s, t) for s, t, _ in unique]


def test_placeholders_are_filled_as_the_page_shows_them() -> None:
    rng = random.Random(0)
    filled = fill_placeholders("%(count)d of %(total).1f files by %(user)s, 100%% {} %s", rng)
    assert "%(" not in filled
    assert "{}" not in filled
    assert " %s" not in filled
    assert "100% " in filled
    assert fill_placeholders("100 % sure, width: 50%;", rng) == "100 % sure, width: 50%;"
    # A precision with no digits is a precision of naught (Django's "%(value).s billion").
    assert "%(" not in fill_placeholders("%(value).s мільярд", rng)
