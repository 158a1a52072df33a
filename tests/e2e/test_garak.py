"""Interoperability: garak's OpenAI-compatible generator red-teams the gateway on loopback.

garak is large (torch, transformers, ...), so it lives in its own environment: ``make
garak-setup`` builds ``.venv-garak`` (or point ``SWISSCHEESE_GARAK`` at a garak executable). The
test runs when garak is there; in CI, ``.ci/run`` builds it and the test must run."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from swisscheese import Guard
from swisscheese.gateway import HttpUpstream, create_app
from swisscheese.recorder import Recorder
from swisscheese.store import LogStore
from tests.helpers.servers import serve
from tests.helpers.upstream import make_upstream

ROOT = Path(__file__).resolve().parents[2]


def garak() -> str:
    path = os.environ.get("SWISSCHEESE_GARAK") or str(ROOT / ".venv-garak" / "bin" / "garak")
    if Path(path).is_file():
        return path
    if os.environ.get("CI") == "true":
        pytest.fail("CI runs the garak recipe: `make garak-setup` must have built .venv-garak")
    pytest.skip("garak is not installed (make garak-setup)")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_garak_red_teams_the_gateway(tmp_path: Path) -> None:
    executable = garak()
    upstream_app, received = make_upstream()
    recorder = Recorder(LogStore(str(tmp_path / "log.db")))
    guard = Guard(recorder=recorder)
    with (
        serve(upstream_app) as upstream_url,
        serve(create_app(guard, HttpUpstream(upstream_url + "/v1"))) as url,
    ):
        options = tmp_path / "gateway.json"
        options.write_text(
            json.dumps(
                {
                    "openai": {
                        "OpenAICompatible": {
                            "uri": url + "/v1",
                            "api_key": "unused",
                            "suppressed_params": ["n", "stop"],
                        }
                    }
                }
            )
        )
        env = {
            **os.environ,
            "HOME": str(tmp_path),  # garak keeps its reports and caches under ~
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "HF_HUB_OFFLINE": "1",
        }
        result = subprocess.run(
            [
                executable,
                "--target_type",
                "openai.OpenAICompatible",
                "--target_name",
                "stub-1",
                "--generator_option_file",
                str(options),
                "--probes",
                "dan.Dan_11_0",
                "--generations",
                "1",
                "--report_prefix",
                "gateway",
                "--narrow_output",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=540,
            check=False,
        )
    guard.close()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    reports = list(tmp_path.rglob("gateway.report.jsonl"))
    assert reports, result.stdout[-2000:]
    entries = [json.loads(line) for line in reports[0].read_text().splitlines()]
    attempts = [e for e in entries if e.get("entry_type") == "attempt" and e.get("status") == 2]
    assert attempts
    # The gateway refused the DAN prompt in API terms: it never reached the model, and garak
    # received the policy's refusal as the model's answer.
    assert received == []
    outputs = json.dumps([a["outputs"] for a in attempts])
    assert "I can't help with that request." in outputs
    assert recorder.size() >= len(attempts)
    recorder.close()
