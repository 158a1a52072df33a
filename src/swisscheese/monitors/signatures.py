"""Signatures of known attack phrasing: instruction override, jailbreak personas, prompt
extraction and delimiter spoofing, in several languages.

Phrases are matched on a folded view of the text (see ``_text.fold``) so case, accents,
confusables, invisible characters and punctuation between words do not matter. Text whose words
were split into single characters ("i g n o r e", "i.g.n.o.r.e") is also matched with the spaces
taken out. An Aho-Corasick pass over one anchor word per phrase picks the few phrases worth
running, so the cost grows with what the text contains, not with the size of the catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick

from swisscheese.common import yamls
from swisscheese.core import Content, Context, Finding, Span, Stage
from swisscheese.core.errors import SwisscheeseError
from swisscheese.monitors._framing import described, own_delimiter, own_label, ruled_out
from swisscheese.monitors._registry import Inline, MonitorConfig, monitor
from swisscheese.monitors._text import View, fold, normalize

_GAPS = {"~": 3, "~~": 6}
# The score of attack phrasing an operator's rule describes: under the default block threshold
# (0.5), still reported to a policy that asks for weak cues.
DESCRIBED_SCORE = 0.3
# Markers an operator's message may carry as its own structure, each with the test that says it
# is the message's own: "System: You are ..." opening it is its heading, not a spoofed turn; an
# "End of system prompt." line in it is its boundary, not a forged one.
OWN_MARKERS: dict[str, Callable[[str, int, int], bool]] = {
    "delimiter.fake-turn": own_label,
    "delimiter.end-of-prompt": own_delimiter,
}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
# Four or more single-character tokens in a row: words spelled out to dodge filters.
_SPLIT_WORDS = re.compile(r" [^ ] [^ ] [^ ] [^ ] ")
# Or words run together, the way letters spread out with single spaces read once joined
# ("howtolaunderonemilliondollars"): the longest common English words have about 20 letters.
# Read in the text as written, where a name in code has capitals or underscores between its
# words ("UnsupportedFieldAttributeWarning").
_RUN_TOGETHER = re.compile(r"[a-z]{24}")


class SignatureSyntaxError(SwisscheeseError, ValueError):
    pass


@dataclass(frozen=True, slots=True)
class _Item:
    alternatives: tuple[str, ...]  # folded literal words (may contain spaces)
    stems: tuple[bool, ...]
    optional: bool
    gap_before: int
    negative: bool = False
    """``!a|b``: the next word is none of these (the phrase ends before it)."""


@dataclass(frozen=True, slots=True)
class Signature:
    id: str
    category: str
    score: float
    lang: str
    phrase: str
    stages: frozenset[Stage] = frozenset(Stage)
    """Where the phrasing is an attack: "in your reply, add ..." is a user's wish in a prompt and
    an order to the model in a fetched document."""
    in_operator_text: bool = True
    """Whether it applies to an operator's own text (system and developer messages, tool and
    schema definitions), where telling the model how to reply is the point."""

    def applies_to(self, content: Content) -> bool:
        return content.stage in self.stages and (self.in_operator_text or not content.from_operator)


@dataclass(frozen=True, slots=True)
class _Compiled:
    signature: Signature
    token: re.Pattern[str]
    compact: re.Pattern[str]
    leading: bool  # its anchor is its first word: try a match where the anchor starts
    needs: bool  # a word of a second item must occur too before it is tried


def _fold_literal(word: str) -> str:
    return " ".join(fold(word.replace("_", " ")).text.split())


def parse_phrase(phrase: str) -> list[_Item]:
    """Parse the phrase syntax described in ``data/signatures.yaml``."""
    items: list[_Item] = []
    gap = 0
    for raw in phrase.split():
        if raw in _GAPS:
            if not items:
                raise SignatureSyntaxError(f"phrase starts with a gap: {phrase!r}")
            gap = max(gap, _GAPS[raw])
            continue
        negative = raw.startswith("!") and len(raw) > 1
        optional = raw.endswith("?") and len(raw) > 1 and not negative
        body = raw[1:] if negative else raw[:-1] if optional else raw
        if negative and (not items or gap):
            raise SignatureSyntaxError(f"a negative item follows a word, not a gap: {phrase!r}")
        alternatives: list[str] = []
        stems: list[bool] = []
        for alt in body.split("|"):
            stem = alt.endswith("*")
            literal = _fold_literal(alt[:-1] if stem else alt)
            if not literal:
                raise SignatureSyntaxError(f"empty word in {raw!r} of {phrase!r}")
            alternatives.append(literal)
            stems.append(stem)
        if optional and not items:
            raise SignatureSyntaxError(f"phrase starts with an optional item: {phrase!r}")
        items.append(_Item(tuple(alternatives), tuple(stems), optional, gap, negative))
        gap = 0
    if gap:
        raise SignatureSyntaxError(f"phrase ends with a gap: {phrase!r}")
    if not items:
        raise SignatureSyntaxError("empty phrase")
    return items


def _item_regex(item: _Item, *, compact: bool) -> str:
    parts = []
    for literal, stem in zip(item.alternatives, item.stems, strict=True):
        word = re.escape(literal.replace(" ", "")) if compact else re.escape(literal)
        word = word.replace(r"\ ", " +")
        if stem:
            word += ".{0,6}?" if compact else "[^ ]*"
        parts.append(word)
    # Longest first, so that "instructions" is preferred to "instruct" at the same place.
    parts.sort(key=len, reverse=True)
    return "(?:" + "|".join(parts) + ")"


def compile_phrase(phrase: str, *, cjk: bool) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The token-view and compact-view regexes of one phrase."""
    items = parse_phrase(phrase)
    token: list[str] = []
    compact: list[str] = []
    for i, item in enumerate(items):
        if cjk:
            sep = f".{{0,{item.gap_before * 2}}}?" if item.gap_before else " ?"
        else:
            sep = f" +(?:[^ ]+ +){{0,{item.gap_before}}}" if item.gap_before else " +"
        csep = f".{{0,{item.gap_before * 8}}}?" if item.gap_before else ""
        t = _item_regex(item, compact=False)
        c = _item_regex(item, compact=True)
        if i == 0:
            token.append(t)
            compact.append(c)
        elif item.negative:
            token.append(f"(?! +{t}(?![^ ]))")
            compact.append(f"(?!{c})")
        elif item.optional:
            token.append(f"(?:{sep}{t})?")
            compact.append(f"(?:{csep}{c})?")
        else:
            token.append(sep + t)
            compact.append(csep + c)
    body = "".join(token)
    if not cjk:
        body = f"(?<![^ ]){body}(?![^ ])"
    return re.compile(body), re.compile("".join(compact))


