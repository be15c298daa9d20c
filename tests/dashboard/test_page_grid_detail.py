"""网格详情 under Streamlit's AppTest on the demo city: pick a grid four ways, see its profile, figures and events.

Clicks on the map cannot be simulated in AppTest; the last test does one in headless Chromium (marked browser).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.widgets.common import plain
from store.schema import connect
from fixtures import HOSTILE_NAME, FixtureStore, fixture_store  # noqa: F401  (pytest fixture)

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PAGE = "views/grid_detail.py"
PAGE_SIZE = 50


@pytest.fixture(scope="module")
def demo(demo_db):
    """The demo's grids and events read independently, and the page's default window (30 days to the data clock)."""
    con = connect(str(demo_db), read_only=True)
    try:
        events = con.execute("SELECT * FROM events").df()
        grids = con.execute("SELECT grid_code, name, level, parent_code FROM grids").df()
    finally:
        con.close()
    as_of = events["reported_at"].max().to_pydatetime() + dt.timedelta(minutes=1)  # MINQING_CLOCK=data
    window = events[(events["reported_at"] >= as_of - dt.timedelta(days=30)) & (events["reported_at"] < as_of)]
    return {"events": events, "grids": grids, "window": window}


def open_page(monkeypatch, db: Path, grid: str | None = None) -> AppTest:
    monkeypatch.setenv("MINQING_DB", str(db))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    at = AppTest.from_file(APP, default_timeout=60)
    if grid is not None:
        at.query_params["grid"] = grid
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def busiest(demo, parent: str | None) -> str:
    """The child of `parent` (None: the large grids) with most events in the window (ties: smallest code)."""
    grids = demo["grids"]
    children = grids[grids["level"] == "large"] if parent is None else grids[grids["parent_code"] == parent]
    column = f"grid_{children['level'].iloc[0]}"
    counts = demo["window"][column].value_counts()
    ranked = children.assign(n=children["grid_code"].map(counts).fillna(0))
    return ranked.sort_values(["n", "grid_code"], ascending=[False, True])["grid_code"].iloc[0]


def name_of(demo, code: str) -> str:
    return demo["grids"].set_index("grid_code").loc[code, "name"]


def history(at: AppTest) -> pd.DataFrame:
    (table,) = [d.value for d in at.dataframe if "编号" in d.value.columns]
    return table


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_widgets_have_chinese_labels(monkeypatch, demo_db):
    at = open_page(monkeypatch, demo_db)
    assert [t.value for t in at.title] == ["网格详情"]
    assert [s.label for s in at.main.selectbox] == ["大网格", "中网格", "小网格", "排序"]
    assert [t.label for t in at.main.text_input] == ["搜索网格（名称或编码）", "搜索事件（描述、地址或编号）"]
    assert [m.label for m in at.main.multiselect] == ["部门", "类别", "状态"]
    assert [n.label for n in at.number_input] == ["页码"]
    assert {"上一页", "下一页"} <= {b.label for b in at.button}
    assert [t.label for t in at.tabs] == ["下级网格排名", "事件趋势", "类别构成"]
    assert {"网格层级", "面积（km²）", "人口", "事件数", "矛盾纠纷", "未办结", "超期", "按期办结率", "每万人事件数"} <= set(metrics(at))
    assert [s.value for s in at.subheader][0] == "全市"
    assert metrics(at)["事件数"] == f"{len(demo_window_located(at, demo_db)):,}"
    assert at.selectbox(key="drill_sel_medium").disabled and at.selectbox(key="drill_sel_small").disabled
    assert not at.warning  # no "set via the Session State API" warnings from the synced selectors and pager


def demo_window_located(at: AppTest, demo_db) -> pd.DataFrame:
    con = connect(str(demo_db), read_only=True)
    try:
        clock = con.execute("SELECT max(reported_at) FROM events").fetchone()[0] + dt.timedelta(minutes=1)
        return con.execute("SELECT * FROM events WHERE grid_large IS NOT NULL AND reported_at >= ? AND reported_at < ?",
                           [clock - dt.timedelta(days=30), clock]).df()
    finally:
        con.close()


def test_choosing_a_large_then_a_medium_grid_shows_its_profile_and_events(monkeypatch, demo_db, demo):
    at = open_page(monkeypatch, demo_db)
    large = busiest(demo, None)
    at.selectbox(key="drill_sel_large").select(large).run()
    assert not at.exception and at.subheader[0].value == plain(name_of(demo, large))
    medium = busiest(demo, large)
    at.selectbox(key="drill_sel_medium").select(medium).run()
    assert not at.exception

    assert at.subheader[0].value == plain(name_of(demo, medium))
    assert at.session_state["drill_grid_code"] == medium and at.query_params["grid"] == medium
    caption = "\n".join(c.value for c in at.caption)
    assert f"编码：{medium}" in caption and f"上级：全市 › {plain(name_of(demo, large))}" in caption
    assert metrics(at)["网格层级"] == "中网格"
    mine = demo["window"][demo["window"]["grid_medium"] == medium]
    assert metrics(at)["事件数"] == f"{len(mine):,}"
    expected = mine.sort_values("event_id").sort_values("reported_at", ascending=False, kind="stable")
    shown = history(at)
    assert len(shown) == min(len(mine), PAGE_SIZE) > 0
    assert shown["编号"].tolist() == expected["event_id"].head(PAGE_SIZE).tolist()
    assert set(shown["状态"]) <= {"已上报", "已派遣", "处置中", "已办结"}
    assert [s.value for s in at.main.selectbox][:2] == [large, medium]
    small_options = at.selectbox(key="drill_sel_small").options
    assert len(small_options) == 1 + int((demo["grids"]["parent_code"] == medium).sum())


def test_search_finds_a_grid_by_name(monkeypatch, demo_db, demo):
    grids = demo["grids"]
    unique = grids[(grids["level"] == "medium") & ~grids["name"].duplicated(keep=False)].iloc[0]
    at = open_page(monkeypatch, demo_db)
    at.text_input(key="drill_search").input(unique["name"]).run()
    hit = at.button(key=f"drill_hit_{unique['grid_code']}")
    assert plain(unique["name"]) in hit.label
    hit.click().run()
    assert not at.exception
    assert at.subheader[0].value == plain(unique["name"]) and at.query_params["grid"] == unique["grid_code"]
    at.text_input(key="drill_search").input("x' OR '1'='1").run()
    assert not at.exception and "没有匹配的网格。" in [c.value for c in at.caption]


def test_breadcrumb_goes_back_up(monkeypatch, demo_db, demo):
    small = demo["grids"][demo["grids"]["level"] == "small"].iloc[0]
    medium = small["parent_code"]
    large = demo["grids"].set_index("grid_code").loc[medium, "parent_code"]
    at = open_page(monkeypatch, demo_db, grid=small["grid_code"])
    crumbs = [b.label for b in at.button if b.key.startswith("drill_crumb_")]
    assert crumbs == ["全市", plain(name_of(demo, large)), plain(name_of(demo, medium))]
    assert "小网格是最末一级，没有下级网格。" in [i.value for i in at.info]
    at.button(key="drill_crumb_2").click().run()
    assert at.subheader[0].value == plain(name_of(demo, medium)) and at.query_params["grid"] == medium
    assert at.selectbox(key="drill_sel_small").value == ""
    at.button(key="drill_crumb_1").click().run()
    assert at.subheader[0].value == plain(name_of(demo, large))
    at.button(key="drill_crumb_0").click().run()
    assert not at.exception and at.subheader[0].value == "全市" and "grid" not in at.query_params
    assert at.selectbox(key="drill_sel_large").value == ""


def test_grid_query_parameter_opens_that_grid(monkeypatch, demo_db, demo):
    small = demo["grids"][demo["grids"]["level"] == "small"].iloc[-1]
    medium = small["parent_code"]
    large = demo["grids"].set_index("grid_code").loc[medium, "parent_code"]
    at = open_page(monkeypatch, demo_db, grid=small["grid_code"])
    assert at.subheader[0].value == plain(small["name"])
    assert [s.value for s in at.main.selectbox][:3] == [large, medium, small["grid_code"]]
    assert at.session_state["drill_grid_code"] == small["grid_code"] and metrics(at)["网格层级"] == "小网格"


def test_unknown_grid_parameter_says_so_and_shows_the_city(monkeypatch, demo_db):
    at = open_page(monkeypatch, demo_db, grid="<b>nope</b>")
    assert "未找到网格编码" in at.warning[0].value and "<b>" not in at.warning[0].value
    assert at.subheader[0].value == "全市" and "grid" not in at.query_params


def test_history_pages_forward(monkeypatch, demo_db, demo):
    at = open_page(monkeypatch, demo_db)
    located = demo["window"][demo["window"]["grid_large"].notna()]
    expected = located.sort_values("event_id").sort_values("reported_at", ascending=False, kind="stable")
    pages = -(-len(expected) // PAGE_SIZE)
    assert f"第 1 / {pages} 页，每页 {PAGE_SIZE} 件" in [c.value for c in at.caption]
    at.button(key="drill_next").click().run()
    assert at.number_input(key="drill_page").value == 2
    assert history(at)["编号"].tolist() == expected["event_id"].iloc[PAGE_SIZE:2 * PAGE_SIZE].tolist()
    at.multiselect(key="drill_f_statuses").select("in_progress").run()  # a new filter starts at page 1
    assert at.number_input(key="drill_page").value == 1
    assert set(history(at)["状态"]) == {"处置中"}
    assert not at.warning


def test_the_sidebar_window_and_filters_apply(monkeypatch, demo_db, demo):
    large = busiest(demo, None)
    at = open_page(monkeypatch, demo_db, grid=large)
    assert at.sidebar.selectbox(key="frame_window").value == "最近30天"
    at.selectbox(key="frame_window").select("全部").run()
    mine = demo["events"][demo["events"]["grid_large"] == large]
    assert metrics(at)["事件数"] == f"{len(mine):,}"
    at.multiselect(key="frame_depts").select("police110").run()
    assert metrics(at)["事件数"] == f"{int((mine['dept'] == 'police110').sum()):,}"
    assert set(history(at)["部门"]) == {"公安110警情"}


def test_map_is_narrowed_offline_and_small(monkeypatch, demo_db, record_property):
    at = open_page(monkeypatch, demo_db)
    (component,) = at.get("component_instance")
    args = json.loads(component.proto.json_args)
    assert args["returned_objects"] == ["last_object_clicked_tooltip"]  # panning and zooming do not rerun
    assert args["js_links"] == ["/app/static/vendor/leaflet/leaflet.js"]
    assert not re.search(r"https?://", component.proto.json_args)
    assert "setTooltipContent" in args["script"]
    size = len(component.proto.json_args.encode("utf-8"))
    record_property("drill_map_payload_bytes", size)
    print(f"\ndrill-down map payload (56 large grids): {size:,} bytes")
    assert size < 150_000


def test_hostile_grid_name_is_shown_as_text(monkeypatch, fixture_store: FixtureStore):  # noqa: F811
    at = open_page(monkeypatch, fixture_store.path, grid="L2M1")
    assert at.button(key="drill_crumb_1").label == plain(HOSTILE_NAME)
    assert any(f"上级：全市 › {plain(HOSTILE_NAME)}" in c.value for c in at.caption)  # markdown and HTML escaped
    at.button(key="drill_crumb_1").click().run()
    assert not at.exception and at.subheader[0].value == plain(HOSTILE_NAME)


# --------------------------------------------------------------------------- a real click, in Chromium


def grid_names(db: Path) -> dict[str, str]:
    con = connect(str(db), read_only=True)
    try:
        return dict(con.execute("SELECT grid_code, name FROM grids").fetchall())
    finally:
        con.close()


@pytest.mark.browser
def test_clicking_the_map_opens_the_grid(demo_db, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium fonts-wqy-microhei)")
    from playwright.sync_api import sync_playwright

    from dashboard.serve import command, environment
    from test_browser import CHROMIUM_ARGS, free_port, stop, wait_healthy

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "streamlit.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command(demo_db, port), env=environment(demo_db, {"MINQING_CLOCK": "data"}),
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(base, proc, log)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                page.goto(f"{base}/grid_detail", wait_until="domcontentloaded")  # a deep link as the first request
                page.get_by_role("heading", name="网格详情").wait_for(timeout=60_000)
                frame = page.wait_for_selector('iframe[title*="streamlit_folium"]', timeout=30_000).content_frame()
                frame.wait_for_selector("path.leaflet-interactive", timeout=30_000)
                assert frame.locator("path.leaflet-interactive").count() == 56
                started = time.monotonic()
                frame.locator("path.leaflet-interactive").nth(10).click(force=True)
                page.wait_for_function("() => new URL(location.href).searchParams.get('grid') !== null", timeout=30_000)
                code = page.evaluate("() => new URL(location.href).searchParams.get('grid')")
                print(f"\nmap click to new grid in the URL: {time.monotonic() - started:.2f} s")
                assert re.fullmatch(r"\d{15}", code) and code.endswith("000000")
                page.get_by_role("heading", name="事件记录").wait_for(timeout=30_000)
                name = grid_names(demo_db)[code]
                page.get_by_role("heading", name=name).wait_for(timeout=30_000)

                shared = browser.new_page(viewport={"width": 1440, "height": 1000})  # a new session from the link
                shared.goto(f"{base}/grid_detail?grid={code}", wait_until="domcontentloaded")
                shared.get_by_role("heading", name=name).wait_for(timeout=60_000)
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=5) as r:
                    assert r.status == 200
            finally:
                browser.close()
    finally:
        stop(proc)
    assert "Traceback" not in log.read_text(errors="replace")
