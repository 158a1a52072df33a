"""Decode-and-rescan: find encoded or disguised text and hand the plain text back to the layer.

Besides encodings (base64, hex, ROT13, Morse, Braille, bytes in invisible characters, ...),
three disguises that need no decoding key: letters spread out ("w e a p o n"), which the n-gram
tier joins itself but an encoder reads as single letters; a payload split into string literals
and joined by an expression, where no piece says anything on its own; and a request at the end
of a made-up transcript (many-shot), whose compliant answers dilute it.

The monitor itself only decodes. The guard rescans every decoded view with the layer's other
monitors; what they find there is reported against the span of the encoded segment, and this
monitor adds an ``obfuscation`` finding naming the encoding chain that hid it.

Work is bounded: at most ``max_depth`` nested decodings, ``max_segments`` decoded views and
``max_decoded_chars`` characters of decoded text per input, whatever the input looks like.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import quopri
import re
import string
import unicodedata
import urllib.parse
from collections.abc import Callable, Sequence
from itertools import pairwise

from swisscheese.core import Content, Context, Finding, Span, Stage
from swisscheese.core.roles import Decoded as Decoded
from swisscheese.core.serialised import LAST_TURN, READINGS, readings, unescape
from swisscheese.learned.features import (
    fold_lookalikes,
    has_lookalike_words,
    join_spread_letters,
    latin_with_lookalikes,
    normalize,
)
from swisscheese.monitors._ciphers import (
    atbash,
    braille_runs,
    caesar,
    caesar_shifts,
    hidden_byte_runs,
    nato_runs,
    turned_run,
    undoubled,
    upside_down,
)
from swisscheese.monitors._registry import Inline, MonitorConfig, monitor
from swisscheese.monitors._text import SMALL_CAPITALS, fold_lookalike_words
from swisscheese.monitors._typos import misspelt_views

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{12,}={0,2}(?![A-Za-z0-9+/=_-])")
_BASE32 = re.compile(r"(?<![A-Z2-7=])[A-Z2-7]{16,}={0,6}(?![A-Z2-7=])")
_HEX = re.compile(
    r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){8,}(?![0-9A-Fa-f])"
    r"|(?:\\x[0-9A-Fa-f]{2}){6,}"
    r"|(?<![0-9A-Fa-f])[0-9A-Fa-f]{2}(?:[ :,-][0-9A-Fa-f]{2}){7,}(?![0-9A-Fa-f])"
)
_URL = re.compile(r"[^\s%]*(?:%[0-9A-Fa-f]{2}[^\s%]*){3,}")
# Eight-bit groups, together or one space or comma apart: six bytes at least.
_BINARY = re.compile(r"(?<![01])[01]{8}(?:[ ,]?[01]{8}){5,}(?![01])")
# Adobe's ASCII85 between its delimiters, and base85 (RFC 1924, Python's b85encode) as one
# whitespace-delimited token; a token of base64's letters alone is left to base64.
_ASCII85 = re.compile(r"<~[!-u\s]{10,}?~>")
_LONG_TOKEN = re.compile(r"(?<!\S)\S{20,}")
_TOKEN_CLASSES = bytes(ord(" ") if chr(i).isspace() else ord("t") for i in range(256))
_BASE85 = re.compile(r"[0-9A-Za-z!#$%&()*+\-;<=>?@^_`{|}~]+")
_ASCII85_TOKEN = re.compile(r"[!-uz]+")
_DIGIT = re.compile(r"[0-9]")
# A uuencoded line: a length character (1-45 bytes), then four characters per three bytes.
_UU_LINE = re.compile(r"(?m)(?<!\S)[!-M][ -`]{4,84}$")
_UU_CLASSES = bytes(ord("u") if 0x21 <= i <= 0x60 else ord(" ") for i in range(256))
# Quoted-printable (MIME): six "=XX" escapes at least inside one run of text.
_QUOTED_PRINTABLE = re.compile(r"(?<!\S)[^\s=]*(?:=[0-9A-F]{2}[^\s=]*){6,}")
_QP_ESCAPE = re.compile(r"=[0-9A-F]{2}")
_NOT_BASE64 = re.compile(r"[!#$%&()*;<>?@^`{|}~]")
# Character escapes as a program or a web page writes them: \u0049, &#73; or &#x49;.
_CHAR_ESCAPES = re.compile(
    r"(?:\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}){6,}|(?:&#(?:[xX][0-9A-Fa-f]{1,6}|[0-9]{1,7});){6,}"
)
# Morse: at least eight letter codes of dots and dashes, letters apart by one space, words by a
# slash or two or more spaces. (Dots and dashes in prose - "...", "--" - never make eight.)
_MORSE = re.compile(r"(?<![.\-\w])[.\-]{1,6}(?:(?: {1,3}| ?/ ?)[.\-]{1,6}){7,}(?![.\-\w])")
_MORSE_CODE = dict(
    zip(
        ".- -... -.-. -.. . ..-. --. .... .. .--- -.- .-.. -- -. --- .--. --.- .-. ... - ..- ...- "
        ".-- -..- -.-- --.. ----- .---- ..--- ...-- ....- ..... -.... --... ---.. ----. "
        ".-.-.- --..-- ..--.. .----. -.-.-- -..-. ---... -....- .-..-. .--.-. -.--. -.--.-".split(),
        "abcdefghijklmnopqrstuvwxyz0123456789.,?'!/:-\"@()",
        strict=True,
    )
)
# Cheap tests that decide whether the expensive scans can find anything at all. ASCII text is
# mapped to character classes with one bytes.translate, then searched with bytes.find: both run
# at memory speed, where a regex with a leading character class walks every position.
_MAYBE_ENCODED = re.compile(
    r"[A-Za-z0-9+/_=-]{12}|\\x[0-9A-Fa-f]{2}|[0-9A-Fa-f]{2}[ :,-][0-9A-Fa-f]{2}[ :,-][0-9A-Fa-f]{2}"
)
_MAYBE_LEET = re.compile(r"[A-Za-z][0134578@$!|+]|[0134578@$|+][A-Za-z]")


def _class_table(classes: dict[str, str]) -> bytes:
    table = bytearray(b" " * 256)
    for chars, label in classes.items():
        for ch in chars:
            table[ord(ch)] = ord(label)
    return bytes(table)


_B64_CLASSES = _class_table(
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_=-": "b", "\\": "x"}
)
_HEX_CLASSES = _class_table({"0123456789abcdefABCDEF": "h", " :,-": "s"})
_LEET_CLASSES = _class_table(
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz": "a", "0134578@$!|+": "1"}
)


def _maybe_encoded(text: str) -> bool:
    if not text.isascii():
        return _MAYBE_ENCODED.search(text) is not None
    raw = text.encode("ascii")
    b64 = raw.translate(_B64_CLASSES)
    if b64.find(b"b" * 12) >= 0 or raw.find(b"\\x") >= 0:
        return True
    return raw.translate(_HEX_CLASSES).find(b"hhshhshh") >= 0


_BINARY_CLASSES = _class_table({"01": "b", " ,": "s"})


def _maybe_bits(raw: bytes) -> bool:
    """Whether the text may hold eight-bit groups: sixteen bits in a row or two groups apart."""
    bits = raw.translate(_BINARY_CLASSES)
    return bits.find(b"b" * 16) >= 0 or bits.find(b"bbbbbbbbsbbbbbbbb") >= 0


def _mixed_classes(token: str) -> bool:
    """Upper- and lower-case letters, and digits unless the token is long: what a base85
    encoding of text nearly always has (a digit is missing from one in twelve of twenty
    characters, one in 150 of forty), and a name or call in code rarely has all of."""
    return (
        token != token.lower()
        and token != token.upper()
        and (len(token) >= 40 or _DIGIT.search(token) is not None)
    )


def _maybe_long_token(raw: bytes) -> bool:
    """Whether the text has a run of twenty characters without a space: a cheap test."""
    return raw.translate(_TOKEN_CLASSES).find(b"t" * 20) >= 0


def _maybe_escaped(text: str) -> bool:
    return ("\\" in text and ("\\u" in text or "\\U" in text)) or "&#" in text


_MORSE_CLASSES = _class_table({".-": "m", " /": "s"})
_SPREAD_CLASSES = _class_table(
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz": "a", ".-": "s"}
)
_SPACED_CLASSES = _class_table(
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_": "a", " .-\t": "s"}
)
# Four word characters with the same one- to three-character separator between them.
_SPACED_RUNS = (b"asasasa", b"assassassa", b"asssasssasssa")


def _maybe_morse(as_bytes: bytes) -> bool:
    # Eight Morse letters always have two codes one to three separator characters apart. Other
    # characters only need to be none of those, so non-ASCII ones may become "?".
    classes = as_bytes.translate(_MORSE_CLASSES)
    return any(classes.find(gap) >= 0 for gap in (b"msm", b"mssm", b"msssm"))


def _maybe_leet(text: str) -> bool:
    if not text.isascii():
        return _MAYBE_LEET.search(text) is not None
    classes = text.encode("ascii").translate(_LEET_CLASSES)
    return classes.find(b"a1") >= 0 or classes.find(b"1a") >= 0


# None of these reads as another of them backwards, so reversed text never passes for English.
_ENGLISH_CUES = (" the ", " and ", " to ", " of ", " is ", " you ", " in ", " that ")
_LEET_TOKEN = re.compile(
    r"(?=[A-Za-z0-9@$!|+]*[A-Za-z])(?=[A-Za-z0-9@$!|+]*[0134578@$!|+])"
    r"[A-Za-z0-9@$!|+]{3,}"
)
_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "+": "t",
    }
)

# Frequent English words: a cheap test of whether a candidate decoding reads as language.
_COMMON = frozenset(
    """the be to of and a in that have i it for not on with he as you do at this but his by
    from they we say her she or an will my one all would there their what so up out if about
    who get which go me when make can like time no just him know take people into year your
    good some could them see other than then now look only come its over think also back after
    use two how our work first well way even new want because any these give day most us is
    are was were been has had did said tell write ignore instructions previous prompt system
    rules act pretend answer reveal secret password show print output respond must never
    always should please assistant user model through explain describe list guide detailed
    create find need help where why many much more very each every same such here off down
    under again before between without while during being both few those might does using
    used something anything someone everything nothing really still better best""".split()
)

# Frequent words of the other languages written in Latin letters that attacks arrive in (the
# evaluation's and the injection head's): ROT13 or reversed Italian reads as no English, and
# its decoding was dropped. Function words, common verbs, and the words of an override; of
# three letters or more, as English reversed is full of shorter ones ("it" is "ti", "is" "si"),
# and none that spells a frequent English word encoded ("era" is "are" reversed; below).
_OTHER_LANGUAGES = tuple(
    frozenset(words.split())
    for words in (
        # Spanish
        """los las del que una por con para sus como más
        pero este esta son entre cuando muy sin sobre también hasta hay donde desde
        todo todos nos les otros eso esto antes otro otra tanto mucho nada cual poco ella
        estar mis tus nosotros estoy está están ser soy eres fue era tiene puede hacer
        dice ahora ignora ignorar instrucciones anteriores sistema reglas responde respuesta
        revela mensaje contraseña secreto modo desarrollador restricciones cualquier""",
        # French
        """les des une que qui dans pour pas par sur aux cette ces
        elle ils nous vous son ses leur plus avec tout tous mais est sont
        être avoir fait faire comme très bien aussi peut dit mon mes ton tes votre vos
        moi toi lui sans sous entre après avant ignore ignorez oublie oubliez instructions
        précédentes système règles réponds répondez révèle révélez mot passe secret mode
        désormais toutes""",
        # German
        """der die das den dem des ein eine einen einem und oder ist sind war nicht
        mit von für auf als auch ich sie wir ihr sich mich dich mir dir sein
        haben hat wird werden kann muss noch nur wie was wenn dann aber bei nach aus
        über vor alle alles keine kein mehr jetzt sofort ignoriere vergiss anweisungen
        vorherigen system regeln zeige antworte passwort geheim modus deine dein richtlinien""",
        # Italian
        """gli del della dei delle uno una che non per con
        alla come più lui lei noi voi loro sono sei era hanno
        questo questa quello tutto tutti tutte anche ora solo molto fare dire ignora dimentica
        istruzioni precedenti sistema regole rivela rispondi mostra segreto modalità tuo tua
        tue tuoi parola""",
        # Portuguese
        """dos das uma nos nas que não por para com
        como mais mas seu sua seus suas ele ela eles nós você vocês isso isto este
        esta todo todos toda todas muito agora também ser foi era tem pode fazer diz ignore
        ignora esqueça instruções anteriores sistema regras responda revele senha segredo
        modo restrições""",
    )
)


class ObfuscationConfig(MonitorConfig):
    max_depth: int = 3
    """Nested decodings followed (base64 of hex of ROT13 is depth 3)."""
    max_segments: int = 32
    """Decoded views handed back for rescanning, per input."""
    max_decoded_chars: int = 65536
    """Total decoded characters per input (readings of serialised text, never longer than the
    text, are not counted)."""
    min_printable: float = 0.85
    """Share of printable characters a decoding must have to count as text."""
    report_all: bool = False
    """Also report encoded text whose decoding nothing else flagged (score 0.3)."""
    misspellings: bool = True
    """Read the misspelt words of attack phrasing ("iunstructions", "ignroe") as the words
    (English; text in other languages gains nothing from it)."""


def _printable_text(raw: bytes, min_printable: float) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # Invisible format characters (zero-width spaces, joiners) are no evidence of binary data:
    # an attacker threads them through the text before encoding it, and the layer's normaliser
    # strips them from the decoded view before the rescan.
    visible = [c for c in text if unicodedata.category(c) != "Cf"]
    if len(visible) < 4:
        return None
    printable = sum(1 for c in visible if c.isprintable() or c in "\n\r\t")
    if printable / len(visible) < min_printable:
        return None
    if sum(1 for c in text if c.isalpha()) < 3:
        return None
    return text


_SIGN_FOR_ITSELF = re.compile(r"[@+][A-Za-z]+|[A-Za-z]+![rsa]")


def _is_leet(text: str, m: re.Match[str]) -> bool:
    """Digits standing in for letters, not version numbers, hashes or URL escapes."""
    token = m.group()
    if m.start() > 0 and text[m.start() - 1] == "%":
        return False
    # A decorator or a mention ("@property", "@alice"), a format conversion ("name!r"), a
    # doctest directive ("+SKIP"): the sign stands for itself, not for a letter.
    if _SIGN_FOR_ITSELF.fullmatch(token):
        return False
    core = token.rstrip("0123456789")
    letters = sum(1 for c in token if c.isalpha())
    if len(core) < 2 or letters * 2 < len(token) or core.isalpha():
        return False
    return not _looks_like_data(token)


def _looks_like_data(token: str) -> bool:
    """Hashes and long numbers stay as they are even in a leetspeak text."""
    if len(token) >= 8 and all(c in "0123456789abcdefABCDEF" for c in token):
        return True
    return token.isdigit() and len(token) >= 5


_LEET_WORD = re.compile(r"[A-Za-z0-9@$!|+]{2,}")
# In a decoding already taken for leetspeak, a lone "4" is "a" too.
_LEET_ANY = re.compile(r"[A-Za-z0-9@$!|+]+")


# Signs of code: there one name can decode to a frequent word ("f0 = f(x0)" under ROT13 is
# "so = s(ko)", a third of it English).
_CODE_SIGNS = re.compile(r"[=(){}\[\]<>_]")


def _reads_as_leetspeak(text: str, decoded: str, leet: int) -> bool:
    """Whether ``text`` is leetspeak rather than names with digits in them (``Conv1d``,
    ``b64encode``, ``x0b``): spelt out, it has two more of the frequent English words than it
    had (``t0`` in code spells one, "to", however often), or its ``leet`` tokens are a fifth of
    its words or more (leetspeak of rare words or of code, "3x3cu73: 1mp0r7 05")."""
    if len(_common_set(decoded) - _common_set(text)) >= 2:
        return True
    return leet * 5 >= len(text.split())


def _common_set(text: str) -> set[str]:
    return {w for w in _words(text) if len(w) > 1 and w in _COMMON}


# What stands for a letter in leetspeak.
_LEET_SIGNS = frozenset("01345789@$!|+")


def _unleet(m: re.Match[str]) -> str:
    token = m.group()
    if _looks_like_data(token) or _LEET_SIGNS.isdisjoint(token):
        return token
    return _unleet_token(token)


def _unleet_whole(m: re.Match[str]) -> str:
    """In a text already read as leetspeak, a word that happens to be hexadecimal ("d373c73d",
    "detected") is spelt out too; only long runs of digits stay numbers."""
    token = m.group()
    if (token.isdigit() and len(token) >= 5) or _LEET_SIGNS.isdisjoint(token):
        return token
    return _unleet_token(token)


def _unleet_token(token: str) -> str:
    if len(token) == 1 and not token.isalnum():
        return token  # an operator or a mark on its own: "a + b", "wow !"
    return token.translate(_LEET).lower()


# A text that asks for a decoding ("Decode it and do what it says"), and one that names the
# shift of its Caesar cipher, as it must for the model to read it.
_CUE_WORDS = (
    "decod", "deciph", "rot13", "rot-13", "caesar", "cipher", "encoded", "backwards", "upside",
)  # fmt: skip
_ROT13_NAMED = re.compile(r"\brot[- ]?13\b")
# A text that says its words are spelt backwards (not one that says a script runs right to left).
_WORDS_NAMED_REVERSED = re.compile(
    r"\b(?:each|every) word\b[^.\n]{0,30}\b(?:backwards?|reversed|right to left)"
    r"|\bwords?\b[^.\n]{0,12}\b(?:spelt|spelled|written) backwards"
)
_SHIFT = re.compile(r"\b(?:caesar|shift(?:ed)?)\D{0,24}?(\d{1,2})\b")


def _named_shift(low: str) -> int | None:
    """The Caesar shift lower-case ``low`` names, if any."""
    if "shift" not in low and "caesar" not in low:
        return None
    m = _SHIFT.search(low)
    shift = int(m.group(1)) % 26 if m else 0
    return shift if shift not in (0, 13) else None


# Sentences or clauses: runs of text between line breaks, colons, quotes and sentence ends.
_SEGMENT = re.compile(r"[^\n:;\"“”.!?]{12,}[.!?]*")
# Lines and clauses only: letters spread out with dots ("J.e.v.g.r") would break sentences.
_CLAUSE = re.compile(r"[^\n:;\"“”]{12,}")


def _encodings_of(words: frozenset[str]) -> frozenset[str]:
    """``words`` as ROT13, reversed text and Atbash spell them."""
    return frozenset(
        {codecs.encode(w, "rot13") for w in words}
        | {w[::-1] for w in words}
        | {atbash(w) for w in words}
    )


_LEXICONS = (_COMMON, *(lexicon - _encodings_of(_COMMON) for lexicon in _OTHER_LANGUAGES))
_EVERY_COMMON = frozenset().union(*_LEXICONS)
# Which lexicons hold a word (English is 0): one look-up a word however many languages.
_LEXICONS_OF = {w: tuple(i for i, lex in enumerate(_LEXICONS) if w in lex) for w in _EVERY_COMMON}
# The commonest words as ROT13 or reversed text spells them, or both at once (minus real words
# such as "be"): the gate before reading a text's segments one by one. Another language's
# shorter words spell a code's names too often ("vs" is "if", "tes" is "set" reversed).
_GATE_WORDS = _COMMON | {w for w in _EVERY_COMMON if len(w) >= 4}
_ENCODED_COMMON = (
    _encodings_of(_GATE_WORDS) | {codecs.encode(w[::-1], "rot13") for w in _GATE_WORDS}
) - _EVERY_COMMON
# The common English words of four letters or more under every other Caesar shift: a hint of a
# shifted segment (shorter words shift onto real ones too often: "an" onto "bo").
_CAESAR_COMMON = (
    frozenset(caesar(w, k) for w in _COMMON if len(w) >= 4 for k in range(1, 26) if k != 13)
    - _EVERY_COMMON
    - _ENCODED_COMMON
)


def _words(text: str) -> list[str]:
    """The words of ``text``, lower-cased, without the punctuation around them."""
    return [w for w in (w.strip(".,;:!?'\"()") for w in text.lower().split()) if w]


def _common_words(text: str) -> tuple[int, int, int, bool]:
    """How many of the words of ``text`` are frequent ones of the language it reads best in
    (English or one of ``_OTHER_LANGUAGES``), how many of those are evidence (in English, those
    of two letters or more; in another language, the distinct ones), how many words there are,
    and whether that language is English."""
    words = _words(text)
    common = [0] * len(_LEXICONS)
    found: list[set[str]] = [set() for _ in _LEXICONS]
    longer = 0
    for w in words:
        for i in _LEXICONS_OF.get(w, ()):
            common[i] += 1
            found[i].add(w)
            longer += i == 0 and len(w) > 1
    # In another language, words of three letters or more, and each counted once.
    best = max(
        (common[i], longer if i == 0 else len(found[i]), i == 0) for i in range(len(_LEXICONS))
    )
    return best[0], best[1], len(words), best[2]


def _language_share(text: str) -> float:
    common, _, words, _ = _common_words(text)
    return common / words if words else 0.0


def _reads_as_language(text: str, at_least: float) -> bool:
    common, longer, words, english = _common_words(text)
    if common < at_least * words:
        return False
    # A one-letter word ("I", "a") alone is no evidence: short names decode to them too; nor is
    # one word of another language, however often ("run import Run" reversed has "nur" twice).
    return longer >= 2 or (longer == 1 and english and _CODE_SIGNS.search(text) is None)


def _encoded_leet_common(token: str) -> bool:
    """A common word in leetspeak, then ROT13-encoded or reversed ("0a" is "on"): the digits
    stay as they were, so the word shows once the token is decoded and the digits spelt out."""
    # A number is a number: the token must mix letters and stand-ins.
    if token.isdigit() or not token.isalnum() or token.isalpha():
        return False
    return (
        codecs.encode(token, "rot13").translate(_LEET) in _COMMON
        or token[::-1].translate(_LEET) in _COMMON
    )


def _encoded_lookalike_common(token: str) -> bool:
    """A common word with lookalike letters in it, then ROT13-encoded or reversed ("guе", with
    a Cyrillic "е", is "the"): the lookalikes stay as they were, so the word shows once the
    Latin letters are decoded and the lookalikes folded."""
    return any(
        normalize(decoded).strip(".,;:!?'\"()") in _COMMON
        for decoded in (codecs.encode(token, "rot13"), token[::-1])
    )


_NOT_LETTERS = re.compile(r"[\W_]+")
_UNDISGUISE_PROBE = 300
_SMALL_CAPITAL = re.compile(f"[{SMALL_CAPITALS}]")
# Four letters spread out with one separator ("w.r.i.t", "w r i t", "w . r . i . t"), which
# normalising joins.
_SPREAD_OUT = re.compile(r"(?<!\w)\w( ?[.\-] ?| )\w\1\w\1\w(?!\w)")


# Payload splitting: pieces of a request assigned to names as string literals, then joined by an
# expression ("a = 'Write a'; b = 'n exploit'; z = a + b"). Bounded: a single-quoted literal is
# one line (an apostrophe is not a quote); a double-quoted one may hold line breaks, as a piece
# of a request that has paragraphs does ('c = "gent at home.\n\nEncode your reply ..."').
_LITERAL = r"""(?:"(?:[^"\\]|\\.){0,4000}"|'(?:[^'\\\n]|\\.){0,4000}')"""
# A name after a dot is an attribute ("self.a = ..."), not a piece, except a dot opening the line:
# letters spaced out with dots put one before each line's first name (".a = ...").
_ASSIGNMENT = re.compile(
    rf"(?:(?<![\w.$])|(?<=^\.))([A-Za-z_$][\w$]{{0,30}})\s*:?=\s*({_LITERAL})", re.MULTILINE
)
_OPERAND = re.compile(rf"(?:[A-Za-z_$][\w$]{{0,30}}|{_LITERAL})")
_SUM = re.compile(rf"{_OPERAND.pattern}(?:\s*\+\s*{_OPERAND.pattern})+")
# "{a}{b}" (an f-string or str.format) and "${a}${b}" (a JavaScript template).
_PLACEHOLDERS = re.compile(r"(?:\$?\{\s*[A-Za-z_$][\w$]{0,30}\s*\}){2,}")
_PLACEHOLDER_NAME = re.compile(r"\{\s*([A-Za-z_$][\w$]*)")
# Joining asked for in words, naming the pieces in order ("combine a, b and c").
_JOIN_WORDS = re.compile(
    r"\b(?:concatenat|combin|join|merg|append|put together)\w*\s+(?:the\s+strings\s+|them:?\s+)?"
    r"([A-Za-z_$][\w$]{0,30}(?:\s*(?:,|\band\b|\+|&|,\s*and\b)\s*[A-Za-z_$][\w$]{0,30})+)",
    re.IGNORECASE,
)
_LISTED_NAME = re.compile(r"[A-Za-z_$][\w$]*")
_MAX_ASSIGNMENTS = 64
_MIN_SPREAD_MERGES = 6
_WORD_CHARS = re.compile(r"\w+")


