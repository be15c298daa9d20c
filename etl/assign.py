"""Grid assignment: vectorised point-in-polygon into small grids, parents from the hierarchy, codes and addresses checked."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
import shapely

from etl.pointindex import PointIndex

RASTER_FROM_POINTS = 100_000  # below this many points an STRtree on the points is quicker than building the raster


@dataclass
class GridIndex:
    """The small grids as an array of polygons plus the hierarchy, ready for assignment."""

    small_codes: np.ndarray
    small_polygons: np.ndarray
    parent: dict[str, str]
    level: dict[str, str]
    villages_by_town: dict[str, list[tuple[str, str]]]  # town name -> [(village name, medium code)]
    version: int = 0  # boundary version of the grids table
    names: dict[str, str] = field(default_factory=dict)  # grid code -> name, every level (grid-name fallback)
    _raster: PointIndex | None = field(default=None, repr=False)

    @classmethod
    def from_db(cls, con: duckdb.DuckDBPyConnection) -> "GridIndex":
        """Build the index from the grids table."""
        grids = con.execute("SELECT grid_code, name, level, parent_code, geometry, version FROM grids").df()
        small = grids[grids["level"] == "small"]
        polygons = shapely.from_wkb([bytes(b) for b in small["geometry"]])
        shapely.prepare(polygons)
        names = dict(zip(grids["grid_code"], grids["name"]))
        parent = {c: p for c, p in zip(grids["grid_code"], grids["parent_code"]) if isinstance(p, str)}
        medium = grids[grids["level"] == "medium"]
        villages_by_town: dict[str, list[tuple[str, str]]] = {}
        for code, name, parent_code in zip(medium["grid_code"], medium["name"], medium["parent_code"]):
            villages_by_town.setdefault(names.get(parent_code, ""), []).append((name, code))
        return cls(
            small_codes=small["grid_code"].to_numpy(dtype=object),
            small_polygons=polygons,
            parent=parent,
            level=dict(zip(grids["grid_code"], grids["level"])),
            villages_by_town=villages_by_town,
            version=int(grids["version"].max()) if len(grids) else 0,
            names=names,
        )

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Small-grid code of each point (None outside every grid or without a point; a point on a boundary is
        in no grid that only touches it, a point in overlapping grids gets the first).

        Many points go through the raster index of etl/pointindex.py (built once, on first use); a few through an
        STRtree built on the points and queried with the polygons (no raster to build). Both give the same codes.
        """
        codes = np.full(len(lon), None, dtype=object)
        has_point = np.isfinite(lon) & np.isfinite(lat)
        if not has_point.any() or len(self.small_polygons) == 0:
            return codes
        where = np.flatnonzero(has_point)
        if len(where) >= RASTER_FROM_POINTS or self._raster is not None:
            found = self.raster.locate(lon[where], lat[where])
            hit = found >= 0
            codes[where[hit]] = self.small_codes[found[hit]]
            return codes
        points = shapely.points(lon[where], lat[where])
        tree = shapely.STRtree(points)
        polygon_index, point_index = tree.query(self.small_polygons, predicate="contains")
        order = np.lexsort((polygon_index, point_index))  # a point in overlapping grids keeps the first grid
        point_index, polygon_index = point_index[order], polygon_index[order]
        first = np.unique(point_index, return_index=True)[1]
        codes[where[point_index[first]]] = self.small_codes[polygon_index[first]]
        return codes

    @property
    def raster(self) -> PointIndex:
        """The raster point index of the small grids (etl/pointindex.py), built on first use."""
        if self._raster is None:
            self._raster = PointIndex(self.small_polygons)
        return self._raster

    def hierarchy(self, small: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Medium and large codes for a series of small-grid codes."""
        return self._parents(small), self._parents(self._parents(small))

    def _parents(self, codes: pd.Series) -> pd.Series:
        """The parent code of each code (NaN when it has none), looked up once per distinct code."""
        position, distinct = pd.factorize(codes)
        parents = np.array([self.parent.get(c, np.nan) for c in distinct] + [np.nan], dtype=object)
        return pd.Series(parents[position], index=codes.index, dtype=object)

    def is_small(self, codes: pd.Series) -> pd.Series:
        """Whether each code names an existing small grid."""
        return codes.map(lambda c: self.level.get(c) == "small")

    def medium_from_address(self, address: str) -> str | None:
        """The village/community grid whose town and village names both appear in an address text."""
        if not address:
            return None
        for town, villages in self.villages_by_town.items():
            if town and town in address:
                for village, code in villages:
                    if village in address:
                        return code
        return None
