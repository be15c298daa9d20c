"""The served dashboard in headless Chromium: every page renders Chinese without errors, the maps draw polygons, the
live refresh leaves the map alone, and no page asks anything of a host other than localhost.

Screenshots go to tests/artifacts/<page>.png (look at them after a change to the screens).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pytest

from dashboard.serve import command, environment
from minqing.demo.build import DEMO_CITY
from store.schema import connect
from fixtures import HOSTILE_NAME, FixtureStore, fixture_store  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
NETWORK_SCHEMES = {"http", "https", "ws", "wss"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
START_TIMEOUT_S = 60
REFRESH_SECONDS = 5  # the live page's refresh, short so the test sees a few
MAP_IFRAME = 'iframe[title*="streamlit_folium"]'
# Two CJK characters drawn in the page's font: equal pictures (or the picture of a private-use character, which no
# font has) mean the browser shows empty boxes because no CJK font is installed.
CJK_GLYPHS_JS = """
(el) => {
  const font = getComputedStyle(el).fontFamily;
  const draw = (ch) => {
    const c = document.createElement("canvas"); c.width = 48; c.height = 48;
    const g = c.getContext("2d"); g.font = "36px " + font; g.fillText(ch, 4, 40);
    return c.toDataURL();
  };
  const a = draw("指"), b = draw("挥"), none = draw("\\uE000");
  return a !== b && a !== none && b !== none;
}
"""


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    artifact: str
    has_map: bool | None  # None: a map is checked only when the page draws one (page still being built)


PAGES = (
    Page("/", "指挥中心", "command_center", True),
    Page("/grid_detail", "网格详情", "grid_detail", None),
    Page("/trends", "趋势与导出", "trends", None),
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"streamlit did not answer within {START_TIMEOUT_S}s:\n{log.read_text(errors='replace')[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Served:
    base: str
    log: Path
    urls: list[str]


@contextmanager
def serve(db: Path, log: Path) -> Iterator[str]:
    """The dashboard on `db` with the data clock and a short refresh; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = {"MINQING_CLOCK": "data", "MINQING_REFRESH_SECONDS": str(REFRESH_SECONDS)}
    with log.open("wb") as out:
        proc = subprocess.Popen(command(db, port), env=environment(db, settings), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(base, proc, log)
        yield base
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium fonts-wqy-microhei)")
    return path


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def demo_site(demo_db: Path, browser, tmp_path_factory) -> Iterator[Served]:
    """The dashboard served on the demo database with the data clock; every page's requests are collected."""
    log = tmp_path_factory.mktemp("serve") / "streamlit.log"
    with serve(demo_db, log) as base:
        site = Served(base, log, [])
        yield site
        server_log = log.read_text(errors="replace")
        assert "external IP" not in server_log, "streamlit tried to look up its public IP online"
        assert "Traceback" not in server_log, server_log[-3000:]


def open_page(browser, site: Served, path: str, title: str):
    page = browser.new_page(viewport={"width": 1600, "height": 1300})
    page.on("request", lambda r: site.urls.append(r.url))
    page.on("websocket", lambda ws: site.urls.append(ws.url))
    page.goto(site.base + path, wait_until="domcontentloaded")
    page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    return page


def wait_for_map(page, min_paths: int = 1):
    frame = page.wait_for_selector(MAP_IFRAME, timeout=30_000).content_frame()
    assert frame is not None
    frame.wait_for_selector("path.leaflet-interactive", timeout=30_000)
    page.wait_for_function(
        f"() => document.querySelector('{MAP_IFRAME}').contentDocument"
        f".querySelectorAll('path.leaflet-interactive').length >= {min_paths}",
        timeout=30_000,
    )
    return frame