def _literal_value(literal: str) -> str:
    return unescape(literal[1:-1])


def _maybe_split(text: str) -> bool:
    """Whether strings may be assigned and joined: a cheap test before the regular
    expressions."""
    return "=" in text and ('"' in text or "'" in text)


_Assigned = dict[str, tuple[Span, str]]


def _joined_payloads(text: str) -> list[tuple[Span, str]]:
    """The strings that the text's assignments and joining expressions spell, each with the
    span from the first piece used to the end of the join."""
    values: _Assigned = {}
    for i, m in enumerate(_ASSIGNMENT.finditer(text)):
        if i >= _MAX_ASSIGNMENTS:
            break
        values[m.group(1)] = (Span(m.start(), m.end()), _literal_value(m.group(2)))
    if len(values) < 2:
        return []
    joins = [(m, _OPERAND.findall(m.group())) for m in _SUM.finditer(text)]
    joins += [(m, _PLACEHOLDER_NAME.findall(m.group())) for m in _PLACEHOLDERS.finditer(text)]
    joins += [(m, _listed(m.group(1), values)) for m in _JOIN_WORDS.finditer(text)]
    out = []
    for m, operands in joins:
        joined = _join(operands, values, Span(*m.span()))
        if joined is not None:
            out.append(joined)
    return out


