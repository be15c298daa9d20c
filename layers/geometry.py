"""Grid geometry made light for the browser: snapped, simplified as a coverage, shipped as a packed topology, cached.

Pipeline (each step a small pure function):
    clean_coverage   snap to a 1e-5° grid (≈1 m); if neighbours no longer share edges exactly, rebuild the
                     coverage from the noded boundaries (gaps stay gaps, an overlap goes to one grid)
    simplify_coverage  shapely.coverage_simplify: shared edges are simplified once, so they stay shared
    to_topology      TopoJSON-like packed topology: every shared edge stored once, integer deltas
    prepare_grids / prepare_level   all of the above for one level, cached (see prepare_level)
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import duckdb
import geopandas as gpd
import numpy as np
import shapely

from layers import grids_queries
from layers.grids import grid_frame
from store.schema import LEVELS
from layers.offline import script_json

GRID_SIZE = 1e-5  # degrees, about 1 m: snapping grid and topology quantum (coordinates keep 5 decimals)
SIMPLIFY_FRACTION = 0.01  # tolerance = this × the level's typical grid size (√ of the median area)
CACHE_SIZE = 8  # prepared levels kept in memory (3 levels × a couple of stores)

Point = tuple[int, int]


@dataclass(frozen=True)
class SimplifyReport:
    """What preparing a level did to its geometry."""

    grids: int
    raw_vertices: int
    simplified_vertices: int  # vertices of the simplified polygons (shared edges counted twice)
    shipped_vertices: int  # vertices in the topology's arcs (shared edges counted once)
    tolerance: float  # degrees; 0 when nothing was simplified
    repaired: bool  # the snapped grids did not tile exactly and the coverage was rebuilt
    simplified: bool  # False if coverage_simplify failed and the snapped coverage is shipped as is
    coverage_valid: bool  # shapely.coverage_is_valid on what is shipped
    max_area_change: float  # largest |Δarea| / area of one grid (0.01 = 1 %)
    max_area_change_code: str | None
    empty_codes: tuple[str, ...]  # grids with no area left (degenerate or wholly overlapped input)


@dataclass(frozen=True, eq=False)
class PreparedGrids:
    """One level's grids ready to draw: codes and names in order, simplified geometry and its topology.

    Immutable and shared: cache it (prepare_level does) and never modify it. Feature i of the
    topology's `grids` is grid i of `codes`.
    """

    level: str
    codes: tuple[str, ...]
    names: tuple[str, ...]
    geometry: np.ndarray  # simplified shapely polygons, aligned with codes
    bounds: tuple[float, float, float, float]  # minx, miny, maxx, maxy
    topology: dict
    topology_json: str  # the topology as HTML-safe JSON text, serialised once
    report: SimplifyReport

    def __len__(self) -> int:
        return len(self.codes)


# --- pipeline -----------------------------------------------------------------------------


def clean_coverage(geoms: Sequence[shapely.Geometry] | np.ndarray, *, grid_size: float = GRID_SIZE) -> tuple[np.ndarray, bool]:
    """Polygons snapped to `grid_size` that form a valid coverage, and whether it had to be rebuilt."""
    geoms = _polygonal(np.asarray(geoms, dtype=object))
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = _polygonal(shapely.make_valid(geoms[invalid]))
    snapped = _polygonal(shapely.set_precision(geoms, grid_size))
    if shapely.coverage_is_valid(snapped):
        return snapped, False
    return _rebuild_coverage(snapped, grid_size), True


def typical_size(geoms: np.ndarray) -> float:
    """√ of the median area of the non-empty polygons, in degrees (0 if there are none)."""
    areas = shapely.area(geoms)
    areas = areas[areas > 0]
    return float(np.sqrt(np.median(areas))) if areas.size else 0.0


def simplify_coverage(
    geoms: Sequence[shapely.Geometry] | np.ndarray,
    *,
    tolerance: float | None = None,
    grid_size: float = GRID_SIZE,
) -> tuple[np.ndarray, dict]:
    """Clean, then coverage-simplify (shared edges stay shared); returns the polygons and what happened.

    `tolerance` defaults to SIMPLIFY_FRACTION × typical_size. Every output vertex is an input vertex
    snapped to `grid_size`, so the output keeps its 5 decimals exactly.
    """
    cleaned, repaired = clean_coverage(geoms, grid_size=grid_size)
    tol = SIMPLIFY_FRACTION * typical_size(cleaned) if tolerance is None else float(tolerance)
    if tol < 0:
        raise ValueError(f"`tolerance` was {tolerance} but is expected to be >= 0 (degrees)")
    simplified, ok = cleaned, True
    if tol > 0:
        try:
            simplified = _polygonal(shapely.coverage_simplify(cleaned, tol))
        except shapely.errors.GEOSException:
            ok, tol = False, 0.0
    return simplified, {"tolerance": tol, "repaired": repaired, "simplified": ok}


def area_change(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """|Δarea| / area per polygon (0 where the original had no area)."""
    a0, a1 = shapely.area(before), shapely.area(after)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(a0 > 0, np.abs(a1 - a0) / a0, 0.0)
    return change


def to_topology(geoms: Sequence[shapely.Geometry] | np.ndarray, *, quantum: float = GRID_SIZE) -> dict:
    """A packed topology of `geoms` (in order) in which every shared edge is stored once.

    Like TopoJSON, but packed for size: coordinates are integers in units of `quantum` from `origin`;
    `arcs` is one flat list [dx, dy, dx, dy, ...] where each arc's first point is relative to the end
    of the previous arc and the rest to the point before; `arc_lengths` gives the points per arc;
    `grids[i]` lists grid i's polygons, each a list of rings, each a list of arc indices (~k = arc k
    reversed). A ring is its arcs joined, each arc's first point dropped after the first arc.
    """
    geoms = np.asarray(geoms, dtype=object)
    live = ~shapely.is_empty(geoms)
    minx, miny = shapely.total_bounds(geoms[live])[:2] if live.any() else (0.0, 0.0)
    x0, y0 = float(np.floor(minx / quantum) * quantum), float(np.floor(miny / quantum) * quantum)
    shapes = [_quantised_polygons(g, x0, y0, quantum) for g in geoms]
    junctions = _junctions(ring for polys in shapes for rings in polys for ring in rings)
    arcs: list[list[Point]] = []
    index: dict[tuple[Point, ...], int] = {}
    grids = [
        [[[_arc_id(piece, arcs, index) for piece in _cut(ring, junctions)] for ring in rings] for rings in polys]
        for polys in shapes
    ]
    return {
        "type": "PackedTopology",
        "quantum": quantum,
        "origin": [x0, y0],
        "arcs": _pack(arcs),
        "arc_lengths": [len(arc) for arc in arcs],
        "grids": grids,
    }


def topology_to_shapely(topology: dict) -> np.ndarray:
    """Decode a packed topology (as made by to_topology) back to shapely polygons, one per grid."""
    q = topology["quantum"]
    x0, y0 = topology["origin"]
    steps = np.asarray(topology["arcs"], dtype="int64").reshape(-1, 2)
    points = np.cumsum(steps, axis=0) * q + (x0, y0)  # chained deltas: a running sum over all arcs
    ends = np.cumsum(topology["arc_lengths"])
    decoded = np.split(points, ends[:-1])

    def ring(ids: list[int]) -> np.ndarray:
        parts = [decoded[i] if i >= 0 else decoded[~i][::-1] for i in ids]
        return np.concatenate([parts[0], *[p[1:] for p in parts[1:]]])

    def polygon(rings: list[list[int]]) -> shapely.Polygon:
        return shapely.Polygon(ring(rings[0]), [ring(r) for r in rings[1:]])

    out = []
    for polys in topology["grids"]:
        if not polys:
            out.append(shapely.Polygon())
        elif len(polys) == 1:
            out.append(polygon(polys[0]))
        else:
            out.append(shapely.MultiPolygon([polygon(p) for p in polys]))
    return np.asarray(out, dtype=object)


def topology_vertices(topology: dict) -> int:
    """Vertices stored in the topology's arcs (a shared edge counts once)."""
    return int(sum(topology["arc_lengths"]))


