"""Layers benchmark at 5M events: aggregations cold and warm (rollup vs raw events), the export, the HTML size
of each map layer per level next to the naive version (raw-geometry choropleth, raw-point HeatMap), and the
set-up of a cursor scoped to one jurisdiction next to a plain cursor.

Run: .venv/bin/python bench/layers.py [--db bench/out/full.duckdb]
The store is the one bench/etl.py loads (5M events in the demo city's 4,555 small grids); it is built first
when missing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

import duckdb  # noqa: E402
import folium  # noqa: E402

from access.principal import Principal  # noqa: E402
from access.scope import scoped_cursor  # noqa: E402
from bench.etl import ensure_store  # noqa: E402
from layers.choropleth import choropleth  # noqa: E402
from layers.disputes import city_dispute_totals, dispute_statistics  # noqa: E402
from layers.export import write_disputes_csv, write_disputes_xlsx  # noqa: E402
from layers.geometry import clear_cache, prepare_level  # noqa: E402
from layers.grids import event_counts, grid_frame  # noqa: E402
from layers.heatmap import heat_bins, heatmap, raw_heatmap_html_size  # noqa: E402
from layers.markers import latest_events, markers_map  # noqa: E402
from layers.offline import use_offline_assets  # noqa: E402
from layers.stats import counts_by, data_clock, grid_stats  # noqa: E402

LEVELS = ("large", "medium", "small")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


def cold_warm(make: Callable[[duckdb.DuckDBPyConnection], Any], db: Path) -> tuple[float, float]:
    """Milliseconds of the first call on a new connection, then the best of three more."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        cold, _ = timed(lambda: make(con))
        warm = min(timed(lambda: make(con))[0] for _ in range(3))
    finally:
        con.close()
    return cold, warm


def aggregations(db: Path) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        as_of = data_clock(con)
    year_start = dt.datetime(as_of.year, 1, 1)
    cases = {
        "yearly dispute statistics, small grids": lambda con, s: dispute_statistics(con, "small", year_from=2019,
                                                                                   year_to=as_of.year, source=s),
        "yearly dispute statistics, large grids": lambda con, s: dispute_statistics(con, "large", year_from=2019,
                                                                                   year_to=as_of.year, source=s),
        "city dispute totals": lambda con, s: city_dispute_totals(con, year_from=2019, year_to=as_of.year, source=s),
        "grid figures, small, this year": lambda con, s: grid_stats(con, "small", start=year_start, end=None,
                                                                   as_of=as_of, source=s),
        "counts by month, large": lambda con, s: counts_by(con, "large", "month", start=None, end=None, source=s),
    }
    print(f"\n{'aggregation (ms)':<42} {'rollup cold':>11} {'rollup warm':>11} {'raw cold':>9} {'raw warm':>9}")
    for name, make in cases.items():
        rollup = cold_warm(lambda con: make(con, "auto"), db)
        raw = cold_warm(lambda con: make(con, "raw"), db)
        print(f"{name:<42} {rollup[0]:>11.0f} {rollup[1]:>11.0f} {raw[0]:>9.0f} {raw[1]:>9.0f}")


def export(db: Path) -> None:
    with duckdb.connect(str(db), read_only=True) as con:
        as_of = data_clock(con)
        ms, frames = timed(lambda: {lvl: dispute_statistics(con, lvl, year_from=2019, year_to=as_of.year)
                                    for lvl in LEVELS})
        totals = city_dispute_totals(con, year_from=2019, year_to=as_of.year)
    csv_ms, _ = timed(lambda: write_disputes_csv(frames["small"], io.BytesIO()))
    xlsx_buffer = io.BytesIO()
    xlsx_ms, _ = timed(lambda: write_disputes_xlsx(frames, totals, xlsx_buffer))
    print(f"\nexport: statistics for 3 levels {ms:.0f} ms; CSV (small) {csv_ms:.0f} ms; "
          f"XLSX (3 levels + city) {xlsx_ms:.0f} ms, {len(xlsx_buffer.getvalue()) / 1e6:.2f} MB")


