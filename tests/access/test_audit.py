"""The audit log: append-only SQLite next to the store, filters, several writing processes, the sign-in rate
limit, CSV export and `minqing audit`."""

from __future__ import annotations

import io
import datetime as dt
import multiprocessing
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from access.audit import FAILURE_WINDOW, MAX_FAILURES, AuditError, AuditFilter, AuditLog, default_audit_path
from layers.export import write_audit_csv
from access.principal import SYSTEM, Principal
from minqing.cli import main

ALICE = Principal("alice", "admin", display_name="管理员")
BOB = Principal("bob", "official", scope=("L1",))
T0 = dt.datetime(2025, 3, 1, 9, 0)


class Clock:
    """A settable "now" for rate-limit tests."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def tick(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture()
def log(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "store.duckdb.audit.sqlite", clock=Clock(T0))


def test_path_sits_next_to_the_store_unless_set(tmp_path, monkeypatch):
    from dashboard import settings

    monkeypatch.delenv("MINQING_AUDIT", raising=False)
    assert (settings.AUDIT.read() or default_audit_path(tmp_path / "minqing.duckdb")) == \
        tmp_path / "minqing.duckdb.audit.sqlite"
    monkeypatch.setenv("MINQING_AUDIT", str(tmp_path / "elsewhere.sqlite"))
    assert settings.AUDIT.read() == tmp_path / "elsewhere.sqlite"


def test_record_and_read_back(log: AuditLog):
    first = log.record("mallory", "signin", outcome="failure", detail={"via": "password"})
    log.clock.tick(minutes=1)
    log.record(BOB, "export", target="events", detail={"filters": {"grid": "L1"}}, rows=42)
    log.clock.tick(minutes=1)
    log.record(BOB, "reveal", target="police110:123", detail={"fields": ["phone"]})
    frame = log.entries()
    assert list(frame.columns) == ["id", "at", "username", "role", "action", "target", "detail_json", "rows",
                                   "outcome"]
    assert list(frame["action"]) == ["reveal", "export", "signin"], "newest first"
    failed = frame.iloc[-1]
    assert failed["id"] == first and failed["username"] == "mallory" and failed["role"] == ""
    export = frame.iloc[1]
    assert export["role"] == "official" and export["rows"] == 42 and '"grid": "L1"' in export["detail_json"]
    assert export["at"] == T0 + dt.timedelta(minutes=1)
    assert mode_of(log.path) == 0o600


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_filters_use_bound_parameters(log: AuditLog):
    for i, who in enumerate([ALICE, BOB, BOB, "x' OR '1'='1"]):
        log.clock.tick(hours=1)
        log.record(who, "signin" if i % 2 == 0 else "export", target=f"t{i}", outcome="success" if i < 3 else "failure")
    assert len(log.entries(AuditFilter(usernames=("bob",)))) == 2
    assert len(log.entries(AuditFilter(usernames=("x' OR '1'='1",)))) == 1
    assert list(log.entries(AuditFilter(actions=("export",)))["target"]) == ["t3", "t1"]
    assert list(log.entries(AuditFilter(outcomes=("failure",)))["target"]) == ["t3"]
    window = AuditFilter(since=T0 + dt.timedelta(hours=2), until=T0 + dt.timedelta(hours=4))
    assert list(log.entries(window)["target"]) == ["t2", "t1"]
    assert list(log.entries(AuditFilter(text="T2"))["target"]) == ["t2"]
    assert log.count(AuditFilter(usernames=("bob",), actions=("export",))) == 1
    assert len(log.entries(limit=3)) == 3 and log.count() == 4
    assert log.usernames() == sorted(["alice", "bob", "x' OR '1'='1"])


def test_the_log_is_append_only(log: AuditLog):
    log.record(ALICE, "signin")
    with sqlite3.connect(log.path) as con:
        for statement in ("UPDATE audit SET username = 'eve'", "DELETE FROM audit"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                con.execute(statement)
    assert list(log.entries()["username"]) == ["alice"]


def test_credentials_and_unknown_actions_are_refused(log: AuditLog):
    with pytest.raises(ValueError, match="credentials"):
        log.record("alice", "signin", outcome="failure", detail={"password": "hunter22"})
    with pytest.raises(ValueError, match="credentials"):
        log.record(ALICE, "export", detail={"request": {"api_token": "x"}})
    with pytest.raises(ValueError, match="action"):
        log.record(ALICE, "delete_everything")
    with pytest.raises(ValueError, match="outcome"):
        log.record(ALICE, "signin", outcome="maybe")
    assert log.count() == 0


def test_an_unwritable_log_is_an_audit_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(AuditError, match="cannot open the audit log"):
        AuditLog(blocker / "audit.sqlite").record(ALICE, "signin")


def _write_many(path: str, worker: int, count: int) -> None:
    log = AuditLog(path)
    for i in range(count):
        log.record(Principal(f"user{worker}", "analyst"), "export", target=f"{worker}:{i}", rows=i)


def test_several_processes_write_at_once(tmp_path):
    path = tmp_path / "audit.sqlite"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_write_many, args=(str(path), w, 60)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(120)
        assert p.exitcode == 0
    frame = AuditLog(path).entries()
    assert len(frame) == 240 and frame["id"].is_unique and frame["target"].is_unique
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sign_in_failures_are_rate_limited(log: AuditLog):
    clock = log.clock
    for _ in range(MAX_FAILURES - 1):
        log.record("bob", "signin", outcome="failure")
        clock.tick(seconds=10)
    assert log.signin_wait("bob") is None
    log.record("bob", "signin", outcome="failure")
    wait = log.signin_wait("bob")
    assert wait is not None and dt.timedelta(minutes=4) < wait <= FAILURE_WINDOW
    assert log.signin_wait("alice") is None, "per username"
    log.record("bob", "signin", outcome="refused")  # refusals do not extend the lock
    clock.tick(seconds=wait.total_seconds() + 1)
    assert log.signin_wait("bob") is None, "the oldest failure aged out of the window"
    log.record("bob", "signin", outcome="failure")
    assert log.signin_wait("bob") is not None, "five failures within five minutes again"


def test_a_success_resets_the_failure_count(log: AuditLog):
    for _ in range(MAX_FAILURES - 1):
        log.record("bob", "signin", outcome="failure")
        log.clock.tick(seconds=1)
    log.record(BOB, "signin")
    log.clock.tick(seconds=1)
    log.record("bob", "signin", outcome="failure")
    assert log.signin_wait("bob") is None


def test_csv_is_bom_utf8_and_formula_safe(log: AuditLog):
    log.record("=HYPERLINK(\"http://x\")", "signin", outcome="failure")
    log.record(BOB, "export", target="事件明细", rows=7)
    buffer = io.BytesIO()
    write_audit_csv(log.entries(), buffer)
    data = buffer.getvalue()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == "id,at,username,role,action,target,detail_json,rows,outcome"
    assert "'=HYPERLINK" in text and "事件明细" in text and ",7," in text


# --------------------------------------------------------------------------- minqing audit

def test_cli_list_and_export(log: AuditLog, tmp_path: Path):
    log.record("mallory", "signin", outcome="failure")
    log.record(BOB, "export", target="events", rows=3)
    runner = CliRunner()
    result = runner.invoke(main, ["audit", "list", "--audit", str(log.path), "--action", "signin"])
    assert result.exit_code == 0, result.output
    assert "mallory" in result.output and "failure" in result.output and "events" not in result.output
    out = tmp_path / "audit.csv"
    result = runner.invoke(main, ["audit", "export", "--audit", str(log.path), "--user", "bob", "--format", "csv",
                                  "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = out.read_bytes().decode("utf-8-sig").splitlines()
    assert len(rows) == 2 and rows[1].split(",")[2] == "bob"
    reads = AuditLog(log.path).entries(AuditFilter(usernames=(SYSTEM.username,)))
    assert list(reads["action"]) == ["audit_export", "audit_view"], "reading the log is itself logged"
    assert '"via": "cli"' in reads.iloc[0]["detail_json"] and reads.iloc[0]["rows"] == 1


def test_cli_errors(tmp_path: Path, log: AuditLog):
    runner = CliRunner()
    result = runner.invoke(main, ["audit", "list", "--audit", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 2 and "no audit log there" in result.output
    assert not (tmp_path / "none.sqlite").exists()
    log.record(ALICE, "signin")
    result = runner.invoke(main, ["audit", "list", "--audit", str(log.path), "--action", "steal"])
    assert result.exit_code == 2 and "--action 'steal'" in result.output
