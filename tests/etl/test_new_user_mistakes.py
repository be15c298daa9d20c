"""A new user's own files: each mistake found when a city first loads its exports ends in one message naming the
file, the value and the fix (exit code 2 via the CLI, no traceback), or in a defined, reported treatment."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pyogrio
import pyproj
import pytest
from click.testing import CliRunner

from etl.assign import GridIndex
from etl.config import load_config
from etl.load import load_project
from etl.mapping import parse_mapping
from etl.normalize import normalise
from etl.readers import format_of, read_raw
from minqing.cli import main
from projects import write_config, write_street_project, write_town_grids
from store.errors import ConfigError

KNOWN = frozenset({"dispute_neighbour", "urban_street_order"})


def load_cli(folder: Path):
    return CliRunner().invoke(main, ["load", "--config", str(folder / "minqing.toml")])


def refused(result, *phrases: str) -> str:
    """The CLI said one clear thing and stopped with exit code 2."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.output, result.output
    return result.output


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, (old, text)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --------------------------------------------------------------------------- 1. geo files without geometry

GRID_ATTRIBUTES = pd.DataFrame({"code": ["S1", "S2", "S3", "S4"], "name": ["a", "b", "c", "d"],
                                "parent": ["M1", "M1", "M2", "M2"], "pop": [1, 2, 3, 4]})


def _attributes_gpkg(folder: Path) -> str:
    pyogrio.write_dataframe(GRID_ATTRIBUTES, folder / "small_table.gpkg", driver="GPKG")  # an attribute table
    return "small_table.gpkg"


def _attributes_dbf(folder: Path) -> str:  # the .dbf of a Shapefile, given without its .shp
    pyogrio.write_dataframe(GRID_ATTRIBUTES, folder / "small_table.dbf")
    return "small_table.dbf"


