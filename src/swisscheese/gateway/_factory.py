"""Build the gateway from the environment, for servers that import an app factory per worker
process (``swisscheese serve --workers N``)."""

from __future__ import annotations

import os

from fastapi import FastAPI

from swisscheese.config import load_policy
from swisscheese.gateway._access import AccessControl
from swisscheese.gateway._app import create_app
from swisscheese.gateway._upstream import HttpUpstream
from swisscheese.guard import Guard
from swisscheese.recorder import Recorder
from swisscheese.store import AccessStore, Database, LogStore


def app_from_env() -> FastAPI:
    database = Database(os.environ.get("SWISSCHEESE_DB"))
    recorder = Recorder(LogStore(database))
    policy_path = os.environ.get("SWISSCHEESE_POLICY")
    guard = Guard(load_policy(policy_path) if policy_path else None, recorder=recorder)
    rate = os.environ.get("SWISSCHEESE_RATE")
    access = AccessControl(
        AccessStore(database),
        guard.deployment,
        require_auth=os.environ.get("SWISSCHEESE_NO_AUTH") != "1",
        default_rate=float(rate) if rate else None,
    )
    upstream = HttpUpstream(
        os.environ["SWISSCHEESE_UPSTREAM"], os.environ.get("SWISSCHEESE_UPSTREAM_API_KEY")
    )
    return create_app(guard, upstream, access=access)
