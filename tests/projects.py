"""Small hand-made test projects: the minqing.toml of three GeoJSON grid levels and its sources, a one-town grid
set of squares, and the street office's events mapping."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

CATEGORIES = Path(__file__).resolve().parents[1] / "data" / "categories.toml"
# 街道办: a CSV department with Chinese headers and times like 2023/8/21 14:05, WGS84.
STREET_MAPPING = """
department = "street"
name = "街道办"
[fields]
source_id = "编号"
category = "类别"
status = "状态"
reported_at = "上报时间"
closed_at = "办结时间"
lon = "经度"
lat = "纬度"
[time]
formats = ["%Y/%m/%d %H:%M"]
[coordinates]
system = "wgs84"
[category.map]
"邻里纠纷" = "dispute_neighbour"
"占道经营" = "urban_street_order"
[status.map]
"已办结" = "closed"
"处理中" = "in_progress"
[due]
default = { working_days = 3 }
"""


def write_config(folder: Path, dept: str, *, population: bool = True) -> Path:
    """minqing.toml for large/medium/small.geojson (code, name, parent[, pop]) and <dept>.csv read by <dept>.toml."""
    return write_project_config(folder, [(f"{dept}.csv", f"{dept}.toml")], population=population)


def write_project_config(folder: Path, sources: list[tuple[str, str]], *, population: bool = True) -> Path:
    """minqing.toml for large/medium/small.geojson (code, name, parent[, pop]) and (path or glob, mapping) sources."""
    lines = ['database = "store.duckdb"', f'categories = "{CATEGORIES.as_posix()}"']
    for level in ("large", "medium", "small"):
        lines += [f"[grids.{level}]", f'path = "{level}.geojson"', 'code = "code"', 'name = "name"']
        if level != "large":
            lines.append('parent = "parent"')
        if level == "small" and population:
            lines.append('population = "pop"')
    for path, mapping in sources:
        lines += ["[[departments]]", f'path = "{path}"', f'mapping = "{mapping}"']
    config = folder / "minqing.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def square(x0: float, y0: float, size: float) -> shapely.Polygon:
    """An axis-aligned square in degrees."""
    return shapely.box(x0, y0, x0 + size, y0 + size)


def write_town_grids(folder: Path, small_names: list[str], populations: list[int]) -> None:
    """One town L1 (甲镇, 115.0-115.2°E, 22.9-23.1°N) of two villages M1 东村 / M2 西村, each of two 0.1° small grids
    S1-S4 (S1 south-west, S2 north of it, S3 and S4 east of them), as large/medium/small.geojson."""
    large = gpd.GeoDataFrame({"code": ["L1"], "name": ["甲镇"]}, geometry=[square(115.0, 22.9, 0.2)], crs=4326)
    medium = gpd.GeoDataFrame({"code": ["M1", "M2"], "name": ["东村", "西村"], "parent": ["L1", "L1"]},
                              geometry=[square(115.0, 22.9, 0.1).union(square(115.0, 23.0, 0.1)),
                                        square(115.1, 22.9, 0.1).union(square(115.1, 23.0, 0.1))], crs=4326)
    small = gpd.GeoDataFrame({"code": ["S1", "S2", "S3", "S4"], "name": small_names,
                              "parent": ["M1", "M1", "M2", "M2"], "pop": populations},
                             geometry=[square(115.0, 22.9, 0.1), square(115.0, 23.0, 0.1),
                                       square(115.1, 22.9, 0.1), square(115.1, 23.0, 0.1)], crs=4326)
    for name, frame in (("large", large), ("medium", medium), ("small", small)):
        frame.to_file(folder / f"{name}.geojson", driver="GeoJSON")


# 街道办's export: good rows (one linked to another, one with lon/lat swapped, one outside every grid)
HEADER = "编号,类别,状态,上报时间,办结时间,经度,纬度,来源编号\n"
GOOD = [
    "A1,邻里纠纷,已办结,2023/8/21 14:05,2023/8/22 9:00,115.05,22.95,",
    "A2,占道经营,处理中,2023/8/21 15:00,,115.15,22.95,",
    "A3,邻里纠纷,已办结,2023/8/23 10:00,2023/8/24 10:00,115.15,22.95,A1",
    "A4,占道经营,已办结,2023/8/21 15:00,2023/8/21 18:00,22.95,115.05,",  # lat/lon swapped
    "A5,占道经营,处理中,2023/8/21 15:00,,116.90,22.95,",  # outside every grid: kept, flagged
]
LINKED_STREET_MAPPING = STREET_MAPPING + """
[link]
id_field = "来源编号"
dept = "street"
"""


def write_street_project(tmp_path: Path, bad: list[str]) -> Path:
    """The street office's CSV (GBK): the GOOD rows, `bad` rows and one repeat of GOOD[1]."""
    write_town_grids(tmp_path, ["第1网格", "第2网格", "第1网格", "第2网格"], [100, 200, 300, 400])
    (tmp_path / "street.toml").write_text(LINKED_STREET_MAPPING, encoding="utf-8")
    (tmp_path / "street.csv").write_text(HEADER + "\n".join(GOOD + list(bad) + [GOOD[1]]) + "\n", encoding="gbk")
    write_config(tmp_path, "street")
    return tmp_path
