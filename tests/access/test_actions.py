"""The 督办 action log (access.actions): append-only, private, roles and jurisdiction checked, the loop's states,
督办中 / 督办超期, and an audit entry before every step."""

from __future__ import annotations

import datetime as dt
import sqlite3
import stat

import pytest

from access.actions import ActionError, ActionLog, supervision_counts, supervision_items
from access.audit import AuditFilter, AuditLog
from access.principal import Principal

CC = Principal("cc1", "command_center")
BOB = Principal("bob", "official", ("L1",))
ANALYST = Principal("ann", "analyst")
T0 = dt.datetime(2025, 12, 31, 9, 0)
MINE = {"street:A1", "street:A2"}


@pytest.fixture()
def logs(tmp_path):
    return ActionLog(tmp_path / "store.duckdb.actions.sqlite"), AuditLog(tmp_path / "audit.sqlite")


def step(log, audit, who, action, event_id, **values):
    return log.record(who, action, event_id, in_jurisdiction=lambda e: e in MINE, audit=audit, **values)


def test_the_loop_closes_and_every_step_is_audited(logs):
    log, audit = logs
    step(log, audit, CC, "supervise", "street:A1", note="今日处置", deadline=T0 + dt.timedelta(days=1))
    step(log, audit, CC, "sign_for", "street:A2", result="report")
    assert supervision_items(log.entries(), as_of=T0).iloc[0]["status"] == "open"
    step(log, audit, BOB, "feedback", "street:A1", note="已上门调解", result="done")
    step(log, audit, CC, "send_back", "street:A1", note="请补充照片", deadline=T0 + dt.timedelta(days=2))
    step(log, audit, BOB, "feedback", "street:A1", note="已补充", result="done")
    step(log, audit, CC, "confirm", "street:A1")
    items = supervision_items(log.entries(), as_of=T0)
    assert list(items["event_id"]) == ["street:A1"]  # a sign-for is not an item
    item = items.iloc[0]
    assert (item["status"], item["last_action"], item["supervised_by"]) == ("closed", "confirm", "cc1")
    assert item["deadline"] == T0 + dt.timedelta(days=2)  # the send-back's new deadline
    entries = audit.entries(AuditFilter(actions=("supervision",)))
    assert len(entries) == 6 and set(entries["target"]) == {"street:A1", "street:A2"}
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600


def test_roles_states_and_jurisdiction_are_checked(logs):
    log, audit = logs
    with pytest.raises(ActionError, match="辖区"):
        step(log, audit, CC, "supervise", "street:B9", note="x", deadline=T0)
    with pytest.raises(ActionError, match="指挥中心"):
        step(log, audit, BOB, "supervise", "street:A1", note="x", deadline=T0)
    with pytest.raises(ActionError, match="网格负责人"):
        step(log, audit, ANALYST, "feedback", "street:A1", note="x", result="done")
    with pytest.raises(ActionError, match="未督办"):
        step(log, audit, BOB, "feedback", "street:A1", note="x", result="done")
    with pytest.raises(ActionError, match="期限"):
        step(log, audit, CC, "supervise", "street:A1", note="x")
    step(log, audit, CC, "supervise", "street:A1", note="x", deadline=T0)
    with pytest.raises(ActionError, match="督办中"):
        step(log, audit, CC, "confirm", "street:A1")
    assert len(log.entries()) == 1 and len(audit.entries()) == 1  # refused steps leave no trace but the first


def test_overdue_means_past_the_deadline_with_no_feedback(logs):
    log, audit = logs
    step(log, audit, CC, "supervise", "street:A1", note="x", deadline=T0)
    step(log, audit, CC, "supervise", "street:A2", note="y", deadline=T0)
    step(log, audit, BOB, "feedback", "street:A2", note="在办", result="answered")
    items = supervision_items(log.entries(), as_of=T0 + dt.timedelta(hours=1))
    assert dict(zip(items["event_id"], items["overdue"])) == {"street:A1": True, "street:A2": False}
    assert supervision_counts(items) == (2, 1)
    assert supervision_counts(supervision_items(log.entries(), as_of=T0 - dt.timedelta(hours=1))) == (2, 0)


def test_the_log_is_append_only(logs):
    log, audit = logs
    step(log, audit, CC, "supervise", "street:A1", note="x", deadline=T0)
    con = sqlite3.connect(log.path)
    try:
        for sql in ("UPDATE actions SET note = 'y'", "DELETE FROM actions"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute(sql)
    finally:
        con.close()
