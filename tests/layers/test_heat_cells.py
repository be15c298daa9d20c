"""The heatmap counts the H3 cells stored at load (events.h3_cell) and gives exactly the bins it computed from the
points before; a store whose rows lack a cell (loaded before the column) gives the same bins, and a load fills them."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import h3
import pandas as pd
import pytest

from etl.h3cells import fill_missing_cells
from layers import markers_queries as q
from layers.event_query import EventFilter, filter_params
from layers.heatmap import bin_points, heat_bins
from store.schema import H3_RESOLUTION

CASES = [dict(), dict(start="2025-01-01", end="2025-07-01"), dict(where=EventFilter(dispute_classes=("邻里",)))]


def from_points(con: duckdb.DuckDBPyConnection, **case: object) -> pd.DataFrame:
    """The bins as the layer made them before cells were stored: every distinct point through h3 in Python."""
    points = con.execute(q.EVENT_POINTS, filter_params(case.get("where"), start=case.get("start"),
                                                       end=case.get("end"))).df()
    return bin_points(points["lon"].to_numpy(), points["lat"].to_numpy(), points["n"].to_numpy())


def assert_same_bins(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want)
    assert got.attrs == want.attrs


@pytest.fixture(scope="module")
def store_copy(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("heat") / "copy.duckdb"
    shutil.copyfile(demo_db, copy)
    return copy


def test_every_located_event_has_its_cell(demo_db: Path) -> None:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        rows = con.execute("SELECT lon, lat, h3_cell FROM events WHERE lon IS NOT NULL USING SAMPLE 2000 ROWS").fetchall()
        assert con.execute("SELECT count(*) FROM events WHERE (lon IS NULL) <> (h3_cell IS NULL)").fetchone()[0] == 0
    assert rows and all(cell == h3.str_to_int(h3.latlng_to_cell(lat, lon, H3_RESOLUTION)) for lon, lat, cell in rows)


@pytest.mark.parametrize("case", CASES)
def test_stored_cells_give_the_bins_of_the_points(demo_db: Path, case: dict) -> None:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        got = heat_bins(con, **case)
        assert len(got) > 50
        assert_same_bins(got, from_points(con, **case))


def test_rows_without_a_cell_still_count_and_a_load_fills_them(store_copy: Path) -> None:
    with duckdb.connect(str(store_copy)) as con:
        want = {i: from_points(con, **case) for i, case in enumerate(CASES)}
        con.execute("UPDATE events SET h3_cell = NULL WHERE hash(event_id) % 2 = 0")  # half of them, as if older
        for i, case in enumerate(CASES):
            assert_same_bins(heat_bins(con, **case), want[i])
        assert fill_missing_cells(con) > 1000
        assert con.execute("SELECT count(*) FROM events WHERE lon IS NOT NULL AND h3_cell IS NULL").fetchone()[0] == 0
        assert_same_bins(heat_bins(con), want[0])
        con.execute("ALTER TABLE events DROP COLUMN h3_cell")  # a store from before the column: the points path
        assert_same_bins(heat_bins(con), want[0])