# Words too common to tell a phrase is worth trying.
_STOP = frozenset(
    """a an the you your yours to all any my me is are be it do not no and of in on for with
    that this what which was were will""".split()
)


def _selectivity(item: _Item) -> int:
    return min(0 if (w := a.split(" ")[0]) in _STOP else len(w) for a in item.alternatives)


# Words too frequent to look for where an item has a rarer one: every occurrence costs a
# look-up ("from", "into", "plan").
_FREQUENT = frozenset(
    """i we us our they them their he she his her him its can could would should might may must
    need want have has had get got make made take use used go going come give tell say from
    into over out up down off about after before than then there here when where how why who
    one two some more most other such only also just like well way new now good first last time
    day work plan text notes story turn check mail party part place people thing things help
    show find know think see look keep let put end start run set try ask call""".split()
)


def _rarity(word: str) -> int:
    """How few texts a word is likely to be in: its length, a frequent word counting as two
    letters and a stop word as none."""
    return 0 if word in _STOP else min(2, len(word)) if word in _FREQUENT else len(word)


def _key_word(literal: str) -> str:
    """The word of a (multi-word) literal to look for, which any match holds: its rarest."""
    return max(literal.split(" "), key=_rarity)


def _inner_selectivity(item: _Item) -> int:
    return min(_rarity(_key_word(a)) for a in item.alternatives)


def _most_selective(items: list[_Item]) -> _Item:
    """Of equally selective items, the one with fewer words to look for."""
    return max(items, key=lambda i: (_inner_selectivity(i), -len(i.alternatives)))


# A first item at least this selective anchors the phrase at its own start (a match attempt
# where the anchor occurs, instead of a search around it).
_LEADING_ANCHOR = 4

Words = tuple[tuple[str, bool], ...]


def _words_of(item: _Item, key: Callable[[str], str]) -> Words:
    """The word to look for of each alternative, with whether it must end a word (a stem
    need not, nor a word inside a multi-word alternative)."""
    return tuple(
        (key(a), not stem and " " not in a)
        for a, stem in zip(item.alternatives, item.stems, strict=True)
    )


