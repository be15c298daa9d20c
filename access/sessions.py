"""Server-side sign-in sessions, the one-time grants that put a session in the browser's cookie, and wall links, in
`<users file>.sessions.sqlite` (0600).

A session is a random token that lives only in the browser's HttpOnly cookie; this file keeps its SHA-256 (the
session id), whose account it is (with the account's stamp at sign-in), how it was signed in, and when it was last
used. It is valid while it has not been ended, the account still has that stamp (not removed, same role, scope and
password), and it was used within the idle limit (people: the session idle setting; walls: WALL_IDLE_DAYS, and
only while their link is not revoked). Ending is immediate for every process reading the file: sign-out,
`minqing users remove|passwd`, a new wall link.

    sessions = SessionStore(sessions_path(users_file))
    token, sid = sessions.start(account, via="password")
    code = sessions.grant(token)            # the page hands `code` to the browser, which trades it for the cookie
    token = sessions.redeem(code)           # once, within GRANT_SECONDS
    check = sessions.check(sid, users, idle_hours=12)   # -> SessionCheck(account, reason)

A people's session may also have a cap since sign-in (the users file's `[auth] session_hours`, 0 by default: none).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from access.accounts import Account, UsersFile, stamp
from access.sqlite_file import private_sqlite
from store.errors import UserError

COOKIE = "minqing_session"
GRANT_SECONDS = 120.0  # a grant not traded for its cookie by then is void
TOUCH_SECONDS = 60.0  # last_seen is written at most this often per session (a wall refreshes every 30 s)
WALL_IDLE_DAYS = 30.0  # a wall switched off longer than this signs in again through its link
TOKEN_BYTES = 32
VIA = ("password", "oidc", "wall_link")

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id          TEXT PRIMARY KEY,   -- sha256 of the cookie's token; the token itself is never stored
    username    TEXT NOT NULL,
    role        TEXT NOT NULL,
    stamp       TEXT NOT NULL,      -- access.accounts.stamp of the account at sign-in
    via         TEXT NOT NULL,      -- password | oidc | wall_link
    link_id     TEXT,               -- the wall link a wall session came from
    created_at  REAL NOT NULL,      -- epoch seconds
    last_seen   REAL NOT NULL,
    ended_at    REAL,
    end_reason  TEXT
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (username);
CREATE TABLE IF NOT EXISTS grants (
    code_hash   TEXT PRIMARY KEY,
    token       TEXT NOT NULL,      -- held at most GRANT_SECONDS, deleted when traded
    expires_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS wall_links (
    id          TEXT PRIMARY KEY,   -- sha256 of the link's key
    username    TEXT NOT NULL,
    created_at  REAL NOT NULL,
    last_used   REAL,
    revoked_at  REAL
);
"""


class SessionError(UserError):
    """The sessions file cannot be opened or written: sign-in is refused (fails closed)."""


def sessions_path(users_file: Path) -> Path:
    """`<users file>.sessions.sqlite`: beside the accounts it belongs to, so `minqing users` finds it too."""
    users_file = Path(users_file).expanduser().resolve()
    return users_file.with_name(users_file.name + ".sessions.sqlite")


def end_account(users_file: Path, username: str, reason: str, *, links: bool = False) -> int:
    """End every session of `username` at once (and revoke its wall links with `links`): `minqing users remove`
    and `passwd`. How many sessions were open."""
    sessions = SessionStore(sessions_path(users_file))
    open_before = sessions.open_sessions(username)
    if links:
        sessions.revoke_wall_links(username, reason=reason)
    sessions.end_user(username, reason)
    return open_before


