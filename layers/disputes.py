"""Yearly dispute statistics (矛盾纠纷化解统计) per grid and for the whole city (SQL: layers/disputes_queries.py).

Incident rule (docs/schema.md, store/rollups.py): reports of one incident (same `incident_id`) count once;
only dispute reports located in a grid count; an incident is *received* in the year of its earliest
`reported_at` and *resolved* in the year of its earliest `closed_at` among its closed reports; it belongs
to the grid (and has the class) of its home report: the report that closed first, or while nothing is
closed the report that came in first. So every incident sits in exactly one grid per level and the sum
over the grids of a level equals the city total, except at the small level for incidents whose home report
was placed by address only (it has a medium and a large grid but no small one).
"""

from __future__ import annotations

import duckdb
import pandas as pd

from layers import disputes_queries as q
from layers.event_query import EventQuery
from layers.lookups import dispute_classes
from layers.stats import CITY_CODE, CITY_NAME, QueryError, choose_source, find_grid, grid_table
from store.schema import LEVELS

__all__ = ["dispute_statistics", "city_dispute_totals", "class_columns", "COUNT_COLUMNS", "CLASS_PREFIX"]

CLASS_PREFIX = "resolved_class_"  # class columns: resolved incidents of that class, e.g. resolved_class_邻里
COUNT_COLUMNS: tuple[str, ...] = ("received", "resolved", "received_change", "resolved_change")
FIRST_YEAR, LAST_YEAR = 1990, 2100


def class_columns(df: pd.DataFrame) -> list[str]:
    """The per-class columns of a dispute statistics frame, in order."""
    return [c for c in df.columns if c.startswith(CLASS_PREFIX)]


def _check_years(year_from: int, year_to: int) -> None:
    for name, year in (("year_from", year_from), ("year_to", year_to)):
        if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
            raise QueryError(f"`{name}` was {year!r}; give a year between {FIRST_YEAR} and {LAST_YEAR}")
    if year_from > year_to:
        raise QueryError(f"the year range is reversed: from {year_from} to {year_to}; swap them (from {year_to} to {year_from})")


def _yearly(con: duckdb.DuckDBPyConnection, level: str, year_from: int, year_to: int, source: str) -> pd.DataFrame:
    """grid_code, year, dispute_class, received, resolved for years [year_from - 1, year_to] (the year before for
    the change)."""
    used = choose_source(con, source, incidents=True)
    sql = q.disputes_yearly_sql(level, used)
    return con.execute(sql, EventQuery().bind(sql, year_from=year_from - 1, year_to=year_to)).df()


def _per_grid_year(yearly: pd.DataFrame, codes: list[str], classes: list[str], year_from: int,
                   year_to: int) -> pd.DataFrame:
    """One row per code and year with the counts, rate, change on the year before and the class columns."""
    years = list(range(year_from - 1, year_to + 1))
    index = pd.MultiIndex.from_product([codes, years], names=["grid_code", "year"])
    totals = yearly.groupby(["grid_code", "year"])[["received", "resolved"]].sum().reindex(index, fill_value=0)
    by_class = yearly.pivot_table(index=["grid_code", "year"], columns="dispute_class", values="resolved",
                                  aggfunc="sum", fill_value=0)
    seen = [c for c in by_class.columns if c not in classes]
    by_class = by_class.reindex(index=index, columns=classes + sorted(seen), fill_value=0)
    by_class.columns = [f"{CLASS_PREFIX}{c}" for c in by_class.columns]
    out = pd.concat([totals, by_class], axis=1).astype("int64").reset_index()
    out = out.sort_values(["grid_code", "year"], kind="stable")
    before = out.groupby("grid_code")[["received", "resolved"]].shift(1)
    for figure in ("received", "resolved"):
        out[f"{figure}_change"] = out[figure] - before[figure]
        base = before[figure].astype("Float64")
        out[f"{figure}_change_pct"] = (out[f"{figure}_change"].astype("Float64") * 100 / base.where(base != 0)).astype("Float64")
    out["resolution_rate"] = (out["resolved"].astype("Float64") / out["received"].astype("Float64")
                              .where(out["received"] != 0)).astype("Float64")
    out = out[out["year"] >= year_from].copy()
    out["received_change"] = out["received_change"].astype("int64")
    out["resolved_change"] = out["resolved_change"].astype("int64")
    figures = ["received", "resolved", "resolution_rate", "received_change", "received_change_pct",
               "resolved_change", "resolved_change_pct"]
    return out[["grid_code", "year", *figures, *class_columns(out)]]


