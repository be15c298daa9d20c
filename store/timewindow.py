"""Time arguments of layers/: one parser to naive local time in the store's zone, and the one spelling of a window.

The store's policy: every stored time (reported_at, due_at, visited_at, ...) is naive local time in the store's
zone, minqing.toml `timezone` (default Asia/Shanghai), recorded in meta 'timezone' by each load; mappings whose
sources write another zone are converted on load. "Now" is the wall clock in that zone (now_in), never the
server's own zone.
A window is [start, end) in naive local time, each end a datetime or None for an open end; there are no stand-in
dates (no 1900 / 2200) anywhere: SQL binds None as NULL and the queries read NULL as "open" (layers/event_query.py).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd

from store.errors import UserError

LOCAL_TZ = "Asia/Shanghai"  # the default store zone (and that of stores loaded before meta recorded one)
TimeLike = str | dt.date | dt.datetime | pd.Timestamp


class QueryError(UserError, ValueError):
    """A bad argument to a layers function: says what arrived and what would fix it."""


def store_zone(con: duckdb.DuckDBPyConnection) -> str:
    """The store's zone: meta 'timezone' (written by every load), else the default Asia/Shanghai."""
    row = con.execute("SELECT value FROM meta WHERE key = 'timezone'").fetchone()
    return str(row[0]) if row else LOCAL_TZ


def now_in(zone: str) -> dt.datetime:
    """The wall clock now as naive local time in `zone` (the store's), whatever zone the server runs in."""
    return dt.datetime.now(ZoneInfo(zone)).replace(tzinfo=None)


def local_time(value: TimeLike | None, name: str, zone: str = LOCAL_TZ) -> dt.datetime | None:
    """A naive local datetime in `zone` (the store's); aware values are converted, strings parsed; None stays None."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        ts = pd.NaT
    if pd.isna(ts):
        raise QueryError(f"`{name}` was {value!r}; give a datetime, a date or an ISO text like '2024-01-31 08:00'")
    if ts.tzinfo is not None:
        ts = ts.tz_convert(zone).tz_localize(None)
    return ts.to_pydatetime()


def store_time(con: duckdb.DuckDBPyConnection, value: TimeLike | None, name: str) -> dt.datetime | None:
    """local_time in the store's zone (store_zone): an aware value from outside (a CLI option with an offset, an
    aware datetime) becomes the store's naive local time; a naive value is taken as the store's already."""
    return local_time(value, name, store_zone(con))


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
