"""The small SQLite files beside the store and the users file (audit log, action log, sessions): created 0600, WAL,
one short connection per call, safe for several processes."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from store.errors import UserError

_READY: set[tuple[str, str]] = set()  # (file, schema) pairs this process has created or seen


@contextlib.contextmanager
def private_sqlite(path: Path, schema: str, error: type[UserError], fix: str) -> Iterator[sqlite3.Connection]:
    """A connection to the SQLite file at `path` (created with mode 0600 and `schema` when missing; SQLite's -wal
    and -shm files take the same mode). Any failure is raised as `error` naming the file and `fix`."""
    key = (str(path.resolve()), schema)
    try:
        if not path.exists():
            _READY.discard(key)  # archived away: a new file gets the schema again
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        con = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise error(f"{path}: cannot open ({exc}); {fix}") from None
    try:
        con.execute("PRAGMA busy_timeout = 10000")
        if key not in _READY:
            con.execute("PRAGMA journal_mode = WAL")
            con.executescript(schema)
            _READY.add(key)
        con.execute("PRAGMA synchronous = FULL")
        yield con
    except sqlite3.Error as exc:
        raise error(f"{path}: failed ({exc}); {fix}") from None
    finally:
        con.close()


def append_only(table: str, what: str) -> str:
    """SQL triggers that refuse UPDATE and DELETE on `table` ("the <what> is append-only")."""
    return "\n".join(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table}\n"
        f"    BEGIN SELECT RAISE(ABORT, 'the {what} is append-only'); END;" for verb in ("UPDATE", "DELETE"))


def beside(db: Path | str, suffix: str) -> Path:
    """`<db><suffix>` in the store's folder (`.audit.sqlite`, `.actions.sqlite`)."""
    db = Path(db).expanduser().resolve()
    return db.with_name(db.name + suffix)


def stamp(moment: dt.datetime) -> str:
    """A time as the logs store it: server local time, 'YYYY-MM-DD HH:MM:SS.ffffff' (sorts as text)."""
    return moment.isoformat(sep=" ", timespec="microseconds")
