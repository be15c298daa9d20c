"""Analysis benchmark at 5M events: early warnings for every small grid × category, their back-test over 52 weeks,
Gi* with 999 permutations, emerging hotspots over 52 weeks, each next to a plain baseline in the same run (the bare
SQL read, the analytical statistic without permutations, or the moments one by one). Other work may share the 2
cores: the load average (as `uptime` shows it) is printed before and after.

Categories: bench/etl.py's store has 3 categories, and warnings are per grid × category, so this benchmark reads a
copy (bench/out/analysis.duckdb, made once in a few seconds) whose events carry the 41 categories of
data/categories.toml with Zipf weights (the commonest 23 % of events, the rarest 0.6 %), picked by a hash of the
event id; the dispute class follows the category and the rollups are rebuilt.

Run: .venv/bin/python bench/analysis.py [--db bench/out/full.duckdb]   (built with bench/etl.py when missing)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

import duckdb  # noqa: E402

from bench.etl import ensure_store  # noqa: E402
from layers.hotspots import emerging_hotspots, hotspots  # noqa: E402
from layers.stats import data_clock  # noqa: E402
from layers.warnings import all_warnings, spike_backtest, spike_warnings  # noqa: E402
from store.rollups import refresh_rollups  # noqa: E402

SLOTS = 1_000  # the category mix in thousandths


def categorised_store(full: Path) -> Path:
    """A copy of the bench store whose events carry every category of data/categories.toml (module docstring)."""
    target = full.with_name("analysis.duckdb")
    if target.exists() and target.stat().st_mtime >= full.stat().st_mtime:
        return target
    codes = list(tomllib.loads((ROOT / "data" / "categories.toml").read_text(encoding="utf-8")))
    weights = [1.0 / rank for rank in range(1, len(codes) + 1)]
    slots = [code for code, w in zip(codes, weights) for _ in range(max(1, round(SLOTS * w / sum(weights))))]
    partial = target.with_suffix(".partial")
    shutil.copyfile(full, partial)
    with duckdb.connect(str(partial)) as con:
        con.execute("CREATE TEMP TABLE mix AS SELECT unnest(range(?)) AS slot, unnest(?) AS code", [len(slots), slots])
        con.execute("""
            UPDATE events
            SET category = m.code, dispute_class = c.dispute_class, is_dispute = c.dispute_class IS NOT NULL
            FROM mix AS m JOIN categories AS c ON c.code = m.code
            WHERE m.slot = hash(events.event_id) % ?""", [len(slots)])
        refresh_rollups(con, force=True)
    partial.replace(target)
    return target


def best(fn, repeat: int = 2) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "out" / "full.duckdb")
    args = parser.parse_args()
    ensure_store(args.db)
    con = duckdb.connect(str(categorised_store(args.db)), read_only=True)
    events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    keys = con.execute("SELECT count(DISTINCT category) FROM events").fetchone()[0]
    as_of = data_clock(con) + dt.timedelta(minutes=1)
    mondays = [dt.datetime.combine(as_of.date() - dt.timedelta(days=as_of.weekday() + 7 * k), dt.time())
               for k in range(52)]
    quarter = dt.timedelta(weeks=13)
    print(f"{events:,} events, {keys} categories seen; as_of {as_of:%Y-%m-%d %H:%M}; load average {load()}")

    def seven_days() -> None:
        con.execute("SELECT grid_small, category, count(*) FROM events WHERE reported_at >= ? AND reported_at < ? "
                    "GROUP BY 1, 2", [as_of - dt.timedelta(days=7), as_of]).fetchall()

    rows = [  # what, how, budget, baseline, how, repeats
        ("warnings, 4,555 small grids × every category", lambda: spike_warnings(con, "small", as_of=as_of), 5.0,
         "GROUP BY grid, category over the 7 days", seven_days, 2),
        ("every kind of warning, small grids (the 预警 tile)", lambda: all_warnings(con, "small", as_of=as_of), 5.0,
         "GROUP BY grid, category over the 7 days", seven_days, 2),
        ("the same from every weekly cell (the former way)", lambda: spike_backtest(con, "small", ends=[as_of]), 5.0,
         "GROUP BY grid, category over the 7 days", seven_days, 2),
        ("back-test: warnings at 52 Mondays, one read", lambda: spike_backtest(con, "small", ends=mondays), None,
         "52 × warnings, one moment at a time", lambda: [spike_warnings(con, "small", as_of=m) for m in mondays], 1),
        ("Gi*, 868 medium grids, 13 weeks, 999 permutations",
         lambda: hotspots(con, "medium", start=as_of - quarter, end=as_of), 10.0,
         "the same without permutations", lambda: hotspots(con, "medium", start=as_of - quarter, end=as_of,
                                                           permutations=0), 2),
        ("Gi*, 4,555 small grids, 13 weeks, 999 permutations",
         lambda: hotspots(con, "small", start=as_of - quarter, end=as_of), 10.0,
         "the same without permutations", lambda: hotspots(con, "small", start=as_of - quarter, end=as_of,
                                                          permutations=0), 2),
        ("emerging hotspots, 868 medium grids, 52 weeks", lambda: emerging_hotspots(con, "medium", as_of=as_of), 60.0,
         "GROUP BY grid, week over 52 weeks", lambda: con.execute(
             "SELECT grid_medium, date_trunc('week', reported_at), count(*) FROM events WHERE reported_at >= ? "
             "GROUP BY 1, 2", [as_of - dt.timedelta(weeks=52)]).fetchall(), 2),
    ]
    print(f"\n{'what':<52} {'s':>7} {'budget':>7}   {'plain baseline in the same run':<40} {'s':>7}")
    for name, fn, budget, base_name, base, repeat in rows:
        seconds = best(fn, repeat)
        baseline = best(base, repeat)
        limit = "—" if budget is None else f"{budget:.0f}"
        print(f"{name:<52} {seconds:>7.2f} {limit:>7}   {base_name:<40} {baseline:>7.2f}", flush=True)
    print(f"\nload average after: {load()}")
    con.close()


if __name__ == "__main__":
    main()
