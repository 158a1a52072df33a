"""Build a whole gateway (store, recorder, guard, access control, upstream) from settings: for
``swisscheese serve`` and for servers that import an app factory per worker process."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from swisscheese.config import load_policy
from swisscheese.gateway._access import AccessControl
from swisscheese.gateway._app import create_app
from swisscheese.gateway._upstream import HttpUpstream
from swisscheese.guard import Guard
from swisscheese.recorder import Recorder
from swisscheese.store import AccessStore, Database, LogStore


def build_app(
    upstream: str,
    *,
    policy: str | Path | None = None,
    db: str | None = None,
    require_auth: bool = True,
    rate: float | None = None,
    upstream_api_key: str | None = None,
) -> tuple[FastAPI, Guard]:
    """The app and its guard. Raises PolicyError or the store's errors at start-up."""
    database = Database(db)
    recorder = Recorder(LogStore(database))
    guard = Guard(load_policy(policy) if policy else None, recorder=recorder)
    access = AccessControl(
        AccessStore(database), guard.deployment, require_auth=require_auth, default_rate=rate
    )
    app = create_app(guard, HttpUpstream(upstream, upstream_api_key), access=access)
    return app, guard


def app_from_env() -> FastAPI:
    rate = os.environ.get("SWISSCHEESE_RATE")
    app, _ = build_app(
        os.environ["SWISSCHEESE_UPSTREAM"],
        policy=os.environ.get("SWISSCHEESE_POLICY"),
        db=os.environ.get("SWISSCHEESE_DB"),
        require_auth=os.environ.get("SWISSCHEESE_NO_AUTH") != "1",
        rate=float(rate) if rate else None,
        upstream_api_key=os.environ.get("SWISSCHEESE_UPSTREAM_API_KEY"),
    )
    return app
