"""Meeting reports (日碰头 / 周会商 / 月调度): per large grid, what came in and what was closed in the last day,
week or month ending at `as_of`, what is overdue at `as_of`, and the three commonest categories."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from layers.event_query import EventFilter
from layers.lookups import category_names
from layers.stats import counts_by, grid_stats
from store.timewindow import QueryError, TimeLike, local_time

__all__ = ["REVIEW_PERIODS", "review_window", "review_report", "TOP_CATEGORIES"]

# period -> (meeting name, length back from as_of)
REVIEW_PERIODS: dict[str, tuple[str, pd.DateOffset]] = {
    "day": ("日碰头", pd.DateOffset(days=1)),
    "week": ("周会商", pd.DateOffset(weeks=1)),
    "month": ("月调度", pd.DateOffset(months=1)),
}
TOP_CATEGORIES = 3


def review_window(period: str, as_of: TimeLike) -> tuple[dt.datetime, dt.datetime]:
    """[as_of - one day / week / calendar month, as_of)."""
    if period not in REVIEW_PERIODS:
        raise QueryError(f"`period` was {period!r} but is expected to be one of {list(REVIEW_PERIODS)}")
    end = local_time(as_of, "as_of")
    if end is None:
        raise QueryError("`as_of` is required: pass the moment the meeting looks back from")
    start = (pd.Timestamp(end) - REVIEW_PERIODS[period][1]).to_pydatetime()
    return start, end


def review_report(con: duckdb.DuckDBPyConnection, period: str, *, as_of: TimeLike,
                  where: EventFilter | None = None) -> pd.DataFrame:
    """One row per large grid: grid_code, name, period_start, period_end, new (reported in the window), closed
    (closed in the window), open_now and overdue_now (at as_of), then top1..top3 category names (Chinese, from
    the categories table; missing when fewer categories occurred) with their counts (top1_count, ...) among
    the new events. Ties in the top list go to the category code that sorts first."""
    start, end = review_window(period, as_of)
    figures = grid_stats(con, "large", start=start, end=end, as_of=end, where=where)
    out = figures[["grid_code", "name"]].copy()
    out.insert(2, "period_start", start)
    out.insert(3, "period_end", end)
    out["new"] = figures["events"]
    out["closed"] = figures["closed"]
    out["open_now"] = figures["open_now"]
    out["overdue_now"] = figures["overdue_now"]
    names = category_names(con)
    by_category = counts_by(con, "large", "category", start=start, end=end, where=where)
    codes = [c for c in by_category.columns if c not in ("grid_code", "name")]
    for rank in range(1, TOP_CATEGORIES + 1):
        out[f"top{rank}"] = pd.Series([None] * len(out), dtype="object")
        out[f"top{rank}_count"] = 0
    counts = by_category.set_index("grid_code")[codes].reindex(out["grid_code"], fill_value=0)
    for i, row in enumerate(counts.itertuples(index=False)):
        ranked = sorted(((count, code) for code, count in zip(codes, row) if count > 0), key=lambda x: (-x[0], x[1]))
        for rank, (count, code) in enumerate(ranked[:TOP_CATEGORIES], start=1):
            out.at[i, f"top{rank}"] = names.get(code, code)
            out.at[i, f"top{rank}_count"] = int(count)
    return out.reset_index(drop=True)
