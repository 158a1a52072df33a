"""The policy's watermark, applied while the embedded model samples behind a real gateway, and
found again by ``POST /v1/watermark/detect`` and ``swisscheese watermark detect``."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest

from swisscheese.gateway import build_app
from swisscheese.provenance import watermark_keys
from swisscheese.provenance.watermark import KEY_BYTES
from tests.cli.test_operator_cli import run
from tests.helpers.local_model import require_local_model
from tests.helpers.servers import serve

POLICY = """\
version: 1
deployment: marked
watermark:
  scheme: {scheme}
  key: {key}
{strength}layers:
  input:
    rules:
      - monitor: signatures
        action: block
"""

HUMAN = (
    "We left the harbour before dawn, when the gulls were still asleep on the breakwater and "
    "the only light came from the bakery on the corner. My father steered; I kept the ropes "
    "from tangling and tried not to think about breakfast."
)


@pytest.fixture(scope="module", autouse=True)
def _model() -> None:
    require_local_model()


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("scheme", ["kgw", "synthid"])
def test_answers_carry_the_watermark_and_human_text_does_not(
    scheme: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = f"sqlite:///{tmp_path / 'log.db'}"
    # A key drawn afresh each run made the answer, and so its score, differ from run to run:
    # now and then a repetitive answer left too few tokens to score (a CI run: 17 of 150,
    # z = 2.66, not found). One fixed key makes the test the same every time.
    monkeypatch.setattr(watermark_keys, "new_key", lambda: bytes(range(KEY_BYTES)))
    assert run("keys", "init-watermark", "--db", db)[0] == 0
    policy = tmp_path / "policy.yaml"
    # Every run draws a key, and at the default delta kgw finds about nine in ten 200-token
    # answers (README): this test of the path marks strongly enough not to miss.
    strength = "  delta: 4.0\n" if scheme == "kgw" else ""
    key = tmp_path / ".swisscheese/watermark.key"
    policy.write_text(POLICY.format(scheme=scheme, key=key, strength=strength))
    app, guard = build_app("local", policy=policy, db=db, require_auth=False)
    with serve(app) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)
        reply = client.chat.completions.create(
            model="local",
            messages=[{"role": "user", "content": "Describe a walk in a forest in autumn."}],
            max_tokens=150,
            temperature=0.8,
            seed=3,
        )
        answer = reply.choices[0].message.content or ""
        client.close()
        found = httpx.post(url + "/v1/watermark/detect", json={"text": answer}, timeout=60)
        human = httpx.post(url + "/v1/watermark/detect", json={"text": HUMAN}, timeout=60)
        extra = httpx.post(url + "/v1/watermark/detect", json={"text": "a", "x": 1}, timeout=60)
        wrong = httpx.post(url + "/v1/watermark/detect", json={"text": 3}, timeout=60)
    guard.close()
    assert found.status_code == 200, found.text
    report = found.json()
    assert report["watermarked"], (answer, report)
    assert report["scheme"] == scheme
    assert report["p_value"] < 1e-3
    assert not human.json()["watermarked"]
    assert (extra.status_code, wrong.status_code) == (400, 422)
    assert wrong.json()["error"]["type"] == "invalid_request_error"

    (tmp_path / "answer.txt").write_text(answer)
    code, out, err = run("watermark", "detect", str(tmp_path / "answer.txt"), "--policy",
                         str(policy))  # fmt: skip
    assert code == 0, err
    assert "watermarked" in out
    (tmp_path / "human.txt").write_text(HUMAN)
    assert run("watermark", "detect", str(tmp_path / "human.txt"), "--policy", str(policy))[0] == 1


def test_a_gateway_without_a_watermark_says_so(tmp_path: Path) -> None:
    app, guard = build_app(
        "http://127.0.0.1:9/v1", db=f"sqlite:///{tmp_path / 'log.db'}", require_auth=False
    )
    with serve(app) as url:
        answer = httpx.post(url + "/v1/watermark/detect", json={"text": "hello"}, timeout=30)
    guard.close()
    assert answer.status_code == 404
    assert "applies no watermark" in answer.json()["error"]["message"]


def test_a_watermark_with_an_http_upstream_is_refused_at_start_up(tmp_path: Path) -> None:
    from swisscheese.provenance.watermark_keys import new_key, write_watermark_key

    key = write_watermark_key(new_key(), tmp_path / "wm.key")
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(scheme="kgw", key=key, strength=""))
    with pytest.raises(ValueError, match="applied while the local model samples"):
        build_app("http://127.0.0.1:9/v1", policy=policy, db=f"sqlite:///{tmp_path / 'l.db'}")
