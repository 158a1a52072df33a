"""The OpenAI-compatible safeguards gateway (FastAPI)."""

from swisscheese.gateway._access import AccessControl as AccessControl
from swisscheese.gateway._app import GatewaySettings as GatewaySettings
from swisscheese.gateway._app import create_app as create_app
from swisscheese.gateway._factory import app_from_env as app_from_env
from swisscheese.gateway._factory import build_app as build_app
from swisscheese.gateway._factory import build_from_settings as build_from_settings
from swisscheese.gateway._local import LocalModelError as LocalModelError
from swisscheese.gateway._server import GuardedHttpProtocol as GuardedHttpProtocol
from swisscheese.gateway._upstream import HttpUpstream as HttpUpstream
from swisscheese.gateway._upstream import Upstream as Upstream

__all__ = [
    "AccessControl",
    "GatewaySettings",
    "GuardedHttpProtocol",
    "HttpUpstream",
    "LocalModelError",
    "Upstream",
    "app_from_env",
    "build_app",
    "build_from_settings",
    "create_app",
]
