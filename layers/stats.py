"""Aggregation per grid level (large / medium / small / city) for a window [start, end), an EventFilter and an as_of.

Every function takes the connection and its inputs and returns a DataFrame with one row per grid of the
level, zero rows included, English column names (documented in docs/analytics.md). Nothing here reads the
wall clock: "now" figures take an explicit `as_of`; `data_clock(con)` gives the latest report time for
stores, like the demo, whose data stop in the past.

Sources: window and dispute figures read the rollups (store/rollups.py) when they are fresh and give the same
answer (window bounds on midnights; dispute incidents only without a filter), else the raw events.
`median_handling_hours`, `open_now` and `overdue_now` always read the raw events. Every query takes one EventQuery's
named parameters (layers/event_query.py); its SQL is in layers/stats_queries.py and layers/disputes_queries.py.
"""

from __future__ import annotations

import datetime as dt
import difflib

import duckdb
import pandas as pd

from layers import disputes_queries, stats_queries as q
from layers.event_query import NO_FILTER, EventFilter, EventQuery, checked_filter, compile_filter
from layers.lookups import category_codes, departments_seen, dispute_classes
from store.rollups import rollup_state
from store.schema import LEVELS, STATUSES
from store.timewindow import QueryError, TimeLike, bounded_window, local_time

__all__ = [
    "EventFilter", "EventQuery", "compile_filter", "QueryError", "LEVELS_AND_CITY", "BREAKDOWNS", "CITY_CODE",
    "CITY_NAME", "data_clock", "grid_table", "find_grid", "grid_stats", "counts_by", "period_changes",
    "window_totals", "disputes_in_window", "open_now", "median_handling", "year_to_date", "previous_period",
    "same_period_last_year", "event_rows", "choose_source", "period_start",
]

