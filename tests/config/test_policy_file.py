from __future__ import annotations

from pathlib import Path

import pytest

from swisscheese import Guard
from swisscheese.config import PolicyError, default_policy, load_policy, parse_policy
from swisscheese.config._schema import Layer, Policy, Rule

GOOD = """\
version: 1
deployment: bot
layers:
  input:
    rules:
      - monitor: signatures
        action: block
"""


def issues_of(text: str) -> list[str]:
    with pytest.raises(PolicyError) as info:
        Guard(parse_policy(text, "p.yaml"))
    return [str(i) for i in info.value.issues]


def test_default_policy_is_valid_and_covers_the_request_path() -> None:
    policy = default_policy().policy
    assert set(policy.layers) >= {"input", "retrieved", "output", "tool_call"}
    Guard(default_policy())


def test_unknown_key_names_file_line_and_key() -> None:
    text = GOOD.replace("        action: block", "        acton: block")
    assert issues_of(text) == [
        "p.yaml:7: layers.input.rules.0.acton: Extra inputs are not permitted"
    ]


def test_bad_values_name_their_lines() -> None:
    text = GOOD + "      - monitor: pii\n        threshold: 2\n        categories: [pii.emial]\n"
    found = issues_of(text)
    assert any(i.startswith("p.yaml:9: layers.input.rules.1.threshold") for i in found)
    assert any(i.startswith("p.yaml:10: layers.input.rules.1.categories") for i in found)
    assert not any("at least 1 item" in i for i in found)


def test_unknown_monitor_names_its_line() -> None:
    (issue,) = issues_of(GOOD.replace("signatures", "signaturez"))
    assert issue.startswith("p.yaml:6: layers.input.rules.0.monitor: unknown monitor 'signaturez'")


def test_monitor_config_is_validated_with_line_numbers() -> None:
    text = GOOD + "      - monitor: pii\n        config:\n          kinds: [email, dna]\n"
    (issue,) = issues_of(text)
    assert issue.startswith("p.yaml:10: layers.input.rules.1.config.kinds.1")


def test_unsupported_stage_and_uncalibrated_fpr_are_errors() -> None:
    text = GOOD.replace("signatures", "canary")
    assert "does not support stage(s) ['input']" in issues_of(text)[0]
    text = GOOD + "        threshold: {target_fpr: 0.01}\n"
    assert "no calibration" in issues_of(text)[0]


def test_a_stage_in_two_layers_is_an_error() -> None:
    text = GOOD + "  also:\n    stages: [input]\n    rules:\n      - monitor: pii\n"
    assert "screened by both 'input' and 'also'" in issues_of(text)[0]


def test_sources_are_for_retrieved_content_and_leave_other_digests_alone() -> None:
    (issue,) = issues_of(GOOD + '        sources: ["fetch_*"]\n')
    assert "only retrieved content has" in issue
    assert "p.yaml" in issue
    empty = GOOD.replace("input:", "retrieved:") + '        not_sources: [" "]\n'
    assert "non-empty tool name or pattern" in issues_of(empty)[0]
    retrieved = GOOD.replace("input:", "retrieved:")
    plain = parse_policy(retrieved).policy.digest
    # Policies that do not use the fields keep the digest they had before the fields existed.
    assert plain == parse_policy(retrieved + "        sources: []\n").policy.digest
    assert plain != parse_policy(retrieved + '        not_sources: ["read_file"]\n').policy.digest


def test_only_retrieved_content_may_be_skipped_as_code() -> None:
    # Anywhere else the sender writes the whole text and could dress a request as code.
    (issue,) = issues_of(GOOD + "        in_code: false\n")
    assert "only do for retrieved content" in issue
    retrieved = GOOD.replace("input:", "retrieved:")
    plain = parse_policy(retrieved).policy.digest
    assert plain == parse_policy(retrieved + "        in_code: true\n").policy.digest
    assert plain != parse_policy(retrieved + "        in_code: false\n").policy.digest


def test_a_rule_for_disguised_text_leaves_older_digests_alone() -> None:
    # Policies written before the option keep their digests, so their evidence still matches.
    retrieved = GOOD.replace("input:", "retrieved:")
    plain = parse_policy(retrieved).policy.digest
    assert plain == parse_policy(retrieved + "        only_disguised: false\n").policy.digest
    assert plain != parse_policy(retrieved + "        only_disguised: true\n").policy.digest


def test_yaml_syntax_error_has_a_line() -> None:
    (issue,) = issues_of("version: 1\nlayers: [oops\n")
    assert issue.startswith("p.yaml:3: invalid YAML")


def test_a_key_given_twice_is_an_error_naming_both_lines() -> None:
    # YAML keeps the last of two equal keys: the first layer's rules would be lost silently.
    text = GOOD + "  input:\n    rules:\n      - monitor: pii\n"
    assert issues_of(text) == ["p.yaml:8: layers.input: duplicate key (first given on line 4)"]
    nested = GOOD + "        action: log\n"
    assert issues_of(nested) == [
        "p.yaml:8: layers.input.rules.0.action: duplicate key (first given on line 7)"
    ]


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")


def test_digest_is_canonical_and_tracks_meaning() -> None:
    a = parse_policy(GOOD).policy.digest
    reordered = GOOD.replace("version: 1\ndeployment: bot", "deployment: bot\nversion: 1")
    assert parse_policy(reordered).policy.digest == a
    assert parse_policy(GOOD + "        threshold: 0.6\n").policy.digest != a
    assert parse_policy("# a comment\n" + GOOD).policy.digest == a


def test_every_policy_field_is_documented() -> None:
    for model in (Policy, Layer, Rule):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no docstring"
