"""Point-in-polygon without Point objects: a raster over the polygons settles most points by a lookup, the rest by
`shapely.contains_xy` against the few polygons whose boxes cover their raster cell.

The answer is the one `shapely.contains` gives (a point on a polygon's boundary is not in it), and a point inside
several overlapping polygons gets the first of them (the lowest index), exactly like the STRtree query it replaces.

How: the polygons' bounding box is cut into square cells. A cell that no polygon boundary touches lies wholly in the
same polygons as its centre, and so does the run of such cells along a row until the next boundary cell: one centre
per run is tested and the run takes its answer. Boundary cells (every ring sampled at half a cell, then widened by
one cell all round, so no cell a ring crosses is missed) keep a short list of candidate polygons (those whose
bounding box covers the cell); their points are tested exactly with `contains_xy`, candidates in index order.
"""

from __future__ import annotations

import numpy as np
import shapely

OUTSIDE = -1  # a cell wholly outside every polygon
EXACT = -2  # a boundary cell: its points are tested against its candidates
CELLS_PER_POLYGON = 1024  # about 32 x 32 cells on a typical polygon: a few percent of its cells touch its boundary
MAX_CELLS = 24_000_000  # the raster's cap (int32 per cell: 96 MB); more polygons get coarser cells


class PointIndex:
    """Polygons prepared for locating many points at once: `locate(x, y)` gives each point's polygon index."""

    def __init__(self, polygons: np.ndarray, *, cells_per_polygon: int = CELLS_PER_POLYGON,
                 max_cells: int = MAX_CELLS) -> None:
        self.polygons = np.asarray(polygons, dtype=object)
        shapely.prepare(self.polygons)
        self.size = 0.0
        self.cell_polygon = np.full(0, OUTSIDE, dtype=np.int32)
        if len(self.polygons) == 0:
            self.x0 = self.y0 = 0.0
            self.nx = self.ny = 0
            return
        minx, miny, maxx, maxy = shapely.total_bounds(self.polygons)
        width, height = max(maxx - minx, 1e-12), max(maxy - miny, 1e-12)
        typical = float(np.median(shapely.area(shapely.envelope(self.polygons))))
        size = np.sqrt(max(typical, 1e-24) / cells_per_polygon)
        size = max(size, np.sqrt(width * height / max_cells))  # stay under the cap
        self.size = float(size)
        self.nx = int(width // size) + 1
        self.ny = int(height // size) + 1
        self.x0, self.y0 = float(minx), float(miny)
        boundary = self._boundary_cells()
        self._candidates(boundary)
        self.cell_polygon = self._interior_runs(boundary)

    # ------------------------------------------------------------------ building

    def _boundary_cells(self) -> np.ndarray:
        """Cells any polygon ring passes through, widened by one cell (a flat bool raster, row-major)."""
        rings = shapely.segmentize(shapely.boundary(self.polygons), self.size / 2)
        xy = shapely.get_coordinates(rings)
        ix, iy = self._cell_xy(xy[:, 0], xy[:, 1])
        touched = np.zeros((self.ny + 2, self.nx + 2), dtype=bool)  # one spare cell all round
        touched[np.clip(iy, -1, self.ny) + 1, np.clip(ix, -1, self.nx) + 1] = True
        widened = np.zeros_like(touched)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                widened[1:-1, 1:-1] |= touched[1 + dy:self.ny + 1 + dy, 1 + dx:self.nx + 1 + dx]
        return widened[1:-1, 1:-1].ravel()

    def _candidates(self, boundary: np.ndarray) -> None:
        """For every boundary cell and every first cell of an interior run: the polygons whose box covers it."""
        grid = boundary.reshape(self.ny, self.nx)
        run_start = ~grid & np.concatenate([np.ones((self.ny, 1), dtype=bool), grid[:, :-1]], axis=1)
        self.run_start = run_start.ravel()
        wanted = grid | run_start
        bounds = shapely.bounds(self.polygons)
        lo_x, lo_y = self._cell_xy(bounds[:, 0], bounds[:, 1])
        hi_x, hi_y = self._cell_xy(bounds[:, 2], bounds[:, 3])
        lo_x, lo_y = np.clip(lo_x, 0, self.nx - 1), np.clip(lo_y, 0, self.ny - 1)
        hi_x, hi_y = np.clip(hi_x, 0, self.nx - 1), np.clip(hi_y, 0, self.ny - 1)
        cells, owners = [], []
        for polygon in range(len(self.polygons)):
            rows, cols = np.nonzero(wanted[lo_y[polygon]:hi_y[polygon] + 1, lo_x[polygon]:hi_x[polygon] + 1])
            cells.append((rows + lo_y[polygon]) * self.nx + cols + lo_x[polygon])
            owners.append(np.full(len(rows), polygon, dtype=np.int32))
        cell = np.concatenate(cells) if cells else np.zeros(0, dtype=np.int64)
        owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int32)
        order = np.lexsort((owner, cell))  # by cell, then polygon index: the first hit is the lowest index
        self.pair_cell, self.pair_polygon = cell[order], owner[order]

    def _interior_runs(self, boundary: np.ndarray) -> np.ndarray:
        """The polygon (or OUTSIDE) of every cell off the boundaries, from one tested centre per run; EXACT elsewhere."""
        starts = np.flatnonzero(self.run_start)
        cx = self.x0 + (starts % self.nx + 0.5) * self.size
        cy = self.y0 + (starts // self.nx + 0.5) * self.size
        run_polygon = self._exact(cx, cy, starts)
        run_id = np.cumsum(self.run_start) - 1
        out = np.where(boundary, EXACT, run_polygon[np.maximum(run_id, 0)]).astype(np.int32)
        return out

    # ------------------------------------------------------------------ locating

    def _cell_xy(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (np.floor((x - self.x0) / self.size).astype(np.int64),
                np.floor((y - self.y0) / self.size).astype(np.int64))

    def _exact(self, x: np.ndarray, y: np.ndarray, cell: np.ndarray) -> np.ndarray:
        """Polygon index of points in cells that have candidate lists, by contains_xy (OUTSIDE when in none)."""
        out = np.full(len(x), OUTSIDE, dtype=np.int32)
        if not len(x):
            return out
        first = np.searchsorted(self.pair_cell, cell, side="left")
        count = np.searchsorted(self.pair_cell, cell, side="right") - first
        point = np.repeat(np.arange(len(x)), count)
        pair = np.repeat(first - np.cumsum(count) + count, count) + np.arange(count.sum())
        polygon = self.pair_polygon[pair]
        hit = shapely.contains_xy(self.polygons[polygon], x[point], y[point])
        point, polygon = point[hit], polygon[hit]
        # pairs run in polygon order within each point, so the first hit of a point is its lowest polygon index
        keep = np.concatenate([[True], point[1:] != point[:-1]]) if len(point) else np.zeros(0, dtype=bool)
        out[point[keep]] = polygon[keep]
        return out

    def locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the polygon containing each point (the lowest when several do), -1 when none or no point."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        out = np.full(len(x), OUTSIDE, dtype=np.int32)
        if self.nx == 0 or not len(x):
            return out
        with np.errstate(invalid="ignore"):
            fx = (x - self.x0) / self.size
            fy = (y - self.y0) / self.size
            inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)  # NaN compares False: no point
        where = np.flatnonzero(inside)
        cell = fy[where].astype(np.int64) * self.nx + fx[where].astype(np.int64)
        found = self.cell_polygon[cell]
        out[where] = found
        exact = found == EXACT
        if exact.any():
            at = where[exact]
            out[at] = self._exact(x[at], y[at], cell[exact])
        return out
