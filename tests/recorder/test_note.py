from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swisscheese.recorder.note import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    open_checkpoint,
    open_note,
)

SIGNER = Signer.generate("example.org-log")
names = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E).filter(lambda c: c != "+"),
    min_size=1,
    max_size=30,
)


def test_key_formats_round_trip() -> None:
    verifier_text = SIGNER.verifier.encode()
    name, hex_hash, _ = verifier_text.split("+", 2)
    assert name == "example.org-log"
    assert len(hex_hash) == 8
    assert Verifier.parse(verifier_text) == SIGNER.verifier
    assert Signer.parse(SIGNER.encode()) == SIGNER
    assert SIGNER.encode().startswith("PRIVATE+KEY+example.org-log+")


@given(names)
def test_any_valid_name_makes_a_working_key(name: str) -> None:
    signer = Signer(name, SIGNER.seed)
    note = signer.sign("hello\n")
    assert open_note(note, Verifier.parse(signer.verifier.encode())) == "hello\n"


def test_checkpoint_note_round_trip() -> None:
    cp = Checkpoint("example.org/log", 42, bytes(range(32)))
    note = SIGNER.sign(cp.text())
    assert open_checkpoint(note, SIGNER.verifier) == cp


@pytest.mark.parametrize(
    "mutate",
    [
        lambda n: n.replace("\n42\n", "\n43\n"),
        lambda n: n.replace("example.org/log", "example.org/lag"),
        lambda n: n[:-10] + ("A" if n[-10] != "A" else "B") + n[-9:],
    ],
)
def test_changed_notes_do_not_open(mutate: object) -> None:
    note = SIGNER.sign(Checkpoint("example.org/log", 42, bytes(32)).text())
    with pytest.raises(NoteError):
        open_note(mutate(note), SIGNER.verifier)  # type: ignore[operator]


def test_other_keys_and_malformed_input() -> None:
    note = SIGNER.sign("text\n")
    with pytest.raises(NoteError, match="no signature by"):
        open_note(note, Signer.generate("other").verifier)
    with pytest.raises(NoteError):
        Verifier.parse("name+00000000+AAAA")
    good = SIGNER.verifier.encode().split("+", 2)
    with pytest.raises(NoteError, match="hash does not match"):
        Verifier.parse("+".join([good[0], "deadbeef", good[2]]))
    with pytest.raises(NoteError):
        SIGNER.sign("no trailing newline")
    with pytest.raises(NoteError):
        Signer.generate("has space")
