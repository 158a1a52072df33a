"""`swisscheese ai-text`: scores for each file, JSON for scripts, clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_operator_cli import run
from tests.helpers.local_model import require_local_model
from tests.learned.test_ai_text import HUMAN


def test_each_file_is_scored_and_short_ones_get_no_probability(tmp_path: Path) -> None:
    require_local_model()
    (tmp_path / "human.txt").write_text(HUMAN)
    (tmp_path / "short.txt").write_text("Thanks, see you then.")
    code, out, _ = run(
        "ai-text", str(tmp_path / "human.txt"), str(tmp_path / "short.txt"), "--json"
    )
    assert code == 0
    report = json.loads(out)
    human, short = report["results"]
    assert human["file"].endswith("human.txt")
    assert human["tokens"] > 24
    assert 0.0 <= human["probability_machine"] < 0.5
    assert short["probability_machine"] is None
    code, out, _ = run("ai-text", str(tmp_path / "human.txt"))
    assert code == 0
    assert "P(machine)" in out
    assert "weak evidence" in out


def test_a_missing_or_binary_file_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "bad.bin").write_bytes(b"\xff\xfe\x00not text")
    code, _, err = run("ai-text", str(tmp_path / "bad.bin"))
    assert code == 2
    assert "bad.bin: not UTF-8 text" in err
    code, _, err = run("ai-text", str(tmp_path / "nowhere.txt"))
    assert code == 2
    assert "nowhere.txt: cannot read" in err
