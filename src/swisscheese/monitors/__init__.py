"""Monitors: the registry, the plugin contract and the built-in tier-0 monitors."""

from swisscheese.core.roles import Decoded as Decoded
from swisscheese.monitors import adapters as _adapters
from swisscheese.monitors import ai_text as _ai_text
from swisscheese.monitors import canary as _canary
from swisscheese.monitors import flow as _flow
from swisscheese.monitors import learned as _learned
from swisscheese.monitors import obfuscation as _obfuscation
from swisscheese.monitors import pii as _pii
from swisscheese.monitors import secrets as _secrets
from swisscheese.monitors import signatures as _signatures
from swisscheese.monitors import tools as _tools
from swisscheese.monitors import unicode as _unicode
from swisscheese.monitors._registry import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from swisscheese.monitors._registry import REGISTRY as REGISTRY
from swisscheese.monitors._registry import Inline as Inline
from swisscheese.monitors._registry import MonitorConfig as MonitorConfig
from swisscheese.monitors._registry import MonitorSpec as MonitorSpec
from swisscheese.monitors._registry import Registry as Registry
from swisscheese.monitors._registry import UnknownMonitorError as UnknownMonitorError
from swisscheese.monitors._registry import fpr_threshold as fpr_threshold
from swisscheese.monitors._registry import monitor as monitor
from swisscheese.monitors._roles import Decoder as Decoder
from swisscheese.monitors._roles import Normalizer as Normalizer

BUILTIN_MODULES = (
    _unicode,
    _obfuscation,
    _signatures,
    _secrets,
    _pii,
    _canary,
    _tools,
    _flow,
    _learned,
    _adapters,
    _ai_text,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "REGISTRY",
    "Decoded",
    "Decoder",
    "Inline",
    "MonitorConfig",
    "MonitorSpec",
    "Normalizer",
    "Registry",
    "UnknownMonitorError",
    "fpr_threshold",
    "monitor",
]
