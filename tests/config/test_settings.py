"""Every SWISSCHEESE_* variable is one field of one class, documented, and survives the trip
to a worker process."""

from __future__ import annotations

import pathlib
import re

import pytest
from pydantic import SecretStr

from swisscheese.config import Settings

ROOT = pathlib.Path(__file__).parents[2]


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`SWISSCHEESE_{name.upper()}`" in readme, name


def test_no_module_reads_a_swisscheese_variable_itself() -> None:
    for path in (ROOT / "src" / "swisscheese").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"environ(?:\.get)?[(\[]\s*\"SWISSCHEESE_", text), path


def test_worker_environment_reads_back_as_the_same_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = Settings(
        db="postgresql://u@h/db", upstream="http://127.0.0.1:9/v1", upstream_api_key=SecretStr("k"),
        rate=2.5, no_auth=True, policy=pathlib.Path("p.yaml"),
    )  # fmt: skip
    for name, value in original.worker_environment().items():
        monkeypatch.setenv(name, value)
    assert Settings() == original
