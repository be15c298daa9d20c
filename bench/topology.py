"""Packed topology (layers/geometry.py) vs plain GeoJSON vs the topojson library: bytes, gzip bytes, build ms."""

from __future__ import annotations

import argparse
import gzip
import inspect
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

import geopandas as gpd  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402

import layers.choropleth  # noqa: E402
from layers.geometry import GRID_SIZE, prepare_grids, simplify_coverage, to_topology, topology_to_shapely  # noqa: E402
from layers.offline import script_json  # noqa: E402
from minqing.demo.city import build_city  # noqa: E402

LEVELS = ("large", "medium", "small")
GZIP_LEVEL = 6  # zlib's default, what HTTP gzip and websocket permessage-deflate typically use
DECODE_RUNS = 25  # parse + decode repetitions in node (V8 timings are noisy; the median is printed)


def median_ms(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median milliseconds of `runs` calls of fn, and the last value."""
    times, value = [], None
    for _ in range(runs):
        started = time.perf_counter()
        value = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), value


def plain_geojson(geoms: np.ndarray) -> str:
    """A compact GeoJSON FeatureCollection of `geoms` (no properties), coordinates rounded to 1e-5°."""
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, 5))
    features = [{"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(g)} for g in rounded]
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))


def ours(geoms: np.ndarray) -> str:
    """The packed topology exactly as prepare_grids makes it and the page embeds it (PreparedGrids.topology_json)."""
    return script_json(to_topology(geoms))


def topojson_json(geoms: np.ndarray, origin: list[float]) -> str:
    """topojson.Topology on the same simplified polygons, quantised on our grid (1e-5° steps from our origin)."""
    import topojson

    frame = gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"))
    transform = {"scale": [GRID_SIZE, GRID_SIZE], "translate": list(origin)}
    return topojson.Topology(frame, prequantize=transform, toposimplify=False).to_json()


def trimmed(topojson_text: str) -> str:
    """The topojson output without what our page has no use for: empty properties, ids and the bbox."""
    topo = json.loads(topojson_text)
    topo.pop("bbox", None)
    for geometry in topo["objects"]["data"]["geometries"]:
        geometry.pop("properties", None)
        geometry.pop("id", None)
    return json.dumps(topo, separators=(",", ":"))


def gz(text: str) -> int:
    return len(gzip.compress(text.encode("utf-8"), GZIP_LEVEL, mtime=0))


def same_polygons(a: np.ndarray, b: np.ndarray) -> bool:
    """Every polygon of `a` within 1e-7° of its counterpart in `b` (both ways)."""
    return bool(len(a) == len(b) and np.nanmax(shapely.hausdorff_distance(a, b)) < 1e-7)


# --- browser-side decoding, timed in node (V8) ---------------------------------------------

DECODE_JS = """
const fs = require("fs");
const [oursPath, topoPath, clientPath, runs] = process.argv.slice(2);
function decodeOurs(topo) {
%s
    return topo.grids.map(function (polys) { return polys.map(function (rings) { return rings.map(ring); }); });
}
function median(fn) {
    const times = [];
    for (let i = 0; i < Number(runs); i++) {
        const t = process.hrtime.bigint();
        fn();
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    times.sort((a, b) => a - b);
    return times[times.length >> 1];
}
const oursText = fs.readFileSync(oursPath, "utf8"), topoText = fs.readFileSync(topoPath, "utf8");
const out = {ours: median(() => decodeOurs(JSON.parse(oursText)))};
if (clientPath) {
    const topojson = require(clientPath);
    out.topojson = median(() => { const t = JSON.parse(topoText); topojson.feature(t, t.objects.data); });
}
console.log(JSON.stringify(out));
"""


def inline_decoder() -> str | None:
    """The arc and ring decoding of GridChoropleth's inline JavaScript, cut from layers/choropleth.py."""
    source = inspect.getsource(layers.choropleth)
    found = re.search(r"\(function \(topo, d\) \{\n(.*?)\n\s*function style\(i\)", source, re.S)
    return found.group(1) if found else None


def decode_ms(ours_text: str, topo_text: str, client: Path | None, runs: int) -> dict[str, float] | None:
    """Median ms to parse and decode each payload in node: ours to Leaflet latlng arrays, topojson with
    topojson-client's feature() to GeoJSON; None without node or the inline decoder."""
    node, body = shutil.which("node"), inline_decoder()
    if node is None or body is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp, "ours.json"), Path(tmp, "topo.json"), Path(tmp, "decode.js")]
        paths[0].write_text(ours_text, encoding="utf-8")
        paths[1].write_text(topo_text, encoding="utf-8")
        paths[2].write_text(DECODE_JS % body, encoding="utf-8")
        args = [node, str(paths[2]), str(paths[0]), str(paths[1]), str(client.resolve()) if client else "", str(runs)]
        done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


# --- the comparison -------------------------------------------------------------------------


