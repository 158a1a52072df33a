"""Event times: how the log writes them (UTC, milliseconds, ``Z``) and how they are read back."""

from __future__ import annotations

import datetime as dt


def stamp(moment: dt.datetime) -> str:
    """``moment`` (timezone-aware) as an event's ``time``: UTC, milliseconds, ``Z``."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_stamp(text: object) -> dt.datetime:
    """An event's ``time`` as an aware datetime (a time written without a zone is UTC)."""
    moment = dt.datetime.fromisoformat(str(text))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
