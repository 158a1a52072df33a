"""What ``results.json`` says of a single exchange: the barrier that came nearest to stopping it."""

from __future__ import annotations

from swisscheese.evaluation.results import nearest_barrier
from swisscheese.evaluation.targets import Barrier


def barrier(name: str, threshold: float, stops: bool = True) -> Barrier:
    return Barrier(name, "input", "input", name.split("/")[1], "block", stops, threshold)


SIGNATURES = barrier("input/signatures", 0.5)
INJECTION = barrier("input/injection", 0.996)
PII = barrier("input/pii", 0.5, stops=False)


def test_nearness_is_measured_in_log_odds_not_in_raw_score() -> None:
    # 0.9 against 0.996 is further (3.3 logits) than 0.2 against 0.5 (1.4), though its raw
    # gap is smaller: the detector would need to be far surer.
    scores = {"input/signatures": 0.2, "input/injection": 0.9}
    assert nearest_barrier(scores, [SIGNATURES, INJECTION]) == {
        "barrier": "input/signatures",
        "score": 0.2,
        "threshold": 0.5,
    }
    scores = {"input/signatures": 0.05, "input/injection": 0.99}
    found = nearest_barrier(scores, [SIGNATURES, INJECTION])
    assert found is not None
    assert found["barrier"] == "input/injection"


def test_only_barriers_that_found_something_and_could_have_stopped_it_count() -> None:
    # A flag/log rule stops nothing however high it scores; a barrier at 0 found nothing.
    assert nearest_barrier({"input/pii": 0.99, "input/signatures": 0.0}, [SIGNATURES, PII]) is None
    assert nearest_barrier({}, [SIGNATURES, INJECTION]) is None
    found = nearest_barrier({"input/pii": 0.99, "input/injection": 0.3}, [INJECTION, PII])
    assert found is not None
    assert found["barrier"] == "input/injection"
