"""Whether a text is written mostly in a language other than English.

An ensemble whose members read different languages needs to know when one of them is blind:
the n-gram and English-encoder heads learnt English, so on a French or Chinese order their
low score says nothing, and averaging it with the multilingual encoder's finding halves that
finding. This is a cheap test, not a language identifier: a sentence is taken for another
language when three tenths of its letters are in another script (or in look-alike letters the
normaliser does not fold, such as small capitals), or when it has more of the common short
words of the other languages the multilingual encoder reads than of English's. Each sentence
is read after the fast tier's normalisation, so English in leetspeak, lookalike letters or
spread-out letters still reads as English; text with neither kind of evidence (code, tables,
ciphers, a few words) counts as English, which keeps every member's word on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from swisscheese.learned.features import normalize

__all__ = [
    "OTHER_LANGUAGE_SHARE",
    "Languages",
    "read_languages",
    "reads_as_english",
]

OTHER_LANGUAGE_SHARE = 1 / 3
"""Share of a text's letters, in sentences read as another language, from which the text as a
whole is not taken for English."""

_READ_CHARS = 20_000
"""Only the start of a long text is read: the test runs on every text an ensemble scores."""

_ENGLISH = frozenset(
    "the an and or but of to on for with at by from is are was were be been it this that "
    "these those you your i we he she they not have has had will would can could should what "
    "which who how if then than there here about into over after before all any some more "
    "most other such only just also very".split()
)
# Common short words of the languages the multilingual encoder reads that are written in Latin
# letters (German, French, Spanish, Italian, Portuguese, Dutch, Polish, Turkish). Words English
# text also has count for neither side: English words ("a", "as", "do", "no", "in", "me",
# "son", "come", "van"), abbreviations ("EU", "OS", "e.g.", "AMA", "Mon") and code ("TODO",
# "em").
_OTHER = frozenset(
    """
    der die das und ist sind nicht ich sie es ein eine zu mit den von auf für sich dem des auch
    wie wir ihr bitte alle alles oder aber wenn nur noch dir mir mich dich diese dieser dieses
    wird werden haben kann mein meine dein deine bei nach über unter welche warum wo
    le la les et est pas je tu vous il elle un une du de en que qui dans avec sur ce cette mais
    ou tous toutes votre moi toi mes ton tes sa ses nous leur au aux quel quelle quels
    el los las y es yo usted una del para con por como pero todas su sus mi te se lo esto esta
    este estos estas aquí
    gli è non io di della che ma tutte tutti tuo tua suo mio mia questo questa queste questi
    sono nel nella quale quali dove
    o é não você uma da mas todos seu sua meu minha isso aqui são qual quais quem onde
    het een niet ik je voor dat op te ook maar
    nie na się że jest jak ale czy
    bir bu ile için değil ben sen ne gibi tüm
    """.split()
)
_SENTENCES = re.compile(r"[^.!?\n。？！]+")
_WORDS = re.compile(r"[^\W\d_]+")
# Letters an English n-gram head can read: ASCII and the accented letters of European
# languages. Other scripts, and the Latin look-alikes the normaliser leaves (small capitals,
# IPA and upside-down letters), are as foreign to it as Chinese.
_UNREAD = re.compile(r"[^\W\d_a-z\u00c0-\u017f]")
# Accented letters of the European languages above: a word with one is evidence for them.
_ACCENTED = re.compile(r"[\u00c0-\u00ff\u0100-\u017f]")


def _other_language(sentence: str, words: list[str], letters: int) -> bool:
    ascii_only = sentence.isascii()
    if not ascii_only and len(_UNREAD.findall(sentence)) * 10 >= letters * 3:
        return True
    if len(words) < 3:
        return False
    other = sum(w in _OTHER for w in words)
    if not ascii_only:
        other += sum(w not in _OTHER and _ACCENTED.search(w) is not None for w in words)
    # Two at least: one word is a name or a loan ("Smith et al.", "café") as often as not.
    return other >= 2 and other > sum(w in _ENGLISH for w in words)


@dataclass(frozen=True)
class Languages:
    """How much of a text is in another language than English, and the rest."""

    other_share: float
    """Share of the text's letters in sentences read as another language."""
    english_part: str
    """The text's sentences not read as another language, one per line ("" without any)."""

    @property
    def english(self) -> bool:
        """Whether the text is taken for English as a whole."""
        return self.other_share < OTHER_LANGUAGE_SHARE


def read_languages(text: str) -> Languages:
    """``text``'s sentences sorted into English and other languages (only its first
    ``_READ_CHARS`` characters are read)."""
    total = other = 0
    english: list[str] = []
    # Split before normalising, which joins lines: a table's rows are read one by one.
    for raw in _SENTENCES.findall(text[:_READ_CHARS]):
        sentence = normalize(raw)
        words = _WORDS.findall(sentence)
        letters = sum(map(len, words))
        total += letters
        if letters and _other_language(sentence, words, letters):
            other += letters
        elif letters:
            english.append(raw.strip())
    return Languages(other / total if total else 0.0, "\n".join(english))


def reads_as_english(text: str) -> bool:
    """Whether ``text`` is taken for English: less than ``OTHER_LANGUAGE_SHARE`` of its letters
    are in sentences in another language."""
    return read_languages(text).english