def prepare_grids(
    grids: gpd.GeoDataFrame, *, level: str = "", tolerance: float | None = None
) -> PreparedGrids:
    """Prepare `grids` (grid_code, name, geometry in EPSG:4326) for drawing. Pure; see prepared_from_frame."""
    _check_frame(grids)
    raw = np.asarray(grids.geometry.to_numpy(), dtype=object)
    simplified, info = simplify_coverage(raw, tolerance=tolerance)
    topology = to_topology(simplified)
    codes = tuple(str(c) for c in grids["grid_code"])
    change = area_change(raw, simplified)
    worst = int(np.argmax(change)) if len(change) else None
    empty = shapely.is_empty(simplified)
    report = SimplifyReport(
        grids=len(codes),
        raw_vertices=int(shapely.get_num_coordinates(raw).sum()),
        simplified_vertices=int(shapely.get_num_coordinates(simplified).sum()),
        shipped_vertices=topology_vertices(topology),
        tolerance=info["tolerance"],
        repaired=info["repaired"],
        simplified=info["simplified"],
        coverage_valid=bool(shapely.coverage_is_valid(simplified)),
        max_area_change=float(change[worst]) if worst is not None else 0.0,
        max_area_change_code=codes[worst] if worst is not None else None,
        empty_codes=tuple(c for c, e in zip(codes, empty) if e),
    )
    live = simplified[~empty]
    bounds = tuple(float(b) for b in shapely.total_bounds(live)) if live.size else tuple(grids.total_bounds)
    return PreparedGrids(
        level=level,
        codes=codes,
        names=tuple(str(n) for n in grids["name"]),
        geometry=simplified,
        bounds=bounds,  # type: ignore[arg-type]
        topology=topology,
        topology_json=script_json(topology),
        report=report,
    )


