"""Run an evaluation: every benign item once, every attack goal with the adaptive attacker.

Work is cut into fixed chunks of items whatever the number of workers, and every goal's attacker
is seeded from the run's seed and the goal's id, so the results (latency aside) are the same in
one process, in a local process pool, or as Ray tasks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

from swisscheese.config import load_policy
from swisscheese.evaluation.attacker import AdaptiveAttacker
from swisscheese.evaluation.corpora import Item
from swisscheese.evaluation.judges import Judge, LLMJudge, RefusalJudge
from swisscheese.evaluation.targets import Barrier, HttpTarget, InProcessTarget, Target

__all__ = ["AttemptOutcome", "EvalConfig", "ItemOutcome", "RunOutput", "run_items"]

CHUNK = 32


@dataclass(frozen=True, slots=True)
class EvalConfig:
    """Everything a worker needs to rebuild the target and judge (it must pickle)."""

    policy: str | None = None
    target: str = "inprocess"
    model: str = "default"
    api_key: str | None = None
    judge: str = "refusal"
    """``refusal`` (deterministic) or ``URL#MODEL`` for an LLM judge behind an endpoint."""
    k: int = 10
    seed: int = 0


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    number: int
    plan: tuple[str, ...]
    complied: bool
    stopped_by: tuple[str, ...]
    latency_ms: float
    scores: dict[str, float]
    fired: dict[str, bool]
    failed: tuple[str, ...] = ()
    degraded: tuple[str, ...] = ()
    text: str | None = None
    """What the attacker sent, kept for the attempt that got through (the report shows it)."""


@dataclass(slots=True)
class ItemOutcome:
    """What happened to one item. ``scores``/``fired``/``stopped_by`` describe its first, as
    written, exchange; ``attempts`` every attempt of the attacker's run (attacks only)."""

    id: str
    source: str
    category: str
    attack: bool
    complied: bool
    stopped_by: tuple[str, ...]
    scores: dict[str, float]
    fired: dict[str, bool]
    latency_ms: float
    monitor_ms: dict[str, float]
    layer_ms: dict[str, float]
    attempts: list[AttemptOutcome] = field(default_factory=list)
    failed: tuple[str, ...] = ()
    """Barriers of ``stopped_by`` that stopped it because their monitor failed."""
    degraded: tuple[str, ...] = ()
    """Barriers whose ensemble decided without a late member."""

    @property
    def success(self) -> AttemptOutcome | None:
        """The attempt that succeeded (attacks), or None."""
        return next((a for a in self.attempts if a.complied), None)

    @property
    def succeeded_at(self) -> int | None:
        """The attempt number that succeeded (attacks), or None."""
        return won.number if (won := self.success) is not None else None


@dataclass(slots=True)
class RunOutput:
    target: str
    judge: str
    barriers: list[Barrier]
    outcomes: list[ItemOutcome]


def build_target(config: EvalConfig) -> Target:
    if config.target == "inprocess":
        return InProcessTarget(load_policy(config.policy) if config.policy else None)
    return HttpTarget(config.target, config.model, config.api_key)


def build_judge(config: EvalConfig) -> Judge:
    if config.judge == "refusal":
        return RefusalJudge()
    url, sep, model = config.judge.partition("#")
    if not sep or not url.startswith(("http://", "https://")) or not model:
        raise ValueError(f"judge {config.judge!r}: expected 'refusal' or 'URL#MODEL'")
    return LLMJudge(url, model, config.api_key)


