"""Synthetic three-level grid city (镇街/村社区/网格) at the real place and size of Shanwei, Guangdong."""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import geopandas
import numpy as np
import pandas
import pyproj
import shapely
from numpy.random import Generator

__all__ = ["City", "build_city", "write_grid_files", "N_LARGE", "N_MEDIUM", "N_SMALL"]

N_LARGE = 56
N_MEDIUM = 868
N_SMALL = 4555

GRID = 1e-7  # precision grid in degrees (~1 cm); every output vertex lies on it
CENTRE_LON = 115.55
CENTRE_LAT = 22.95
LON_BOUNDS = (115.0, 116.1)
LAT_BOUNDS = (22.6, 23.3)
TARGET_AREA_KM2 = 5000.0
TARGET_POPULATION = 3_000_000

KM_PER_DEG_LAT = 110.57
KM_PER_DEG_LON = 111.32 * math.cos(math.radians(CENTRE_LAT))
XSCALE = math.cos(math.radians(CENTRE_LAT))  # lon -> isotropic plane for Voronoi

CORE_COUNTY = "441502"  # 城区
COUNTIES: dict[str, str] = {"441502": "城区", "441521": "海丰县", "441523": "陆河县", "441581": "陆丰市"}

# Town centres: (name, lon, lat, weight, county seat of). Positions approximate the real towns.
_CENTRES: tuple[tuple[str, float, float, float, str | None], ...] = (
    ("香洲", 115.370, 22.790, 1.00, "441502"),
    ("海城", 115.320, 22.970, 0.70, "441521"),
    ("东海", 115.640, 22.945, 0.70, "441581"),
    ("河田", 115.640, 23.190, 0.50, "441523"),
    ("碣石", 115.830, 22.830, 0.40, None),
    ("甲子", 115.950, 22.870, 0.35, None),
    ("梅陇", 115.200, 22.840, 0.30, None),
    ("可塘", 115.500, 22.960, 0.30, None),
    ("公平", 115.370, 23.060, 0.30, None),
    ("博美", 115.760, 23.000, 0.30, None),
    ("南塘", 115.580, 22.870, 0.25, None),
    ("螺溪", 115.720, 23.130, 0.20, None),
)
_CORE_ANGLE = math.atan2((22.790 - CENTRE_LAT) * KM_PER_DEG_LAT, (115.370 - CENTRE_LON) * KM_PER_DEG_LON)
_SUBDISTRICT_LARGES = 6  # the larges nearest the city core become 街道 (plus the one holding 东海)

_TOWN_FIRST = "东西南北新大上下长高龙凤金银石青白红黄马鹿梅桃竹松河湖海山平安和兴福永乐沙田溪塘赤鹅联潭"
_TOWN_SECOND = "湖坑田塘溪江港洲山岭岗坪埔头尾美丰安宁和平城陂湾沙林寮墩门口坝围洋冲"
_VILLAGE_FIRST = "东西南北前后上下新旧大小长高中龙凤金石青白红黄马牛鹿梅桃竹松柏林杨陈李郑吴蔡彭庄叶苏钟曾"
_VILLAGE_SECOND = "厝寮围墩坑田塘溪湖洋埔岭岗坪头尾美丰安和兴园林桥圩寨楼角屋洞光华明乐"

_GEOD = pyproj.Geod(ellps="WGS84")


@dataclass(frozen=True)
class City:
    """A synthetic city: outline, three grid levels (EPSG:4326) and the town centres."""

    outline: shapely.Polygon
    large: geopandas.GeoDataFrame
    medium: geopandas.GeoDataFrame
    small: geopandas.GeoDataFrame
    centres: pandas.DataFrame


# --------------------------------------------------------------------------- density


def _dist_km(lon: np.ndarray, lat: np.ndarray, clon: float, clat: float) -> np.ndarray:
    return np.hypot((lon - clon) * KM_PER_DEG_LON, (lat - clat) * KM_PER_DEG_LAT)