def _listed(names: str, values: _Assigned) -> list[str]:
    """The assigned names a list in words starts with ("p1 and p2, then" gives p1, p2)."""
    out = []
    for name in _LISTED_NAME.findall(names):
        if name.lower() == "and":
            continue
        if name not in values:
            break
        out.append(name)
    return out


def _join(operands: list[str], values: _Assigned, where: Span) -> tuple[Span, str] | None:
    """The operands' joined value, if at least two of them are assigned names and every other
    one is a literal; None otherwise (a name assigned elsewhere has an unknown value)."""
    pieces: list[str] = []
    spans = [where]
    for op in operands:
        if op[:1] in "\"'":
            pieces.append(_literal_value(op))
        elif op in values:
            span, value = values[op]
            spans.append(span)
            pieces.append(value)
        else:
            return None
    if len(spans) < 3:
        return None
    return Span(min(s.start for s in spans), max(s.end for s in spans)), "".join(pieces)


# A transcript written into one message ("User: ... Assistant: ... User: ..."): the many-shot
# disguise. The model is asked to answer the last user turn; the made-up compliant answers
# before it dilute what a detector reads.
_TURN = re.compile(
    r"^[ \t>*#_-]*(user|human|you|me|q|question|assistant|ai|bot|model|a|answer|system)\s*:",
    re.IGNORECASE | re.MULTILINE,
)
_ASKERS = frozenset({"user", "human", "you", "me", "q", "question"})
_MIN_TURN_CHARS = 8


