"""ETL benchmark: the full load of N events into the 4,555 small grids against the floor (read_csv + bare STRtree).

Run: .venv/bin/python bench/etl.py [--events 1000000 5000000] [--dir bench/out] [--copies 10]
Each phase runs in its own process so its peak memory (ru_maxrss) is its own. `--copies N` loads into a region of
N copies of the demo city (minqing.demo.city.build_region: 4,555 x N small grids); use its own --dir.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)  # this file's name would otherwise shadow the `etl` package
MAPPING = """
department = "bench"
[fields]
source_id = "id"
category = "category"
status = "status"
reported_at = "reported_at"
closed_at = "closed_at"
lon = "lon"
lat = "lat"
[time]
formats = ["%Y-%m-%d %H:%M:%S"]
[category.map]
"邻里纠纷" = "dispute_neighbour"
"市容环境" = "urban_environment"
"安全隐患" = "grid_safety_hazard"
[status.map]
"已办结" = "closed"
"处理中" = "in_progress"
[due]
default = { hours = 48 }
"""


def prepare(folder: Path, events: int, copies: int = 1) -> Path:
    """The demo city's grids (or a region of `copies` cities) plus one CSV of `events` rows with points inside."""
    from minqing.demo.city import build_region, write_grid_files

    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"events_{events}.csv"
    if not (folder / "grids" / "small_grids.shp").exists():
        write_grid_files(build_region(copies, 7), folder / "grids")
    if csv.exists():
        return csv
    import shapely

    rng = np.random.default_rng(1)
    import pyogrio

    outline = shapely.union_all(pyogrio.read_dataframe(folder / "grids" / "large_grids.geojson").geometry.values)
    minx, miny, maxx, maxy = outline.bounds
    lon = rng.uniform(minx, maxx, int(events * 1.6))
    lat = rng.uniform(miny, maxy, int(events * 1.6))
    inside = shapely.contains_xy(outline, lon, lat)
    lon, lat = lon[inside][:events], lat[inside][:events]
    start = np.datetime64("2019-01-01T00:00:00") + rng.integers(0, 7 * 365 * 86400, events).astype("timedelta64[s]")
    closed = rng.random(events) < 0.9
    frame = pd.DataFrame({
        "id": np.char.add("E", np.arange(events).astype(str)),
        "category": rng.choice(["邻里纠纷", "市容环境", "安全隐患"], events),
        "status": np.where(closed, "已办结", "处理中"),
        "reported_at": pd.Series(start).dt.strftime("%Y-%m-%d %H:%M:%S"),
        "closed_at": pd.Series(start + rng.integers(3600, 30 * 86400, events).astype("timedelta64[s]"))
        .dt.strftime("%Y-%m-%d %H:%M:%S").where(closed, ""),
        "lon": lon.round(6),
        "lat": lat.round(6),
    })
    frame.to_csv(csv, index=False)
    return csv


def phase_floor(folder: Path, csv: Path) -> dict[str, float]:
    """DuckDB read_csv of the rows plus the bare STRtree point-in-polygon: what no loader can beat."""
    import duckdb
    import pyogrio
    import shapely

    polygons = pyogrio.read_dataframe(folder / "grids" / "small_grids.shp").geometry.values
    started = time.perf_counter()
    con = duckdb.connect(str(folder / "floor.duckdb"))
    con.execute("CREATE OR REPLACE TABLE raw AS SELECT * FROM read_csv(?)", [str(csv)])
    lon, lat = con.execute("SELECT lon, lat FROM raw").fetchnumpy().values()
    points = shapely.points(lon, lat)
    tree = shapely.STRtree(points)
    tree.query(np.asarray(polygons), predicate="contains")
    seconds = time.perf_counter() - started
    con.close()
    return {"seconds": seconds}


def phase_full(folder: Path, csv: Path) -> dict[str, float]:
    """The product's load: config, mapping, read, normalise, assign, merge into the store."""
    from etl.config import load_config
    from etl.load import load_project

    (folder / "bench.toml").write_text(MAPPING, encoding="utf-8")
    db = folder / "full.duckdb"
    db.unlink(missing_ok=True)
    (folder / "minqing.toml").write_text(
        f'database = "full.duckdb"\ncategories = "{(ROOT / "data" / "categories.toml").as_posix()}"\n'
        '[grids.small]\npath = "grids/small_grids.shp"\ncode = "网格编码"\nname = "网格名称"\nparent = "上级编码"\n'
        'encoding = "gbk"\n[grids.medium]\npath = "grids/medium_grids.geojson"\ncode = "网格编码"\nname = "网格名称"\n'
        'parent = "上级编码"\n[grids.large]\npath = "grids/large_grids.geojson"\ncode = "网格编码"\nname = "网格名称"\n'
        f'[[departments]]\npath = "{csv.name}"\nmapping = "bench.toml"\n', encoding="utf-8")
    config = load_config(folder / "minqing.toml")
    started = time.perf_counter()
    report = load_project(config)
    seconds = time.perf_counter() - started
    (result,) = report.files
    return {"seconds": seconds, "loaded": result.loaded, "rejected": result.rejected,
            "store_mb": db.stat().st_size / 2**20}


def run_phase(phase: str, folder: Path, csv: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--phase", phase, "--dir", str(folder), "--csv", str(csv)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_store(db: Path) -> None:
    """Build the 5M-event store when `db` is missing (for the benchmarks that read it: bench/layers.py, analysis.py)."""
    if not db.exists():
        print(f"{db} missing: building it with bench/etl.py --events 5000000 …", flush=True)
        subprocess.run([sys.executable, __file__, "--events", "5000000"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--dir", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--phase", choices=["floor", "full"])
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--copies", type=int, default=1, help="copies of the demo city in the region (grids x N)")
    args = parser.parse_args()
    if args.phase:
        result = (phase_floor if args.phase == "floor" else phase_full)(args.dir, args.csv)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    print(f"{'events':>10} {'phase':>6} {'seconds':>8} {'rows/s':>10} {'peak MB':>8}  ratio full/floor, store MB")
    for events in args.events:
        csv = prepare(args.dir, events, args.copies)
        floor = run_phase("floor", args.dir, csv)
        full = run_phase("full", args.dir, csv)
        for name, result in (("floor", floor), ("full", full)):
            print(f"{events:>10,} {name:>6} {result['seconds']:>8.1f} {events / result['seconds']:>10,.0f} "
                  f"{result['peak_mb']:>8,.0f}" + (f"  {full['seconds'] / floor['seconds']:.2f}x, "
                                                   f"{full['store_mb']:,.0f} MB" if name == "full" else ""))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
