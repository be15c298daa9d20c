"""A tiny Minqing store for tests: 3 large / 6 medium / 12 small square grids near 115.5E 22.9N and known events."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from store.schema import connect

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
ORIGIN = (115.50, 22.90)  # lon, lat of the south-west corner of the first large grid
LARGE_SIZE = 0.04  # degrees; medium grids halve it in longitude, small grids halve a medium in latitude
YEAR_START = dt.datetime(2024, 1, 1)
LARGE_NAMES = ("城东片区", HOSTILE_NAME, "河西片区")
OUTSIDE_GRID_EVENTS = 7


@dataclass(frozen=True)
class FixtureStore:
    """The fixture database and the frames it was built from (for independent expectations)."""

    path: Path
    grids: pd.DataFrame  # grid_code, name, level, parent_code, population, area_km2, geometry (shapely)
    events: pd.DataFrame  # the inserted events rows

    @property
    def event_total(self) -> int:
        return len(self.events)

    def grid_count(self, level: str | None = None) -> int:
        return len(self.grids) if level is None else int((self.grids["level"] == level).sum())


def build_fixture_store(path: Path) -> FixtureStore:
    """Write the fixture store at `path` (which must not exist yet) and return what went in."""
    grids = _grids()
    events = _events(grids)
    con = connect(str(path))
    try:
        con.register("grids_df", grids.assign(geometry=shapely.to_wkb(grids["geometry"].to_numpy())))
        con.execute("INSERT INTO grids BY NAME SELECT * FROM grids_df")
        con.register("events_df", events)
        con.execute("INSERT INTO events BY NAME SELECT * FROM events_df")
        con.execute(
            "INSERT INTO load_batches (batch_id, source, file_path, file_sha256, started_at, finished_at, "
            "rows_in, rows_loaded) VALUES (1, 'fixture', 'fixture.csv', ?, ?, ?, ?, ?)",
            ["0" * 64, dt.datetime(2024, 12, 31, 8, 0), dt.datetime(2024, 12, 31, 8, 5), len(events), len(events)],
        )
    finally:
        con.close()
    return FixtureStore(path=path, grids=grids, events=events)


@pytest.fixture(scope="session")
def fixture_store(tmp_path_factory: pytest.TempPathFactory) -> FixtureStore:
    """The fixture store, built once per test session."""
    return build_fixture_store(tmp_path_factory.mktemp("store") / "fixture.duckdb")


def _square(x0: float, y0: float, w: float, h: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x0 + w, y0 + h)


def _grids() -> pd.DataFrame:
    rows = []
    lon0, lat0 = ORIGIN
    half = LARGE_SIZE / 2
    for i, large_name in enumerate(LARGE_NAMES):
        lx = lon0 + i * LARGE_SIZE
        large = f"L{i + 1}"
        rows.append((large, large_name, "large", None, _square(lx, lat0, LARGE_SIZE, LARGE_SIZE)))
        for j in range(2):
            medium, medium_name, mx = f"{large}M{j + 1}", f"{large_name}第{j + 1}社区", lx + j * half
            rows.append((medium, medium_name, "medium", large, _square(mx, lat0, half, LARGE_SIZE)))
            for k in range(2):
                small, sy = f"{medium}S{k + 1}", lat0 + k * half
                rows.append((small, f"{medium_name}{k + 1}号网格", "small", medium, _square(mx, sy, half, half)))
    df = pd.DataFrame(rows, columns=["grid_code", "name", "level", "parent_code", "geometry"])
    df["population"] = np.arange(len(df), dtype="int64") * 100 + 1000
    df["area_km2"] = 4.0  # not used by these tests
    return df


def _events(grids: pd.DataFrame) -> pd.DataFrame:
    """Events in small grids of L1 and L2 (L3 stays empty), plus a few outside every grid."""
    rng = np.random.default_rng(20240101)
    small = grids[(grids["level"] == "small") & ~grids["grid_code"].str.startswith("L3")]
    per_small = rng.integers(5, 60, size=len(small))
    rows = []
    for (_, g), n in zip(small.iterrows(), per_small):
        medium = g["parent_code"]
        large = medium.split("M")[0]
        for _ in range(int(n)):
            rows.append((g["grid_code"], medium, large, False))
    rows += [(None, None, None, True)] * OUTSIDE_GRID_EVENTS
    df = pd.DataFrame(rows, columns=["grid_small", "grid_medium", "grid_large", "outside_grid"])
    n = len(df)
    minutes = rng.integers(0, 366 * 24 * 60, size=n)
    df["event_id"] = [f"fixture:{i}" for i in range(n)]
    df["dept"] = "fixture"
    df["source_id"] = [str(i) for i in range(n)]
    df["category"] = "urban_other"
    df["dispute_class"] = None
    df["is_dispute"] = False
    df["status"] = rng.choice(["reported", "dispatched", "in_progress", "closed"], size=n)
    df["reported_at"] = pd.to_datetime(YEAR_START) + pd.to_timedelta(minutes, unit="min")
    df["lon"] = np.nan
    df["lat"] = np.nan
    df["location_from"] = np.where(df["outside_grid"], "none", "grid_code")
    df["incident_id"] = df["event_id"]
    df["row_hash"] = [hashlib.sha256(e.encode()).hexdigest() for e in df["event_id"]]
    df["batch_id"] = 1
    return df
