"""Grid geometries, per-grid event counts and the store's headline numbers, read from DuckDB (SQL: grids_queries)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import geopandas as gpd
import pandas as pd
import shapely

from layers import grids_queries as q
from store.schema import LEVELS
from store.timewindow import TimeLike, checked_window

GRID_COLUMNS: tuple[str, ...] = ("grid_code", "name", "parent_code", "population", "area_km2")


@dataclass(frozen=True)
class StoreSummary:
    """What the dashboard's frame shows about a store: has it data, how much, how fresh."""

    is_store: bool  # False when the file lacks the Minqing tables
    event_total: int = 0
    grids_by_level: dict[str, int] = field(default_factory=dict)
    last_load: dt.datetime | None = None
    city: str | None = None  # minqing.toml `city`, recorded by the load (meta 'city'): the wall's title

    @property
    def grid_total(self) -> int:
        return sum(self.grids_by_level.values())


def grid_frame(con: duckdb.DuckDBPyConnection, level: str) -> gpd.GeoDataFrame:
    """Grids of `level` (grid_code, name, parent_code, population, area_km2, geometry) in EPSG:4326."""
    _check_level(level)
    df = con.execute(q.GRIDS_OF_LEVEL, {"level": level}).df()
    geometry = shapely.from_wkb([bytes(b) for b in df["geometry"]])
    out = df.loc[:, list(GRID_COLUMNS)].astype(
        {"grid_code": "str", "name": "str", "population": "Int64", "area_km2": "float64"}
    )
    return gpd.GeoDataFrame(out, geometry=geometry, crs="EPSG:4326")


def event_counts(
    con: duckdb.DuckDBPyConnection,
    level: str,
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
) -> pd.DataFrame:
    """One row per grid of `level` (grid_code, event_count), zeros included; time window [start, end)."""
    _check_level(level)
    start_ts, end_ts = checked_window(start, end)
    params = {"level": level, "start": start_ts, "end": end_ts}
    df = con.execute(q.EVENT_COUNTS_BY_GRID, params).df()
    return df.astype({"grid_code": "str", "event_count": "int64"}).reset_index(drop=True)


def store_summary(con: duckdb.DuckDBPyConnection) -> StoreSummary:
    """Event total, grid counts per level and the last finished load; `is_store=False` if tables are missing."""
    tables = {row[0] for row in con.execute(q.STORE_TABLES).fetchall()}
    if not {"grids", "events", "load_batches"} <= tables:
        return StoreSummary(is_store=False)
    (event_total,) = con.execute(q.EVENT_TOTAL).fetchone()
    grids_by_level = {level: 0 for level in LEVELS}
    grids_by_level.update(dict(con.execute(q.GRID_COUNTS_BY_LEVEL).fetchall()))
    (last_load,) = con.execute(q.LAST_LOAD_FINISHED).fetchone()
    city = con.execute(q.CITY_NAME).fetchone() if "meta" in tables else None
    return StoreSummary(True, int(event_total), grids_by_level, last_load, city[0] if city else None)


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"`level` was {level!r} but is expected to be one of {list(LEVELS)}")
