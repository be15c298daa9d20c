"""Dispute trends for a scope (the city, a level, one grid), 较去年同期 / 较上年 comparisons, per-grid monthly values
for the playback map, and the exports of `minqing export disputes | events` as bytes with the equivalent command.

Definitions follow docs/analytics.md: a dispute incident is *received* when its first report comes in and
*resolved* when its first report closes; it has the grid and the class of its home report. A filter selects
the reports incidents are built from. Nothing here reads the wall clock: comparisons take `as_of`.

Scope: `Scope()` is the city (every located incident or event); `Scope("medium")` every incident with a medium
grid (the sum over the level's grids: at the small level, incidents placed by address only are left out);
`Scope("medium", code)` one grid.
"""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from layers import trends_queries as q
from layers.event_query import NO_FILTER, EventFilter, EventQuery
from layers.lookups import dispute_classes
from layers.stats import (
    LEVELS_AND_CITY,
    QueryError,
    choose_source,
    counts_by,
    disputes_in_window,
    find_grid,
    grid_table,
    period_start,
    same_period_last_year,
    window_totals,
    year_to_date,
)
from store.schema import LEVELS
from store.timewindow import TimeLike, bounded_window, checked_window, local_time

__all__ = [
    "Scope", "CITY", "PERIODS", "FIGURES", "MAP_FIGURES",
    "data_years", "trend_window", "grid_options",
    "dispute_series", "dispute_totals", "totals_table", "class_table", "period_label",
    "compare_windows", "same_period_comparison", "previous_year_comparison",
    "grid_month_values", "month_columns", "month_values",
    "disputes_command", "events_command", "export_name",
]

PERIODS: dict[str, str] = {"year": "年份", "month": "月份"}  # period -> its Chinese column header
PERIOD_FREQ: dict[str, str] = {"year": "YS", "month": "MS"}
PERIOD_BEFORE: dict[str, str] = {"year": "上年", "month": "上月"}
FIGURES: dict[str, str] = {"events": "新增事件", "disputes_received": "受理纠纷", "disputes_resolved": "化解纠纷"}
MAP_FIGURES: dict[str, str] = {"events": "事件数", "disputes_received": "受理纠纷数", "disputes_resolved": "化解纠纷数"}
MEASURES: dict[str, str] = {"received": "受理纠纷数", "resolved": "化解纠纷数"}


# --------------------------------------------------------------------------- scope and time


@dataclass(frozen=True)
class Scope:
    """What a trend counts: the city, every grid of a level, or one grid (`grid` is a code of that level)."""

    level: str = "city"
    grid: str | None = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS_AND_CITY:
            raise QueryError(f"`level` was {self.level!r} but is expected to be one of {list(LEVELS_AND_CITY)}")
        if self.level == "city" and self.grid is not None:
            raise QueryError(f"a city scope has no grid (got {self.grid!r}); pass the grid's level too, "
                             "e.g. Scope('large', code)")


CITY = Scope()


def _checked(con: duckdb.DuckDBPyConnection, scope: Scope) -> Scope:
    if not isinstance(scope, Scope):
        raise QueryError(f"`scope` was a {type(scope).__name__}; pass a Scope(level, grid)")
    if scope.grid is not None:
        level, _ = find_grid(con, scope.grid)
        if level != scope.level:
            raise QueryError(f"grid {scope.grid!r} is a {level} grid, not {scope.level}; pass Scope({level!r}, {scope.grid!r})")
    return scope


