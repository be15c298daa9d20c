"""The audit log: who signed in, exported, revealed personal data or read this log, kept in its own SQLite file.

The DuckDB store is read-only for the dashboard and replaced by loads in another process, so the log lives
next to it in `<db>.audit.sqlite` (or where the audit setting says): SQLite in WAL mode, one short connection per call, safe
for several processes (dashboard sessions, the command line). The table is append-only (triggers refuse
UPDATE and DELETE); archive it by moving the file away, a new one is created on the next write.

    log = AuditLog(default_audit_path(db))
    log.record(principal, "export", target="events", detail={"filters": ...}, rows=1234)
    log.entries(AuditFilter(actions=("signin",)))  # -> DataFrame, newest first
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pandas as pd

from store.errors import UserError
from access.principal import Principal
from access.sqlite_file import append_only, beside, private_sqlite, stamp

ACTIONS: dict[str, str] = {
    "signin": "登录",
    "signout": "退出登录",
    "export": "导出",
    "reveal": "查看个人信息",
    "audit_view": "查看审计日志",
    "audit_export": "导出审计日志",
    "download": "下载文件",  # a fetch of a prepared download (/media/...), by the server's media gate
    "wall_link": "大屏链接登录",  # a wall display signed in (or refused) through its link
    "supervision": "督办操作",  # an action of the 督办 loop; the action log beside the store holds its content
}
OUTCOMES: dict[str, str] = {"success": "成功", "failure": "失败", "refused": "拒绝"}
COLUMNS = ("id", "at", "username", "role", "action", "target", "detail_json", "rows", "outcome")
MAX_FAILURES = 5  # failed sign-ins per username ...
FAILURE_WINDOW = dt.timedelta(minutes=5)  # ... within this window lock the username until the oldest one ages out
MAX_TEXT = 200  # longest username / target kept (an attempted username is whatever was typed)
_FORBIDDEN_DETAIL = ("password", "passwd", "secret", "token")

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT    NOT NULL,  -- server local time, 'YYYY-MM-DD HH:MM:SS.ffffff'
    username    TEXT    NOT NULL,  -- for a failed sign-in: the username that was typed
    role        TEXT    NOT NULL DEFAULT '',
    action      TEXT    NOT NULL,  -- a key of ACTIONS
    target      TEXT    NOT NULL DEFAULT '',
    detail_json TEXT    NOT NULL DEFAULT '{}',
    rows        INTEGER,
    outcome     TEXT    NOT NULL   -- success | failure | refused
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE INDEX IF NOT EXISTS audit_user_action_at ON audit (username, action, at);
""" + append_only("audit", "audit log")


class AuditError(UserError):
    """The audit log cannot be opened or written; actions that must be audited are refused."""


