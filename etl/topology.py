"""Topology checks of a grid hierarchy: overlaps and gaps between siblings, children outside their parent (m²)."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

TOLERANCE_M2 = 1.0  # areas below this are floating-point noise, not findings


@dataclass(frozen=True)
class LevelCheck:
    """What the checks found on one level, areas in square metres."""

    level: str
    overlap_pairs: int
    overlap_m2: float
    gap_m2: float
    outside_parent: int
    outside_parent_m2: float

    def findings(self) -> list[str]:
        """Readable findings; empty when the level is clean."""
        out = []
        if self.overlap_pairs:
            out.append(f"{self.level}: {self.overlap_pairs} overlapping sibling pair(s), {self.overlap_m2:,.0f} m² in all")
        if self.gap_m2 >= TOLERANCE_M2:
            out.append(f"{self.level}: gaps between siblings, {self.gap_m2:,.0f} m² in all")
        if self.outside_parent:
            out.append(f"{self.level}: {self.outside_parent} grid(s) stick out of their parent, "
                       f"{self.outside_parent_m2:,.0f} m² in all")
        return out


_M_PER_DEGREE = 111_319.49  # metres per degree of longitude at the equator (WGS84)


def _m2(geoms: np.ndarray) -> np.ndarray:
    """Area in m² of small lon/lat shapes: degree² scaled at each shape's own latitude.

    Working in degrees keeps shared edges identical (re-projecting straight edges would open
    artificial slivers between a long parent edge and its children's vertices).
    """
    if len(geoms) == 0:
        return np.zeros(0)
    lat = np.array([(b[1] + b[3]) / 2 for b in shapely.bounds(geoms)])
    return shapely.area(geoms) * _M_PER_DEGREE**2 * np.cos(np.radians(np.nan_to_num(lat)))


def check_level(children: gpd.GeoDataFrame, parents: gpd.GeoDataFrame | None, level: str) -> LevelCheck:
    """Check one level against its siblings and parents (both in EPSG:4326)."""
    geoms = np.asarray(children.geometry.values)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    overlap = _m2(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    significant = overlap >= TOLERANCE_M2
    if parents is None:
        union = shapely.union_all(geoms)
        holes = [shapely.polygons(ring) for poly in getattr(union, "geoms", [union]) for ring in poly.interiors]
        gap = float(_m2(np.asarray(holes)).sum()) if holes else 0.0
        return LevelCheck(level, int(significant.sum()), float(overlap[significant].sum()), float(gap), 0, 0.0)
    parent_geoms = parents.set_index("grid_code").geometry
    parent_of = parent_geoms.reindex(children["parent_code"]).values
    outside = _m2(shapely.difference(geoms, np.asarray(parent_of)))
    outside_hit = outside >= TOLERANCE_M2
    covered = gpd.GeoSeries(geoms).groupby(children["parent_code"].values).agg(
        lambda s: shapely.union_all(np.asarray(s.values)))
    gap = _m2(shapely.difference(np.asarray(parent_geoms.reindex(covered.index).values),
                                 np.asarray(covered.values)))
    return LevelCheck(level, int(significant.sum()), float(overlap[significant].sum()),
                      float(gap[gap >= TOLERANCE_M2].sum()), int(outside_hit.sum()), float(outside[outside_hit].sum()))
