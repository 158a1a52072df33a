"""Safeguards as code: a validated policy compiled against the monitor registry, and the pure
function that turns monitor outcomes into rule decisions and a layer's action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from pydantic import ValidationError

from swisscheese.config import FprThreshold, Layer, LoadedPolicy, Policy, Rule
from swisscheese.core import (
    Action,
    Content,
    Finding,
    InlineMonitor,
    Monitor,
    RuleDecision,
    RunStatus,
    Stage,
    canonical_json,
)
from swisscheese.core.source_code import is_source_code
from swisscheese.core.taxonomy import matches_any
from swisscheese.monitors import (
    REGISTRY,
    Decoder,
    Normalizer,
    Registry,
    UnknownMonitorError,
    fpr_threshold,
)


@dataclass(frozen=True, slots=True)
class Instance:
    """One built monitor, shared by every rule that names it with the same config."""

    key: str
    label: str
    monitor: Monitor
    inline: bool


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule:
    index: int
    rule: Rule
    instance: Instance
    stages: frozenset[Stage]
    threshold: float
    timeout_s: float
    on_error: Action

    @property
    def action(self) -> Action:
        return self.rule.action

    def reads(self, content: Content) -> bool:
        """Whether the rule applies to ``content`` (at one of its stages), whatever its kind
        of text (``CompiledLayer.reading`` leaves out the rules that skip source code)."""
        if content.from_operator and not self.rule.in_operator_text:
            return False
        if not (self.rule.sources or self.rule.not_sources):
            return True
        # Only retrieved content comes from a source; anything else is read as sourceless.
        source = content.source if content.stage is Stage.RETRIEVED else None
        return _from_sources(source, self.rule.sources, self.rule.not_sources)

    def considers(self, finding: Finding) -> bool:
        """Whether ``finding`` is of the kind the rule reads, whatever its score."""
        if self.rule.only_disguised and not (finding.origin and finding.origin.disguised):
            return False
        return not self.rule.categories or matches_any(finding.category, self.rule.categories)

    def selects(self, finding: Finding) -> bool:
        return finding.score >= self.threshold and self.considers(finding)


def _from_sources(source: str | None, only: Sequence[str], never: Sequence[str]) -> bool:
    """Whether a text from ``source`` is one a rule with these patterns reads: a sourceless
    text only when the rule names no sources to read."""
    if source is None:
        return not only
    if only and not any(fnmatchcase(source, p) for p in only):
        return False
    return not any(fnmatchcase(source, p) for p in never)


@dataclass(frozen=True, slots=True)
class CompiledLayer:
    name: str
    layer: Layer
    rules: tuple[CompiledRule, ...]
    normalizer: Instance | None = None
    decoder: Instance | None = None
    _by_stage: dict[Stage, tuple[CompiledRule, ...]] = field(default_factory=dict)

    def rules_for(self, stage: Stage) -> tuple[CompiledRule, ...]:
        return self._by_stage.get(stage, ())

    def reading(
        self, content: Content
    ) -> tuple[tuple[CompiledRule, ...], tuple[CompiledRule, ...]]:
        """The rules that read ``content``, and those that would but skip it as source code.
        Whether it is code is tested only when a rule that reads it would skip code (in the
        default policy, every tool result; about 0.1 ms per KB)."""
        rules = tuple(r for r in self.rules_for(content.stage) if r.reads(content))
        skipping = tuple(r for r in rules if not r.rule.in_code)
        if skipping and is_source_code(content.text):
            return tuple(r for r in rules if r.rule.in_code), skipping
        return rules, ()

    def __post_init__(self) -> None:
        by_stage = {s: tuple(r for r in self.rules if s in r.stages) for s in self.layer.stages}
        object.__setattr__(self, "_by_stage", by_stage)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one monitor instance produced on one text (all its views together)."""

    status: RunStatus
    findings: tuple[Finding, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class CompiledPolicy:
    policy: Policy
    digest: str
    source: str
    layers: Mapping[str, CompiledLayer]
    by_stage: Mapping[Stage, CompiledLayer]
    instances: Mapping[str, Instance]

    def layer_for(self, stage: Stage) -> CompiledLayer | None:
        return self.by_stage.get(stage)

    def monitor(self, name: str) -> Monitor | None:
        for instance in self.instances.values():
            if instance.monitor.name == name:
                return instance.monitor
        return None


def _threshold(rule: Rule, monitor: Monitor, loaded: LoadedPolicy, loc: tuple[Any, ...]) -> float:
    if not isinstance(rule.threshold, FprThreshold):
        return float(rule.threshold)
    try:
        return fpr_threshold(monitor, rule.threshold.target_fpr)
    except ValueError as exc:
        raise loaded.error((*loc, "threshold"), f"monitor {rule.monitor!r} {exc}") from None


def compile_policy(loaded: LoadedPolicy, registry: Registry = REGISTRY) -> CompiledPolicy:
    """Build every monitor the policy names (once per distinct config) and bind the rules."""
    policy = loaded.policy
    instances: dict[str, Instance] = {}
    labels: dict[str, int] = {}
    layers: dict[str, CompiledLayer] = {}
    by_stage: dict[Stage, CompiledLayer] = {}
    for layer_name, layer in policy.layers.items():
        compiled: list[CompiledRule] = []
        for i, rule in enumerate(layer.rules):
            loc: tuple[Any, ...] = ("layers", layer_name, "rules", i)
            try:
                spec = registry.get(rule.monitor)
            except UnknownMonitorError as exc:
                raise loaded.error((*loc, "monitor"), str(exc)) from None
            try:
                config = spec.config.model_validate(rule.config)
            except ValidationError as exc:
                raise loaded.errors_from(exc, (*loc, "config")) from None
            key = rule.monitor + ":" + canonical_json(config.model_dump(mode="json")).decode()
            instance = instances.get(key)
            if instance is None:
                try:
                    monitor = spec.build(config)
                except Exception as exc:
                    raise loaded.error(
                        loc, f"monitor {rule.monitor!r} failed to start: {exc}"
                    ) from exc
                n = labels.get(rule.monitor, 0) + 1
                labels[rule.monitor] = n
                label = rule.monitor if n == 1 else f"{rule.monitor}#{n}"
                instance = Instance(key, label, monitor, isinstance(monitor, InlineMonitor))
                instances[key] = instance
            stages = frozenset(rule.stages or layer.stages)
            unsupported = stages - instance.monitor.stages
            if unsupported:
                raise loaded.error(
                    loc,
                    f"monitor {rule.monitor!r} does not support stage(s) "
                    f"{sorted(s.value for s in unsupported)}",
                )
            compiled.append(
                CompiledRule(
                    index=i,
                    rule=rule,
                    instance=instance,
                    stages=stages,
                    threshold=_threshold(rule, instance.monitor, loaded, loc),
                    timeout_s=(rule.timeout_ms or layer.timeout_ms) / 1000.0,
                    on_error=rule.on_error or layer.on_error or Action.BLOCK,
                )
            )
        decoder = next((r.instance for r in compiled if is_decoder(r.instance)), None)
        if decoder is None:
            for bound in compiled:
                if bound.rule.only_disguised:
                    raise loaded.error(
                        ("layers", layer_name, "rules", bound.index, "only_disguised"),
                        f"layer {layer_name!r} decodes nothing, so a rule reading only disguised "
                        "text would never fire: add an 'obfuscation' rule to the layer",
                    )
        cl = CompiledLayer(
            layer_name,
            layer,
            tuple(compiled),
            normalizer=next((r.instance for r in compiled if is_normalizer(r.instance)), None),
            decoder=decoder,
        )
        layers[layer_name] = cl
        for stage in layer.stages:
            by_stage[stage] = cl
    return CompiledPolicy(policy, policy.digest, loaded.source, layers, by_stage, instances)


def is_normalizer(instance: Instance) -> bool:
    return isinstance(instance.monitor, Normalizer)


def is_decoder(instance: Instance) -> bool:
    return isinstance(instance.monitor, Decoder)


def decide(rule: CompiledRule, outcome: Outcome) -> tuple[RuleDecision, list[Finding]]:
    """One rule's decision on one monitor outcome. A failed run never reads as a pass."""
    name = rule.rule.monitor
    if outcome.status is not RunStatus.OK:
        reason = f"monitor {outcome.status.value}" + (f": {outcome.error}" if outcome.error else "")
        return RuleDecision(rule.index, name, rule.on_error, reason), []
    selected = [f for f in outcome.findings if rule.selects(f)]
    if not selected:
        return RuleDecision(rule.index, name, Action.ALLOW, "no finding selected"), []
    top = max(selected, key=lambda f: f.score)
    reason = f"{len(selected)} finding(s), top {top.category} at {top.score:.2f}"
    return RuleDecision(rule.index, name, rule.action, reason, len(selected)), selected


def redact(text: str, findings: Sequence[Finding]) -> str:
    """Replace every span of ``findings`` by its ``replacement`` (overlaps merged, first wins)."""
    edits: list[tuple[int, int, str]] = []
    for f in findings:
        replacement = str(f.detail.get("replacement", f"[REDACTED:{f.category}]"))
        edits.extend((s.start, s.end, replacement) for s in f.spans if s.end > s.start)
    if not edits:
        return text
    edits.sort(key=lambda e: (e[0], -e[1]))
    merged: list[tuple[int, int, str]] = []
    for start, end, rep in edits:
        if merged and start < merged[-1][1]:
            prev = merged[-1]
            merged[-1] = (prev[0], max(prev[1], end), prev[2])
        else:
            merged.append((start, end, rep))
    out: list[str] = []
    pos = 0
    for start, end, rep in merged:
        out.append(text[pos:start])
        out.append(rep)
        pos = end
    out.append(text[pos:])
    return "".join(out)
