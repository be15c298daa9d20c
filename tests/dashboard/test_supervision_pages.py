"""督办 and the wall under AppTest on the fixture store: the loop across roles on 事件详情, officials limited to the
event's current grid, the lists and tiles, the wall role's single page, and the pop-ups' memory."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from access.accounts import add_user, read_users
from access.actions import ActionLog, default_actions_path
from access.audit import AuditFilter, AuditLog
from access.sessions import SessionStore, sessions_path
from dashboard.widgets.command_center.alerts import new_alerts
from fixtures import FixtureStore, fixture_store  # noqa: F401  (pytest fixture)
from layers.alerts import Alert

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PASSWORDS = {"cc1": "center password 1", "bob": "official password 1", "eve": "official password 2"}


@pytest.fixture(scope="module")
def users_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.toml"
    add_user(path, "cc1", role="command_center", password=PASSWORDS["cc1"])
    add_user(path, "bob", role="official", scope=["L1"], password=PASSWORDS["bob"])
    add_user(path, "eve", role="official", scope=["L2"], password=PASSWORDS["eve"])
    add_user(path, "lobby", role="wall", password=None)
    return path


@pytest.fixture()
def env(monkeypatch, tmp_path, fixture_store: FixtureStore, users_template: Path):  # noqa: F811
    db = tmp_path / "store.duckdb"
    shutil.copyfile(fixture_store.path, db)  # the action log goes beside it
    users = tmp_path / "users.toml"
    shutil.copyfile(users_template, users)
    monkeypatch.setenv("MINQING_DB", str(db))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    monkeypatch.setenv("MINQING_USERS", str(users))
    monkeypatch.setenv("MINQING_AUDIT", str(tmp_path / "audit.sqlite"))
    return db, users, AuditLog(tmp_path / "audit.sqlite")


def signed_in(username: str, page: str | None = None, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="auth_username").input(username)
    at.text_input(key="auth_password").input(PASSWORDS[username])
    next(b for b in at.button if b.label == "登录").click().run()
    if page is not None:
        for key, value in params.items():
            at.query_params[key] = value
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def submit(at: AppTest, form_key: str, label: str) -> AppTest:
    button = next(b for b in at.button if b.label == label and form_key in str(b.proto.form_id))
    button.click().run()
    assert not at.exception, at.exception
    return at


def event_in(fixture: FixtureStore, large: str) -> str:
    events = fixture.events
    return str(events[(events["grid_large"] == large)].sort_values("reported_at").iloc[-1]["event_id"])


def test_the_loop_across_roles_on_the_event_page(env, fixture_store: FixtureStore):  # noqa: F811
    db, _, audit = env
    event = event_in(fixture_store, "L1")
    at = signed_in("cc1", "views/event_detail.py", id=event)
    assert [t.value for t in at.title] == ["事件详情"] and "该事件未被督办。" in [c.value for c in at.caption]
    at.text_area(key="event_supervision_supervise_note").input("请今日上门核实")
    submit(at, "event_supervision_supervise", "督办")

    bob = signed_in("bob", "views/event_detail.py", id=event)
    assert any("督办中" in c.value for c in bob.caption)
    assert not [b for b in bob.button if b.label == "督办"], "an official does not supervise"
    bob.text_area(key="event_supervision_feedback_note").input("已上门调解")
    bob.radio(key="event_supervision_feedback_result").set_value("done")
    submit(bob, "event_supervision_feedback", "提交反馈")

    at = signed_in("cc1", "views/event_detail.py", id=event)
    submit(at, "event_supervision_review", "核查通过")
    entries = ActionLog(default_actions_path(db)).entries()
    assert list(zip(entries["username"], entries["action"], entries["result"])) == [
        ("cc1", "supervise", ""), ("bob", "feedback", "done"), ("cc1", "confirm", "")]
    assert list(audit.entries(AuditFilter(actions=("supervision",)))["username"]) == ["cc1", "bob", "cc1"]


def test_an_official_never_sees_or_acts_on_another_towns_item(env, fixture_store: FixtureStore):  # noqa: F811
    db, _, audit = env
    theirs = event_in(fixture_store, "L1")
    at = signed_in("cc1", "views/event_detail.py", id=theirs)
    at.text_area(key="event_supervision_supervise_note").input("请处置")
    submit(at, "event_supervision_supervise", "督办")
    eve = signed_in("eve", "views/event_detail.py", id=theirs)
    assert any("不在您的辖区内" in w.value for w in eve.warning) and not eve.text_area
    eve = signed_in("eve", "views/grid_detail.py")
    assert "本网格暂无督办事项。" in [c.value for c in eve.caption]
    bob = signed_in("bob", "views/grid_detail.py")
    assert any(theirs.replace(":", "%3A") in str(m.value) for m in bob.markdown), "bob's list links the item"
    tiles = {m.label: m.value for m in signed_in("bob").metric}
    assert tiles["督办中"] == "1" and tiles["督办超期"] == "0"
    assert {m.label: m.value for m in signed_in("eve").metric}["督办中"] == "0"


def test_a_wall_account_sees_only_the_wall(env):
    _, users, audit = env
    sessions = SessionStore(sessions_path(users))
    _, link_id = sessions.wall_link(sessions.make_wall_link("lobby"))
    _, sid = sessions.start(read_users(users).accounts["lobby"], via="wall_link", link_id=link_id)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["auth_session"] = sid  # as the cookie of the wall link's session would bring it
    at.run()
    assert not at.exception, at.exception
    assert at.query_params["screen"] == "big" and not at.title and not at.sidebar.button
    page = "\n".join(str(m.value) for m in at.markdown)
    for label in ("今日新增", "超期", "督办中", "督办超期", "最新上报", "大网格 TOP10", "近24小时上报"):
        assert label in page, label
    assert len(at.get("component_instance")) == 1, "the map, and no operator switches"
    assert not at.segmented_control and not at.toggle
    with pytest.raises(ValueError, match=r"Known pages: \['[^',]*command_center.py'\]"):
        at.switch_page("views/trends.py")  # the wall's only page is the command center
    sessions.revoke_wall_links("lobby")
    again = AppTest.from_file(APP, default_timeout=60)
    again.session_state["auth_session"] = sid
    again.run()
    assert [t.value for t in again.title] == ["民情地图"] and "大屏链接已被撤销" in "\n".join(w.value for w in again.warning)

    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="auth_username").input("lobby")
    at.text_input(key="auth_password").input("anything at all")
    next(b for b in at.button if b.label == "登录").click().run()
    assert "用户名或密码错误。" in [e.value for e in at.error], "a wall has no password: only its link signs it in"


def alert(key: str) -> Alert:
    return Alert(key, "report", "新上报", "甲镇", "类别", "部门", "已上报", "12-31 09:00", ("S1",), key)


def test_pop_ups_show_only_what_is_new_since_the_page_opened():
    state: dict = {}
    assert new_alerts([alert("report:a"), alert("report:b")], state) == []  # the first look remembers
    assert new_alerts([alert("report:a"), alert("report:b")], state) == []
    fresh = new_alerts([alert("report:c"), alert("report:a")], state)
    assert [a.key for a in fresh] == ["report:c"]
    assert new_alerts([alert("report:c")], state) == []
