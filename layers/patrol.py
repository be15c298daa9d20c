"""Patrol coverage of the grids: visits in the last 7 / 30 days, share of small grids visited, days since the last
visit, events followed up on site, workers per 1,000 residents, neglected grids; the people of a grid and its visits.

Definitions (tested against an independent computation in tests/layers/test_patrol_figures.py):
- A check-in counts for the grid its position lies in, whoever made it (off-beat ones too: they are flagged, not
  dropped). Check-ins outside every grid count for no grid.
- Windows end at `as_of`: the last 7 days are (as_of - 7 d, as_of], the last 30 days (as_of - 30 d, as_of].
- days_since_visit: whole days from the grid's latest check-in to as_of (NaN: never visited).
  longest_unvisited_days: the largest days_since_visit of the small grids inside (for a small grid its own); a
  small grid never visited counts from the first check-in in the store, so the figure reads "at least".
- A small grid is neglected (失管) when its last check-in is `neglect_days` whole days or more before as_of (or it
  never had one); a larger grid's neglected_small counts its neglected small grids.
- workers: grid leaders and grid workers in post at as_of looking after the grid or a grid inside it (household
  heads are counted apart); workers_per_1000 = workers / population × 1,000.
- followed_up_30d: distinct events named by a follow-up check-in in the grid in the last 30 days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from layers import patrol_queries as q
from layers.personal import mask_phone
from store.timewindow import QueryError, TimeLike, local_time

DEFAULT_NEGLECT_DAYS = 7
MAX_NEGLECT_DAYS = 365
LEVELS = ("large", "medium", "small", "city")
LEVEL_KEYS_GRID = ("large", "medium", "small")
ROLE_NAMES: dict[str, str] = {"grid_leader": "网格长", "grid_worker": "网格员", "household_head": "联户长"}
VISIT_TYPE_NAMES: dict[str, str] = {"household": "入户走访", "patrol": "日常巡查", "follow_up": "事件跟进"}
FIGURE_COLUMNS: tuple[str, ...] = (
    "grid_code", "name", "population", "small_grids", "visited_small_7d", "share_visited_7d", "neglected_small",
    "visits_7d", "visits_30d", "followed_up_30d", "last_visit_at", "days_since_visit", "longest_unvisited_days",
    "workers", "household_heads", "workers_per_1000",
)
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
FEED_MAX = 200


@dataclass(frozen=True)
class PatrolWindows:
    """The moments the patrol figures are computed for."""

    as_of: dt.datetime
    week_start: dt.datetime
    month_start: dt.datetime
    neglect_start: dt.datetime
    neglect_days: int


def patrol_windows(as_of: TimeLike, neglect_days: int = DEFAULT_NEGLECT_DAYS) -> PatrolWindows:
    """The 7-day, 30-day and neglect windows ending at `as_of`; QueryError for a bad neglect_days."""
    moment = local_time(as_of, "as_of")
    if moment is None:
        raise QueryError("`as_of` is required: the moment the patrol figures are for")
    if isinstance(neglect_days, bool) or not isinstance(neglect_days, (int, np.integer)) or \
            not 1 <= int(neglect_days) <= MAX_NEGLECT_DAYS:
        raise QueryError(f"`neglect_days` was {neglect_days!r} but is expected to be a whole number of days "
                         f"between 1 and {MAX_NEGLECT_DAYS}")
    days = int(neglect_days)
    return PatrolWindows(as_of=moment, week_start=moment - dt.timedelta(days=7),
                         month_start=moment - dt.timedelta(days=30),
                         neglect_start=moment - dt.timedelta(days=days), neglect_days=days)


def has_patrol_data(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a roster or check-ins were loaded (a store made before them lacks the tables, or has them empty)."""
    return con.execute(q.PATROL_TABLES).fetchone()[0] == 3 and bool(con.execute(q.PATROL_ROWS).fetchone()[0])


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise QueryError(f"`level` was {level!r} but is expected to be one of {', '.join(LEVELS)}")


def _whole_days(later: dt.datetime, earlier: pd.Series) -> pd.Series:
    """Whole days from each time in `earlier` to `later` (NaN where missing)."""
    seconds = (pd.Timestamp(later) - pd.to_datetime(earlier)).dt.total_seconds()
    return np.floor(seconds / 86400.0)


def patrol_figures(con: duckdb.DuckDBPyConnection, level: str, *, as_of: TimeLike,
                   neglect_days: int = DEFAULT_NEGLECT_DAYS) -> pd.DataFrame:
    """The patrol figures (FIGURE_COLUMNS) of every grid of `level` (or of the city, one row)."""
    _check_level(level)
    w = patrol_windows(as_of, neglect_days)
    if not has_patrol_data(con):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FIGURE_COLUMNS})
    first = con.execute(q.FIRST_VISIT, {"as_of": w.as_of}).fetchone()[0]
    params = {"level": level, "as_of": w.as_of, "week_start": w.week_start, "month_start": w.month_start,
              "neglect_start": w.neglect_start, "data_start": first}
    if level == "city":
        params.pop("level")
    frame = con.execute(q.patrol_by_unit_sql(level), params).df()
    small = frame["small_grids"].replace(0, np.nan)
    frame["share_visited_7d"] = frame["visited_small_7d"] / small
    frame["days_since_visit"] = _whole_days(w.as_of, frame["last_visit_at"])
    frame["longest_unvisited_days"] = _whole_days(w.as_of, frame["oldest_last_visit"])
    population = pd.to_numeric(frame["population"], errors="coerce").replace(0, np.nan)
    frame["workers_per_1000"] = frame["workers"] / population * 1000.0
    return frame[list(FIGURE_COLUMNS)]


