"""``real-words`` from the shell: the list the misspelt reading leaves alone."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from swisscheese.cli import app
from swisscheese.monitors._typos import candidate

runner = CliRunner()


def test_real_words_writes_ordinary_words_that_read_as_misspellings(tmp_path: Path) -> None:
    target = tmp_path / "real_words.txt"
    result = runner.invoke(app, ["real-words", "--out", str(target), "--min-count", "3"])
    assert result.exit_code == 0, result.output
    words = [w for w in target.read_text(encoding="utf-8").splitlines() if not w.startswith("#")]
    # "there" reads as "three" and "error" as "terror": ordinary text uses both all the time.
    assert {"there", "error"} <= set(words)
    assert words == sorted(words)
    assert all(candidate(w) is not None for w in words)
