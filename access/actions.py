"""The action log: the 督办 (supervision) loop's every step - who, when, what - in `<db>.actions.sqlite` beside the
store, append-only (triggers refuse UPDATE and DELETE), created 0600. The store stays read-only for the dashboard.

The loop (跟踪落实): the command center marks an event 督办 with a note and a deadline; the official of the event's
grid records 反馈 (a note; 已反馈 = still working, 已办结待核查 = done, please check); the command center confirms
(核查通过, closed) or sends it back (退回, open again, optionally with a new deadline). The command center also signs
for (签收) the pop-ups it has seen. Entries key on the event's stable id (`events.event_id`, `dept:source_id`), so a
re-export or re-load of the event keeps its history. Which events a user may act on is the store's business
(the event's current grid, through the user's scoped cursor): `record` asks the caller's `in_jurisdiction`.

    log = ActionLog(default_actions_path(db))
    log.record(principal, "supervise", "police110:123", note="请今日处置", deadline=dt.datetime(...),
               in_jurisdiction=lambda event_id: True, audit=audit_log)
    items = supervision_items(log.entries(), as_of=now)   # one row per supervised event, its current state
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from access.audit import AuditLog
from access.principal import Principal
from access.sqlite_file import append_only, beside, private_sqlite, stamp
from store.errors import UserError

ACTIONS: dict[str, str] = {
    "supervise": "督办",
    "feedback": "反馈",
    "confirm": "核查通过",
    "send_back": "退回",
    "sign_for": "签收",
}
RESULTS: dict[str, str] = {"answered": "已反馈", "done": "已办结待核查"}
STATUS: dict[str, str] = {  # an item's state after its latest step
    "open": "督办中",
    "answered": "已反馈",
    "done": "已办结待核查",
    "closed": "已核查办结",
}
OPEN_STATUSES: tuple[str, ...] = ("open", "answered", "done")  # 督办中 on the KPI: not yet confirmed
ALLOWED_FROM: dict[str, tuple[str | None, ...]] = {  # the state an action may follow (None: not supervised yet)
    "supervise": (None, "closed"),
    "feedback": ("open", "answered"),
    "confirm": ("done", "answered"),
    "send_back": ("answered", "done"),
}
MAX_NOTE = 500
COLUMNS = ("id", "at", "username", "role", "event_id", "action", "result", "note", "deadline")

SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,            -- server local time, 'YYYY-MM-DD HH:MM:SS.ffffff'
    username  TEXT NOT NULL,
    role      TEXT NOT NULL,
    event_id  TEXT NOT NULL,            -- events.event_id: dept:source_id, stable across re-loads
    action    TEXT NOT NULL,            -- supervise | feedback | confirm | send_back | sign_for
    result    TEXT NOT NULL DEFAULT '', -- feedback: answered | done; sign_for: the pop-up's kind
    note      TEXT NOT NULL DEFAULT '',
    deadline  TEXT                      -- supervise, send_back: the 督办 deadline (the dashboard's clock)
);
CREATE INDEX IF NOT EXISTS actions_event ON actions (event_id, id);
""" + append_only("actions", "action log")


class ActionError(UserError):
    """The action log cannot be opened or written, or an action is not allowed now (the message says why)."""


def default_actions_path(db: Path | str) -> Path:
    """`<db>.actions.sqlite` next to the store."""
    return beside(db, ".actions.sqlite")