def naive_choropleth_bytes(con: duckdb.DuckDBPyConnection, level: str) -> int:
    """folium GeoJson of the raw geometry with a tooltip: what a first version would send."""
    grids = grid_frame(con, level)
    counts = event_counts(con, level).set_index("grid_code")["event_count"]
    grids["events"] = grids["grid_code"].map(counts).fillna(0).astype(int)
    m = use_offline_assets(folium.Map(tiles=None))
    folium.GeoJson(grids[["grid_code", "name", "events", "geometry"]].to_json(),
                   tooltip=folium.GeoJsonTooltip(["name", "events"])).add_to(m)
    return len(m.get_root().render().encode())


def layer_sizes(db: Path) -> None:
    print(f"\n{'map layer':<34} {'HTML MB':>8} {'naive MB':>9} {'budget':>8} {'ms':>7}")
    with duckdb.connect(str(db), read_only=True) as con:
        as_of = data_clock(con)
        for level in LEVELS:
            clear_cache()
            ms, html = timed(lambda: choropleth(prepare_level(con, level),
                                                event_counts(con, level).set_index("grid_code")["event_count"],
                                                title="事件数").get_root().render())
            budget = "1.5" if level == "small" else ""
            print(f"{'choropleth ' + level:<34} {len(html.encode()) / 1e6:>8.2f} "
                  f"{naive_choropleth_bytes(con, level) / 1e6:>9.2f} {budget:>8} {ms:>7.0f}")
        ms, html = timed(lambda: heatmap(heat_bins(con)).get_root().render())
        raw = raw_heatmap_html_size(con)
        raw_mb = max(raw.values()) / 1e6
        print(f"{'heatmap, all events':<34} {len(html.encode()) / 1e6:>8.2f} {raw_mb:>9.2f} {'0.5':>8} {ms:>7.0f}")
        ms, html = timed(lambda: markers_map(latest_events(con, as_of=as_of)).get_root().render())
        print(f"{'latest 200 events':<34} {len(html.encode()) / 1e6:>8.2f} {'':>9} {'':>8} {ms:>7.0f}")


def scoped_cursor_setup(db: Path, repeats: int = 20) -> None:
    """Milliseconds to set up a cursor scoped to the large grid with most events (access/scope.py), next to a plain
    cursor of the same connection in the same run: the first on a new connection (the scope checked and its grids
    listed), then the median of `repeats` more (the plan cached: one temp table and the views per cursor)."""

    def median_ms(make: Callable[[], duckdb.DuckDBPyConnection]) -> float:
        times = []
        for _ in range(repeats):
            ms, cursor = timed(make)
            cursor.close()
            times.append(ms)
        return statistics.median(times)

    with duckdb.connect(str(db), read_only=True) as con:
        (town,) = con.execute("SELECT grid_large FROM events WHERE grid_large IS NOT NULL "
                              "GROUP BY grid_large ORDER BY count(*) DESC, grid_large LIMIT 1").fetchone()
        official = Principal(username="bench", role="official", scope=(town,))
        plain = median_ms(con.cursor)
        first, cursor = timed(lambda: scoped_cursor(con, official))
        cursor.close()
        warm = median_ms(lambda: scoped_cursor(con, official))
    print(f"\n{'cursor set-up (ms)':<42} {'first':>11} {'median':>11}")
    print(f"{'plain cursor (baseline)':<42} {'':>11} {plain:>11.3f}")
    print(f"{'scoped to one large grid (' + town + ')':<42} {first:>11.1f} {warm:>11.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "out" / "full.duckdb")
    args = parser.parse_args()
    ensure_store(args.db)
    with duckdb.connect(str(args.db), read_only=True) as con:
        events = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
    print(f"store: {args.db} ({events:,} events)")
    aggregations(args.db)
    export(args.db)
    layer_sizes(args.db)
    scoped_cursor_setup(args.db)


if __name__ == "__main__":
    main()
