"""网格人员与巡查 on 网格详情 and 巡查走访与事件（按月） on 趋势与导出 under AppTest, on the tiny patrol project: figures
equal to pandas over the raw tables, phones masked unless an administrator's reveal was audited, the check-in pager,
an official kept to their town, and a store without patrol tables showing a caption."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from access.accounts import add_user
from etl.config import load_config
from etl.load import load_project
from fixtures import FixtureStore, fixture_store  # noqa: F401  (pytest fixture)
from patrol_project import AS_OF, write_patrol_project

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
GRID_PAGE = "views/grid_detail.py"
TRENDS_PAGE = "views/trends.py"
PASSWORD = "patrol test password 1"
NO_DATA = "未加载网格人员与巡查走访数据"
WINDOW_START = AS_OF - dt.timedelta(days=30)  # the sidebar's default window: 最近30天


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The loaded store of the patrol project."""
    folder = tmp_path_factory.mktemp("patrol_project")
    load_project(load_config(write_patrol_project(folder)))
    return folder / "store.duckdb"


@pytest.fixture(scope="module")
def raw(project: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(project), read_only=True)
    try:
        out = {t: con.execute(f"SELECT * FROM {t}").df() for t in ("visits", "roster", "roster_grids", "events")}
        out["grids"] = con.execute("SELECT grid_code, name, level, parent_code, population FROM grids").df()
    finally:
        con.close()
    return out