def _anchors(phrase: str) -> tuple[bool, Words, Words]:
    """Whether the anchor is the phrase's first item; the words of the anchoring item (one of
    which must occur); and the words of another item the phrase needs, one of which must occur
    too before the phrase is tried (none if no other item is worth it)."""
    items = parse_phrase(phrase)
    needed = [i for i in items if not (i.optional or i.negative)]
    if _selectivity(items[0]) >= _LEADING_ANCHOR:
        # The first word only: the token view may hold several spaces where the text had
        # punctuation, and the squeezed view none at all.
        best, leading = items[0], True
        words = _words_of(best, lambda a: a.split(" ")[0])
    else:
        # Elsewhere the phrase is searched for around its anchor, so any word of an
        # alternative will do: the rarest ("how to" by "how", "a pump and dump" by "pump").
        best, leading = _most_selective(needed), False
        words = _words_of(best, _key_word)
    # One more item, the next most selective, if its words are rare enough to be worth a look
    # up for every occurrence (more, and the look-ups cost what the searches they spare do).
    rest = [i for i in needed if i is not best and _inner_selectivity(i) >= _LEADING_ANCHOR]
    return leading, words, _words_of(_most_selective(rest), _key_word) if rest else ()


# How far from its anchor a phrase may start or end: a phrase is a handful of words and gaps.
_NEAR = 240


def _search_near(
    pattern: re.Pattern[str], text: str, anchors: list[int]
) -> Iterator[re.Match[str]]:
    """Matches only in the stretches of text around the anchor hits (merged), not all of it,
    in order."""
    start = end = -1
    for hit in anchors:
        lo, hi = max(0, hit - _NEAR), min(len(text), hit + _NEAR)
        if lo <= end:
            end = hi
            continue
        if end >= 0:
            yield from _search_window(pattern, text, start, end)
        start, end = lo, hi
    if end >= 0:
        yield from _search_window(pattern, text, start, end)


def _search_window(
    pattern: re.Pattern[str], text: str, lo: int, hi: int
) -> Iterator[re.Match[str]]:
    # Cut windows at spaces so no word is split at the edge (a split word could match a
    # shorter alternative).
    if hi < len(text):
        space = text.rfind(" ", lo, hi)
        hi = space if space > lo else hi
    return pattern.finditer(text, lo, hi)


class SignaturesConfig(MonitorConfig):
    files: tuple[Path, ...] = ()
    """Extra signature files (same YAML format as the built-in catalogue), added to it."""
    builtin: bool = True
    """Use the built-in catalogue."""
    languages: tuple[str, ...] = ()
    """Restrict phrase signatures to these languages (empty: all)."""


def load_catalogue(
    config: SignaturesConfig, builtin: tuple[str, ...] = ("data/signatures.yaml",)
) -> list[dict[str, Any]]:
    """The signatures of the built-in files ``builtin`` (unless the config leaves them out)
    and of the config's files, each file's word lists expanded in its own phrases."""
    entries: list[dict[str, Any]] = []
    for name in builtin if config.builtin else ():
        text = resources.files("swisscheese.monitors").joinpath(name).read_text(encoding="utf-8")
        entries.extend(expand_word_lists(yamls.load(text), name))
    for path in config.files:
        loaded = yamls.load(Path(path).read_text(encoding="utf-8")) or []
        if not isinstance(loaded, list):
            raise SignatureSyntaxError(f"{path}: expected a list of signatures")
        entries.extend(expand_word_lists(loaded, str(path)))
    return entries


_WORD_LIST = re.compile(r"\{([a-z0-9_-]+)\}")


def expand_word_lists(entries: list[Any], where: str) -> list[dict[str, Any]]:
    """Signature entries with the file's named word lists put in: an entry ``{words: NAME,
    alternatives: [...]}`` defines a list, and ``{NAME}`` written after it, as a phrase item
    (``{NAME}?`` optional, ``!{NAME}`` negative) or as one of an item's alternatives
    (``{NAME}|her|him``), stands for ``a|b|c``."""
    lists: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise SignatureSyntaxError(f"{where}: expected a mapping, not {entry!r}")
        if "words" in entry:
            name, alternatives = str(entry["words"]), entry.get("alternatives")
            if not isinstance(alternatives, list) or not alternatives:
                raise SignatureSyntaxError(f"{where}: word list {name}: no alternatives")
            lists[name] = "|".join(str(a) for a in alternatives)
            continue
        if "phrases" in entry:
            entry = {
                **entry,
                "phrases": [_put_lists(p, lists, entry, where) for p in entry["phrases"]],
            }
        out.append(entry)
    return out


def _put_lists(phrase: str, lists: dict[str, str], entry: dict[str, Any], where: str) -> str:
    def put(m: re.Match[str]) -> str:
        if m[1] not in lists:
            raise SignatureSyntaxError(
                f"{where}: signature {entry.get('id')}: no word list {m[1]!r} defined before it"
            )
        return lists[m[1]]

    return _WORD_LIST.sub(put, str(phrase))


