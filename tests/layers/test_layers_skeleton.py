"""Walking-skeleton layers: queries and counts against pandas, and the offline, escaped choropleth HTML."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import folium
import geopandas as gpd
import pandas as pd
import pytest
import shapely

from store.schema import LEVELS, connect
from fixtures import HOSTILE_NAME, FixtureStore, fixture_store  # noqa: F401  (pytest fixture)
from layers import grids_queries as queries
from layers.choropleth import PALETTE, GridChoropleth, choropleth, classify, legend_labels, quantile_breaks
from layers.geometry import topology_to_shapely
from layers.grids import event_counts, grid_frame, store_summary
from layers.offline import LEAFLET_JS_URL, VENDORED_FILES, Basemap, offline_map

ROOT = Path(__file__).resolve().parents[2]
URL = re.compile(r"https?://", re.IGNORECASE)


@pytest.fixture
def con(fixture_store: FixtureStore) -> Iterator[duckdb.DuckDBPyConnection]:  # noqa: F811
    c = connect(str(fixture_store.path), read_only=True)
    yield c
    c.close()


def expected_counts(store: FixtureStore, level: str, start=None, end=None) -> pd.Series:
    """Independent pandas count per grid of `level`, zeros included."""
    ev = store.events
    if start is not None:
        ev = ev[ev["reported_at"] >= start]
    if end is not None:
        ev = ev[ev["reported_at"] < end]
    codes = store.grids.loc[store.grids["level"] == level, "grid_code"].sort_values()
    counted = ev.groupby(f"grid_{level}").size()
    return counted.reindex(codes, fill_value=0).astype("int64")


def js_forms(text: str) -> set[str]:
    """How `text` can appear in rendered HTML: as is, as JSON, or as folium's HTML-safe JSON."""
    as_json = json.dumps(text)[1:-1]
    safe = as_json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")
    return {text, as_json, safe}


# --- queries and frames -------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_grids_of_level_query_returns_the_fixture_grids(con, fixture_store, level):  # noqa: F811
    rows = con.execute(queries.GRIDS_OF_LEVEL, {"level": level}).fetchall()
    expected = fixture_store.grids[fixture_store.grids["level"] == level].sort_values("grid_code")
    assert [r[0] for r in rows] == expected["grid_code"].tolist()
    assert all(shapely.from_wkb(bytes(r[5])).equals(g) for r, g in zip(rows, expected["geometry"]))


@pytest.mark.parametrize("level", LEVELS)
def test_grid_frame_has_the_columns_crs_and_geometry(con, fixture_store, level):  # noqa: F811
    gdf = grid_frame(con, level)
    expected = fixture_store.grids[fixture_store.grids["level"] == level].sort_values("grid_code")
    assert list(gdf.columns) == ["grid_code", "name", "parent_code", "population", "area_km2", "geometry"]
    assert gdf.crs.to_epsg() == 4326
    assert gdf["grid_code"].tolist() == expected["grid_code"].tolist()
    assert gdf["name"].tolist() == expected["name"].tolist()
    assert gdf["population"].tolist() == expected["population"].tolist()
    assert gdf.geometry.geom_equals(gpd.GeoSeries(expected["geometry"].to_numpy(), crs=4326)).all()


@pytest.mark.parametrize("level", LEVELS)
def test_event_counts_equal_pandas_including_zeros(con, fixture_store, level):  # noqa: F811
    got = event_counts(con, level).set_index("grid_code")["event_count"]
    want = expected_counts(fixture_store, level)
    pd.testing.assert_series_equal(got, want, check_names=False, check_index_type=False)
    assert (got == 0).any(), "the fixture keeps the L3 grids empty"
    assert got.sum() == fixture_store.event_total - int(fixture_store.events["outside_grid"].sum())


def test_event_counts_window_is_start_inclusive_end_exclusive(con, fixture_store):  # noqa: F811
    times = fixture_store.events["reported_at"].sort_values()
    start, end = times.iloc[40].to_pydatetime(), times.iloc[160].to_pydatetime()
    got = event_counts(con, "small", start=start, end=end).set_index("grid_code")["event_count"]
    want = expected_counts(fixture_store, "small", start, end)
    pd.testing.assert_series_equal(got, want, check_names=False, check_index_type=False)
    in_grids = fixture_store.events["grid_small"].notna()
    assert got.sum() == ((times >= start) & (times < end) & in_grids.loc[times.index]).sum()


def test_event_counts_accepts_strings_and_open_ends(con, fixture_store):  # noqa: F811
    got = event_counts(con, "large", start="2024-07-01").set_index("grid_code")["event_count"]
    want = expected_counts(fixture_store, "large", start=dt.datetime(2024, 7, 1))
    pd.testing.assert_series_equal(got, want, check_names=False, check_index_type=False)


def test_event_counts_errors_name_the_allowed_values(con):
    with pytest.raises(ValueError, match=r"`level` was 'huge' but is expected to be one of \['large', 'medium', 'small'\]"):
        event_counts(con, "huge")
    with pytest.raises(ValueError, match="must be before `end`"):
        event_counts(con, "large", start="2024-02-01", end="2024-01-01")
    with pytest.raises(ValueError, match="give a datetime"):
        event_counts(con, "large", start="not a date")


def test_queries_bind_parameters_instead_of_formatting():
    for name in ("GRIDS_OF_LEVEL", "EVENT_COUNTS_BY_GRID"):
        sql = getattr(queries, name)
        assert "$level" in sql and "{" not in sql and "%s" not in sql


def test_store_summary(con, fixture_store, tmp_path):  # noqa: F811
    s = store_summary(con)
    assert s.is_store and s.event_total == fixture_store.event_total
    assert s.grids_by_level == {lv: fixture_store.grid_count(lv) for lv in LEVELS}
    assert s.last_load == dt.datetime(2024, 12, 31, 8, 5)
    bare = duckdb.connect(str(tmp_path / "not_a_store.duckdb"))
    assert store_summary(bare).is_store is False


