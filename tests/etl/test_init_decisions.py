"""init's coordinate decisions in China: GCJ-02 and WGS84 place about as many points inside the grids, so a recorded
grid code settles it (and without one WGS84 is kept and a person asked); Gauss-Krüger metres found by trial."""

from __future__ import annotations


import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely

from etl.coords import wgs84_to_gcj02
from etl.init.project import init_project

WEST, SOUTH, STEP, N = 115.20, 22.80, 0.02, 4  # 16 squares of about 2 km near Shanwei


@pytest.fixture(scope="module")
def drafted(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("china")
    codes = [f"G{r}{c}" for r in range(N) for c in range(N)]
    squares = [shapely.box(WEST + c * STEP, SOUTH + r * STEP, WEST + (c + 1) * STEP, SOUTH + (r + 1) * STEP)
               for r in range(N) for c in range(N)]
    grids = gpd.GeoDataFrame({"网格编码": codes, "网格名称": [f"第{i + 1}网格" for i in range(len(codes))]},
                             geometry=squares, crs=4326)
    grids.to_file(folder / "网格.geojson", driver="GeoJSON")
    rng = np.random.default_rng(11)
    margin = 0.008  # about 800 m inside the outer edge: the 500 m GCJ-02 shift keeps every point inside some grid
    lon = rng.uniform(WEST + margin, WEST + N * STEP - margin, 600)
    lat = rng.uniform(SOUTH + margin, SOUTH + N * STEP - margin, 600)
    truth = gpd.sjoin(gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326), grids, predicate="within")
    true_code = truth["网格编码"].reindex(range(600)).to_numpy()
    glon, glat = wgs84_to_gcj02(lon, lat)
    base = {"编号": [f"E{i}" for i in range(600)], "上报时间": "2024-05-01 10:00", "事件类型": "占道经营",
            "处理状态": "已办结", "办结时间": "2024-05-02 10:00"}
    pd.DataFrame({**base, "经度": glon.round(6), "纬度": glat.round(6), "所属网格": true_code}).to_csv(
        folder / "城管_有网格.csv", index=False, encoding="gbk")
    pd.DataFrame({**base, "经度": glon.round(6), "纬度": glat.round(6)}).to_csv(folder / "城管_无网格.csv", index=False)
    x, y = pyproj.Transformer.from_crs(4326, 4547, always_xy=True).transform(lon, lat)
    pd.DataFrame({**base, "X坐标": np.round(x, 2), "Y坐标": np.round(y, 2)}).to_csv(folder / "自然资源.csv", index=False)
    events = [folder / n for n in ("城管_有网格.csv", "城管_无网格.csv", "自然资源.csv")]
    return init_project(folder / "project", [folder / "网格.geojson"], events)


def test_a_recorded_grid_code_settles_gcj02_against_wgs84(drafted) -> None:
    figures = drafted.figures["城管_有网格.csv"]
    assert figures["system"] == "gcj02"
    assert abs(figures["shares"]["gcj02"] - figures["shares"]["wgs84"]) <= 0.02  # a tie by shares alone
    assert figures["agreement"] == 1.0
    assert drafted.choice("城管_有网格.csv", "encoding") == "gb18030"
    assert "agreeing best with the recorded grid" in drafted.choice_why("城管_有网格.csv", "coordinates")


def test_without_a_grid_column_wgs84_is_kept_and_a_person_asked(drafted) -> None:
    assert drafted.figures["城管_无网格.csv"]["system"] == "wgs84"
    assert any("城管_无网格.csv" in item and "confirm [coordinates] system" in item for item in drafted.needs_person)


def test_gauss_kruger_metres_are_found_by_trial(drafted) -> None:
    figures = drafted.figures["自然资源.csv"]
    assert figures["system"] == "EPSG:4547" and figures["inside"] == 1.0
    assert max(v for s, v in figures["shares"].items() if s != "EPSG:4547") < 0.5