def _last_asked(text: str) -> tuple[Span, str] | None:
    """The last asker's turn of a transcript with at least two asker turns and one answer."""
    turns = [(m.group(1).lower() in _ASKERS, m) for m in _TURN.finditer(text)]
    asks = [i for i, (asker, _) in enumerate(turns) if asker]
    if len(asks) < 2 or len(asks) == len(turns):
        return None
    last = asks[-1]
    start = turns[last][1].end()
    end = turns[last + 1][1].start() if last + 1 < len(turns) else len(text)
    turn = text[start:end].strip()
    if len(turn) < _MIN_TURN_CHARS:
        return None
    at = text.index(turn, start)
    return Span(at, at + len(turn)), turn


def _maybe_spaced(as_bytes: bytes) -> bool:
    """Whether Latin letters may be spread out with spaces, dots or dashes: a cheap test on the
    text as ASCII bytes (the decoder reads normalised text, where lookalike letters are Latin
    already)."""
    classes = as_bytes.translate(_SPACED_CLASSES)
    return any(classes.find(run) >= 0 for run in _SPACED_RUNS)


# Letters spread out with a wider gap than the words ("G  i  v  e s  t  e  p"): the gap between
# the letters is the separator, and a single space between words ends a run. Punctuation is
# spread with the letters ("<  e  n  d", "S  y  s  t  e  m  :").
_WIDE_SPACED = re.compile(r"(?<!\S)\S(?P<sep> {2,}|\t+)\S(?:(?P=sep)\S){2,}(?!\S)")


def _wide_spacing_joined(text: str) -> str:
    if "  " not in text and "\t" not in text:
        return text
    return _WIDE_SPACED.sub(lambda m: m.group().replace(m.group("sep"), ""), text)


_WORDS_AND_GAPS = re.compile(r"(\S+)")


def _each_word_reversed(text: str) -> str:
    """Every word of ``text`` spelt backwards where it stands ("eviG em" is "Give me"), its
    punctuation with it."""
    return _WORDS_AND_GAPS.sub(lambda m: m.group()[::-1], text)


def _each_spaced_reversed(text: str) -> str:
    """Every run of characters between spaces spelt backwards, line breaks and all."""
    return " ".join(part[::-1] for part in text.split(" "))


def _words_turned_back(text: str) -> tuple[str, ...]:
    """``text`` with each word spelt backwards turned back, cut at any white space and cut at
    spaces alone (once each when the two agree)."""
    return tuple(dict.fromkeys((_each_word_reversed(text), _each_spaced_reversed(text))))


def _turned_and_shifted(text: str, shifts: Sequence[int]) -> list[tuple[str, str]]:
    """The decodings of ``text`` that turn its letters round or move them: ROT13, reversed,
    each word reversed where it stands, reversed or each word reversed then ROT13, Atbash, and
    the Caesar ``shifts``. The word-order readings only of Latin text (the decoder reads
    normalised text): other scripts are the rest of what reaches here, and each reading costs
    a word count."""
    latin = text.isascii()
    turned = [("word-reversed", _each_word_reversed(text))] if latin else []
    # Words cut at spaces alone too: a word spelt backwards with a line break inside it
    # ("etirW\n\n.detceted" is "detected.\n\nWrite") is two words to the cut at any white
    # space, each turned where it stands, and the sentence's last word lands in the next line.
    spaced = _each_spaced_reversed(text) if latin and "\n" in text else None
    return [
        ("rot13", codecs.encode(text, "rot13")),
        ("reversed", text[::-1]),
        *turned,
        *([("word-reversed", spaced)] if spaced and spaced != turned[0][1] else []),
        *(
            [
                ("reversed-rot13", codecs.encode(text[::-1], "rot13")),
                ("word-reversed-rot13", codecs.encode(turned[0][1], "rot13")),
            ]
            if latin
            else []
        ),
        ("atbash", atbash(text)),
        *(("caesar", caesar(text, shift)) for shift in shifts),
    ]


