"""指挥中心 (dashboard/views/command_center.py) under AppTest on the demo city, and its widgets' pure parts.

Expected figures are computed here with pandas from the events table, independently of layers/.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.frame import BIG_SCREEN_CSS, PageContext
from dashboard.widgets.command_center.wall import WALL_CSS, scope_label
from dashboard.widgets.command_center.wall_panels import title_bar
from dashboard.published import open_store
from dashboard.widgets.command_center.feed import FeedRow, feed_html, feed_rows, grid_label, new_arrivals
from dashboard.widgets.command_center.kpis import tiles
from access.principal import Principal
from dashboard.widgets.command_center.live import live_context
from store.schema import connect
from fixtures import HOSTILE_NAME, FixtureStore, fixture_store  # noqa: F401  (pytest fixture)
from layers.kpis import CommandKpis, Figure, command_kpis, kpi_periods
from layers.event_query import EventFilter
from layers.heatmap import LEAFLET_HEAT_JS_URL
from layers.grids import StoreSummary
from minqing.demo.build import DEMO_CITY

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
MB = 1_000_000
SMALL_LEVEL_BUDGET = int(1.5 * MB)  # the small choropleth's budget (tests/layers/test_map_layers.py), overlays included
KPI_LABELS = ["今日新增", "未办结", "超期", "本月办结", "按期办结率"]


# --------------------------------------------------------------------------- independent expectations


@pytest.fixture(scope="module")
def demo_events(demo_db: Path) -> pd.DataFrame:
    con = connect(str(demo_db), read_only=True)
    try:
        return con.execute("SELECT * FROM events").df()
    finally:
        con.close()


def expected_kpis(events: pd.DataFrame, *, depts: list[str] | None = None) -> dict[str, tuple]:
    """(now, compared) per tile, from the raw rows: located events, as_of = newest report + 1 minute."""
    e = events[events["grid_large"].notna()]
    if depts:
        e = e[e["dept"].isin(depts)]
    as_of = events["reported_at"].max() + pd.Timedelta(minutes=1)
    today = as_of.normalize()
    month = today.replace(day=1)
    day = pd.Timedelta(days=1)

    def reported(start, end):
        return int(((e["reported_at"] >= start) & (e["reported_at"] < end)).sum())

    def open_at(t):
        is_open = (e["reported_at"] <= t) & ~((e["status"] == "closed") & (e["closed_at"] <= t))
        return int(is_open.sum()), int((is_open & (e["due_at"] < t)).sum())

    def closed(start, end):
        c = e[(e["status"] == "closed") & (e["closed_at"] >= start) & (e["closed_at"] < end)]
        with_due = c[c["due_at"].notna()]
        return len(c), (with_due["closed_at"] <= with_due["due_at"]).mean() if len(with_due) else None

    last_month_as_of = as_of - pd.DateOffset(months=1)
    last_month = (month - day).replace(day=1)
    (open_now, overdue_now), (open_before, overdue_before) = open_at(as_of), open_at(as_of - day)
    closed_now, rate_now = closed(month, as_of)
    closed_before, rate_before = closed(last_month, last_month_as_of)
    return {
        "今日新增": (reported(today, as_of), reported(today - day, as_of - day)),
        "未办结": (open_now, open_before),
        "超期": (overdue_now, overdue_before),
        "本月办结": (closed_now, closed_before),
        "按期办结率": (rate_now, rate_before),
    }


def shown_texts(expected: dict[str, tuple]) -> dict[str, tuple[str, str]]:
    """What st.metric should show: the value and the delta, as the page formats them."""
    out = {}
    for label, (now, before) in expected.items():
        if label == "按期办结率":
            points = round((now - before) * 100, 1)
            out[label] = (f"{now * 100:.1f}%", "0" if points == 0 else f"{points:+.1f} 个百分点")
        else:
            out[label] = (f"{now:,}", "0" if now == before else f"{now - before:+,}")
    return out


# --------------------------------------------------------------------------- the page on the demo city


def run_demo(monkeypatch, demo_db: Path, *, screen: str | None = None) -> AppTest:
    monkeypatch.setenv("MINQING_DB", str(demo_db))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    at = AppTest.from_file(APP, default_timeout=120)
    if screen:
        at.query_params["screen"] = screen
    return at.run()


def metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    """The five event tiles (the patrol tiles are tested in tests/layers/test_patrol_figures.py)."""
    return {m.label: (m.value, m.proto.delta) for m in at.metric if m.label in KPI_LABELS}


def map_args(at: AppTest) -> tuple[dict, str]:
    (component,) = at.get("component_instance")
    return json.loads(component.proto.json_args), component.proto.json_args


def feed_markdown(at: AppTest) -> str:
    (table,) = [m.value for m in at.markdown if m.value.startswith('<table class="cc-feed')]
    return table


def test_switches_and_tiles_have_chinese_labels(monkeypatch, demo_db):
    at = run_demo(monkeypatch, demo_db)
    assert not at.exception
    assert [t.value for t in at.title] == ["指挥中心"]
    level, metric = at.segmented_control(key="cc_level"), at.segmented_control(key="cc_metric")
    assert level.label == "网格层级" and level.options == ["大网格", "中网格", "小网格"] and level.value == "中网格"
    assert metric.label == "地图指标" and metric.options == ["事件数", "矛盾纠纷", "超期", "每万人事件数", "巡查覆盖"]
    assert [t.label for t in at.toggle] == ["热力图", "最新事件"]
    assert [m.label for m in at.metric] == KPI_LABELS + ["督办中", "督办超期", "预警", "近7日走访", "近7日走访覆盖率",
                                                         "失管网格（≥7天）"]  # tiles.TILE_SOURCES, then patrol
    assert "最新上报" in [h.value for h in at.subheader]
    assert any(c.value.startswith("时间范围：最近30天") for c in at.caption)


def test_kpis_equal_an_independent_computation(monkeypatch, demo_db, demo_events):
    at = run_demo(monkeypatch, demo_db)
    expected = expected_kpis(demo_events)
    assert expected["今日新增"][0] > 0, "the data clock makes the last demo day 'today'"
    assert metrics(at) == shown_texts(expected)


def test_department_filter_changes_the_figures(monkeypatch, demo_db, demo_events):
    at = run_demo(monkeypatch, demo_db)
    before, map_before = metrics(at), map_args(at)[1]
    at.sidebar.multiselect(key="frame_depts").set_value(["police110"]).run()
    assert not at.exception
    after = metrics(at)
    assert after == shown_texts(expected_kpis(demo_events, depts=["police110"]))
    assert after != before
    assert map_args(at)[1] != map_before
    assert "公安110警情" in feed_markdown(at)
    assert set(_feed_column(feed_markdown(at), 1)) == {"公安110警情"}


def test_feed_shows_the_newest_reports_in_chinese(monkeypatch, demo_db, demo_events):
    at = run_demo(monkeypatch, demo_db)
    newest = demo_events.sort_values(["reported_at", "event_id"], ascending=[False, True]).head(15)
    table = feed_markdown(at)
    times = [re.sub(r"<[^>]*>", "", c) for c in _feed_column(table, 0)]
    assert times == [t.strftime("%m-%d %H:%M") for t in newest["reported_at"]]
    links = re.findall(r'<a class="cc-open" href="([^"]+)"', table)
    assert links == [f"/event?id={quote(e, safe='')}" for e in newest["event_id"]]  # each row opens its event
    labels = {"reported": "已上报", "dispatched": "已派遣", "in_progress": "处置中", "closed": "已办结"}
    assert [s.split("<")[0] for s in _feed_column(table, 4)] == [labels[s] for s in newest["status"]]
    shown = re.sub(r'href="[^"]*"', "", table)  # the links carry event ids (dept:source_id)
    assert "police110" not in shown and "公安110警情" in shown  # department names, not codes


@pytest.mark.parametrize("level", ["大网格", "中网格", "小网格"])
def test_level_switch_redraws_the_map_within_budget(monkeypatch, demo_db, level):
    at = run_demo(monkeypatch, demo_db)
    at.segmented_control(key="cc_level").set_value(level).run()
    assert not at.exception
    args, raw = map_args(at)
    assert f"事件数（{level}）" in args["script"]
    assert args["returned_objects"] == ["last_object_clicked_tooltip"]  # a click opens 网格详情; panning never reruns
    assert args["js_links"] == ["/app/static/vendor/leaflet/leaflet.js"]
    at.toggle(key="cc_heat").set_value(True).run()
    args, raw = map_args(at)
    assert LEAFLET_HEAT_JS_URL in args["js_links"]
    assert len(raw.encode("utf-8")) <= SMALL_LEVEL_BUDGET
    assert "http://" not in raw and "https://" not in raw


def test_metric_switch_and_overlays(monkeypatch, demo_db):
    at = run_demo(monkeypatch, demo_db)
    assert "最新事件" in map_args(at)[0]["script"]
    at.segmented_control(key="cc_metric").set_value("超期").run()
    assert "超期（中网格）" in map_args(at)[0]["script"]
    at.toggle(key="cc_latest").set_value(False).run()
    script = map_args(at)[0]["script"]
    assert "minqing-event" not in script and "已派遣" not in script


def test_big_screen_is_the_wall_display(monkeypatch, demo_db):
    at = run_demo(monkeypatch, demo_db, screen="big")
    assert not at.exception
    css = [m.value.strip() for m in at.markdown if m.value.lstrip().startswith("<style>")]
    assert any(c.startswith(WALL_CSS.strip()) for c in css) and '[data-testid="stSidebar"]' in WALL_CSS
    assert not at.segmented_control and not at.toggle and not at.title, "no operator controls on the wall"
    page = "\n".join(str(m.value) for m in at.markdown)
    assert "最近30天" in page  # the window, since the sidebar is hidden
    assert f"民情地图 · {DEMO_CITY}" in page, "the title names the city of minqing.toml"
    for label in KPI_LABELS + ["督办中", "督办超期", "预警", "近7日走访", "最新上报", "最新巡查走访", "大网格 TOP10"]:
        assert label in page, label
    (wall_map,) = at.get("component_instance")
    assert json.loads(wall_map.proto.json_args)["returned_objects"] == []


def test_the_wall_title_names_the_city_and_a_scoped_wall_s_grids():
    def label(city: str | None, principal: Principal) -> str:
        ctx = PageContext(store=None, summary=StoreSummary(True, city=city), as_of=dt.datetime(2025, 6, 1), start=None,
                          end=None, window_label="最近30天", where=None, principal=principal)  # type: ignore[arg-type]
        return scope_label(ctx)

    city_wide, scoped = Principal("hall", "wall"), Principal("hall", "wall", scope=("L1", "L2"))
    assert label(None, city_wide) == "全市" and label("汕尾市", city_wide) == "汕尾市"
    assert label("汕尾市", scoped) == "汕尾市 · L1、L2" and label(None, scoped) == "L1、L2"
    shown = title_bar(label("<b>市</b>", city_wide), dt.datetime(2025, 6, 1, 8), dt.datetime(2025, 6, 1, 8))
    assert "民情地图 · &lt;b&gt;市&lt;/b&gt;" in shown and "<b>" not in shown


def test_desk_mode_has_no_big_screen_css(monkeypatch, demo_db):
    at = run_demo(monkeypatch, demo_db)
    css = [m.value.strip() for m in at.markdown]
    assert BIG_SCREEN_CSS.strip() not in css


def test_old_data_on_the_wall_clock_says_how_to_replay_it(monkeypatch, demo_db):
    monkeypatch.setenv("MINQING_DB", str(demo_db))
    monkeypatch.setenv("MINQING_CLOCK", "now")
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    (notice,) = at.info
    assert "最新一条上报在 2025-12-31 23:10" in notice.value and "--clock data" in notice.value
    assert metrics(at)["今日新增"][0] == "0"


def test_hostile_grid_names_are_escaped_in_the_feed(monkeypatch, fixture_store: FixtureStore):  # noqa: F811
    monkeypatch.setenv("MINQING_DB", str(fixture_store.path))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    table = feed_markdown(at)
    assert "&lt;img src=x onerror=alert(1)&gt;" in table and "<img" not in table


def _feed_column(table: str, index: int) -> list[str]:
    rows = table.split("<tbody>")[1].split("</tr>")[:-1]
    return [r.split("<td")[index + 1].split(">", 1)[1].rsplit("</td", 1)[0] for r in rows]


# --------------------------------------------------------------------------- pure parts


def test_kpi_periods_compare_like_for_like():
    p = kpi_periods(dt.datetime(2024, 3, 31, 12, 30))
    assert p.today_start == dt.datetime(2024, 3, 31) and p.yesterday_start == dt.datetime(2024, 3, 30)
    assert p.yesterday_as_of == dt.datetime(2024, 3, 30, 12, 30)
    assert p.month_start == dt.datetime(2024, 3, 1) and p.last_month_start == dt.datetime(2024, 2, 1)
    assert p.last_month_as_of == dt.datetime(2024, 2, 29, 12, 30)  # 31 March → 29 February
    january = kpi_periods(dt.datetime(2025, 1, 15, 8, 0))
    assert january.last_month_start == dt.datetime(2024, 12, 1)


def test_kpis_at_midnight_have_an_empty_today(demo_db):
    con = connect(str(demo_db), read_only=True)
    try:
        k = command_kpis(con, as_of=dt.datetime(2025, 12, 1), where=EventFilter())
    finally:
        con.close()
    assert k.new_today == Figure(0, 0)  # both "today so far" and "yesterday until this time" are empty at midnight
    assert k.closed_this_month == Figure(0, 0) and k.on_time_rate == Figure(None, None)  # 1st of the month, 00:00
    assert k.open_now.value > 0 and k.overdue_now.value > 0


def test_tiles_format_values_and_changes():
    p = kpi_periods(dt.datetime(2025, 12, 31, 23, 11))
    k = CommandKpis(p, Figure(29, 37), Figure(1234, 1234), Figure(389, 390), Figure(930, 910), Figure(0.8731, 0.8989))
    shown = {t.label: (t.value, t.delta, t.delta_color, t.delta_description) for t in tiles(k)}
    assert shown["今日新增"] == ("29", "-8", "off", "较昨日同时段")
    assert shown["未办结"] == ("1,234", 0, "inverse", "较昨日此时")
    assert shown["超期"] == ("389", "-1", "inverse", "较昨日此时")
    assert shown["本月办结"] == ("930", "+20", "normal", "较上月同期")
    assert shown["按期办结率"] == ("87.3%", "-2.6 个百分点", "normal", "较上月同期")
    none = CommandKpis(p, *(Figure(None, None),) * 5)
    assert {t.value for t in tiles(none)} == {"—"} and {t.delta for t in tiles(none)} == {None}


def test_grid_label():
    assert grid_label("城东", "马墩社区", "第1网格") == "马墩社区·第1网格"
    assert grid_label("城东", "城东第1社区", "城东第1社区1号网格") == "城东第1社区1号网格"
    assert grid_label("城东", "马墩社区", None) == "马墩社区"
    assert grid_label(None, None, float("nan")) == "网格外"


def test_feed_html_escapes_and_marks():
    events = pd.DataFrame([
        {"event_id": "a", "reported_at": dt.datetime(2025, 12, 31, 9, 5), "dept": "x", "dept_name": "城管",
         "category": "c", "category_name": "<b>占道</b>", "status": "dispatched", "due_at": None, "overdue": True,
         "grid_large_name": "L", "grid_medium_name": HOSTILE_NAME, "grid_small_name": "第1网格"},
        {"event_id": "b", "reported_at": dt.datetime(2025, 12, 31, 9, 1), "dept": "y", "dept_name": None,
         "category": "c2", "category_name": None, "status": "closed", "due_at": None, "overdue": False,
         "grid_large_name": None, "grid_medium_name": None, "grid_small_name": None},
    ])  # fmt: skip
    rows = feed_rows(events, {"a"})
    assert rows[1] == FeedRow("b", "12-31 09:01", "y", "c2", "网格外", "已办结", False, False)
    out = feed_html(rows)
    assert "<b>" not in out and "&lt;b&gt;占道&lt;/b&gt;" in out
    assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    assert out.count('class="cc-new"') == 1 and out.count("⚠ 超期") == 1
    assert "暂无上报" in feed_html([])


def test_new_arrivals_are_those_unseen_at_the_previous_refresh():
    state: dict = {}
    assert new_arrivals(["a", "b"], "all", state) == set()  # the first drawing highlights nothing
    assert new_arrivals(["c", "a", "b"], "all", state) == {"c"}
    assert new_arrivals(["c", "a", "b"], "all", state) == set()
    assert new_arrivals(["d", "c"], "police", state) == set()  # other filters: start over


def test_live_context_moves_the_window_to_now(demo_db, monkeypatch):
    monkeypatch.setenv("MINQING_CLOCK", "data")
    store = open_store(demo_db)
    old = dt.datetime(2025, 12, 1, 8, 0)

    def context(label: str, start: dt.datetime, end: dt.datetime) -> PageContext:
        return PageContext(store=store, summary=None, as_of=old, start=start, end=end,  # type: ignore[arg-type]
                           window_label=label, where=EventFilter())

    moved = live_context(context("最近7天", old - dt.timedelta(days=7), old))
    assert moved.as_of == dt.datetime(2025, 12, 31, 23, 11)
    assert (moved.start, moved.end) == (moved.as_of - dt.timedelta(days=7), moved.as_of)
    custom = live_context(context("自定义", dt.datetime(2025, 1, 1), dt.datetime(2025, 2, 1)))
    assert (custom.start, custom.end) == (dt.datetime(2025, 1, 1), dt.datetime(2025, 2, 1))


def test_an_officials_live_refresh_keeps_their_own_now(demo_db):
    """The live tiles move to the newest report of the official's jurisdiction, as the full run does, not the city's."""
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        town, newest = con.execute("SELECT grid_large, max(reported_at) FROM events WHERE grid_large IS NOT NULL "
                                   "GROUP BY grid_large ORDER BY 2 LIMIT 1").fetchone()
        city_newest = con.execute("SELECT max(reported_at) FROM events").fetchone()[0]
    finally:
        con.close()
    assert newest < city_newest  # else the test could not tell the two apart
    official = Principal(username="o1", role="official", scope=(town,))
    store = open_store(demo_db, official)
    old = newest - dt.timedelta(days=3)
    ctx = PageContext(store=store, summary=None, as_of=old, start=old - dt.timedelta(days=7), end=old,  # type: ignore[arg-type]
                      window_label="最近7天", where=EventFilter(), principal=official, clock="data")
    moved = live_context(ctx)
    assert moved.as_of == newest + dt.timedelta(minutes=1)  # now_for: the newest report + 1 minute


class Rerun(Exception):
    """Raised in place of st.rerun, so a test sees that the live refresh asked for a full run."""


def test_the_live_refresh_rechecks_the_account(demo_db, tmp_path, monkeypatch):
    """A removed account's wall must not keep refreshing: each refresh checks the session against the users file."""
    import streamlit as st

    from access.accounts import add_user, read_users, remove_user
    from access.audit import AuditLog
    from access.sessions import SessionStore, sessions_path
    from dashboard import auth
    from dashboard.widgets.command_center import live

    def rerun(**_):
        raise Rerun()

    monkeypatch.setattr(live.st, "rerun", rerun)
    users = tmp_path / "users.toml"
    add_user(users, "wall1", role="command_center", password="a long wall password 1")
    add_user(users, "admin1", role="admin", password="a long admin password 1")
    account = read_users(users).accounts["wall1"]
    principal = account.principal
    _, session_id = SessionStore(sessions_path(users)).start(account, via="password")
    st.session_state[auth.AUTH_KEY] = principal
    st.session_state[auth.SESSION_KEY] = session_id
    store = open_store(demo_db, principal)
    ctx = PageContext(store=store, summary=None, as_of=dt.datetime(2025, 12, 1), start=None, end=None,  # type: ignore[arg-type]
                      window_label="全部", where=EventFilter(), principal=principal, clock="data", users=users,
                      audit=AuditLog(tmp_path / "audit.sqlite"))
    assert live.live_context(ctx).principal == principal  # still valid: the refresh goes on
    remove_user(users, "wall1")  # no sessions ended by hand: the account's absence is enough
    auth.load_users.clear() if hasattr(auth.load_users, "clear") else None
    with pytest.raises(Rerun):
        live.live_context(ctx)  # removed: a full run, which shows the sign-in screen