def prepared_from_frame(grids: gpd.GeoDataFrame, *, level: str = "", tolerance: float | None = None) -> PreparedGrids:
    """prepare_grids, cached on a digest of the frame's codes, names and geometry (≈10 ms for 4,555 grids)."""
    _check_frame(grids)
    digest = hashlib.blake2b(digest_size=16)
    for column in (grids["grid_code"], grids["name"]):
        digest.update("\x1f".join(map(str, column)).encode("utf-8"))
    for wkb in shapely.to_wkb(grids.geometry.to_numpy()):
        digest.update(wkb)
    key = ("frame", level, digest.hexdigest(), tolerance)
    return _cached(key, lambda: prepare_grids(grids, level=level, tolerance=tolerance))


def prepare_level(con: duckdb.DuckDBPyConnection, level: str, *, tolerance: float | None = None) -> PreparedGrids:
    """The prepared grids of `level` in the store behind `con`, computed once and cached.

    The cache key is (database file, level, grid count, highest boundary version, a hash of every
    code, name and geometry of the level): a reload with changed boundaries or names gets a fresh
    entry, an unchanged store reuses it. Costs one cheap query per call; safe across threads.
    """
    if level not in LEVELS:
        raise ValueError(f"`level` was {level!r} but is expected to be one of {list(LEVELS)}")
    (path,) = con.execute(grids_queries.DATABASE_PATH).fetchone() or (None,)
    n, version, content_hash = con.execute(grids_queries.GRID_LEVEL_SIGNATURE, {"level": level}).fetchone()
    if n == 0:
        raise ValueError(f"the store has no grids of level {level!r}; load grids first (make demo or minqing load)")
    store = path or f"memory:{id(con)}"
    key = ("store", store, level, int(n), version, int(content_hash), tolerance)
    return _cached(key, lambda: prepare_grids(grid_frame(con, level), level=level, tolerance=tolerance))


def clear_cache() -> None:
    """Forget every prepared level (tests, or after replacing a store file in place)."""
    with _LOCK:
        _CACHE.clear()


# --- cache --------------------------------------------------------------------------------

_CACHE: OrderedDict[Hashable, PreparedGrids] = OrderedDict()
_LOCK = threading.Lock()


def _cached(key: Hashable, build: Callable[[], PreparedGrids]) -> PreparedGrids:
    with _LOCK:  # one preparation at a time: a second caller waits and then gets the cached result
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        value = build()
        _CACHE[key] = value
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
        return value


# --- helpers ------------------------------------------------------------------------------