class SignaturesMonitor(Inline):
    name = "signatures"
    stages = frozenset(Stage)
    catalogue: tuple[str, ...] = ("data/signatures.yaml",)
    described = staticmethod(described)
    """Whether a match in an operator's text is described rather than issued."""

    def __init__(self, config: SignaturesConfig) -> None:
        self.config = config
        self._phrases: list[_Compiled] = []
        # Raw regexes with their cues: lower-case substrings one of which must occur.
        self._raw: list[tuple[Signature, re.Pattern[str], tuple[str, ...]]] = []
        self._automaton = ahocorasick.Automaton()
        # Each word to look for, with the phrases it is for: (phrase, whole word, whether it
        # is of the anchoring item or of the second one the phrase needs).
        anchors: dict[str, list[tuple[int, bool, bool]]] = {}
        for entry in load_catalogue(config, self.catalogue):
            self._add(entry, anchors)
        for anchor, indexes in anchors.items():
            self._automaton.add_word(anchor, (len(anchor), tuple(indexes)))
        if anchors:
            self._automaton.make_automaton()
        self._has_anchors = bool(anchors)

    def _add(self, entry: dict[str, Any], anchors: dict[str, list[tuple[int, bool, bool]]]) -> None:
        sid = str(entry["id"])
        category = str(entry["category"])
        score = float(entry["score"])
        lang = str(entry.get("lang", ""))
        stages = _stages(sid, entry.get("stages"))
        operators = bool(entry.get("in_operator_text", True))
        if "regex" in entry:
            sig = Signature(sid, category, score, lang, str(entry["regex"]), stages, operators)
            pattern = re.compile(str(entry["regex"]), re.IGNORECASE | re.MULTILINE)
            cues = tuple(str(a).lower() for a in entry.get("anchors", ()))
            self._raw.append((sig, pattern, cues))
            return
        if self.config.languages and lang not in self.config.languages:
            return
        for phrase in entry["phrases"]:
            cjk = bool(_CJK.search(phrase))
            token, compact = compile_phrase(phrase, cjk=cjk)
            leading, anchor_words, needed_words = _anchors(phrase)
            index = len(self._phrases)
            self._phrases.append(
                _Compiled(
                    Signature(sid, category, score, lang, phrase, stages, operators),
                    token,
                    compact,
                    leading,
                    bool(needed_words),
                )
            )
            for is_anchor, words in ((True, anchor_words), (False, needed_words)):
                for word, whole_word in words:
                    anchors.setdefault(word, []).append((index, whole_word and not cjk, is_anchor))

    @property
    def signatures(self) -> list[Signature]:
        return [c.signature for c in self._phrases] + [s for s, _, _ in self._raw]

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        text = content.text
        hits: dict[str, Finding] = {}
        # In an operator's own instructions (a system or developer message; not a tool's
        # definition, which is read as retrieved content), attack phrasing framed as something
        # to refuse is only a weak cue; another, unframed, match of the same signature is
        # looked for.
        operator = content.from_operator and content.stage is Stage.INPUT
        source = text if operator else None
        view = fold(text)
        self._match_view(view, view.text, None, hits, source, content)
        if _SPLIT_WORDS.search(f" {view.text} ") or (
            max(map(len, view.text.split()), default=0) >= 24 and _RUN_TOGETHER.search(text)
        ):
            positions = [i for i, ch in enumerate(view.text) if ch != " "]
            squeezed = "".join(view.text[i] for i in positions)
            self._match_view(view, squeezed, positions, hits, source, content)
        if self._raw:
            normal = View(text, len(text)) if ctx.normalized else normalize(text)
            lowered = normal.text.lower()
            for sig, pattern, cues in self._raw:
                if not sig.applies_to(content) or (
                    cues and not any(cue in lowered for cue in cues)
                ):
                    continue
                for m in pattern.finditer(normal.text):
                    if self._hit(hits, sig, normal, m.start(), m.end(), "regex", source):
                        break
        return list(hits.values())

    def _match_view(
        self,
        view: View,
        text: str,
        positions: list[int] | None,
        hits: dict[str, Finding],
        source: str | None,
        content: Content,
    ) -> None:
        if not self._has_anchors:
            return
        # Where each candidate phrase's anchor occurs: the phrase can only match near there.
        candidates: dict[int, list[int]] = {}
        squeezed = positions is not None
        n = len(text)
        seen: set[int] = set()  # the phrases whose second needed item occurs
        for end, (length, entries) in self._automaton.iter(text):
            start = end - length + 1
            if (
                not squeezed
                and start > 0
                and text[start - 1] != " "
                and not _CJK.match(text[start])
            ):
                continue  # inside a word: "aim" in "claim"
            ends_word = end + 1 >= n or text[end + 1] == " "
            for index, whole_word, is_anchor in entries:
                if whole_word and not squeezed and not ends_word:
                    continue
                if is_anchor:
                    candidates.setdefault(index, []).append(
                        start if self._phrases[index].leading else end
                    )
                else:
                    seen.add(index)
        how = "split" if positions is not None else "phrase"
        for index in sorted(candidates):
            compiled = self._phrases[index]
            sig = compiled.signature
            if compiled.needs and index not in seen:
                continue  # a word the phrase needs is missing: "kill" without a victim
            if not sig.applies_to(content) or _issued(hits, sig.id):
                continue
            pattern = compiled.compact if positions is not None else compiled.token
            if compiled.leading:
                found: Iterable[re.Match[str] | None] = (
                    pattern.match(text, at) for at in candidates[index]
                )
            else:
                found = _search_near(pattern, text, candidates[index])
            for m in found:
                if m is None or m.end() == m.start():
                    continue
                start, end = m.start(), m.end()
                if positions is not None:
                    start, end = positions[start], positions[end - 1] + 1
                if self._hit(hits, compiled.signature, view, start, end, how, source):
                    break

    def _hit(
        self,
        hits: dict[str, Finding],
        sig: Signature,
        view: View,
        start: int,
        end: int,
        how: str,
        source: str | None,
    ) -> bool:
        """Record a match; whether it is issued, not framed as a rule about it in ``source``
        (an operator's text; None for anyone else's, where nothing is framed)."""
        if _issued(hits, sig.id):
            return True
        s, e = view.to_source(start, end)
        detail = {"signature": sig.id, "lang": sig.lang, "match": how}
        own = OWN_MARKERS.get(sig.id)
        if source is not None and (
            self.described(source, s, e) or (own is not None and own(source, s, e))
        ):
            if sig.id not in hits:
                detail["framing"] = "described"
                hits[sig.id] = Finding(
                    self.name, sig.category, min(sig.score, DESCRIBED_SCORE), (Span(s, e),), detail
                )
            return False
        hits[sig.id] = Finding(self.name, sig.category, sig.score, (Span(s, e),), detail)
        return True


