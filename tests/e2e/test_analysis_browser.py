"""The 分析研判 page in headless Chromium: the hotspot and emerging-hotspot maps draw offline with their legends inside
the map and clear of its controls, and a warning's grid link opens 网格详情 on that grid.

Screenshots: tests/artifacts/analysis.png (the whole page), analysis_emerging.png, analysis_grid_detail.png.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from layers.hotspots import HOT_CLASSES, hotspots
from layers.stats import data_clock
from layers.warnings import all_warnings
from test_browser import (  # noqa: F401  (browser, chromium, demo_site: pytest fixtures)
    ARTIFACTS, MAP_IFRAME, Served, assert_clean, assert_local_only, browser, chromium, demo_site, open_page,
    screenshot, settle,
)

pytestmark = pytest.mark.browser

MEDIUM_GRIDS = 868
HOT_WEEKS = 13  # the page's default window (近13周)
ROW_PX, HEADER_PX = 35, 35  # st.dataframe's row and header heights

# The map's controls and legend as rectangles (in the map's iframe): they must lie inside the map and not overlap.
CONTROLS_JS = """
() => {
  const boxes = {};
  for (const [name, sel] of [["legend", ".minqing-legend"], ["zoom", ".leaflet-control-zoom"],
                             ["scale", ".leaflet-control-scale"], ["attribution", ".leaflet-control-attribution"]]) {
    const el = document.querySelector(sel);
    if (el) { const r = el.getBoundingClientRect(); boxes[name] = [r.left, r.top, r.right, r.bottom]; }
  }
  const map = document.querySelector(".leaflet-container").getBoundingClientRect();
  return {boxes, map: [map.left, map.top, map.right, map.bottom]};
}
"""

CITY_EXTENT_JS = """
() => {
  const boxes = [...document.querySelectorAll("path.leaflet-interactive")].map(p => p.getBoundingClientRect());
  const map = document.querySelector(".leaflet-container").getBoundingClientRect();
  const width = Math.max(...boxes.map(b => b.right)) - Math.min(...boxes.map(b => b.left));
  const height = Math.max(...boxes.map(b => b.bottom)) - Math.min(...boxes.map(b => b.top));
  return [[width, height], [map.width, map.height]];
}
"""


@pytest.fixture(scope="module")
def expected(demo_db: Path) -> dict:
    """What the page shows at its "now" (the data clock plus a minute), computed by the layers directly."""
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        as_of = data_clock(con) + dt.timedelta(minutes=1)
        hot = hotspots(con, "medium", start=as_of - dt.timedelta(weeks=HOT_WEEKS), end=as_of)
        first = all_warnings(con, "small", as_of=as_of).iloc[0]
        name = con.execute("SELECT name FROM grids WHERE grid_code = ?", [first["grid_code"]]).fetchone()[0]
    finally:
        con.close()
    return {"hot_classes": [c for c in HOT_CLASSES if (hot["gi_class"] == c).any()],
            "first_grid": first["grid_code"], "first_name": name}


def visible_map(page, min_paths: int):
    """The visible map's frame once it has drawn at least `min_paths` grids (a hidden tab's map does not count)."""
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{MAP_IFRAME}')].some(f => f.offsetParent !== null && f.contentDocument"
        f" && f.contentDocument.querySelectorAll('path.leaflet-interactive').length >= {min_paths})", timeout=60_000)
    for i in range(page.locator(MAP_IFRAME).count()):
        element = page.locator(MAP_IFRAME).nth(i)
        if element.is_visible():
            return element, element.element_handle().content_frame()
    raise AssertionError("no visible map")


def assert_city_fills_the_map(frame) -> None:
    """The grids come to span most of the map's height or width once it has fitted them (not a dot: a map laid out
    while hidden opens zoomed out to the whole world)."""
    try:
        frame.wait_for_function(f"() => {{ const [city, view] = ({CITY_EXTENT_JS})();"
                                " return city[0] >= 0.5 * view[0] || city[1] >= 0.5 * view[1]; }", timeout=30_000)
    except Exception:  # noqa: BLE001  (say what the map shows instead of a bare timeout)
        city, view = frame.evaluate(CITY_EXTENT_JS)
        pytest.fail(f"the city spans {city} px of a {view} px map")


def assert_legend_inside_and_clear(frame) -> str:
    """The legend lies inside the map and overlaps none of its controls; returns the legend's text. Waits first for
    the legend to come inside (the controls stack below the map until Leaflet's style sheet has loaded)."""
    inside = (f"() => {{ const f = ({CONTROLS_JS})(); const l = f.boxes.legend; return !!l && l[0] >= f.map[0]"
              " && l[1] >= f.map[1] && l[2] <= f.map[2] && l[3] <= f.map[3]; }")
    try:
        frame.wait_for_function(inside, timeout=30_000)
    except Exception:  # noqa: BLE001  (the assertions below say where everything is)
        pass
    found = frame.evaluate(CONTROLS_JS)
    boxes, (left, top, right, bottom) = found["boxes"], found["map"]
    assert "legend" in boxes, "the map has no legend"
    for name, (x0, y0, x1, y1) in boxes.items():
        assert left <= x0 and x1 <= right and top <= y0 and y1 <= bottom, f"{name} sticks out of the map: {boxes}"
    names = sorted(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes[a], boxes[b]
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, f"{a} overlaps {b}: {boxes}"
    return frame.locator(".minqing-legend").inner_text()


def test_hotspot_maps_draw_offline_with_their_legends(browser, demo_site: Served, expected: dict) -> None:
    page = open_page(browser, demo_site, "/analysis", "分析研判")
    try:
        settle(page)
        _element, frame = visible_map(page, MEDIUM_GRIDS)
        assert frame.locator("path.leaflet-interactive").count() == MEDIUM_GRIDS
        assert_city_fills_the_map(frame)
        legend = assert_legend_inside_and_clear(frame)
        assert legend.splitlines()[0].strip() == "热点分析"
        assert [line.strip() for line in legend.splitlines()[1:] if line.strip()] == expected["hot_classes"]
        assert "热点 99%" in expected["hot_classes"]  # the planted rising cluster
        assert_clean(page, "分析研判")
        screenshot(page, "analysis")

        page.locator('[data-testid="stButtonGroup"] button', has_text="时空热点").first.click()
        page.wait_for_function(  # the map's iframe is replaced while Streamlit redraws it: null-safe
            f"() => [...document.querySelectorAll('{MAP_IFRAME}')].some(f => f.contentDocument"
            " && f.contentDocument.body && f.contentDocument.body.innerText.includes('时空热点'))", timeout=60_000)
        element, frame = visible_map(page, MEDIUM_GRIDS)
        legend = assert_legend_inside_and_clear(frame)
        assert legend.splitlines()[0].strip() == "时空热点" and "加剧热点" in legend and "新增热点" in legend
        assert_city_fills_the_map(frame)
        ARTIFACTS.mkdir(exist_ok=True)
        element.screenshot(path=str(ARTIFACTS / "analysis_emerging.png"))
    finally:
        page.close()
    assert_local_only(demo_site.urls)
    assert any(u.endswith("/app/static/vendor/leaflet/leaflet.js") for u in demo_site.urls)


def test_a_warning_link_opens_its_grid(browser, demo_site: Served, expected: dict) -> None:
    """Click the first warning's grid code (the table is drawn on a canvas: the click lands on the first row's link);
    网格详情 opens in a new tab on that grid, with its warnings."""
    page = open_page(browser, demo_site, "/analysis", "分析研判")
    try:
        settle(page)
        table = page.locator('[data-testid="stDataFrame"]').first
        table.scroll_into_view_if_needed()
        box = table.bounding_box()
        x, y = box["x"] + 40, box["y"] + HEADER_PX + ROW_PX / 2
        page.mouse.move(x - 10, y)
        page.mouse.move(x, y)  # the link reacts to the pointer over its text
        with page.context.expect_page(timeout=30_000) as opened:
            page.mouse.click(x, y)
        detail = opened.value
        try:
            detail.wait_for_load_state("domcontentloaded")
            assert detail.url.endswith(f"/grid_detail?grid={expected['first_grid']}"), detail.url
            detail.get_by_role("heading", name=expected["first_name"]).first.wait_for(timeout=60_000)
            detail.get_by_role("heading", name="本网格预警").wait_for(timeout=60_000)
            settle(detail)
            assert_clean(detail, "网格详情")
            assert expected["first_grid"] in detail.inner_text("body")
            ARTIFACTS.mkdir(exist_ok=True)
            detail.screenshot(path=str(ARTIFACTS / "analysis_grid_detail.png"))
        finally:
            detail.close()
    finally:
        page.close()
    assert_local_only(demo_site.urls)
