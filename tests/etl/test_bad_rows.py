"""A file with every kind of bad row: good rows load, each bad row is quarantined with its reason, nothing is lost."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import geopandas as gpd
import pytest
import shapely

from etl.config import load_config
from etl.load import load_project

CATEGORIES = Path(__file__).resolve().parents[2] / "data" / "categories.toml"
COLUMNS = ["id", "kind", "state", "reported", "dispatched", "closed", "x", "y", "grid", "addr"]
GOOD = {
    "G1": ["G1", "邻里", "办结", "2024-03-01 10:00", "2024-03-01 11:00", "2024-03-02 10:00", "115.05", "22.95", "", ""],
    "G2": ["G2", "市容", "处理中", "2024-03-01 10:00", "", "", "", "", "S2", ""],
    "G3": ["G3", "市容", "处理中", "2024-03-01 10:00", "", "", "", "", "", "甲镇西村村委会旁"],
    "G4": ["G4", "市容", "处理中", "2024-03-01 10:00", "", "", "22.95", "115.15", "", ""],  # swapped, repaired
    "G5": ["G5", "市容", "处理中", "2024-03-01 10:00", "", "", "117.5", "22.95", "", ""],  # outside: kept, flagged
}
# (row, reason fragment): each is a different way a department export goes wrong.
BAD: list[tuple[list[str], str]] = [
    (["", "邻里", "办结", "2024-03-01 10:00", "", "2024-03-02 10:00", "115.05", "22.95", "", ""], "missing source id"),
    (["B02", "", "办结", "2024-03-01 10:00", "", "2024-03-02 10:00", "115.05", "22.95", "", ""], "missing category"),
    (["B03", "打架斗殴", "办结", "2024-03-01 10:00", "", "2024-03-02 10:00", "115.05", "22.95", "", ""], "unknown category"),
    (["B04", "邻里", "", "2024-03-01 10:00", "", "", "115.05", "22.95", "", ""], "missing status"),
    (["B05", "邻里", "挂起", "2024-03-01 10:00", "", "", "115.05", "22.95", "", ""], "unknown status"),
    (["B06", "邻里", "处理中", "", "", "", "115.05", "22.95", "", ""], "missing report time"),
    (["B07", "邻里", "处理中", "昨天下午", "", "", "115.05", "22.95", "", ""], "unreadable or impossible time"),
    (["B08", "邻里", "处理中", "2023-02-30 10:00", "", "", "115.05", "22.95", "", ""], "unreadable or impossible time"),
    (["B09", "邻里", "处理中", "2023-13-01 10:00", "", "", "115.05", "22.95", "", ""], "unreadable or impossible time"),
    (["B10", "邻里", "处理中", "9999-01-01 10:00", "", "", "115.05", "22.95", "", ""], "unreadable or impossible time"),
    (["B11", "邻里", "处理中", "1900-01-01 10:00", "", "", "115.05", "22.95", "", ""], "unreadable or impossible time"),
    (["B12", "邻里", "处理中", "2024-03-01 25:61", "", "", "115.05", "22.95", "", ""], "unreadable or impossible time"),
    (["B13", "邻里", "处理中", "2024-03-01 10:00", "soon", "", "115.05", "22.95", "", ""], "unreadable or impossible time"),
    (["B14", "邻里", "办结", "2024-03-05 10:00", "", "2024-03-01 10:00", "115.05", "22.95", "", ""], "closed before it was reported"),
    (["B15", "邻里", "办结", "2024-03-01 10:00", "", "", "115.05", "22.95", "", ""], "status is closed but there is no closed time"),
    (["B16", "邻里", "处理中", "2024-03-01 10:00", "", "", "东经115", "22.95", "", ""], "coordinate is not a number"),
    (["B17", "邻里", "处理中", "2024-03-01 10:00", "", "", "115.05", "北纬22", "", ""], "coordinate is not a number"),
    (["B18", "邻里", "处理中", "2024-03-01 10:00", "", "", "inf", "22.95", "", ""], "coordinate is not finite"),
    (["B19", "邻里", "处理中", "2024-03-01 10:00", "", "", "NaN", "22.95", "", ""], "coordinate is not a number"),
    (["B20", "邻里", "处理中", "2024-03-01 10:00", "", "", "215.05", "122.95", "", ""], "out of range"),
    (["B21", "邻里", "处理中", "2024-03-01 10:00", "", "", "", "", "S99", ""], "grid code is not a known small grid"),
    (["B22", "邻里", "处理中", "2024-03-01 10:00", "", "", "", "", "M1", ""], "grid code is not a known small grid"),
    (["B23", "邻里", "处理中", "2024-03-01 10:00", "", "", "", "", "", ""], "no usable location"),
    (["B24", "邻里", "处理中", "2024-03-01 10:00", "", "", "", "", "", "火星某地"], "no usable location"),
    (["B25", "邻里", "处理中", "2024-03-01 10:00", "", "", "115.05", "", "", ""], "no usable location"),
]
MAPPING = """
department = "corpus"
[fields]
source_id = "id"
category = "kind"
status = "state"
reported_at = "reported"
dispatched_at = "dispatched"
closed_at = "closed"
lon = "x"
lat = "y"
grid_code = "grid"
address = "addr"
[time]
formats = ["%Y-%m-%d %H:%M"]
[category.map]
"邻里" = "dispute_neighbour"
"市容" = "urban_environment"
[status.map]
"办结" = "closed"
"处理中" = "in_progress"
"""


def _csv_line(values: list[str]) -> str:
    return ",".join(f'"{v}"' if "," in v else v for v in values)


@pytest.fixture()
def loaded(tmp_path: Path) -> tuple[Path, object]:
    grids = {
        "large": gpd.GeoDataFrame({"code": ["L1"], "name": ["甲镇"]}, geometry=[shapely.box(115.0, 22.9, 115.2, 23.0)], crs=4326),
        "medium": gpd.GeoDataFrame({"code": ["M1", "M2"], "name": ["东村", "西村"], "parent": ["L1", "L1"]},
                                   geometry=[shapely.box(115.0, 22.9, 115.1, 23.0), shapely.box(115.1, 22.9, 115.2, 23.0)], crs=4326),
        "small": gpd.GeoDataFrame({"code": ["S1", "S2"], "name": ["第1网格", "第1网格"], "parent": ["M1", "M2"]},
                                  geometry=[shapely.box(115.0, 22.9, 115.1, 23.0), shapely.box(115.1, 22.9, 115.2, 23.0)], crs=4326),
    }
    for level, frame in grids.items():
        frame.to_file(tmp_path / f"{level}.geojson", driver="GeoJSON")
    rows = list(GOOD.values()) + [row for row, _ in BAD] + [GOOD["G1"]]  # the last is an exact repeat
    (tmp_path / "in").mkdir()
    lines = [",".join(COLUMNS), *map(_csv_line, rows), "R1,邻里,办结,2024-03-01 10:00,,,115.05,22.95,,,,extra"]
    (tmp_path / "in" / "corpus.csv").write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    lines = [json.dumps(dict(zip(COLUMNS, GOOD["G1"])) | {"id": "J1"}, ensure_ascii=False), "{broken json", "[1, 2]"]
    (tmp_path / "in" / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "corpus.toml").write_text(MAPPING, encoding="utf-8")
    levels = "\n".join(
        f'[grids.{level}]\npath = "{level}.geojson"\ncode = "code"\nname = "name"\n' + ('parent = "parent"\n' if level != "large" else "")
        for level in grids)
    (tmp_path / "minqing.toml").write_text(textwrap.dedent(f"""\
        database = "store.duckdb"
        categories = "{CATEGORIES.as_posix()}"
        """) + levels + '\n[[departments]]\npath = "in/corpus.*"\nmapping = "corpus.toml"\n', encoding="utf-8")
    return tmp_path, load_project(load_config(tmp_path / "minqing.toml"))


def test_at_least_twenty_kinds_of_bad_rows_are_quarantined_one_reject_each(loaded: tuple[Path, object]) -> None:
    """The loader's rejects of the CSV, in file order, are the table's bad rows at their own lines (then the ragged
    row), one reject per row and no bad row loaded: at least twenty different rows, compared with what was stored."""
    folder, _ = loaded
    with duckdb.connect(str(folder / "store.duckdb"), read_only=True) as con:
        rejected = con.execute(
            "SELECT row_number, json_extract_string(raw, '$.id') FROM rejects WHERE batch_id = "
            "(SELECT batch_id FROM load_batches WHERE file_path LIKE '%.csv') ORDER BY row_number").fetchall()
        stored = {row[0] for row in con.execute("SELECT source_id FROM events").fetchall()}
    first = len(GOOD) + 1  # data rows are numbered from 1: the good rows, then the bad ones
    expected = [(first + i, row[0]) for i, (row, _) in enumerate(BAD)] + [(len(GOOD) + len(BAD) + 2, None)]
    assert rejected == expected
    assert len({id_ for _, id_ in rejected[:-1]}) >= 20
    assert stored == set(GOOD) | {"J1"} and not stored & {row[0] for row, _ in BAD}


def test_good_rows_load_and_every_bad_row_has_its_reason(loaded: tuple[Path, object]) -> None:
    folder, report = loaded
    csv_result = next(r for r in report.files if r.path.suffix == ".csv")
    assert csv_result.rows_in == len(GOOD) + len(BAD) + 2
    assert (csv_result.loaded, csv_result.duplicate, csv_result.rejected) == (len(GOOD), 1, len(BAD) + 1)
    assert csv_result.outside_grid == 1
    with duckdb.connect(str(folder / "store.duckdb"), read_only=True) as con:
        reasons = dict(con.execute(
            "SELECT json_extract_string(raw, '$.id'), reason FROM rejects WHERE batch_id = "
            "(SELECT batch_id FROM load_batches WHERE file_path LIKE '%.csv')").fetchall())
        located = dict(con.execute("SELECT source_id, location_from || ':' || coalesce(grid_medium, '-') FROM events").fetchall())
        ragged = con.execute("SELECT row_number, value FROM rejects WHERE reason = 'the row cannot be parsed' "
                             "AND source = 'corpus' AND value LIKE '%header has 10'").fetchall()
    assert ragged == [(len(GOOD) + len(BAD) + 2, "the row has 12 fields but the header has 10")]
    for row, expected in BAD:
        assert expected in reasons[row[0]], (row, reasons[row[0]])
    assert located["G2"] == "grid_code:M2" and located["G3"] == "address:M2" and located["G4"] == "point:M2"
    assert located["G5"] == "point:-"


def test_malformed_json_lines_are_quarantined_with_their_line(loaded: tuple[Path, object]) -> None:
    folder, report = loaded
    result = next(r for r in report.files if r.path.suffix == ".jsonl")
    assert (result.rows_in, result.loaded, result.rejected) == (3, 1, 2)
    with duckdb.connect(str(folder / "store.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT row_number, reason, value FROM rejects WHERE source = 'corpus' AND row_number <= 3 "
                           "AND field = 'row' ORDER BY row_number").fetchall()
    assert [r[0] for r in rows] == [2, 3]
    assert "malformed JSON" in rows[0][2] and "must be an object" in rows[1][2]


def test_rows_with_too_many_or_too_few_fields_are_quarantined_in_place(tmp_path: Path) -> None:
    from etl.readers import ERROR_COLUMN, ROW_COLUMN, read_raw

    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n11,12\n13,14,15\n", encoding="utf-8")
    frame = read_raw(path, fmt="csv").frame
    assert list(frame[ROW_COLUMN]) == [1, 2, 3, 4, 5]
    errors = frame.set_index(ROW_COLUMN)[ERROR_COLUMN]
    assert errors[2] == "the row has 4 fields but the header has 3" and "2 fields" in errors[4]
    assert errors[[1, 3, 5]].isna().all() and list(frame.set_index(ROW_COLUMN).loc[[1, 3, 5], "a"]) == ["1", "8", "13"]


def test_a_repeated_header_is_a_clear_error(tmp_path: Path) -> None:
    from store.errors import UserError
    from etl.readers import read_raw

    path = tmp_path / "twice.csv"
    path.write_text("编号,类别,编号\n1,2,3\n", encoding="gbk")
    with pytest.raises(UserError, match="repeats column.*编号"):
        read_raw(path, fmt="csv")


def test_a_gbk_shapefile_without_cpg_is_detected_not_loaded_garbled(tmp_path: Path) -> None:
    from etl.readers import read_raw

    frame = gpd.GeoDataFrame({"编号": ["A1"], "类别": ["邻里纠纷"]}, geometry=[shapely.Point(115.05, 22.95)], crs=4326)
    frame.to_file(tmp_path / "events.shp", encoding="gbk", engine="pyogrio")
    (tmp_path / "events.cpg").unlink(missing_ok=True)
    table = read_raw(tmp_path / "events.shp", fmt="shp")
    assert list(table.frame["类别"]) == ["邻里纠纷"]
    assert table.notes and "garbled" in table.notes[0]
    explicit = read_raw(tmp_path / "events.shp", fmt="shp", encoding="gbk")
    assert list(explicit.frame["编号"]) == ["A1"] and explicit.notes == []


def test_grid_code_map_translates_a_source_s_own_codes(tmp_path: Path) -> None:
    from etl.assign import GridIndex
    from etl.mapping import parse_mapping
    from etl.normalize import normalise
    from etl.readers import RawTable

    mapping = parse_mapping({
        "department": "x", "fields": {"source_id": "id", "category": "c", "status": "s", "reported_at": "t",
                                      "grid_code": "g"},
        "category": {"map": {"a": "grid_other"}}, "status": {"map": {"b": "reported"}},
        "grid_code": {"map": {"二组": "S2"}}}, path=tmp_path / "x.toml", known_categories=frozenset({"grid_other"}))
    grids = GridIndex(small_codes=np.array([], dtype=object), small_polygons=np.array([]), parent={"S1": "M1", "S2": "M2"},
                      level={"S1": "small", "S2": "small"}, villages_by_town={})
    raw = pd.DataFrame({"__row": [1, 2, 3], "id": ["1", "2", "3"], "c": "a", "s": "b", "t": "2024-01-01T08:00:00",
                        "g": ["二组", "S1", "三组"]})
    result = normalise(raw, RawTable(table=raw), mapping, path=tmp_path / "x.csv", categories={}, grids=grids)
    assert list(result.events["grid_small"]) == ["S2", "S1"]
    assert list(result.rejects["value"]) == ["三组"]
