"""The monitor registry: a decorator for built-ins and one entry-point group for plugins.

A factory registered with ``@monitor`` takes its typed config and returns a built monitor. Names
of third-party monitors are namespaced ``dist/name``; a lookup miss loads only the plugins that
could provide the name, and a plugin that fails to load is a warning, not a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from swisscheese.config.settings import Settings
from swisscheese.core import Content, Context, Finding, Monitor, Stage
from swisscheese.core.errors import SwisscheeseError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "swisscheese.monitors"
PLUGINS_ENV = "SWISSCHEESE_LOAD_PLUGINS"


class MonitorConfig(BaseModel):
    """Base of every monitor's config: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class NoConfig(MonitorConfig):
    pass


class Inline:
    """Base of monitors whose work is pure, bounded CPU: ``inspect`` just calls
    ``inspect_sync``, which the guard calls directly on the hot path."""

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        raise NotImplementedError

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]:
        return self.inspect_sync(content, ctx)


ConfigT = TypeVar("ConfigT", bound=MonitorConfig)
Factory = Callable[[Any], Monitor]


@dataclass(frozen=True)
class MonitorSpec:
    """What the registry knows about a monitor without building it."""

    name: str
    factory: Factory
    config: type[MonitorConfig]
    stages: frozenset[Stage]
    categories: tuple[str, ...]
    description: str
    tier: int = 0
    origin: str = "swisscheese"
    calibrated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def build(self, config: MonitorConfig | dict[str, Any] | None = None) -> Monitor:
        if config is None or isinstance(config, dict):
            config = self.config.model_validate(config or {})
        instance = self.factory(config)
        if not isinstance(instance, Monitor):
            raise TypeError(f"factory of monitor {self.name!r} returned {type(instance)!r}")
        return instance


class UnknownMonitorError(SwisscheeseError, LookupError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(f"unknown monitor {name!r}; known: {', '.join(self.known)}")


class Registry:
    """Name → spec. Built-ins register at import of ``swisscheese.monitors``."""

    def __init__(self, parent: Registry | None = None) -> None:
        self._parent = parent
        self._specs: dict[str, MonitorSpec] = {}
        self._loaded_plugins: set[str] = set()
        self._all_plugins_loaded = False

    def add(self, spec: MonitorSpec) -> None:
        existing = self._specs.get(spec.name)
        if existing is not None and existing.factory is not spec.factory:
            raise ValueError(f"monitor {spec.name!r} is already registered by {existing.origin}")
        self._specs[spec.name] = spec

    def get(self, name: str) -> MonitorSpec:
        spec = self._specs.get(name)
        if spec is None and self._parent is not None:
            return self._parent.get(name)
        if spec is None:
            self._load_plugins(namespace=name.split("/", 1)[0] if "/" in name else None)
            spec = self._specs.get(name)
        if spec is None:
            raise UnknownMonitorError(name, self._specs)
        return spec

    def child(self) -> Registry:
        """A registry that sees this one's monitors (and plugins) and adds its own apart."""
        return Registry(parent=self)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return name in self._specs or (self._parent is not None and name in self._parent)

    def specs(self, *, plugins: bool = True) -> list[MonitorSpec]:
        if plugins:
            self._load_plugins(namespace=None)
        merged = dict(self._parent._specs_for(plugins)) if self._parent is not None else {}
        merged.update(self._specs)
        return sorted(merged.values(), key=lambda s: (s.origin != "swisscheese", s.name))

    def _specs_for(self, plugins: bool) -> dict[str, MonitorSpec]:
        return {s.name: s for s in self.specs(plugins=plugins)}

    def _load_plugins(self, namespace: str | None) -> None:
        if self._all_plugins_loaded:
            return
        allowed = _allowed_plugins()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            dist = _dist_name(ep)
            if dist in self._loaded_plugins:
                continue
            if namespace is not None and dist != namespace and ep.name != namespace:
                continue
            if allowed is not None and dist not in allowed:
                continue
            self._loaded_plugins.add(dist)
            try:
                loaded = ep.load()
                if callable(loaded):
                    loaded()
            except Exception as exc:  # a broken plugin must not take the process down
                log.warning("could not load swisscheese plugin %s (%s): %s", ep.name, dist, exc)
        if namespace is None:
            self._all_plugins_loaded = True


def _dist_name(ep: EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else ep.name


def _allowed_plugins() -> set[str] | None:
    raw = Settings().load_plugins
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


REGISTRY = Registry()


def fpr_threshold(monitor: Monitor, target_fpr: float) -> float:
    """The score at which a calibrated monitor flags ``target_fpr`` of benign text; ValueError
    (saying which) when it has no calibration, or none for that rate."""
    calibrate = getattr(monitor, "threshold_for_fpr", None)
    if calibrate is None:
        raise ValueError("has no calibration for a target FPR; use a score")
    value = calibrate(target_fpr)
    if value is None:
        raise ValueError(f"has no threshold for FPR {target_fpr}")
    return float(value)


def monitor(
    name: str,
    *,
    stages: Iterable[Stage | str],
    categories: Iterable[str],
    config: type[ConfigT] | None = None,
    description: str = "",
    tier: int = 0,
    calibrated: bool = False,
    registry: Registry | None = None,
) -> Callable[[Callable[[ConfigT], Monitor]], Callable[[ConfigT], Monitor]]:
    """Register a monitor factory under ``name``.

    Third-party names must be ``dist/name``; the factory takes an instance of ``config``.
    """

    def decorate(factory: Callable[[ConfigT], Monitor]) -> Callable[[ConfigT], Monitor]:
        module = getattr(factory, "__module__", "") or ""
        origin = "swisscheese" if module.startswith("swisscheese.") else module.split(".")[0]
        if origin != "swisscheese" and "/" not in name:
            raise ValueError(f"plugin monitor names are namespaced 'dist/name', got {name!r}")
        doc = description or (factory.__doc__ or "").strip().split("\n", 1)[0]
        (registry or REGISTRY).add(
            MonitorSpec(
                name=name,
                factory=factory,
                config=config or NoConfig,
                stages=frozenset(Stage(s) for s in stages),
                categories=tuple(categories),
                description=doc,
                tier=tier,
                origin=origin,
                calibrated=calibrated,
            )
        )
        return factory

    return decorate
