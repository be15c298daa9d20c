"""Sign-in under Streamlit's AppTest on the fixture store: the password form, audited failures and rate limiting,
the pages and sidebar per role, the admin-only audit page (its views and downloads audited), sign-out, accounts
changed under a running session, the SSO mapping, and open mode (no users file)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

import time

from access.accounts import add_user, read_users, remove_user, set_auth
from access.sessions import SessionStore, sessions_path
from access.audit import MAX_FAILURES, AuditFilter, AuditLog
from fixtures import FixtureStore, fixture_store  # noqa: F401  (pytest fixture)

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PASSWORDS = {"admin1": "admin password 1", "analyst1": "analyst password 1", "bob": "official password 1"}


class RecordingManager(MediaFileManager):
    """AppTest's media file manager, kept so a test can make a deferred download's bytes as a click would."""

    made: list[RecordingManager] = []

    def __init__(self, storage) -> None:
        super().__init__(storage)
        RecordingManager.made.append(self)


@pytest.fixture(scope="module")
def users_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One users file hashed once per module (argon2id is slow on purpose); tests take a copy."""
    path = tmp_path_factory.mktemp("users") / "users.toml"
    add_user(path, "admin1", role="admin", name="管理员", password=PASSWORDS["admin1"])
    add_user(path, "analyst1", role="analyst", name="分析员", password=PASSWORDS["analyst1"])
    add_user(path, "bob", role="official", scope=["L1"], name="张三", email="bob@example.gov.cn",
             password=PASSWORDS["bob"])
    return path


@pytest.fixture()
def env(monkeypatch, tmp_path, fixture_store: FixtureStore, users_template: Path):  # noqa: F811
    """The fixture store, a private copy of the users file and a private audit log."""
    users = tmp_path / "users.toml"
    shutil.copyfile(users_template, users)
    audit = tmp_path / "audit.sqlite"
    monkeypatch.setenv("MINQING_DB", str(fixture_store.path))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    monkeypatch.setenv("MINQING_USERS", str(users))
    monkeypatch.setenv("MINQING_AUDIT", str(audit))
    monkeypatch.setattr("streamlit.testing.v1.app_test.MediaFileManager", RecordingManager)
    return users, AuditLog(audit)


def start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="auth_username").input(username)
    at.text_input(key="auth_password").input(password)
    (button,) = [b for b in at.button if b.label == "登录"]
    button.click().run()
    assert not at.exception, at.exception
    return at


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def sidebar_text(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in at.sidebar.markdown)


def errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


def signed_in(at: AppTest) -> bool:
    return at.session_state["auth_principal"] is not None if "auth_principal" in at.session_state else False


def test_the_form_comes_before_any_page(env):
    at = start()
    assert titles(at) == ["民情地图"] and [s.value for s in at.subheader] == ["登录"]
    assert [t.label for t in at.text_input] == ["用户名", "密码"]
    assert at.text_input(key="auth_password").proto.type == at.text_input(key="auth_password").proto.PASSWORD
    assert not at.metric and not at.get("component_instance") and not at.sidebar.markdown


def test_wrong_password_is_refused_and_audited(env):
    _, log = env
    at = sign_in(start(), "Bob", "not the password")
    assert "用户名或密码错误。" in errors(at) and titles(at) == ["民情地图"] and not signed_in(at)
    at = sign_in(at, "nobody", "whatever password")
    assert "用户名或密码错误。" in errors(at), "unknown users get the same message"
    entries = log.entries()
    assert list(entries["username"]) == ["nobody", "bob"]
    assert set(entries["action"]) == {"signin"} and set(entries["outcome"]) == {"failure"}
    raw = log.path.read_bytes() + b"".join(p.read_bytes() for p in log.path.parent.glob("audit.sqlite-*"))
    assert b"not the password" not in raw and b"whatever password" not in raw


def test_right_password_shows_the_pages_and_the_user(env, fixture_store: FixtureStore):  # noqa: F811
    _, log = env
    at = sign_in(start(), "bob", PASSWORDS["bob"])
    assert titles(at) == ["指挥中心"] and signed_in(at)
    sidebar = sidebar_text(at)
    assert "张三（bob）" in sidebar and "网格负责人" in sidebar and "城东片区（L1）" in sidebar
    assert [b.label for b in at.sidebar.button] == ["退出登录"]
    captions = "\n".join(c.value for c in at.sidebar.caption)
    assert "统计时点" in captions, "the frame ran"
    assert str(fixture_store.path) not in captions  # where the store lives is shown to administrators only
    assert at.session_state["frame_context"].principal.scope == ("L1",)
    assert PASSWORDS["bob"] not in repr([at.session_state[k] for k in at.session_state]), "the password is not kept"
    (entry,) = log.entries().itertuples()
    assert (entry.username, entry.role, entry.action, entry.outcome) == ("bob", "official", "signin", "success")
    at.switch_page("views/trends.py").run()
    assert not at.exception and titles(at) == ["趋势与导出"]


def test_a_deep_link_survives_the_sign_in(env):
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("views/grid_detail.py").run()
    assert titles(at) == ["民情地图"]
    assert titles(sign_in(at, "analyst1", PASSWORDS["analyst1"])) == ["网格详情"]


def test_an_analyst_does_not_get_the_audit_page(env):
    _, log = env
    at = sign_in(start(), "analyst1", PASSWORDS["analyst1"])
    assert "统计分析员" in sidebar_text(at) and "全市" in sidebar_text(at)
    with pytest.raises(ValueError, match="Could not find a navigation page") as caught:
        at.switch_page("views/audit.py")  # AppTest knows only the pages app.py registered for this user
    known = str(caught.value).split("Known pages:")[1]
    assert "trends.py" in known and "audit.py" not in known
    assert log.count(AuditFilter(actions=("audit_view",))) == 0