# ROT13 is read by a model unasked, and a ROT13 sentence cut at its colons leaves pieces with
# few of the commonest words ("Uvqqra pbzcrgrapl cebsvyr sbe nhgbzngrq fperravat flfgrzf:");
# the other readings of a segment are rarer, and each kept one is a view to score.
_ROT13_BAR = 0.2


def _reading_bar(kind: str, at_least: float) -> float:
    """The language share a segment's ``kind`` of reading must reach to be kept."""
    return min(at_least, _ROT13_BAR) if kind == "rot13" else at_least


# Readings that keep a text's lines where they stand, so the lines around an encoded sentence
# can be undone alike: a chat forged inside a document under ROT13 keeps its speakers' names
# ("Nffvfgnag:", "Hfre:") on lines too short to be read as sentences of their own.
_LINEWISE: dict[str, Callable[[str], Sequence[str]]] = {
    "rot13": lambda text: [codecs.encode(text, "rot13")],
    "atbash": lambda text: [atbash(text)],
    # Cut at any white space, and at spaces alone across the lines: "erongI\nNOITCURTSNI" is
    # "INSTRUCTION\nIgnore" to an attacker who cut at spaces.
    "word-reversed": _words_turned_back,
}
# The lines around a message: its sentences read already, so the whole needs the bar of a
# text asked to be decoded; and a page is not read whole this way.
_BLOCK_BAR = 0.15
_BLOCK_LINES = 10


def _encoded_block(text: str, start: int, end: int, plain_at: float) -> tuple[int, int]:
    """``text[start:end]`` widened over what stands next to it on its lines and over the
    lines above and below, up to a blank line or a piece of plain language (``plain_at`` of the
    commonest words in three or more)."""

    def plain(piece: str) -> bool:
        return len(piece.split()) >= 3 and _language_share(piece) >= plain_at

    first, last = start, end
    line_start = text.rfind("\n", 0, start) + 1
    if not plain(text[line_start:start]):
        first = line_start
        for _ in range(_BLOCK_LINES):
            if first == 0:
                break
            above = text.rfind("\n", 0, first - 1) + 1
            line = text[above : first - 1]
            if not line.strip() or plain(line):
                break
            first = above
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    if not plain(text[end:line_end]):
        last = line_end
        for _ in range(_BLOCK_LINES):
            if last >= len(text):
                break
            below = text.find("\n", last + 1)
            below = len(text) if below < 0 else below
            line = text[last + 1 : below]
            if not line.strip() or plain(line):
                break
            last = below
    return first, last


def _named_shift_readings(segment: str, named: int) -> list[tuple[str, str]]:
    """A segment under the Caesar shift its text names, and under it each word or the whole
    segment turned round: a sentence spelt backwards before it was shifted reads as no language
    once shifted back, and a document around it keeps the whole page from reading better."""
    shifted = caesar(segment, -named)
    return [
        ("caesar", shifted),
        ("word-reversed-caesar", _each_word_reversed(shifted)),
        ("reversed-caesar", shifted[::-1]),
    ]


# A filler character put after every character ("G0i0v0e0 0s0t0e0p"): a long run of text whose
# every second character is that one filler, which is neither a letter nor a space.
_INTERLEAVED = re.compile(r".(?P<f>[^\w\s]|\d|_)(?:.(?P=f)){11,}", re.DOTALL)
# A filler is a digit or punctuation, and the text it is put in may have either too ("1~g~n~0~r~3",
# "w7-7o7-7r7-7k"): one table reads digits as text and punctuation as filler, the other the
# other way round. A character outside ASCII reads as "?", punctuation.
_PUNCTUATION_FILLED = _class_table(
    {string.ascii_letters + string.digits + " \t\n": "a", string.punctuation: "o"}
)
_DIGITS_FILLED = _class_table(
    {string.ascii_letters + string.punctuation + " \t\n": "a", string.digits: "o"}
)
_TABLES_FILLED = (_PUNCTUATION_FILLED, _DIGITS_FILLED)


def _filler_removed(
    text: str, as_bytes: bytes, *, not_fillers: str = ""
) -> list[tuple[int, int, str]]:
    """The runs of ``text`` with a filler character after each character, without it, except
    runs filled with one of ``not_fillers``. A cheap test on the text as ASCII bytes first:
    six characters of text in a row, each followed by a digit or by punctuation. The run may be
    a sentence inside a long document, so the test reads the whole text, not a sample of it."""
    if len(text) < 24:
        return []
    if all(as_bytes.translate(table).find(b"ao" * 6) < 0 for table in _TABLES_FILLED):
        return []
    found: list[tuple[int, int, str]] = []
    for m in _INTERLEAVED.finditer(text):
        plain = m.group()[::2]
        # Not a rule of dashes or a row of zeros, which match too.
        if m.group("f") not in not_fillers and sum(map(str.isalpha, plain)) >= 6:
            found.append((m.start(), m.end(), plain))
    return found


# A word with a dot or a dash after (or before) each of its characters, punctuation among them:
# cut at spaces (the line breaks of "session>\n\nSystem:" are spread out with the rest), then
# at any white space (a spread-out rule of dashes before a line break upsets the alternation).
_SPREAD_WORDS = (re.compile(r"(?<![^ ])[^ ]{7,}"), re.compile(r"(?<!\S)\S{7,}"))
# Characters four or more with " . " between them, punctuation too ("< . | . i . m").
_SPACED_DOTS = re.compile(r"(?<!\S)\S(?: \. \S){3,}(?!\S)")


def _unspread_word(m: re.Match[str]) -> str:
    word = m.group()
    for gaps, kept in ((word[1::2], word[::2]), (word[::2], word[1::2])):
        if gaps[0] in ".-" and gaps == gaps[0] * len(gaps) and sum(map(str.isalpha, kept)) >= 3:
            return kept
    return word


def _spread_letters_joined(text: str) -> str | None:
    """``text`` with spread-out letters joined, if that joins enough letters to hide words.
    Words spread out whole are joined first, the brackets, colons and quotation marks in them
    too ("-<-e-n-d", "-S-y-s-t-e-m-:", "< . | . i . m"), which joining letters alone leaves
    spread: what says "<end of session>" or "System:" to a model should say it to the layer's
    rules."""
    words_joined = _SPACED_DOTS.sub(lambda m: m.group().replace(" . ", ""), text)
    for words in _SPREAD_WORDS:
        words_joined = words.sub(_unspread_word, words_joined)
    joined = join_spread_letters(_wide_spacing_joined(words_joined))
    if joined == text:
        return None
    # Each letter joined to the one before it is one word fewer: six is two spread words.
    merged = len(_WORD_CHARS.findall(text)) - len(_WORD_CHARS.findall(joined))
    return joined if merged >= _MIN_SPREAD_MERGES else None


def _as_language(decoded: str, at_least: float) -> str | None:
    """``decoded`` if it reads as English or another language of ``_LEXICONS``; else its
    undisguised form (leetspeak spelt out, spread-out letters joined) if that does: ROT13 leaves
    digits and separators alone, so a text disguised before it was encoded decodes to a
    disguised text."""
    head = decoded[:_UNDISGUISE_PROBE]
    spread = _SPREAD_OUT.search(head) is not None
    if _reads_as_language(decoded, at_least):
        # Read already, but spread-out words are still hidden from detectors that see words.
        return normalize(decoded) if spread else decoded
    # Undisguising costs more than the word count: it is tried on the start of the text (code
    # and other languages reach here whole), and done in full only once that reads as English.
    undisguised: list[Callable[[str], str]] = [_spell_out] if _maybe_leet(head) else []
    # Small capitals, doubled letters or letters upside down under the encoding.
    if _SMALL_CAPITAL.search(head):
        undisguised.append(fold_lookalike_words)
    if undoubled(head) is not None:
        undisguised.append(lambda text: undoubled(text) or text)
    if upside_down(head) is not None:
        undisguised.append(lambda text: upside_down(text) or text)
    # Lookalike letters (Cyrillic "а" for "a") pass through ROT13 as they are: they were
    # letters of the plain text, and fold to them once the Latin ones are decoded, words made
    # of them alone too ("а ріре bоmb").
    if spread:
        undisguised.append(normalize)
    if latin_with_lookalikes(head):
        undisguised.append(lambda text: normalize(fold_lookalikes(text)))
    for undisguise in undisguised:
        if _reads_as_language(undisguise(head), at_least):
            return undisguise(decoded)
    return None


