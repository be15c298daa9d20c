"""Atomic publishing of the store: a load works on a private copy and swaps it in, so readers never see half a batch."""

from __future__ import annotations

import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from store.errors import UserError


def working_path(database: Path) -> Path:
    """The private copy a load writes to."""
    return database.with_name(database.name + ".loading")


@contextmanager
def publishing(database: Path) -> Iterator[Path]:
    """Yield a private working copy of `database`; on success (or a user error after complete batches) swap it in.

    DuckDB lets one process write a file and blocks writers while a reader holds it, so the dashboard
    opens the published file read-only and a load never touches it: the swap is one `os.replace`, and a
    reader holds either the old file (still valid while open) or the new one. A killed load leaves the
    published store as it was; its stale working copy is discarded by the next load.
    """
    database.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(database):
        working = working_path(database)
        for stale in (working, working.with_name(working.name + ".wal")):
            stale.unlink(missing_ok=True)
        if database.exists():
            _checkpoint_leftover_wal(database)
            shutil.copyfile(database, working)
        try:
            yield working
        except UserError:
            _swap(working, database)  # batches finished before the mistake are complete and consistent
            raise
        except BaseException:
            working.unlink(missing_ok=True)
            raise
        _swap(working, database)


@contextmanager
def _exclusive(database: Path) -> Iterator[None]:
    lock_path = database.with_name(database.name + ".lock")
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{database}: another load is writing this store; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _checkpoint_leftover_wal(database: Path) -> None:
    """A store last written in place (older versions) may have a WAL: fold it in before copying."""
    if not database.with_name(database.name + ".wal").exists():
        return
    try:
        duckdb.connect(str(database)).close()  # opening replays the WAL, closing checkpoints it
    except duckdb.IOException as exc:
        raise UserError(f"{database}: has unsaved changes and is open elsewhere ({exc}); stop the dashboard once and load again") from None


def _swap(working: Path, database: Path) -> None:
    with working.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(working, database)
    directory = os.open(database.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
