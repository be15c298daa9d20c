"""A small project in a temporary folder: grids L1 > M1, M2 > S1, S2 near 115.1E 22.95N, one department.

The department file(s) go under `in/`; the mapping reads the columns in COLUMNS. Every builder returns
the path of minqing.toml, so a test runs the real path: `load_project(load_config(path))`.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path
from typing import Any

import duckdb
import geopandas as gpd
import numpy as np
import shapely

from etl.assign import GridIndex

REPO = Path(__file__).resolve().parents[2]
CATEGORIES = REPO / "data" / "categories.toml"
DEPT = "hostile"
COLUMNS = ["id", "kind", "state", "reported", "closed", "x", "y", "note"]
INSIDE = ("115.05", "22.95")  # a point in S1
MAPPING: dict[str, Any] = {
    "department": DEPT,
    "name": "敌意输入",
    "fields": {"source_id": "id", "category": "kind", "status": "state", "reported_at": "reported",
               "closed_at": "closed", "lon": "x", "lat": "y", "description": "note"},
    "time": {"formats": ["%Y-%m-%d %H:%M", "iso"]},
    "category": {"map": {"邻里": "dispute_neighbour", "市容": "urban_environment"}},
    "status": {"map": {"办结": "closed", "处理中": "in_progress"}},
}


def row(source_id: str, **values: str) -> dict[str, str]:
    """A good row (an open 市容 case at a point in S1) with some values replaced."""
    base = {"id": source_id, "kind": "市容", "state": "处理中", "reported": "2024-03-01 10:00", "closed": "",
            "x": INSIDE[0], "y": INSIDE[1], "note": ""}
    unknown = set(values) - set(base)
    assert not unknown, unknown
    return base | values


def csv_text(rows: list[dict[str, str]], *, sep: str = ",", columns: list[str] = COLUMNS) -> str:
    """Rows as delimited text with a header, quoted where needed (newline is \\n)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=sep, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[r.get(c, "") for c in columns] for r in rows])
    return out.getvalue()


def grid_frames() -> dict[str, gpd.GeoDataFrame]:
    """The three levels as GeoDataFrames (columns code, name, parent) in EPSG:4326."""
    west, east = shapely.box(115.0, 22.9, 115.1, 23.0), shapely.box(115.1, 22.9, 115.2, 23.0)
    return {
        "large": gpd.GeoDataFrame({"code": ["L1"], "name": ["甲镇"]}, geometry=[shapely.box(115.0, 22.9, 115.2, 23.0)],
                                  crs=4326),
        "medium": gpd.GeoDataFrame({"code": ["M1", "M2"], "name": ["东村", "西村"], "parent": ["L1", "L1"]},
                                   geometry=[west, east], crs=4326),
        "small": gpd.GeoDataFrame({"code": ["S1", "S2"], "name": ["第1网格", "第2网格"], "parent": ["M1", "M2"]},
                                  geometry=[west, east], crs=4326),
    }


def grid_index() -> GridIndex:
    """The grids of grid_frames() as the loader's in-memory index (for read_raw + normalise without a store)."""
    frames = grid_frames()
    small = frames["small"]
    polygons = np.asarray(small.geometry.values, dtype=object)
    shapely.prepare(polygons)
    parent = {c: p for level in ("small", "medium") for c, p in zip(frames[level]["code"], frames[level]["parent"])}
    level_of = {c: level for level, frame in frames.items() for c in frame["code"]}
    villages = {"甲镇": list(zip(frames["medium"]["name"], frames["medium"]["code"]))}
    return GridIndex(small_codes=small["code"].to_numpy(dtype=object), small_polygons=polygons, parent=parent,
                     level=level_of, villages_by_town=villages)


def toml_text(value: dict[str, Any], prefix: str = "") -> str:
    """A nested dict as TOML (strings, numbers, booleans, lists and tables; enough for mappings and configs)."""
    plain = {k: v for k, v in value.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in value.items() if isinstance(v, dict)}
    lines = [f"{json.dumps(k, ensure_ascii=False)} = {_toml_value(v)}" for k, v in plain.items()]
    for key, table in tables.items():
        name = f"{prefix}{json.dumps(key, ensure_ascii=False)}"
        lines.append(f"\n[{name}]")
        lines.append(toml_text(table, prefix=f"{name}."))
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in, table by table (None deletes a key)."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def build_project(root: Path, files: dict[str, bytes], *, mapping: dict[str, Any] | None = None,
                  grids: dict[str, gpd.GeoDataFrame] | None = None, grid_suffix: dict[str, str] | None = None,
                  pattern: str = "in/*", config: dict[str, Any] | None = None) -> Path:
    """Write the grids, `files` under in/, the mapping (MAPPING merged with `mapping`) and minqing.toml."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "in").mkdir(exist_ok=True)
    for name, data in files.items():
        (root / "in" / name).write_bytes(data)
    frames = grid_frames() | (grids or {})
    levels: dict[str, Any] = {}
    for level, frame in frames.items():
        suffix = (grid_suffix or {}).get(level, "geojson")
        target = root / f"{level}.{suffix}"
        if suffix == "shp":
            frame.to_file(target, engine="pyogrio", encoding="utf-8")
        else:
            frame.to_file(target, driver="GeoJSON" if suffix == "geojson" else "GPKG", engine="pyogrio")
        levels[level] = {"path": target.name, "code": "code", "name": "name"} | (
            {"parent": "parent"} if "parent" in frame.columns else {})
    (root / "dept.toml").write_text(toml_text(merged(MAPPING, mapping or {})), encoding="utf-8")
    settings = merged({"database": "store.duckdb", "categories": CATEGORIES.as_posix(), "grids": levels}, config or {})
    text = toml_text(settings) + f'\n[[departments]]\npath = "{pattern}"\nmapping = "dept.toml"\n'
    (root / "minqing.toml").write_text(text, encoding="utf-8")
    return root / "minqing.toml"


def stored(config: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Loaded events by source id, and rejected rows' reasons by source id ('#<row>' for rows that could not be parsed)."""
    with duckdb.connect(str(config.parent / "store.duckdb"), read_only=True) as con:
        events = con.execute("SELECT * FROM events").df()
        rejects = con.execute("SELECT CASE WHEN field = 'row' THEN '#' || row_number ELSE json_extract_string(raw, '$.id') "
                              "END, reason FROM rejects").fetchall()
    by_id = {r["source_id"]: r for r in events.to_dict("records")}
    return by_id, dict(rejects)