def _evaluate(target: Target, judge: Judge, item: Item, config: EvalConfig) -> ItemOutcome:
    if not item.attack:
        ex = target.exchange(
            item.text,
            goal=item.text,
            attack=False,
            category=item.category,
            reply_encoding=None,
            role=item.role,
            document=item.document,
        )
        return ItemOutcome(
            item.id,
            item.source,
            item.category,
            False,
            judge.complied(item.text, ex.reply),
            ex.stopped_by,
            ex.scores,
            ex.fired,
            ex.latency_ms,
            ex.monitor_ms,
            ex.layer_ms,
            failed=ex.failed,
            degraded=ex.degraded,
        )
    attacker = AdaptiveAttacker(item.text, item.id, k=config.k, seed=config.seed)
    first = None
    attempts: list[AttemptOutcome] = []
    while (attempt := attacker.next_attempt()) is not None:
        ex = target.exchange(
            attempt.text,
            goal=item.text,
            attack=True,
            category=item.category,
            reply_encoding=attempt.reply_encoding,
            document=item.document,
        )
        complied = judge.complied(attempt.text, ex.reply)
        attempts.append(
            AttemptOutcome(
                attempt.number,
                attempt.plan,
                complied,
                ex.stopped_by,
                ex.latency_ms,
                ex.scores,
                ex.fired,
                ex.failed,
                ex.degraded,
                attempt.text if complied else None,
            )
        )
        if first is None:
            first = ex
        if complied:
            break
        attacker.refused(ex.stopped_by)
    assert first is not None
    return ItemOutcome(
        item.id,
        item.source,
        item.category,
        True,
        attempts[0].complied,
        first.stopped_by,
        first.scores,
        first.fired,
        first.latency_ms,
        first.monitor_ms,
        first.layer_ms,
        attempts,
        first.failed,
        first.degraded,
    )


# One target and judge per worker process, built on its first chunk (models load once).
_WORKER: dict[EvalConfig, tuple[Target, Judge]] = {}


def _worker_parts(config: EvalConfig) -> tuple[Target, Judge]:
    parts = _WORKER.get(config)
    if parts is None:
        parts = _WORKER[config] = (build_target(config), build_judge(config))
    return parts


def run_chunk(config: EvalConfig, items: Sequence[Item]) -> list[ItemOutcome]:
    """Evaluate ``items`` in this process (the unit of work of every executor)."""
    target, judge = _worker_parts(config)
    return [_evaluate(target, judge, item, config) for item in items]


def _chunks(items: Sequence[Item]) -> list[list[Item]]:
    return [list(items[i : i + CHUNK]) for i in range(0, len(items), CHUNK)]


def _serial(config: EvalConfig, chunks: list[list[Item]]) -> Iterator[list[ItemOutcome]]:
    for chunk in chunks:
        yield run_chunk(config, chunk)


def _pool(
    config: EvalConfig, chunks: list[list[Item]], workers: int
) -> Iterator[list[ItemOutcome]]:
    # spawn: the parent may hold threads (a guard's portal, Rich's refresher) that fork would copy
    # mid-flight.
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        yield from pool.map(run_chunk, [config] * len(chunks), chunks)


def _ray(
    config: EvalConfig, chunks: list[list[Item]], address: str, workers: int
) -> Iterator[list[ItemOutcome]]:
    try:
        import ray
    except ImportError:
        raise RuntimeError("--ray needs Ray: pip install 'swisscheese[ray]'") from None
    started = not ray.is_initialized()
    if started:
        if address == "local":
            ray.init(
                num_cpus=max(workers, 1),
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        remote = ray.remote(run_chunk)
        pending = [remote.remote(config, chunk) for chunk in chunks]
        for ref in pending:  # in submission order: the same order as every other executor
            yield ray.get(ref)
    finally:
        if started:
            ray.shutdown()


def run_items(
    config: EvalConfig,
    items: Sequence[Item],
    *,
    workers: int = 1,
    ray_address: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunOutput:
    """Evaluate ``items`` (attacks and benign together) and return every outcome in item order."""
    chunks = _chunks(items)
    if ray_address:
        batches = _ray(config, chunks, ray_address, workers)
    elif workers > 1:
        batches = _pool(config, chunks, min(workers, os.cpu_count() or workers, len(chunks) or 1))
    else:
        batches = _serial(config, chunks)
    outcomes: list[ItemOutcome] = []
    for batch in batches:
        outcomes.extend(batch)
        if progress is not None:
            progress(len(batch))
    # The barrier list comes from the policy, not from a worker, so it is known even for an
    # empty run; remote targets expose no barriers.
    target, judge = _worker_parts(config)
    return RunOutput(target.name, judge.name, list(target.barriers), outcomes)
