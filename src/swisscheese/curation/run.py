"""`curate`: every shard through the corpus stage, in worker processes (a local pool, or Ray
tasks), each shard checkpointed when done so a rerun after a kill skips it and the output is
byte-identical; then the report and the signed manifest."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swisscheese.common.files import file_sha256
from swisscheese.core import canonical_json
from swisscheese.curation.filtering import ShardResult, curate_shard
from swisscheese.curation.shards import Shard, ShardError, find_shards

STATE = ".curate"
SCHEMA = "swisscheese.curate/1"


@dataclass(frozen=True)
class CurateConfig:
    source: str
    out: Path
    field: str = "text"
    policy: Path | None = None
    workers: int = 2
    ray: str | None = None
    """A Ray address, ``local`` for a local Ray, or None for the process pool."""
    skip_bad: bool = False
    """Skip (and report) a shard that cannot be read, instead of stopping."""


@dataclass
class CurateOutcome:
    results: list[ShardResult]
    skipped: list[dict[str, str]] = field(default_factory=list)
    resumed: int = 0
    filters: dict[str, Any] = field(default_factory=dict)


# -- the worker side: one Guard per process, built on its first shard ------------------------

_GUARD: Any = None


def _guard(policy: str | None) -> Any:
    global _GUARD
    if _GUARD is None:
        from swisscheese import Guard
        from swisscheese.config import load_policy

        _GUARD = Guard(load_policy(policy) if policy else None)
    return _GUARD


def work(shard: Shard, field_name: str, policy: str | None, out: str) -> dict[str, Any]:
    """Curate one shard in this process (pool or Ray worker); its result as a dict."""
    try:
        result = curate_shard(_guard(policy), shard, field_name, Path(out))
    except ShardError as exc:
        return {"error": str(exc)}
    if file_sha256(shard.path) != result.input_sha256:
        return {"error": f"{shard.path}: changed while it was being curated"}
    return result.to_dict()


# -- the driver ---------------------------------------------------------------------------


def filters_of(policy: Path | None) -> dict[str, Any]:
    """What the corpus stage applies: the policy's digest and the corpus layer's rules with
    their thresholds, and the shipped models' digests (so the manifest says which filter made
    the dataset)."""
    from swisscheese import Guard
    from swisscheese.config import load_policy

    guard = Guard(load_policy(policy) if policy else None)
    try:
        layer = guard.compiled.policy.layers.get("corpus")
        if layer is None:
            raise ShardError("the policy has no corpus layer: nothing would screen the corpus")
        rules = [r.model_dump(mode="json", exclude_none=True) for r in layer.rules]
        return {
            "policy_digest": guard.policy_digest,
            "rules": rules,
            "models": _model_digests({str(r["monitor"]) for r in rules}),
        }
    finally:
        guard.close()


def _model_digests(monitors: set[str]) -> dict[str, str]:
    from importlib import resources

    models = resources.files("swisscheese.monitors").joinpath("models")
    out: dict[str, str] = {}
    for entry in sorted(models.iterdir(), key=lambda e: e.name):
        stem = entry.name.split(".")[0]
        if stem in monitors and entry.name.endswith(".npz"):
            out[entry.name] = hashlib.sha256(entry.read_bytes()).hexdigest()
    return out


def _state_path(out: Path, shard: Shard) -> Path:
    return out / STATE / (shard.name + ".json")


def _resumable(out: Path, shard: Shard, config_digest: str) -> ShardResult | None:
    """The shard's checkpoint, if it is for this input, this configuration and the outputs on
    disk are the ones it recorded."""
    path = _state_path(out, shard)
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        result = ShardResult.from_dict(state["result"])
    except (ValueError, KeyError, TypeError):
        return None
    if state.get("config") != config_digest or result.input_sha256 != file_sha256(shard.path):
        return None
    for kind, digest in (("kept", result.kept_sha256), ("removed", result.removed_sha256)):
        output = out / kind / shard.name
        if not output.exists() or file_sha256(output) != digest:
            return None
    return result


def _checkpoint(out: Path, shard: Shard, config_digest: str, result: ShardResult) -> None:
    path = _state_path(out, shard)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps({"config": config_digest, "result": result.to_dict()}))
    os.replace(partial, path)


def _run_pool(
    jobs: Sequence[Shard], config: CurateConfig
) -> Iterator[tuple[Shard, dict[str, Any]]]:
    policy = str(config.policy) if config.policy else None
    with ProcessPoolExecutor(max_workers=max(1, config.workers)) as pool:
        futures = [(s, pool.submit(work, s, config.field, policy, str(config.out))) for s in jobs]
        for shard, future in futures:
            yield shard, future.result()


def _run_ray(jobs: Sequence[Shard], config: CurateConfig) -> Iterator[tuple[Shard, dict[str, Any]]]:
    import ray

    if not ray.is_initialized():
        if config.ray == "local":
            ray.init(num_cpus=max(1, config.workers), include_dashboard=False, log_to_driver=False)
        else:
            ray.init(address=config.ray, log_to_driver=False)
    remote = ray.remote(work)
    policy = str(config.policy) if config.policy else None
    refs = [(s, remote.remote(s, config.field, policy, str(config.out))) for s in jobs]
    for shard, ref in refs:
        yield shard, ray.get(ref)


def curate(
    config: CurateConfig, progress: Callable[[ShardResult | None, int], None] | None = None
) -> CurateOutcome:
    """Curate every shard not already done; ``progress`` hears of each finished shard (None
    for a skipped one) and its record count."""
    shards = find_shards(config.source)
    filters = filters_of(config.policy)
    config_digest = hashlib.sha256(
        canonical_json({"schema": SCHEMA, "field": config.field, "filters": filters})
    ).hexdigest()
    outcome = CurateOutcome([], filters=filters)
    jobs: list[Shard] = []
    for shard in shards:
        done = _resumable(config.out, shard, config_digest)
        if done is None:
            jobs.append(shard)
            continue
        outcome.results.append(done)
        outcome.resumed += 1
        if progress:
            progress(done, done.records)
    runner = _run_ray if config.ray else _run_pool
    for shard, answer in runner(jobs, config):
        if "error" in answer:
            if not config.skip_bad:
                raise ShardError(answer["error"])
            outcome.skipped.append({"shard": shard.name, "error": answer["error"]})
            if progress:
                progress(None, 0)
            continue
        result = ShardResult.from_dict(answer)
        _checkpoint(config.out, shard, config_digest, result)
        outcome.results.append(result)
        if progress:
            progress(result, result.records)
    outcome.results.sort(key=lambda r: r.name)
    return outcome