# --- choropleth ---------------------------------------------------------------------------


@pytest.fixture
def large_map(con) -> tuple[folium.Map, str, pd.Series]:
    grids = grid_frame(con, "large")
    counts = event_counts(con, "large").set_index("grid_code")["event_count"]
    m = choropleth(grids, counts, title="事件数（大网格）", basemap=Basemap())
    return m, m.get_root().render(), counts


def test_choropleth_escapes_every_grid_name(large_map, fixture_store):  # noqa: F811
    _, out, _ = large_map
    assert HOSTILE_NAME not in out
    assert "<img" not in out and "\\u003cimg" not in out
    for name in fixture_store.grids.loc[fixture_store.grids["level"] == "large", "name"]:
        assert any(form in out for form in js_forms(html.escape(name))), name


def test_choropleth_tooltip_properties_are_escaped_text(large_map, fixture_store):  # noqa: F811
    m, out, counts = large_map
    (layer,) = [c for c in m._children.values() if isinstance(c, GridChoropleth)]
    props = {p["code"]: p for p in layer.properties()}
    assert props["L2"]["name"] == html.escape(HOSTILE_NAME)
    assert props["L3"]["value"] == "0"
    top = counts.idxmax()
    assert props[top]["rank"] == f"1 / {len(counts)}"
    assert all(alias in out for alias in ["名称", "编码", "事件数", "排名"])


def test_choropleth_uses_only_the_vendored_leaflet(large_map):
    _, out, _ = large_map
    assert f'<script src="{LEAFLET_JS_URL}"></script>' in out
    assert "/app/static/vendor/leaflet/leaflet.css" in out
    assert URL.findall(out) == [], "no http(s) URL may appear: offline installs have no internet"
    assets = re.findall(r'(?:src|href)="([^"]*)"', out)
    assert sorted(assets) == sorted([LEAFLET_JS_URL, "/app/static/vendor/leaflet/leaflet.css"])


def test_choropleth_legend_and_fit(large_map):
    m, out, counts = large_map
    assert "事件数（大网格）" in out
    for label in legend_labels(quantile_breaks(counts.astype(float)), whole=True):  # counts: "0 – 44", "45 – 87"
        assert html.escape(label) in out
    assert "minqing-legend" in out and "fitBounds" in out


def test_choropleth_rounds_coordinates(con):
    grids = grid_frame(con, "small")
    grids["geometry"] = grids.geometry.translate(1.23456789e-7, 0)
    m = choropleth(grids, pd.Series(1, index=grids["grid_code"]), title="t", basemap=Basemap())
    (layer,) = [c for c in m._children.values() if isinstance(c, GridChoropleth)]
    topo = layer.prepared.topology
    assert topo["quantum"] == 1e-5 and all(isinstance(v, int) for v in topo["arcs"])  # integer steps of 1e-5°
    xs = shapely.get_coordinates(topology_to_shapely(topo))[:, 0]
    assert all(abs(x - round(x, 5)) < 1e-9 for x in xs)


def test_choropleth_hostile_title_and_wrong_index_are_handled(con):
    grids = grid_frame(con, "large")
    m = choropleth(grids, pd.Series([1, 2, 3], index=grids["grid_code"]), title="</script><b>x", basemap=Basemap())
    out = m.get_root().render()
    assert "</script><b>" not in out and any(form in out for form in js_forms("&lt;b&gt;x"))
    with pytest.raises(ValueError, match="index `values` by grid_code"):
        choropleth(grids, pd.Series([1, 2, 3]), title="t", basemap=Basemap())


def test_choropleth_without_values_shows_no_data(con):
    grids = grid_frame(con, "large")
    out = choropleth(grids, pd.Series(dtype="float64"), title="t", basemap=Basemap()).get_root().render()
    assert "无数据" in out and "#d1d5db" in out


def test_class_breaks_and_colours():
    v = pd.Series([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], dtype=float)
    edges = quantile_breaks(v)
    assert edges == [0, 2, 4, 6, 8, 10]
    assert classify(v, edges).tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert legend_labels(edges)[0] == "0 – 2"
    same = pd.Series([3.0, 3.0, 3.0])
    assert legend_labels(quantile_breaks(same)) == ["3"]
    assert classify(same, quantile_breaks(same)).tolist() == [0, 0, 0]
    assert len(PALETTE) == 5


# --- offline assets and basemap -----------------------------------------------------------


def test_vendored_leaflet_files_are_present_and_small():
    vendor = ROOT / "dashboard" / "static" / "vendor" / "leaflet"
    for name in VENDORED_FILES:
        assert (vendor / name).is_file(), f"missing {name}: run `npm pack leaflet@1.9.4` and copy dist/ (see SOURCE.txt)"
    assert sum((vendor / n).stat().st_size for n in VENDORED_FILES) < 250_000
    assert 't.version="1.9.4"' in (vendor / "leaflet.js").read_text(encoding="utf-8")


def test_basemap_setting():
    assert "tileLayer" not in offline_map(Basemap()).get_root().render()
    m = offline_map(Basemap(kind="xyz", url_template="/tiles/{z}/{x}/{y}.png", attribution="<本地底图>"))
    out = m.get_root().render()
    assert "/tiles/{z}/{x}/{y}.png" in out and "<本地底图>" not in out
    with pytest.raises(ValueError, match="needs `url_template`"):
        Basemap(kind="xyz")
    with pytest.raises(ValueError, match=r"expected to be one of \['none', 'xyz', 'tianditu'\]"):
        Basemap(kind="wms")  # type: ignore[arg-type]