def _env(monkeypatch, db: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("MINQING_DB", str(db))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    monkeypatch.setenv("MINQING_AUDIT", str(tmp_path / "audit.sqlite"))
    monkeypatch.delenv("MINQING_USERS", raising=False)
    monkeypatch.delenv("MINQING_NEGLECT_DAYS", raising=False)


def open_page(monkeypatch, db: Path, tmp_path: Path, page: str = GRID_PAGE, grid: str | None = None) -> AppTest:
    _env(monkeypatch, db, tmp_path)
    at = AppTest.from_file(APP, default_timeout=60)
    if grid is not None:
        at.query_params["grid"] = grid
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def signed_in(monkeypatch, db: Path, tmp_path: Path, role: str, scope: tuple[str, ...] = ()) -> AppTest:
    _env(monkeypatch, db, tmp_path)
    users = tmp_path / "users.toml"
    add_user(users, "user1", role=role, scope=list(scope), name="测试用户", password=PASSWORD)
    monkeypatch.setenv("MINQING_USERS", str(users))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="auth_username").input("user1")
    at.text_input(key="auth_password").input(PASSWORD)
    (button,) = [b for b in at.button if b.label == "登录"]
    button.click().run()
    assert not at.exception, at.exception
    return at


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    (table,) = [d.value for d in at.dataframe if column in d.value.columns]
    return table


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def masked(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


# --------------------------------------------------------------------------- independent expectations

def expected_figures(raw: dict[str, pd.DataFrame], code: str, neglect_days: int = 7) -> dict[str, str]:
    """The metric texts of grid `code`, from the raw tables with pandas."""
    grids = raw["grids"].set_index("grid_code")
    level = grids.loc[code, "level"]
    visits = raw["visits"][raw["visits"]["visited_at"] <= AS_OF]
    week, month = AS_OF - dt.timedelta(days=7), AS_OF - dt.timedelta(days=30)
    mine = visits[visits[f"grid_{level}"] == code]
    last = mine["visited_at"].max()
    small = grids[grids["level"] == "small"].copy()
    small["medium"] = small["parent_code"]
    small["large"] = small["medium"].map(grids["parent_code"])
    small["small"] = small.index
    inside = small[small[level] == code]
    last_by_small = visits.groupby("grid_small")["visited_at"].max().reindex(inside.index)
    visited = int((last_by_small > week).sum())
    neglected = int((last_by_small.isna() | (last_by_small <= AS_OF - dt.timedelta(days=neglect_days))).sum())
    roster = raw["roster"]
    in_post = roster[(roster["start_date"].isna() | (roster["start_date"] <= AS_OF))
                     & (roster["end_date"].isna() | (roster["end_date"] > AS_OF))
                     & roster["role"].isin(["grid_leader", "grid_worker"])]
    rg = raw["roster_grids"]
    workers = rg[(rg[f"grid_{level}"] == code) & rg["worker_id"].isin(in_post["worker_id"])]["worker_id"].nunique()
    population = grids.loc[code, "population"]
    days = math.floor((AS_OF - last).total_seconds() / 86400) if pd.notna(last) else None
    return {
        "最近走访": last.strftime("%Y-%m-%d") if pd.notna(last) else "从未走访",
        "距上次走访（天）": "—" if days is None else f"{days:,}",
        "近7日走访": f"{int((mine['visited_at'] > week).sum()):,}",
        "近30日走访": f"{int((mine['visited_at'] > month).sum()):,}",
        "近7日走访覆盖率": f"{visited / len(inside):.1%}",
        "失管小网格": f"{neglected:,}",
        "网格员": f"{workers:,}",
        "每千人网格员": f"{workers / population * 1000:.2f}" if pd.notna(population) and population else "—",
    }


def expected_people(raw: dict[str, pd.DataFrame], code: str) -> pd.DataFrame:
    """The roster rows of the people of grid `code`, a grid inside it or a grid above it."""
    grids = raw["grids"].set_index("grid_code")
    above, current = set(), code
    while pd.notna(grids.loc[current, "parent_code"]):
        current = grids.loc[current, "parent_code"]
        above.add(current)
    rg = raw["roster_grids"]
    hit = rg[(rg[["grid_code", "grid_small", "grid_medium", "grid_large"]] == code).any(axis=1)
             | rg["grid_code"].isin(above)]
    return raw["roster"][raw["roster"]["worker_id"].isin(hit["worker_id"])]


def expected_visits(raw: dict[str, pd.DataFrame], code: str) -> pd.DataFrame:
    """The check-ins in grid `code` in the default window, newest first."""
    v = raw["visits"]
    level = raw["grids"].set_index("grid_code").loc[code, "level"]
    mine = v[(v[f"grid_{level}"] == code) & (v["visited_at"] >= WINDOW_START) & (v["visited_at"] < AS_OF)]
    mine = mine.sort_values("visit_id").sort_values("visited_at", ascending=False, kind="stable")
    names = raw["roster"].set_index("worker_id")["name"]
    return mine.assign(person=[names.get(w, w) for w in mine["worker_id"]])


# --------------------------------------------------------------------------- 网格详情

@pytest.mark.parametrize("code", ["S1", "S3", "M1", "L2"])
def test_figures_equal_an_independent_count(monkeypatch, tmp_path, project, raw, code):
    at = open_page(monkeypatch, project, tmp_path, grid=code)
    assert "网格人员与巡查" in [s.value for s in at.subheader]
    shown = metrics(at)
    expected = expected_figures(raw, code)
    assert {k: shown[k] for k in expected} == expected
    help_text = next(m for m in at.metric if m.label == "失管小网格").help
    assert "7 天" in help_text and "MINQING_NEGLECT_DAYS" in help_text


def test_neglect_days_setting_changes_the_count(monkeypatch, tmp_path, project, raw):
    _env(monkeypatch, project, tmp_path)
    monkeypatch.setenv("MINQING_NEGLECT_DAYS", "1")
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["grid"] = "L1"
    at.switch_page(GRID_PAGE).run()
    assert not at.exception, at.exception
    assert metrics(at)["失管小网格"] == expected_figures(raw, "L1", neglect_days=1)["失管小网格"]


def test_admin_sees_masked_phones_until_an_audited_reveal(monkeypatch, tmp_path, project, raw):
    at = open_page(monkeypatch, project, tmp_path, grid="S1")  # no users file: the open app runs as SYSTEM (admin)
    people = table_with(at, "联系电话")
    assert list(people.columns) == ["身份", "姓名", "联系电话", "负责网格", "联系户数", "在岗", "最近签到",
                                    "近30日走访", "入职日期", "离岗日期"]
    roster = expected_people(raw, "S1")
    assert set(people["姓名"]) == set(roster["name"])
    assert set(people["联系电话"]) == {masked(p) for p in roster["phone"]}
    assert not (tmp_path / "audit.sqlite").exists() or not _reveals(tmp_path)

    (button,) = [b for b in at.button if b.label == "显示联系电话"]
    button.click().run()
    assert not at.exception, at.exception
    assert set(table_with(at, "联系电话")["联系电话"]) == set(roster["phone"])
    (entry,) = _reveals(tmp_path)
    assert entry[:3] == ("system", "admin", "S1")
    assert json.loads(entry[3]) == {"page": "网格详情", "what": "grid_people_phones"}
    at.run()  # later runs keep showing the revealed phones without asking (or recording) again
    assert "显示联系电话" not in [b.label for b in at.button] and len(_reveals(tmp_path)) == 1
    assert set(table_with(at, "联系电话")["联系电话"]) == set(roster["phone"])


def test_no_audit_log_no_phones(monkeypatch, tmp_path, project, raw):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("", encoding="utf-8")
    _env(monkeypatch, project, tmp_path)
    monkeypatch.setenv("MINQING_AUDIT", str(blocker / "audit.sqlite"))  # cannot be created
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["grid"] = "S1"
    at.switch_page(GRID_PAGE).run()
    assert not at.exception, at.exception
    (button,) = [b for b in at.button if b.label == "显示联系电话"]
    button.click().run()
    assert not at.exception, at.exception
    assert any("审计日志" in e.value for e in at.error)
    roster = expected_people(raw, "S1")
    assert set(table_with(at, "联系电话")["联系电话"]) == {masked(p) for p in roster["phone"]}


def _reveals(tmp_path: Path) -> list[tuple]:
    con = sqlite3.connect(tmp_path / "audit.sqlite")
    try:
        return con.execute("SELECT username, role, target, detail_json FROM audit WHERE action = 'reveal'").fetchall()
    finally:
        con.close()


def test_other_roles_see_masked_phones_only(monkeypatch, tmp_path, project, raw):
    at = signed_in(monkeypatch, project, tmp_path, "command_center")
    at.query_params["grid"] = "S1"
    at.switch_page(GRID_PAGE).run()
    assert not at.exception, at.exception
    assert "显示联系电话" not in [b.label for b in at.button]
    roster = expected_people(raw, "S1")
    people = table_with(at, "联系电话")
    assert set(people["姓名"]) == set(roster["name"])  # names are public (网格公示牌)
    assert set(people["联系电话"]) == {masked(p) for p in roster["phone"]}
    assert any("仅系统管理员" in c for c in captions(at))


def test_an_official_of_another_town_cannot_see_the_people(monkeypatch, tmp_path, project, raw):
    at = signed_in(monkeypatch, project, tmp_path, "official", ("L2",))
    at.query_params["grid"] = "S1"
    at.switch_page(GRID_PAGE).run()
    assert not at.exception, at.exception
    assert at.warning and at.subheader[0].value == "乙镇"  # S1 is not theirs: the page shows their town
    people = table_with(at, "联系电话")
    l1 = expected_people(raw, "S1")
    assert set(people["姓名"]) == set(expected_people(raw, "L2")["name"]) == {"孙九", "周十"}
    assert not set(people["姓名"]) & set(l1["name"])
    at.query_params["grid"] = "S5"
    at.run()
    assert not at.exception and at.subheader[0].value == "南一"
    assert set(table_with(at, "联系电话")["姓名"]) == {"孙九", "周十"}


def test_visit_history_pages_through_the_window(monkeypatch, tmp_path, project, raw):
    at = open_page(monkeypatch, project, tmp_path, grid="S1")
    expected = expected_visits(raw, "S1")
    assert len(expected) > 50
    assert f"共 {len(expected):,} 次签到，本页偏离网格 0 次；时间范围同侧栏。" in captions(at)
    table = table_with(at, "偏离网格")
    assert list(table.columns) == ["时间", "类型", "人员", "身份", "跟进事件", "偏离网格", "地址", "备注"]
    assert list(pd.to_datetime(table["时间"])) == list(expected["visited_at"].iloc[:50])
    assert list(table["人员"]) == list(expected["person"].iloc[:50])
    assert "第 1 / 2 页，每页 50 次" in captions(at)
    at.button(key="drill_visits_next").click().run()
    assert not at.exception, at.exception
    assert at.number_input(key="drill_visits_page").value == 2
    assert at.number_input(key="drill_page").value == 1  # the events' pager is its own
    table = table_with(at, "偏离网格")
    assert list(pd.to_datetime(table["时间"])) == list(expected["visited_at"].iloc[50:])
    assert not at.warning


def test_off_beat_check_ins_are_marked(monkeypatch, tmp_path, project, raw):
    at = open_page(monkeypatch, project, tmp_path, grid="S4")
    table = table_with(at, "偏离网格")
    expected = expected_visits(raw, "S4")
    assert len(table) == len(expected) == 1
    km = expected["beat_km"].iloc[0]
    assert table["偏离网格"].iloc[0] == f"⚠ {km:.1f} km" and table["类型"].iloc[0] == "日常巡查"
    assert table["人员"].iloc[0] == "张三" and table["身份"].iloc[0] == "网格员"


def test_the_city_shows_a_caption(monkeypatch, tmp_path, project):
    at = open_page(monkeypatch, project, tmp_path)
    assert at.subheader[0].value == "全市"
    assert "选择一个网格查看其网格人员与巡查走访。" in captions(at)
    assert not [d for d in at.dataframe if "联系电话" in d.value.columns]


# --------------------------------------------------------------------------- 趋势与导出

def expected_months(raw: dict[str, pd.DataFrame], level: str | None = None, code: str | None = None) -> pd.DataFrame:
    start, end = dt.datetime(2023, 1, 1), dt.datetime(2023, 9, 1)  # the data's year, to the month after as_of
    column = "grid_large" if level is None else f"grid_{level}"

    def pick(frame: pd.DataFrame, time: str) -> pd.DataFrame:
        keep = frame[column].notna() if code is None else frame[column] == code
        return frame[keep & (frame[time] >= start) & (frame[time] < end)]

    visits, events = pick(raw["visits"], "visited_at"), pick(raw["events"], "reported_at")
    months = [f"2023-{m:02d}" for m in range(1, 9)]

    def per_month(frame: pd.DataFrame, time: str) -> list[int]:
        counts = frame[time].dt.strftime("%Y-%m").value_counts()
        return [int(counts.get(m, 0)) for m in months]

    return pd.DataFrame({
        "月份": months, "事件数": per_month(events, "reported_at"), "走访次数": per_month(visits, "visited_at"),
        "入户走访": per_month(visits[visits["visit_type"] == "household"], "visited_at"),
        "日常巡查": per_month(visits[visits["visit_type"] == "patrol"], "visited_at"),
        "事件跟进": per_month(visits[visits["visit_type"] == "follow_up"], "visited_at"),
    })


def test_trends_monthly_patrols_next_to_events(monkeypatch, tmp_path, project, raw):
    at = open_page(monkeypatch, project, tmp_path, page=TRENDS_PAGE)
    assert "巡查走访与事件（按月）" in [s.value for s in at.subheader]
    table = table_with(at, "走访次数")
    pd.testing.assert_frame_equal(table.reset_index(drop=True), expected_months(raw), check_dtype=False)
    assert int(table["事件数"].sum()) == 5 and int(table["走访次数"].sum()) == len(raw["visits"])

    at.selectbox(key="trends_level").select("small").run()
    at.selectbox(key="trends_grid_small").select("S5").run()
    assert not at.exception, at.exception
    table = table_with(at, "走访次数")
    pd.testing.assert_frame_equal(table.reset_index(drop=True), expected_months(raw, "small", "S5"),
                                  check_dtype=False)


# --------------------------------------------------------------------------- a store without patrol data

@pytest.mark.parametrize("tables", ["empty", "dropped"])
def test_a_store_without_patrol_data_shows_a_caption(monkeypatch, tmp_path, fixture_store, tables):
    db = tmp_path / "store.duckdb"
    shutil.copyfile(fixture_store.path, db)
    if tables == "dropped":  # a store made before the patrol tables
        con = duckdb.connect(str(db))
        try:
            for table in ("roster_grids", "visits", "roster"):
                con.execute(f"DROP TABLE {table}")
        finally:
            con.close()
    at = open_page(monkeypatch, db, tmp_path, grid="L1M1S1")
    assert NO_DATA in captions(at)
    assert not [d for d in at.dataframe if "联系电话" in d.value.columns or "偏离网格" in d.value.columns]
    assert not {"最近走访", "失管小网格"} & set(metrics(at))
    at.switch_page(TRENDS_PAGE).run()
    assert not at.exception, at.exception
    assert NO_DATA in captions(at)
    assert not [d for d in at.dataframe if "走访次数" in d.value.columns]
