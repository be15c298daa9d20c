"""A load SIGKILLed at any moment never leaves a broken or half-loaded published store (issue 6 item 5).

The demo city is copied without its database, so `minqing load` has real work (60k rows in 7 files and
the grids, a few seconds). The load runs as a subprocess and is killed after delays spread over the whole
measured load time, from before Python has imported anything to after the swap. After every kill the
published store (when there is one) must open read-only and be consistent: every batch finished and
accounted for, events = the sum of loaded rows, no event twice; a store the killed load did not publish
is byte for byte the one that was there before. Half the runs start from no store, half from a store
holding three of the departments (so the kill also hits a load that copies a published store). Finally an
uninterrupted load must give the same events as a reference load with no kills, and a rerun loads nothing.
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
from store.publish import working_path

REPO = Path(__file__).resolve().parents[2]
DB_NAME = "minqing.duckdb"
PARTIAL_DEPTS = ("grid_app", "hotline12345", "urban_mgmt")  # the quick files: a published store to start from
SEED = 20_240_606
KILLS_AT_LEAST = 10

Signature = tuple[int, int, int]


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
    """Run `minqing load` to completion; (seconds, its output)."""
    start = time.monotonic()
    done = subprocess.run(load_command(config), cwd=REPO, capture_output=True, text=True, timeout=120)
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


def kill_plan(rng: random.Random) -> list[float | str]:
    """When each kill lands: a fraction of the measured full load, or the moment an event is seen.

    Delays cover the start (the interpreter, the lock) and the load itself up to 70% (a run from the
    partial store is shorter than a full load); the events catch the short windows: a new working
    copy appearing (the copy of the published store in progress) and the swap (between `os.replace` and exit).
    """
    very_early = [0.01, 0.06]
    spread = [0.05 + rng.uniform(k / 6, (k + 1) / 6) * 0.65 for k in range(6)]  # over 5%..70%
    plan: list[float | str] = [*very_early, *spread]
    rng.shuffle(plan)  # empty and partial starts both get early and late kills
    for index, event in ((3, "new working copy"), (6, "swap"), (9, "swap")):  # odd runs start from the partial store
        plan.insert(index, event)
    return plan


def kill_when(process: subprocess.Popen, trigger: float | str, *, database: Path, loading: Path,
              full_seconds: float) -> bool:
    """SIGKILL the load at `trigger`; False when it finished first."""
    published, stale = signature(database), signature(loading)
    deadline = time.monotonic() + 3 * full_seconds
    if isinstance(trigger, float):
        time.sleep(trigger * full_seconds)
    else:
        while time.monotonic() < deadline and process.poll() is None:
            if trigger == "swap" and signature(database) != published:
                break
            if trigger == "new working copy" and signature(loading) not in (None, stale):
                break
            time.sleep(0.0005)
    if process.poll() is not None:
        return False
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    return True


def test_a_killed_load_never_breaks_the_published_store(demo_dir: Path, tmp_path: Path) -> None:
    # Reference: one uninterrupted load into a fresh copy; its time scales the kill delays.
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
    phases: Counter[str] = Counter()
    stale_starts = 0
    log = []
    plan, retries, run = kill_plan(rng), 0, -1
    while plan:
        trigger, run = plan.pop(0), run + 1
        start_from = "empty" if run % 2 == 0 else "partial"
        database.unlink(missing_ok=True)  # the stale working copy (if any) is left for the next load to handle
        if start_from == "partial":
            shutil.copyfile(partial_store, database)
        stale_starts += loading.exists()
        stale_before = signature(loading)
        published_before, bytes_before = signature(database), digest(database)

        started = time.monotonic()
        process = subprocess.Popen(load_command(config), cwd=REPO, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        finished = not kill_when(process, trigger, database=database, loading=loading, full_seconds=full_seconds)
        delay = time.monotonic() - started
        published_after, loading_after = signature(database), signature(loading)
        if finished:
            phase = "finished before the kill"
        elif published_after != published_before:
            phase = "after the swap"
        elif loading_after is not None and loading_after != stale_before:
            copying = published_before is not None and loading_after[1] < published_before[1]
            phase = "copying the published store" if copying else "loading the working copy"
        else:
            phase = "before the working copy"  # interpreter start, imports, lock, stale copy removal
        phases[phase] += 1
        if finished and isinstance(trigger, float) and retries < 3:  # a busy machine timed the reference slow
            plan.append(trigger / 2)
            retries += 1
        when = f"{trigger:.3f} of a load" if isinstance(trigger, float) else f"on seeing the {trigger}"
        log.append(f"run {run:2d} from {start_from:7s} kill at {delay:5.2f}s ({when}): {phase}")

        events = checked_events(database)
        if phase in ("after the swap", "finished before the kill"):
            assert events == reference, log[-1]
        else:
            assert digest(database) == bytes_before, f"{log[-1]}: the killed load changed the published store"
            assert events == (partial_events if start_from == "partial" else None), log[-1]

    summary = "\n".join(log + [f"phases: {dict(phases)}; runs that met a stale working copy: {stale_starts}"])
    print(f"\nfull load {full_seconds:.2f}s\n{summary}")
    killed = sum(n for phase, n in phases.items() if phase != "finished before the kill")
    assert killed >= KILLS_AT_LEAST, summary
    assert phases["loading the working copy"] >= 1, summary
    assert stale_starts >= 1, summary  # a stale `.loading` was there for a later load to get past

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
