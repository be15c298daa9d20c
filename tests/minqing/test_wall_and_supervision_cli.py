"""`minqing users wall-link` and `minqing export supervision`: the link shown once and kept as a hash, refused for a
person's account, revoked; the 督办 export through the one export service, limited to the requester's jurisdiction,
audited, with every text cell neutralised."""

from __future__ import annotations

import datetime as dt
import shutil

import openpyxl
import pytest
from click.testing import CliRunner

from access.accounts import add_user, read_users
from access.actions import ActionLog, default_actions_path
from access.audit import AuditFilter, AuditLog, default_audit_path
from access.principal import Principal
from access.sessions import SessionStore, sessions_path
from fixtures import FixtureStore, fixture_store  # noqa: F401  (pytest fixture)
from minqing.cli import main

CC = Principal("cc1", "command_center")


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_wall_link_is_shown_once_kept_as_a_hash_and_revocable(tmp_path):
    users = tmp_path / "users.toml"
    add_user(users, "ann", role="analyst", password="analyst password 1")
    made = invoke("users", "wall-link", "lobby", "--users", str(users), "--url", "http://10.0.0.5:8501/")
    assert made.exit_code == 0, made.output
    link = made.output.strip().splitlines()[-1]
    assert link.startswith("http://10.0.0.5:8501/session/wall?key=")
    key = link.split("key=")[1]
    assert len(key) >= 40 and read_users(users).accounts["lobby"].role == "wall"
    sessions = SessionStore(sessions_path(users))
    assert sessions.wall_link(key)[0] == "lobby" and key.encode() not in sessions.path.read_bytes()
    person = CliRunner().invoke(main, ["users", "wall-link", "ann", "--users", str(users)])
    assert person.exit_code == 2 and "not a wall" in person.output
    revoked = invoke("users", "wall-link", "lobby", "--users", str(users), "--revoke")
    assert revoked.exit_code == 0 and sessions.wall_link(key) is None


@pytest.fixture()
def supervised(tmp_path, fixture_store: FixtureStore):  # noqa: F811
    """A copy of the fixture store with 督办 items on one event of L1 and one of L2 (a formula-like note on L2's)."""
    db = tmp_path / "store.duckdb"
    shutil.copyfile(fixture_store.path, db)
    events = fixture_store.events
    picked = {large: str(events[events["grid_large"] == large].iloc[0]["event_id"]) for large in ("L1", "L2")}
    log = ActionLog(default_actions_path(db))
    deadline = dt.datetime(2024, 6, 1)
    for large, note in (("L1", "请今日处置"), ("L2", "=HYPERLINK(\"http://x\")")):
        log.record(CC, "supervise", picked[large], note=note, deadline=deadline, in_jurisdiction=lambda e: True,
                   audit=None)
    return db, picked


def test_the_supervision_export_is_scoped_audited_and_neutralised(supervised, tmp_path, monkeypatch):
    db, picked = supervised
    monkeypatch.delenv("MINQING_AUDIT", raising=False)
    out = tmp_path / "all.xlsx"
    result = invoke("export", "supervision", "--db", str(db), "--as-of", "2024-07-01", "-o", str(out))
    assert result.exit_code == 0 and "2 督办 item(s)" in result.output, result.output
    sheet = openpyxl.load_workbook(out).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("事件编号", "部门", "部门记录编号")
    assert {r[0] for r in rows[1:]} == set(picked.values())
    assert all(r[7] == "是" for r in rows[1:]), "past the deadline with no 反馈: 督办超期"
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row), "no formula leaves the system"
    assert any(str(c).startswith("'=HYPERLINK") for r in rows for c in r), "the note's formula start is prefixed"
    mine = tmp_path / "l1.csv"
    scoped = invoke("export", "supervision", "--db", str(db), "--scope", "L1", "-o", str(mine))
    assert scoped.exit_code == 0, scoped.output
    text = mine.read_text(encoding="utf-8-sig")
    assert picked["L1"] in text and picked["L2"] not in text, "jurisdiction by the event's grid"
    entries = AuditLog(default_audit_path(db)).entries(AuditFilter(actions=("export",)))
    assert list(entries["target"]) == ["supervision", "supervision"] and list(entries["rows"]) == [1, 2]