def settle(page) -> None:
    """Wait until Streamlit has finished running the script, then let fonts and legends draw."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(1500)


def screenshot(page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main block, not the document, so grow the window to fit first."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": page.viewport_size["width"], "height": min(max(height, 600), 8000)})
    page.wait_for_timeout(1000)  # charts and the map redraw for the new size
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def assert_clean(page, title: str) -> None:
    body = page.inner_text("body")
    assert title in body
    assert "Traceback" not in body and "Error" not in body, body[:2000]
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator("h1").first.evaluate(CJK_GLYPHS_JS), "Chinese shows as empty boxes: install fonts-wqy-microhei"


def assert_local_favicon(page) -> None:
    """The tab's icon is drawn locally: the browser fetches favicons itself, out of sight of page.on("request")
    (a `:material/...:` page icon would point it at fonts.gstatic.com)."""
    href = page.evaluate("() => document.querySelector(\"link[rel='shortcut icon']\").href")
    assert href.startswith("data:") or urlparse(href).hostname in LOCAL_HOSTS, href


def assert_local_only(urls: list[str]) -> None:
    outside = sorted(
        {u for u in urls if urlparse(u).scheme in NETWORK_SCHEMES and urlparse(u).hostname not in LOCAL_HOSTS}
    )
    assert outside == [], f"the page contacted outside hosts: {outside}"


@pytest.mark.parametrize("spec", PAGES, ids=[p.artifact for p in PAGES])
def test_page_renders_in_chromium(browser, demo_site: Served, spec: Page):
    page = open_page(browser, demo_site, spec.path, spec.title)
    try:
        settle(page)
        maps = page.locator(MAP_IFRAME).count()
        if spec.has_map or (spec.has_map is None and maps):
            frame = wait_for_map(page)
            assert frame.locator(".minqing-legend").count() >= 1
        elif spec.has_map is False:
            assert maps == 0
        assert_clean(page, spec.title)
        assert_local_favicon(page)
        screenshot(page, spec.artifact)
    finally:
        page.close()
    assert_local_only(demo_site.urls)
    assert any(u.endswith("/app/static/vendor/leaflet/leaflet.js") for u in demo_site.urls) or not spec.has_map


def test_command_center_live_refresh_keeps_the_map(browser, demo_site: Served):
    """The KPI tiles and feed refresh every few seconds; the map's iframe is not reloaded and keeps its view."""
    page = open_page(browser, demo_site, "/", "指挥中心")
    try:
        settle(page)
        frame = wait_for_map(page, min_paths=868)  # the default level: the demo's 868 medium grids (+ markers)
        assert frame.locator(".minqing-legend", has_text="事件数（中网格）").count() == 1
        assert "最新上报" in page.inner_text("body") and "未办结" in page.inner_text("body")
        frame.evaluate("() => { window.__cc_marker = 1; window.map.setView([22.95, 115.45], 14); }")
        view = frame.evaluate("() => [window.map.getCenter().lat, window.map.getCenter().lng, window.map.getZoom()]")
        for _ in range(2):  # two refreshes of the fragments: the tiles' "最近刷新 HH:MM:SS" changes each time
            shown = page.get_by_text("最近刷新").first.inner_text()
            page.wait_for_function("(before) => [...document.querySelectorAll('[data-testid=stCaptionContainer]')]"
                                   ".some(e => e.innerText.includes('最近刷新') && e.innerText !== before)",
                                   arg=shown, timeout=120_000)
        frame = page.wait_for_selector(MAP_IFRAME).content_frame()
        assert frame.evaluate("() => window.__cc_marker") == 1, "the map's iframe was reloaded by the refresh"
        after = frame.evaluate("() => [window.map.getCenter().lat, window.map.getCenter().lng, window.map.getZoom()]")
        assert after == pytest.approx(view)
        assert_clean(page, "指挥中心")
    finally:
        page.close()
    assert_local_only(demo_site.urls)


def test_command_center_switches_to_patrol_coverage(browser, demo_site: Served):
    """The 巡查覆盖 switch redraws the map as the coverage choropleth, with the neglected class in its legend."""
    page = open_page(browser, demo_site, "/", "指挥中心")
    try:
        settle(page)
        wait_for_map(page, min_paths=868)
        page.locator('[data-testid="stButtonGroup"] button', has_text="巡查覆盖").first.click()
        page.wait_for_function(  # the map's iframe is replaced while Streamlit redraws it: null-safe
            f"() => {{ const f = document.querySelector('{MAP_IFRAME}'); const d = f && f.contentDocument;"
            " return !!(d && d.body && d.body.innerText.includes('失管')); }", timeout=60_000)
        frame = wait_for_map(page, min_paths=868)
        legend = "\n".join(frame.locator(".minqing-legend").all_inner_texts())
        assert "巡查覆盖（中网格）" in legend and "7 天及以上（失管）" in legend, legend
        body = page.inner_text("body")
        assert "近7日走访覆盖率" in body and "最新巡查走访" in body
        assert_clean(page, "指挥中心")
        screenshot(page, "command_center_coverage")
    finally:
        page.close()
    assert_local_only(demo_site.urls)


def test_command_center_big_screen(browser, demo_site: Served):
    """?screen=big is the wall display (tests/e2e/test_wall.py checks its layout at three sizes with sign-in)."""
    page = browser.new_page(viewport={"width": 1920, "height": 1080})
    page.on("request", lambda r: demo_site.urls.append(r.url))
    page.on("websocket", lambda ws: demo_site.urls.append(ws.url))
    try:
        page.goto(demo_site.base + "/?screen=big", wait_until="domcontentloaded")
        page.wait_for_selector(".mq-ticker", timeout=60_000)
        settle(page)
        wait_for_map(page)
        assert not page.locator('[data-testid="stSidebar"]').is_visible()
        background = page.evaluate("() => getComputedStyle(document.querySelector('.stApp')).backgroundColor")
        assert background == "rgb(11, 18, 32)"  # wall.WALL_CSS
        body = page.inner_text("body")
        assert f"民情地图 · {DEMO_CITY}" in body and "最近30天" in body and "最新巡查走访" in body
        assert "Traceback" not in body and page.locator('[data-testid="stException"]').count() == 0
        assert page.locator(".mq-title-name").evaluate(CJK_GLYPHS_JS), "Chinese shows as empty boxes"
        page.screenshot(path=str(ARTIFACTS / "command_center_big.png"))
    finally:
        page.close()
    assert_local_only(demo_site.urls)


