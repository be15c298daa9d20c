"""Builders of hostile inputs: each writes a project (or a single file) into `root` and returns a Case.

A Case says how to run the real path on it (`run`) and which file name a UserError must mention. The
expectations live with the table in tests/etl/test_hostile_input.py.
"""

from __future__ import annotations

import codecs
import gzip
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import shapely

from etl.config import load_config
from etl.load import LoadReport, load_project

from .files import (
    geopackage_bytes, gzip_bomb, truncated, write_points_shapefile, xlsx_bytes, xlsx_declaring_a_million_rows,
    xlsx_shared_strings_bomb, xlsx_wide_header_and_last_row,
)
from .project import COLUMNS, build_project, csv_text, grid_frames, row

FORMULAS = ("=cmd|' /C calc'!A0", "+1+1", "@SUM(1)", "-2+3", "=HYPERLINK(\"http://x.invalid\",\"点我\")")
# A formula behind a C0 control character: a neutraliser that checked for formulas before removing controls would
# hand a spreadsheet the live formula (layers/cells.py removes first, then prefixes).
C0_FORMULAS = ("\x01=2+5", "\x02-2+3", "\x00+1+1", "\x1f@SUM(1)", "\x0b=HYPERLINK(\"http://x.invalid\")")
# C0 controls that Python's str.isspace() counts as whitespace (so str.strip() takes them off the front).
C0_SEPARATORS = ("\x1f@SUM(1)", "\x0b=HYPERLINK(\"http://x.invalid\")", "\x0c=1+1", "\x1c+1+1")
# Right-to-left / left-to-right overrides and isolates (U+202E RLO, U+202D LRO, U+2066-U+2069 LRI, RLI, FSI, PDI).
BIDI_TEXT = "甲\u202e乙\u202d丙\u2066丁\u2067戊\u2068己\u2069"
BIDI_ADDRESS = "\u202eexe.txt"  # shown obeyed, it reads "txt.exe"
BIDI_SMALL = ("\u202e第1网格", "第2\u2066网格\u2069")
BIDI_MEDIUM = ("东\u202d村", "西\u2067村\u2069")
BIDI_DEPT = "敌意\u202e输入"
TEN_MB = 10 * (1 << 20)
FIVE_MB = 5 * (1 << 20)
ONE_MB = 1 << 20  # characters


@dataclass
class Case:
    """A hostile input written to disk: `run` loads it through the real path; `file` must be named by any error."""

    run: Callable[[], Any]
    file: str
    config: Path | None = None
    fmt: str | None = None  # for cases read in a child process: the format to read `path` as
    path: Path | None = None


def _project(root: Path, files: dict[str, bytes], **options: Any) -> Case:
    config = build_project(root, files, **options)
    return Case(run=lambda: load(config), file=next(iter(files)), config=config)


def load(config: Path) -> LoadReport:
    return load_project(load_config(config))


def _csv(rows: list[dict[str, str]], encoding: str = "utf-8", **options: Any) -> bytes:
    return csv_text(rows, **options).encode(encoding)


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def _xlsx(rows: list[dict[str, Any]], columns: list[str] = COLUMNS) -> bytes:
    return xlsx_bytes([columns, *[[r.get(c) for c in columns] for r in rows]])


# --------------------------------------------------------------------------- encodings


def gbk_declared_utf8(root: Path) -> Case:
    rows = [row("A1", kind="邻里", note="楼上漏水")]
    return _project(root, {"gbk.csv": _csv(rows, "gbk")}, mapping={"read": {"encoding": "utf-8"}})


def utf16_with_bom(root: Path) -> Case:
    return _project(root, {"unicode.csv": _csv([row("A1")], "utf-16")})


def utf16_without_bom(root: Path) -> Case:
    """Excel's "Unicode text": UTF-16LE, tab-separated, here without its BOM."""
    return _project(root, {"unicode.tsv": _csv([row("A1")], "utf-16-le", sep="\t")})


def utf8_cut_mid_character(root: Path) -> Case:
    data = _csv([row("A1"), row("A2", note="邻里纠纷")])
    return _project(root, {"cut.csv": data[:-3]})  # the last character (纷) loses its last byte


