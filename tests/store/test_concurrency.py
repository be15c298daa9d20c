"""Loads and a dashboard-like reader at the same time: the reader only ever sees whole published versions (issue 6 item 6).

A separate reader process does what dashboard/store.py does: it keys its read-only connection on the
published file's (inode, size, mtime) and, when that changes, closes the old connection and opens the new
file. It queries in a loop for the whole test (event count, events per large grid, batch accounting) while
the test loads: a store of three departments, the whole demo city, then watch-style single-file loads of
modified exports (statuses changed, a few new rows), with a second load refused while one is writing.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from etl.config import load_config
from store.errors import UserError
from etl.load import load_project
from store.publish import working_path
from etl.watch import source_for
from test_crash_safety import DB_NAME, REPO, copy_project, load_command, write_partial_config

READER_SECONDS = 50  # the reader stops by itself after this, whatever happens to the test

READER = textwrap.dedent("""
    import json, os, sys, time, traceback
    from store.schema import connect

    path, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
    deadline = time.monotonic() + float(sys.argv[4])
    signature, con = None, None
    snapshots, errors, versions, queries = [], [], [], 0

    def one(sql):
        cursor = con.cursor()  # the dashboard takes a cursor per query on the shared connection
        try:
            return cursor.execute(sql).fetchall()
        finally:
            cursor.close()

    while time.monotonic() < deadline and not os.path.exists(stop):
        try:
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                time.sleep(0.01)
                continue
            current = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if current != signature:  # a new version was published: close the old one, open the new one
                if con is not None:
                    con.close()
                    con = None
                con = connect(path, read_only=True)
                signature = current
                versions.append(list(current))
            events = one("SELECT count(*) FROM events")[0][0]
            per_grid = one("SELECT grid_large, count(*) FROM events GROUP BY grid_large")
            batches = one(
                "SELECT count(*), coalesce(sum(rows_loaded), 0), "
                "count(*) FILTER (WHERE rows_in <> rows_loaded + rows_updated + rows_duplicate + rows_rejected), "
                "count(*) FILTER (WHERE status <> 'done') FROM load_batches")[0]
            queries += 3
            snapshots.append([list(signature), events, sum(n for _, n in per_grid), *batches])
        except Exception:
            errors.append(traceback.format_exc())
            signature = None  # reopen on the next round
            time.sleep(0.01)
        time.sleep(0.002)
    if con is not None:
        con.close()
    with open(out, "w") as handle:
        json.dump({"snapshots": snapshots, "errors": errors[:20], "error_count": len(errors),
                   "versions": versions, "queries": queries}, handle)
""")


def modified_export(original: Path, target: Path, *, encoding: str, id_column: str, status_column: str,
                    closed: str, reopened: str, every: int, new_rows: int, tag: str) -> int:
    """A department's re-export: every `every`-th closed record reopened, `new_rows` new records; rows changed."""
    with original.open(encoding=encoding, newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    status, ident = header.index(status_column), header.index(id_column)
    changed = 0
    for number, row in enumerate(body):
        if number % every == 0 and row[status] == closed:
            row[status] = reopened
            changed += 1
    for row in body[-new_rows:]:
        body.append([f"{value}-{tag}" if i == ident else value for i, value in enumerate(row)])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *body])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buffer.getvalue().encode(encoding))
    return changed


def test_a_reader_sees_only_whole_versions_while_loads_publish(demo_dir: Path, tmp_path: Path) -> None:
    project = copy_project(demo_dir, tmp_path / "project")
    database = project / DB_NAME
    partial = load_config(write_partial_config(project, DB_NAME))
    config = load_config(project / "minqing.toml")
    stop, out = tmp_path / "stop", tmp_path / "reader.json"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(database), str(stop), str(out), str(READER_SECONDS)],
                              cwd=REPO)
    try:
        # 1. A store of three departments, then the whole city by `minqing load` in another process;
        #    a second load meanwhile is refused by the lock, not run on top of it.
        load_project(partial)
        time.sleep(0.3)
        full = subprocess.Popen(load_command(project / "minqing.toml"), cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        while not working_path(database).exists() and full.poll() is None:
            time.sleep(0.01)
        if full.poll() is None:
            with pytest.raises(UserError, match="another load is writing"):
                load_project(config)
        _, err = full.communicate(timeout=120)
        assert full.returncode == 0, err
        time.sleep(0.3)

        # 2. Watch-style loads: one re-exported file at a time, as `minqing load --watch` does.
        inbox = project / "inbox"
        exports = [
            ("police110_calls.csv", "gbk", "警情编号", "处警状态", "已结警", "处警中", 40, 50),
            ("urban_mgmt.csv", "utf-8", "案卷编号", "案卷状态", "已结案", "处置中", 20, 30),
            ("police110_calls.csv", "gbk", "警情编号", "处警状态", "已结警", "处警中", 25, 20),
        ]
        expected_new = 0
        for round_, (name, encoding, ident, status, closed, reopened, every, new_rows) in enumerate(exports):
            path = inbox / name
            changed = modified_export(project / "raw" / name, path, encoding=encoding, id_column=ident,
                                      status_column=status, closed=closed, reopened=reopened, every=every,
                                      new_rows=new_rows, tag=f"R{round_}")
            result = load_project(config, files=[(source_for(config, path), path)]).files[0]
            assert result.updated >= changed > 0 and result.loaded > 0, result
            expected_new += result.loaded
            time.sleep(0.3)
        time.sleep(0.5)  # let the reader see the last version
    finally:
        stop.touch()
        try:
            reader.wait(timeout=READER_SECONDS + 30)
        finally:
            if reader.poll() is None:
                reader.kill()
    assert reader.returncode == 0

    seen = json.loads(out.read_text())
    snapshots, versions = seen["snapshots"], seen["versions"]
    assert seen["error_count"] == 0, "\n".join(seen["errors"])
    for signature, events, per_grid, batches, loaded, broken, running in snapshots:
        assert events == loaded, f"{signature}: {events} events but {loaded} rows loaded by finished batches"
        assert per_grid == events and broken == 0 and running == 0, (signature, events, per_grid, broken, running)
    by_version: dict[tuple[int, ...], set[tuple[int, int]]] = {}
    for signature, events, _, _, loaded, _, _ in snapshots:
        by_version.setdefault(tuple(signature), set()).add((events, loaded))
    assert all(len(pairs) == 1 for pairs in by_version.values()), "a version changed under its reader"
    counts = [events for _, events, *_ in snapshots]
    assert all(a <= b for a, b in zip(counts, counts[1:])), "the event count went down"
    assert len(versions) >= 2 and len(by_version) >= 2

    with duckdb.connect(str(database), read_only=True) as con:
        final = con.execute("SELECT count(*) FROM events").fetchone()[0]
        stat = database.stat()
    assert counts[-1] == final and tuple(snapshots[-1][0]) == (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    print(f"\nreader: {seen['queries']} queries in {len(snapshots)} snapshots, {seen['error_count']} errors, "
          f"{len(versions)} versions opened, event counts seen {sorted({e for e, _ in set().union(*by_version.values())})}; "
          f"watch-style loads added {expected_new} events")
