"""Map layers: prepared grid geometry, choropleth per level, H3 heatmap, latest-event markers, basemap setting.

Expectations are computed here independently (pandas, plain SQL, shapely, h3 called point by point) and
compared with what the layers put into the rendered HTML. Budgets are measured on the session's demo
city (56 / 868 / 4,555 grids, 60k events) as rendered bytes of `m.get_root().render()`.
"""

from __future__ import annotations

import hashlib
import html
import http.server
import itertools
import json
import re
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import duckdb
import h3
import numpy as np
import pandas as pd
import pytest
import shapely

from etl.config import load_config
from store.schema import LEVELS, connect
from fixtures import HOSTILE_NAME, FixtureStore, fixture_store  # noqa: F401  (pytest fixture)
from layers import grids_queries, markers_queries  # the map layers' named SQL
from layers.choropleth import (
    GridChoropleth,
    choropleth,
    class_breaks,
    classify,
    jenks_breaks,
    legend_labels,
    quantile_breaks,
)
from layers.geometry import (
    GRID_SIZE,
    clean_coverage,
    clear_cache,
    prepare_level,
    simplify_coverage,
    to_topology,
    topology_to_shapely,
    topology_vertices,
)
from layers.grids import event_counts, grid_frame
from layers.heatmap import MAX_CELLS, bin_points, heat_bins, heatmap, raw_heatmap_html_size
from layers.kpis import latest_reports
from layers.event_query import filter_params
from layers.event_query import EventFilter
from layers.lookups import department_names
from layers.markers import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    OVERDUE_COLOUR,
    POPUP_FIELDS,
    STATUS_COLOURS,
    EventMarkers,
    latest_events,
    markers_map,
)
from layers.offline import LEAFLET_HEAT_JS_URL, LEAFLET_JS_URL, Basemap, offline_map
from layers.stats import open_now

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "dashboard" / "static" / "vendor"
URL = re.compile(r"https?://[^\s\"'<>\\]*", re.IGNORECASE)
MB = 1_000_000
SMALL_CHOROPLETH_BUDGET = int(1.5 * MB)
HEATMAP_BUDGET = int(0.5 * MB)
MAX_AREA_CHANGE = 0.01  # no grid may gain or lose more than 1 % of its area to simplification
AS_OF = "2026-01-10 00:00"  # after the demo's last event: some open events are overdue by then
TIANDITU_KEY = "0123456789abcdef0123456789abcdef"


def html_bytes(m) -> int:
    return len(m.get_root().render().encode("utf-8"))


def js_forms(text: str) -> set[str]:
    """How `text` can appear in rendered HTML: as is, as JSON, or as HTML-safe JSON."""
    as_json = json.dumps(text, ensure_ascii=False)[1:-1]
    safe = as_json.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return {text, as_json, safe, json.dumps(text)[1:-1]}


def same(a: shapely.Geometry, b: shapely.Geometry) -> bool:
    """Equal shapes up to floating-point noise (decoding multiplies integers by the 1e-5° quantum)."""
    return shapely.normalize(a).equals_exact(shapely.normalize(b), tolerance=1e-12)


def assert_offline(out: str, *, extra_scripts: tuple[str, ...] = ()) -> None:
    assert URL.findall(out) == [], "no http(s) URL may appear: offline installs have no internet"
    scripts = re.findall(r'<script src="([^"]*)"', out)
    assert sorted(scripts) == sorted([LEAFLET_JS_URL, *extra_scripts])
    assert "tileLayer" not in out, "no tiles unless a basemap is configured"