def gbk_cut_mid_character(root: Path) -> Case:
    data = _csv([row("A1"), row("A2", note="邻里纠纷")], "gbk")
    return _project(root, {"cut.csv": data[:-2]}, mapping={"read": {"encoding": "gbk"}})  # 纷 loses its last byte


def utf8_bom_only(root: Path) -> Case:
    return _project(root, {"bom.csv": codecs.BOM_UTF8})


# --------------------------------------------------------------------------- truncated and empty files


def csv_cut_mid_row(root: Path) -> Case:
    text = csv_text([row("R1"), row("R2"), row("R3")])
    return _project(root, {"cut.csv": text[: text.index("R3,市容,") + len("R3,市容,")].encode()})


def csv_cut_inside_quoted_field(root: Path) -> Case:
    text = csv_text([row("R1"), row("R2", note="第一行\n第二行\n第三行")])
    return _project(root, {"cut.csv": text[: text.index("第二行")].encode()})


def xlsx_cut_in_half(root: Path) -> Case:
    return _project(root, {"half.xlsx": truncated(_xlsx([row(f"X{i}") for i in range(200)]))})


def gzip_truncated(root: Path) -> Case:
    data = gzip.compress(_csv([row(f"G{i}", note=f"第{i}条") for i in range(2000)]))
    return _project(root, {"cut.csv.gz": truncated(data, 0.6)})


def geopackage_truncated(root: Path) -> Case:
    data = geopackage_bytes({"id": ["P1", "P2"], "kind": ["市容"] * 2, "state": ["处理中"] * 2,
                             "reported": ["2024-03-01 10:00"] * 2}, [(115.05, 22.95)] * 2, root)
    return _project(root, {"cut.gpkg": truncated(data)}, mapping=_GEOMETRY_MAPPING)


def empty_file(root: Path) -> Case:
    return _project(root, {"empty.csv": b""})


def empty_json_lines(root: Path) -> Case:
    return _project(root, {"empty.jsonl": b""})


def json_empty_array(root: Path) -> Case:
    return _project(root, {"none.json": b"[]"})


def header_only_csv(root: Path) -> Case:
    return _project(root, {"header.csv": _csv([])})


def header_only_xlsx(root: Path) -> Case:
    return _project(root, {"header.xlsx": _xlsx([])})


def blank_first_line(root: Path) -> Case:
    return _project(root, {"blank.csv": b"\n" + _csv([row("A1")])})


def blank_first_row_xlsx(root: Path) -> Case:
    return _project(root, {"blank.xlsx": xlsx_bytes([[None] * len(COLUMNS), COLUMNS, list(row("A1").values())])})


def xlsx_not_a_workbook(root: Path) -> Case:
    return _project(root, {"renamed.xlsx": _csv([row("A1")])})


# --------------------------------------------------------------------------- headers and columns


def duplicated_headers_xlsx(root: Path) -> Case:
    return _project(root, {"twice.xlsx": xlsx_bytes([[*COLUMNS, "id"], [*row("A1").values(), "A2"]])})


def duplicated_headers_tsv(root: Path) -> Case:
    return _project(root, {"twice.tsv": _csv([row("A1")], sep="\t", columns=[*COLUMNS, "kind"])})


def blank_header_names(root: Path) -> Case:
    """Trailing delimiters in the header (",," at the end): the blank names become column_9, column_10."""
    text = csv_text([row("A1"), row("A2")]).replace("\n", ",,\n")
    return _project(root, {"trailing.csv": text.encode()})


def missing_required_column(root: Path) -> Case:
    columns = [c for c in COLUMNS if c != "reported"]
    return _project(root, {"short.xlsx": _xlsx([row("A1")], columns)})


def semicolon_file_declared_csv(root: Path) -> Case:
    return _project(root, {"semicolons.csv": _csv([row("A1")], sep=";")})


def comma_file_declared_tsv(root: Path) -> Case:
    return _project(root, {"commas.tsv": _csv([row("A1")])})


def carriage_return_line_ends(root: Path) -> Case:
    """Old Mac line ends (CR only), as Excel for Mac's "CSV (Macintosh)" writes them."""
    return _project(root, {"mac.csv": csv_text([row("A1"), row("A2")]).replace("\n", "\r").encode()})


