"""Growth curves: how load and query costs grow with events (1M / 5M / 20M) and grids (4,555 / 45,550 small grids).

Run: .venv/bin/python bench/scale.py [--events 1000000 5000000 20000000] [--copies 1 10] [--skip-load]
Each (events, grids) pair gets its own folder bench/out/scale/<copies>x/ (grids built once by
minqing.demo.city.build_region, the CSV once per size) and is loaded by bench/etl.py's phases, each in its own
process (peak RSS is the phase's own). Then, per store: point-in-polygon alone (the raster index of
etl/pointindex.py: build, points/s, memory), and the dashboard's heaviest queries cold (a new read-only
connection). Tables print as Markdown for docs/scaling.md. Large sizes take minutes and several GB of disk.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

import numpy as np  # noqa: E402


def pip_figures(folder: Path, points: int) -> dict[str, float]:
    """Raster build seconds, points/s and index MB for `points` random points over the region's small grids."""
    import pyogrio
    import shapely

    from etl.pointindex import PointIndex

    polygons = np.asarray(pyogrio.read_dataframe(folder / "grids" / "small_grids.shp").geometry.values)
    minx, miny, maxx, maxy = shapely.total_bounds(polygons)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(minx, maxx, points), rng.uniform(miny, maxy, points)
    started = time.perf_counter()
    index = PointIndex(polygons)
    build = time.perf_counter() - started
    started = time.perf_counter()
    found = index.locate(x, y)
    seconds = time.perf_counter() - started
    size = index.cell_polygon.nbytes + index.pair_cell.nbytes + index.pair_polygon.nbytes + index.run_start.nbytes
    started = time.perf_counter()  # the method it replaced, on the same points: an STRtree on Point objects
    tree = shapely.STRtree(shapely.points(x, y))
    polygon, point = tree.query(polygons, predicate="contains")
    strtree = time.perf_counter() - started
    assert len(np.unique(point)) == int((found >= 0).sum())  # the same points found inside (tests check which grid)
    return {"polygons": len(polygons), "build_s": build, "points_per_s": points / seconds,
            "strtree_points_per_s": points / strtree, "inside": float((found >= 0).mean()), "index_mb": size / 2**20}


def query_figures(db: Path) -> dict[str, float]:
    """Cold milliseconds of the dashboard's heaviest reads on a new read-only connection each."""
    import duckdb

    from layers.disputes import dispute_statistics
    from layers.heatmap import heat_bins
    from layers.stats import data_clock, grid_stats

    def cold(make) -> float:
        con = duckdb.connect(str(db), read_only=True)
        try:
            started = time.perf_counter()
            make(con)
            return (time.perf_counter() - started) * 1000
        finally:
            con.close()

    with duckdb.connect(str(db), read_only=True) as con:
        as_of = data_clock(con)
    year_start = as_of.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return {
        "heatmap_ms": cold(lambda con: heat_bins(con)),
        "grid_figures_small_ms": cold(lambda con: grid_stats(con, "small", start=year_start, end=None, as_of=as_of)),
        "yearly_disputes_small_ms": cold(lambda con: dispute_statistics(con, "small", year_from=2019,
                                                                        year_to=as_of.year)),
    }


def run(kind: str, folder: Path, *extra: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--phase", kind, "--dir", str(folder), *extra],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 5_000_000, 20_000_000])
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--points", type=int, default=5_000_000)
    parser.add_argument("--skip-load", action="store_true", help="only point-in-polygon and the existing stores")
    parser.add_argument("--phase", choices=["pip", "query"])
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args()
    if args.phase:
        result = pip_figures(args.dir, args.points) if args.phase == "pip" else query_figures(args.dir / "full.duckdb")
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    from bench.etl import prepare, run_phase

    print(f"| small grids | raster build s | points/s ({args.points / 1e6:g}M points) | STRtree points/s (before) "
          "| index MB | peak MB |")
    print("|---|---|---|---|---|---|")
    for copies in args.copies:
        folder = ROOT / "bench" / "out" / "scale" / f"{copies}x"
        prepare(folder, 1000, copies)  # the grids (and a tiny CSV)
        pip = run("pip", folder, "--points", str(args.points))
        print(f"| {pip['polygons']:,} | {pip['build_s']:.2f} | {pip['points_per_s'] / 1e6:.2f}M | "
              f"{pip['strtree_points_per_s'] / 1e6:.2f}M | {pip['index_mb']:.0f} | {pip['peak_mb']:,.0f} |", flush=True)
    if args.skip_load:
        return
    print("\n| events | small grids | floor s | full s | full / floor | rows/s | peak MB | store MB "
          "| heatmap ms | grid figures ms | yearly disputes ms |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for copies in args.copies:
        folder = ROOT / "bench" / "out" / "scale" / f"{copies}x"
        for events in args.events:
            csv = prepare(folder, events, copies)
            floor = run_phase("floor", folder, csv)
            full = run_phase("full", folder, csv)
            queries = run("query", folder)
            print(f"| {events:,} | {4555 * copies:,} | {floor['seconds']:.1f} | {full['seconds']:.1f} | "
                  f"{full['seconds'] / floor['seconds']:.2f}x | {events / full['seconds']:,.0f} | "
                  f"{full['peak_mb']:,.0f} | {full['store_mb']:,.0f} | {queries['heatmap_ms']:,.0f} | "
                  f"{queries['grid_figures_small_ms']:,.0f} | {queries['yearly_disputes_small_ms']:,.0f} |",
                  flush=True)
            csv.unlink()  # the CSVs are large; the next size writes its own


if __name__ == "__main__":
    main()
