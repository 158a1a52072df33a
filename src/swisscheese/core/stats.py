"""Latency percentiles, computed one way everywhere (linear interpolation between the closest
ranks, as numpy's default)."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * min(max(q, 0.0), 100.0) / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """p50, p95, p99 (rounded to 0.1 µs when in ms) and the count."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    return {
        **{f"p{q}": round(percentile(values, q), 4) for q in (50, 95, 99)},
        "n": len(values),
    }