def digest(secret: str) -> str:
    """The SHA-256 (hex) under which a token, grant code or link key is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionCheck:
    """The outcome of checking a session: the account when valid, else why not (unknown, ended, account_changed,
    idle, link_revoked)."""

    account: Account | None
    reason: str | None = None  # an ended session's end_reason: signout, account_removed, password_changed, idle, ...
    via: str = ""
    session_id: str = ""
    ended_now: bool = False  # this check ended it (idle, account changed, link revoked)


class SessionStore:
    """Sessions, grants and wall links in one SQLite file. `clock` gives epoch seconds (tests pass their own)."""

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock

    def __repr__(self) -> str:
        return f"SessionStore({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SessionStore) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return private_sqlite(self.path, SCHEMA, SessionError,
                              "make the users file's folder writable for the dashboard (sessions are kept beside it)")

    # ----------------------------------------------------------------------- sessions

    def start(self, account: Account, *, via: str, link_id: str | None = None) -> tuple[str, str]:
        """A new session for `account`: (the token for the cookie, the session id)."""
        if via not in VIA:
            raise ValueError(f"via was {via!r}; expected one of {VIA}")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        session_id, now = digest(token), self.clock()
        with self._connect() as con:
            con.execute("INSERT INTO sessions (id, username, role, stamp, via, link_id, created_at, last_seen) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [session_id, account.username, account.role, stamp(account), via, link_id, now, now])
        return token, session_id

    def check(self, session_id: str, users: UsersFile, *, idle_hours: float) -> SessionCheck:
        """Whether the session is valid now against `users` (see the module docstring); a valid one is touched."""
        now = self.clock()
        with self._connect() as con:
            row = con.execute("SELECT username, stamp, via, link_id, created_at, last_seen, ended_at, end_reason "
                              "FROM sessions WHERE id = ?", [session_id]).fetchone()
            if row is None:
                return SessionCheck(None, "unknown")
            username, signed_stamp, via, link_id, created_at, last_seen, ended_at, end_reason = row
            if ended_at is not None:
                return SessionCheck(None, end_reason or "ended", via, session_id)
            account = users.accounts.get(username)
            reason = None
            if account is None or stamp(account) != signed_stamp:
                reason = "account_changed"
            elif via == "wall_link" and not self._link_live(con, link_id):
                reason = "link_revoked"
            else:
                limit = WALL_IDLE_DAYS * 86400 if via == "wall_link" else idle_hours * 3600
                if limit > 0 and now - last_seen > limit:
                    reason = "idle"
                elif via != "wall_link" and users.session_hours > 0 and now - created_at > users.session_hours * 3600:
                    reason = "expired"  # the users file's [auth] session_hours: a cap however active
            if reason is not None:
                con.execute("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
                            [now, reason, session_id])
                return SessionCheck(None, reason, via, session_id, ended_now=True)
            if now - last_seen >= TOUCH_SECONDS:
                con.execute("UPDATE sessions SET last_seen = ? WHERE id = ?", [now, session_id])
                if link_id is not None:
                    con.execute("UPDATE wall_links SET last_used = ? WHERE id = ?", [now, link_id])
        return SessionCheck(account, None, via, session_id)

    def check_token(self, token: str, users: UsersFile, *, idle_hours: float) -> SessionCheck:
        """`check` for the token of a cookie."""
        return self.check(digest(token), users, idle_hours=idle_hours) if token else SessionCheck(None, "unknown")

    def end(self, session_id: str, reason: str) -> bool:
        """End one session at once; False when it was unknown or already ended."""
        with self._connect() as con:
            done = con.execute("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
                               [self.clock(), reason, session_id])
            return done.rowcount > 0

    def end_user(self, username: str, reason: str) -> int:
        """End every open session of `username`; how many were open."""
        if not self.path.exists():
            return 0
        with self._connect() as con:
            done = con.execute("UPDATE sessions SET ended_at = ?, end_reason = ? "
                               "WHERE username = ? AND ended_at IS NULL", [self.clock(), reason, username])
            return done.rowcount

    def open_sessions(self, username: str | None = None) -> int:
        """How many sessions (of `username`) have not been ended (some may have gone idle)."""
        if not self.path.exists():
            return 0
        sql, params = "SELECT count(*) FROM sessions WHERE ended_at IS NULL", []
        if username is not None:
            sql, params = sql + " AND username = ?", [username]
        with self._connect() as con:
            return int(con.execute(sql, params).fetchone()[0])

    # ----------------------------------------------------------------------- grants

    def grant(self, token: str) -> str:
        """A one-time code the browser trades for a cookie holding `token` (within GRANT_SECONDS)."""
        code, now = secrets.token_urlsafe(TOKEN_BYTES), self.clock()
        with self._connect() as con:
            con.execute("DELETE FROM grants WHERE expires_at < ?", [now])
            con.execute("INSERT INTO grants (code_hash, token, expires_at) VALUES (?, ?, ?)",
                        [digest(code), token, now + GRANT_SECONDS])
        return code

    def redeem(self, code: str) -> str | None:
        """The token of a grant, once; None for an unknown, used or expired code."""
        if not code:
            return None
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            row = con.execute("SELECT token, expires_at FROM grants WHERE code_hash = ?", [digest(code)]).fetchone()
            con.execute("DELETE FROM grants WHERE code_hash = ?", [digest(code)])
            con.execute("COMMIT")
        if row is None or row[1] < self.clock():
            return None
        return row[0]

    def granted(self, code: str) -> bool:
        """Whether a grant is still waiting to be traded."""
        with self._connect() as con:
            return con.execute("SELECT 1 FROM grants WHERE code_hash = ? AND expires_at >= ?",
                               [digest(code), self.clock()]).fetchone() is not None

    # ----------------------------------------------------------------------- wall links

    def make_wall_link(self, username: str) -> str:
        """A new link key for the wall account `username`; its earlier links and their sessions end."""
        key, now = secrets.token_urlsafe(TOKEN_BYTES), self.clock()
        self.revoke_wall_links(username, reason="new_link")
        with self._connect() as con:
            con.execute("INSERT INTO wall_links (id, username, created_at) VALUES (?, ?, ?)", [digest(key), username, now])
        return key

    def revoke_wall_links(self, username: str, *, reason: str = "revoked") -> int:
        """Revoke every link of `username` and end the sessions they opened; how many links were live."""
        if not self.path.exists():
            return 0
        now = self.clock()
        with self._connect() as con:
            live = [r[0] for r in con.execute("SELECT id FROM wall_links WHERE username = ? AND revoked_at IS NULL",
                                              [username]).fetchall()]
            con.execute("UPDATE wall_links SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                        [now, username])
            con.executemany("UPDATE sessions SET ended_at = ?, end_reason = ? WHERE link_id = ? AND ended_at IS NULL",
                            [(now, reason, link) for link in live])
        return len(live)

    def wall_link(self, key: str) -> tuple[str, str] | None:
        """(the wall account's username, the link id) for a live link key, else None."""
        if not key or not self.path.exists():
            return None
        with self._connect() as con:
            row = con.execute("SELECT username, id FROM wall_links WHERE id = ? AND revoked_at IS NULL",
                              [digest(key)]).fetchone()
            if row is not None:
                con.execute("UPDATE wall_links SET last_used = ? WHERE id = ?", [self.clock(), row[1]])
        return None if row is None else (row[0], row[1])

    @staticmethod
    def _link_live(con: sqlite3.Connection, link_id: str | None) -> bool:
        if link_id is None:
            return False
        row = con.execute("SELECT revoked_at FROM wall_links WHERE id = ?", [link_id]).fetchone()
        return row is not None and row[0] is None
