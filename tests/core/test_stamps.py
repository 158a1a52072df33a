"""Event times are written one way and read back to the same millisecond, whatever the zone."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from swisscheese.core.stamps import read_stamp, stamp

MOMENTS = st.datetimes(
    min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2999, 1, 1), timezones=st.timezones()
)


@given(MOMENTS)
def test_a_stamp_reads_back_to_the_same_millisecond_in_utc(moment: dt.datetime) -> None:
    written = stamp(moment)
    assert written.endswith("Z")
    back = read_stamp(written)
    assert back.utcoffset() == dt.timedelta(0)
    assert abs(back - moment) < dt.timedelta(milliseconds=1)


def test_a_time_without_a_zone_is_utc() -> None:
    assert read_stamp("2026-12-01T10:00:00") == dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