def test_an_admin_reads_and_downloads_the_audit_log(env):
    _, log = env
    at = sign_in(start(), "analyst1", "wrong password")
    at = sign_in(at, "admin1", PASSWORDS["admin1"])
    at.switch_page("views/audit.py").run()
    assert not at.exception and titles(at) == ["审计日志"]
    (table,) = [d.value for d in at.dataframe]
    assert {"时间", "用户", "角色", "操作", "结果"} <= set(table.columns)
    assert list(table["用户"]) == ["admin1", "analyst1"] and list(table["结果"]) == ["成功", "失败"]
    assert log.count(AuditFilter(actions=("audit_view",), usernames=("admin1",))) == 1
    at.run()
    assert log.count(AuditFilter(actions=("audit_view",))) == 1, "a rerun with the same filters is one view"
    at.multiselect(key="audit_actions").set_value(["signin"]).run()
    assert log.count(AuditFilter(actions=("audit_view",))) == 2, "new filters are a new view"
    assert "minqing audit export" in at.code[0].value and "--action signin" in at.code[0].value

    (button,) = at.download_button
    manager = RecordingManager.made[-1]
    url = manager.execute_deferred(button.proto.deferred_file_id)
    data = manager.read_file(url.rsplit("/", 1)[1]).content.decode("utf-8-sig")
    assert data.splitlines()[0].startswith("id,at,username") and "analyst1" in data
    (export,) = log.entries(AuditFilter(actions=("audit_export",))).itertuples()
    assert export.username == "admin1" and export.rows == 2 and '"signin"' in export.detail_json


def test_sign_out_is_audited_and_shows_the_form(env):
    _, log = env
    at = sign_in(start(), "admin1", PASSWORDS["admin1"])
    at.button(key="auth_signout").click().run()
    assert not at.exception and titles(at) == ["民情地图"] and not signed_in(at)
    assert "已退出登录。" in [w.value for w in at.warning]
    assert list(log.entries()["action"]) == ["signout", "signin"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("views/audit.py")  # no audit page after signing out


def test_repeated_failures_lock_the_username(env):
    _, log = env
    at = start()
    for _ in range(MAX_FAILURES):
        at = sign_in(at, "bob", "guessing password")
    at = sign_in(at, "bob", PASSWORDS["bob"])
    assert "登录失败次数过多" in errors(at) and not signed_in(at)
    assert list(log.entries()["outcome"])[:2] == ["refused", "failure"]
    assert titles(sign_in(at, "admin1", PASSWORDS["admin1"])) == ["指挥中心"], "other users are not locked"


def test_a_removed_or_changed_account_is_signed_out(env):
    users, log = env
    at = sign_in(start(), "bob", PASSWORDS["bob"])
    remove_user(users, "bob")
    at.run()
    assert titles(at) == ["民情地图"] and not signed_in(at)
    assert "重新登录" in "\n".join(w.value for w in at.warning)
    assert '"account_changed"' in log.entries(AuditFilter(actions=("signout",)))["detail_json"].iloc[0]


def test_an_idle_session_expires(env):
    users, log = env
    at = sign_in(start(), "bob", PASSWORDS["bob"])
    later = SessionStore(sessions_path(users), clock=lambda: time.time() + 13 * 3600)  # the idle limit is 12 h
    assert later.check(at.session_state["auth_session"], read_users(users), idle_hours=12).reason == "idle"
    at.run()
    assert titles(at) == ["民情地图"] and "长时间未使用" in "\n".join(w.value for w in at.warning)
    assert '"idle"' in log.entries(AuditFilter(actions=("signout",)))["detail_json"].iloc[0]


def test_a_broken_users_file_fails_closed(env):
    users, _ = env
    users.write_text('[users.eve]\nrole = "admin"\npassword = "plain"\n', encoding="utf-8")
    at = start()
    assert "登录配置有误" in errors(at) and not at.text_input and not at.metric


def test_sso_identity_maps_to_an_account(env):
    users, log = env
    set_auth(users, oidc=True)
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["使用统一身份认证登录"] and not at.text_input
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": True, "email": "BOB@example.gov.cn", "name": "Bob"}
    at.run()
    assert not at.exception and titles(at) == ["指挥中心"] and "张三（bob）" in sidebar_text(at)
    (entry,) = log.entries().itertuples()
    assert entry.username == "bob" and '"oidc"' in entry.detail_json


def test_an_unknown_sso_identity_is_refused_and_audited(env):
    users, log = env
    set_auth(users, oidc=True)
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = {"is_logged_in": True, "email": "eve@example.gov.cn"}
    at.run()
    at.run()
    assert "未在民情地图登记" in errors(at) and not at.metric
    (entry,) = log.entries().itertuples()  # logged once per session, not per rerun
    assert (entry.username, entry.outcome) == ("eve@example.gov.cn", "failure")


def test_open_mode_says_so(monkeypatch, fixture_store: FixtureStore, tmp_path):  # noqa: F811
    monkeypatch.setenv("MINQING_DB", str(fixture_store.path))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    monkeypatch.delenv("MINQING_USERS", raising=False)
    monkeypatch.setenv("MINQING_AUDIT", str(tmp_path / "audit.sqlite"))
    at = start()
    assert titles(at) == ["指挥中心"]
    assert any("未启用登录" in m.value for m in at.main.markdown)
    assert "未启用登录" in sidebar_text(at) and not at.sidebar.button
    assert at.session_state["frame_context"].principal.username == "system"
    at.switch_page("views/audit.py").run()  # open mode runs as SYSTEM, an administrator
    assert not at.exception and titles(at) == ["审计日志"]