def _pop_density(centres: pandas.DataFrame, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Residents per km²: a rural floor plus a Gaussian peak per town centre."""
    dens = np.full(np.shape(lon), 150.0)
    for c in centres.itertuples():
        sigma = 2.5 + 3.0 * c.weight
        dens = dens + 9000.0 * c.weight * np.exp(-0.5 * (_dist_km(lon, lat, c.lon, c.lat) / sigma) ** 2)
    return dens


def _grid_intensity(centres: pandas.DataFrame, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Relative number of grids per km² (grids are smaller where people live densely)."""
    return (_pop_density(centres, lon, lat) / 150.0) ** 0.75


# --------------------------------------------------------------------------- outline


def _make_outline(rng: Generator) -> shapely.Polygon:
    to_lonlat = pyproj.Transformer.from_crs(
        f"+proj=laea +lat_0={CENTRE_LAT} +lon_0={CENTRE_LON} +ellps=WGS84 +units=m", "EPSG:4326", always_xy=True
    )
    theta = np.linspace(0.0, 2.0 * np.pi, 720, endpoint=False)
    for _ in range(200):
        a, b = 52.0, 34.0
        base = a * b / np.hypot(b * np.cos(theta), a * np.sin(theta))
        noise = np.zeros_like(theta)
        for k in range(2, 11):
            noise += rng.uniform(0.3, 1.0) * 0.13 / k * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
        south = np.clip(-np.sin(theta), 0.0, None) ** 1.5
        for k in range(12, 49):
            noise += south * rng.uniform(0.2, 1.0) * 0.03 / math.sqrt(k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
        # A bay bringing the coast up to the city core, which is a harbour town.
        bay = 1.0 - 0.26 * np.exp(-0.5 * (np.angle(np.exp(1j * (theta - _CORE_ANGLE))) / 0.22) ** 2)
        radius = base * (1.0 + noise) * bay
        scale = 1.0
        poly = None
        for _ in range(4):
            x = radius * scale * np.cos(theta) * 1000.0
            y = radius * scale * np.sin(theta) * 1000.0
            lon, lat = to_lonlat.transform(x, y)
            poly = shapely.set_precision(shapely.Polygon(np.column_stack([lon, lat])), GRID)
            area = abs(_GEOD.geometry_area_perimeter(poly)[0]) / 1e6
            scale *= math.sqrt(TARGET_AREA_KM2 / area)
        assert poly is not None
        x0, y0, x1, y1 = poly.bounds
        if (
            poly.is_valid
            and LON_BOUNDS[0] + 0.01 < x0
            and x1 < LON_BOUNDS[1] - 0.01
            and LAT_BOUNDS[0] + 0.01 < y0
            and y1 < LAT_BOUNDS[1] - 0.01
        ):
            return poly
    raise RuntimeError("could not draw an outline inside the bounds")


def _place_centres(outline: shapely.Polygon) -> pandas.DataFrame:
    inner = max(_polygon_parts(outline.buffer(-0.02)), key=lambda p: p.area)
    rows = []
    for name, lon, lat, weight, _ in _CENTRES:
        pt = shapely.Point(lon, lat)
        if not inner.contains(pt):  # pull a centre that fell into the sea back onto land
            pt = inner.exterior.interpolate(inner.exterior.project(pt))
        rows.append((name, round(pt.x, 4), round(pt.y, 4), weight))
    return pandas.DataFrame(rows, columns=["name", "lon", "lat", "weight"])


# --------------------------------------------------------------------------- partition


def _polygon_parts(geom: shapely.Geometry) -> list[shapely.Polygon]:
    parts = shapely.get_parts(geom)
    return [p for p in parts if isinstance(p, shapely.Polygon) and not p.is_empty and p.area > 0]


def _sample_seeds(parent: shapely.Polygon, n: int, centres: pandas.DataFrame, rng: Generator) -> np.ndarray:
    """n distinct points inside parent, drawn in proportion to the grid intensity."""
    x0, y0, x1, y1 = parent.bounds
    want = max(30 * n, 300)
    pts: list[np.ndarray] = []
    have = 0
    while have < want:
        cand = np.column_stack([rng.uniform(x0, x1, 2 * want), rng.uniform(y0, y1, 2 * want)])
        cand = cand[shapely.contains_xy(parent, cand[:, 0], cand[:, 1])]
        pts.append(cand)
        have += len(cand)
    cand = np.concatenate(pts)[:want]
    w = _grid_intensity(centres, cand[:, 0], cand[:, 1])
    idx = rng.choice(len(cand), size=n, replace=False, p=w / w.sum())
    return cand[np.sort(idx)]


def _voronoi_clip(parent: shapely.Polygon, seeds: np.ndarray) -> list[list[shapely.Polygon]]:
    """Voronoi cells of seeds clipped to parent; per seed the list of polygon pieces."""
    if len(seeds) == 1:
        return [[parent]]
    x0, y0, x1, y1 = parent.bounds
    pad = 10.0 * max(x1 - x0, y1 - y0) + 1.0
    env = shapely.box((x0 - pad) * XSCALE, y0 - pad, (x1 + pad) * XSCALE, y1 + pad)
    mp = shapely.multipoints(np.column_stack([seeds[:, 0] * XSCALE, seeds[:, 1]]))
    cells = shapely.get_parts(shapely.voronoi_polygons(mp, extend_to=env, ordered=True))
    cells = shapely.transform(cells, lambda c: c * np.array([1.0 / XSCALE, 1.0]))
    clipped = shapely.intersection(cells, parent)
    return [_polygon_parts(c) for c in clipped]


def _main_part(pieces: list[shapely.Polygon], seed: np.ndarray) -> int:
    for i, p in enumerate(pieces):
        if shapely.contains_xy(p, seed[0], seed[1]):
            return i
    return int(np.argmax([p.area for p in pieces]))


def _merge_strays(pieces: list[list[shapely.Polygon]], seeds: np.ndarray) -> list[shapely.Polygon]:
    """Keep each cell's main piece; give every stray piece to the sibling sharing its longest edge."""
    result: list[shapely.Polygon] = []
    strays: list[tuple[float, int, shapely.Polygon]] = []
    for i, cell in enumerate(pieces):
        m = _main_part(cell, seeds[i])
        result.append(cell[m])
        strays.extend((-p.area, i, p) for j, p in enumerate(cell) if j != m)
    strays.sort(key=lambda t: (t[0], t[1]))
    pending = strays
    while pending:
        left: list[tuple[float, int, shapely.Polygon]] = []
        for neg_area, owner, piece in pending:
            ring = piece.exterior
            near = piece.buffer(GRID)
            best, best_len = -1, 0.0
            for j, other in enumerate(result):
                if j == owner or not shapely.intersects(other, near):
                    continue
                shared = shapely.length(shapely.intersection(ring, other.buffer(GRID)))
                if shared > best_len:
                    best, best_len = j, shared
            if best < 0:
                left.append((neg_area, owner, piece))
                continue
            merged = _polygon_parts(shapely.union(result[best], piece))
            result[best] = max(merged, key=lambda p: p.area) if len(merged) > 1 else merged[0]
        if len(left) == len(pending):  # nothing touches by an edge: attach to the owner (last resort)
            for _, owner, piece in left:
                merged = _polygon_parts(shapely.union(result[owner], piece))
                result[owner] = max(merged, key=lambda p: p.area)
            break
        pending = left
    return result


def _partition(parent: shapely.Polygon, n: int, centres: pandas.DataFrame, rng: Generator) -> list[shapely.Polygon]:
    """Split parent into n single polygons: weighted seeds, one Lloyd step, clipped Voronoi."""
    if n == 1:
        return [parent]
    seeds = _sample_seeds(parent, n, centres, rng)
    pieces = _voronoi_clip(parent, seeds)
    relaxed = np.empty_like(seeds)
    for i, cell in enumerate(pieces):
        main = cell[_main_part(cell, seeds[i])]
        c = main.centroid
        if not shapely.contains_xy(parent, c.x, c.y) or not shapely.contains_xy(main, c.x, c.y):
            c = main.point_on_surface()
        relaxed[i] = (c.x, c.y)
    if len(np.unique(relaxed, axis=0)) == n:
        seeds = relaxed
        pieces = _voronoi_clip(parent, seeds)
    return _merge_strays(pieces, seeds)


def _allocate(weights: np.ndarray, total: int, minimum: int) -> np.ndarray:
    """Largest-remainder apportionment of total among weights with a floor of minimum each."""
    n = len(weights)
    counts = np.full(n, minimum, dtype=np.int64)
    rest = total - minimum * n
    if rest < 0:
        raise ValueError("total too small for the minimum")
    share = weights / weights.sum() * rest
    base = np.floor(share).astype(np.int64)
    counts += base
    left = rest - int(base.sum())
    order = np.lexsort((np.arange(n), -(share - base)))
    counts[order[:left]] += 1
    return counts


def _weights(polys: list[shapely.Polygon], centres: pandas.DataFrame, samples: np.ndarray) -> np.ndarray:
    """Integral of the grid intensity over each polygon, estimated on a regular sample lattice."""
    tree = shapely.STRtree(polys)
    pts = shapely.points(samples)
    p_idx, g_idx = tree.query(pts, predicate="within")
    inten = _grid_intensity(centres, samples[:, 0], samples[:, 1])
    w = np.bincount(g_idx, weights=inten[p_idx], minlength=len(polys))
    areas = shapely.area(np.array(polys, dtype=object))
    cnt = np.bincount(g_idx, minlength=len(polys))
    cell = float(np.sum(areas)) / max(len(samples), 1)
    rep = shapely.point_on_surface(np.array(polys, dtype=object))
    fallback = areas / cell * _grid_intensity(centres, shapely.get_x(rep), shapely.get_y(rep))
    return np.where(cnt > 0, w, fallback)


# --------------------------------------------------------------------------- final noding


def _node_coverage(polys: list[shapely.Polygon]) -> list[shapely.Polygon]:
    """Snap-round all edges at once so neighbours share identical vertices (a valid coverage).

    Noding turns the linework into faces; a face goes to the polygon that holds most of it.
    Sliver faces (gaps or overlaps of the float geometry, or thinner than the grid) go to the
    neighbour sharing their longest edge, so no grid becomes a MultiPolygon.
    """
    arr = np.array(polys, dtype=object)
    lines = shapely.unary_union(shapely.boundary(arr), grid_size=GRID)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    f_area = shapely.area(faces)
    tree = shapely.STRtree(arr)
    owner = np.full(len(faces), -1, dtype=np.int64)
    f_idx, p_idx = tree.query(shapely.point_on_surface(faces), predicate="within")
    uniq, counts = np.unique(f_idx, return_counts=True)
    single = np.isin(f_idx, uniq[counts == 1])
    f_idx, p_idx = f_idx[single], p_idx[single]
    overlap = shapely.area(shapely.intersection(faces[f_idx], arr[p_idx]))
    solid = (overlap > 0.5 * f_area[f_idx]) & (f_area[f_idx] > 1e-9)
    owner[f_idx[solid]] = p_idx[solid]
    face_tree = shapely.STRtree(faces)
    pending = np.flatnonzero(owner < 0)
    while len(pending):
        left = []
        for f in pending:
            nb = face_tree.query(faces[f], predicate="touches")
            nb = nb[owner[nb] >= 0]
            if len(nb) == 0:
                left.append(f)
                continue
            shared = shapely.length(shapely.intersection(faces[f].boundary, shapely.boundary(faces[nb])))
            if shared.max() <= 0:
                left.append(f)
                continue
            by_owner: dict[int, float] = {}
            for o, length in zip(owner[nb].tolist(), shared.tolist()):
                by_owner[o] = by_owner.get(o, 0.0) + length
            owner[f] = max(sorted(by_owner), key=lambda o: by_owner[o])
        if len(left) == len(pending):
            raise RuntimeError("noding left faces without a neighbour")
        pending = np.array(left, dtype=np.int64)
    out: list[shapely.Polygon] = []
    for i in range(len(polys)):
        mine = faces[owner == i]
        if len(mine) == 0:
            raise RuntimeError("a grid vanished while noding")
        out.append(mine[0] if len(mine) == 1 else shapely.coverage_union_all(mine))
    return out


def _union(parts: np.ndarray) -> shapely.Geometry:
    return parts[0] if len(parts) == 1 else shapely.coverage_union_all(parts)


# --------------------------------------------------------------------------- names and codes


def _names(rng: Generator, n: int, first: str, second: str, taken: set[str]) -> list[str]:
    out: list[str] = []
    seen = set(taken)
    while len(out) < n:
        a = first[rng.integers(len(first))]
        b = second[rng.integers(len(second))]
        name = a + b
        if a == b or name in seen:
            continue
        seen.add(name)
        out.append(name)
    return out


def _order(points: np.ndarray, origin: tuple[float, float]) -> np.ndarray:
    """Indices sorted by distance from origin (ties: west to east)."""
    d = np.hypot((points[:, 0] - origin[0]) * XSCALE, points[:, 1] - origin[1])
    return np.lexsort((points[:, 0], np.round(d, 9)))


# --------------------------------------------------------------------------- build


def build_city(seed: int = 7) -> City:
    """Build the synthetic city deterministically from seed."""
    rng = np.random.default_rng(seed)
    outline = _make_outline(rng)
    centres = _place_centres(outline)

    # Regular sample lattice (~250 m) for area-times-density weights.
    x0, y0, x1, y1 = outline.bounds
    gx, gy = np.meshgrid(np.arange(x0, x1, 0.0025), np.arange(y0, y1, 0.00225))
    lattice = np.column_stack([gx.ravel(), gy.ravel()])
    lattice = lattice[shapely.contains_xy(outline, lattice[:, 0], lattice[:, 1])]

    large_polys = _partition(outline, N_LARGE, centres, rng)
    n_med = _allocate(_weights(large_polys, centres, lattice), N_MEDIUM, 3)
    medium_polys: list[shapely.Polygon] = []
    medium_parent: list[int] = []
    for i, poly in enumerate(large_polys):
        kids = _partition(poly, int(n_med[i]), centres, rng)
        medium_polys.extend(kids)
        medium_parent.extend([i] * len(kids))
    n_small = _allocate(_weights(medium_polys, centres, lattice), N_SMALL, 1)
    small_polys: list[shapely.Polygon] = []
    small_parent: list[int] = []
    for j, poly in enumerate(medium_polys):
        kids = _partition(poly, int(n_small[j]), centres, rng)
        small_polys.extend(kids)
        small_parent.extend([j] * len(kids))

    small_geom = np.array(_node_coverage(small_polys), dtype=object)
    sp = np.array(small_parent)
    mp = np.array(medium_parent)
    medium_geom = np.array([_union(small_geom[sp == j]) for j in range(len(medium_polys))], dtype=object)
    large_geom = np.array([_union(medium_geom[mp == i]) for i in range(len(large_polys))], dtype=object)
    final_outline = _union(large_geom)
    small_geom = shapely.orient_polygons(small_geom)
    medium_geom = shapely.orient_polygons(medium_geom)
    large_geom = shapely.orient_polygons(large_geom)
    final_outline = shapely.orient_polygons(final_outline)

    # Population per small grid.
    s_rep = shapely.point_on_surface(small_geom)
    s_lon, s_lat = shapely.get_x(s_rep), shapely.get_y(s_rep)
    s_area = np.array([abs(_GEOD.geometry_area_perimeter(g)[0]) for g in small_geom]) / 1e6
    raw = _pop_density(centres, s_lon, s_lat) * s_area * rng.lognormal(0.0, 0.3, len(small_geom))
    total = TARGET_POPULATION * rng.uniform(0.97, 1.03)
    small_pop = np.maximum(np.rint(raw / raw.sum() * total), 20).astype(np.int64)
    medium_pop = np.bincount(sp, weights=small_pop, minlength=len(medium_geom)).astype(np.int64)
    large_pop = np.bincount(mp, weights=medium_pop, minlength=len(large_geom)).astype(np.int64)

    # Counties, suffixes and codes of the large grids.
    l_rep = shapely.point_on_surface(large_geom)
    l_xy = np.column_stack([shapely.get_x(l_rep), shapely.get_y(l_rep)])
    cen_xy = centres[["lon", "lat"]].to_numpy()
    tree = shapely.STRtree(large_geom)
    c_idx, l_idx = tree.query(shapely.points(cen_xy), predicate="intersects")
    centre_large: dict[int, int] = {}
    for c, g in sorted(zip(c_idx.tolist(), l_idx.tolist())):
        centre_large.setdefault(c, g)
    seats = {s[4]: i for i, s in enumerate(_CENTRES) if s[4] is not None}
    core = cen_xy[seats[CORE_COUNTY]]
    seat_larges = {centre_large[seats[c]] for c in seats if c != CORE_COUNTY}
    by_core = [int(i) for i in _order(l_xy, (core[0], core[1])) if int(i) not in seat_larges]
    county = np.empty(len(large_geom), dtype=object)
    city_core = set(by_core[:_SUBDISTRICT_LARGES])
    others = [c for c in COUNTIES if c != CORE_COUNTY]
    for i in range(len(large_geom)):
        if i in city_core:
            county[i] = CORE_COUNTY
            continue
        d = [np.hypot((l_xy[i, 0] - cen_xy[seats[c], 0]) * XSCALE, l_xy[i, 1] - cen_xy[seats[c], 1]) for c in others]
        county[i] = others[int(np.argmin(d))]
    subdistrict = set(city_core) | {centre_large[seats["441581"]]}

    reserved = {str(n) for n in centres["name"]}
    gen = iter(_names(rng, len(large_geom), _TOWN_FIRST, _TOWN_SECOND, reserved))
    large_name: list[str] = [""] * len(large_geom)
    for c in sorted(centre_large):
        g = centre_large[c]
        if not large_name[g]:
            large_name[g] = str(centres["name"].iloc[c])
    for i in range(len(large_geom)):
        if not large_name[i]:
            large_name[i] = next(gen)
        large_name[i] += "街道" if i in subdistrict else "镇"

    large_code = [""] * len(large_geom)
    for cty in COUNTIES:
        members = [i for i in range(len(large_geom)) if county[i] == cty]
        if not members:
            continue
        anchor = cen_xy[seats[cty]]
        ordered = [members[k] for k in _order(l_xy[members], (anchor[0], anchor[1]))]
        n_sub = n_town = 0
        for i in ordered:
            if i in subdistrict:
                n_sub += 1
                serial = n_sub
            else:
                n_town += 1
                serial = 100 + n_town
            large_code[i] = f"{cty}{serial:03d}000000"

    # Mediums: 社区 (urban) or 村 (rural), numbered 001.. / 201.. as real village codes are.
    m_rep = shapely.point_on_surface(medium_geom)
    m_xy = np.column_stack([shapely.get_x(m_rep), shapely.get_y(m_rep)])
    m_dens = _pop_density(centres, m_xy[:, 0], m_xy[:, 1])
    medium_name: list[str] = [""] * len(medium_geom)
    medium_code: list[str] = [""] * len(medium_geom)
    for i in range(len(large_geom)):
        members = np.flatnonzero(mp == i)
        names = _names(rng, len(members), _VILLAGE_FIRST, _VILLAGE_SECOND, set())
        ordered = members[_order(m_xy[members], (l_xy[i, 0], l_xy[i, 1]))]
        n_comm = n_vill = 0
        for k, j in enumerate(ordered):
            urban = i in subdistrict or m_dens[j] > 3000.0
            if urban:
                n_comm += 1
                serial = n_comm
            else:
                n_vill += 1
                serial = 200 + n_vill
            medium_name[j] = names[k] + ("社区" if urban else "村")
            medium_code[j] = f"{large_code[i][:9]}{serial:03d}000"

    small_name: list[str] = [""] * len(small_geom)
    small_code: list[str] = [""] * len(small_geom)
    s_xy = np.column_stack([s_lon, s_lat])
    for j in range(len(medium_geom)):
        members = np.flatnonzero(sp == j)
        ordered = members[np.lexsort((s_xy[members, 0], -np.round(s_xy[members, 1], 4)))]
        for k, s in enumerate(ordered, start=1):
            small_name[s] = f"第{k}网格"
            small_code[s] = f"{medium_code[j][:12]}{k:03d}"

    def frame(
        codes: list[str], names: list[str], parents: list[str | None], pop: np.ndarray, geom: np.ndarray
    ) -> geopandas.GeoDataFrame:
        gdf = geopandas.GeoDataFrame(
            {
                "grid_code": pandas.Series(codes, dtype=object),
                "name": pandas.Series(names, dtype=object),
                "parent_code": pandas.Series(parents, dtype=object),
                "population": pop.astype(np.int64),
            },
            geometry=geopandas.GeoSeries(geom, crs="EPSG:4326"),
            crs="EPSG:4326",
        )
        return gdf.sort_values("grid_code", kind="stable").reset_index(drop=True)

    large = frame(large_code, large_name, [None] * len(large_geom), large_pop, large_geom)
    medium = frame(medium_code, medium_name, [large_code[i] for i in mp], medium_pop, medium_geom)
    small = frame(small_code, small_name, [medium_code[j] for j in sp], small_pop, small_geom)
    return City(outline=final_outline, large=large, medium=medium, small=small, centres=centres)


def build_region(copies: int, seed: int = 7) -> City:
    """A larger synthetic region for growth benchmarks: `copies` copies of the city laid side by side (five to a row,
    east then north), each copy's grid codes prefixed with its number (R01, R02, ...) so every code stays unique.
    One copy is the city itself, codes unchanged."""
    city = build_city(seed)
    if copies <= 1:
        return city
    minx, miny, maxx, maxy = city.outline.bounds
    width, height = (maxx - minx) * 1.02, (maxy - miny) * 1.02
    levels: dict[str, list[geopandas.GeoDataFrame]] = {"large": [], "medium": [], "small": []}
    outlines, centres = [], []
    for copy in range(copies):
        dx, dy = width * (copy % 5), height * (copy // 5)
        prefix = f"R{copy + 1:02d}"

        def moved(geometry: np.ndarray, dx: float = dx, dy: float = dy) -> np.ndarray:
            return shapely.transform(geometry, lambda xy: xy + np.array([dx, dy]))

        for level, frame in (("large", city.large), ("medium", city.medium), ("small", city.small)):
            part = frame.copy()
            part["grid_code"] = prefix + part["grid_code"].astype(str)
            if "parent_code" in part:
                part["parent_code"] = part["parent_code"].map(lambda c, p=prefix: p + str(c) if isinstance(c, str)
                                                              else c)
            part = part.set_geometry(moved(part.geometry.values))
            levels[level].append(part)
        outlines.append(moved(np.array([city.outline], dtype=object))[0])
        centres.append(city.centres.assign(lon=city.centres["lon"] + dx, lat=city.centres["lat"] + dy))
    frames = {level: geopandas.GeoDataFrame(pandas.concat(parts, ignore_index=True), crs=city.small.crs)
              for level, parts in levels.items()}
    return City(outline=shapely.union_all(outlines), large=frames["large"], medium=frames["medium"],
                small=frames["small"], centres=pandas.concat(centres, ignore_index=True))


# --------------------------------------------------------------------------- delivery files

_FIELDS = {"grid_code": "网格编码", "name": "网格名称", "parent_code": "上级编码", "population": "人口数"}


def _remove_shapefile(path: Path) -> None:
    for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx"):
        p = path.with_suffix(ext)
        if p.exists():
            p.unlink()


def _clear_dbf_language_driver(dbf: Path) -> None:
    """Zero the DBF header's language driver ID (byte 29), as in files from real-world tools."""
    with open(dbf, "r+b") as fh:
        fh.seek(29)
        fh.write(struct.pack("B", 0))


def write_grid_files(city: City, grids_dir: Path) -> dict[str, Path]:
    """Write grids as a real city delivers them; returns {'large': ..., 'medium': ..., 'small': ...}."""
    grids_dir = Path(grids_dir)
    grids_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for level in ("large", "medium"):
        gdf = getattr(city, level).rename(columns=_FIELDS)
        path = grids_dir / f"{level}_grids.geojson"
        if path.exists():
            path.unlink()
        gdf.to_file(path, driver="GeoJSON", engine="pyogrio")
        out[level] = path
    path = grids_dir / "small_grids.shp"
    _remove_shapefile(path)
    gdf = city.small[["name", "grid_code", "parent_code", "population", "geometry"]].rename(columns=_FIELDS)
    gdf.to_file(path, driver="ESRI Shapefile", engine="pyogrio", encoding="GBK")
    cpg = path.with_suffix(".cpg")
    if cpg.exists():
        os.remove(cpg)
    _clear_dbf_language_driver(path.with_suffix(".dbf"))
    out["small"] = path
    return out
