"""The OpenAI-compatible safeguards gateway (FastAPI)."""

from swisscheese.gateway._access import AccessControl as AccessControl
from swisscheese.gateway._app import GatewaySettings as GatewaySettings
from swisscheese.gateway._app import create_app as create_app
from swisscheese.gateway._upstream import HttpUpstream as HttpUpstream
from swisscheese.gateway._upstream import Upstream as Upstream

__all__ = ["AccessControl", "GatewaySettings", "HttpUpstream", "Upstream", "create_app"]
