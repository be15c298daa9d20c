"""Tests of the demo city's three-level grid generator and its delivery files."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas
import numpy as np
import pandas
import pyproj
import pytest
import shapely

from minqing.demo.city import City, build_city, write_grid_files

EQUAL_AREA = "EPSG:6933"  # WGS 84 / NSIDC EASE-Grid 2.0 Global (equal-area)
GEOD = pyproj.Geod(ellps="WGS84")
COUNTIES = {"441502", "441521", "441523", "441581"}
LEVELS = ("large", "medium", "small")


@pytest.fixture(scope="module")
def city() -> City:
    return build_city(7)


@pytest.fixture(scope="module")
def grid_files(city: City, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_grid_files(city, tmp_path_factory.mktemp("grids"))


def _geodesic_km2(geom: shapely.Geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / 1e6


def _ea_area(geoms: np.ndarray) -> np.ndarray:
    """Areas in m² in an equal-area projection."""
    return geopandas.GeoSeries(geoms, crs="EPSG:4326").to_crs(EQUAL_AREA).area.to_numpy()


def _parents(child: geopandas.GeoDataFrame, parent: geopandas.GeoDataFrame) -> np.ndarray:
    lookup = pandas.Series(np.arange(len(parent)), index=parent["grid_code"])
    idx = lookup.reindex(child["parent_code"]).to_numpy()
    assert not np.isnan(idx).any(), "a parent code does not exist one level up"
    return parent.geometry.to_numpy()[idx.astype(int)]


def _snapshot(c: City) -> list[object]:
    out: list[object] = [shapely.to_wkb(c.outline), c.centres.to_csv()]
    for level in LEVELS:
        g = getattr(c, level)
        out.append(list(shapely.to_wkb(g.geometry.to_numpy())))
        out.append(g.drop(columns="geometry").to_csv())
    return out


def test_exact_counts(city: City) -> None:
    assert (len(city.large), len(city.medium), len(city.small)) == (56, 868, 4555)


def test_columns_and_crs(city: City) -> None:
    for level in LEVELS:
        g = getattr(city, level)
        assert list(g.columns) == ["grid_code", "name", "parent_code", "population", "geometry"]
        assert g.crs == "EPSG:4326"
        assert g["population"].dtype.kind == "i"
    assert list(city.centres.columns) == ["name", "lon", "lat", "weight"]
    assert 8 <= len(city.centres) <= 12
    assert shapely.contains_xy(city.outline, city.centres["lon"], city.centres["lat"]).all()
    core = city.centres.iloc[int(np.argmax(city.centres["weight"]))]
    assert abs(core["lon"] - 115.37) < 0.05 and abs(core["lat"] - 22.79) < 0.05


def test_codes(city: City) -> None:
    for level in LEVELS:
        codes = getattr(city, level)["grid_code"]
        assert codes.is_unique
        assert codes.map(lambda c: isinstance(c, str) and len(c) == 15 and c.isdigit()).all()
    large, medium, small = city.large, city.medium, city.small
    assert large["parent_code"].isna().all()
    assert large["grid_code"].str[:6].isin(COUNTIES).all()
    assert set(large["grid_code"].str[:6]) == COUNTIES
    assert (large["grid_code"].str[9:] == "000000").all()
    assert (large["grid_code"].str[6:9] != "000").all()
    assert medium["parent_code"].isin(set(large["grid_code"])).all()
    assert (medium["grid_code"].str[:9] == medium["parent_code"].str[:9]).all()
    assert (medium["grid_code"].str[9:12] != "000").all() and (medium["grid_code"].str[12:] == "000").all()
    assert small["parent_code"].isin(set(medium["grid_code"])).all()
    assert (small["grid_code"].str[:12] == small["parent_code"].str[:12]).all()
    assert (small["grid_code"].str[12:] != "000").all()
    # Small serials run 001..N within each medium.
    serial = small["grid_code"].str[12:].astype(int)
    for _, s in serial.groupby(small["parent_code"]):
        assert sorted(s) == list(range(1, len(s) + 1))
    # The city core (城区) holds the core centre.
    core = city.centres.iloc[int(np.argmax(city.centres["weight"]))]
    hit = large[large.contains(shapely.Point(core["lon"], core["lat"]))]
    assert len(hit) == 1 and hit["grid_code"].iloc[0].startswith("441502")


def test_single_valid_polygons_and_clean_coverage(city: City) -> None:
    for level in LEVELS:
        g = getattr(city, level)
        assert (g.geom_type == "Polygon").all(), level
        assert g.is_valid.all(), level
        assert bool(shapely.coverage_is_valid(g.geometry.to_numpy())), level
        assert shapely.equals(shapely.set_precision(g.geometry.to_numpy(), 1e-7), g.geometry.to_numpy()).all()
    assert city.outline.geom_type == "Polygon" and city.outline.is_valid


@pytest.mark.parametrize("child_level,parent_level", [("small", "medium"), ("medium", "large")])
def test_children_within_parent(city: City, child_level: str, parent_level: str) -> None:
    child, parent = getattr(city, child_level), getattr(city, parent_level)
    outside = _ea_area(shapely.difference(child.geometry.to_numpy(), _parents(child, parent)))
    assert outside.max() < 1.0


@pytest.mark.parametrize("child_level,parent_level", [("small", "medium"), ("medium", "large")])
def test_children_tile_parent(city: City, child_level: str, parent_level: str) -> None:
    child, parent = getattr(city, child_level), getattr(city, parent_level)
    unions = child.groupby("parent_code").geometry.apply(lambda s: shapely.union_all(s.to_numpy()))
    parents = parent.set_index("grid_code").geometry
    assert set(unions.index) == set(parents.index)
    pgeom = parents.loc[unions.index].to_numpy()
    ugeom = unions.to_numpy()
    p_area = _ea_area(pgeom)
    assert np.all(np.abs(_ea_area(ugeom) - p_area) <= 1e-4 * p_area)
    assert np.all(_ea_area(shapely.symmetric_difference(ugeom, pgeom)) <= 1e-4 * p_area)


def test_larges_tile_outline(city: City) -> None:
    union = shapely.union_all(city.large.geometry.to_numpy())
    sym = _ea_area(np.array([shapely.symmetric_difference(union, city.outline)], dtype=object))[0]
    assert sym <= 1e-4 * _ea_area(np.array([city.outline], dtype=object))[0]


def test_small_areas_sum_to_outline(city: City) -> None:
    total = sum(_geodesic_km2(g) for g in city.small.geometry)
    outline = _geodesic_km2(city.outline)
    assert abs(total - outline) <= 1e-4 * outline


def test_small_grids_do_not_overlap(city: City) -> None:
    geoms = city.small.geometry.to_numpy()
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    assert len(left) > 2 * len(geoms)  # neighbours touch: the check is not vacuous
    overlap = _ea_area(shapely.intersection(geoms[left], geoms[right]))
    assert overlap.max() < 1.0
    assert overlap.sum() < 100.0


def test_outline_place_size_and_shape(city: City) -> None:
    area = _geodesic_km2(city.outline)
    assert 4800.0 <= area <= 5200.0
    x0, y0, x1, y1 = city.outline.bounds
    assert 115.0 <= x0 < x1 <= 116.1 and 22.6 <= y0 < y1 <= 23.3
    assert city.outline.area / ((x1 - x0) * (y1 - y0)) < 0.85
    c = city.outline.centroid
    assert abs(c.x - 115.55) < 0.15 and abs(c.y - 22.95) < 0.15


def test_names(city: City) -> None:
    large, medium, small = city.large, city.medium, city.small
    assert large["name"].str.fullmatch(r"[\u4e00-\u9fff]{2}(镇|街道)").all()
    assert large["name"].is_unique
    assert large["name"].str.endswith("街道").any() and large["name"].str.endswith("镇").any()
    assert medium["name"].str.fullmatch(r"[\u4e00-\u9fff]{2}(村|社区)").all()
    assert not medium.duplicated(["parent_code", "name"]).any()
    assert medium["name"].str.endswith("社区").any() and medium["name"].str.endswith("村").any()
    numbers = small["name"].str.extract(r"^第(\d+)网格$")[0]
    assert numbers.notna().all()
    assert (numbers.astype(int) == small["grid_code"].str[12:].astype(int)).all()
    # 街道 sit nearer the core than 镇 on average.
    core = city.centres.iloc[int(np.argmax(city.centres["weight"]))]
    rep = large.geometry.representative_point()
    dist = np.hypot(rep.x - core["lon"], rep.y - core["lat"])
    street = large["name"].str.endswith("街道").to_numpy()
    assert dist[street].median() < dist[~street].median()


def test_population(city: City) -> None:
    small, medium, large = city.small, city.medium, city.large
    assert (small["population"] > 0).all()
    assert 2_500_000 <= small["population"].sum() <= 3_500_000
    m_sum = small.groupby("parent_code")["population"].sum()
    assert (medium.set_index("grid_code")["population"] == m_sum.reindex(medium["grid_code"])).all()
    l_sum = medium.groupby("parent_code")["population"].sum()
    assert (large.set_index("grid_code")["population"] == l_sum.reindex(large["grid_code"])).all()
    # Denser near the centres: the core beats the typical small, and the countryside by far.
    core = city.centres.iloc[int(np.argmax(city.centres["weight"]))]
    rep = small.geometry.representative_point()
    density = small["population"].to_numpy() / _ea_area(small.geometry.to_numpy())
    to_centre = np.min([np.hypot(rep.x - c.lon, rep.y - c.lat) for c in city.centres.itertuples()], axis=0)
    near = np.hypot(rep.x - core["lon"], rep.y - core["lat"]).to_numpy() < 0.02
    remote = to_centre > 0.1
    assert near.sum() > 10 and remote.sum() > 10
    assert np.median(density[near]) > 3 * np.median(density)
    assert np.median(density[near]) > 10 * np.median(density[remote])


def test_deterministic(city: City) -> None:
    assert _snapshot(build_city(7)) == _snapshot(city)
    other = build_city(8)
    assert shapely.to_wkb(other.outline) != shapely.to_wkb(city.outline)
    assert list(shapely.to_wkb(other.small.geometry.to_numpy())) != list(shapely.to_wkb(city.small.geometry.to_numpy()))
    assert (len(other.large), len(other.medium), len(other.small)) == (56, 868, 4555)


def test_geojson_files(city: City, grid_files: dict[str, Path]) -> None:
    assert set(grid_files) == {"large", "medium", "small"}
    for level in ("large", "medium"):
        path = grid_files[level]
        assert path.name == f"{level}_grids.geojson"
        text = path.read_text(encoding="utf-8")
        assert "网格编码" in text
        got = geopandas.read_file(path, engine="pyogrio")
        assert got.crs == "EPSG:4326"
        assert list(got.columns) == ["网格编码", "网格名称", "上级编码", "人口数", "geometry"]
        want = getattr(city, level)
        assert got["网格编码"].tolist() == want["grid_code"].tolist()
        assert got["网格名称"].tolist() == want["name"].tolist()
        assert got["上级编码"].tolist() == want["parent_code"].tolist()
        assert got["人口数"].astype(int).tolist() == want["population"].tolist()
        assert shapely.equals(got.geometry.to_numpy(), want.geometry.to_numpy()).all()


def test_shapefile_is_gbk_without_cpg(city: City, grid_files: dict[str, Path]) -> None:
    shp = grid_files["small"]
    assert shp.name == "small_grids.shp"
    for ext in (".shp", ".shx", ".dbf", ".prj"):
        assert shp.with_suffix(ext).exists()
    assert not shp.with_suffix(".cpg").exists() and not shp.with_suffix(".CPG").exists()
    dbf = shp.with_suffix(".dbf").read_bytes()
    assert dbf[29] == 0
    assert "网格名称".encode("gbk") in dbf[:400] and "第1网格".encode("gbk") in dbf

    garbled = geopandas.read_file(shp, engine="pyogrio")
    assert "网格名称" not in garbled.columns
    assert "Ãû³Æ" in "".join(map(str, garbled.columns))
    assert not garbled.iloc[:, 0].astype(str).str.contains("网格").any()

    got = geopandas.read_file(shp, engine="pyogrio", encoding="gbk")
    assert list(got.columns) == ["网格名称", "网格编码", "上级编码", "人口数", "geometry"]
    want = city.small
    assert got["网格编码"].tolist() == want["grid_code"].tolist()
    assert got["网格名称"].tolist() == want["name"].tolist()
    assert got["上级编码"].tolist() == want["parent_code"].tolist()
    assert got["人口数"].astype(int).tolist() == want["population"].tolist()
    assert got.crs is not None and got.crs.equals("EPSG:4326")
    assert shapely.equals(got.geometry.to_numpy(), want.geometry.to_numpy()).all()


def test_rewrite_overwrites(city: City, grid_files: dict[str, Path]) -> None:
    again = write_grid_files(city, grid_files["small"].parent)
    assert again == grid_files
    assert len(geopandas.read_file(again["small"], engine="pyogrio", encoding="gbk")) == len(city.small)
    assert not re.search(r"\.cpg$", " ".join(p.name for p in again["small"].parent.iterdir()), re.I)
