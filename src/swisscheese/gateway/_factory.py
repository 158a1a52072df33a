"""Build a whole gateway (store, recorder, guard, access control, upstream) from settings: for
``swisscheese serve`` and for servers that import an app factory per worker process."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from swisscheese.agents.identity import TokenVerifier, public_from_hex
from swisscheese.config import Settings, load_policy
from swisscheese.gateway._access import AccessControl
from swisscheese.gateway._app import GatewaySettings, create_app
from swisscheese.gateway._pipeline import Durability
from swisscheese.gateway._upstream import HttpUpstream, Upstream
from swisscheese.guard import Guard
from swisscheese.provenance import StatementSigner
from swisscheese.provenance.watermark import Watermark, WatermarkConfig, detection_report
from swisscheese.provenance.watermark_keys import load_watermark
from swisscheese.recorder import Recorder, RecordError, load_signer
from swisscheese.recorder.note import Signer
from swisscheese.recorder.sealing import ContentRecord
from swisscheese.store import AccessStore, Database, LogStore


def _is_local(upstream: str | None) -> bool:
    return upstream is None or upstream == "local" or upstream.startswith("local:")


def _local_path(upstream: str | None) -> Path | None:
    """The PATH of ``local:PATH`` (None: the embedded model)."""
    given = upstream.removeprefix("local:") if upstream and ":" in upstream else None
    return Path(given) if given else None


def make_upstream(
    upstream: str | None, api_key: str | None = None, watermark: Watermark | None = None
) -> Upstream:
    """``None`` or ``local``: the embedded model; ``local:PATH``: a local GGUF file or
    transformers directory; anything else: an OpenAI-compatible base URL. ``watermark``: keyed
    watermark the local model applies while it samples."""
    if _is_local(upstream):
        from swisscheese.gateway._local import LocalUpstream

        return LocalUpstream(_local_path(upstream), watermark=watermark)
    assert upstream is not None
    if watermark is not None:
        raise ValueError(
            "the policy's watermark is applied while the local model samples; an HTTP upstream "
            "samples elsewhere (serve the local model, or remove watermark: from the policy)"
        )
    check_upstream_url(upstream)
    return HttpUpstream(upstream, api_key)


def check_upstream_url(upstream: str) -> None:
    """ValueError unless ``upstream`` is an http(s) URL with a host (a typo fails at start-up,
    not on the first request)."""
    from urllib.parse import urlsplit

    parts = urlsplit(upstream)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"the upstream must be an http(s) base URL such as http://host:8080/v1, or "
            f"local:PATH; not {upstream!r}"
        )


def log_key() -> Signer | None:
    """The log's signing key when there is one (``keys init``): with it the gateway signs a
    statement for every answer it releases."""
    try:
        return load_signer()
    except RecordError as exc:
        if "no log key" in str(exc):
            return None
        raise ValueError(str(exc)) from None


def _check_local_model(guard: Guard, recorder: Recorder, upstream: str | None) -> None:
    """The policy's signature requirement on a local model, checked before it is loaded."""
    requirement = guard.compiled.policy.model
    if requirement is None or not requirement.require_signature or not _is_local(upstream):
        return
    from swisscheese.learned.causal_lm import default_model_path
    from swisscheese.provenance.model_keys import check_served_model

    model = _local_path(upstream) or default_model_path()
    signature = Path(requirement.signature) if requirement.signature else None
    check_served_model(recorder, guard.deployment, model, Path(requirement.public_key), signature)


def build_app(
    upstream: str | None,
    *,
    policy: str | Path | None = None,
    db: str | None = None,
    require_auth: bool = True,
    rate: float | None = None,
    upstream_api_key: str | None = None,
    public_metrics: bool = False,
    durability: Durability = "request",
    agent_root: str | None = None,
    require_agent: bool = False,
) -> tuple[FastAPI, Guard]:
    """The app and its guard. Raises PolicyError, ValueError (a bad upstream) or the store's
    errors at start-up."""
    if upstream is not None and not _is_local(upstream):
        check_upstream_url(upstream)
    database = Database(db)
    signer = log_key()
    recorder = Recorder(LogStore(database), signer=signer, content=ContentRecord.from_settings())
    guard = Guard(load_policy(policy) if policy else None, recorder=recorder)
    _check_local_model(guard, recorder, upstream)
    access = AccessControl(
        AccessStore(database), guard.deployment, require_auth=require_auth, default_rate=rate
    )
    verifier = TokenVerifier(public_from_hex(agent_root)) if agent_root else None
    if require_agent and verifier is None:
        raise ValueError("requiring agent tokens needs the root that issues them (agent_root)")
    watermark = _watermark(guard)
    model = make_upstream(upstream, upstream_api_key, watermark)
    settings = GatewaySettings(
        watermark_detect=partial(_detect, watermark, model) if watermark else None,
        public_metrics=public_metrics,
        durability=durability,
        agent_tokens=verifier,
        require_agent=require_agent,
        provenance=StatementSigner(signer) if signer is not None else None,
    )
    app = create_app(guard, model, settings, access=access)
    return app, guard


def _watermark(guard: Guard) -> Watermark | None:
    chosen = guard.compiled.policy.watermark
    if chosen is None:
        return None
    config = WatermarkConfig(**chosen.model_dump(exclude={"key"}))
    return load_watermark(Path(chosen.key), config)


def _detect(watermark: Watermark, model: Any, text: str) -> dict[str, Any]:
    return detection_report(watermark, model.token_ids(text))


def build_from_settings(settings: Settings) -> tuple[FastAPI, Guard]:
    """The app and guard the settings describe (``serve``'s options, or the environment a
    worker process reads)."""
    key = settings.upstream_api_key
    return build_app(
        settings.upstream,
        policy=settings.policy,
        db=settings.db,
        require_auth=not settings.no_auth,
        rate=settings.rate,
        upstream_api_key=key.get_secret_value() if key else None,
        public_metrics=settings.public_metrics,
        durability=settings.durability,
        agent_root=settings.agent_root,
        require_agent=settings.require_agent,
    )


def app_from_env() -> FastAPI:
    """The app a worker process builds from the SWISSCHEESE_* settings ``serve`` passed on."""
    return build_from_settings(Settings())[0]
