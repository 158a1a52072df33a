"""What the embedding tier's two encoders do alike: cut a text into windows, and run many
texts through a model in batches of like length, several batches at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["in_batches", "window_starts"]

T = TypeVar("T")


def window_starts(length: int, size: int, stride: int, limit: int) -> list[int]:
    """Where the windows of ``size`` over ``length`` units begin: one every ``stride``, the
    last flush with the end, at most ``limit`` (the first ones and the last)."""
    starts = list(range(0, max(length - size, 0) + 1, stride))
    if starts[-1] + size < length:
        starts.append(length - size)
    if len(starts) > limit:
        starts = starts[: limit - 1] + starts[-1:] if limit > 1 else starts[:1]
    return starts


def in_batches(
    sizes: Sequence[int], batch: int, workers: int, run: Callable[[list[int]], T]
) -> tuple[list[list[int]], list[T]]:
    """The items' indices sorted by size, in batches of ``batch`` (items of like size share a
    batch: less padding), and ``run`` of each batch, in that order; ``workers`` batches run at
    once on threads (the encoders' runtimes release the GIL)."""
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    batches = [order[start : start + batch] for start in range(0, len(order), batch)]
    if workers > 1 and len(batches) > 1:
        with ThreadPoolExecutor(min(workers, len(batches))) as pool:
            return batches, list(pool.map(run, batches))
    return batches, [run(picked) for picked in batches]