# --------------------------------------------------------------------------- huge or strange values


def ten_mb_field(root: Path) -> Case:
    return _project(root, {"big.csv": _csv([row("A1", note="长" * (TEN_MB // 3)), row("A2")])})


def nul_bytes_in_fields(root: Path) -> Case:
    return _project(root, {"nul.csv": _csv([row("N1", note="前\x00后"), row("N2", kind="市\x00容")])})


def formula_injection(root: Path) -> Case:
    rows = [row(f"F{i}", note=text) for i, text in enumerate(FORMULAS)]
    rows.append(row("=1+2", note="@SUM(A1:A9)"))  # a formula as the source id too
    return _project(root, {"formulas.csv": _csv(rows)})


def _with_address(rows: list[dict[str, str]], addresses: list[str]) -> bytes:
    """Rows with an extra column `addr` (mapped to address by _ADDRESS_MAPPING) holding `addresses`."""
    return csv_text([r | {"addr": a} for r, a in zip(rows, addresses)], columns=[*COLUMNS, "addr"]).encode()


_ADDRESS_MAPPING: dict[str, Any] = {"fields": {"address": "addr"}}


def c0_prefixed_formulas(root: Path) -> Case:
    """The five C0-prefixed formula forms in the description and the address (the mapping's other free text)."""
    rows = [row(f"P{i}", note=text) for i, text in enumerate(C0_FORMULAS)]
    return _project(root, {"c0.csv": _with_address(rows, list(C0_FORMULAS))}, mapping=_ADDRESS_MAPPING)


def c0_separators_before_formulas(root: Path) -> Case:
    """Formulas behind the C0 controls str.strip() takes for whitespace (\\x0b, \\x0c, \\x1c-\\x1f)."""
    rows = [row(f"W{i}", note=text) for i, text in enumerate(C0_SEPARATORS)]
    return _project(root, {"separators.csv": _with_address(rows, list(C0_SEPARATORS))}, mapping=_ADDRESS_MAPPING)


def bidi_controls_in_names_and_text(root: Path) -> Case:
    """Bidi overrides and isolates in small and medium grid names, the department's name and event text."""
    medium = grid_frames()["medium"]
    medium["name"] = list(BIDI_MEDIUM)
    rows = [row("B1", note=BIDI_TEXT), row("B2", x="115.15", note=BIDI_ADDRESS)]
    config = build_project(root, {"bidi.csv": _with_address(rows, [BIDI_ADDRESS, BIDI_TEXT])},
                           grids={"small": _small(name=list(BIDI_SMALL)), "medium": medium},
                           mapping=_ADDRESS_MAPPING | {"name": BIDI_DEPT})
    return Case(run=lambda: load(config), file="bidi.csv", config=config)


def one_mb_text_in_a_feed_row(root: Path) -> Case:
    """A 1 MB (2^20 characters) description and address, small grid name and department name on one event (M1)."""
    rows = [row("M1", note="述" * ONE_MB), row("M2", x="115.15", reported="2024-03-01 09:00")]
    config = build_project(root, {"long.csv": _with_address(rows, ["址" * ONE_MB, ""])},
                           grids={"small": _small(name=["网" * ONE_MB, "第2网格"])},
                           mapping=_ADDRESS_MAPPING | {"name": "部" * ONE_MB})
    return Case(run=lambda: load(config), file="long.csv", config=config)


def dates_year_9999_and_0001(root: Path) -> Case:
    rows = [row("D1"), row("D2", reported="9999-12-31 23:59"), row("D3", reported="0001-01-01 00:00"),
            row("D4", reported="9999-12-31T23:59:59-12:00"), row("D5", reported="0001-01-01T00:00:00+14:00"),
            row("D6", state="办结", closed="9999-12-31 23:59")]
    return _project(root, {"dates.csv": _csv(rows)})


def xlsx_dates_year_9999_and_0001(root: Path) -> Case:
    import datetime as dt

    rows = [row("D1") | {"reported": dt.datetime(2024, 3, 1, 10)}, row("D2") | {"reported": dt.datetime(9999, 12, 31, 10)},
            row("D3") | {"reported": dt.datetime(1, 1, 1, 10)}]
    return _project(root, {"dates.xlsx": _xlsx(rows)})


def nan_and_infinite_coordinates(root: Path) -> Case:
    """JSON numbers NaN, Infinity and -Infinity (Python's json accepts them) and their text forms."""
    records = [row("C1") | {"x": 115.05, "y": 22.95}, row("C2") | {"x": float("nan"), "y": 22.95},
               row("C3") | {"x": float("inf"), "y": 22.95}, row("C4") | {"x": 115.05, "y": float("-inf")},
               row("C5", x="-inf"), row("C6", y="Infinity"), row("C7", x="nan", y="nan")]
    return _project(root, {"coords.json": json.dumps(records, ensure_ascii=False).encode()})


def coordinates_with_thousands_of_digits(root: Path) -> Case:
    return _project(root, {"digits.csv": _csv([row("K1"), row("K2", x="1" * 5000), row("K3", y="9" * 400 + ".5")])})


def lat_lon_swapped(root: Path) -> Case:
    records = [row("W1") | {"x": 22.95, "y": 115.05}, row("W2") | {"x": 22.95, "y": 115.15}]
    return _project(root, {"swapped.json": json.dumps(records, ensure_ascii=False).encode()})


def points_in_the_sea(root: Path) -> Case:
    rows = [row("S1"), row("S2", x="113.5", y="18.0"), row("S3", x="0", y="0")]  # South China Sea; "Null Island"
    return _project(root, {"sea.csv": _csv(rows)})


# --------------------------------------------------------------------------- quoting


def unbalanced_quote_mid_file(root: Path) -> Case:
    text = csv_text([row("Q1"), row("Q2", note="PLACEHOLDER"), row("Q3"), row("Q4")])
    return _project(root, {"quote.csv": text.replace("PLACEHOLDER", '"没有结束的引号').encode()})


def quote_inside_unquoted_field(root: Path) -> Case:
    text = csv_text([row("Q1", note="PLACEHOLDER"), row("Q2")])
    return _project(root, {"quote.csv": text.replace("PLACEHOLDER", '5号楼"A座').encode()})


# --------------------------------------------------------------------------- JSON


def json_bare_string(root: Path) -> Case:
    return _project(root, {"string.json": b'"just a string"'})


def json_bare_number(root: Path) -> Case:
    return _project(root, {"number.json": b"42"})


def json_array_with_scalars(root: Path) -> Case:
    records = [row("J1"), 5, "text", None, [1, 2]]
    return _project(root, {"mixed.json": json.dumps(records, ensure_ascii=False).encode()})


def json_nested_too_deep(root: Path) -> Case:
    return _project(root, {"deep.json": b"[" * 200_000 + b"]" * 200_000})


def json_huge_integer(root: Path) -> Case:
    return _project(root, {"huge.json": b'[{"id": ' + b"7" * 5000 + b"}]"})


def jsonl_five_mb_line(root: Path) -> Case:
    return _project(root, {"big.jsonl": _jsonl([row("L1", note="长" * FIVE_MB), row("L2")])})


def jsonl_hostile_lines(root: Path) -> Case:
    lines = [json.dumps(row("L1"), ensure_ascii=False), "[" * 100_000, '{"id": ' + "7" * 5000 + "}", "NaN", '"text"']
    return _project(root, {"lines.jsonl": ("\n".join(lines) + "\n").encode()})


def jsonl_lone_surrogates(root: Path) -> Case:
    """A lone UTF-16 surrogate escape in a value and in a key (no character: cannot be stored as text), and a proper
    high + low pair (one character, an emoji) that loads."""
    lines = [json.dumps(row("L1"), ensure_ascii=False),
             json.dumps(row("L2")).replace('"L2"', '"L2\\ud800"'),
             json.dumps(row("L3")).replace('"id"', '"id\\udc00"', 1),
             json.dumps(row("L4")).replace('"L4"', '"L4\\ud83d\\ude00"')]
    return _project(root, {"lines.jsonl": ("\n".join(lines) + "\n").encode()})


# --------------------------------------------------------------------------- geodata: events


_GEOMETRY_MAPPING: dict[str, Any] = {"fields": {"lon": None, "lat": None, "closed_at": None, "description": None},
                                     "coordinates": {"from_geometry": True}}
_ATTRIBUTES = {"id": ["P1", "P2"], "kind": ["市容", "市容"], "state": ["处理中", "处理中"],
               "reported": ["2024-03-01 10:00", "2024-03-01 11:00"]}


def _shapefile_without(root: Path, part: str) -> Case:
    config = build_project(root, {}, mapping=_GEOMETRY_MAPPING, pattern="in/*.shp")
    path = write_points_shapefile(root / "in", "points", _ATTRIBUTES, [(115.05, 22.95), (115.15, 22.95)])
    path.with_suffix(f".{part}").unlink()
    return Case(run=lambda: load(config), file="points.shp", config=config)


def shapefile_missing_dbf(root: Path) -> Case:
    return _shapefile_without(root, "dbf")


def shapefile_missing_shx(root: Path) -> Case:
    return _shapefile_without(root, "shx")


def geojson_null_geometries(root: Path) -> Case:
    features = [{"type": "Feature", "properties": {k: v[0] for k, v in _ATTRIBUTES.items()},
                 "geometry": {"type": "Point", "coordinates": [115.05, 22.95]}},
                {"type": "Feature", "properties": {k: v[1] for k, v in _ATTRIBUTES.items()}, "geometry": None}]
    data = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()
    return _project(root, {"nulls.geojson": data}, mapping=_GEOMETRY_MAPPING)


# --------------------------------------------------------------------------- geodata: grids


def _grid_case(root: Path, level: str, frame: gpd.GeoDataFrame, **options: Any) -> Case:
    config = build_project(root, {"ok.csv": _csv([row("A1")])}, grids={level: frame}, **options)
    suffix = (options.get("grid_suffix") or {}).get(level, "geojson")
    return Case(run=lambda: load(config), file=f"{level}.{suffix}", config=config)


def _small(**changes: Any) -> gpd.GeoDataFrame:
    frame = grid_frames()["small"]
    for column, values in changes.items():
        if column == "geometry":
            frame = frame.set_geometry(gpd.GeoSeries(values, crs=4326))
        else:
            frame[column] = values
    return frame


def grid_self_intersecting(root: Path) -> Case:
    bowtie = shapely.Polygon([(115.0, 22.9), (115.1, 23.0), (115.1, 22.9), (115.0, 23.0), (115.0, 22.9)])
    return _grid_case(root, "small", _small(geometry=[bowtie, shapely.box(115.1, 22.9, 115.2, 23.0)]))


def grid_empty_polygon(root: Path) -> Case:
    return _grid_case(root, "small", _small(geometry=[shapely.Polygon(), shapely.box(115.1, 22.9, 115.2, 23.0)]))


def grid_not_an_area(root: Path) -> Case:
    line = shapely.Polygon([(115.0, 22.9), (115.05, 22.95), (115.1, 23.0), (115.0, 22.9)])  # zero area
    return _grid_case(root, "small", _small(geometry=[line, shapely.box(115.1, 22.9, 115.2, 23.0)]))


def grid_duplicate_codes(root: Path) -> Case:
    return _grid_case(root, "small", _small(code=["S1", "S1"]))


def grid_blank_codes(root: Path) -> Case:
    return _grid_case(root, "small", _small(code=[None, None]))


def grid_child_outside_parent(root: Path) -> Case:
    """S1 reaches 0.01° west of its parent M1: about 0.01° x 0.1° = 1.1 km x 11.1 km * cos(23°), some 11 km²."""
    return _grid_case(root, "small", _small(geometry=[shapely.box(114.99, 22.9, 115.1, 23.0),
                                                      shapely.box(115.1, 22.9, 115.2, 23.0)]))


def grid_unknown_parent(root: Path) -> Case:
    return _grid_case(root, "small", _small(parent=["M1", "M9"]))


def grid_codes_as_floats_in_dbf(root: Path) -> Case:
    """A Shapefile whose code columns are numbers (DBF N fields): 4415021010010.0 must stay 4415021010010."""
    small = _small(code=[4415021010010.0, 4415021010011.0])
    rows = [row("A1"), row("A2", x="", y="", note="by code")]
    text = csv_text(rows, columns=[*COLUMNS, "grid"]).replace("by code,\n", "by code,4415021010011\n")
    config = build_project(root, {"codes.csv": text.encode()}, grids={"small": small}, grid_suffix={"small": "shp"},
                           mapping={"fields": {"grid_code": "grid"}})
    return Case(run=lambda: load(config), file="small.shp", config=config)


def grid_projected_declared_wgs84(root: Path) -> Case:
    """Gauss-Krüger metres (CGCS2000 / 3-degree GK CM 114E) in a file without .prj, read as longitude/latitude."""
    metres = grid_frames()["small"].to_crs("EPSG:4547").set_crs(None, allow_override=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'crs' was not provided")  # no .prj is the point
        return _grid_case(root, "small", metres, grid_suffix={"small": "shp"})


# --------------------------------------------------------------------------- mapping and config


def mapping_unknown_keys(root: Path) -> Case:
    return _project(root, {"a.csv": _csv([row("A1")])}, mapping={"read": {"encodng": "gbk"}, "feilds": {"id": "x"}})


def mapping_wrong_types(root: Path) -> Case:
    return _project(root, {"a.csv": _csv([row("A1")])}, mapping={"read": "csv", "time": {"formats": 3}})


def config_path_traversal(root: Path) -> Case:
    """A department path climbing out of the project (../) to a file that is no export (a passwd-like file)."""
    outside = root.parent / f"{root.name}-elsewhere"
    outside.mkdir()
    (outside / "passwd").write_bytes(b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
    config = build_project(root, {}, pattern=f"../{outside.name}/passwd", mapping={"read": {"format": "csv"}})
    return Case(run=lambda: load(config), file="passwd", config=config)


def mapping_path_traversal(root: Path) -> Case:
    config = build_project(root, {"a.csv": _csv([row("A1")])})
    (root.parent / f"{root.name}-shadow").write_bytes(b"\x7fELF\x02\x01\x01\x00 not toml at all")
    text = config.read_text(encoding="utf-8").replace('mapping = "dept.toml"', f'mapping = "../{root.name}-shadow"')
    config.write_text(text, encoding="utf-8")
    return Case(run=lambda: load(config), file=f"{root.name}-shadow", config=config)


def config_glob_matching_nothing(root: Path) -> Case:
    config = build_project(root, {"a.csv": _csv([row("A1")])}, pattern="in/*.xlsx")
    return Case(run=lambda: load(config), file="in/*.xlsx", config=config)


# --------------------------------------------------------------------------- bombs and hangs (read in a child process)


def _isolated(root: Path, name: str, data: bytes, fmt: str) -> Case:
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    path.write_bytes(data)
    return Case(run=lambda: None, file=name, fmt=fmt, path=path)


def xlsx_declaring_a_million_empty_rows(root: Path) -> Case:
    return _isolated(root, "huge.xlsx", xlsx_declaring_a_million_rows(COLUMNS, list(row("A1").values())), "xlsx")


def xlsx_thousand_columns_and_a_million_rows(root: Path) -> Case:
    data = xlsx_wide_header_and_last_row(COLUMNS, list(row("A1").values()), width=1000)
    return _isolated(root, "wide.xlsx", data, "xlsx")


def xlsx_header_reaching_column_xfd(root: Path) -> Case:
    data = xlsx_wide_header_and_last_row(COLUMNS, list(row("A1").values()), width=16_384)
    return _project(root, {"xfd.xlsx": data})


def xlsx_shared_strings_zip_bomb(root: Path) -> Case:
    return _isolated(root, "bomb.xlsx", xlsx_shared_strings_bomb(COLUMNS, list(row("A1").values())), "xlsx")


def gzip_zip_bomb(root: Path) -> Case:
    return _isolated(root, "bomb.csv.gz", gzip_bomb(), "csv")


def every_row_ragged(root: Path, rows: int = 200_000) -> Case:
    """An unquoted comma in every row's address: 200k rows with one field too many each."""
    line = ",".join(row("R", note="甲镇,西村").values()) + "\n"
    return _isolated(root, "ragged.csv", (",".join(COLUMNS) + "\n" + line * rows).encode(), "csv")
