"""Incremental load benchmark: one file of 10,000 rows (half updates of stored events, half new ones) into the
5M-event store, end to end as `minqing load --watch` does it (lock, working copy, grids, read, normalise, locate,
merge, incremental rollups, checkpoint, verify, swap), with where the time goes.

Run: .venv/bin/python bench/watch.py [--dir bench/out] [--rows 10000]
Needs the store bench/etl.py writes (bench/out/full.duckdb, 5M events); it is copied, never changed. The floor
printed beside it: copying the store file once (what publishing a new snapshot costs at the least).
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import pstats
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from etl.config import load_config  # noqa: E402
from etl.load import load_project  # noqa: E402

PHASES = {  # function (module:name) -> label, for the breakdown
    "publish.py:publishing": "lock + working copy + swap",
    "publish.py:_swap": "  verify + fsync + swap",
    "grids.py:load_grids": "grids (read, unchanged)",
    "assign.py:from_db": "grid index",
    "readers.py:read_raw": "read the file",
    "normalize.py:normalise": "normalise + locate",
    "merge.py:merge_rows": "merge",
    "rollups.py:refresh_rollups": "rollups (incremental)",
    "load.py:_finish": "keys + cells + rollups + checkpoint",
}


def write_update(folder: Path, rows: int) -> Path:
    """A CSV in the bench's format: rows/2 changed versions of stored events, rows/2 new events."""
    source = next(folder.glob("events_*.csv"))
    head = pd.read_csv(source, nrows=rows // 2, dtype=str, keep_default_na=False)
    head["status"] = "已办结"
    head["closed_at"] = (pd.to_datetime(head["reported_at"]) + pd.Timedelta(hours=5)).dt.strftime("%Y-%m-%d %H:%M:%S")
    new = head.copy()
    new["id"] = "W" + pd.Series(np.arange(len(new))).astype(str)
    path = folder / "inbox" / "update.csv"
    path.parent.mkdir(exist_ok=True)
    pd.concat([head, new]).to_csv(path, index=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    store = args.dir / "full.duckdb"
    if not store.exists():
        sys.exit(f"{store} missing: run bench/etl.py --events 5000000 first")
    copy = args.dir / "watch.duckdb"
    started = time.perf_counter()
    shutil.copyfile(store, copy)
    copy_s = time.perf_counter() - started
    with duckdb.connect(str(copy), read_only=True) as con:
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    config = dataclasses.replace(load_config(args.dir / "minqing.toml"), database=copy)
    path = write_update(args.dir, args.rows)
    source = config.departments[0]
    from store.publish import prepare_working_copy

    started = time.perf_counter()
    prepare_working_copy(copy)  # what `minqing load --watch` does while it waits for the file
    prepare_s = time.perf_counter() - started
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    report = load_project(config, files=[(source, path)])
    profile.disable()
    seconds = time.perf_counter() - started
    (result,) = report.files
    print(f"store: {events:,} events, {store.stat().st_size / 2**20:,.0f} MB")
    print(f"floor: copy the store file once          {copy_s:6.2f} s")
    print(f"incremental load of {result.rows_in:,} rows       {seconds:6.2f} s  "
          f"(loaded {result.loaded:,}, updated {result.updated:,}, duplicate {result.duplicate:,})")
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, _tt, cumulative, _callers) in sorted(
            stats.items(), key=lambda item: -item[1][3]):
        label = PHASES.get(f"{Path(filename).name}:{name}")
        if label:
            print(f"  {label:<38} {cumulative:6.2f} s")
    with duckdb.connect(str(copy)) as con:  # the same rollups rebuilt in full, as every load did before
        from store.rollups import refresh_rollups

        con.execute("SET memory_limit = '3GB'")
        started = time.perf_counter()
        refresh_rollups(con, force=True)
        full_s = time.perf_counter() - started
    print(f"  (prepared working copy, made while waiting: {prepare_s:.2f} s; the rollups rebuilt in full instead: "
          f"{full_s:.2f} s)")
    copy.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
