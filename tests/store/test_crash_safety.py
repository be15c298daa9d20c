"""A load SIGKILLed at any moment never leaves a broken or half-loaded published store (issue 6 item 5).

The demo city is copied without its database, so `minqing load` has real work (60k rows in 7 files and
the grids, a few seconds). The load runs as a subprocess and is killed at every named point of its work:
it stops there by itself and waits (tests/store/paused_load.py), so where each kill lands never depends on
the machine's speed. A few more kills land at seeded random moments of the load, for the moments between
the named points (after the named runs, so that what those leave behind does not depend on where the random
ones land); wherever they land, the same invariants hold. After every kill the published store (when there
is one) must open read-only and be consistent: every batch finished and accounted for, events = the sum of
loaded rows, no event twice; a store the killed load did not publish is byte for byte the one that was there
before. Runs alternate between no store and a store holding three of the departments (so kills also hit a
load that copies a published store), and most named runs meet the stale working copy the kill before left.
Finally an uninterrupted load must give the same events as a reference load with no kills, and a rerun
loads nothing.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import duckdb
import pytest

import etl.load
from etl.config import load_config
from paused_load import SAFETY_SECONDS, PausedLoad
from store.publish import working_path

REPO = Path(__file__).resolve().parents[2]
DB_NAME = "minqing.duckdb"
PARTIAL_DEPTS = ("grid_app", "hotline12345", "urban_mgmt")  # the quick files: a published store to start from
SEED = 20_240_606
RANDOM_KILLS = 4

Signature = tuple[int, int, int]

# (start, where the load is killed, what the files then show): runs alternate so each finds the last one's leftovers.
BEFORE, COPYING, WORKING, SWAPPED = ("before the working copy", "copying the published store",
                                     "in the working copy", "after the swap")
KILLS: list[tuple[str, str, str]] = [
    ("empty", "locked", BEFORE),
    ("partial", "copying", COPYING),
    ("empty", "between files", WORKING),
    ("partial", "copied", WORKING),
    ("empty", "in a file's transaction", WORKING),
    ("partial", "locked", BEFORE),
    ("empty", "rollups refreshed", WORKING),
    ("partial", "in a file's transaction", WORKING),
    ("empty", "before the swap", WORKING),
    ("empty", "after the swap", SWAPPED),
    ("partial", "after the swap", SWAPPED),
]


def copy_project(demo_dir: Path, target: Path) -> Path:
    """The demo city's files without its database (never write into the session's demo folder), and without the
    roster and patrol check-ins: they take the same publish path, and would add half a minute to each of the
    many loads here."""
    shutil.copytree(demo_dir, target, ignore=shutil.ignore_patterns(f"{DB_NAME}*", "patrol", "roster.xlsx"))
    config = target / "minqing.toml"
    head, *blocks = config.read_text(encoding="utf-8").split("[[departments]]")
    kept = [b for b in blocks if "mappings/roster.toml" not in b and "mappings/patrol.toml" not in b]
    assert len(kept) == len(blocks) - 2
    config.write_text(head + "".join("[[departments]]" + b for b in kept), encoding="utf-8")
    return target


def write_partial_config(project: Path, database: str) -> Path:
    """A config naming only PARTIAL_DEPTS' files, writing to `database`."""
    text = (project / "minqing.toml").read_text(encoding="utf-8")
    head, *blocks = text.split("[[departments]]")
    head = head.replace(f'database = "{DB_NAME}"', f'database = "{database}"')
    assert f'database = "{database}"' in head
    kept = [b for b in blocks if any(f"mappings/{dept}.toml" in b for dept in PARTIAL_DEPTS)]
    assert len(kept) == len(PARTIAL_DEPTS)
    path = project / "partial.toml"
    path.write_text(head + "".join("[[departments]]" + b for b in kept), encoding="utf-8")
    return path


def load_command(config: Path) -> list[str]:
    return [sys.executable, "-m", "minqing.cli", "load", "--config", str(config)]


def run_load(config: Path) -> tuple[float, str]:
    """Run `minqing load` to completion; (seconds, its output). The seconds only scale the random kills."""
    start = time.monotonic()
    done = subprocess.run(load_command(config), cwd=REPO, capture_output=True, text=True, timeout=SAFETY_SECONDS)
    assert done.returncode == 0, done.stdout + done.stderr
    return time.monotonic() - start, done.stdout


def signature(path: Path) -> Signature | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def checked_events(database: Path) -> dict[str, str] | None:
    """Open the published store read-only, check its invariants, return event_id -> row_hash (None: no store)."""
    if not database.exists():
        return None
    with duckdb.connect(str(database), read_only=True) as con:
        batches, unfinished, broken, loaded = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE status <> 'done' OR finished_at IS NULL), "
            "count(*) FILTER (WHERE rows_in <> rows_loaded + rows_updated + rows_duplicate + rows_rejected), "
            "coalesce(sum(rows_loaded), 0) FROM load_batches"
        ).fetchone()
        events, distinct = con.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
        rows = con.execute("SELECT event_id, row_hash FROM events").fetchall()
    assert unfinished == 0, f"{unfinished} of {batches} batches published unfinished"
    assert broken == 0, f"{broken} of {batches} batches break rows_in = loaded + updated + duplicate + rejected"
    assert events == loaded, f"events {events} != sum of rows_loaded {loaded}"
    assert distinct == events, f"{events - distinct} duplicate event_ids"
    return dict(rows)


