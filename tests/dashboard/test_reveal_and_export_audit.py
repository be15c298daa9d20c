"""Personal data on 网格详情 (masked for all; reveal only for officials and admins, audited first) and the audit
entries of dashboard downloads and CLI exports, on a private copy of the demo city."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_page_signin import RecordingManager  # records the app's media managers (deferred downloads)
from streamlit.testing.v1 import AppTest

from access.accounts import add_user
from access.audit import AuditFilter, AuditLog, default_audit_path
from store.schema import connect
from layers.personal import mask_name, mask_phone
from minqing.cli import main

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PASSWORDS = {"admin1": "admin password 1", "analyst1": "analyst password 1"}


@pytest.fixture(scope="module")
def users_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("users") / "users.toml"
    add_user(path, "admin1", role="admin", password=PASSWORDS["admin1"])
    add_user(path, "analyst1", role="analyst", password=PASSWORDS["analyst1"])
    return path


@pytest.fixture()
def env(monkeypatch, tmp_path: Path, demo_db: Path, users_template: Path):
    """A copy of the demo store (its audit log lands in tmp_path), a users file, the data clock."""
    db = tmp_path / "minqing.duckdb"
    shutil.copyfile(demo_db, db)
    users = tmp_path / "users.toml"
    shutil.copyfile(users_template, users)
    monkeypatch.delenv("MINQING_AUDIT", raising=False)
    monkeypatch.setenv("MINQING_DB", str(db))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    monkeypatch.setenv("MINQING_USERS", str(users))
    monkeypatch.setattr("streamlit.testing.v1.app_test.MediaFileManager", RecordingManager)
    return db, AuditLog(default_audit_path(db))


def signed_in(username: str, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input(key="auth_username").input(username)
    at.text_input(key="auth_password").input(PASSWORDS[username])
    (button,) = [b for b in at.button if b.label == "登录"]
    button.click().run()
    assert not at.exception, at.exception
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def people_of(db: Path) -> dict[str, list[tuple]]:
    con = connect(str(db), read_only=True)
    try:
        frame = con.execute("SELECT event_id, name, phone FROM persons WHERE name IS NOT NULL").df()
    finally:
        con.close()
    return {e: list(zip(g["name"], g["phone"])) for e, g in frame.groupby("event_id")}


def choose_event_with_people(at: AppTest, db: Path) -> tuple[str, list[tuple]]:
    people = people_of(db)
    box = at.radio(key="drill_people_event")
    event_id = next(e for e in box.options if e in people)
    box.set_value(event_id).run()
    assert not at.exception, at.exception
    return event_id, people[event_id]


def people_table(at: AppTest):
    (table,) = [d.value for d in at.dataframe if "姓名" in d.value.columns]
    return table


def test_an_analyst_sees_masked_people_and_no_reveal_button(env):
    db, log = env
    at = signed_in("analyst1", "views/grid_detail.py")
    event_id, people = choose_event_with_people(at, db)
    table = people_table(at)
    assert list(table["姓名"]) == [mask_name(n) for n, _ in people]
    names = {n for n, _ in people}
    assert not names & set(table["姓名"]), "no full name is shown"
    assert "显示完整信息" not in [b.label for b in at.button]
    assert log.count(AuditFilter(actions=("reveal",))) == 0


def test_an_admin_reveals_one_event_and_the_reveal_is_audited_first(env):
    db, log = env
    at = signed_in("admin1", "views/grid_detail.py")
    event_id, people = choose_event_with_people(at, db)
    assert list(people_table(at)["电话"]) == [mask_phone(p) if p else None for _, p in people]
    (button,) = [b for b in at.button if b.label == "显示完整信息"]
    button.click().run()
    assert not at.exception, at.exception
    table = people_table(at)
    assert list(table["姓名"]) == [n for n, _ in people]
    (entry,) = log.entries(AuditFilter(actions=("reveal",))).itertuples()
    assert (entry.username, entry.role, entry.target, entry.outcome) == ("admin1", "admin", event_id, "success")
    at.run()
    assert log.count(AuditFilter(actions=("reveal",))) == 1, "a rerun of the same reveal is not a new reveal"
    other = next(e for e in at.radio(key="drill_people_event").options if e != event_id)
    at.radio(key="drill_people_event").set_value(other).run()
    assert "显示完整信息" in [b.label for b in at.button], "another event starts masked again"


def test_a_dashboard_download_is_audited_with_its_rows(env):
    db, log = env
    at = signed_in("analyst1", "views/trends.py")
    manager = RecordingManager.made[-1]
    button = at.download_button[0]
    manager.execute_deferred(button.proto.deferred_file_id)
    (entry,) = log.entries(AuditFilter(actions=("export",))).itertuples()
    assert (entry.username, entry.target) == ("analyst1", "disputes")
    assert entry.rows > 0 and '"dashboard"' in entry.detail_json and '"year_from"' in entry.detail_json


def test_a_cli_export_is_audited_with_its_rows(env, tmp_path: Path):
    db, log = env
    output = tmp_path / "events.csv"
    result = CliRunner().invoke(main, ["export", "events", "--db", str(db), "--from", "2025-01-01", "-o", str(output)])
    assert result.exit_code == 0, result.output
    written = sum(1 for _ in output.open(encoding="utf-8-sig")) - 1
    (entry,) = log.entries(AuditFilter(actions=("export",))).itertuples()
    assert (entry.username, entry.target, entry.rows) == ("system", "events", written)
    assert "minqing export events" in entry.detail_json and "2025-01-01" in entry.detail_json


def rendered_text(at: AppTest) -> str:
    """Every text a person sees on the page: markdown, captions, code blocks."""
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "code") for e in getattr(at, kind))


def test_only_administrators_see_where_the_store_lives(env) -> None:
    db, _ = env
    analyst = signed_in("analyst1", "views/trends.py")
    text = rendered_text(analyst)
    assert "等效命令" in text or "minqing export" in text
    assert str(db) not in text and str(db.parent) not in text
    assert "--db DB.duckdb" in text
    admin = signed_in("admin1", "views/trends.py")
    assert str(db) in rendered_text(admin)


def test_downloads_say_so_when_the_audit_log_cannot_be_written(env) -> None:
    db, log = env
    at = signed_in("analyst1", "views/trends.py")
    assert [b for b in at.get("download_button")]  # offered while the log is writable
    for suffix in ("", "-wal", "-shm"):  # the log becomes unwritable even for root: a folder where the file was
        Path(str(log.path) + suffix).unlink(missing_ok=True)
    log.path.mkdir()
    at.run()
    assert not at.exception, at.exception
    assert any("审计日志无法写入" in e.value for e in at.error)
    assert not [b for b in at.get("download_button")]
