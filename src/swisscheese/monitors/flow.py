"""Information-flow rules: what a tool call may do after what the agent has read.

The call under inspection carries the agent's trace (``Content.trace``: messages, earlier
calls, tool results, in order). Tool results are labelled once per distinct text:

- ``untrusted``: the result of a tool not in ``trusted`` (everything an outsider could have
  written: mail, web pages, files, messages);
- a taxonomy category (``secret``, ``pii.email``, ``injection.indirect``, ...): what one of the
  ``labels`` monitors found in it. Data categories (secrets, PII) taint the *values* found;
  any other category taints the whole result it was found in.

A rule governs calls to some ``tools`` and fires on one of two conditions:

- ``after: [LABEL, ...]``: some earlier tool result carries a label (e.g. any untrusted read
  before ``send_money``);
- ``carries: [LABEL, ...]``: an argument (all, or the named ``arguments``) carries tainted
  data, by value (``_taint``): a secret read from a tool result is inside it, it comes from a
  flagged result, or (``untrusted``) it appears in an untrusted result and nowhere the user, the
  operator or a trusted tool wrote it (the attacker's IBAN, not the one the user typed).

Rules are data, not code: a closed vocabulary is checked when the policy loads (every label
must be one a labelling monitor can produce), is part of the policy digest, cannot run
arbitrary code in the request path and reads the same way in a review as in the log.
Findings: ``flow.approval`` for rules whose action is ``escalate``, ``flow.denied`` otherwise,
so the policy maps them to actions like the tool policy's.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, model_validator

from swisscheese.config import FprThreshold
from swisscheese.core import Content, Context, Finding, Monitor, Stage
from swisscheese.core.taxonomy import is_data, matches, matches_any
from swisscheese.monitors._registry import (
    REGISTRY,
    Inline,
    MonitorConfig,
    fpr_threshold,
    monitor,
)
from swisscheese.monitors._taint import Argument, Matcher, Region, Value, identifiers, leaves

UNTRUSTED = "untrusted"
_STEM = re.compile(r"\w+")
CATEGORY_OF = {"escalate": "flow.approval", "block": "flow.denied"}


class Label(MonitorConfig):
    monitor: str = Field(min_length=1)
    """A registered monitor that reads tool results (e.g. secrets, pii, indirect-injection)."""
    config: dict[str, Any] = Field(default_factory=dict)
    categories: tuple[str, ...] = ()
    """Only these categories of its findings label a result (default: all)."""
    threshold: float | FprThreshold = 0.5


class FlowRule(MonitorConfig):
    name: str = Field(min_length=1)
    tools: tuple[str, ...] = Field(min_length=1)
    """The calls the rule governs, by tool name; ``"*"`` for every tool."""
    arguments: tuple[str, ...] = ()
    """Top-level arguments whose values are checked (default: all) (``carries`` rules)."""
    after: tuple[str, ...] = ()
    carries: tuple[str, ...] = ()
    match: Literal["value", "identifiers"] = "value"
    """``value``: each argument value as a whole (and long stretches of it); ``identifiers``:
    each e-mail address, URL, domain or IBAN written inside a value (a link in a message)."""
    unless_asked: tuple[str, ...] = ()
    """Word stems (``reserv``, ``book``): an ``after`` rule does not fire when a user or operator
    message has a word starting with one of them. The user's request, not the text the agent
    read, is what may ask for the action."""
    action: Literal["escalate", "block"] = "block"

    @model_validator(mode="after")
    def _one_condition(self) -> FlowRule:
        if bool(self.after) == bool(self.carries):
            raise ValueError(f"rule {self.name!r}: give exactly one of 'after' and 'carries'")
        if (self.arguments or self.match != "value") and not self.carries:
            raise ValueError(f"rule {self.name!r}: 'arguments' and 'match' only apply to 'carries'")
        if self.unless_asked and not self.after:
            raise ValueError(f"rule {self.name!r}: 'unless_asked' only applies to 'after'")
        if any(not _STEM.fullmatch(stem) for stem in self.unless_asked):
            raise ValueError(
                f"rule {self.name!r}: 'unless_asked' takes word stems (letters and digits only)"
            )
        return self

    @cached_property
    def asked(self) -> re.Pattern[str] | None:
        """A word starting with one of the stems, in casefolded text."""
        if not self.unless_asked:
            return None
        stems = "|".join(sorted({re.escape(s.casefold()) for s in self.unless_asked}))
        return re.compile(rf"(?<!\w)(?:{stems})")


class FlowConfig(MonitorConfig):
    trusted: tuple[str, ...] = ()
    """Tools whose results only the operator or the user can write; every other is untrusted."""
    labels: tuple[Label, ...] = ()
    rules: tuple[FlowRule, ...] = Field(min_length=1)
    min_chars: int = Field(default=6, ge=1)
    """Letters and digits an argument needs before it can be said to come from a read text."""
    span: int = Field(default=32, ge=8)
    """Letters and digits a long argument must share with a read text to be said to copy it."""
    max_steps: int = Field(default=2000, ge=1)
    max_chars: int = Field(default=8_000_000, ge=1)
    """Larger traces are refused (``flow.denied``): they could not be checked in time."""
    cache: int = Field(default=4096, ge=0)
    """Labelled tool results kept, by digest (a conversation resends its whole history)."""


@dataclass(frozen=True, slots=True)
class _Taint:
    label: str
    values: tuple[Value, ...]
    """For data categories: the values found; otherwise empty (the whole result is tainted)."""


@dataclass(frozen=True, slots=True)
class _Read:
    """One tool result as the rules see it."""

    step: int
    source: str | None
    region: Region
    trusted: bool
    taints: tuple[_Taint, ...]


@dataclass(frozen=True, slots=True)
class _Labeller:
    monitor: Monitor
    categories: tuple[str, ...]
    threshold: float

    def keep(self, finding: Finding) -> bool:
        if finding.score < self.threshold:
            return False
        return not self.categories or matches_any(finding.category, self.categories)


def taints_of(findings: Sequence[Finding], text: str) -> tuple[_Taint, ...]:
    """What a labelling monitor's findings on a tool result taint: values or the whole text."""
    out: list[_Taint] = []
    for f in findings:
        if is_data(f.category) and f.spans:
            values = tuple(Value.of(text[s.start : s.end]) for s in f.spans)
            out.append(_Taint(f.category, values))
        else:
            out.append(_Taint(f.category, ()))
    return tuple(out)