LEVELS_AND_CITY: tuple[str, ...] = (*LEVELS, "city")
BREAKDOWNS: tuple[str, ...] = tuple(q.BREAKDOWN_KEY)
PERIODS: dict[str, str] = {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS", "year": "YS"}
SOURCES: tuple[str, ...] = ("auto", "raw", "rollup")
CITY_CODE = "city"  # grid_code of the one row of level "city"
CITY_NAME = "全市"
COMPARED: tuple[str, ...] = ("events", "closed", "disputes_received", "disputes_resolved")


# --------------------------------------------------------------------------- time


def data_clock(con: duckdb.DuckDBPyConnection) -> dt.datetime:
    """The latest `reported_at` in the store: the "now" of a store whose data stop in the past (the demo)."""
    value = con.execute(q.DATA_CLOCK).fetchall()[0][0]
    if value is None:
        raise QueryError("the store has no events, so it has no data clock; load events or pass as_of explicitly")
    return pd.Timestamp(value).to_pydatetime()


def _required_as_of(as_of: TimeLike | None) -> dt.datetime:
    if as_of is None:
        raise QueryError("`as_of` is required for figures 'now': pass the moment you mean (e.g. data_clock(con))")
    return local_time(as_of, "as_of")


def year_to_date(as_of: TimeLike) -> tuple[dt.datetime, dt.datetime]:
    """[1 January of as_of's year, as_of): the "this year so far" window."""
    moment = _required_as_of(as_of)
    return dt.datetime(moment.year, 1, 1), moment


def previous_period(start: TimeLike, end: TimeLike) -> tuple[dt.datetime, dt.datetime]:
    """The window of equal length just before [start, end)."""
    s, e = bounded_window(start, end, what="previous_period", why="the window before has the same length")
    return s - (e - s), s


def same_period_last_year(start: TimeLike, end: TimeLike) -> tuple[dt.datetime, dt.datetime]:
    """The same dates one year earlier (较去年同期); 29 February maps to 28 February."""
    s, e = bounded_window(start, end, what="same_period_last_year", why="it moves both dates a year back")
    year = pd.DateOffset(years=1)
    return (pd.Timestamp(s) - year).to_pydatetime(), (pd.Timestamp(e) - year).to_pydatetime()


# --------------------------------------------------------------------------- grids


def _check_level(level: str, allowed: tuple[str, ...] = LEVELS_AND_CITY) -> None:
    if level not in allowed:
        raise QueryError(f"`level` was {level!r} but is expected to be one of {list(allowed)}")


def grid_table(con: duckdb.DuckDBPyConnection, level: str) -> pd.DataFrame:
    """Grids of `level` with labels: grid_code, name, parent_code, parent_name, grandparent_code,
    grandparent_name, population (Int64), area_km2. Level `city` is one row (population and area summed over
    the large grids; missing when any large grid lacks it)."""
    _check_level(level)
    if level == "city":
        large = grid_table(con, "large")
        population = large["population"].sum() if large["population"].notna().all() and len(large) else pd.NA
        area = large["area_km2"].sum() if large["area_km2"].notna().all() and len(large) else float("nan")
        return pd.DataFrame({
            "grid_code": [CITY_CODE], "name": [CITY_NAME], "parent_code": [None], "parent_name": [None],
            "grandparent_code": [None], "grandparent_name": [None],
            "population": pd.array([population], dtype="Int64"), "area_km2": [area],
        })
    df = con.execute(q.GRIDS_WITH_PARENTS, {"level": level}).df()
    df = df.drop(columns=["parent_of_code"])
    return df.astype({"grid_code": "str", "name": "str", "population": "Int64", "area_km2": "float64"})


def find_grid(con: duckdb.DuckDBPyConnection, code: str) -> tuple[str, str]:
    """(level, name) of a grid code; an unknown code raises with the closest codes and names."""
    rows = con.execute(q.ALL_GRID_CODES).fetchall()
    for grid_code, level, name, _parent in rows:
        if grid_code == code:
            return level, name
    codes = sorted(r[0] for r in rows)
    by_name = [r[0] for r in rows if r[2] == code]  # a name typed instead of a code
    starts = [c for c in codes if c.startswith(str(code))]  # a code typed short
    close = difflib.get_close_matches(str(code), codes, n=5, cutoff=0.6)
    hint = list(dict.fromkeys(by_name + starts + close))[:5]
    names = {r[0]: r[2] for r in rows}
    suggestion = ", ".join(f"{c} ({names[c]})" for c in hint) if hint else "none close; list grids with `minqing export disputes --level large`"
    raise QueryError(f"grid code {code!r} is not in the store; did you mean: {suggestion}")


# --------------------------------------------------------------------------- sources


def choose_source(con: duckdb.DuckDBPyConnection, source: str, *, start: dt.datetime | None = None,
                  end: dt.datetime | None = None, where: EventFilter = NO_FILTER, incidents: bool = False) -> str:
    """`raw` or `rollup` for a figure: `auto` takes the rollup when it is fresh and gives the same answer."""
    if source not in SOURCES:
        raise QueryError(f"`source` was {source!r} but is expected to be one of {list(SOURCES)}")
    if source == "raw":
        return "raw"
    state = rollup_state(con)
    aligned = all(t is None or t == dt.datetime.combine(t.date(), dt.time()) for t in (start, end))
    if source == "rollup":
        if state != "fresh":
            raise QueryError(f"the rollups are {state}; refresh them with store.rollups.refresh_rollups or `minqing load`")
        if not aligned:
            raise QueryError(f"the daily rollup answers windows that start and end at midnight, not [{start}, {end}); "
                             "use source='auto' or 'raw'")
        return "rollup"
    usable = state == "fresh" and aligned and (not incidents or where.is_empty)
    return "rollup" if usable else "raw"


# --------------------------------------------------------------------------- figures


def _on_grids(con: duckdb.DuckDBPyConnection, level: str, figures: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """grid_code, name plus `columns` ({column: dtype}) for every grid of the level; missing counts are 0."""
    grids = grid_table(con, level)[["grid_code", "name"]]
    out = grids.merge(figures, on="grid_code", how="left")
    for column, dtype in columns.items():
        if column not in out:
            out[column] = pd.NA
        if dtype == "int64":
            out[column] = out[column].fillna(0).astype("int64")
        else:
            out[column] = out[column].astype(dtype)
    return out[["grid_code", "name", *columns]].reset_index(drop=True)


WINDOW_COLUMNS = {"events": "int64", "closed": "int64", "closed_with_due": "int64", "closed_on_time": "int64",
                  "handling_hours_sum": "float64"}


def window_totals(con: duckdb.DuckDBPyConnection, level: str, *, start: TimeLike | None = None,
                  end: TimeLike | None = None, where: EventFilter | None = None, source: str = "auto") -> pd.DataFrame:
    """Per grid: events reported in [start, end); events closed in it, of those with a due time, on time; hours sum."""
    _check_level(level)
    query = EventQuery.of(start=start, end=end, where=where)
    used = choose_source(con, source, start=query.start, end=query.end)
    sql = q.window_totals_sql(level, used)
    df = con.execute(sql, query.bind(sql)).df()
    return _on_grids(con, level, df, WINDOW_COLUMNS)


def disputes_in_window(con: duckdb.DuckDBPyConnection, level: str, *, start: TimeLike | None = None,
                       end: TimeLike | None = None, where: EventFilter | None = None,
                       source: str = "auto") -> pd.DataFrame:
    """Per home grid: dispute incidents first reported (received) and first closed (resolved) in [start, end)."""
    _check_level(level)
    query = EventQuery.of(start=start, end=end, where=where)
    used = choose_source(con, source, where=query.where, incidents=True)
    if used == "rollup" and not query.where.is_empty:
        raise QueryError("the incident rollup cannot answer a filtered count; use source='raw' or 'auto'")
    sql = disputes_queries.disputes_window_sql(level, used, query.where)
    df = con.execute(sql, query.bind(sql)).df()
    return _on_grids(con, level, df, {"disputes_received": "int64", "disputes_resolved": "int64"})


def open_now(con: duckdb.DuckDBPyConnection, level: str, *, as_of: TimeLike,
             where: EventFilter | None = None) -> pd.DataFrame:
    """Per grid: events open at as_of (reported by then and not closed by then) and of those overdue (due before
    as_of): the one definition of layers/event_query.py (OPEN_AT, OVERDUE_AT)."""
    _check_level(level)
    query = EventQuery.of(where=where, as_of=_required_as_of(as_of))
    sql = q.open_now_sql(level)
    df = con.execute(sql, query.bind(sql)).df()
    return _on_grids(con, level, df, {"open_now": "int64", "overdue_now": "int64"})


def median_handling(con: duckdb.DuckDBPyConnection, level: str, *, start: TimeLike | None = None,
                    end: TimeLike | None = None, where: EventFilter | None = None) -> pd.DataFrame:
    """Per grid: median hours from report to closure over events closed in [start, end); missing without closures."""
    _check_level(level)
    query = EventQuery.of(start=start, end=end, where=where)
    sql = q.median_handling_sql(level)
    df = con.execute(sql, query.bind(sql)).df()
    return _on_grids(con, level, df, {"median_handling_hours": "Float64"})


def _ratio(numerator: pd.Series, denominator: pd.Series, scale: float = 1.0) -> pd.Series:
    """numerator / denominator * scale, missing where the denominator is 0 or missing."""
    num = numerator.astype("Float64")
    den = denominator.astype("Float64")
    out = num * scale / den.where(den != 0)
    return out.astype("Float64")


def grid_stats(con: duckdb.DuckDBPyConnection, level: str, *, start: TimeLike | None, end: TimeLike | None,
               as_of: TimeLike, where: EventFilter | None = None, source: str = "auto") -> pd.DataFrame:
    """Every figure per grid of `level` for [start, end) and "now" = as_of (columns in docs/analytics.md)."""
    _check_level(level)
    where = checked_filter(where)
    moment = _required_as_of(as_of)
    grids = grid_table(con, level)
    window = window_totals(con, level, start=start, end=end, where=where, source=source)
    disputes = disputes_in_window(con, level, start=start, end=end, where=where, source=source)
    median = median_handling(con, level, start=start, end=end, where=where)
    now = open_now(con, level, as_of=moment, where=where)
    out = grids[["grid_code", "name", "parent_code", "parent_name", "population", "area_km2"]]
    for part in (window, disputes, median, now):
        out = out.merge(part.drop(columns="name"), on="grid_code", how="left")
    out["on_time_rate"] = _ratio(out["closed_on_time"], out["closed_with_due"])
    out["mean_handling_hours"] = _ratio(out["handling_hours_sum"], out["closed"])
    out["resolution_rate"] = _ratio(out["disputes_resolved"], out["disputes_received"])
    for figure in ("events", "disputes_received", "disputes_resolved"):
        out[f"{figure}_per_10k"] = _ratio(out[figure], out["population"], 10_000)
        out[f"{figure}_per_km2"] = _ratio(out[figure], out["area_km2"])
    columns = [
        "grid_code", "name", "parent_code", "parent_name", "population", "area_km2",
        "events", "closed", "closed_with_due", "closed_on_time", "on_time_rate",
        "median_handling_hours", "mean_handling_hours",
        "disputes_received", "disputes_resolved", "resolution_rate",
        "open_now", "overdue_now",
        "events_per_10k", "events_per_km2", "disputes_received_per_10k", "disputes_received_per_km2",
        "disputes_resolved_per_10k", "disputes_resolved_per_km2",
    ]
    return out[columns].reset_index(drop=True)


def _category_universe(con: duckdb.DuckDBPyConnection, by: str) -> list[str]:
    if by == "category":
        return category_codes(con)
    if by == "dept":
        return departments_seen(con)
    if by == "status":
        return list(STATUSES)
    return [c for c in dispute_classes(con) if c != "未分类"]


def counts_by(con: duckdb.DuckDBPyConnection, level: str, by: str, *, start: TimeLike | None = None,
              end: TimeLike | None = None, where: EventFilter | None = None, source: str = "auto") -> pd.DataFrame:
    """Events reported in [start, end) per grid (rows) and value of `by` (columns), zeros included.

    `by`: category | dept | status | dispute_class (columns are the values: category codes, department codes,
    statuses, Chinese dispute classes; events without a value are left out) or day | week | month | quarter |
    year (columns are the periods' first days as 'YYYY-MM-DD'; weeks start on Monday). `.melt()` gives long form.
    """
    _check_level(level)
    if by not in q.BREAKDOWN_KEY:
        raise QueryError(f"`by` was {by!r} but is expected to be one of {list(BREAKDOWNS)}")
    query = EventQuery.of(start=start, end=end, where=where)
    s, e = query.start, query.end
    used = choose_source(con, source, start=s, end=e)
    sql = q.breakdown_sql(level, by, used)
    long = con.execute(sql, query.bind(sql)).df()
    long = long[long["key"].notna()]
    if by in PERIODS:
        long["key"] = pd.to_datetime(long["key"])
        first = s if s is not None else (long["key"].min() if len(long) else None)
        last = e if e is not None else (long["key"].max() + pd.Timedelta(microseconds=1) if len(long) else None)
        keys = [] if first is None else [
            d.strftime("%Y-%m-%d") for d in pd.date_range(period_start(first, by), last, freq=PERIODS[by]) if d < last
        ]
        long["key"] = long["key"].dt.strftime("%Y-%m-%d")
    else:
        keys = _category_universe(con, by)
    keys += sorted(set(long["key"].astype(str)) - set(keys))
    wide = long.pivot_table(index="grid_code", columns="key", values="events", aggfunc="sum", fill_value=0)
    wide = wide.reindex(columns=keys, fill_value=0).reset_index()
    wide.columns.name = None
    return _on_grids(con, level, wide, {k: "int64" for k in keys})


def period_start(moment: TimeLike, by: str) -> pd.Timestamp:
    """The first instant of the day / week (Monday) / month / quarter / year containing `moment`."""
    ts = pd.Timestamp(moment).normalize()
    if by == "week":
        return ts - pd.Timedelta(days=ts.weekday())
    if by == "month":
        return ts.replace(day=1)
    if by == "quarter":
        return ts.replace(month=3 * ((ts.month - 1) // 3) + 1, day=1)
    if by == "year":
        return ts.replace(month=1, day=1)
    return ts


def period_changes(con: duckdb.DuckDBPyConnection, level: str, *, start: TimeLike, end: TimeLike,
                   where: EventFilter | None = None, source: str = "auto") -> pd.DataFrame:
    """Per grid, for events, closed, disputes_received and disputes_resolved in [start, end): the figure, the
    previous period of equal length (`_prev`, `_change_prev`, `_change_prev_pct`) and the same dates last year
    (`_last_year`, `_change_yoy`, `_change_yoy_pct`). Percent is missing when the base is 0."""
    _check_level(level)
    s, e = bounded_window(start, end, what="period_changes", why="a comparison needs a window of known length")
    windows = {"": (s, e), "_prev": previous_period(s, e), "_last_year": same_period_last_year(s, e)}
    out = grid_table(con, level)[["grid_code", "name"]]
    for suffix, (ws, we) in windows.items():
        totals = window_totals(con, level, start=ws, end=we, where=where, source=source)
        disputes = disputes_in_window(con, level, start=ws, end=we, where=where, source=source)
        part = totals[["grid_code", "events", "closed"]].merge(
            disputes[["grid_code", "disputes_received", "disputes_resolved"]], on="grid_code")
        out = out.merge(part.rename(columns={f: f"{f}{suffix}" for f in COMPARED}), on="grid_code", how="left")
    for figure in COMPARED:
        for base, label in (("_prev", "_change_prev"), ("_last_year", "_change_yoy")):
            out[f"{figure}{label}"] = out[figure] - out[f"{figure}{base}"]
            out[f"{figure}{label}_pct"] = _ratio(out[f"{figure}{label}"], out[f"{figure}{base}"], 100)
    ordered = ["grid_code", "name"]
    for figure in COMPARED:
        ordered += [figure, f"{figure}_prev", f"{figure}_change_prev", f"{figure}_change_prev_pct",
                    f"{figure}_last_year", f"{figure}_change_yoy", f"{figure}_change_yoy_pct"]
    return out[ordered].reset_index(drop=True)


def event_rows(con: duckdb.DuckDBPyConnection, *, start: TimeLike | None = None, end: TimeLike | None = None,
               where: EventFilter | None = None, level: str | None = None, grid: str | None = None) -> pd.DataFrame:
    """Event rows reported in [start, end) that pass the filter, optionally inside one grid (of `level`, or of the
    grid's own level when `level` is None), with the category's Chinese name; ordered by report time."""
    query = EventQuery.of(start=start, end=end, where=where)
    grid_level = None
    if grid is not None:
        found_level, _ = find_grid(con, grid)
        if level is not None and level != found_level:
            _check_level(level, LEVELS)
            raise QueryError(f"grid {grid!r} is a {found_level} grid, not {level}; pass level {found_level!r} or leave it out")
        grid_level = found_level
    elif level is not None:
        _check_level(level, LEVELS)
        raise QueryError("`level` needs a `grid` code to restrict the rows to; pass both or neither")
    sql = q.event_rows_sql(grid_level)
    return con.execute(sql, query.bind(sql, grid=grid)).df()
