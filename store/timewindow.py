"""Time arguments of layers/: one parser to naive local China time, and the one spelling of a window.

A window is [start, end) in naive local time, each end a datetime or None for an open end; there are no stand-in
dates (no 1900 / 2200) anywhere: SQL binds None as NULL and the queries read NULL as "open" (layers/event_query.py).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from store.errors import UserError

LOCAL_TZ = "Asia/Shanghai"  # events.reported_at is local China time without an offset
TimeLike = str | dt.date | dt.datetime | pd.Timestamp


class QueryError(UserError, ValueError):
    """A bad argument to a layers function: says what arrived and what would fix it."""


def local_time(value: TimeLike | None, name: str) -> dt.datetime | None:
    """A naive local (Asia/Shanghai) datetime; aware values are converted, strings parsed; None stays None."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = pd.NaT
    if pd.isna(ts):
        raise QueryError(f"`{name}` was {value!r}; give a datetime, a date or an ISO text like '2024-01-31 08:00'")
    if ts.tzinfo is not None:
        ts = ts.tz_convert(LOCAL_TZ).tz_localize(None)
    return ts.to_pydatetime()


def checked_window(start: TimeLike | None, end: TimeLike | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Both ends parsed; an empty or reversed window is an error (the window is [start, end))."""
    start_ts, end_ts = local_time(start, "start"), local_time(end, "end")
    if start_ts is not None and end_ts is not None and start_ts >= end_ts:
        raise QueryError(f"`start` ({start_ts}) must be before `end` ({end_ts}): the window is [start, end)")
    return start_ts, end_ts


def bounded_window(start: TimeLike | None, end: TimeLike | None, *, what: str,
                   why: str) -> tuple[dt.datetime, dt.datetime]:
    """As checked_window, for figures that need both ends (a comparison, a trend): `what` needs them `why`."""
    if start is None or end is None:
        raise QueryError(f"{what} needs both `start` and `end`: {why}")
    return checked_window(start, end)  # type: ignore[return-value]
