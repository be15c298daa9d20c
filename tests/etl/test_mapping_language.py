"""The mapping language without workarounds: every [read] option, per-field missing texts, hash ids and duplicates,
grid names with aliases, leading zeros, grids of one to three levels with spatial or constant parents and repeated
codes, the store's time zone, and text encodings chosen by plausibility. Each through a real load."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd
import pytest
import shapely

from etl.config import load_config
from etl.encoding import plausible_encoding
from etl.load import load_project
from etl.readers import read_raw
from layers.grids import store_summary
from projects import CATEGORIES, square, write_town_grids
from store.errors import ConfigError, UserError
from store.timewindow import now_in, store_zone

BASE_FIELDS = {"source_id": '"id"', "category": '"kind"', "status": '"state"', "reported_at": '"time"',
               "closed_at": '"closed"', "lon": '"x"', "lat": '"y"'}
HEADER = ["id", "kind", "state", "time", "closed", "x", "y"]


def project(folder: Path, data: str | bytes, *, name: str = "dept.csv", read: str = "", fields: dict | None = None,
            extra: str = "", config: str = "", formats: str = '["%Y-%m-%d %H:%M"]', grids: bool = True,
            top: str = "", zone: str = "") -> Path:
    """A one-department project on the town grids (S1-S4 in M1/M2 in L1) with a mapping built from parts."""
    if grids:
        write_town_grids(folder, ["第1网格", "第2网格", "第3网格", "第4网格"], [1, 2, 3, 4])
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    merged = {**BASE_FIELDS, **(fields or {})}
    mapping = ['department = "dept"', top, read and f"[read]\n{read}", "[fields]",
               *(f"{k} = {v}" for k, v in merged.items() if v is not None),
               f"[time]\nformats = {formats}", zone and f'timezone = "{zone}"', '[category]\ndefault = "urban_environment"',
               '[status.map]\n"open" = "in_progress"\n"done" = "closed"', extra]
    (folder / "dept.toml").write_text("\n".join(m for m in mapping if m) + "\n", encoding="utf-8")
    lines = ['database = "store.duckdb"', f'categories = "{CATEGORIES.as_posix()}"', config]
    if grids and "[grids" not in config:
        for level in ("large", "medium", "small"):
            lines += [f"[grids.{level}]", f'path = "{level}.geojson"', 'code = "code"', 'name = "name"']
            if level != "large":
                lines.append('parent = "parent"')
    lines += ["[[departments]]", f'path = "{name}"', 'mapping = "dept.toml"']
    (folder / "minqing.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "minqing.toml"


def rows(*values: tuple, sep: str = ",", header: list[str] = HEADER) -> str:
    return "\n".join(sep.join(map(str, r)) for r in [header, *values]) + "\n"


def stored(config: Path, sql: str = "SELECT * FROM events ORDER BY source_id") -> pd.DataFrame:
    with duckdb.connect(str(config.parent / "store.duckdb"), read_only=True) as con:
        return con.execute(sql).df()


def load(config: Path):
    return load_project(load_config(config))


# --------------------------------------------------------------------------- [read]


def test_semicolons_decimal_commas_a_title_line_and_null_texts(tmp_path: Path) -> None:
    text = "Export 2024;;;;;;\n" + rows(("A1", "k", "open", "2024-03-01 10:00", "NULL", "115,05", "22,95"),
                                        ("A2", "k", "done", "2024-03-01 11:00", "2024-03-02 09:00", "115,15", "22,95"),
                                        sep=";")
    config = project(tmp_path, text, read='delimiter = "semicolon"\ndecimal = ","\nheader_row = 2\n'
                                          'null_values = ["NULL"]')
    report = load(config)
    assert (report.files[0].loaded, report.files[0].rejected) == (2, 0)
    events = stored(config)
    assert list(events["grid_small"]) == ["S1", "S3"] and events["lon"].tolist() == [115.05, 115.15]
    assert events["closed_at"].isna().tolist() == [True, False]


def test_a_declared_format_splits_by_its_delimiter_and_the_hint_names_read_delimiter(tmp_path: Path) -> None:
    text = rows(("A1", "k", "open", "2024-03-01 10:00", "", "115.05", "22.95"), sep=";")
    (result,) = load(project(tmp_path, text)).files
    assert result.error is not None and re.search(r"split by ';'.*set read\.delimiter = ';'", result.error)


@pytest.mark.parametrize("name, read, sep", [("dept.txt", "", "|"), ("dept.csv", 'delimiter = "auto"', "\t"),
                                             ("dept.tab", "", "\t"), ("dept.tsv", "", "\t")])
def test_sniffed_and_suffix_delimiters(tmp_path: Path, name: str, read: str, sep: str) -> None:
    text = rows(("A1", "k", "open", "2024-03-01 10:00", "", "115.05", "22.95"),
                ("A2", "k", "open", "2024-03-01 10:00", "", "115.15", "23.05"), sep=sep)
    report = load(project(tmp_path, text, name=name, read=read))
    assert report.files[0].loaded == 2
    assert any("sniffed" in n for n in report.files[0].notes) == (name == "dept.txt" or "auto" in read)


def test_quote_off_keeps_quote_characters_as_text(tmp_path: Path) -> None:
    text = rows(('"A1', 'say "hi"', "open", "2024-03-01 10:00", "", "115.05", "22.95"))
    config = project(tmp_path, text, read='quote = ""')
    load(config)
    assert stored(config)["source_id"].tolist() == ['"A1']


def test_header_row_of_a_workbook(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["月报"])
    book.active.append(HEADER)
    book.active.append(["A1", "k", "open", dt.datetime(2024, 3, 1, 10), None, 115.05, 22.95])
    book.save(tmp_path / "dept.xlsx")
    config = project(tmp_path, (tmp_path / "dept.xlsx").read_bytes(), name="dept.xlsx", read="header_row = 2")
    load(config)
    assert stored(config)["reported_at"].tolist() == [pd.Timestamp("2024-03-01 10:00")]


@pytest.mark.parametrize("read, problem", [('delimiter = "ab"', "read.delimiter"), ('decimal = ";"', "read.decimal"),
                                           ("header_row = 0", "read.header_row"), ('null_values = "NULL"',
                                                                                    "read.null_values"),
                                           ('delimiter = ","\ndecimal = ","', "read.decimal")])
def test_wrong_read_options_are_problems_of_the_mapping(tmp_path: Path, read: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_config(project(tmp_path, rows(), read=read))


# --------------------------------------------------------------------------- fields


def test_per_field_missing_texts_are_empty_in_that_field_only(tmp_path: Path) -> None:
    text = rows(("A1", "-", "open", "2024-03-01 10:00", "0000-00-00 00:00", "115.05", "22.95"))
    config = project(tmp_path, text, fields={"closed_at": '{ column = "closed", missing = ["0000-00-00 00:00"] }',
                                             "description": '{ column = "kind", missing = ["-"] }'})
    report = load(config)
    assert report.files[0].rejected == 0
    events = stored(config)
    assert events["closed_at"].isna().all() and events["description"].isna().all()


def test_duplicates_drop_counts_identical_rows_of_a_file_without_ids(tmp_path: Path) -> None:
    row = ("A1", "k", "open", "2024-03-01 10:00", "", "115.05", "22.95")
    text = rows(row, row, ("A2", "k", "open", "2024-03-01 11:00", "", "115.15", "22.95"))
    config = project(tmp_path, text, fields={"source_id": '"@row"'}, top='duplicates = "drop"')
    result = load(config).files[0]
    assert (result.rows_in, result.loaded, result.duplicate) == (3, 2, 1)
    assert any("identical to an earlier row" in n and "drop" in n for n in result.notes)


def test_hash_ids_keep_repeats_apart_and_a_changed_status_updates_the_row(tmp_path: Path) -> None:
    fields = {"source_id": '{ hash = ["time", "x", "y", "kind"] }'}
    row = ("", "k", "open", "2024-03-01 10:00", "", "115.05", "22.95")
    config = project(tmp_path, rows(row, row), fields=fields)
    first = load(config).files[0]
    assert (first.loaded, first.duplicate) == (2, 0)
    ids = stored(config)["source_id"].tolist()
    assert len(set(ids)) == 2 and ids[1] == ids[0] + "#2"
    (tmp_path / "dept.csv").write_text(rows(("", "k", "done", "2024-03-01 10:00", "2024-03-02 10:00", "115.05",
                                             "22.95"), row), encoding="utf-8")
    again = load(config).files[0]
    assert (again.loaded, again.updated, again.duplicate) == (0, 1, 1)
    assert sorted(stored(config)["status"]) == ["closed", "in_progress"]


def test_grid_names_fold_case_accents_and_spaces_and_aliases_fill_the_rest(tmp_path: Path) -> None:
    header = ["id", "kind", "state", "time", "closed", "x", "y", "place"]
    text = rows(("A1", "k", "open", "2024-03-01 10:00", "", "", "", " 东村 "),
                ("A2", "k", "open", "2024-03-01 10:00", "", "0", "0", "第３网格"),
                ("A3", "k", "open", "2024-03-01 10:00", "", "", "", "West Village"),
                ("A4", "k", "open", "2024-03-01 10:00", "", "", "", "无此地"), header=header)
    config = project(tmp_path, text, fields={"grid_name": '"place"'},
                     extra='[grid_name.aliases]\n"West Village" = "西村"')
    result = load(config).files[0]
    events = stored(config).set_index("source_id")
    assert events.loc["A1", ["grid_medium", "grid_large", "location_from"]].tolist() == ["M1", "L1", "grid_name"]
    assert events.loc["A2", ["grid_small", "grid_medium"]].tolist() == ["S3", "M2"]  # full-width digit folded
    assert events.loc["A3", "grid_medium"] == "M2"
    assert result.rejected == 1
    reason = stored(config, "SELECT reason FROM rejects")["reason"].iloc[0]
    assert "grid name matches no grid" in reason and "[grid_name.aliases]" in reason


def test_leading_zeros_dropped_on_both_sides(tmp_path: Path) -> None:
    write_town_grids(tmp_path, ["a", "b", "c", "d"], [1, 2, 3, 4])
    small = gpd.read_file(tmp_path / "small.geojson")
    small["code"] = ["0101", "0102", "0201", "0202"]
    small.to_file(tmp_path / "small.geojson", driver="GeoJSON")
    header = [*HEADER, "grid"]
    text = rows(("A1", "k", "open", "2024-03-01 10:00", "", "", "", "101"),
                ("A2", "k", "open", "2024-03-01 10:00", "", "", "", "00202"), header=header)
    config = project(tmp_path, text, fields={"grid_code": '"grid"'}, grids=False, extra='[grid_code]\n'
                     'leading_zeros = "drop"', config="\n".join(
                         f'[grids.{lvl}]\npath = "{lvl}.geojson"\ncode = "code"\nname = "name"'
                         + ('\nparent = "parent"' if lvl != "large" else "")
                         + ('\nleading_zeros = "drop"' if lvl == "small" else "")
                         for lvl in ("large", "medium", "small")))
    load(config)
    assert stored(config)["grid_small"].tolist() == ["101", "202"]
    assert sorted(stored(config, "SELECT grid_code FROM grids WHERE level = 'small'")["grid_code"]) == [
        "101", "102", "201", "202"]


# --------------------------------------------------------------------------- grids


def _two_files(folder: Path, *, repeated: bool = False) -> None:
    """districts.geojson (two districts, no parent) and blocks.geojson (four blocks, no parent column)."""
    districts = gpd.GeoDataFrame({"code": ["D1", "D2"], "name": ["北区", "南区"]},
                                 geometry=[square(115.0, 22.9, 0.1).union(square(115.1, 22.9, 0.1)),
                                           square(115.0, 23.0, 0.1).union(square(115.1, 23.0, 0.1))], crs=4326)
    blocks = gpd.GeoDataFrame({"code": ["B1", "B2", "B3", "B4"], "name": ["一", "二", "三", "四"]},
                              geometry=[square(115.0, 22.9, 0.1), square(115.1, 22.9, 0.1), square(115.0, 23.0, 0.1),
                                        square(115.1, 23.0, 0.1)], crs=4326)
    if repeated:  # block B4 delivered as two rows (two halves)
        halves = gpd.GeoDataFrame({"code": ["B4", "B4"], "name": ["四", "四"]},
                                  geometry=[shapely.box(115.1, 23.0, 115.15, 23.1), shapely.box(115.15, 23.0, 115.2, 23.1)],
                                  crs=4326)
        blocks = pd.concat([blocks.iloc[:3], halves], ignore_index=True)
    districts.to_file(folder / "districts.geojson", driver="GeoJSON")
    blocks.to_file(folder / "blocks.geojson", driver="GeoJSON")


def _grid_config(small_extra: str, medium: bool = True, area: str = "") -> str:
    parts = [area]
    if medium:
        parts.append('[grids.medium]\npath = "districts.geojson"\ncode = "code"\nname = "name"')
    parts.append(f'[grids.small]\npath = "blocks.geojson"\ncode = "code"\nname = "name"\n{small_extra}')
    return "\n".join(p for p in parts if p)


def _grids(config: Path) -> pd.DataFrame:
    return stored(config, "SELECT grid_code, name, level, parent_code FROM grids ORDER BY level, grid_code")


def test_spatial_parents_and_a_whole_area_top(tmp_path: Path) -> None:
    _two_files(tmp_path)
    config = project(tmp_path, rows(("A1", "k", "open", "2024-03-01 10:00", "", "115.15", "23.05")), grids=False,
                     config=_grid_config('parent = "spatial"', area='[grids]\narea = { code = "CITY", name = "某市" }'))
    report = load(config)
    grids = _grids(config).set_index("grid_code")
    assert grids.loc[["B1", "B2", "B3", "B4"], "parent_code"].tolist() == ["D1", "D1", "D2", "D2"]
    assert grids.loc["CITY", ["name", "level"]].tolist() == ["某市", "large"]
    assert any("parent = spatial" in n and "median 100.0%" in n for n in report.grids.notes)
    assert stored(config)[["grid_small", "grid_medium", "grid_large"]].values.tolist() == [["B4", "D2", "CITY"]]


def test_a_constant_parent_names_the_dissolved_level(tmp_path: Path) -> None:
    _two_files(tmp_path)
    config = project(tmp_path, rows(), grids=False,
                     config=_grid_config('parent = { code = "C1", name = "全市" }', medium=False))
    load(config)
    grids = _grids(config).set_index("grid_code")
    assert grids.loc["C1", ["name", "level"]].tolist() == ["全市", "medium"]
    assert (grids.loc[["B1", "B2", "B3", "B4"], "parent_code"] == "C1").all()
    assert grids.loc["C1", "parent_code"] == "ALL" and grids.loc["ALL", "level"] == "large"


def test_one_level_alone_gets_whole_area_levels_above(tmp_path: Path) -> None:
    _two_files(tmp_path)
    config = project(tmp_path, rows(), grids=False, config=_grid_config("", medium=False))
    load(config)
    levels = _grids(config).groupby("level")["grid_code"].apply(sorted).to_dict()
    assert levels == {"large": ["ALL"], "medium": ["ALL-medium"], "small": ["B1", "B2", "B3", "B4"]}


def test_repeated_codes_are_refused_unless_declared_parts_of_one_grid(tmp_path: Path) -> None:
    _two_files(tmp_path, repeated=True)
    refused = project(tmp_path, rows(), grids=False, config=_grid_config('parent = "spatial"'))
    with pytest.raises(UserError, match=r'grid codes repeat \(B4\).*repeated = "union"'):
        load(refused)
    config = project(tmp_path, rows(), grids=False, config=_grid_config('parent = "spatial"\nrepeated = "union"'))
    report = load(config)
    grids = _grids(config).set_index("grid_code")
    assert grids.loc["B4", "parent_code"] == "D2" and len(grids.loc[grids["level"] == "small"]) == 4
    assert any("B4 (2 rows)" in n for n in report.grids.notes)


@pytest.mark.parametrize("small_extra, problem", [('parent = 3', "grids.small.parent"),
                                                  ('repeated = "merge"', "grids.small.repeated"),
                                                  ('leading_zeros = "strip"', "grids.small.leading_zeros")])
def test_wrong_grid_keys_are_listed(tmp_path: Path, small_extra: str, problem: str) -> None:
    _two_files(tmp_path)
    with pytest.raises(ConfigError, match=problem):
        load_config(project(tmp_path, rows(), grids=False, config=_grid_config(small_extra)))


# --------------------------------------------------------------------------- the store's time zone


def test_times_are_converted_to_the_store_zone_and_deadlines_count_elapsed_hours(tmp_path: Path) -> None:
    text = rows(("A1", "k", "open", "2024-03-09T16:00:00Z", "", "115.05", "22.95"),  # 10:00 in Chicago, CST
                ("A2", "k", "open", "2024-03-09 10:00", "", "115.05", "22.95"))
    config = project(tmp_path, text, formats='["iso"]', extra="[due]\ndefault = { hours = 48 }",
                     config='timezone = "America/Chicago"', zone="America/Chicago")
    load(config)
    events = stored(config).set_index("source_id")
    assert events.loc["A1", "reported_at"] == pd.Timestamp("2024-03-09 10:00")
    # 48 h after 10:00 on the day before clocks spring forward is 11:00 local two days later
    assert events["due_at"].tolist() == [pd.Timestamp("2024-03-11 11:00")] * 2
    with duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True) as con:
        assert store_zone(con) == "America/Chicago"


def test_a_mapping_in_another_zone_is_converted_to_the_store_zone(tmp_path: Path) -> None:
    text = rows(("A1", "k", "open", "2024-07-01 08:00", "", "115.05", "22.95"))
    config = project(tmp_path, text, zone="Europe/London", config='timezone = "Asia/Shanghai"')
    load(config)
    assert stored(config)["reported_at"].tolist() == [pd.Timestamp("2024-07-01 15:00")]  # BST+7h


def test_without_a_store_zone_the_mappings_common_zone_is_the_store_s(tmp_path: Path) -> None:
    config = project(tmp_path, rows(("A1", "k", "open", "2024-07-01 08:00", "", "115.05", "22.95")),
                     zone="Europe/London")
    assert load_config(config).timezone == "Europe/London"
    load(config)
    assert stored(config)["reported_at"].tolist() == [pd.Timestamp("2024-07-01 08:00")]


def test_a_loaded_store_keeps_its_zone(tmp_path: Path) -> None:
    config = project(tmp_path, rows(("A1", "k", "open", "2024-03-01 10:00", "", "115.05", "22.95")))
    load(config)
    config.write_text(config.read_text(encoding="utf-8").replace('database = "store.duckdb"',
                                                                 'database = "store.duckdb"\ntimezone = "UTC"'))
    with pytest.raises(UserError, match=r"holds times in 'Asia/Shanghai'"):
        load(config)


def test_an_unknown_store_zone_is_a_problem(tmp_path: Path) -> None:
    config = project(tmp_path, rows(), config='timezone = "Mars/Olympus"')
    with pytest.raises(ConfigError, match="timezone"):
        load_config(config)


def test_now_is_the_wall_clock_in_the_store_zone() -> None:
    utc = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    for zone, hours in (("Asia/Shanghai", 8), ("Etc/GMT+5", -5)):
        assert abs((now_in(zone) - utc) - dt.timedelta(hours=hours)) < dt.timedelta(minutes=1)



# --------------------------------------------------------------------------- the place's name


def test_the_city_name_is_recorded_in_the_store(tmp_path: Path) -> None:
    config = project(tmp_path, rows(("A1", "k", "open", "2024-03-01 10:00", "", "115.05", "22.95")),
                     config='city = "São Paulo ‹Zona Sul›"')
    load(config)
    with duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True) as con:
        assert store_summary(con).city == "São Paulo ‹Zona Sul›"


def test_a_store_without_a_city_name_has_none(tmp_path: Path) -> None:
    config = project(tmp_path, rows(("A1", "k", "open", "2024-03-01 10:00", "", "115.05", "22.95")))
    load(config)
    with duckdb.connect(str(tmp_path / "store.duckdb"), read_only=True) as con:
        assert store_summary(con).city is None


@pytest.mark.parametrize("value", ['""', '"   "', "3", '"a\nb"', f'"{"长" * 41}"'])
def test_a_bad_city_name_is_a_problem(tmp_path: Path, value: str) -> None:
    config = project(tmp_path, rows(), config=f"city = {value}")
    with pytest.raises(ConfigError, match="city"):
        load_config(config)

# --------------------------------------------------------------------------- encodings


def test_plausibility_picks_the_script_the_bytes_spell() -> None:
    assert plausible_encoding(["Araçariguama".encode("utf-8")])[0] == "utf-8"
    assert plausible_encoding(["Araçariguama, São Roque, Embu-Guaçu".encode("cp1252")])[0] == "cp1252"
    assert plausible_encoding(["邻里纠纷 东村 第1网格 已办结".encode("gbk")])[0] == "gb18030"


def test_a_cp1252_csv_reads_its_accents(tmp_path: Path) -> None:
    text = rows(("A1", "Perturbação", "open", "2024-03-01 10:00", "", "115.05", "22.95"))
    path = tmp_path / "latin.csv"
    path.write_bytes(text.encode("cp1252"))
    table = read_raw(path, fmt="csv")
    assert table.encoding == "cp1252" and table.frame["kind"].tolist() == ["Perturbação"]


def test_a_shapefile_s_cpg_and_code_page_byte_are_honoured(tmp_path: Path) -> None:
    from etl.readers import read_geo_frame

    frame = gpd.GeoDataFrame({"nome": ["São Roque"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
    frame.to_file(tmp_path / "declared.shp", encoding="cp1252", engine="pyogrio")
    assert (tmp_path / "declared.cpg").exists()
    read, note = read_geo_frame(tmp_path / "declared.shp")
    assert read["nome"].tolist() == ["São Roque"] and note is None
    (tmp_path / "declared.cpg").unlink()
    dbf = tmp_path / "declared.dbf"
    data = bytearray(dbf.read_bytes())
    data[29] = 0x57  # language driver: ANSI (Windows code page 1252)
    dbf.write_bytes(bytes(data))
    read, note = read_geo_frame(tmp_path / "declared.shp")
    assert read["nome"].tolist() == ["São Roque"] and note is None
