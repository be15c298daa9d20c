"""Per-format benchmark: each department file of the demo city loaded on its own, against a floor for its format in
the same run: the plain read of the file (pyarrow CSV with its encoding, openpyxl's read-only rows, pyogrio, DuckDB's
read_json) plus the bare point-in-polygon of its points (an STRtree on Point objects, as bench/etl.py's floor).

Run: .venv/bin/python bench/formats.py [--dir bench/out/demo] [--events 200000] [--patrol-since 2025-12-01]
The demo city is generated there first when missing (minqing.demo.build.build_demo, not loaded). Each file is loaded
into a copy of a store holding the grids (and the roster, for the check-ins): "file" times etl.load.load_file (read,
normalise, locate, H3, merge), "end to end" the whole `minqing load` of that file (keys, rollups, checkpoint, swap).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)  # this folder's etl.py would otherwise shadow the `etl` package

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import etl.load as loading  # noqa: E402
from etl.config import DepartmentSource, ProjectConfig, load_config  # noqa: E402
from etl.readers import format_of  # noqa: E402


def bare_point_in_polygon(polygons: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> None:
    """The floor's point-in-polygon: an STRtree built on the points, queried with the polygons."""
    import shapely

    ok = np.isfinite(lon) & np.isfinite(lat)
    tree = shapely.STRtree(shapely.points(lon[ok], lat[ok]))
    tree.query(np.asarray(polygons), predicate="contains")


def plain_read(path: Path, fmt: str, encoding: str) -> pd.DataFrame:
    """The file read by the plain tool of its format, every value as it comes."""
    if fmt in ("csv", "tsv"):
        import pyarrow.csv as pacsv

        codec = "utf8" if encoding in ("auto", "utf-8", "utf-8-sig") else encoding
        return pacsv.read_csv(path, read_options=pacsv.ReadOptions(encoding=codec),
                              parse_options=pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",")).to_pandas()
    if fmt == "xlsx":
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        rows = list(book.worksheets[0].iter_rows(values_only=True))
        book.close()
        width = len(rows[0])
        return pd.DataFrame([list(r[:width]) + [None] * (width - len(r)) for r in rows[1:]], columns=[str(c) for c in rows[0]])
    if fmt in ("gpkg", "geojson", "shp"):
        import pyogrio
        import shapely

        frame = pyogrio.read_dataframe(path)
        return frame.assign(__x=shapely.get_x(frame.geometry.values), __y=shapely.get_y(frame.geometry.values))
    if fmt == "jsonl":
        import duckdb

        with duckdb.connect() as con:
            return con.execute("SELECT * FROM read_json(?, format = 'newline_delimited')", [str(path)]).df()
    raise SystemExit(f"{path}: no plain reader for format {fmt}")


def floor(path: Path, source: DepartmentSource, polygons: np.ndarray) -> float:
    """Seconds for the plain read of the file plus the bare point-in-polygon of its points."""
    mapping = source.mapping
    started = time.perf_counter()
    frame = plain_read(path, format_of(path, mapping.format), mapping.encoding)
    if mapping.from_geometry:
        lon, lat = frame["__x"].to_numpy(dtype=float), frame["__y"].to_numpy(dtype=float)
    elif mapping.column("lon"):
        lon, lat = (pd.to_numeric(frame[mapping.column(f)[0]], errors="coerce").to_numpy(dtype=float)
                    for f in ("lon", "lat"))
    else:
        lon = lat = np.array([])
    if len(lon):
        bare_point_in_polygon(polygons, lon, lat)
    return time.perf_counter() - started


def timed_load(config: ProjectConfig, files: list[tuple[DepartmentSource, Path]]) -> tuple[float, float, int]:
    """(end-to-end seconds, seconds in load_file, rows in) of one `minqing load` of `files`."""
    inner = loading.load_file
    spent = [0.0, 0]

    def timing(*args, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        result = inner(*args, **kwargs)
        spent[0] += time.perf_counter() - started
        spent[1] += result.rows_in
        return result

    loading.load_file = timing
    try:
        started = time.perf_counter()
        report = loading.load_project(config, files=files)
        total = time.perf_counter() - started
    finally:
        loading.load_file = inner
    failed = [f.error for f in report.files if f.error]
    if failed:
        raise SystemExit(f"load failed: {failed}")
    return total, float(spent[0]), int(spent[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=ROOT / "bench" / "out" / "demo")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--patrol-since", default="2025-12-01", help="first day of the check-ins (one month: 300k lines)")
    args = parser.parse_args()
    from minqing.demo.build import build_demo

    config_path = build_demo(args.dir, events=args.events, patrol_since=dt.date.fromisoformat(args.patrol_since),
                             echo=lambda _text: None)
    config = load_config(config_path)
    work = args.dir / "bench"
    work.mkdir(exist_ok=True)
    bases = {name: work / f"{name}.duckdb" for name in ("grids", "roster")}
    planned = loading.planned_files(config)
    roster = [(s, p) for s, p in planned if s.mapping.kind == "roster"]
    for name, files in (("grids", []), ("roster", roster)):
        bases[name].unlink(missing_ok=True)
        if name == "roster":
            shutil.copyfile(bases["grids"], bases[name])
        loading.load_project(dataclasses.replace(config, database=bases[name]), files=files)
    import duckdb
    import shapely

    with duckdb.connect(str(bases["grids"]), read_only=True) as con:
        polygons = shapely.from_wkb([bytes(b) for (b,) in con.execute(
            "SELECT geometry FROM grids WHERE level = 'small'").fetchall()])
    by_dept: dict[str, list[Path]] = {}
    for source, path in planned:
        by_dept.setdefault(source.mapping.department, []).append(path)
    print(f"{'department':<18} {'format':<6} {'rows':>9} {'floor s':>8} {'file s':>7} {'end s':>7} "
          f"{'file/floor':>10} {'end/floor':>9}")
    for source in config.departments:
        paths = by_dept.get(source.mapping.department, [])
        if not paths:
            continue
        floor_s = sum(floor(p, source, polygons) for p in paths)
        store = work / "store.duckdb"
        shutil.copyfile(bases["grids" if source.mapping.kind == "roster" else "roster"], store)
        total, in_file, rows = timed_load(dataclasses.replace(config, database=store), [(source, p) for p in paths])
        fmt = format_of(paths[0], source.mapping.format)
        encoding = f"/{source.mapping.encoding}" if fmt == "csv" else ""
        print(f"{source.mapping.department:<18} {fmt + encoding:<6} {rows:>9,} {floor_s:>8.2f} {in_file:>7.2f} "
              f"{total:>7.2f} {in_file / floor_s:>9.2f}x {total / floor_s:>8.2f}x")
        sys.stdout.flush()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
