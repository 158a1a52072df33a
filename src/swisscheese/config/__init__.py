"""The policy file: schema, loader and the embedded default."""

from swisscheese.config._loader import ConfigError as ConfigError
from swisscheese.config._loader import Issue as Issue
from swisscheese.config._loader import LoadedPolicy as LoadedPolicy
from swisscheese.config._loader import Loc as Loc
from swisscheese.config._loader import PolicyError as PolicyError
from swisscheese.config._loader import default_policy as default_policy
from swisscheese.config._loader import default_policy_text as default_policy_text
from swisscheese.config._loader import line_of as line_of
from swisscheese.config._loader import load_policy as load_policy
from swisscheese.config._loader import opt_ins as opt_ins
from swisscheese.config._loader import parse_document as parse_document
from swisscheese.config._loader import parse_policy as parse_policy
from swisscheese.config._loader import read_document as read_document
from swisscheese.config._schema import SLOT as SLOT
from swisscheese.config._schema import FprThreshold as FprThreshold
from swisscheese.config._schema import Layer as Layer
from swisscheese.config._schema import ModelRequirement as ModelRequirement
from swisscheese.config._schema import Policy as Policy
from swisscheese.config._schema import Rule as Rule
from swisscheese.config._schema import SystemPrompt as SystemPrompt
from swisscheese.config._schema import WatermarkPolicy as WatermarkPolicy
from swisscheese.config.settings import Settings as Settings

__all__ = [
    "SLOT",
    "ConfigError",
    "FprThreshold",
    "Issue",
    "Layer",
    "LoadedPolicy",
    "Loc",
    "ModelRequirement",
    "Policy",
    "PolicyError",
    "Rule",
    "Settings",
    "SystemPrompt",
    "default_policy",
    "default_policy_text",
    "line_of",
    "load_policy",
    "opt_ins",
    "parse_document",
    "parse_policy",
    "read_document",
]