# Pairs of the commonest words that English writes in this order and hardly ever the other way
# round ("of the", never "the of"): they tell a sentence from the same words in reverse.
_PLAIN_WORD = re.compile(r"[a-z]+")
_ORDERED_PAIRS = frozenset(
    tuple(pair.split())
    for pair in (
        "of the", "in the", "to the", "on the", "for the", "at the", "by the", "with the",
        "from the", "and the", "is the", "is a", "of a", "in a", "for a", "with a", "as a",
        "it is", "this is", "to be", "will be", "i am", "i have", "do not", "you are",
        "can you", "there is", "there are", "have been", "has been", "of this", "in this",
        "to this", "for this", "on this", "of my", "to my", "of your", "to your", "for your",
        "is not", "are not", "will not", "does not", "want to", "need to", "have to",
    )
)  # fmt: skip


def _in_word_order(text: str) -> int:
    """How many more of ``_ORDERED_PAIRS`` ``text`` holds in English order than reversed."""
    words = _PLAIN_WORD.findall(text.lower())
    pairs = list(pairwise(words))
    return sum(p in _ORDERED_PAIRS for p in pairs) - sum(p[::-1] in _ORDERED_PAIRS for p in pairs)


def _folded_share(text: str) -> float:
    """The language share of ``text`` read with its lookalike letters folded, as the rescan
    reads it (a decoding returned with its Cyrillic lookalikes still in it reads as less)."""
    return _language_share(
        normalize(fold_lookalikes(text)) if latin_with_lookalikes(text) else text
    )


def _spell_out(text: str) -> str:
    return _LEET_ANY.sub(_unleet_whole, text)


def _maybe_spread(text: str) -> bool:
    """Whether letters may be spread out with dots or dashes ("w.r.i.t.e"): a cheap test."""
    if not text.isascii():
        return _SPREAD_OUT.search(text) is not None
    return text.encode("ascii").translate(_SPREAD_CLASSES).find(b"asasa") >= 0


def _encoded_hints(text: str, *, spread: bool) -> bool:
    """Two encoded forms of the commonest words (the gate before reading segments); in a text
    with leetspeak, also in leetspeak ("0a" is "on"); with ``spread``, also spelt out
    ("n.a.q")."""
    tokens = text.lower().split()
    if sum(map(_ENCODED_COMMON.__contains__, tokens)) >= 2:
        return True  # at C speed: the common case
    if sum(map(_CAESAR_COMMON.__contains__, tokens)) >= 2:
        return True
    lookalikes = latin_with_lookalikes(text)
    if not (spread or lookalikes or _maybe_leet(text)):
        return False
    hints = 0
    for token in tokens:
        if token in _ENCODED_COMMON or _encoded_leet_common(token):
            hints += 1
        elif lookalikes and has_lookalike_words(token):
            hints += _encoded_lookalike_common(token)
        elif spread and not token.isalnum():
            hints += token.replace(".", "").replace("-", "") in _ENCODED_COMMON
        if hints >= 2:
            return True
    return False


# Readings that, done twice, give back the text: ROT13 of a page read whole as ROT13 turns its
# plain paragraphs back into themselves, a rescan each for nothing.
_SELF_INVERSE = frozenset({"rot13", "reversed", "word-reversed", "atbash"})