def _stages(sid: str, names: Any) -> frozenset[Stage]:
    if names is None:
        return frozenset(Stage)
    known = {s.value: s for s in Stage}
    if not isinstance(names, list) or not names or any(n not in known for n in names):
        raise SignatureSyntaxError(
            f"signature {sid}: stages must be a list of {', '.join(known)}, not {names!r}"
        )
    return frozenset(known[n] for n in names)


def _issued(hits: dict[str, Finding], sid: str) -> bool:
    hit = hits.get(sid)
    return hit is not None and "framing" not in hit.detail


@monitor(
    "signatures",
    stages=list(Stage),
    categories=(
        "injection.direct",
        "injection.delimiter",
        "injection.indirect",
        "jailbreak",
        "prompt_extraction",
    ),
    config=SignaturesConfig,
    description="Curated phrasing of injection, jailbreak and prompt extraction (6+ languages)",
)
def signatures_monitor(config: SignaturesConfig) -> SignaturesMonitor:
    return SignaturesMonitor(config)


class HazardsMonitor(SignaturesMonitor):
    """Requests for the means of mass harm (``hazards.yaml``) and for help committing crimes,
    hurting people or oneself (``crimes.yaml``), in the signatures' phrase syntax."""

    name = "hazards"
    stages = frozenset({Stage.INPUT})
    catalogue = ("data/hazards.yaml", "data/crimes.yaml")
    described = staticmethod(ruled_out)


@monitor(
    "hazards",
    stages=[Stage.INPUT],
    categories=(
        "cbrne",
        "cyber",
        "violent_crimes",
        "non_violent_crimes",
        "sex_crimes",
        "cse",
        "self_harm",
        "hate",
        "privacy",
        "elections",
        "defamation",
        "ip",
    ),
    config=SignaturesConfig,
    description="Requests to make or release weapons of mass harm, write malware, or commit "
    "crimes: violence, self-harm methods, sexual crimes, fraud, stalking, hate, election "
    "interference, defamation, piracy",
)
def hazards_monitor(config: SignaturesConfig) -> HazardsMonitor:
    return HazardsMonitor(config)
