"""A changed row is replaced (deleted and inserted again by row id): the stored row keeps its first batch, names the
load that changed it, and nothing else of the table moves; a table column the merge does not know stops the merge
before any row could lose its value."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from etl.config import load_config
from etl.load import TARGETS, load_project
from etl.merge import merge_rows
from store.schema import create_schema
from projects import HEADER, LINKED_STREET_MAPPING, write_config, write_town_grids

LINES = ["A1,邻里纠纷,处理中,2024/03/01 09:00,,115.05,22.95,",
         "A2,占道经营,处理中,2024/03/02 09:00,,115.15,23.05,",
         "A3,邻里纠纷,已办结,2024/03/03 09:00,2024/03/04 09:00,115.05,23.05,"]


def stored(db: Path) -> dict[str, tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT source_id, status, closed_at, batch_id, updated_batch, row_hash, h3_cell "
                           "FROM events").fetchall()
    return {r[0]: r[1:] for r in rows}


def test_a_changed_row_keeps_its_first_batch_and_names_the_load_that_changed_it(tmp_path: Path) -> None:
    write_town_grids(tmp_path, ["第1网格", "第2网格", "第1网格", "第2网格"], [100, 200, 300, 400])
    (tmp_path / "street.toml").write_text(LINKED_STREET_MAPPING, encoding="utf-8")
    (tmp_path / "street.csv").write_text(HEADER + "\n".join(LINES) + "\n", encoding="utf-8")
    config = load_config(write_config(tmp_path, "street"))
    load_project(config)
    before = stored(tmp_path / "store.duckdb")
    changed = LINES[1].replace("处理中,2024/03/02 09:00,", "已办结,2024/03/02 09:00,2024/03/05 10:00")
    (tmp_path / "street.csv").write_text(HEADER + "\n".join([LINES[0], changed, LINES[2]]) + "\n", encoding="utf-8")
    result = load_project(config).files[0]
    assert (result.loaded, result.updated, result.duplicate) == (0, 1, 2)
    after = stored(tmp_path / "store.duckdb")
    assert after.keys() == before.keys() == {"A1", "A2", "A3"}
    assert after["A1"] == before["A1"] and after["A3"] == before["A3"]  # untouched, updated_batch still NULL
    status, closed_at, batch_id, updated_batch, row_hash, cell = after["A2"]
    assert (status, str(closed_at), batch_id, cell) == ("closed", "2024-03-05 10:00:00", before["A2"][2], before["A2"][5])
    assert updated_batch == batch_id + 1 and row_hash != before["A2"][4]


def test_a_column_the_merge_does_not_know_stops_it(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "store.duckdb")) as con:
        create_schema(con)
        con.execute("ALTER TABLE events ADD COLUMN reviewed_by VARCHAR")
        with pytest.raises(AssertionError, match=r"events: the merge does not write column\(s\) \['reviewed_by'\]"):
            merge_rows(con, TARGETS["events"], None, 1, 1)  # type: ignore[arg-type]