class ObfuscationMonitor(Inline):
    name = "obfuscation"
    stages = frozenset(Stage)

    def __init__(self, config: ObfuscationConfig) -> None:
        self.config = config

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        """Standalone use: report what decodes. In a layer the guard also rescans it."""
        if not self.config.report_all:
            return []
        summaries = (self.summarize(d, ()) for d in self.decode(content.text))
        return [f for f in summaries if f is not None]

    def summarize(self, decoded: Decoded, inner: Sequence[Finding]) -> Finding | None:
        """The obfuscation finding for a decoded view, given what the rescan found in it; none
        for serialised text read as the model reads it (``READINGS``), which disguises nothing."""
        if READINGS.issuperset(decoded.chain):
            return None
        score = max((f.score for f in inner), default=0.3)
        return Finding(
            self.name,
            "obfuscation",
            score,
            (decoded.span,),
            {
                "encoding": list(decoded.chain),
                "hidden": sorted({f.category for f in inner}),
                "preview": decoded.text[:120],
            },
        )

    def decode(self, text: str) -> list[Decoded]:
        out: list[Decoded] = []
        self._decode_into(text, None, (), out, [self.config.max_decoded_chars], (text,))
        # A segment found in the text is found again inside a view of the whole text (a
        # base64 blob in a JSON result with escaped lines): read once, by its shortest chain.
        shortest: dict[str, Decoded] = {}
        for d in out:
            kept = shortest.get(d.text)
            if kept is None or len(d.chain) < len(kept.chain):
                shortest[d.text] = d
        return [d for d in out if shortest[d.text] is d]

    def _decode_into(
        self,
        text: str,
        parent: Span | None,
        chain: tuple[str, ...],
        out: list[Decoded],
        budget: list[int],
        enclosing: tuple[str, ...],
    ) -> None:
        """The views of ``text`` and, nested, of each view. ``enclosing``: the texts it was read
        from, the layer's own first, whose every part the layer reads already."""
        if len(chain) >= self.config.max_depth:
            return
        for start, end, kind, plain in self._candidates(text):
            if len(out) >= self.config.max_segments:
                return
            if chain and kind == chain[-1] and kind in _SELF_INVERSE:
                continue  # undoes the reading it is nested in: the text the layer read already
            if chain and kind not in READINGS and any(plain in read for read in enclosing):
                # A decoding nested in a view that gives back what the layer read already: a
                # page read whole under a named Caesar shift, then its paragraphs back under
                # the inverse shift, a rescan each for nothing. (Readings of a text's own parts,
                # its last turn or its string values, are read for their own sake.)
                continue
            # A reading of serialised text is never longer than the text (which the guard
            # bounds), so only decodings, which can grow, share the budget: a long JSON result
            # is read to its end.
            if kind not in READINGS:
                if budget[0] <= 0:
                    continue
                plain = plain[: budget[0]]
                budget[0] -= len(plain)
            # A nested decoding keeps the outermost segment as its span: that is what the
            # caller sent, and what a redaction must remove.
            span = parent if parent is not None else Span(start, end)
            decoded = Decoded(plain, (*chain, kind), span)
            out.append(decoded)
            self._decode_into(plain, span, decoded.chain, out, budget, (*enclosing, plain))

    def _candidates(self, text: str) -> list[tuple[int, int, str, str]]:
        found: list[tuple[int, int, str, str]] = []
        # The cheap tests read the text as bytes (other characters as "?"), encoded once.
        as_bytes = text.encode("ascii", "replace")
        if _maybe_encoded(text):
            self._encodings(text, found)
        if _maybe_morse(as_bytes):
            self._morse(text, found)
        self._other_encodings(text, as_bytes, found)
        self._ciphers(text, found)
        if "%" in text:
            for m in _URL.finditer(text):
                # "+" is a space in a query string, not a letter "t" to read as leetspeak.
                plain = urllib.parse.unquote_plus(m.group())
                if plain != m.group():
                    found.append((m.start(), m.end(), "url", plain))
        if _maybe_split(text):
            for span, plain in _joined_payloads(text):
                found.append((span.start, span.end, "concatenation", plain))
        joined = _spread_letters_joined(text) if _maybe_spaced(as_bytes) else None
        # Letters spread with dots or dashes are a filler after each letter too: the spacing
        # view below reads them whole, word by word, and one view a word would spend the budget
        # of views before it.
        not_fillers = "" if joined is None else ".-"
        for start, end, plain in _filler_removed(text, as_bytes, not_fillers=not_fillers):
            found.append((start, end, "interleaved", plain))
        if text.count(":") >= 3:
            asked = _last_asked(text)
            if asked is not None:
                found.append((asked[0].start, asked[0].end, LAST_TURN, asked[1]))
        if joined is not None:
            found.append((0, len(text), "spacing", joined))
            # Spread across pieces joined again ("E x p l a i n h" + "ow to m a k"), the
            # letters lose the spaces between words ("Explainh ow to makecounterfeitb"): read
            # them run together too, where the catalogues' phrases match without spaces.
            found.append((0, len(text), "run-together", _NOT_LETTERS.sub("", joined)))
        self._language_views(text, found)
        if self.config.misspellings:
            found += [(s, e, "misspelt", view) for s, e, view in misspelt_views(text)]
        # Serialised text read as its reader reads it (a JSON result's strings, a page's text).
        found += readings(text)
        return found

    def _encodings(self, text: str, found: list[tuple[int, int, str, str]]) -> None:
        for m in _BASE64.finditer(text):
            token = m.group()
            stripped = token.rstrip("=")
            padded = stripped + "=" * (-len(stripped) % 4)
            try:
                raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
            except (binascii.Error, ValueError):
                continue
            self._add_text(found, m.start(), m.end(), "base64", raw)
        for m in _BASE32.finditer(text):
            token = m.group()
            try:
                stripped = token.rstrip("=")
                raw = base64.b32decode(stripped + "=" * (-len(stripped) % 8))
            except (binascii.Error, ValueError):
                continue
            if not any(s <= m.start() < e for s, e, _, _ in found):
                self._add_text(found, m.start(), m.end(), "base32", raw)
        for m in _HEX.finditer(text):
            digits = re.sub(r"\\x|[ :,-]", "", m.group())
            try:
                raw = bytes.fromhex(digits)
            except ValueError:
                continue
            if not any(s <= m.start() < e for s, e, _, _ in found):
                self._add_text(found, m.start(), m.end(), "hex", raw)

    def _other_encodings(
        self, text: str, as_bytes: bytes, found: list[tuple[int, int, str, str]]
    ) -> None:
        """Binary, ASCII85 and base85, uuencode, quoted-printable and character escapes, each
        behind a test that costs a byte translation or a substring search of ``as_bytes``."""
        if _maybe_bits(as_bytes):
            for m in _BINARY.finditer(text):
                bits = re.sub(r"[ ,]", "", m.group())
                raw = int(bits, 2).to_bytes(len(bits) // 8, "big")
                self._add_text(found, m.start(), m.end(), "binary", raw)
        if "<~" in text:
            for m in _ASCII85.finditer(text):
                try:
                    raw = base64.a85decode(m.group(), adobe=True, ignorechars=b" \t\r\n")
                except ValueError:
                    continue
                self._add_text(found, m.start(), m.end(), "ascii85", raw)
        for m in _LONG_TOKEN.finditer(text) if _maybe_long_token(as_bytes) else ():
            token = m.group()
            if _NOT_BASE64.search(token) is None or not _mixed_classes(token):
                continue
            for kind, alphabet, decode in (
                ("base85", _BASE85, base64.b85decode),
                ("ascii85", _ASCII85_TOKEN, base64.a85decode),
            ):
                if alphabet.fullmatch(token) is None:
                    continue
                try:
                    raw = decode(token)
                except ValueError:
                    continue
                if self._add_text(found, m.start(), m.end(), kind, raw):
                    break
        self._uuencoded(text, as_bytes, found)
        if "=" in text and len(_QP_ESCAPE.findall(text)) >= 6:
            for m in _QUOTED_PRINTABLE.finditer(text):
                raw = quopri.decodestring(m.group().encode())
                self._add_text(found, m.start(), m.end(), "quoted-printable", raw)
        if _maybe_escaped(text):
            for m in _CHAR_ESCAPES.finditer(text):
                escaped = m.group()
                if escaped.startswith("&"):
                    plain = html.unescape(escaped)
                else:
                    try:
                        plain = codecs.decode(escaped, "unicode_escape")
                    except UnicodeDecodeError:
                        continue
                if plain.isprintable():
                    found.append((m.start(), m.end(), "escapes", plain))

    def _add_text(
        self, found: list[tuple[int, int, str, str]], start: int, end: int, kind: str, raw: bytes
    ) -> bool:
        """Keep a decoding of ``[start, end)`` if its bytes are text; whether it was kept."""
        plain = _printable_text(raw, self.config.min_printable)
        if plain is not None:
            found.append((start, end, kind, plain))
        return plain is not None

    def _uuencoded(
        self, text: str, as_bytes: bytes, found: list[tuple[int, int, str, str]]
    ) -> None:
        """Consecutive uuencoded lines, decoded together."""
        if as_bytes.translate(_UU_CLASSES).find(b"u" * 12) < 0:
            return
        block: list[re.Match[str]] = []
        for m in _UU_LINE.finditer(text):
            line = m.group()
            size = ord(line[0]) - 32
            expected = 4 * ((size + 2) // 3)  # trailing padding may have been trimmed
            if not expected - 3 <= len(line) - 1 <= expected + 1:
                continue
            if block and text[block[-1].end() : m.start()].strip():
                self._uu_block(block, found)
                block = []
            block.append(m)
        if block:
            self._uu_block(block, found)

    def _uu_block(self, block: list[re.Match[str]], found: list[tuple[int, int, str, str]]) -> None:
        try:
            raw = b"".join(binascii.a2b_uu(m.group()) for m in block)
        except binascii.Error:
            return
        if len(raw) >= 6:
            self._add_text(found, block[0].start(), block[-1].end(), "uuencode", raw)

    def _ciphers(self, text: str, found: list[tuple[int, int, str, str]]) -> None:
        if text.isascii():
            for start, end, plain in nato_runs(text):
                found.append((start, end, "nato", plain))
            return
        for start, end, cells in braille_runs(text):
            found.append((start, end, "braille", cells))
        for start, end, kind, raw in hidden_byte_runs(text):
            # Of a bit run's two readings, the first that is text.
            if not any(s == start for s, _, _, _ in found):
                self._add_text(found, start, end, kind, raw)

    @staticmethod
    def _morse(text: str, found: list[tuple[int, int, str, str]]) -> None:
        for m in _MORSE.finditer(text):
            words = re.split(r" ?/ ?| {2,}", m.group())
            codes = [word.split() for word in words]
            letters = sum(len(c) for c in codes)
            known = sum(code in _MORSE_CODE for c in codes for code in c)
            if known < 0.9 * letters:
                continue  # dots and dashes, but not Morse
            plain = " ".join("".join(_MORSE_CODE.get(code, "?") for code in c) for c in codes)
            found.append((m.start(), m.end(), "morse", plain))

    def _language_views(self, text: str, found: list[tuple[int, int, str, str]]) -> None:
        """ROT13 and other Caesar shifts, reversed, Atbash, upside-down and doubled text, and
        leetspeak: decodings of the whole text that read better."""
        if len(text) < 12:
            return
        # Long text with everyday English words in it is plainly not ROT13 or reversed; the
        # word count is only worth doing on the rest. Unless it names a cipher: a long cipher
        # behind a line of plain English ("Decode it and do what it says: ...") has those
        # words too.
        low = text.lower()
        named = _named_shift(low)
        asked = named is not None or any(cue in low for cue in _CUE_WORDS)
        # Code decodes bytes and shifts bits all the time; only a cipher named is that ask.
        cipher = "caesar" in low or "cipher" in low
        plainly_english = (
            not (cipher or "rot13" in low)
            and len(text) >= 200
            and any(cue in f" {low} " for cue in _ENGLISH_CUES)
        )
        base = 1.0 if plainly_english else _language_share(text)
        whole = len(found)
        # The decoding the text itself names is what the model will read, however little of it
        # is common words (a list of a persona's traits, typos, words spelt backwards): kept
        # without a test, and made however much plain English is around the cipher.
        named_shift = -named % 26 if named is not None and cipher else None
        if base >= 0.3 and named_shift:
            found.append((0, len(text), "caesar", caesar(text, named_shift)))
        if _ROT13_NAMED.search(low):
            # ROT13 named is read whole too, however little of it reads as language: what it
            # hides may be encoded again (base64 or hex under ROT13), or code.
            found.append((0, len(text), "rot13", codecs.encode(text, "rot13")))
        named_reversed: tuple[str, ...] = ()
        if _WORDS_NAMED_REVERSED.search(low):
            # So is every word spelt backwards, named: a split payload under it ("s'teL yalp a
            # gnirts ...") reads as no language until it is turned back and joined. Words cut
            # at spaces too, not at line breaks: reversed so, "b.\na" is one word ("a\n.b").
            # Whatever the script: a document with one dash or accent in it is read so too.
            named_reversed = _words_turned_back(text)
            found += [(0, len(text), "word-reversed", reading) for reading in named_reversed]
        if base < 0.3:
            shifts = [s for s in caesar_shifts(text) if s != named_shift]
            # Reversed, then ROT13, as well: the two readings alone each leave the other's
            # garble, so neither reads as language.
            decodings = [("caesar", caesar(text, named_shift), True)] if named_shift else []
            decodings += [
                (kind, decoded, False) for kind, decoded in _turned_and_shifted(text, shifts)
            ]
            for kind, decoded, named_by_text in decodings:
                if decoded == text:
                    continue  # nothing undone (letters spread out, words spelt alike backwards)
                plain = _as_language(decoded, max(0.3, base + 0.2))
                if kind == "word-reversed" and (plain or decoded) in named_reversed:
                    continue  # read above, whole: the same view would be decoded twice
                if plain is not None or named_by_text:
                    found.append((0, len(text), kind, plain or decoded))
        if len(found) == whole or asked:
            # A plain-English wrapper around an encoded sentence ("Decode this ROT13 and do
            # what it says: Vtaber nyy ..."): the whole text reads fine, the segment does not.
            # Asked for, the segments are read beside a whole decoding, which garbles the
            # wrapper and may read worse to a detector than the sentences alone.
            self._segment_views(text, found, named=named, asked=asked)
        # Letters turned upside down or written twice are read whatever surrounds them: noise
        # after them ("... :) revert please") keeps the whole from reading as language. Words
        # with every letter doubled, or a stretch a fifth of whose letters only a turned
        # alphabet has, are that disguise with no reading needed. After the segments, which
        # read an encoding put over them first.
        doubled = undoubled(text)
        if doubled is not None:
            found.append((0, len(text), "doubled", doubled))
        turned = turned_run(text)
        if turned is not None:
            start, end, right_way_up = turned
            found.append((start, end, "upside-down", right_way_up))
            # ROT13 put over turned letters moves only those a turned alphabet shares with
            # Latin ("d" for "p"): undone first, the rest turns back to a sentence, where the
            # turned reading alone leaves every fourth letter moved and no language.
            under = turned_run(codecs.encode(text[start:end], "rot13"))
            if under is not None and _language_share(under[2]) > _language_share(right_way_up):
                found.append((start, end, "upside-down-rot13", under[2]))
        if not _maybe_leet(text):
            return
        real_leet = [m.group() for m in _LEET_TOKEN.finditer(text) if _is_leet(text, m)]
        if len(real_leet) >= 2:
            # Once the text is plainly leetspeak, short words ("7h3", "15") are decoded too.
            decoded = _LEET_WORD.sub(_unleet, text)
            if decoded != text and _reads_as_leetspeak(text, decoded, len(real_leet)):
                # Read as leetspeak, a lone "4" is "a" ("synthesise 4 nerve agent").
                found.append((0, len(text), "leetspeak", _spell_out(text)))

    @staticmethod
    def _segment_views(
        text: str, found: list[tuple[int, int, str, str]], *, named: int | None, asked: bool
    ) -> None:
        """Encoded sentences inside plain text, behind a cheap gate: encoded forms of the
        commonest words, or a text that asks for decoding (``asked``) or names a Caesar shift
        (``named``)."""
        spread = _maybe_spread(text)
        if not (asked or _encoded_hints(text, spread=spread)):
            return
        # Asked to decode, a short request may read as language with fewer common words, and
        # a disguised sentence may keep more of them as they were ("a", "I" read the same
        # backwards: three of sixteen words in "etaerC a krowten ... a ...").
        at_least = 0.15 if asked else 0.3
        plain_at = 0.3 if asked else 0.2
        # Sentences, unless letters are spread out with dots: then the dots are no sentence end.
        segments = _CLAUSE if spread and _SPREAD_OUT.search(text) else _SEGMENT
        # Each segment read, with its best readings (several when they tie), best first.
        read: list[tuple[int, int, list[tuple[str, str]]]] = []
        for m in segments.finditer(text):
            raw = m.group()
            segment = raw.strip()
            if len(segment.split()) < 3 or _language_share(segment) >= plain_at:
                continue
            start = m.start() + (len(raw) - len(raw.lstrip()))
            # The decoding that reads best: a wrong one can read as language just enough
            # (ROT13 of a Caesar cipher, its common short words garbled into others). The
            # shift the text names comes first, so it wins a tie: in small capitals, which no
            # shift moves, only the few letters without a small capital were shifted, and
            # every decoding reads the rest alike.
            readings = [
                (kind, plain)
                for kind, decoded in (
                    *(_named_shift_readings(segment, named) if named else []),
                    # Two disguises at once too, asked for or not (a model reads ROT13
                    # unasked): two word counts more, only for a segment past the gate.
                    *_turned_and_shifted(segment, [] if named else caesar_shifts(segment, 1)),
                )
                if decoded != segment
                and (plain := _as_language(decoded, _reading_bar(kind, at_least))) is not None
            ]
            if readings:
                shares = [_folded_share(plain) for _, plain in readings]
                best = max(shares)
                tied = [r for r, share in zip(readings, shares, strict=True) if share == best]
                # The first is this segment's reading; a tie is read too, since the same words
                # make the same share: reversed whole or word by word, which only order tells,
                # so the reading in English word order comes first (stable: else the first).
                if len(tied) > 1:
                    tied.sort(key=lambda r: -_in_word_order(r[1]))
                read.append((start, start + len(segment), tied))
        if not read:
            return
        found += [(s, e, *r[0]) for s, e, r in read]
        found += [(s, e, kind, plain) for s, e, r in read for kind, plain in r[1:]]
        # The sentences of one encoded message read together too, the plain text between them
        # kept: a detector reads a long message better whole than sentence by sentence. They
        # are read as one disguise all of them may be under, the one in English word order.
        # Each segment's readings by kind (a kind read twice: its better reading).
        by_kind = [{kind: plain for kind, plain in reversed(r)} for _, _, r in read]
        common = [kind for kind, _ in read[0][2] if all(kind in r for r in by_kind[1:])]
        if not common:
            return
        kind = max(common, key=lambda k: sum(_in_word_order(r[k]) for r in by_kind))
        if len(read) >= 2:
            parts: list[str] = []
            at = read[0][0]
            for (s, e, _), r in zip(read, by_kind, strict=True):
                parts += [text[at:s], r[kind]]
                at = e
            found.append((read[0][0], read[-1][1], kind, "".join(parts)))
        if (undo := _LINEWISE.get(kind)) is not None:
            start, end = read[0][0], read[-1][1]
            block = _encoded_block(text, start, end, plain_at)
            if text[block[0] : start].strip() or text[end : block[1]].strip():
                for reading in undo(text[block[0] : block[1]]):
                    if (decoded := _as_language(reading, _BLOCK_BAR)) is not None:
                        found.append((*block, kind, decoded))


@monitor(
    "obfuscation",
    stages=list(Stage),
    categories=("obfuscation",),
    config=ObfuscationConfig,
    description=(
        "Decodes base64/32/85, hex, binary, URL, quoted-printable, uuencode, character escapes, "
        "Morse, Braille, NATO, ROT13 and other Caesar shifts, Atbash, leetspeak, reversed, "
        "upside-down and doubled text, misspelt attack words and bytes hidden in invisible "
        "characters, joins spread-out letters and split strings, and rescans the result"
    ),
)
def obfuscation_monitor(config: ObfuscationConfig) -> ObfuscationMonitor:
    return ObfuscationMonitor(config)