def test_deep_link_on_a_fresh_server(browser, demo_db: Path, tmp_path):
    """The very first request to a new server is for a page other than the default one: app.py's frame still runs."""
    log = tmp_path / "streamlit.log"
    with serve(demo_db, log) as base:
        page = browser.new_page()
        try:
            page.goto(base + "/trends", wait_until="domcontentloaded")
            page.wait_for_selector('h1, [data-testid="stException"]', timeout=60_000)
            settle(page)
            assert_clean(page, "趋势与导出")
            assert page.locator('[data-testid="stSidebar"]').get_by_text("时间范围").count() >= 1  # the frame's filters
        finally:
            page.close()
    assert "Traceback" not in log.read_text(errors="replace")


def publish_one_more_report(db: Path) -> str:
    """Replace `db` atomically (as a load publishes) by a copy with one more open report, 5 minutes after the newest."""
    staged = db.with_suffix(".staged")
    shutil.copyfile(db, staged)
    con = connect(str(staged))
    try:
        con.execute(
            """
            INSERT INTO events
            SELECT * REPLACE ('browser:new' AS event_id, 'new' AS source_id, 'browser:new' AS incident_id,
                              reported_at + INTERVAL 5 MINUTE AS reported_at, 'reported' AS status,
                              NULL AS dispatched_at, NULL AS closed_at)
            FROM events WHERE grid_small IS NOT NULL ORDER BY reported_at DESC LIMIT 1
            """
        )
    finally:
        con.close()
    os.replace(staged, db)
    return "browser:new"


def test_a_published_load_shows_up_live(browser, demo_db: Path, tmp_path):
    """A load published while the page is open reaches the tiles and the feed without a reload, highlighted as new."""
    db = tmp_path / "live.duckdb"
    shutil.copyfile(demo_db, db)
    with serve(db, tmp_path / "streamlit.log") as base:
        site = Served(base, tmp_path / "streamlit.log", [])
        page = open_page(browser, site, "/", "指挥中心")
        try:
            settle(page)
            tile = page.locator('[data-testid="stMetric"]', has_text="今日新增")
            before = int(tile.locator('[data-testid="stMetricValue"]').inner_text())
            assert page.locator("tr.cc-new").count() == 0
            publish_one_more_report(db)
            page.wait_for_function(
                "n => [...document.querySelectorAll('[data-testid=stMetric]')].some(m => m.innerText.includes('今日新增')"
                " && m.querySelector('[data-testid=stMetricValue]').innerText.trim() === String(n))",
                arg=before + 1, timeout=(3 * REFRESH_SECONDS + 20) * 1000,
            )
            page.locator("tr.cc-new").first.wait_for(timeout=(2 * REFRESH_SECONDS + 10) * 1000)
            assert page.locator("tr.cc-new").count() == 1 and "新" in page.locator("tr.cc-new").inner_text()
            assert_clean(page, "指挥中心")
            screenshot(page, "command_center_live")
        finally:
            page.close()
        assert_local_only(site.urls)


def test_hostile_grid_name_stays_text(browser, fixture_store: FixtureStore, tmp_path):  # noqa: F811
    """A grid named like markup shows as text in the map's tooltip and in the feed, and runs nothing."""
    log = tmp_path / "streamlit.log"
    with serve(fixture_store.path, log) as base:
        site = Served(base, log, [])
        page = open_page(browser, site, "/", "指挥中心")
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        try:
            settle(page)
            frame = wait_for_map(page, min_paths=fixture_store.grid_count("medium"))
            assert frame.locator("path.leaflet-interactive").count() == fixture_store.grid_count("medium")
            frame.locator("path.leaflet-interactive").nth(2).hover()  # L2M1, the first grid of the hostile L2
            tooltip = frame.wait_for_selector(".leaflet-tooltip", timeout=10_000)
            assert HOSTILE_NAME in tooltip.inner_text() and "排名" in tooltip.inner_text()
            feed = page.locator("table.cc-feed").inner_text()
            assert HOSTILE_NAME in feed
            assert page.locator('img[src="x"]').count() == 0 and frame.locator('img[src="x"]').count() == 0
            assert dialogs == []
        finally:
            page.close()
        assert_local_only(site.urls)
