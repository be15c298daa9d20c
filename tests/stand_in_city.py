"""A small stand-in for the demo city: 4 towns x 6 villages x 6 square grids, for the generator's tests."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas
import numpy as np
import pandas as pd
import shapely


@dataclass(frozen=True)
class StandInCity:
    outline: shapely.Polygon
    large: geopandas.GeoDataFrame
    medium: geopandas.GeoDataFrame
    small: geopandas.GeoDataFrame
    centres: pd.DataFrame


TOWNS = ("东湖镇", "西岭镇", "南港街道", "北山镇")
VILLAGE_HEADS = "新旧前后上下"
VILLAGE_TAILS = "厝寮围墩坑田"


def stand_in_city() -> StandInCity:
    """4 towns (2x2) x 6 villages (3x2) x 6 grids (2x3): 144 small squares around 115.3-115.7E, 22.75-23.05N."""
    rng = np.random.default_rng(5)
    large, medium, small = [], [], []
    lw, lh = 0.2, 0.15
    for t, town in enumerate(TOWNS):
        x0, y0 = 115.3 + (t % 2) * lw, 22.75 + (t // 2) * lh
        tcode = f"441502{t + 1:03d}000000"
        large.append((tcode, town, None, 0, shapely.box(x0, y0, x0 + lw, y0 + lh)))
        for v in range(6):
            mx, my = x0 + (v % 3) * lw / 3, y0 + (v // 3) * lh / 2
            kind = "社区" if town.endswith("街道") else "村"
            vname = VILLAGE_HEADS[v] + VILLAGE_TAILS[(v + t) % 6] + kind
            vcode = tcode[:9] + f"{v + 1:03d}000"
            medium.append((vcode, vname, tcode, 0, shapely.box(mx, my, mx + lw / 3, my + lh / 2)))
            for g in range(6):
                sx, sy = mx + (g % 2) * lw / 6, my + (g // 2) * lh / 6
                pop = int(rng.integers(300, 3000))
                small.append((vcode[:12] + f"{g + 1:03d}", f"第{g + 1}网格", vcode, pop,
                              shapely.box(sx, sy, sx + lw / 6, sy + lh / 6)))

    def frame(rows: list[tuple]) -> geopandas.GeoDataFrame:
        df = pd.DataFrame(rows, columns=["grid_code", "name", "parent_code", "population", "geometry"])
        return geopandas.GeoDataFrame(df, geometry="geometry", crs="EPSG:4326")

    small_gdf = frame(small)
    medium_gdf = frame(medium)
    medium_gdf["population"] = small_gdf.groupby("parent_code")["population"].sum().reindex(medium_gdf["grid_code"]).to_numpy()
    large_gdf = frame(large)
    large_gdf["population"] = medium_gdf.groupby("parent_code")["population"].sum().reindex(large_gdf["grid_code"]).to_numpy()
    centres = pd.DataFrame({"name": ["东湖", "南港"], "lon": [115.39, 115.42], "lat": [22.80, 22.97], "weight": [1.0, 0.6]})
    return StandInCity(outline=shapely.union_all(small_gdf.geometry.values), large=large_gdf, medium=medium_gdf,
                       small=small_gdf, centres=centres)