def data_years(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    """The first and last year with reports (what `minqing export disputes` uses without --from / --to)."""
    first, last = con.execute(q.DATA_YEARS).fetchall()[0]
    if first is None:
        raise QueryError("the store has no events, so it has no years; load events first")
    return int(first), int(last)


def trend_window(year_from: int, year_to: int, as_of: TimeLike | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[1 January of year_from, 1 January after year_to), ended early at the month after as_of's month so a
    trend shows no months that have not begun."""
    if year_from > year_to:
        raise QueryError(f"the year range is reversed: from {year_from} to {year_to}; swap them")
    start, end = dt.datetime(year_from, 1, 1), dt.datetime(year_to + 1, 1, 1)
    moment = local_time(as_of, "as_of")
    if moment is not None:
        next_month = (pd.Timestamp(moment).normalize().replace(day=1) + pd.DateOffset(months=1)).to_pydatetime()
        if start < next_month < end:
            end = next_month
    return start, end


def grid_options(con: duckdb.DuckDBPyConnection, level: str) -> dict[str, str]:
    """grid_code -> a Chinese label for a picker ("第1网格 · 中网格名 · 大网格名（code）"), in code order."""
    if level not in LEVELS:
        raise QueryError(f"`level` was {level!r} but is expected to be one of {list(LEVELS)}")
    grids = grid_table(con, level)
    out = {}
    for row in grids.itertuples(index=False):
        names = [n for n in (row.name, row.parent_name, row.grandparent_name) if isinstance(n, str) and n]
        out[row.grid_code] = f"{' · '.join(names)}（{row.grid_code}）"
    return out


# --------------------------------------------------------------------------- dispute series


def _periods(start: dt.datetime, end: dt.datetime, period: str) -> pd.DatetimeIndex:
    first = period_start(start, period)
    return pd.DatetimeIndex([d for d in pd.date_range(first, end, freq=PERIOD_FREQ[period]) if d < pd.Timestamp(end)])


def _window(start: TimeLike, end: TimeLike) -> tuple[dt.datetime, dt.datetime]:
    return bounded_window(start, end, what="a trend", why="trend_window(year_from, year_to) gives them")


def dispute_series(con: duckdb.DuckDBPyConnection, period: str, *, start: TimeLike, end: TimeLike,
                   scope: Scope = CITY, where: EventFilter | None = None, source: str = "auto") -> pd.DataFrame:
    """Dispute incidents of the scope per period of [start, end) and dispute class, zeros included.

    Columns: period (first day of the year or month), dispute_class (the classes in the usual order, then
    others seen, '未分类' for reports without one), received, resolved. Ordered by period, then class.
    """
    if period not in PERIODS:
        raise QueryError(f"`period` was {period!r} but is expected to be one of {list(PERIODS)}")
    s, e = _window(start, end)
    scope = _checked(con, scope)
    query = EventQuery.of(start=s, end=e, where=where)
    used = choose_source(con, source, where=query.where, incidents=True)
    sql = q.trend_disputes_sql(scope.level, used, query.where, period, scope.grid is not None)
    long = con.execute(sql, query.bind(sql, grid=scope.grid)).df()
    classes = dispute_classes(con)
    classes += sorted(set(long["dispute_class"]) - set(classes))
    index = pd.MultiIndex.from_product([_periods(s, e, period), classes], names=["period", "dispute_class"])
    long["period"] = pd.to_datetime(long["period"]).astype("datetime64[ns]")
    out = long.set_index(["period", "dispute_class"])[["received", "resolved"]].reindex(index, fill_value=0)
    return out.astype("int64").reset_index()


def _changes(totals: pd.DataFrame) -> pd.DataFrame:
    out = totals.copy()
    for figure in ("received", "resolved"):
        before = out[figure].shift(1)
        out[f"{figure}_change"] = out[figure] - before
        base = before.astype("Float64")
        out[f"{figure}_change_pct"] = (out[f"{figure}_change"].astype("Float64") * 100 / base.where(base != 0)).astype("Float64")
    received = out["received"].astype("Float64")
    out["resolution_rate"] = (out["resolved"].astype("Float64") / received.where(received != 0)).astype("Float64")
    return out


def dispute_totals(con: duckdb.DuckDBPyConnection, period: str, *, start: TimeLike, end: TimeLike,
                   scope: Scope = CITY, where: EventFilter | None = None, source: str = "auto") -> pd.DataFrame:
    """Per period of [start, end): period, received, resolved, resolution_rate (resolved / received, missing when
    0 received), received_change, received_change_pct, resolved_change, resolved_change_pct (on the period
    before start's period too; percent missing when that period had 0). Without a filter the yearly figures
    equal city_dispute_totals / the sums of dispute_statistics."""
    if period not in PERIODS:
        raise QueryError(f"`period` was {period!r} but is expected to be one of {list(PERIODS)}")
    s, e = _window(start, end)
    before = (period_start(s, period) - pd.DateOffset(**{f"{period}s": 1})).to_pydatetime()
    series = dispute_series(con, period, start=before, end=e, scope=scope, where=where, source=source)
    totals = series.groupby("period", sort=True)[["received", "resolved"]].sum().reset_index()
    out = _changes(totals).iloc[1:].reset_index(drop=True)
    for figure in ("received_change", "resolved_change"):
        out[figure] = out[figure].astype("int64")
    return out[["period", "received", "resolved", "resolution_rate", "received_change", "received_change_pct",
                "resolved_change", "resolved_change_pct"]]


def period_label(moment: pd.Timestamp, period: str) -> str:
    """'2024' for a year, '2024-03' for a month."""
    return f"{moment:%Y}" if period == "year" else f"{moment:%Y-%m}"


def totals_table(totals: pd.DataFrame, period: str) -> pd.DataFrame:
    """dispute_totals for display: Chinese headers as in the exports, periods as text, rates in percent (1 decimal)."""
    before = PERIOD_BEFORE[period]
    out = pd.DataFrame({PERIODS[period]: [period_label(p, period) for p in totals["period"]]})
    out["受理纠纷数"] = totals["received"].to_numpy()
    out["化解纠纷数"] = totals["resolved"].to_numpy()
    out["化解率(%)"] = (totals["resolution_rate"] * 100).round(1).to_numpy()
    for figure, name in (("received", "受理"), ("resolved", "化解")):
        change = totals[f"{figure}_change"].astype("Float64")
        if len(change) and pd.isna(totals[f"{figure}_change_pct"].iloc[0]):
            change.iloc[0] = pd.NA  # the first period has nothing before it (e.g. the year before the data): no change
        out[f"{name}较{before}增减"] = change.astype("Int64").array  # nullable: a missing change shows empty
        out[f"{name}较{before}增减(%)"] = totals[f"{figure}_change_pct"].round(1).array
    return out


def class_table(series: pd.DataFrame, period: str, measure: str = "resolved") -> pd.DataFrame:
    """One row per period, one column per dispute class that occurs (then 合计): received or resolved incidents."""
    if measure not in MEASURES:
        raise QueryError(f"`measure` was {measure!r} but is expected to be one of {list(MEASURES)}")
    wide = series.pivot_table(index="period", columns="dispute_class", values=measure, aggfunc="sum", sort=False)
    classes = [c for c in dict.fromkeys(series["dispute_class"]) if wide[c].sum() > 0]
    out = wide[classes].astype("int64").reset_index(drop=True)
    out.insert(0, PERIODS[period], [period_label(p, period) for p in wide.index])
    out.columns.name = None
    out["合计"] = out[classes].sum(axis=1).astype("int64")
    return out


# --------------------------------------------------------------------------- comparisons


def _scope_figures(con: duckdb.DuckDBPyConnection, scope: Scope, start: dt.datetime, end: dt.datetime,
                   where: EventFilter, source: str) -> pd.Series:
    events = window_totals(con, scope.level, start=start, end=end, where=where, source=source)
    disputes = disputes_in_window(con, scope.level, start=start, end=end, where=where, source=source)
    frame = events[["grid_code", "events"]].merge(
        disputes[["grid_code", "disputes_received", "disputes_resolved"]], on="grid_code")
    if scope.grid is not None:
        frame = frame[frame["grid_code"] == scope.grid]
    return frame[list(FIGURES)].sum().astype("int64")


def compare_windows(con: duckdb.DuckDBPyConnection, *, start: TimeLike, end: TimeLike, base_start: TimeLike,
                    base_end: TimeLike, scope: Scope = CITY, where: EventFilter | None = None,
                    source: str = "auto") -> pd.DataFrame:
    """One row per figure (events, disputes_received, disputes_resolved) of the scope: figure, label (Chinese),
    start, end, base_start, base_end, value (in [start, end)), base (in [base_start, base_end)), change, change_pct
    (percent of base, missing when base is 0)."""
    s, e = _window(start, end)
    bs, be = _window(base_start, base_end)
    scope = _checked(con, scope)
    where = where or NO_FILTER
    value = _scope_figures(con, scope, s, e, where, source)
    base = _scope_figures(con, scope, bs, be, where, source)
    out = pd.DataFrame({"figure": list(FIGURES), "label": list(FIGURES.values())})
    out["start"], out["end"], out["base_start"], out["base_end"] = s, e, bs, be
    out["value"] = value.reindex(list(FIGURES)).to_numpy()
    out["base"] = base.reindex(list(FIGURES)).to_numpy()
    out["change"] = out["value"] - out["base"]
    denominator = out["base"].astype("Float64")
    out["change_pct"] = (out["change"].astype("Float64") * 100 / denominator.where(denominator != 0)).astype("Float64")
    return out


def same_period_comparison(con: duckdb.DuckDBPyConnection, *, as_of: TimeLike, scope: Scope = CITY,
                           where: EventFilter | None = None, source: str = "auto") -> pd.DataFrame:
    """较去年同期: 1 January to as_of this year against the same dates last year (compare_windows columns)."""
    start, end = year_to_date(as_of)
    base_start, base_end = same_period_last_year(start, end)
    return compare_windows(con, start=start, end=end, base_start=base_start, base_end=base_end, scope=scope,
                           where=where, source=source)


def previous_year_comparison(con: duckdb.DuckDBPyConnection, *, as_of: TimeLike, scope: Scope = CITY,
                             where: EventFilter | None = None, source: str = "auto") -> pd.DataFrame:
    """较上年: the last whole year before as_of's year against the year before it (compare_windows columns)."""
    year = local_time(as_of, "as_of").year - 1  # type: ignore[union-attr]
    return compare_windows(con, start=dt.datetime(year, 1, 1), end=dt.datetime(year + 1, 1, 1),
                           base_start=dt.datetime(year - 1, 1, 1), base_end=dt.datetime(year, 1, 1), scope=scope,
                           where=where, source=source)


# --------------------------------------------------------------------------- playback map


def grid_month_values(con: duckdb.DuckDBPyConnection, level: str, *, start: TimeLike, end: TimeLike,
                      figure: str = "events", where: EventFilter | None = None, source: str = "auto") -> pd.DataFrame:
    """One row per grid of `level` (grid_code, name, zeros included), one column per month of [start, end)
    named 'YYYY-MM': events reported, or dispute incidents received / resolved (by home grid), in that month."""
    if level not in LEVELS:
        raise QueryError(f"`level` was {level!r} but is expected to be one of {list(LEVELS)}")
    if figure not in MAP_FIGURES:
        raise QueryError(f"`figure` was {figure!r} but is expected to be one of {list(MAP_FIGURES)}")
    s, e = _window(start, end)
    where = where or NO_FILTER
    months = _periods(s, e, "month")
    if figure == "events":
        wide = counts_by(con, level, "month", start=s, end=e, where=where, source=source)
        wide = wide.rename(columns={f"{m:%Y-%m-%d}": f"{m:%Y-%m}" for m in months})
        return wide[["grid_code", "name", *[f"{m:%Y-%m}" for m in months]]]
    query = EventQuery.of(start=s, end=e, where=where)
    used = choose_source(con, source, where=query.where, incidents=True)
    sql = q.grid_month_disputes_sql(level, used, query.where, figure)
    long = con.execute(sql, query.bind(sql)).df()
    long["month"] = pd.to_datetime(long["month"]).dt.strftime("%Y-%m")
    wide = long.pivot_table(index="grid_code", columns="month", values="value", aggfunc="sum", fill_value=0)
    grids = grid_table(con, level)[["grid_code", "name"]].set_index("grid_code")
    wide = wide.reindex(index=grids.index, columns=[f"{m:%Y-%m}" for m in months], fill_value=0).astype("int64")
    wide.columns.name = None
    return grids.join(wide).reset_index()


def month_columns(values: pd.DataFrame) -> list[str]:
    """The month columns ('YYYY-MM') of a grid_month_values frame, in order."""
    return [c for c in values.columns if c not in ("grid_code", "name")]


def month_values(values: pd.DataFrame, month: str) -> pd.Series:
    """One month of a grid_month_values frame as a Series indexed by grid_code (what a choropleth takes)."""
    if month not in values.columns:
        raise QueryError(f"`month` was {month!r}; the frame has months {month_columns(values)[:1]} to {month_columns(values)[-1:]}")
    return values.set_index("grid_code")[month]


# --------------------------------------------------------------------------- exports, as the CLI writes them


def export_name(kind: str, fmt: str, *parts: object) -> str:
    """An ASCII file name such as disputes_large_2019-2025.csv (safe in a shell and in any browser)."""
    stem = "_".join([kind, *(str(p) for p in parts if p not in (None, ""))])
    return f"{stem}.{fmt}"


def _command(words: list[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)


def disputes_command(db: str | Path, fmt: str, *, level: str, year_from: int, year_to: int,
                     grid: str | None = None, output: str) -> str:
    """The `minqing export disputes` command that writes what dispute_export returns for the same options."""
    words = ["minqing", "export", "disputes", "--db", str(db), "--level", level, "--from", str(year_from),
             "--to", str(year_to)]
    if grid is not None:
        words += ["--grid", grid]
    return _command([*words, "--format", fmt, "-o", output])


def _cli_time(moment: dt.datetime) -> str:
    return moment.isoformat(sep=" ")


def events_command(db: str | Path, fmt: str, *, start: TimeLike | None = None, end: TimeLike | None = None,
                   where: EventFilter | None = None, level: str | None = None, grid: str | None = None,
                   output: str) -> str:
    """The `minqing export events` command that writes what event_export returns for the same options.

    The CLI reads a bare --to date as that whole day: a window ending at midnight is written as the day before,
    any other end as the exact time (and --from likewise as a date at midnight, else the exact time)."""
    s, e = checked_window(start, end)
    words = ["minqing", "export", "events", "--db", str(db)]
    if s is not None:
        words += ["--from", f"{s:%Y-%m-%d}" if s.time() == dt.time() else _cli_time(s)]
    if e is not None:
        words += ["--to", f"{e - dt.timedelta(days=1):%Y-%m-%d}" if e.time() == dt.time() else _cli_time(e)]
    where = where or NO_FILTER
    for option, values in (("--dept", where.depts), ("--category", where.categories),
                           ("--dispute-class", where.dispute_classes), ("--status", where.statuses)):
        for value in values:
            words += [option, value]
    if level is not None:
        words += ["--level", level]
    if grid is not None:
        words += ["--grid", grid]
    return _command([*words, "--format", fmt, "-o", output])