def random_delays(rng: random.Random) -> list[float]:
    """Fractions of the measured full load at which the random kills land: one very early (the interpreter, the
    imports), the others spread up to 70% of it. Where they land is only logged: no assertion depends on it."""
    return [rng.uniform(0.0, 0.05)] + [rng.uniform(k / (RANDOM_KILLS - 1), (k + 1) / (RANDOM_KILLS - 1)) * 0.7
                                       for k in range(RANDOM_KILLS - 1)]


def what_the_files_show(published_before: Signature | None, stale_before: Signature | None, *,
                        database: Path, loading: Path) -> str:
    """Where a killed load was, read from the files it left."""
    published_after, loading_after = signature(database), signature(loading)
    if published_after != published_before:
        return SWAPPED
    if loading_after is not None and loading_after != stale_before:
        copying = published_before is not None and loading_after[1] < published_before[1]
        return COPYING if copying else WORKING
    return BEFORE  # interpreter start, imports, lock, stale copy removal


def test_a_killed_load_never_breaks_the_published_store(demo_dir: Path, tmp_path: Path) -> None:
    # Reference: one uninterrupted load into a fresh copy; its time scales the random kills' delays.
    reference_dir = copy_project(demo_dir, tmp_path / "reference")
    full_seconds, _ = run_load(reference_dir / "minqing.toml")
    reference = checked_events(reference_dir / DB_NAME)
    assert reference is not None and len(reference) > 50_000
    run_load(write_partial_config(reference_dir, "partial.duckdb"))  # a published store to start half the runs from
    partial_store = reference_dir / "partial.duckdb"
    partial_events = checked_events(partial_store)
    assert partial_events and len(partial_events) < len(reference)

    project = copy_project(demo_dir, tmp_path / "project")
    config = project / "minqing.toml"
    database = project / DB_NAME
    loading = working_path(database)
    rng = random.Random(SEED)
    plan: list[tuple[str, str | float, str | None]] = [*KILLS]  # then the random kills, alternating starts
    plan += [("empty" if number % 2 else "partial", delay, None) for number, delay in enumerate(random_delays(rng))]
    seen: Counter[str] = Counter()
    stale_starts, named_stale_starts, log = 0, 0, []
    for run, (start_from, when, expected) in enumerate(plan):
        database.unlink(missing_ok=True)  # the stale working copy (if any) is left for the next load to handle
        if start_from == "partial":
            shutil.copyfile(partial_store, database)
        stale_starts += loading.exists()
        stale_before = signature(loading)
        published_before, bytes_before = signature(database), digest(database)

        if isinstance(when, str):
            with PausedLoad(config, when, log=tmp_path / f"run{run}.log") as load:
                load.paused()
                load.kill()
            finished, label = False, f"at {when!r}"
        else:
            process = subprocess.Popen(load_command(config), cwd=REPO, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
            try:
                process.wait(timeout=when * full_seconds)  # the random moment of the kill, not a synchronisation
                finished = True
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=SAFETY_SECONDS)
                finished = False
            label = f"at {when:.3f} of a load"
        phase = "finished before the kill" if finished else what_the_files_show(
            published_before, stale_before, database=database, loading=loading)
        seen[phase] += 1
        log.append(f"run {run:2d} from {start_from:7s} killed {label:30s}: {phase}")
        if expected is not None:
            assert phase == expected, f"{log[-1]}, expected {expected}"
            named_stale_starts += stale_before is not None
            if expected in (COPYING, WORKING):
                assert loading.exists(), f"{log[-1]}: no stale working copy left for the next load"

        events = checked_events(database)
        if phase in (SWAPPED, "finished before the kill"):
            assert events == reference, log[-1]
        else:
            assert digest(database) == bytes_before, f"{log[-1]}: the killed load changed the published store"
            assert events == (partial_events if start_from == "partial" else None), log[-1]

    summary = "\n".join(log + [f"phases: {dict(seen)}; runs that met a stale working copy: {stale_starts}"])
    print(f"\nfull load {full_seconds:.2f}s\n{summary}")
    assert named_stale_starts >= 5, summary  # stale `.loading` copies were there for later loads to get past

    # An uninterrupted load completes over whatever the kills left and equals the reference.
    _, output = run_load(config)
    assert checked_events(database) == reference
    assert not loading.exists() and not loading.with_name(loading.name + ".wal").exists()
    with duckdb.connect(str(database), read_only=True) as con:
        batches = con.execute("SELECT count(*) FROM load_batches").fetchone()[0]

    # Rerunning loads nothing: every file is skipped as unchanged, no batch is added.
    _, output = run_load(config)
    assert "7 file(s) unchanged since their last load" in output, output
    assert checked_events(database) == reference
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM load_batches").fetchone()[0] == batches


def test_ctrl_c_in_a_load_is_a_clean_interrupt(demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C inside a file's transaction (e.g. under `minqing load --watch`) rolls it back and stays a KeyboardInterrupt.

    It used to surface as DuckDB's "cannot start a transaction within a transaction" from the rollups refresh
    that runs after it, so `--watch` printed a traceback instead of stopping.
    """
    project = copy_project(demo_dir, tmp_path / "project")
    normalise, calls = etl.load.normalise, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # inside the second file's transaction
            raise KeyboardInterrupt
        return normalise(*args, **kwargs)

    monkeypatch.setattr(etl.load, "normalise", interrupted)
    config = load_config(project / "minqing.toml")
    with pytest.raises(KeyboardInterrupt):
        etl.load.load_project(config)
    assert not config.database.exists() and not working_path(config.database).exists()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-s"]))