def neglected_grids(con: duckdb.DuckDBPyConnection, *, as_of: TimeLike,
                    neglect_days: int = DEFAULT_NEGLECT_DAYS) -> pd.DataFrame:
    """The neglected small grids (no check-in for `neglect_days` days or more, or never), longest first."""
    figures = patrol_figures(con, "small", as_of=as_of, neglect_days=neglect_days)
    out = figures[figures["neglected_small"] > 0]
    return out.sort_values(["longest_unvisited_days", "grid_code"], ascending=[False, True]).reset_index(drop=True)


def grid_people(con: duckdb.DuckDBPyConnection, code: str, *, as_of: TimeLike, reveal_phones: bool) -> pd.DataFrame:
    """The people looking after grid `code` or a grid inside it: in post first, leaders, workers, household heads.

    Columns: worker_id, role, role_name, name, phone (masked unless `reveal_phones`), households, start_date,
    end_date, grid_names, in_post, last_check_in, visits_30d. Names are shown (grid people are named on the
    grid's public notice board, 网格公示牌); who may see phone numbers is the caller's decision.
    """
    w = patrol_windows(as_of)
    columns = ["worker_id", "role", "role_name", "name", "phone", "households", "start_date", "end_date",
               "grid_names", "in_post", "last_check_in", "visits_30d"]
    if not has_patrol_data(con):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    frame = con.execute(q.GRID_PEOPLE, {"code": str(code), "as_of": w.as_of, "month_start": w.month_start}).df()
    frame["role_name"] = frame["role"].map(ROLE_NAMES).astype(object)
    if not reveal_phones:
        frame["phone"] = pd.Series([mask_phone(p) if isinstance(p, str) and p else None for p in frame["phone"]],
                                   index=frame.index, dtype=object)
    return frame[columns]


@dataclass(frozen=True)
class VisitPage:
    """One page of a grid's check-ins and how many there are in all."""

    rows: pd.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def visit_history(con: duckdb.DuckDBPyConnection, code: str, *, start: TimeLike | None = None,
                  end: TimeLike | None = None, page: int = 1, page_size: int = PAGE_SIZE) -> VisitPage:
    """Check-ins in grid `code` (at its level) within [start, end), newest first, page `page` (1-based)."""
    if not 1 <= int(page_size) <= MAX_PAGE_SIZE or int(page) < 1:
        raise QueryError(f"page {page} / page_size {page_size}: pages start at 1 and hold 1-{MAX_PAGE_SIZE} rows")
    params = {"code": str(code), "start": local_time(start, "start"), "end": local_time(end, "end")}
    if not has_patrol_data(con):
        return VisitPage(rows=pd.DataFrame(), total=0, page=1, page_size=int(page_size))
    total = int(con.execute(q.GRID_VISITS_COUNT, params).fetchone()[0])
    rows = con.execute(q.GRID_VISITS, {**params, "limit": int(page_size),
                                       "offset": (int(page) - 1) * int(page_size)}).df()
    rows["visit_type_name"] = rows["visit_type"].map(VISIT_TYPE_NAMES).astype(object)
    rows["worker_role_name"] = rows["worker_role"].map(ROLE_NAMES).astype(object)
    return VisitPage(rows=rows, total=total, page=int(page), page_size=int(page_size))


def latest_visits(con: duckdb.DuckDBPyConnection, *, as_of: TimeLike, limit: int = 20) -> pd.DataFrame:
    """The newest `limit` check-ins up to `as_of`, newest first, with the worker's and the grids' names."""
    if not 1 <= int(limit) <= FEED_MAX:
        raise QueryError(f"`limit` was {limit} but is expected to be between 1 and {FEED_MAX}")
    if not has_patrol_data(con):
        return pd.DataFrame()
    rows = con.execute(q.LATEST_VISITS, {"as_of": local_time(as_of, "as_of"), "limit": int(limit)}).df()
    rows["visit_type_name"] = rows["visit_type"].map(VISIT_TYPE_NAMES).astype(object)
    rows["worker_role_name"] = rows["worker_role"].map(ROLE_NAMES).astype(object)
    return rows


def monthly_activity(con: duckdb.DuckDBPyConnection, *, start: TimeLike, end: TimeLike, level: str | None = None,
                     code: str | None = None) -> pd.DataFrame:
    """Check-ins next to event reports per month in [start, end) for the city or one grid, every month listed.

    Columns: month (first day), events, visits, household_visits, patrols, follow_ups.
    """
    if (level is None) != (code is None):
        raise QueryError("give both `level` and `code` for one grid, or neither for the city")
    if level is not None and level not in LEVEL_KEYS_GRID:
        raise QueryError(f"`level` was {level!r} but is expected to be one of {', '.join(LEVEL_KEYS_GRID)}")
    lo, hi = local_time(start, "start"), local_time(end, "end")
    if lo is None or hi is None or lo >= hi:
        raise QueryError("give a window: `start` before `end`")
    months = pd.date_range(pd.Timestamp(lo).to_period("M").to_timestamp(), pd.Timestamp(hi) - pd.Timedelta(1, "us"),
                           freq="MS")
    columns = ["events", "visits", "household_visits", "patrols", "follow_ups"]
    if not has_patrol_data(con):
        empty = pd.DataFrame(0, index=months, columns=columns)
        return empty.rename_axis("month").reset_index()
    params = {"start": lo, "end": hi, **({"code": str(code)} if code is not None else {})}
    frame = con.execute(q.monthly_activity_sql(level), params).df()
    frame["month"] = pd.to_datetime(frame["month"])
    out = frame.set_index("month").reindex(months, fill_value=0)[columns].astype("int64")
    return out.rename_axis("month").reset_index()

