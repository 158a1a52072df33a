"""Helpers for people who write monitors: ``check_monitor`` asserts the plugin contract.

    from swisscheese.testing import check_monitor

    def test_my_monitor_meets_the_contract() -> None:
        check_monitor("acme/profanity", positive="what the heck", negative="hello there")

The idea is scikit-learn's ``check_estimator``: one call runs every check the Guard relies on,
and a failure names the check (``MonitorContractError``, an ``AssertionError``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

from swisscheese.core import Content, Context, Finding, InlineMonitor, Monitor, Stage
from swisscheese.core.errors import SwisscheeseError
from swisscheese.monitors import REGISTRY, MonitorConfig, MonitorSpec, Registry

# Texts every monitor must survive at every stage it declares: nothing, prose, a long text,
# text a normaliser would rewrite, the U+FFFD the entry points leave for invalid Unicode.
EDGE_TEXTS: tuple[str, ...] = (
    "",
    "What is the capital of Portugal?",
    "lorem ipsum dolor sit amet " * 2000,
    "naïve café 👩🏽‍💻 שלום مرحبا 你好 z\u200bero \u202eright-to-left",
    "broken \ufffd text",
    '{"json": [1, 2, 3], "nested": {"a": null}}',
)


class MonitorContractError(SwisscheeseError, AssertionError):
    """A monitor broke the plugin contract; the message names the check."""


def check_monitor(
    monitor: str | MonitorSpec,
    config: MonitorConfig | dict[str, Any] | None = None,
    *,
    positive: str | Content | None = None,
    negative: str | Content | None = None,
    registry: Registry = REGISTRY,
) -> Monitor:
    """Build the monitor from its registered spec and check the contract; returns the monitor.

    ``positive``/``negative``: a text it must flag, and one it must leave alone (for calibrated
    monitors: score at or above, and below, their 1% FPR threshold), as a ``Content`` to choose
    the stage and trace, or a string screened at the first stage it declares.
    """
    spec = registry.get(monitor) if isinstance(monitor, str) else monitor
    _check_spec(spec)
    built = spec.build(config)
    _expect(isinstance(getattr(built, "name", None), str), "has a `name` string")
    stages = frozenset(getattr(built, "stages", ()))
    _expect(bool(stages) and stages <= set(Stage), "declares `stages`, a set of Stage")
    with start_blocking_portal() as portal:
        for stage in sorted(stages):
            for text in EDGE_TEXTS:
                _findings(portal, built, spec, Content(text, stage=stage))
        first = Content(EDGE_TEXTS[1], stage=min(stages))
        once = _findings(portal, built, spec, first)
        _expect(_findings(portal, built, spec, first) == once, "gives the same answer twice")
        _check_concurrency(portal, built, spec, stages)
        for sample, flagged in ((positive, True), (negative, False)):
            if sample is not None:
                content = (
                    sample if isinstance(sample, Content) else Content(sample, stage=min(stages))
                )
                _check_sample(portal, built, spec, content, flagged)
    return built


def _expect(condition: bool, check: str) -> None:
    if not condition:
        raise MonitorContractError(f"the monitor must: {check}")


def _check_spec(spec: MonitorSpec) -> None:
    _expect(bool(spec.stages), "declare its stages when registered")
    _expect(bool(spec.categories), "declare the categories it reports")
    _expect(bool(spec.description), "have a description")
    _expect(
        isinstance(spec.config, type) and issubclass(spec.config, MonitorConfig),
        "take a MonitorConfig subclass as its config",
    )
    _expect(spec.config.model_json_schema().get("type") == "object", "have an object config")


def _findings(
    portal: BlockingPortal, built: Monitor, spec: MonitorSpec, content: Content
) -> list[Finding]:
    found = portal.call(built.inspect, content, Context())
    _expect(isinstance(found, list), "return a list from inspect()")
    for f in found:
        _check_finding(f, built, spec, content.text)
    if isinstance(built, InlineMonitor):
        _expect(
            built.inspect_sync(content, Context()) == found,
            "return the same findings from inspect_sync() as from inspect()",
        )
    return list(found)


def _check_finding(f: Any, built: Monitor, spec: MonitorSpec, text: str) -> None:
    _expect(isinstance(f, Finding), "return Finding objects")
    _expect(f.monitor == built.name, f"name itself in its findings ({f.monitor!r})")
    _expect(
        any(f.category == c or f.category.startswith(c + ".") for c in spec.categories),
        f"report only the categories it declares ({f.category!r})",
    )
    _expect(0.0 <= f.score <= 1.0, f"score in [0, 1] ({f.score})")
    _expect(
        all(0 <= s.start <= s.end <= len(text) for s in f.spans),
        "place its spans inside the text it was given",
    )
    try:
        json.dumps(dict(f.detail))
    except (TypeError, ValueError):
        raise MonitorContractError("the monitor must: keep `detail` JSON-serialisable") from None


def _check_concurrency(
    portal: BlockingPortal, built: Monitor, spec: MonitorSpec, stages: frozenset[Stage]
) -> None:
    contents = [Content(t, stage=min(stages)) for t in EDGE_TEXTS[1:] for _ in range(3)]
    alone = [_findings(portal, built, spec, c) for c in contents]

    async def together() -> Sequence[list[Finding]]:
        import anyio

        results: list[list[Finding]] = [[] for _ in contents]

        async def one(i: int) -> None:
            results[i] = await built.inspect(contents[i], Context())

        async with anyio.create_task_group() as tg:
            for i in range(len(contents)):
                tg.start_soon(one, i)
        return results

    _expect(list(portal.call(together)) == alone, "be safe to call concurrently")


def _check_sample(
    portal: BlockingPortal, built: Monitor, spec: MonitorSpec, content: Content, flagged: bool
) -> None:
    found = _findings(portal, built, spec, content)
    threshold = getattr(built, "threshold_for_fpr", None)
    if spec.calibrated and callable(threshold):
        cut = float(threshold(0.01))
        hit = any(f.score >= cut for f in found)
    else:
        hit = bool(found)
    what = "flag its positive example" if flagged else "leave its negative example alone"
    _expect(hit == flagged, what)
