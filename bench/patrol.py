"""Patrol benchmark: loading the roster and the check-ins (rows/s, peak MB) next to a plain read of the same JSON
Lines files, and the patrol figures / coverage layer per level (ms, HTML MB) next to a plain count of the visits.

Run: .venv/bin/python bench/patrol.py [--dir bench/out/patrol] [--since 2025-07-01]
The demo city is built there first when missing (`minqing demo --patrol-since SINCE --no-serve`, not loaded);
the store is loaded into a fresh file on every run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

import duckdb  # noqa: E402

from etl.config import load_config  # noqa: E402
from etl.load import load_project, planned_files  # noqa: E402
from layers.coverage import coverage_map  # noqa: E402
from layers.geometry import prepare_level  # noqa: E402
from layers.patrol import latest_visits, monthly_activity, patrol_figures  # noqa: E402

LEVELS = ("city", "large", "medium", "small")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def build(directory: Path, since: str) -> Path:
    config = directory / "minqing.toml"
    if not config.exists():
        from minqing.demo.build import build_demo
        import datetime as dt

        build_demo(directory, events=60_000, patrol_since=dt.date.fromisoformat(since))
    return config


def plain_read(files: list[Path]) -> int:
    """The floor: every line parsed with json.loads, nothing else."""
    rows = 0
    for path in files:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                json.loads(line)
                rows += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=ROOT / "bench" / "out" / "patrol")
    parser.add_argument("--since", default="2025-07-01")
    args = parser.parse_args()
    config = load_config(build(args.dir, args.since))
    store = args.dir / "bench.duckdb"
    store.unlink(missing_ok=True)
    config = dataclasses.replace(config, database=store)
    todo = planned_files(config)
    roster = [f for f in todo if f[0].mapping.kind == "roster"]
    visits = [f for f in todo if f[0].mapping.kind == "visits"]
    files = [path for _, path in visits]
    size_mb = sum(p.stat().st_size for p in files) / 2**20
    base_s, rows = timed(lambda: plain_read(files))
    print(f"check-ins: {rows:,} lines in {len(files)} files, {size_mb:,.0f} MB")
    print(f"  baseline json.loads per line   {base_s:7.1f} s  {rows / base_s:10,.0f} rows/s")
    roster_s, _ = timed(lambda: load_project(config, files=roster))
    load_s, report = timed(lambda: load_project(config, files=visits))
    print(f"  roster load (28k people)       {roster_s:7.1f} s")
    print(f"  full load (normalise, locate,  {load_s:7.1f} s  {rows / load_s:10,.0f} rows/s  "
          f"{load_s / base_s:.1f}x the baseline")
    print("   GCJ-02, merge, beats)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of this process       {peak:7,.0f} MB")
    con = duckdb.connect(str(store), read_only=True)
    as_of = con.execute("SELECT max(visited_at) FROM visits").fetchone()[0]
    count_s, _ = timed(lambda: con.execute("SELECT grid_small, count(*) FROM visits GROUP BY 1").fetchall())
    print(f"figures at {as_of:%Y-%m-%d %H:%M}: baseline count per small grid {count_s * 1000:6.0f} ms")
    for level in LEVELS:
        seconds, figures = timed(lambda: patrol_figures(con, level, as_of=as_of))
        print(f"  patrol_figures {level:<7} {seconds * 1000:7.0f} ms  ({len(figures):,} rows)")
    seconds, _ = timed(lambda: latest_visits(con, as_of=as_of, limit=10))
    print(f"  latest_visits (feed)     {seconds * 1000:7.0f} ms")
    seconds, _ = timed(lambda: monthly_activity(con, start="2019-01-01", end="2026-01-01"))
    print(f"  monthly_activity (city)  {seconds * 1000:7.0f} ms")
    for level in ("large", "medium", "small"):
        figures = patrol_figures(con, level, as_of=as_of)
        prepared = prepare_level(con, level)
        seconds, html = timed(lambda: coverage_map(prepared, figures, neglect_days=7, level_label=level)
                              .get_root().render())
        print(f"  coverage layer {level:<7} {seconds * 1000:7.0f} ms  {len(html.encode()) / 2**20:5.2f} MB HTML")
    con.close()
    subprocess.run(["du", "-sh", str(store)], check=False)


if __name__ == "__main__":
    main()
