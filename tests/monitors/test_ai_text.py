"""The ai-text monitor in a policy: machine-written answers are flagged, a person's text and
short texts are not, and the finding says what it measured."""

from __future__ import annotations

import pytest

from swisscheese import Guard
from swisscheese.config import PolicyError, parse_policy
from swisscheese.core import Action
from swisscheese.policy import compile_policy
from tests.helpers.local_model import greedy_answer, require_local_model
from tests.learned.test_ai_text import HUMAN

POLICY = """
version: 1
deployment: ai-text
layers:
  output:
    rules:
      - monitor: ai-text
        action: flag
        threshold: 0.5
        timeout_ms: 60000
"""


@pytest.fixture(scope="module")
def guard() -> Guard:
    require_local_model()
    return Guard(parse_policy(POLICY, "ai-text.yaml"))


def test_the_models_own_answer_is_flagged_and_a_persons_is_not(guard: Guard) -> None:
    answer = greedy_answer(require_local_model(), "Explain why the sky is blue.", 90)

    flagged = guard.check_sync("output", answer)
    assert flagged.action is Action.FLAG
    (finding,) = flagged.findings
    assert finding.category == "ai_generated"
    assert finding.detail["tokens"] >= 24
    assert finding.detail["criterion"] > 0
    assert finding.detail["scorer"].endswith(".gguf")

    assert guard.check_sync("output", HUMAN).action is Action.ALLOW
    # Too short to say anything: no finding at all, whatever the threshold.
    assert guard.check_sync("output", "Blue light scatters more.").findings == ()


def test_min_tokens_below_the_floor_is_refused_when_the_policy_loads() -> None:
    bad = POLICY.replace("action: flag", "action: flag\n        config: {min_tokens: 5}")
    with pytest.raises(PolicyError, match="min_tokens") as caught:
        compile_policy(parse_policy(bad, "ai-text.yaml"))
    assert "ai-text.yaml:" in str(caught.value)