def default_audit_path(db: Path | str) -> Path:
    """`<db>.audit.sqlite` next to the store: the log when none is configured (the dashboard passes its setting)."""
    return beside(db, ".audit.sqlite")


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to read: [since, until), usernames, actions, outcomes, and text found in target or detail."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    usernames: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    text: str = ""

    def sql(self) -> tuple[str, list[Any]]:
        """The WHERE clause (with ? placeholders) and its parameters."""
        clauses, params = ["1 = 1"], []
        if self.since is not None:
            clauses.append("at >= ?")
            params.append(stamp(self.since))
        if self.until is not None:
            clauses.append("at < ?")
            params.append(stamp(self.until))
        for column, values in (("username", self.usernames), ("action", self.actions), ("outcome", self.outcomes)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")  # only placeholders are formatted
                params.extend(values)
        if self.text.strip():
            clauses.append("(instr(lower(target), ?) > 0 OR instr(lower(detail_json), ?) > 0)")
            params += [self.text.strip().lower()] * 2
        return " AND ".join(clauses), params

    def describe(self) -> dict[str, Any]:
        """The filter as JSON-able data, for the audit entry of a view or an export."""
        out: dict[str, Any] = {}
        for key in ("since", "until"):
            value = getattr(self, key)
            if value is not None:
                out[key] = stamp(value)
        for key in ("usernames", "actions", "outcomes"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        if self.text.strip():
            out["text"] = self.text.strip()
        return out


class AuditLog:
    """Append-only audit entries in a SQLite file. `clock` gives "now" (tests pass their own)."""

    def __init__(self, path: Path | str, *, clock: Callable[[], dt.datetime] = dt.datetime.now) -> None:
        self.path = Path(path)
        self.clock = clock

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:  # PageContext compares by value
        return isinstance(other, AuditLog) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return private_sqlite(self.path, SCHEMA, AuditError,
                              "cannot open the audit log or write it: make its folder writable for the dashboard or "
                              "point the audit setting (--audit, $MINQING_AUDIT) at a writable file")

    def writable_problem(self) -> str | None:
        """Why an entry could not be written now (a read-only file or folder, a broken file), or None when it can:
        pages check it before offering an action that must be recorded, so the refusal is said up front."""
        try:
            with self._connect() as con:
                con.execute("BEGIN IMMEDIATE")  # takes the write lock, as an INSERT would
                con.execute("ROLLBACK")
        except AuditError as exc:
            return str(exc)
        return None

    def record(self, who: Principal | str, action: str, *, target: str = "", detail: Mapping[str, Any] | None = None,
               rows: int | None = None, outcome: str = "success") -> int:
        """Append one entry and return its id.

        `who` is the acting Principal, or (failed sign-in) the username that was typed. `target` names what was
        acted on (an export's name, an event id, a person's id: identifiers, never the revealed values);
        `detail` is JSON-able context (filters, the page); passwords and secrets are refused.
        Raises AuditError when the log cannot be written: the caller must then refuse the action.
        """
        if action not in ACTIONS:
            raise ValueError(f"action was {action!r} but is expected to be one of {list(ACTIONS)}")
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome was {outcome!r} but is expected to be one of {list(OUTCOMES)}")
        detail = dict(detail or {})
        bad = [k for k in _flat_keys(detail) if any(word in k.lower() for word in _FORBIDDEN_DETAIL)]
        if bad:
            raise ValueError(f"detail keys {bad} look like credentials; the audit log never stores them")
        username, role = (who.username, who.role) if isinstance(who, Principal) else (str(who), "")
        values = (stamp(self.clock()), username[:MAX_TEXT], role, action, str(target)[:MAX_TEXT],
                  json.dumps(detail, ensure_ascii=False, sort_keys=True, default=str),
                  None if rows is None else int(rows), outcome)
        with self._connect() as con:
            cursor = con.execute("INSERT INTO audit (at, username, role, action, target, detail_json, rows, outcome) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", values)
            return int(cursor.lastrowid)

    def entries(self, filters: AuditFilter | None = None, *, limit: int | None = None) -> pd.DataFrame:
        """Entries passing `filters`, newest first (at most `limit`), with the columns of COLUMNS."""
        where, params = (filters or AuditFilter()).sql()
        sql = f"SELECT {', '.join(COLUMNS)} FROM audit WHERE {where} ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params = [*params, int(limit)]
        if not self.path.exists():
            rows: list[tuple] = []
        else:
            with self._connect() as con:
                rows = con.execute(sql, params).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
        frame["at"] = pd.to_datetime(frame["at"], format="ISO8601")
        return frame.astype({"id": "int64", "rows": "Int64"})

    def count(self, filters: AuditFilter | None = None) -> int:
        """How many entries pass `filters`."""
        if not self.path.exists():
            return 0
        where, params = (filters or AuditFilter()).sql()
        with self._connect() as con:
            return int(con.execute(f"SELECT count(*) FROM audit WHERE {where}", params).fetchone()[0])

    def usernames(self) -> list[str]:
        """Every username in the log, sorted (for filter choices)."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            return [r[0] for r in con.execute("SELECT DISTINCT username FROM audit ORDER BY username").fetchall()]

    @contextlib.contextmanager
    def signin_turn(self) -> Iterator[None]:
        """Sign-ins one at a time, across threads and processes: check the limit, try the password and record the
        outcome inside one turn, so parallel attempts cannot all pass the check before any failure is recorded."""
        lock_path = self.path.with_name(self.path.name + ".signin.lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise AuditError(f"{lock_path}: cannot open the sign-in lock ({exc}); make the audit log's folder "
                             "writable for the dashboard") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)  # each turn opens its own descriptor, so threads exclude each other too
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            os.close(handle)

    def signin_wait(self, username: str) -> dt.timedelta | None:
        """How long `username` must wait before the next sign-in attempt, or None when it may try now.

        MAX_FAILURES failed sign-ins within FAILURE_WINDOW, none of them followed by a success, lock the
        username until the oldest of those failures is FAILURE_WINDOW old. Refused attempts do not count.
        """
        now = self.clock()
        if not self.path.exists():
            return None
        with self._connect() as con:
            last_success = con.execute(
                "SELECT max(at) FROM audit WHERE username = ? AND action = 'signin' AND outcome = 'success'",
                [username[:MAX_TEXT]]).fetchone()[0]
            since = max(stamp(now - FAILURE_WINDOW), last_success or "")
            failures = [r[0] for r in con.execute(
                "SELECT at FROM audit WHERE username = ? AND action = 'signin' AND outcome = 'failure' AND at > ? "
                "ORDER BY at DESC LIMIT ?", [username[:MAX_TEXT], since, MAX_FAILURES]).fetchall()]
        if len(failures) < MAX_FAILURES:
            return None
        oldest = dt.datetime.fromisoformat(failures[-1])
        return max(oldest + FAILURE_WINDOW - now, dt.timedelta(seconds=1))


def _flat_keys(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield str(key)
            yield from _flat_keys(inner)
    elif isinstance(value, (list, tuple)):
        for inner in value:
            yield from _flat_keys(inner)
