"""The 分析研判 page under AppTest on the demo: warnings that open 网格详情, the maps, repeat places and people, an
official's page limited to their jurisdiction; the 预警 tile on the command center (a tile source whose counts are
computed after the map and the feed, once per store version, hour and jurisdiction) and this grid's warnings on
网格详情."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from access.accounts import add_user
from access.principal import Principal
from dashboard.frame import PageContext
from dashboard.published import Store
from dashboard.widgets.analysis.warnings import WarningBoard, WarningCounts, board_key, warning_board, warning_moment
from dashboard.widgets.command_center.kpis import Tile
from dashboard.widgets.command_center.tiles import strip_html
from dashboard.widgets.command_center.warning_tile import warning_tiles
from layers.grids import StoreSummary
from layers.stats import data_clock
from layers.warnings import all_warnings

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
OFFICIAL_PASSWORD = "official password 1"


@pytest.fixture()
def app(monkeypatch: pytest.MonkeyPatch, demo_db: Path) -> AppTest:
    monkeypatch.setenv("MINQING_DB", str(demo_db))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    return AppTest.from_file(APP, default_timeout=120)


@pytest.fixture(scope="module")
def hour_warnings(demo_db: Path):
    """The small grids' warnings at the top of the page's hour (the data clock plus a minute), by the layers."""
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        moment = warning_moment(data_clock(con) + dt.timedelta(minutes=1))
        return moment, all_warnings(con, "small", as_of=moment)
    finally:
        con.close()


def warning_table(at: AppTest):
    return next(d.value for d in at.dataframe if "说明" in d.value.columns)


def test_analysis_page(app: AppTest, hour_warnings) -> None:
    app.switch_page("views/analysis.py").run()
    assert not app.exception, app.exception
    assert [s.value for s in app.subheader] == ["预警", "热点分析", "重复发生地点", "重复来访当事人", "研判简报"]
    warnings = warning_table(app)
    moment, expected = hour_warnings
    assert len(warnings) == len(expected) > 0 and warnings["网格"].str.fullmatch(r"grid_detail\?grid=\d{15}").all()
    assert any(c.value.startswith(f"统计时点 {moment:%Y-%m-%d %H:%M}（每小时整点更新）") for c in app.caption)
    people = next(d.value for d in app.dataframe if "证件号" in d.value.columns)
    assert people["证件号"].str.contains(r"\*{10}").all()
    assert "热点" in " ".join(c.value for c in app.caption)
    kinds = next(w for w in app.multiselect if w.label == "预警类型")
    kinds.set_value(["repeat_place"]).run()
    assert set(warning_table(app)["类型"]) == {"重复发生地点"}


def test_an_official_sees_only_their_jurisdictions_warnings(monkeypatch, tmp_path: Path, demo_db: Path,
                                                            hour_warnings) -> None:
    con = duckdb.connect(str(demo_db), read_only=True)
    try:
        _, expected = hour_warnings
        large = con.execute("SELECT grid_large FROM events WHERE grid_small = ?",
                            [expected["grid_code"].iloc[0]]).fetchone()[0]
        mine = {c for (c,) in con.execute(
            "SELECT s.grid_code FROM grids AS s JOIN grids AS m ON m.grid_code = s.parent_code "
            "WHERE s.level = 'small' AND m.parent_code = ?", [large]).fetchall()}
    finally:
        con.close()
    users = tmp_path / "users.toml"
    add_user(users, "ann", role="official", scope=[large], password=OFFICIAL_PASSWORD)
    for name, value in (("MINQING_DB", demo_db), ("MINQING_CLOCK", "data"), ("MINQING_USERS", users),
                        ("MINQING_AUDIT", tmp_path / "audit.sqlite")):
        monkeypatch.setenv(name, str(value))
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.text_input(key="auth_username").input("ann")
    at.text_input(key="auth_password").input(OFFICIAL_PASSWORD)
    next(b for b in at.button if b.label == "登录").click().run()
    at.switch_page("views/analysis.py").run()
    assert not at.exception, at.exception
    shown = set(warning_table(at)["网格"].str.split("=").str[1])
    assert shown and shown <= mine, "an official's list holds only their own grids' warnings"
    assert shown < set(expected["grid_code"]), "the city has warnings elsewhere that the official does not see"


def test_command_center_tile_and_grid_warnings(app: AppTest, hour_warnings) -> None:
    app.switch_page("views/command_center.py").run()
    assert not app.exception, app.exception
    assert warning_board().wait_settled(timeout=300), "the counts the first run started are still being computed"
    app.run()  # the tile reads the counts the page's late work made (on the first visit, after the first run)
    tile = next(m for m in app.metric if m.label == "预警")
    _, expected = hour_warnings
    spikes = int(expected["kind"].isin(["spike_7d", "spike_1d"]).sum())
    assert spikes > 0 and tile.value == f"{spikes:,}" and tile.delta == f"共 {len(expected):,} 条"
    app.switch_page("views/analysis.py").run()
    first = warning_table(app)["网格"].iloc[0].split("=")[1]
    app.switch_page("views/grid_detail.py")
    app.query_params["grid"] = first
    app.run()
    assert not app.exception, app.exception
    assert "本网格预警" in [s.value for s in app.subheader]
    assert any("说明" in d.value.columns and len(d.value) for d in app.dataframe)


def hand_context(tmp_path: Path, as_of: dt.datetime, principal: Principal) -> PageContext:
    """A context on a store file that does not exist: anything that queried it would fail."""
    store = Store(tmp_path / "absent.duckdb", (1, 2, 3)).as_principal(principal)
    summary = StoreSummary(is_store=True)
    return PageContext(store=store, summary=summary, as_of=as_of, start=None, end=None, window_label="最近30天",
                       where=None, principal=principal)  # type: ignore[arg-type]


def test_the_tile_reads_the_board_and_computes_nothing(tmp_path: Path) -> None:
    as_of = dt.datetime(2025, 12, 31, 23, 11)
    official = Principal("ann", "official", scope=("L1",))
    ctx = hand_context(tmp_path, as_of, official)
    other = hand_context(tmp_path, as_of, Principal("cc", "command_center"))
    (tile,) = warning_tiles(ctx)
    assert (tile.label, tile.value, tile.delta) == ("预警", "—", None) and "正在计算" in tile.help
    board = warning_board()
    board.put(board_key(ctx), WarningCounts(dt.datetime(2025, 12, 31, 22), 9, 1))
    (tile,) = warning_tiles(ctx)
    assert (tile.value, tile.delta) == ("1", "共 9 条") and "本小时的预警计算中" in tile.help
    board.put(board_key(ctx), WarningCounts(dt.datetime(2025, 12, 31, 23), 12, 3))
    (tile,) = warning_tiles(ctx)
    assert (tile.value, tile.delta, tile.delta_arrow) == ("3", "共 12 条", "off") and "计算中" not in tile.help
    assert "统计时点 2025-12-31 23:00" in tile.help
    assert warning_tiles(other)[0].value == "—", "another jurisdiction's counts are its own"


def test_the_board_keeps_the_latest_hour_and_a_bounded_number_of_versions() -> None:
    board = WarningBoard(size=2)
    board.put("a", WarningCounts(dt.datetime(2025, 1, 1, 10), 5, 1))
    board.put("a", WarningCounts(dt.datetime(2025, 1, 1, 9), 7, 2))  # a late answer for an earlier hour
    assert board.get("a") == WarningCounts(dt.datetime(2025, 1, 1, 10), 5, 1)
    board.put("b", WarningCounts(dt.datetime(2025, 1, 1, 10), 1, 0))
    board.put("c", WarningCounts(dt.datetime(2025, 1, 1, 10), 1, 0))
    assert board.get("a") is None and board.get("c") is not None


def test_spike_warnings_turn_the_wall_tile_red() -> None:
    def tile(value: str) -> Tile:
        return Tile("预警", value, "共 9 条", "off", "各类预警", "", delta_arrow="off")

    assert "mq-kpi mq-alarm" in strip_html([tile("2")])
    assert "mq-alarm" not in strip_html([tile("0")]) and "mq-alarm" not in strip_html([tile("—")])
    assert "共 9 条 <span>各类预警</span>" in strip_html([tile("2")])


def test_the_board_lets_one_caller_compute_each_hour_and_says_when_all_are_done() -> None:
    board, key, moment = WarningBoard(), ("store", (1, 2, 3), ("wall", ())), dt.datetime(2025, 12, 31, 23)
    assert board.wait_settled(timeout=0)
    assert board.claim(key, moment) and not board.claim(key, moment), "a second refresh must not start it again"
    assert board.claim(key, moment + dt.timedelta(hours=1)), "the next hour is its own work"
    assert not board.wait_settled(timeout=0)
    board.release(key, moment)
    board.release(key, moment + dt.timedelta(hours=1))
    assert board.wait_settled(timeout=0) and board.claim(key, moment)
