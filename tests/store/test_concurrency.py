"""Loads and a dashboard-like reader at the same time: the reader only ever sees whole published versions (issue 6 item 6).

A separate reader process does what dashboard/published.py does: it keys its read-only connection on the
published file's (inode, size, mtime) and, when that changes, closes the old connection and opens the new
file. It queries in a loop for the whole test (event count, events per large grid, batch accounting) while
the test loads: a store of three departments, the whole demo city, then watch-style single-file loads of
modified exports (statuses changed, a few new rows).

Nothing here waits for a time to pass. The reader reports on its stdout each version it opens (after its first
round of queries on it) and answers "sync" on its stdin after a whole round begun after the question; the test
starts load N+1 only after the reader has reported version N, and tells it to stop on stdin. The full load
stops by itself inside a file's transaction (tests/store/paused_load.py): while it holds the lock there, a
second load must be refused, and the reader must still see the version published before.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from etl.config import load_config
from store.errors import UserError
from etl.load import load_project
from store.publish import working_path
from etl.watch import source_for
from paused_load import SAFETY_SECONDS, Lines, PausedLoad
from test_crash_safety import DB_NAME, REPO, copy_project, signature, write_partial_config

READER = textwrap.dedent("""
    import json, os, queue, sys, threading, traceback
    from store.schema import connect

    path, out = sys.argv[1], sys.argv[2]
    commands = queue.Queue()

    def listen():
        for line in sys.stdin:
            commands.put(line.strip())
        commands.put("stop")  # the test went away: stop too

    threading.Thread(target=listen, daemon=True).start()
    signature, con = None, None
    snapshots, errors, versions, queries = [], [], [], 0
    asked, stopping = 0, False

    def one(sql):
        cursor = con.cursor()  # the dashboard takes a cursor per query on the shared connection
        try:
            return cursor.execute(sql).fetchall()
        finally:
            cursor.close()

    def say(kind, snapshot):
        print(kind, json.dumps(snapshot), flush=True)

    while not stopping:
        answering = asked  # "sync"s asked before this round began: answered when it is done
        try:
            stat = os.stat(path)
            current = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            new = current != signature
            if new:  # a new version was published: close the old one, open the new one
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
            snapshot = [list(signature), events, sum(n for _, n in per_grid), *batches]
            snapshots.append(snapshot)
            if new:
                say("version", snapshot)
            for _ in range(answering):
                say("synced", snapshot)
            asked -= answering
        except Exception:
            errors.append(traceback.format_exc())
            signature = None  # reopen on the next round
        try:  # between rounds, wait briefly for a command (this only paces the loop)
            command = commands.get(timeout=0.002)
            while True:
                asked += command == "sync"
                stopping |= command == "stop"
                command = commands.get_nowait()
        except queue.Empty:
            pass
    if con is not None:
        con.close()
    with open(out, "w") as handle:
        json.dump({"snapshots": snapshots, "errors": errors[:20], "error_count": len(errors),
                   "versions": versions, "queries": queries}, handle)
""")


class Reader:
    """The reader process and its line protocol."""

    def __init__(self, database: Path, out: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", READER, str(database), str(out)], cwd=REPO,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.process.stdout is not None and self.process.stdin is not None
        self.lines = Lines(self.process.stdout.fileno())

    def next(self, kind: str) -> list:
        line = self.lines.next(f"the reader ({kind})")
        assert line, f"the reader ended (exit code {self.process.wait(timeout=SAFETY_SECONDS)}) instead of a {kind!r}"
        got, _, snapshot = line.partition(" ")
        assert got == kind, f"the reader said {line!r}, expected {kind!r}"
        return json.loads(snapshot)

    def saw_version(self, expected: tuple[int, int, int]) -> list:
        """Wait for the reader to report that it opened `expected` (the next version it opens must be it)."""
        snapshot = self.next("version")
        assert tuple(snapshot[0]) == expected, f"the reader opened {snapshot[0]}, not the published {expected}"
        return snapshot

    def sync(self) -> list:
        """The snapshot of a whole round of queries begun after this call."""
        self.process.stdin.write(b"sync\n")
        self.process.stdin.flush()
        return self.next("synced")

    def stop(self) -> int:
        if not self.process.stdin.closed:
            self.process.stdin.write(b"stop\n")
            self.process.stdin.close()
        return self.process.wait(timeout=SAFETY_SECONDS)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def store_events(database: Path) -> int:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("SELECT count(*) FROM events").fetchone()[0]


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
    out = tmp_path / "reader.json"

    # 0. A store of three departments; the reader opens it.
    load_project(partial)
    published = [signature(database)]
    counts = [store_events(database)]
    reader = Reader(database, out)
    try:
        assert reader.saw_version(published[-1])[1] == counts[-1]

        # 1. The whole city by `minqing load` in another process, stopped inside a file's transaction with the
        #    lock held: a second load is refused by the lock, and the reader still sees the store published before.
        with PausedLoad(project / "minqing.toml", "in a file's transaction", log=tmp_path / "full.log") as full:
            full.paused()
            assert working_path(database).exists()
            with pytest.raises(UserError, match="another load is writing this store"):
                load_project(config)
            assert signature(database) == published[-1]
            during = reader.sync()
            assert (tuple(during[0]), during[1]) == (published[-1], counts[-1])
            assert full.go() == 0, full.output()
        published.append(signature(database))
        counts.append(store_events(database))
        assert counts[-1] > counts[-2]
        assert reader.saw_version(published[-1])[1] == counts[-1]

        # 2. Watch-style loads: one re-exported file at a time, as `minqing load --watch` does; each after the
        #    reader has opened the version before it.
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
            published.append(signature(database))
            counts.append(store_events(database))
            assert counts[-1] == counts[-2] + result.loaded
            assert reader.saw_version(published[-1])[1] == counts[-1]
        last = reader.sync()  # a last whole round on the last version
        assert reader.stop() == 0
    finally:
        reader.kill()

    seen = json.loads(out.read_text())
    snapshots, versions = seen["snapshots"], seen["versions"]
    assert seen["error_count"] == 0, "\n".join(seen["errors"])
    for snapshot in snapshots:
        version, events, per_grid, batches, loaded, broken, running = snapshot
        assert events == loaded, f"{version}: {events} events but {loaded} rows loaded by finished batches"
        assert per_grid == events and broken == 0 and running == 0, snapshot
    assert [tuple(v) for v in versions] == published, "the reader opened other versions than the published ones"
    by_version: dict[tuple[int, ...], set[int]] = {}
    for version, events, *_ in snapshots:
        by_version.setdefault(tuple(version), set()).add(events)
    assert {v: sorted(e) for v, e in by_version.items()} == {v: [n] for v, n in zip(published, counts)}, \
        "a version changed under its reader, or showed other counts than the published store"
    events_seen = [events for _, events, *_ in snapshots]
    assert all(a <= b for a, b in zip(events_seen, events_seen[1:])), "the event count went down"
    assert tuple(last[0]) == published[-1] == tuple(snapshots[-1][0]) and last[1] == counts[-1]
    print(f"\nreader: {seen['queries']} queries in {len(snapshots)} snapshots, {seen['error_count']} errors, "
          f"{len(versions)} versions opened, event counts seen {counts}; "
          f"watch-style loads added {expected_new} events")
