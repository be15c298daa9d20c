"""Figures of the wall display's side panels: reports per hour over the last 24 hours, the category mix (the largest
categories and 其他) and the large grids ranked by events or overdue events."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from layers import wall_queries as q
from layers.event_query import EventFilter, EventQuery
from layers.stats import grid_stats
from store.timewindow import TimeLike, local_time

HOURS = 24
OTHER = "其他"
RANKINGS: dict[str, str] = {"events": "事件数", "overdue_now": "超期"}


def hourly_reports(con: duckdb.DuckDBPyConnection, *, as_of: TimeLike, where: EventFilter | None = None,
                   hours: int = HOURS) -> pd.DataFrame:
    """Reports per hour for the `hours` whole hours up to `as_of` (the current hour last), zeros included."""
    end = pd.Timestamp(local_time(as_of, "as_of")).floor("h") + pd.Timedelta(hours=1)
    start = end - pd.Timedelta(hours=hours)
    query = EventQuery.of(start=start.to_pydatetime(), end=end.to_pydatetime(), where=where)
    counts = con.execute(q.HOURLY_REPORTS, query.bind(q.HOURLY_REPORTS)).df()
    frame = pd.DataFrame({"hour": pd.date_range(start, periods=hours, freq="h")})
    counts["hour"] = pd.to_datetime(counts["hour"])
    out = frame.merge(counts, on="hour", how="left")
    out["events"] = out["events"].fillna(0).astype("int64")
    return out


def category_counts(con: duckdb.DuckDBPyConnection, *, start: TimeLike | None, end: TimeLike | None,
                    where: EventFilter | None = None, top: int = 6) -> pd.DataFrame:
    """Events per category in the window: the `top` largest, the rest as 其他 (category_name, events, share)."""
    query = EventQuery.of(start=start, end=end, where=where)
    counts = con.execute(q.CATEGORY_COUNTS, query.bind(q.CATEGORY_COUNTS)).df()
    head = counts.head(top)[["category_name", "events"]]
    rest = int(counts["events"].iloc[top:].sum())
    if rest:
        head = pd.concat([head, pd.DataFrame({"category_name": [OTHER], "events": [rest]})], ignore_index=True)
    total = int(head["events"].sum())
    head["events"] = head["events"].astype("int64")
    head["share"] = head["events"] / total if total else 0.0
    return head.reset_index(drop=True)


def top_grids(con: duckdb.DuckDBPyConnection, *, by: str, start: TimeLike | None, end: TimeLike | None,
              as_of: TimeLike, where: EventFilter | None = None, n: int = 10, level: str = "large") -> pd.DataFrame:
    """The `n` grids of `level` with the most `by` (events | overdue_now): grid_code, name, value."""
    if by not in RANKINGS:
        raise ValueError(f"`by` was {by!r} but is expected to be one of {list(RANKINGS)}")
    stats = grid_stats(con, level, start=start, end=end, as_of=as_of, where=where)
    ranked = stats[["grid_code", "name", by]].rename(columns={by: "value"}).fillna({"value": 0})
    ranked["value"] = ranked["value"].astype("int64")
    return ranked.sort_values(["value", "grid_code"], ascending=[False, True]).head(n).reset_index(drop=True)


def day_window(as_of: TimeLike) -> tuple[dt.datetime, dt.datetime]:
    """[as_of - 24 h, as_of)."""
    moment = local_time(as_of, "as_of")
    return moment - dt.timedelta(hours=HOURS), moment
