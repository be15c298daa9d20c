"""Atomic publishing of the store: a load works on a private copy and swaps it in, so readers never see half a batch.

The published file keeps the permission bits and group of the file it replaces (so `chmod 0640` with a group shared
by the loader and the dashboard survives every load); a new store gets `mode` (0600 unless the project's
minqing.toml says `file_mode`). The working copy and DuckDB's `.wal` beside it are created with the same bits
(the load runs under a umask that allows no more), and the copy must open before it is swapped in.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from store.errors import UserError

DEFAULT_FILE_MODE = 0o600  # a new store, audit log or users file: the owner only (they hold personal data)


def working_path(database: Path) -> Path:
    """The private copy a load writes to."""
    return database.with_name(database.name + ".loading")


@contextmanager
def publishing(database: Path, *, mode: int = DEFAULT_FILE_MODE) -> Iterator[Path]:
    """Yield a private working copy of `database`; on success (or a user error after complete batches) swap it in.

    DuckDB lets one process write a file and blocks writers while a reader holds it, so the dashboard
    opens the published file read-only and a load never touches it: the swap is one `os.replace`, and a
    reader holds either the old file (still valid while open) or the new one. A killed load leaves the
    published store as it was; its stale working copy is discarded by the next load.
    """
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{database}: cannot create its folder {database.parent} ({exc.strerror}); create it, or point "
                        "`database` in minqing.toml into a folder you may write") from None
    with _exclusive(database):
        working = working_path(database)
        prepared = _take_prepared(database)
        if not prepared:
            for stale in (working, working.with_name(working.name + ".wal")):
                stale.unlink(missing_ok=True)
        owner = database.stat() if database.exists() else None
        bits = (owner.st_mode & 0o777) if owner is not None else mode
        with _umask_for(bits):
            if owner is not None and not prepared:
                _checkpoint_leftover_wal(database)
                shutil.copyfile(database, working)
                _same_owner(working, bits, owner.st_gid)
            try:
                yield working
            except UserError:
                _swap(working, database, bits)  # batches finished before the mistake are complete and consistent
                raise
            except BaseException:
                working.unlink(missing_ok=True)
                raise
            _swap(working, database, bits)


def _marker(database: Path) -> Path:
    """Beside a prepared working copy: the published file it copies (device, inode, size, mtime)."""
    return database.with_name(database.name + ".loading.from")


def _identity(database: Path) -> str:
    stat = database.stat()
    return json.dumps([stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_mode, stat.st_gid])


def prepare_working_copy(database: Path) -> bool:
    """Copy the published store to its working copy now (and flush it to disk), so the next load starts from it
    without copying: `minqing load --watch` calls this while it waits for files. The copy is used only if the
    published file is still the one copied (same inode, size, mtime, mode, group); else the next load discards it.
    False (nothing done) when another load holds the store or there is no store yet."""
    if not database.exists():
        return False
    try:
        with _exclusive(database):
            working, marker = working_path(database), _marker(database)
            for stale in (marker, working, working.with_name(working.name + ".wal")):
                stale.unlink(missing_ok=True)
            _checkpoint_leftover_wal(database)
            owner = database.stat()
            bits = owner.st_mode & 0o777
            with _umask_for(bits):
                shutil.copyfile(database, working)
                _same_owner(working, bits, owner.st_gid)
                with working.open("rb") as handle:
                    os.fsync(handle.fileno())
                marker.write_text(_identity(database), encoding="utf-8")  # last: a half copy has no marker
    except UserError:
        return False
    return True


def _take_prepared(database: Path) -> bool:
    """Whether a prepared working copy of exactly the published store is there; its marker is removed either way,
    so a load killed while it works on the copy leaves an unmarked copy that the next load discards."""
    marker, working = _marker(database), working_path(database)
    if not marker.exists():
        return False
    try:
        matches = (database.exists() and working.exists() and not working.with_name(working.name + ".wal").exists()
                   and marker.read_text(encoding="utf-8") == _identity(database))
    finally:
        marker.unlink(missing_ok=True)
    return matches


@contextmanager
def _umask_for(bits: int) -> Iterator[None]:
    """Files created meanwhile (the working copy, DuckDB's .wal) get at most `bits`."""
    previous = os.umask(0o777 & ~bits)
    try:
        yield
    finally:
        os.umask(previous)


def _same_owner(path: Path, bits: int, gid: int | None) -> None:
    os.chmod(path, bits)
    if gid is not None and path.stat().st_gid != gid:
        try:
            os.chown(path, -1, gid)
        except PermissionError:  # not a member of that group: the bits still hold, say so instead of failing
            raise UserError(f"{path}: cannot give it group id {gid} like the store it replaces; run the load as a "
                            "member of that group (or as the store's owner)") from None


@contextmanager
def _exclusive(database: Path) -> Iterator[None]:
    lock_path = database.with_name(database.name + ".lock")
    try:
        lock = lock_path.open("w")
    except OSError as exc:
        raise UserError(f"{database}: cannot write {lock_path.name} beside it ({exc.strerror}); a load writes its lock "
                        f"and working copy in {database.parent}: make that folder writable, or point `database` in "
                        "minqing.toml into a folder you may write") from None
    with lock:
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


def _verify(working: Path) -> None:
    """The new copy must open and answer before it replaces the published store."""
    try:
        with duckdb.connect(str(working), read_only=True) as con:
            con.execute("SELECT count(*) FROM meta").fetchone()
    except duckdb.Error as exc:
        working.unlink(missing_ok=True)
        raise UserError(f"{working}: the new copy of the store does not open ({exc}); the published store was left "
                        "as it was — check the disk (space, errors) and load again") from None


def _swap(working: Path, database: Path, bits: int) -> None:
    if not working.exists():
        return  # nothing was written (a load that failed before creating the store)
    _verify(working)
    os.chmod(working, bits)
    with working.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(working, database)
    directory = os.open(database.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