def level_figures(grids: gpd.GeoDataFrame, level: str, runs: int, client: Path | None) -> None:
    raw = np.asarray(grids.geometry.to_numpy(), dtype=object)
    simplify_ms, (simplified, _) = median_ms(lambda: simplify_coverage(raw), runs)
    prepare_ms, prepared = median_ms(lambda: prepare_grids(grids, level=level), runs)
    geo_ms, geo = median_ms(lambda: plain_geojson(simplified), runs)
    ours_ms, packed = median_ms(lambda: ours(simplified), runs)
    topo_ms, topo = median_ms(lambda: topojson_json(simplified, prepared.topology["origin"]), runs)
    small = trimmed(topo)

    assert packed == prepared.topology_json, "ours() no longer matches what prepare_grids ships"
    topo_back = _topojson_decoded(topo)
    ours_back = topology_to_shapely(prepared.topology)
    checks = (f"ours decodes to the simplified polygons: {same_polygons(ours_back, simplified)}; "
              f"topojson too: {same_polygons(topo_back, simplified)}")
    arcs = json.loads(topo)["arcs"]
    report = prepared.report

    print(f"\n{level}: {len(grids):,} grids; simplified {report.simplified_vertices:,} vertices, shipped once each "
          f"{report.shipped_vertices:,} in {len(prepared.topology['arc_lengths']):,} arcs (topojson: "
          f"{sum(map(len, arcs)):,} in {len(arcs):,} arcs)")
    print(f"  common step, coverage clean + simplify: {simplify_ms:,.0f} ms; whole prepare_grids: {prepare_ms:,.0f} ms")
    print(f"  {checks}")
    rows = [
        ("plain GeoJSON, 1e-5°", geo, geo_ms),
        ("ours: packed topology", packed, ours_ms),
        ("topojson to_json()", topo, topo_ms),
        ("topojson trimmed (no props/id/bbox)", small, None),
    ]
    base, base_gz = len(packed.encode()), gz(packed)
    print(f"  {'format':<38} {'KB':>8} {'gzip KB':>8} {'× ours':>7} {'gz × ours':>9} {'build ms':>9}")
    for name, text, ms in rows:
        n, g = len(text.encode()), gz(text)
        ms_text = f"{ms:,.0f}" if ms is not None else ""
        print(f"  {name:<38} {n / 1000:>8.1f} {g / 1000:>8.1f} {n / base:>7.2f} {g / base_gz:>9.2f} {ms_text:>9}")
    decoded = decode_ms(packed, topo, client, runs=DECODE_RUNS)
    if decoded is not None:
        parts = [f"ours (inline JS → latlng arrays) {decoded['ours']:.1f} ms"]
        if "topojson" in decoded:
            parts.append(f"topojson-client feature() → GeoJSON {decoded['topojson']:.1f} ms")
        print("  parse + decode in node: " + "; ".join(parts))


def _topojson_decoded(topo_text: str) -> np.ndarray:
    """The topojson text decoded back to shapely polygons (arcs dequantised, rings joined), for the check."""
    topo = json.loads(topo_text)
    (kx, ky), (x0, y0) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = [np.cumsum(np.asarray(a, dtype="int64"), axis=0) * (kx, ky) + (x0, y0) for a in topo["arcs"]]

    def ring(ids: list[int]) -> np.ndarray:
        parts = [arcs[i] if i >= 0 else arcs[~i][::-1] for i in ids]
        return np.concatenate([parts[0], *[p[1:] for p in parts[1:]]])

    def polygon(rings: list[list[int]]) -> shapely.Polygon:
        return shapely.Polygon(ring(rings[0]), [ring(r) for r in rings[1:]])

    out = []
    for g in topo["objects"]["data"]["geometries"]:
        if g["type"] == "Polygon":
            out.append(polygon(g["arcs"]))
        elif g["type"] == "MultiPolygon":
            out.append(shapely.MultiPolygon([polygon(p) for p in g["arcs"]]))
        else:
            out.append(shapely.Polygon())
    return np.asarray(out, dtype=object)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per timing; the median is printed")
    parser.add_argument("--seed", type=int, default=7, help="demo city seed")
    parser.add_argument("--topojson-client", type=Path, default=None,
                        help="topojson-client.min.js (from `npm pack topojson-client`), to time its decoding in node")
    args = parser.parse_args()
    try:
        import topojson
    except ImportError:
        sys.exit("the topojson package is needed for this comparison only: .venv/bin/pip install topojson")
    print(f"topojson {topojson.__version__}; shapely {shapely.__version__}; gzip level {GZIP_LEVEL}; "
          f"median of {args.runs} runs")
    started = time.perf_counter()
    city = build_city(args.seed)
    print(f"demo city (seed {args.seed}) built in {time.perf_counter() - started:.1f} s")
    for level in LEVELS:
        level_figures(getattr(city, level), level, args.runs, args.topojson_client)


if __name__ == "__main__":
    main()