def _labels(grids: pd.DataFrame, level: str) -> pd.DataFrame:
    """grid_code, name and the codes and names of the grids above."""
    out = grids[["grid_code", "name"]].copy()
    if level == "small":
        out["medium_code"], out["medium_name"] = grids["parent_code"], grids["parent_name"]
        out["large_code"], out["large_name"] = grids["grandparent_code"], grids["grandparent_name"]
    elif level == "medium":
        out["large_code"], out["large_name"] = grids["parent_code"], grids["parent_name"]
    return out


def _scope(con: duckdb.DuckDBPyConnection, level: str, grid: str | None) -> pd.DataFrame:
    """grid_table rows of `level` inside `grid` (itself or its descendants), all when grid is None."""
    grids = grid_table(con, level)
    if grid is None:
        return grids
    grid_level, _ = find_grid(con, grid)
    if LEVELS.index(grid_level) > LEVELS.index(level):
        raise QueryError(f"grid {grid!r} is a {grid_level} grid, finer than level {level!r}; "
                         f"choose level {grid_level!r} or give a {level} (or coarser) grid")
    if grid_level == level:
        return grids[grids["grid_code"] == grid]
    column = "parent_code" if LEVELS.index(level) - LEVELS.index(grid_level) == 1 else "grandparent_code"
    return grids[grids[column] == grid]


def dispute_statistics(con: duckdb.DuckDBPyConnection, level: str, *, year_from: int, year_to: int,
                       grid: str | None = None, source: str = "auto") -> pd.DataFrame:
    """One row per grid of `level` (inside `grid` when given) per year in [year_from, year_to], zeros included.

    Columns: grid_code, name, [medium_code, medium_name,] [large_code, large_name,] year, received, resolved,
    resolution_rate (resolved / received, missing when nothing was received), received_change and
    resolved_change (on the year before), received_change_pct and resolved_change_pct (missing when the year
    before had 0), then resolved_class_<class> per dispute class (they add up to `resolved`).
    """
    if level not in LEVELS:
        raise QueryError(f"`level` was {level!r} but is expected to be one of {list(LEVELS)} (the city: city_dispute_totals)")
    _check_years(year_from, year_to)
    grids = _scope(con, level, grid)
    yearly = _yearly(con, level, year_from, year_to, source)
    stats = _per_grid_year(yearly, list(grids["grid_code"]), dispute_classes(con), year_from, year_to)
    labels = _labels(grids, level)
    out = labels.merge(stats, on="grid_code", how="left")
    return out.sort_values(["grid_code", "year"], kind="stable").reset_index(drop=True)


def city_dispute_totals(con: duckdb.DuckDBPyConnection, *, year_from: int, year_to: int, grid: str | None = None,
                        source: str = "auto") -> pd.DataFrame:
    """One row per year for the whole city (or for one grid): scope_code, scope_name, year and the same figures
    as dispute_statistics. Counted directly from the incidents, not by adding grid rows."""
    _check_years(year_from, year_to)
    if grid is None:
        level, code, name = "city", CITY_CODE, CITY_NAME
    else:
        level, name = find_grid(con, grid)
        code = grid
    yearly = _yearly(con, level, year_from, year_to, source)
    stats = _per_grid_year(yearly, [code], dispute_classes(con), year_from, year_to)
    stats.insert(0, "scope_name", name)
    stats = stats.rename(columns={"grid_code": "scope_code"})
    return stats.reset_index(drop=True)
