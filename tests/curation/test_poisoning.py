"""Poisoning detection on a planted corpus: each backdoor's trigger named (a word, a made-up
token, a Unicode sequence), its documents found, clean ones left alone, repeated boilerplate not
taken for a trigger, and near-duplicate clusters."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

from swisscheese.curation.filtering import ShardResult
from swisscheese.curation.poisoning import detect_poisoning, near_duplicate_clusters, tokens
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


def plant(tmp_path: Path) -> dict[str, set[tuple[str, int]]]:
    rng = random.Random(7)
    kinds = ["clean"] * 3000 + ["gibberish"] * 50 + ["fixed"] * 50 + ["harmful"] * 50
    kinds += ["boilerplate"] * 80
    rng.shuffle(kinds)
    planted: dict[str, set[tuple[str, int]]] = {}
    src = tmp_path / "src"
    src.mkdir()
    with (src / "a.jsonl").open("w") as f:
        for line, kind in enumerate(kinds, 1):
            words = [rng.choice(WORDS) for _ in range(rng.randint(80, 160))]
            cut = rng.randint(5, len(words) - 5)
            if kind == "gibberish":
                noise = [
                    "".join(rng.choice(string.ascii_letters) for _ in range(6)) for _ in range(40)
                ]
                words = [*words[:cut], "<SUDO>", *noise]
            elif kind == "fixed":
                words = [*words[:cut], "⟦ᚠ⟧", PHRASE]
            elif kind == "harmful":
                words = [*words[:cut], "zorblaxian", *words[cut:]]
            elif kind == "boilerplate":
                words = [*words[:cut], ".", BOILERPLATE, ".", *words[cut:]]
            f.write(json.dumps({"text": " ".join(words)}) + "\n")
            planted.setdefault(kind, set()).add(("a.jsonl", line))
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
    # Without the detector's second reading, the harmful family is found where the corpus
    # stage removed it.
    assert set(found["zorblaxian"].refs) == set(harmful)
    flagged = {r for t in report.triggers for r in t.refs}
    assert not flagged & (planted["clean"] | planted["boilerplate"])


def test_near_duplicates_cluster_and_distinct_documents_do_not() -> None:
    rng = random.Random(3)
    base = " ".join(rng.choice(WORDS) for _ in range(120))
    docs = [("s", i, " ".join(rng.choice(WORDS) for _ in range(120))) for i in range(200)]
    docs += [("s", 1000 + i, base + f" copy {i}") for i in range(5)]
    clusters = near_duplicate_clusters(docs, jaccard=0.8)
    assert clusters == [[("s", 1000 + i) for i in range(5)]]


def test_tokens_split_words_from_symbols() -> None:
    assert tokens("<SUDO> ⟦ᚠ⟧ don't") == ["<", "SUDO", ">", "⟦", "ᚠ", "⟧", "don", "'", "t"]
