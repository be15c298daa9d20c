"""Analysis benchmark at 5M events: early warnings for every small grid × category, Gi* with 999 permutations,
emerging hotspots over 52 weeks, each next to a plain baseline in the same run (the bare SQL read, or the analytical
statistic without permutations). Other work may share the 2 cores: the load average is printed beside the figures.

Run: .venv/bin/python bench/analysis.py [--db bench/out/full.duckdb]   (built with bench/etl.py when missing)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

import duckdb  # noqa: E402

from layers.hotspots import emerging_hotspots, hotspots  # noqa: E402
from layers.stats import data_clock  # noqa: E402
from layers.warnings import spike_warnings  # noqa: E402


def best(fn, repeat: int = 2) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "out" / "full.duckdb")
    args = parser.parse_args()
    if not args.db.exists():
        print(f"{args.db} missing: building it with bench/etl.py --events 5000000 …", flush=True)
        subprocess.run([sys.executable, str(ROOT / "bench" / "etl.py"), "--events", "5000000"], check=True)
    con = duckdb.connect(str(args.db), read_only=True)
    events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    keys = con.execute("SELECT count(DISTINCT category) FROM events").fetchone()[0]
    as_of = data_clock(con) + dt.timedelta(minutes=1)
    print(f"{events:,} events, {keys} categories seen; as_of {as_of:%Y-%m-%d %H:%M}; load {os.getloadavg()}")
    rows = [
        ("warnings, 4,555 small grids × every category", lambda: spike_warnings(con, "small", as_of=as_of),
         "baseline: GROUP BY grid, category over the 7 days", lambda: con.execute(
             "SELECT grid_small, category, count(*) FROM events WHERE reported_at >= ? AND reported_at < ? "
             "GROUP BY 1, 2", [as_of - dt.timedelta(days=7), as_of]).fetchall(), 5.0),
        ("Gi*, 868 medium grids, 13 weeks, 999 permutations",
         lambda: hotspots(con, "medium", start=as_of - dt.timedelta(weeks=13), end=as_of),
         "baseline: the same without permutations", lambda: hotspots(con, "medium", start=as_of - dt.timedelta(weeks=13),
                                                                     end=as_of, permutations=0), 10.0),
        ("Gi*, 4,555 small grids, 13 weeks, 999 permutations",
         lambda: hotspots(con, "small", start=as_of - dt.timedelta(weeks=13), end=as_of),
         "baseline: the same without permutations", lambda: hotspots(con, "small", start=as_of - dt.timedelta(weeks=13),
                                                                     end=as_of, permutations=0), 10.0),
        ("emerging hotspots, 868 medium grids, 52 weeks", lambda: emerging_hotspots(con, "medium", as_of=as_of),
         "baseline: GROUP BY grid, week over 52 weeks", lambda: con.execute(
             "SELECT grid_medium, date_trunc('week', reported_at), count(*) FROM events WHERE reported_at >= ? "
             "GROUP BY 1, 2", [as_of - dt.timedelta(weeks=52)]).fetchall(), 60.0),
    ]
    print(f"\n{'what':<52} {'s':>7} {'budget':>7}   {'baseline':<46} {'s':>7}")
    for name, fn, base_name, base, budget in rows:
        seconds = best(fn)
        baseline = best(base)
        print(f"{name:<52} {seconds:>7.2f} {budget:>7.0f}   {base_name:<46} {baseline:>7.2f}", flush=True)
    print(f"\nload average after: {os.getloadavg()}")
    con.close()


if __name__ == "__main__":
    main()