_Labelled = tuple[Region, tuple[_Taint, ...]]


UNTRUSTED_TAINT = _Taint(UNTRUSTED, ())


class _Cache:
    """A small LRU of labelled texts, safe across threads.

    Keyed by the string's own hash (computed once per string object, keyed per process so it
    cannot be steered), and a hit is confirmed against the kept text, so a collision can only
    miss, never return another text's labels.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, int], _Labelled] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, kind: str, text: str) -> _Labelled | None:
        key = (kind, hash(text))
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0].raw != text:
                return None
            self._items.move_to_end(key)
            return item

    def put(self, kind: str, text: str, item: _Labelled) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._items[(kind, hash(text))] = item
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _governs(rule: FlowRule, tool: str) -> bool:
    return "*" in rule.tools or tool in rule.tools


class FlowMonitor:
    name = "flow"
    stages = frozenset({Stage.TOOL_CALL})

    def __init__(self, config: FlowConfig, labellers: Sequence[_Labeller]) -> None:
        self.config = config
        self.labellers = tuple(labellers)
        self.matcher = Matcher(config.min_chars, config.span)
        self._cache = _Cache(config.cache)
        self._trusted = frozenset(config.trusted)
        # By the id of a rule's selector tuple: the rules (and so the tuples) live as long as
        # the monitor.
        self._wanted: dict[int, dict[str, bool]] = {}

    # -- labelling ----------------------------------------------------------------------------

    def _region(self, text: str) -> Region:
        """A message the user or operator wrote, folded once per distinct text."""
        item = self._cache.get("message", text)
        if item is None:
            item = (Region.of(text), ())
            self._cache.put("message", text, item)
        return item[0]

    async def _label(self, step: Content, ctx: Context) -> tuple[Region, tuple[_Taint, ...]]:
        item = self._cache.get("result", step.text)
        if item is None:
            findings: list[Finding] = []
            view = Content(step.text, "tool", Stage.RETRIEVED, step.source)
            for labeller in self.labellers:
                found = await labeller.monitor.inspect(view, ctx)
                findings.extend(f for f in found if labeller.keep(f))
            item = (Region.of(step.text), taints_of(findings, step.text))
            self._cache.put("result", step.text, item)
        return item

    def _label_sync(self, step: Content, ctx: Context) -> tuple[Region, tuple[_Taint, ...]]:
        item = self._cache.get("result", step.text)
        if item is None:
            findings: list[Finding] = []
            view = Content(step.text, "tool", Stage.RETRIEVED, step.source)
            for labeller in self.labellers:
                found = labeller.monitor.inspect_sync(view, ctx)  # type: ignore[attr-defined]
                findings.extend(f for f in found if labeller.keep(f))
            item = (Region.of(step.text), taints_of(findings, step.text))
            self._cache.put("result", step.text, item)
        return item

    # -- the rules ----------------------------------------------------------------------------

    def _oversize(self, content: Content) -> Finding | None:
        steps = content.trace
        chars = sum(len(s.text) for s in steps)
        if len(steps) <= self.config.max_steps and chars <= self.config.max_chars:
            return None
        reason = (
            f"a trace of {len(steps)} steps and {chars} characters exceeds the limit of "
            f"{self.config.max_steps} steps or {self.config.max_chars} characters"
        )
        return Finding(self.name, "flow.denied", 1.0, (), {"rule": "max-trace", "reason": reason})

    def _rules_for(self, content: Content) -> list[FlowRule]:
        call = content.tool_call
        if call is None:
            return []
        return [r for r in self.config.rules if _governs(r, call.name)]

    def _start(self, content: Content) -> tuple[list[FlowRule], list[Finding] | None]:
        """The rules that govern the call, and the findings when no trace need be read."""
        rules = self._rules_for(content)
        if not rules:
            return rules, []
        oversize = self._oversize(content)
        return rules, None if oversize is None else [oversize]

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]:
        rules, done = self._start(content)
        if done is not None:
            return done
        reads = [
            self._read(i, step, await self._label(step, ctx))
            for i, step in enumerate(content.trace)
            if step.role == "tool"
        ]
        return self._findings(content, rules, reads)

    def _read(self, i: int, step: Content, item: tuple[Region, tuple[_Taint, ...]]) -> _Read:
        region, taints = item
        trusted = step.source in self._trusted
        if not trusted:
            taints = (UNTRUSTED_TAINT, *taints)
        return _Read(i, step.source, region, trusted, taints)

    def _findings(
        self, content: Content, rules: list[FlowRule], reads: list[_Read]
    ) -> list[Finding]:
        assert content.tool_call is not None
        call = content.tool_call
        trusted: list[Region] | None = None

        def trusted_text() -> list[Region]:
            nonlocal trusted
            if trusted is None:
                trusted = [
                    self._region(s.text)
                    for s in content.trace
                    if s.role in ("system", "developer", "user") and s.text
                ] + [r.region for r in reads if r.trusted]
            return trusted

        # Reads by label, in trace order: each rule then looks at the labels it names only.
        by_label: dict[str, list[tuple[_Read, _Taint]]] = {}
        for read in reads:
            for taint in read.taints:
                by_label.setdefault(taint.label, []).append((read, taint))
        out: list[Finding] = []
        for rule in rules:
            if rule.after:
                hit = None if self._asked(rule, content) else self._after(rule, reads)
                if hit is not None and rule.unless_asked:
                    hit["reason"] += ", and no user or operator message asks for it"
            else:
                hit = self._carries(rule, call.arguments, by_label, trusted_text)
            if hit is not None:
                detail = {"rule": rule.name, "tool": call.name, **hit}
                out.append(Finding(self.name, CATEGORY_OF[rule.action], 1.0, (), detail))
        return out

    def _wants(self, selectors: tuple[str, ...], label: str) -> bool:
        """Whether a label is one the selectors name (memoised per selector tuple, which the
        frozen rules keep: few labels, few rules)."""
        known = self._wanted.get(id(selectors))
        if known is None:
            known = self._wanted[id(selectors)] = {}
        wanted = known.get(label)
        if wanted is None:
            wanted = known[label] = any(matches(label, s) for s in selectors)
        return wanted

    @staticmethod
    def _asked(rule: FlowRule, content: Content) -> bool:
        """Whether the user or the operator asked for what the rule governs."""
        pattern = rule.asked
        return pattern is not None and any(
            pattern.search(unicodedata.normalize("NFKC", s.text).casefold())
            for s in content.trace
            if s.role in ("system", "developer", "user") and s.text
        )

    def _after(self, rule: FlowRule, reads: list[_Read]) -> dict[str, Any] | None:
        for read in reads:
            for taint in read.taints:
                if self._wants(rule.after, taint.label):
                    return {
                        "label": taint.label,
                        "step": read.step,
                        "source": read.source,
                        "reason": f"after a result labelled {taint.label} (step {read.step})",
                    }
        return None

    @staticmethod
    def _arguments(rule: FlowRule, selected: Any) -> Iterator[tuple[str, Argument]]:
        for path, text in leaves(selected):
            if rule.match == "identifiers":
                for found in identifiers(text):
                    yield path, Argument.of(found)
            else:
                yield path, Argument.of(text)

    def _carries(
        self,
        rule: FlowRule,
        arguments: Any,
        by_label: dict[str, list[tuple[_Read, _Taint]]],
        trusted_text: Callable[[], list[Region]],
    ) -> dict[str, Any] | None:
        wanted = [pairs for label, pairs in by_label.items() if self._wants(rule.carries, label)]
        if not wanted:
            return None
        # In trace order, so the finding cites the first step that supplied the value.
        relevant = sorted((pair for pairs in wanted for pair in pairs), key=lambda p: p[0].step)
        selected = (
            {k: v for k, v in arguments.items() if k in rule.arguments}
            if rule.arguments
            else arguments
        )
        match = self.matcher
        for path, argument in self._arguments(rule, selected):
            for read, taint in relevant:
                if taint.values:
                    if not any(match.carries_value(argument, v) for v in taint.values):
                        continue
                elif not match.comes_from(argument, read.region) or (
                    taint.label == UNTRUSTED
                    and any(match.comes_from(argument, t) for t in trusted_text())
                ):
                    continue
                return {
                    "label": taint.label,
                    "argument": path,
                    "step": read.step,
                    "source": read.source,
                    "reason": f"argument {path} carries {taint.label} data from step {read.step}",
                }
        return None


class InlineFlowMonitor(FlowMonitor, Inline):
    """The flow monitor when every labelling monitor is inline: no event loop needed."""

    def inspect_sync(self, content: Content, ctx: Context) -> list[Finding]:
        rules, done = self._start(content)
        if done is not None:
            return done
        reads = [
            self._read(i, step, self._label_sync(step, ctx))
            for i, step in enumerate(content.trace)
            if step.role == "tool"
        ]
        return self._findings(content, rules, reads)

    async def inspect(self, content: Content, ctx: Context) -> list[Finding]:
        return self.inspect_sync(content, ctx)


def _labeller(label: Label) -> _Labeller:
    spec = REGISTRY.get(label.monitor)
    if Stage.RETRIEVED not in spec.stages:
        raise ValueError(f"label monitor {label.monitor!r} does not read tool results")
    built = spec.build(label.config)
    threshold = label.threshold
    if isinstance(threshold, FprThreshold):
        try:
            threshold = fpr_threshold(built, threshold.target_fpr)
        except ValueError as exc:
            raise ValueError(f"label monitor {label.monitor!r} {exc}") from None
    return _Labeller(built, label.categories or spec.categories, float(threshold))


def _produced(selector: str, labellers: Sequence[_Labeller]) -> bool:
    return selector == UNTRUSTED or any(
        matches(c, selector) or matches(selector, c) for lab in labellers for c in lab.categories
    )


def _labels_used(config: FlowConfig) -> Iterator[tuple[str, str]]:
    for rule in config.rules:
        for selector in (*rule.after, *rule.carries):
            yield rule.name, selector


@monitor(
    "flow",
    stages=[Stage.TOOL_CALL],
    categories=("flow.approval", "flow.denied"),
    config=FlowConfig,
    description="Information-flow rules over the agent's trace: taint by value",
)
def flow_monitor(config: FlowConfig) -> FlowMonitor:
    labellers = [_labeller(label) for label in config.labels]
    for rule, selector in _labels_used(config):
        if not _produced(selector, labellers):
            monitors = ", ".join(label.monitor for label in config.labels) or "none"
            raise ValueError(
                f"rule {rule!r}: no labelling monitor produces {selector!r} (labels: "
                f"untrusted, or a category of a monitor under 'labels': {monitors})"
            )
    if all(isinstance(lab.monitor, Inline) for lab in labellers):
        return InlineFlowMonitor(config, labellers)
    return FlowMonitor(config, labellers)