@dataclass(frozen=True)
class ActionLog:
    """Append-only 督办 actions in a SQLite file. `clock` gives "now" for the entries (tests pass their own)."""

    path: Path
    clock: Callable[[], dt.datetime] = dt.datetime.now

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return private_sqlite(Path(self.path), SCHEMA, ActionError,
                              "make the store's folder writable for the dashboard or move the action log away")

    def record(self, who: Principal, action: str, event_id: str, *, note: str = "", deadline: dt.datetime | None = None,
               result: str = "", in_jurisdiction: Callable[[str], bool], audit: AuditLog | None) -> int:
        """Append one step for `event_id` after checking the role, the jurisdiction and the item's state; the
        audit log gets a "supervision" entry first (no entry, no action). Returns the entry's id."""
        if action not in ACTIONS:
            raise ValueError(f"action was {action!r}; expected one of {list(ACTIONS)}")
        _check_role(who, action)
        if not in_jurisdiction(event_id):
            raise ActionError(f"事件 {event_id} 不在您的辖区内 / event {event_id} is not in your jurisdiction")
        note = note.strip()[:MAX_NOTE]
        if action == "feedback" and result not in RESULTS:
            raise ValueError(f"feedback result was {result!r}; expected one of {list(RESULTS)}")
        if action in ("supervise", "feedback") and not note:
            raise ActionError("请填写说明 / a note is required")
        if action == "supervise" and deadline is None:
            raise ActionError("请填写督办期限 / a deadline is required")
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")  # the state check and the entry in one turn
            try:
                if action in ALLOWED_FROM:
                    state = _state(con.execute("SELECT action, result FROM actions WHERE event_id = ? ORDER BY id",
                                               [event_id]).fetchall())
                    if state not in ALLOWED_FROM[action]:
                        raise ActionError(f"{ACTIONS[action]}：该事件当前状态为{STATUS.get(state or '', '未督办')}，"
                                          f"不能{ACTIONS[action]} / not allowed in state {state}")
                if audit is not None:
                    audit.record(who, "supervision", target=event_id, detail={"action": action, "result": result})
                cursor = con.execute(
                    "INSERT INTO actions (at, username, role, event_id, action, result, note, deadline) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [stamp(self.clock()), who.username, who.role, event_id, action, result, note,
                     None if deadline is None else stamp(deadline)])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return int(cursor.lastrowid)

    def entries(self, event_ids: Iterable[str] | None = None, *, actions: Iterable[str] | None = None) -> pd.DataFrame:
        """Entries (of `event_ids`, of `actions`) oldest first, with the columns of COLUMNS."""
        clauses, params = ["1 = 1"], []
        for column, values in (("event_id", event_ids), ("action", actions)):
            if values is not None:
                values = list(values)
                clauses.append(f"{column} IN (SELECT value FROM json_each(?))")
                params.append(pd.Series(values, dtype="object").to_json(orient="values"))
        rows: list[tuple] = []
        if Path(self.path).exists():
            with self._connect() as con:
                rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM actions WHERE {' AND '.join(clauses)} "
                                   "ORDER BY id", params).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=list(COLUMNS))
        for column in ("at", "deadline"):
            frame[column] = pd.to_datetime(frame[column], format="ISO8601")
        return frame.astype({"id": "int64"})

    def writable_problem(self) -> str | None:
        """Why an action could not be recorded now, or None (a missing log is not created by asking)."""
        path = Path(self.path)
        if not path.exists():
            folder = path.parent
            if folder.is_dir() and os.access(folder, os.W_OK | os.X_OK):
                return None
            return f"{path}: cannot create the action log; make the store's folder writable for the dashboard"
        try:
            with self._connect() as con:
                con.execute("BEGIN IMMEDIATE")
                con.execute("ROLLBACK")
        except ActionError as exc:
            return str(exc)
        return None


def _check_role(who: Principal, action: str) -> None:
    if action == "feedback" and not who.may_feed_back:
        raise ActionError("只有网格负责人可以反馈 / only officials record 反馈")
    if action != "feedback" and not who.may_supervise:
        raise ActionError(f"只有指挥中心可以{ACTIONS[action]} / only the command center may {action}")


def _state(steps: list[tuple[str, str]]) -> str | None:
    """The item's state after its steps (action, result), oldest first; None when never supervised."""
    state: str | None = None
    for action, result in steps:
        if action == "supervise" or action == "send_back":
            state = "open"
        elif action == "feedback":
            state = result if result in RESULTS else state
        elif action == "confirm":
            state = "closed"
    return state


ITEM_COLUMNS = ("event_id", "status", "status_label", "supervised_at", "supervised_by", "supervise_note", "deadline",
                "last_at", "last_by", "last_action", "last_note", "overdue")


def supervision_items(entries: pd.DataFrame, *, as_of: dt.datetime) -> pd.DataFrame:
    """One row per supervised event (pure): its state, the latest 督办 (who, when, note, deadline), the latest step,
    and `overdue` (督办超期: still 督办中 - no 反馈 since it was supervised or sent back - and past its deadline at
    `as_of`). Sign-fors are not steps of an item."""
    steps = entries[entries["action"] != "sign_for"]
    rows = []
    for event_id, group in steps.groupby("event_id", sort=False):
        group = group.sort_values("id")
        state = _state(list(zip(group["action"], group["result"])))
        opened = group[group["action"].isin(["supervise", "send_back"])]
        first = group[group["action"] == "supervise"].iloc[-1]
        deadlines = opened["deadline"].dropna()
        deadline = deadlines.iloc[-1] if len(deadlines) else pd.NaT
        last = group.iloc[-1]
        rows.append((event_id, state, STATUS[state], first["at"], first["username"], first["note"], deadline,
                     last["at"], last["username"], last["action"], last["note"],
                     bool(state == "open" and pd.notna(deadline) and deadline < pd.Timestamp(as_of))))
    frame = pd.DataFrame(rows, columns=list(ITEM_COLUMNS))
    return frame.sort_values(["overdue", "deadline"], ascending=[False, True], kind="stable").reset_index(drop=True)


def open_items(items: pd.DataFrame) -> pd.DataFrame:
    """The items not yet confirmed (督办中 on the KPI tile), in their order (supervision_items: overdue first)."""
    return items[items["status"].isin(OPEN_STATUSES)].reset_index(drop=True)


def supervision_counts(items: pd.DataFrame) -> tuple[int, int]:
    """(督办中: items not yet confirmed, 督办超期: of those, past the deadline with no 反馈)."""
    unconfirmed = open_items(items)
    return len(unconfirmed), int(unconfirmed["overdue"].sum())


def open_items_source(log: ActionLog) -> Callable[[dt.datetime], pd.DataFrame] | None:
    """The open items at a moment (overdue judged then), read from the log when asked, for a report that settles
    its moment later (the briefing); None when the log does not exist (no 督办 in this deployment)."""
    if not Path(log.path).exists():
        return None
    return lambda as_of: open_items(supervision_items(log.entries(), as_of=as_of))