@pytest.fixture(scope="module")
def demo(demo_db: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = connect(str(demo_db), read_only=True)
    yield con
    con.close()


@pytest.fixture
def con(fixture_store: FixtureStore) -> Iterator[duckdb.DuckDBPyConnection]:  # noqa: F811
    c = connect(str(fixture_store.path), read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def demo_events(demo: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every demo event, read plainly, for independent expectations."""
    return demo.execute("SELECT * FROM events").df()


# --- geometry: coverage simplification and the packed topology --------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_simplified_demo_grids_still_tile_and_keep_their_shape(demo, level):
    raw = grid_frame(demo, level)
    prepared = prepare_level(demo, level)
    shipped = topology_to_shapely(prepared.topology)  # exactly what the browser draws
    assert prepared.codes == tuple(raw["grid_code"]) and prepared.names == tuple(raw["name"])
    assert shapely.coverage_is_valid(shipped), "simplified grids overlap or are badly noded"
    assert not shapely.is_empty(shipped).any() and shapely.is_valid(shipped).all()
    assert max(shapely.hausdorff_distance(a, b) for a, b in zip(shipped, prepared.geometry)) < 1e-9
    raw_area, new_area = shapely.area(raw.geometry.to_numpy()), shapely.area(shipped)
    change = np.abs(new_area - raw_area) / raw_area
    assert change.max() < MAX_AREA_CHANGE
    assert prepared.report.max_area_change == pytest.approx(change.max(), abs=1e-9)
    # no gaps opened: the simplified coverage covers the raw union's area to within the same tolerance
    union_raw = shapely.union_all(raw.geometry.to_numpy()).area
    assert abs(shapely.coverage_union_all(shipped).area - union_raw) / union_raw < 0.002
    r = prepared.report
    assert r.shipped_vertices < r.simplified_vertices <= r.raw_vertices and r.coverage_valid


def test_large_and_medium_grids_lose_most_vertices(demo):
    large, medium = prepare_level(demo, "large").report, prepare_level(demo, "medium").report
    assert large.shipped_vertices < 0.2 * large.raw_vertices
    assert medium.shipped_vertices < 0.5 * medium.raw_vertices


def test_shared_edges_are_stored_once():
    a, b = shapely.box(0, 0, 2e-4, 1e-4), shapely.box(2e-4, 0, 4e-4, 1e-4)  # share the edge x = 2e-4
    topo = to_topology([a, b])
    # junctions at both ends of the shared edge: A = shared + rest, B = shared (reversed) + rest
    assert len(topo["arc_lengths"]) == 3
    (ring_a,), (ring_b,) = topo["grids"][0][0], topo["grids"][1][0]
    shared = set(ring_a) & {~i for i in ring_b}
    assert len(shared) == 1, "B must reference A's shared arc reversed"
    assert topology_vertices(topo) == 2 + 4 + 4  # 2 shared + 3 more for A and B each, plus arc end points
    back = topology_to_shapely(topo)
    assert same(back[0], a) and same(back[1], b)


def test_holes_islands_and_multipolygons_round_trip():
    outer = shapely.Polygon(shapely.box(0, 0, 1e-3, 1e-3).exterior, [shapely.box(3e-4, 3e-4, 6e-4, 6e-4).exterior])
    island = shapely.box(3e-4, 3e-4, 6e-4, 6e-4)  # fills the hole: a shared ring with no junction
    multi = shapely.MultiPolygon([shapely.box(2e-3, 0, 3e-3, 5e-4), shapely.box(4e-3, 0, 5e-3, 5e-4)])
    topo = to_topology([outer, island, multi, shapely.Polygon()])
    back = topology_to_shapely(topo)
    assert same(back[0], outer) and same(back[1], island) and same(back[2], multi) and back[3].is_empty
    assert topo["grids"][3] == []
    hole_ring, island_ring = topo["grids"][0][0][1], topo["grids"][1][0][0]
    assert len(hole_ring) == len(island_ring) == 1, "a ring shared whole is one closed arc"
    assert hole_ring[0] in (island_ring[0], ~island_ring[0]), "the hole and the island share one stored arc"
    assert shapely.coverage_is_valid(back)


def test_clean_coverage_rebuilds_overlaps_and_t_junctions():
    left = shapely.box(0, 0, 1e-3, 1e-3)
    right = shapely.box(0.9e-3, 0, 2e-3, 1e-3)  # overlaps left by 0.1e-3
    below = shapely.Polygon([(0, -1e-3), (2e-3, -1e-3), (2e-3, 0), (0, 0)])  # T-junction under left/right
    geoms = np.array([left, right, below], dtype=object)
    assert not shapely.coverage_is_valid(geoms)
    cleaned, repaired = clean_coverage(geoms)
    assert repaired and shapely.coverage_is_valid(cleaned)
    assert cleaned[0].equals(left), "an overlap goes to the grid listed first"
    assert cleaned[1].area == pytest.approx(right.area - 0.1e-3 * 1e-3, rel=1e-6)
    simplified, info = simplify_coverage(geoms)
    assert info["repaired"] and shapely.coverage_is_valid(simplified)
    snapped = shapely.get_coordinates(simplified)
    assert np.allclose(snapped, np.round(snapped / GRID_SIZE) * GRID_SIZE, atol=1e-12)


def test_prepare_level_is_cached_and_keyed_on_content(fixture_store: FixtureStore, tmp_path):  # noqa: F811
    clear_cache()
    path = tmp_path / "copy.duckdb"
    shutil.copy(fixture_store.path, path)
    with connect(str(path), read_only=True) as c:
        first = prepare_level(c, "small")
        assert prepare_level(c.cursor(), "small") is first, "a second call (another cursor) must reuse the cache"
        assert prepare_level(c, "medium") is not first
    with connect(str(path)) as c:
        c.execute("UPDATE grids SET name = ? WHERE grid_code = ?", ["改名网格", "L1M1S1"])
    with connect(str(path), read_only=True) as c:
        renamed = prepare_level(c, "small")
    assert renamed is not first and renamed.names[renamed.codes.index("L1M1S1")] == "改名网格"
    with connect(str(tmp_path / "empty.duckdb")) as c:
        with pytest.raises(ValueError, match="no grids of level 'small'"):
            prepare_level(c, "small")
        with pytest.raises(ValueError, match=r"`level` was 'huge' but is expected to be one of \['large', 'medium', 'small'\]"):
            prepare_level(c, "huge")


# --- choropleth ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_map(demo) -> tuple[GridChoropleth, str, pd.Series]:
    counts = event_counts(demo, "small").set_index("grid_code")["event_count"]
    m = choropleth(prepare_level(demo, "small"), counts, title="事件数（小网格）", basemap=Basemap.none())
    (layer,) = [c for c in m._children.values() if isinstance(c, GridChoropleth)]
    return layer, m.get_root().render(), counts


def test_small_choropleth_fits_its_budget_and_is_offline(small_map):
    _, out, _ = small_map
    assert len(out.encode("utf-8")) <= SMALL_CHOROPLETH_BUDGET
    assert_offline(out)
    assert "minqing-legend" in out and "fitBounds" in out and "事件数（小网格）" in out


@pytest.mark.parametrize(("level", "budget"), [("large", 60_000), ("medium", 300_000)])
def test_large_and_medium_choropleths_are_far_smaller(demo, level, budget):
    counts = event_counts(demo, level).set_index("grid_code")["event_count"]
    m = choropleth(prepare_level(demo, level), counts, title="t", method="jenks")
    assert html_bytes(m) <= budget
    assert_offline(m.get_root().render())


def test_small_choropleth_values_and_ranks_match_pandas(small_map, demo_events, demo):
    layer, out, _ = small_map
    codes = grid_frame(demo, "small")["grid_code"]
    expected = demo_events.groupby("grid_small").size().reindex(codes, fill_value=0)
    props = layer.properties()
    assert [p["code"] for p in props] == list(codes)
    assert [p["value"] for p in props] == [f"{v:,}" for v in expected]
    for i in [0, 17, int(np.argmax(expected.to_numpy())), int(np.argmin(expected.to_numpy())), len(codes) - 1]:
        rank = 1 + int((expected > expected.iloc[i]).sum())  # ties share the best rank
        assert props[i]["rank"] == f"{rank} / {len(codes)}"
    assert props[int(np.argmax(expected.to_numpy()))]["rank"] == f"1 / {len(codes)}"
    for alias in ("名称", "编码", "事件数", "排名"):
        assert alias in out
    name = props[5]["name"]
    assert name in out and props[5]["code"] in out


def test_fill_colours_follow_the_classes(small_map):
    layer, out, counts = small_map
    edges = quantile_breaks(counts.reindex(layer.prepared.codes).astype(float))
    for p, value in zip(layer.properties(), counts.reindex(layer.prepared.codes)):
        cls = int(np.searchsorted(edges[1:-1], value, side="left"))
        assert p["fill"] == layer.colours[cls]
    for label in legend_labels(edges, whole=True):
        assert html.escape(label) in out


def test_jenks_is_selectable_and_changes_the_legend(demo):
    counts = event_counts(demo, "medium").set_index("grid_code")["event_count"]
    prepared = prepare_level(demo, "medium")
    q = GridChoropleth(prepared, counts, method="quantile")
    j = GridChoropleth(prepared, counts, method="jenks")
    assert j.edges == jenks_breaks(counts.astype(float)) and j.edges != q.edges
    assert [lbl for _, lbl in j.legend_rows()] == legend_labels(j.edges, whole=True)
    with pytest.raises(ValueError, match=r"`method` was \"natural\" but is expected to be one of \['quantile', 'jenks'\]"):
        class_breaks(counts, method="natural")  # type: ignore[arg-type]


def _brute_force_jenks_ssd(values: np.ndarray, k: int) -> float:
    u = np.unique(values)
    best = np.inf
    for cuts in itertools.combinations(range(1, len(u)), k - 1):
        bounds = [u[0] - 1, *[u[c - 1] for c in cuts], u[-1]]
        ssd = 0.0
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            part = values[(values > lo) & (values <= hi)]
            ssd += ((part - part.mean()) ** 2).sum()
        best = min(best, ssd)
    return best


def _ssd(values: np.ndarray, edges: list[float]) -> float:
    cls = classify(pd.Series(values), edges).to_numpy()
    return sum(((values[cls == c] - values[cls == c].mean()) ** 2).sum() for c in np.unique(cls))


@pytest.mark.parametrize("seed", range(6))
def test_jenks_breaks_are_optimal(seed):
    rng = np.random.default_rng(seed)
    values = np.round(rng.gamma(2.0, 10.0, size=40)).astype(float)
    values = values[np.isin(values, np.unique(values)[:11])]  # ≤ 11 distinct values: brute force stays small
    edges = jenks_breaks(pd.Series(values), 4)
    assert edges[0] == values.min() and edges[-1] == values.max() and set(edges[1:]) <= set(values)
    assert _ssd(values, edges) == pytest.approx(_brute_force_jenks_ssd(values, 4))


def test_jenks_known_groups_and_degenerate_inputs():
    assert jenks_breaks(pd.Series([1, 2, 3, 10, 11, 12, 20, 21, 22.0]), 3) == [1, 3, 12, 22]
    assert jenks_breaks(pd.Series([4.0, 4.0]), 5) == [4, 4]
    assert jenks_breaks(pd.Series([1.0, 5.0, 5.0]), 5) == [1, 5]
    assert jenks_breaks(pd.Series([], dtype=float), 5) == []
    many = pd.Series(np.random.default_rng(3).random(5000))  # > JENKS_MAX_UNITS distinct values
    edges = jenks_breaks(many, 5)
    assert len(edges) == 6 and edges == sorted(edges) and set(edges) <= set(many)


def test_choropleth_escapes_hostile_names_at_every_level(con, fixture_store):  # noqa: F811
    for level in LEVELS:
        grids = grid_frame(con, level)
        counts = event_counts(con, level).set_index("grid_code")["event_count"]
        out = choropleth(grids, counts, title=HOSTILE_NAME, basemap=Basemap.none()).get_root().render()
        assert HOSTILE_NAME not in out and "<img" not in out
        escaped = html.escape(HOSTILE_NAME)
        hostile_grids = grids[grids["name"].str.contains("<img", regex=False)]
        assert len(hostile_grids) > 0
        for name in hostile_grids["name"]:
            assert any(f in out for f in js_forms(html.escape(name))), (level, name)
        assert any(f in out for f in js_forms(escaped))


# --- heatmap ------------------------------------------------------------------------------


def _independent_cells(events: pd.DataFrame, resolution: int = 8) -> pd.Series:
    located = events.dropna(subset=["lon", "lat"])
    cells = [h3.latlng_to_cell(la, lo, resolution) for la, lo in zip(located["lat"], located["lon"])]
    return pd.Series(cells, dtype="object").value_counts().sort_index()


def test_heat_bins_are_h3_counts_of_located_events(demo, demo_events):
    bins = heat_bins(demo, start="2025-01-01", end="2025-07-01")
    in_window = demo_events[(demo_events["reported_at"] >= "2025-01-01") & (demo_events["reported_at"] < "2025-07-01")]
    expected = _independent_cells(in_window)
    got = bins.set_index("cell")["weight"].sort_index()
    pd.testing.assert_series_equal(got, expected, check_names=False, check_index_type=False)
    assert bins.attrs["resolution"] == 8 and bins.attrs["events"] == in_window["lon"].notna().sum()
    lat, lon = h3.cell_to_latlng(bins["cell"].iloc[0])
    assert (bins["lat"].iloc[0], bins["lon"].iloc[0]) == (round(lat, 5), round(lon, 5))


def test_heat_filters_match_pandas(demo, demo_events):
    where = EventFilter(categories=("dispute_neighbour", "urban_street_order"), depts=("police110", "urban_mgmt"),
                        statuses=("closed",))  # fmt: skip
    bins = heat_bins(demo, where=where, start="2020-01-01")
    e = demo_events
    picked = e[e["category"].isin(where.categories) & e["dept"].isin(where.depts) & (e["status"] == "closed")]
    picked = picked[picked["reported_at"] >= "2020-01-01"]
    assert len(picked.dropna(subset=["lon"])) > 0
    pd.testing.assert_series_equal(
        bins.set_index("cell")["weight"].sort_index(), _independent_cells(picked), check_names=False, check_index_type=False
    )
    neighbours = heat_bins(demo, where=EventFilter(dispute_classes=("邻里",)))
    assert neighbours["weight"].sum() == e[e["dispute_class"] == "邻里"]["lon"].notna().sum() > 0


def test_heatmap_fits_its_budget_and_loads_the_vendored_plugin(demo):
    bins = heat_bins(demo)
    m = heatmap(bins)
    out = m.get_root().render()
    assert len(out.encode("utf-8")) <= HEATMAP_BUDGET
    assert_offline(out, extra_scripts=(LEAFLET_HEAT_JS_URL,))
    assert "L.heatLayer" in out and "cdn" not in out.lower()


def test_heatmap_stays_in_budget_whatever_the_number_of_events():
    rng = np.random.default_rng(11)
    n = 1_000_000  # spread over about 40,000 km²: far more res-8 cells than the cap
    bins = bin_points(113.0 + 2 * rng.random(n), 22.0 + 2 * rng.random(n), max_cells=MAX_CELLS)
    assert len(bins) <= MAX_CELLS and bins.attrs["resolution"] < 8
    assert bins["weight"].sum() == n
    assert html_bytes(heatmap(bins)) <= HEATMAP_BUDGET


def test_raw_point_comparison_helper(demo):
    sizes = raw_heatmap_html_size(demo)
    assert sizes["raw_html_bytes"] > 4 * sizes["binned_html_bytes"]
    assert sizes["events"] == demo.execute("SELECT count(*) FROM events WHERE lon IS NOT NULL").fetchone()[0]


def test_vendored_heat_plugin_is_the_recorded_file():
    js = VENDOR / "leaflet-heat" / "leaflet-heat.min.js"
    source = (VENDOR / "leaflet-heat" / "SOURCE.txt").read_text(encoding="utf-8")
    assert hashlib.sha256(js.read_bytes()).hexdigest() in source
    assert (VENDOR / "leaflet-heat" / "LICENSE").is_file() and "L.heatLayer" in js.read_text(encoding="utf-8")


def test_filter_params_bind_lists_and_name_the_fix():
    params = filter_params(EventFilter(depts=("police110",), statuses=("closed", "reported")), start="2025-01-01")
    assert params["depts"] == ["police110"] and params["statuses"] == ["closed", "reported"]
    assert params["categories"] is None and params["dispute_classes"] is None  # empty = no restriction
    assert params["start"].isoformat() == "2025-01-01T00:00:00" and params["end"] is None
    assert filter_params(None) == filter_params(EventFilter()) == filter_params()
    with pytest.raises(ValueError, match=r"one of \['reported', 'dispatched', 'in_progress', 'closed'\]"):
        filter_params(EventFilter(statuses=("open",)))
    with pytest.raises(ValueError, match="must be before `end`"):
        filter_params(start="2025-02-01", end="2025-01-01")
    with pytest.raises(ValueError, match="give a datetime"):
        filter_params(end="soon")


def test_event_queries_bind_parameters_instead_of_formatting():
    for module, name in ((markers_queries, "EVENT_POINTS"), (markers_queries, "EVENT_POINTS_RAW"),
                         (markers_queries, "LATEST_EVENTS"), (grids_queries, "GRID_LEVEL_SIGNATURE")):
        sql = getattr(module, name)
        assert "$" in sql and "{" not in sql and "%s" not in sql


# --- markers ------------------------------------------------------------------------------


def test_latest_events_are_the_newest_located_events(demo, demo_events):
    got = latest_events(demo, as_of=AS_OF)
    e = demo_events.dropna(subset=["lon", "lat"])
    e = e[e["reported_at"] <= pd.Timestamp(AS_OF)]
    expected = e.sort_values(["reported_at", "event_id"], ascending=[False, True]).head(DEFAULT_LIMIT)
    assert got["event_id"].tolist() == expected["event_id"].tolist()
    want_overdue = (expected["status"] != "closed") & (expected["due_at"] < pd.Timestamp(AS_OF))
    assert got["overdue"].tolist() == want_overdue.tolist() and want_overdue.any()
    categories = dict(demo.execute("SELECT code, name FROM categories").fetchall())
    assert got["category_name"].tolist() == [categories[c] for c in expected["category"]]
    grids = dict(demo.execute("SELECT grid_code, name FROM grids").fetchall())
    assert got["grid_small_name"].tolist() == [grids.get(c) for c in expected["grid_small"]]


def test_overdue_is_one_definition_on_markers_feed_and_figures(demo, demo_events):
    """At a past moment some events that are closed now were still open and past due: the marker ring, the feed's
    badge and overdue_now all count them (open at as_of: reported by then, not closed by then; overdue: due before)."""
    as_of = pd.Timestamp("2025-06-15 12:30")
    e = demo_events
    open_then = (e["reported_at"] <= as_of) & (e["closed_at"].isna() | (e["closed_at"] > as_of) | (e["status"] != "closed"))
    overdue_then = dict(zip(e["event_id"], open_then & (e["due_at"] < as_of)))
    markers = latest_events(demo, as_of=as_of)
    assert markers["overdue"].tolist() == [overdue_then[i] for i in markers["event_id"]]
    assert (markers["overdue"] & (markers["status"] == "closed")).any()  # closed after as_of: ringed
    feed = latest_reports(demo, as_of=as_of, limit=200)
    assert feed["overdue"].tolist() == [overdue_then[i] for i in feed["event_id"]]
    city = open_now(demo, "city", as_of=as_of).iloc[0]
    located = e["grid_large"].notna()
    assert city["open_now"] == int((open_then & located).sum())
    assert city["overdue_now"] == sum(overdue_then[i] for i in e.loc[located, "event_id"])


def test_latest_events_window_and_limit(demo, demo_events):
    got = latest_events(demo, as_of=AS_OF, end="2024-01-01", where=EventFilter(depts=("police110",)), limit=7)
    e = demo_events.dropna(subset=["lon"])
    e = e[(e["reported_at"] < pd.Timestamp("2024-01-01")) & (e["dept"] == "police110")]
    assert got["event_id"].tolist() == e.sort_values(["reported_at", "event_id"], ascending=[False, True]).head(7)["event_id"].tolist()
    with pytest.raises(ValueError, match=f"between 1 and {MAX_LIMIT}"):
        latest_events(demo, as_of=AS_OF, limit=MAX_LIMIT + 1)


def test_markers_show_status_colours_overdue_rings_and_chinese_fields(demo, demo_dir):
    events = latest_events(demo, as_of=AS_OF)
    names = department_names(demo)
    assert names["police110"] == "公安110警情"
    m = markers_map(events, dept_names=names)
    (layer,) = [c for c in m._children.values() if isinstance(c, EventMarkers)]
    out = m.get_root().render()
    assert len(layer.rows) == len(events) == DEFAULT_LIMIT
    by_id = {r[5][POPUP_FIELDS.index("编号")]: r for r in layer.rows}
    for e in events.itertuples():
        row = by_id[html.escape(e.event_id)]
        assert row[2] == STATUS_COLOURS[e.status] and row[3] == int(e.overdue)
        popup = dict(zip(POPUP_FIELDS, row[5]))
        assert popup["部门"] == html.escape(names[e.dept]) and popup["类别"] == html.escape(e.category_name)
        assert popup["上报时间"] == e.reported_at.strftime("%Y-%m-%d %H:%M")
        assert popup["办理期限"] == (e.due_at.strftime("%Y-%m-%d %H:%M") if pd.notna(e.due_at) else "—")
        assert popup["办结时间"] == (e.closed_at.strftime("%Y-%m-%d %H:%M") if pd.notna(e.closed_at) else "—")
        assert e.grid_small_name is None or html.escape(e.grid_small_name) in popup["网格"]
    assert [r[3] for r in layer.rows] == sorted(r[3] for r in layer.rows), "overdue markers are drawn last (on top)"
    assert OVERDUE_COLOUR in out and "超期" in out and "已办结" in out
    assert len(out.encode("utf-8")) < 150_000
    assert_offline(out)


def test_markers_escape_every_text(demo):
    events = latest_events(demo, as_of=AS_OF, limit=5).copy()
    for column in ("description", "address", "category_name", "grid_small_name", "event_id"):
        events[column] = HOSTILE_NAME + " `${alert(2)}`"
    events["dept"] = "x</script>"
    out = markers_map(events, dept_names={"x</script>": HOSTILE_NAME}).get_root().render()
    assert HOSTILE_NAME not in out and "<img" not in out and "x</script>" not in out
    assert any(f in out for f in js_forms(html.escape(HOSTILE_NAME)))
    assert "${alert(2)}" in out  # inert: it sits inside a JSON string, never in a template literal
    assert "`${" not in re.sub(r'"(?:[^"\\]|\\.)*"', '""', out), "no template literal may hold event text"


def test_event_markers_are_bounded(demo):
    events = latest_events(demo, as_of=AS_OF, limit=MAX_LIMIT)
    assert len(events) == MAX_LIMIT
    assert html_bytes(markers_map(events)) < 600_000
    with pytest.raises(ValueError, match=f"at most {MAX_LIMIT} markers"):
        markers_map(pd.concat([events, events.head(1)]))


# --- basemap setting ----------------------------------------------------------------------


def test_basemap_setting_parses_every_valid_form():
    assert Basemap.from_setting("none") == Basemap.none() == Basemap.from_setting("") == Basemap.from_setting(None)
    xyz = Basemap.from_setting(" xyz:http://127.0.0.1:8080/{z}/{x}/{y}.png ")
    assert xyz == Basemap.xyz("http://127.0.0.1:8080/{z}/{x}/{y}.png")
    tdt = Basemap.from_setting(f"tianditu:{TIANDITU_KEY}")
    assert tdt == Basemap.tianditu(TIANDITU_KEY) and tdt.layer == "vec"
    assert Basemap.from_setting(f"TianDiTu:{TIANDITU_KEY}:img").layer == "img"
    for b in (Basemap.none(), xyz, tdt, Basemap.tianditu(TIANDITU_KEY, "img")):
        assert Basemap.from_setting(b.setting) == b
    assert TIANDITU_KEY not in repr(tdt)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("wms:http://x/{z}/{x}/{y}", "not recognised"),
        ("osm", "not recognised"),
        ("none:x", "not recognised"),
        ("xyz:", "needs `url_template`"),
        ("xyz:http://127.0.0.1/{z}/{x}.png", "lacks {y}"),
        ("xyz:ftp://host/{z}/{x}/{y}.png", "must start with http://, https:// or /"),
        ('xyz:http://h/{z}/{x}/{y}.png"onload="x', "must start with http://, https:// or /"),
        ("tianditu:", "browser key"),
        ("tianditu:abc&x=1", "browser key"),
        (f"tianditu:{TIANDITU_KEY}:sat", "expected to be one of \\['vec', 'img'\\]"),
    ],
)
def test_basemap_setting_errors_list_the_valid_forms(text, problem):
    with pytest.raises(ValueError, match=problem) as info:
        Basemap.from_setting(text)
    message = str(info.value)
    assert "Valid forms" in message and '"none"' in message and '"xyz:' in message and '"tianditu:<key>"' in message
    assert TIANDITU_KEY not in message, "a key is not repeated in full in error messages"


def test_basemaps_render_only_their_own_urls():
    assert "tileLayer" not in offline_map(Basemap.none()).get_root().render()
    local = offline_map(Basemap.from_setting("xyz:http://127.0.0.1:8080/{z}/{x}/{y}.png")).get_root().render()
    assert URL.findall(local) == ["http://127.0.0.1:8080/{z}/{x}/{y}.png"]
    tdt = offline_map(Basemap.tianditu(TIANDITU_KEY, "img")).get_root().render()
    urls = URL.findall(tdt.replace("\\u0026", "&"))  # folium writes & in JS strings as \u0026
    assert len(urls) == 2 and all(u.startswith("https://t{s}.tianditu.gov.cn/") for u in urls)
    assert "img_w/wmts" in urls[0] and "LAYER=img" in urls[0] and "cia_w/wmts" in urls[1] and "LAYER=cia" in urls[1]
    assert all(u.endswith(f"tk={TIANDITU_KEY}") and "TILEMATRIX={z}&TILEROW={y}&TILECOL={x}" in u for u in urls)
    assert '"subdomains": "01234567"' in tdt and any(f in tdt for f in js_forms("天地图"))


def test_every_layer_defaults_to_no_tiles(demo, con):  # noqa: F811
    maps = [
        choropleth(grid_frame(con, "large"), pd.Series({"L1": 1}), title="t"),
        heatmap(heat_bins(demo, start="2025-12-01")),
        markers_map(latest_events(demo, as_of=AS_OF, limit=3)),
    ]
    for m in maps:
        out = m.get_root().render()
        assert "tileLayer" not in out and URL.findall(out) == []


def test_a_configured_basemap_is_the_only_url(demo):
    basemap = Basemap.xyz("http://10.0.0.5/tiles/{z}/{x}/{y}.png")
    m = choropleth(prepare_level(demo, "large"), pd.Series(dtype=float), title="t", basemap=basemap)
    assert URL.findall(m.get_root().render()) == ["http://10.0.0.5/tiles/{z}/{x}/{y}.png"]


# --- in a real browser: the inline decoders draw what the tests above inspected ----------------


@pytest.mark.browser
def test_layers_draw_and_stay_inert_in_chromium(demo, con, tmp_path):  # noqa: F811
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium fonts-wqy-microhei)")
    from playwright.sync_api import sync_playwright

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "static").symlink_to(ROOT / "dashboard" / "static")
    medium = grid_frame(con, "medium")
    counts = event_counts(con, "medium").set_index("grid_code")["event_count"]
    events = latest_events(demo, as_of=AS_OF, limit=20).copy()
    events.loc[events.index[0], "description"] = HOSTILE_NAME
    pages = {
        "choropleth": choropleth(medium, counts, title="事件数"),
        "heat": heatmap(heat_bins(demo)),
        "markers": markers_map(events),
    }
    for name, m in pages.items():
        (tmp_path / f"{name}.html").write_text(m.get_root().render(), encoding="utf-8")
    handler = partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urls: list[str] = []
    dialogs: list[str] = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu",
                                         "--disable-background-networking", "--disable-component-update"])  # fmt: skip
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 900})
                page.on("request", lambda r: urls.append(r.url))
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                page.goto(f"{base}/choropleth.html")
                page.wait_for_selector("path.leaflet-interactive", timeout=20_000)
                assert page.locator("path.leaflet-interactive").count() == len(medium)
                hostile = int(np.flatnonzero(medium["name"].str.contains("<img", regex=False))[0])
                page.locator("path.leaflet-interactive").nth(hostile).hover(force=True)
                tip = page.wait_for_selector(".leaflet-tooltip", timeout=10_000).inner_text()
                assert HOSTILE_NAME in tip and "排名" in tip and medium["grid_code"].iloc[hostile] in tip

                page.goto(f"{base}/heat.html")
                page.wait_for_selector("canvas.leaflet-heatmap-layer", timeout=20_000)

                page.goto(f"{base}/markers.html")
                page.wait_for_selector("path.leaflet-interactive", timeout=20_000)
                assert page.locator("path.leaflet-interactive").count() == len(events)
                described = [html.unescape(r[5][POPUP_FIELDS.index("描述")]) for r in EventMarkers(events, dept_names={}).rows]
                first = described.index(HOSTILE_NAME)
                page.locator("path.leaflet-interactive").nth(first).click(force=True)
                popup = page.wait_for_selector(".leaflet-popup-content", timeout=10_000).inner_text()
                assert HOSTILE_NAME in popup and "上报时间" in popup
                assert page.locator('img[src="x"]').count() == 0
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert dialogs == []
    assert all(u.startswith(base) for u in urls), [u for u in urls if not u.startswith(base)]
    assert any(u.endswith(LEAFLET_HEAT_JS_URL) for u in urls)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass
