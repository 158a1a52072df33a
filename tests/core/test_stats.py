from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from swisscheese.core.stats import latency_summary, percentile

finite = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@given(values=st.lists(finite, min_size=1, max_size=60), q=st.floats(min_value=0, max_value=100))
def test_percentile_agrees_with_numpy(values: list[float], q: float) -> None:
    assert abs(percentile(values, q) - float(np.percentile(values, q))) <= 1e-6 * max(1.0, *values)


def test_no_values_have_no_percentiles() -> None:
    assert percentile([], 50) == 0.0
    assert latency_summary([]) == {"p50": None, "p95": None, "p99": None, "n": 0}