def _check_frame(grids: gpd.GeoDataFrame) -> None:
    if grids.empty:
        raise ValueError("`grids` is empty: there is nothing to map; load grids first (make demo or minqing load)")
    if grids.crs is None or grids.crs.to_epsg() != 4326:
        raise ValueError(f"`grids` CRS was {grids.crs} but is expected to be EPSG:4326; call grids.to_crs(4326)")
    missing = [c for c in ("grid_code", "name") if c not in grids.columns]
    if missing:
        raise ValueError(f"`grids` lacks column(s) {missing}; pass the frame from layers.grids.grid_frame")


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Only the polygonal part of each geometry (make_valid and snapping can leave lines or points)."""
    out = np.asarray(geoms, dtype=object).copy()
    kinds = shapely.get_type_id(out)
    for i in np.flatnonzero((kinds != 3) & (kinds != 6)):  # not Polygon / MultiPolygon
        parts = [p for p in shapely.get_parts(out[i]) if shapely.get_type_id(p) in (3, 6)]
        out[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out


def _rebuild_coverage(geoms: np.ndarray, grid_size: float) -> np.ndarray:
    """Node every boundary on the grid, polygonise, give each face to the first grid that contains it."""
    lines = shapely.union_all(shapely.boundary(geoms[~shapely.is_empty(geoms)]), grid_size=grid_size)
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(lines))), dtype=object)
    face_idx, grid_idx = shapely.STRtree(geoms).query(shapely.point_on_surface(faces), predicate="within")
    order = np.lexsort((grid_idx, face_idx))
    face_idx, grid_idx = face_idx[order], grid_idx[order]
    first = np.unique(face_idx, return_index=True)[1]  # an overlap goes to the grid listed first
    owner_face, owner_grid = face_idx[first], grid_idx[first]
    out = np.array([shapely.Polygon()] * len(geoms), dtype=object)
    for g in np.unique(owner_grid):
        out[g] = shapely.coverage_union_all(faces[owner_face[owner_grid == g]])
    return _polygonal(out)


def _quantised_polygons(geom: shapely.Geometry, x0: float, y0: float, q: float) -> list[list[list[Point]]]:
    """Polygons → rings → open lists of integer points (closing point and repeats dropped)."""
    polys = []
    for poly in shapely.get_parts(geom):
        if poly.is_empty:
            continue
        rings = []
        for ring in shapely.get_rings(poly):
            xy = shapely.get_coordinates(ring)
            ij = np.rint((xy - (x0, y0)) / q).astype("int64")
            keep = np.ones(len(ij), dtype=bool)
            keep[1:] = np.any(ij[1:] != ij[:-1], axis=1)
            ij = ij[keep]
            if len(ij) > 1 and (ij[0] == ij[-1]).all():
                ij = ij[:-1]
            if len(ij) >= 3:
                rings.append([(int(a), int(b)) for a, b in ij])
        if rings:
            polys.append(rings)
    return polys


def _junctions(rings) -> set[Point]:
    """Points where the neighbourhood changes: shared edges start or end, three grids meet."""
    seen: dict[Point, tuple[Point, Point]] = {}
    junctions: set[Point] = set()
    for ring in rings:
        n = len(ring)
        for i, p in enumerate(ring):
            a, b = ring[i - 1], ring[(i + 1) % n]
            pair = (a, b) if a < b else (b, a)
            first = seen.setdefault(p, pair)
            if first != pair:
                junctions.add(p)
    return junctions


def _cut(ring: list[Point], junctions: set[Point]) -> list[list[Point]]:
    """A ring cut into arcs at its junctions (each arc closed by the next junction)."""
    cuts = [i for i, p in enumerate(ring) if p in junctions]
    if not cuts:  # a ring shared whole or not at all: one closed arc, started at its smallest point
        start = ring.index(min(ring))
        rotated = ring[start:] + ring[:start]
        return [rotated + [rotated[0]]]
    rotated = ring[cuts[0] :] + ring[: cuts[0]] + [ring[cuts[0]]]
    offsets = [c - cuts[0] for c in cuts] + [len(ring)]
    return [rotated[a : b + 1] for a, b in zip(offsets[:-1], offsets[1:])]


def _arc_id(piece: list[Point], arcs: list[list[Point]], index: dict[tuple[Point, ...], int]) -> int:
    """The index of `piece` among the arcs (~index when stored reversed), adding it if new."""
    key = tuple(piece)
    if key in index:
        return index[key]
    closed = piece[0] == piece[-1]
    reverse = piece[::-1]
    if closed:  # a closed arc may be stored starting elsewhere: compare canonical rotations
        body = reverse[:-1]
        start = body.index(min(body))
        reverse = body[start:] + body[:start] + [body[start]]
    rkey = tuple(reverse)
    if rkey in index:
        return ~index[rkey]
    index[key] = len(arcs)
    arcs.append(piece)
    return index[key]


def _pack(arcs: list[list[Point]]) -> list[int]:
    """All arcs as one flat list of steps from the previous point (the first from the origin)."""
    flat: list[int] = []
    px = py = 0
    for arc in arcs:
        for x, y in arc:
            flat += (x - px, y - py)
            px, py = x, y
    return flat
