"""The command center's numbers: headline figures (today's reports, open and overdue now, this month's closures and
on-time rate, each with the figure it is compared with) and the newest reports for the live feed.

Every figure reuses the definitions of layers/stats.py at level `city` (events located in a grid; docs/analytics.md):
`window_totals` for reports and closures in a window, `open_now` for the state at a moment. Nothing reads the
wall clock; `as_of` is passed in. Comparisons are like for like:

| figure | now | compared with |
|---|---|---|
| new_today | reported in [as_of's midnight, as_of) | [yesterday's midnight, as_of − 1 day) |
| open_now, overdue_now | open (overdue) at as_of | open (overdue) at as_of − 1 day |
| closed_this_month | closed in [1st of as_of's month, as_of) | [1st of last month, as_of − 1 month) |
| on_time_rate | closed on time / closed with a due time, same window | the same in last month's window |
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from layers import markers_queries as q
from layers.event_query import EventFilter, EventQuery, check_statuses
from layers.stats import open_now, window_totals
from store.timewindow import QueryError, TimeLike, local_time

__all__ = ["Figure", "KpiPeriods", "CommandKpis", "kpi_periods", "command_kpis", "latest_reports"]

WINDOW_FIGURES: tuple[str, ...] = ("events", "closed", "closed_with_due", "closed_on_time")


@dataclass(frozen=True)
class Figure:
    """A headline figure and the figure it is compared with (None when there is no base, e.g. a rate of 0 closures)."""

    value: float | None
    previous: float | None

    @property
    def change(self) -> float | None:
        """value − previous, or None when either is missing."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


@dataclass(frozen=True)
class KpiPeriods:
    """The moments and windows behind the figures (all naive local time)."""

    as_of: dt.datetime
    today_start: dt.datetime
    yesterday_start: dt.datetime
    yesterday_as_of: dt.datetime  # as_of − 1 day: the same time yesterday
    month_start: dt.datetime
    last_month_start: dt.datetime
    last_month_as_of: dt.datetime  # as_of − 1 calendar month (31 March → 28/29 February)


@dataclass(frozen=True)
class CommandKpis:
    """The five tiles of the command center."""

    periods: KpiPeriods
    new_today: Figure
    open_now: Figure
    overdue_now: Figure
    closed_this_month: Figure
    on_time_rate: Figure  # 0–1


def kpi_periods(as_of: TimeLike) -> KpiPeriods:
    """The comparison windows for `as_of` (pure)."""
    moment = local_time(as_of, "as_of")
    if moment is None:
        raise QueryError("`as_of` is required: pass the moment the figures are for (e.g. data_clock(con))")
    today = dt.datetime.combine(moment.date(), dt.time())
    month = today.replace(day=1)
    last_month_as_of = (pd.Timestamp(moment) - pd.DateOffset(months=1)).to_pydatetime()
    return KpiPeriods(
        as_of=moment,
        today_start=today,
        yesterday_start=today - dt.timedelta(days=1),
        yesterday_as_of=moment - dt.timedelta(days=1),
        month_start=month,
        last_month_start=(month - dt.timedelta(days=1)).replace(day=1),
        last_month_as_of=last_month_as_of,
    )


def command_kpis(con: duckdb.DuckDBPyConnection, *, as_of: TimeLike, where: EventFilter | None = None) -> CommandKpis:
    """The five headline figures at `as_of` for the events passing `where` (see the module's table)."""
    p = kpi_periods(as_of)
    today = _totals(con, p.today_start, p.as_of, where)
    yesterday = _totals(con, p.yesterday_start, p.yesterday_as_of, where)
    month = _totals(con, p.month_start, p.as_of, where)
    last_month = _totals(con, p.last_month_start, p.last_month_as_of, where)
    now = _open(con, p.as_of, where)
    before = _open(con, p.yesterday_as_of, where)
    return CommandKpis(
        periods=p,
        new_today=Figure(today["events"], yesterday["events"]),
        open_now=Figure(now["open_now"], before["open_now"]),
        overdue_now=Figure(now["overdue_now"], before["overdue_now"]),
        closed_this_month=Figure(month["closed"], last_month["closed"]),
        on_time_rate=Figure(_rate(month), _rate(last_month)),
    )


def _totals(con: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime,
            where: EventFilter | None) -> dict[str, int]:
    """City totals reported / closed in [start, end); an empty window (as_of exactly at midnight) is all zeros."""
    if start >= end:
        return dict.fromkeys(WINDOW_FIGURES, 0)
    row = window_totals(con, "city", start=start, end=end, where=where).iloc[0]
    return {name: int(row[name]) for name in WINDOW_FIGURES}


def _open(con: duckdb.DuckDBPyConnection, moment: dt.datetime, where: EventFilter | None) -> dict[str, int]:
    row = open_now(con, "city", as_of=moment, where=where).iloc[0]
    return {"open_now": int(row["open_now"]), "overdue_now": int(row["overdue_now"])}


def _rate(totals: dict[str, int]) -> float | None:
    return totals["closed_on_time"] / totals["closed_with_due"] if totals["closed_with_due"] else None


# --------------------------------------------------------------------------- the live feed

FEED_MAX = 200


def latest_reports(con: duckdb.DuckDBPyConnection, *, as_of: TimeLike, where: EventFilter | None = None,
                   limit: int = 20) -> pd.DataFrame:
    """The newest `limit` reports up to `as_of` passing `where`, newest first, located or not.

    Columns: event_id, reported_at, dept, dept_name, category, category_name, status, due_at, overdue (open at as_of
    and due before it: the OVERDUE_AT of open_now), grid_large_name, grid_medium_name, grid_small_name (missing
    outside every grid; no small grid for events placed by address).
    """
    if not 1 <= int(limit) <= FEED_MAX:
        raise QueryError(f"`limit` was {limit} but is expected to be between 1 and {FEED_MAX}")
    query = EventQuery.of(where=where, as_of=as_of)
    check_statuses(query.where)
    df = con.execute(q.FEED_EVENTS, query.bind(q.FEED_EVENTS, limit=int(limit))).df()
    df["overdue"] = df["overdue"].fillna(False).astype(bool)
    return df