def _null_geojson(folder: Path) -> str:
    features = [{"type": "Feature", "properties": row, "geometry": None} for row in GRID_ATTRIBUTES.to_dict("records")]
    (folder / "small_null.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return "small_null.geojson"


@pytest.mark.parametrize("write", [_attributes_gpkg, _attributes_dbf, _null_geojson])
def test_a_grid_file_without_geometry_is_one_clear_error(tmp_path: Path, write) -> None:
    write_street_project(tmp_path, [])
    name = write(tmp_path)
    edit(tmp_path / "minqing.toml", 'path = "small.geojson"', f'path = "{name}"')
    output = refused(load_cli(tmp_path), name, "geometry")
    assert "KeyError" not in output and "AttributeError" not in output
    if name != "small_null.geojson":
        assert "grids.small" in output and "has no geometry" in output


def _street_events_without_geometry(folder: Path, suffix: str) -> str:
    frame = pd.DataFrame({"编号": ["A1"], "类别": ["邻里纠纷"], "状态": ["处理中"], "上报时间": ["2023/8/21 14:05"],
                          "来源编号": [""]})
    name = f"street_table.{suffix}"
    pyogrio.write_dataframe(frame, folder / name, **({"driver": "GPKG"} if suffix == "gpkg" else {}))
    return name


@pytest.mark.parametrize("suffix", ["gpkg"])  # (a .dbf truncates these Chinese column names: GDAL's own error)
def test_a_department_geo_file_without_geometry_is_one_clear_error(tmp_path: Path, suffix: str) -> None:
    write_street_project(tmp_path, [])
    name = _street_events_without_geometry(tmp_path, suffix)
    mapping = tmp_path / "street.toml"
    edit(mapping, 'lon = "经度"\nlat = "纬度"\n', "")
    edit(mapping, 'closed_at = "办结时间"\n', "")
    edit(mapping, 'system = "wgs84"', 'system = "wgs84"\nfrom_geometry = true')
    edit(mapping, "[link]", "[read]\nformat = \"gpkg\"\n[link]")  # .dbf: read by GDAL like the other vector files
    edit(tmp_path / "minqing.toml", 'path = "street.csv"', f'path = "{name}"')
    output = refused(load_cli(tmp_path), name, "from_geometry = true", "no geometry", "lon and lat")
    assert "KeyError" not in output


def test_a_department_geo_file_without_geometry_may_still_give_lon_lat_columns(tmp_path: Path) -> None:
    """An attribute-only GeoPackage is a table: with lon/lat mapped (no from_geometry) its rows load."""
    write_street_project(tmp_path, [])
    frame = pd.DataFrame({"编号": ["A1"], "类别": ["邻里纠纷"], "状态": ["处理中"], "上报时间": ["2023/8/21 14:05"],
                          "办结时间": [""], "经度": ["115.05"], "纬度": ["22.95"], "来源编号": [""]})
    pyogrio.write_dataframe(frame, tmp_path / "street.gpkg", driver="GPKG")
    edit(tmp_path / "minqing.toml", 'path = "street.csv"', 'path = "street.gpkg"')
    report = load_project(load_config(tmp_path / "minqing.toml"))
    assert [(f.loaded, f.rejected) for f in report.files] == [(1, 0)]


# --------------------------------------------------------------------------- 2. coordinate systems pyproj lacks


def test_an_unknown_epsg_code_in_a_mapping_is_a_problem_listed_with_the_others(tmp_path: Path) -> None:
    raw = {"department": "street", "fields": {"source_id": "id", "category": "c", "status": "s", "reported_at": "t",
                                              "lon": "x", "lat": "y"},
           "coordinates": {"system": "EPSG:999999"}, "status": {"default": "nonsense"}}
    with pytest.raises(ConfigError) as caught:
        parse_mapping(raw, path=tmp_path / "street.toml", known_categories=KNOWN)
    keys = {p.key: p for p in caught.value.problems}
    assert {"coordinates.system", "status.default"} <= set(keys)
    assert "EPSG:999999" in keys["coordinates.system"].value and "epsg.io" in keys["coordinates.system"].fix
    assert str(tmp_path / "street.toml") == keys["coordinates.system"].file


def test_a_vertical_crs_is_no_system_of_map_positions(tmp_path: Path) -> None:
    raw = {"department": "street", "fields": {"source_id": "id", "category": "c", "status": "s", "reported_at": "t",
                                              "lon": "x", "lat": "y"}, "coordinates": {"system": "EPSG:5773"}}
    with pytest.raises(ConfigError, match="coordinates.system = 'EPSG:5773': it is a Vertical CRS"):
        parse_mapping(raw, path=tmp_path / "street.toml", known_categories=KNOWN)


def test_an_unknown_epsg_code_via_the_cli_names_the_mapping_key_and_value(tmp_path: Path) -> None:
    write_street_project(tmp_path, [])
    edit(tmp_path / "street.toml", 'system = "wgs84"', 'system = "EPSG:999999"')
    output = refused(load_cli(tmp_path), "street.toml", "coordinates.system", "EPSG:999999", "epsg.io")
    assert "CRSError" not in output
    assert not (tmp_path / "store.duckdb").exists()  # refused while the mapping is read, before anything is loaded


def test_an_unknown_epsg_code_for_the_grids_names_the_key_and_value(tmp_path: Path) -> None:
    write_street_project(tmp_path, [])
    edit(tmp_path / "minqing.toml", '[grids.large]', '[grids.large]\ncoordinates = "EPSG:999999"')
    output = refused(load_cli(tmp_path), "grids.large.coordinates", "epsg:999999", "epsg.io")
    assert "CRSError" not in output and "grids.small" not in output


# --------------------------------------------------------------------------- 3. placeholder coordinates

PLACED_MAPPING = """
department = "placed"
[fields]
source_id = "id"
category = "kind"
status = "state"
reported_at = "reported"
lon = "x"
lat = "y"
grid_code = "grid"
address = "addr"
[time]
formats = ["%Y-%m-%d %H:%M"]
[coordinates]
system = "{system}"
{placeholders}
[category.map]
"邻里" = "dispute_neighbour"
[status.map]
"处理中" = "in_progress"
"""


def _placed_project(folder: Path, rows: list[tuple[str, str, str, str, str]], *, system: str = "wgs84",
                    placeholders: str = "") -> Path:
    write_town_grids(folder, ["第1网格", "第2网格", "第1网格", "第2网格"], [100, 200, 300, 400])
    (folder / "placed.toml").write_text(PLACED_MAPPING.format(system=system, placeholders=placeholders),
                                        encoding="utf-8")
    lines = ["id,kind,state,reported,x,y,grid,addr"]
    lines += [f"{i},邻里,处理中,2024-03-01 10:00,{x},{y},{grid},{addr}" for i, x, y, grid, addr in rows]
    (folder / "placed.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_config(folder, "placed")
    return folder


def _stored(folder: Path) -> dict[str, tuple]:
    with duckdb.connect(str(folder / "store.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT source_id, location_from, grid_small, grid_medium, outside_grid, lon FROM events")
        return {r[0]: r[1:] for r in rows.fetchall()}


def _notes(folder: Path) -> list[str]:
    """The notes normalising the file gives for the load report (against the grids just stored)."""
    config = load_config(folder / "minqing.toml")
    source = config.departments[0]
    path = source.files()[0]
    with duckdb.connect(str(config.database), read_only=True) as con:
        grids = GridIndex.from_db(con)
    table = read_raw(path, fmt=format_of(path, source.mapping.format), encoding=source.mapping.encoding)
    return normalise(table.frame, table, source.mapping, path=path, categories=config.categories, grids=grids).notes


def test_zero_zero_is_no_location_and_the_row_falls_back_to_its_grid_code_or_address(tmp_path: Path) -> None:
    folder = _placed_project(tmp_path, [
        ("P1", "0", "0", "S2", ""),  # 0/0 and a grid code: located by the code
        ("P2", "0.0", "0.000", "", "甲镇西村村委会旁"),  # 0/0 written otherwise, and an address
        ("P3", "0", "0", "", ""),  # nothing else: kept without a location, not "outside the grids"
        ("G1", "115.05", "22.95", "", ""),  # a real point
        ("G2", "0", "22.95", "", ""),  # one zero only is a real (if odd) value: a point outside the grids
    ])
    report = load_project(load_config(folder / "minqing.toml"))
    (result,) = report.files
    assert (result.loaded, result.rejected) == (5, 0)
    assert result.outside_grid == 1  # G2 only
    stored = _stored(folder)
    assert stored["P1"][:3] == ("grid_code", "S2", "M1")
    assert stored["P2"][:3] == ("address", None, "M2")
    assert stored["P3"][:4] == ("none", None, None, False)
    assert stored["G1"][:2] == ("point", "S1") and stored["G2"][0] == "point" and stored["G2"][3]
    assert all(pd.isna(stored[k][4]) for k in ("P1", "P2", "P3"))  # no sea point stored as if it were real
    (note,) = _notes(folder)
    assert note.startswith("3 rows had placeholder coordinates 0/0: treated as missing")
    assert "1 located by their grid code" in note and "1 located by their address" in note
    assert "1 kept without a location" in note


def test_the_load_report_counts_the_placeholder_rows(tmp_path: Path) -> None:
    folder = _placed_project(tmp_path, [("P1", "0", "0", "S2", ""), ("G1", "115.05", "22.95", "", "")])
    (result,) = load_project(load_config(folder / "minqing.toml")).files
    assert any(n.startswith("1 rows had placeholder coordinates 0/0: treated as missing") for n in result.notes)


def test_declared_placeholders_are_missing_too_and_a_bad_declaration_is_refused(tmp_path: Path) -> None:
    folder = _placed_project(tmp_path, [("P1", "-1", "-1", "", ""), ("P2", "999", "999", "S3", ""),
                                        ("G1", "115.15", "22.95", "", "")],
                             placeholders="placeholders = [[-1, -1], [999, 999]]")
    (result,) = load_project(load_config(folder / "minqing.toml")).files
    assert (result.loaded, result.rejected, result.outside_grid) == (3, 0, 0)
    stored = _stored(folder)
    assert stored["P1"][0] == "none" and stored["P2"][:2] == ("grid_code", "S3") and stored["G1"][:2] == ("point", "S3")
    assert _notes(folder)[0].startswith("2 rows had placeholder coordinates 0/0, -1/-1, 999/999: treated as missing")
    edit(folder / "placed.toml", "placeholders = [[-1, -1], [999, 999]]", 'placeholders = [[-1], "0,0"]')
    refused(load_cli(folder), "placed.toml", "coordinates.placeholders", "[x, y]")


@pytest.mark.parametrize("system", ["gcj02", "bd09", "EPSG:4547"])
def test_zero_zero_is_a_placeholder_in_any_system(tmp_path: Path, system: str) -> None:
    folder = _placed_project(tmp_path, [("P1", "0", "0", "S4", "")], system=system)
    (result,) = load_project(load_config(folder / "minqing.toml")).files
    assert (result.loaded, result.outside_grid) == (1, 0)
    assert _stored(folder)["P1"][:2] == ("grid_code", "S4")


def test_a_point_that_converts_to_lon_lat_zero_zero_is_a_placeholder(tmp_path: Path) -> None:
    x, y = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32631", always_xy=True).transform(0.0, 0.0)
    folder = _placed_project(tmp_path, [("P1", f"{x:.6f}", f"{y:.6f}", "S1", "")], system="EPSG:32631")
    (result,) = load_project(load_config(folder / "minqing.toml")).files
    assert (result.loaded, result.outside_grid) == (1, 0)
    assert _stored(folder)["P1"][:2] == ("grid_code", "S1")


# --------------------------------------------------------------------------- 4. date and time in two columns

TWO_COLUMN_MAPPING = """
department = "split"
[fields]
source_id = "编号"
category = "类别"
status = "状态"
reported_at = ["日期", "时间"]
lon = "经度"
lat = "纬度"
[time]
formats = [{formats}]
[category.map]
"邻里纠纷" = "dispute_neighbour"
[status.map]
"处理中" = "in_progress"
"""


def _split_project(folder: Path, suffix: str, formats: str = '"%Y/%m/%d %H:%M"') -> Path:
    write_town_grids(folder, ["第1网格", "第2网格", "第1网格", "第2网格"], [100, 200, 300, 400])
    (folder / "split.toml").write_text(TWO_COLUMN_MAPPING.format(formats=formats), encoding="utf-8")
    write_config(folder, "split")
    edit(folder / "minqing.toml", 'path = "split.csv"', f'path = "split.{suffix}"')
    return folder


def test_date_and_time_in_two_columns_are_joined_and_parsed(tmp_path: Path) -> None:
    folder = _split_project(tmp_path, "csv")
    (folder / "split.csv").write_text(
        "编号,类别,状态,日期,时间,经度,纬度\n"
        "A1,邻里纠纷,处理中,2023/8/21,14:05,115.05,22.95\n"
        "A2,邻里纠纷,处理中,2023/8/22,9:30,115.05,22.95\n"
        "A3,邻里纠纷,处理中,2023/8/22,,115.05,22.95\n"  # no time of day: no format fits the date alone
        "A4,邻里纠纷,处理中,,,115.05,22.95\n", encoding="utf-8")
    (result,) = load_project(load_config(folder / "minqing.toml")).files
    assert (result.loaded, result.rejected) == (2, 2)
    with duckdb.connect(str(folder / "store.duckdb"), read_only=True) as con:
        times = dict(con.execute("SELECT source_id, reported_at FROM events").fetchall())
        rejects = con.execute("SELECT row_number, field, value, reason FROM rejects ORDER BY row_number").fetchall()
    assert times == {"A1": dt.datetime(2023, 8, 21, 14, 5), "A2": dt.datetime(2023, 8, 22, 9, 30)}
    assert rejects[0][:3] == (3, "日期+时间", "2023/8/22") and "joined with a space" in rejects[0][3]
    assert rejects[1][1] == "日期+时间" and rejects[1][3] == "missing report time"


def test_date_and_time_cells_of_a_workbook_in_two_columns(tmp_path: Path) -> None:
    folder = _split_project(tmp_path, "xlsx", formats='"%Y/%m/%d %H:%M", "%Y/%m/%d"')
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["编号", "类别", "状态", "日期", "时间", "经度", "纬度"])
    sheet.append(["A1", "邻里纠纷", "处理中", dt.datetime(2023, 8, 21), dt.time(14, 5), 115.05, 22.95])
    sheet.append(["A2", "邻里纠纷", "处理中", "2023/8/22", "9:30", 115.05, 22.95])
    sheet.append(["A3", "邻里纠纷", "处理中", "2023/8/23", None, 115.05, 22.95])  # date only: "%Y/%m/%d" fits
    book.save(folder / "split.xlsx")
    (result,) = load_project(load_config(folder / "minqing.toml")).files
    assert (result.loaded, result.rejected) == (3, 0)
    with duckdb.connect(str(folder / "store.duckdb"), read_only=True) as con:
        times = dict(con.execute("SELECT source_id, reported_at FROM events").fetchall())
    assert times == {"A1": dt.datetime(2023, 8, 21, 14, 5), "A2": dt.datetime(2023, 8, 22, 9, 30),
                     "A3": dt.datetime(2023, 8, 23)}


def test_a_time_from_three_columns_is_refused_when_the_mapping_is_read(tmp_path: Path) -> None:
    folder = _split_project(tmp_path, "csv")
    (folder / "split.csv").write_text("编号,类别,状态,日期,时间,秒,经度,纬度\n", encoding="utf-8")
    edit(folder / "split.toml", 'reported_at = ["日期", "时间"]', 'reported_at = ["日期", "时间", "秒"]')
    output = refused(load_cli(folder), "split.toml", "fields.reported_at", "秒", "two: the date and the time of day")
    assert not (folder / "store.duckdb").exists()
    assert "problem(s) found" in output


def test_lon_from_two_columns_is_refused(tmp_path: Path) -> None:
    raw = {"department": "x", "fields": {"source_id": "id", "category": "c", "status": "s", "reported_at": "t",
                                         "lon": ["x1", "x2"], "lat": "y"}}
    with pytest.raises(ConfigError, match="fields.lon"):
        parse_mapping(raw, path=tmp_path / "x.toml", known_categories=KNOWN)
