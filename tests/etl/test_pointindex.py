"""The raster point index (etl/pointindex.py) gives exactly the polygons an STRtree `contains` query gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from etl.assign import RASTER_FROM_POINTS, GridIndex
from etl.pointindex import PointIndex


def reference(polygons: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The lowest index of a polygon that `contains` each point (-1: none), by the STRtree the loader used first."""
    out = np.full(len(x), -1)
    ok = np.isfinite(x) & np.isfinite(y)
    where = np.flatnonzero(ok)
    polygon, point = shapely.STRtree(shapely.points(x[where], y[where])).query(polygons, predicate="contains")
    order = np.lexsort((polygon, point))
    point, polygon = point[order], polygon[order]
    first = np.unique(point, return_index=True)[1]
    out[where[point[first]]] = polygon[first]
    return out


def tiling(seed: int) -> np.ndarray:
    """Irregular grids like a city's: jittered quadrilaterals sharing edges, one with a hole, one in two parts, one
    overlapping its neighbours, one sliver, plus a polygon far away."""
    rng = np.random.default_rng(seed)
    n = 12
    gx, gy = np.meshgrid(np.linspace(119.0, 119.3, n + 1), np.linspace(26.0, 26.3, n + 1))
    gx[1:-1, 1:-1] += rng.uniform(-0.008, 0.008, (n - 1, n - 1))
    gy[1:-1, 1:-1] += rng.uniform(-0.008, 0.008, (n - 1, n - 1))
    cells = [shapely.Polygon([(gx[j, i], gy[j, i]), (gx[j, i + 1], gy[j, i + 1]), (gx[j + 1, i + 1], gy[j + 1, i + 1]),
                              (gx[j + 1, i], gy[j + 1, i])]) for j in range(n) for i in range(n)]
    cells[5] = cells[5].difference(cells[5].centroid.buffer(0.005))  # a hole
    cells[17] = shapely.MultiPolygon([cells[17], shapely.box(119.5, 26.5, 119.52, 26.52)])  # two parts
    cells[40] = cells[40].buffer(0.01)  # overlaps its neighbours: points there go to the lower index
    cells[41] = shapely.box(119.14, 26.05, 119.1400001, 26.06)  # a sliver thinner than any raster cell
    cells.append(shapely.box(120.0, 27.0, 120.05, 27.05))  # far from the others
    return np.array(cells, dtype=object)


def hard_points(polygons: np.ndarray, seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Random points over and around the polygons, every vertex, every edge midpoint, NaN and infinite ones."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = shapely.total_bounds(polygons)
    x = rng.uniform(minx - 0.05, maxx + 0.05, count)
    y = rng.uniform(miny - 0.05, maxy + 0.05, count)
    dense = rng.random(count) < 0.9  # most points where most polygons are (the middle 60 % of the median box)
    cx, cy = np.median(shapely.get_x(shapely.centroid(polygons))), np.median(shapely.get_y(shapely.centroid(polygons)))
    half = 0.3 * min(maxx - minx, maxy - miny, 0.3)
    x[dense] = rng.uniform(cx - half, cx + half, dense.sum())
    y[dense] = rng.uniform(cy - half, cy + half, dense.sum())
    vertices = shapely.get_coordinates(shapely.boundary(polygons))
    middles = (vertices[:-1] + vertices[1:]) / 2
    x = np.concatenate([x, vertices[:, 0], middles[:, 0], [np.nan, 119.1, np.inf, -np.inf]])
    y = np.concatenate([y, vertices[:, 1], middles[:, 1], [26.1, np.nan, 26.1, 26.1]])
    return x, y


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("cells_per_polygon", [16, 1024])
def test_the_raster_finds_what_contains_finds(seed: int, cells_per_polygon: int) -> None:
    polygons = tiling(seed)
    x, y = hard_points(polygons, seed, 60_000)
    got = PointIndex(polygons, cells_per_polygon=cells_per_polygon).locate(x, y)
    want = reference(polygons, x, y)
    assert (want >= 0).sum() > 40_000 and (want == -1).sum() > 1_000  # the test covers both answers
    assert (want == 40).sum() > 0 and (want == 41).sum() + (want == 17).sum() > 0
    np.testing.assert_array_equal(got, want)


def test_coarse_cells_still_exact_on_the_demo_grids(demo_dir) -> None:
    """The demo city's small grids, with cells so coarse that most points need the exact test."""
    import pyogrio

    polygons = np.asarray(pyogrio.read_dataframe(demo_dir / "grids" / "small_grids.shp").geometry.values)
    x, y = hard_points(polygons[:400], 3, 30_000)
    for cells in (4, 1024):
        np.testing.assert_array_equal(PointIndex(polygons, cells_per_polygon=cells).locate(x, y),
                                      reference(polygons, x, y))


def test_grid_index_gives_the_same_codes_by_either_path() -> None:
    polygons = tiling(4)
    codes = np.array([f"G{i:03d}" for i in range(len(polygons))], dtype=object)
    index = GridIndex(small_codes=codes, small_polygons=polygons, parent={}, level={}, villages_by_town={})
    x, y = hard_points(polygons, 4, RASTER_FROM_POINTS)
    many = index.locate(x, y)  # at least RASTER_FROM_POINTS points: the raster
    assert index._raster is not None
    few = GridIndex(small_codes=codes, small_polygons=polygons, parent={}, level={},
                    villages_by_town={}).locate(x[:5_000], y[:5_000])  # a few: the STRtree
    want = reference(polygons, x, y)
    expected = np.where(want >= 0, codes[np.maximum(want, 0)], None)
    assert list(many) == list(expected)
    assert list(few) == list(expected[:5_000])


def test_no_polygons_and_no_points() -> None:
    assert PointIndex(np.array([], dtype=object)).locate(np.array([1.0]), np.array([2.0])).tolist() == [-1]
    index = PointIndex(tiling(1))
    assert index.locate(np.array([]), np.array([])).tolist() == []
    hierarchy = GridIndex(small_codes=np.array([]), small_polygons=np.array([]), parent={"s": "m", "m": "L"},
                          level={}, villages_by_town={}).hierarchy(pd.Series(["s", None, "x"], dtype=object))
    assert hierarchy[0].tolist()[0] == "m" and hierarchy[1].tolist()[0] == "L"
    assert hierarchy[0].isna().tolist() == [False, True, True]
