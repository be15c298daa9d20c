"""Event heatmap from pre-binned weights: events → H3 cells (stored at load, counted in SQL) → cell centres and counts
→ Leaflet.heat.

The page carries one point per occupied H3 cell, never one per event, so its size depends on the area
covered, not on the number of events; MAX_CELLS caps it (coarser cells above that). Leaflet.heat is
served by the app (dashboard/static/vendor/leaflet-heat/), not from folium's CDN default.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import folium
import h3
import numpy as np
import pandas as pd
from folium.plugins import HeatMap

from layers import markers_queries as q
from layers.event_query import filter_params
from layers.offline import LEAFLET_HEAT_JS_URL, Basemap, offline_map
from store.schema import H3_RESOLUTION
from store.timewindow import TimeLike

DEFAULT_RESOLUTION = H3_RESOLUTION  # H3 cells of about 0.74 km² (edge ≈ 530 m): a street-block scale heat
MAX_CELLS = 12_000  # ≈ 0.35 MB of points; above it the cells are coarsened one resolution at a time
COORD_DECIMALS = 5
HEAT_OPTIONS = {"radius": 18, "blur": 15, "min_opacity": 0.3, "max_zoom": 1}
# max_zoom=1: Leaflet.heat scales weights down by 2^(max_zoom - zoom) below max_zoom; the weights are
# already totals per cell, so they are used unscaled at every zoom (the largest is found per redraw).
BIN_COLUMNS: tuple[str, ...] = ("cell", "lat", "lon", "weight")


def heat_bins(
    con: duckdb.DuckDBPyConnection,
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    where: object | None = None,
    resolution: int = DEFAULT_RESOLUTION,
    max_cells: int = MAX_CELLS,
) -> pd.DataFrame:
    """Located events reported in [start, end) matching `where` (a layers.event_query.EventFilter), counted
    per H3 cell: cell, lat, lon (cell centre), weight.

    Events without coordinates are left out. `attrs["resolution"]` is the resolution used (lower than
    asked when more than `max_cells` cells were occupied); `attrs["events"]` the events counted.
    """
    params = filter_params(where, start=start, end=end)
    if resolution == H3_RESOLUTION and _has_stored_cells(con):  # a GROUP BY on the cells computed at load
        cells = con.execute(q.EVENT_CELLS, params).df()
        rest = con.execute(q.EVENT_POINTS_WITHOUT_CELL, params).df()  # rows loaded before events.h3_cell
        counted = pd.Series(cells["n"].to_numpy(dtype="float64"),
                            index=pd.Index([h3.int_to_str(int(c)) for c in cells["cell"]], dtype="object"))
        if len(rest):
            counted = pd.concat([counted, _cell_counts(rest["lon"], rest["lat"], rest["n"], resolution)])
            counted = counted.groupby(level=0).sum()
        return _bins(counted, resolution=resolution, max_cells=max_cells)
    points = con.execute(q.EVENT_POINTS, params).df()
    return bin_points(
        points["lon"].to_numpy(), points["lat"].to_numpy(), points["n"].to_numpy(),
        resolution=resolution, max_cells=max_cells,
    )  # fmt: skip


def _has_stored_cells(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the events (or a scoped cursor's view of them) have the h3_cell column (stores since it was added)."""
    try:
        con.execute("SELECT h3_cell FROM events LIMIT 0")
    except duckdb.BinderException:
        return False
    return True


def bin_points(
    lon: Sequence[float] | np.ndarray,
    lat: Sequence[float] | np.ndarray,
    weight: Sequence[float] | np.ndarray | None = None,
    *,
    resolution: int = DEFAULT_RESOLUTION,
    max_cells: int = MAX_CELLS,
) -> pd.DataFrame:
    """Sum `weight` (default 1 per point) per H3 cell at `resolution`, coarsened until ≤ `max_cells` cells."""
    if not 0 <= resolution <= 15:
        raise ValueError(f"`resolution` was {resolution} but is expected to be an H3 resolution from 0 to 15")
    if max_cells < 1:
        raise ValueError(f"`max_cells` was {max_cells} but is expected to be at least 1")
    return _bins(_cell_counts(lon, lat, weight, resolution), resolution=resolution, max_cells=max_cells)


def _cell_counts(lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray,
                 weight: Sequence[float] | np.ndarray | None, resolution: int) -> pd.Series:
    """The summed weight per H3 cell (text ids) of the valid points."""
    lon_a, lat_a = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    w = np.ones(len(lon_a)) if weight is None else np.asarray(weight, dtype="float64")
    if not (len(lon_a) == len(lat_a) == len(w)):
        raise ValueError(f"`lon`, `lat` and `weight` have lengths {len(lon_a)}, {len(lat_a)}, {len(w)}; give one per point")
    ok = np.isfinite(lon_a) & np.isfinite(lat_a) & (np.abs(lat_a) <= 90) & (np.abs(lon_a) <= 180)
    cells = [h3.latlng_to_cell(y, x, resolution) for x, y in zip(lon_a[ok].tolist(), lat_a[ok].tolist())]
    return pd.Series(w[ok]).groupby(pd.Series(cells, dtype="object")).sum() if cells else pd.Series(dtype="float64")


def _bins(counted: pd.Series, *, resolution: int, max_cells: int) -> pd.DataFrame:
    """Cell weights (indexed by text cell id) coarsened until ≤ `max_cells` cells, with the cells' centres."""
    total = float(counted.sum()) if len(counted) else 0.0
    while len(counted) > max_cells and resolution > 0:
        resolution -= 1
        parents = [h3.cell_to_parent(c, resolution) for c in counted.index]
        counted = counted.groupby(pd.Series(parents, index=counted.index, dtype="object")).sum()
    centres = [h3.cell_to_latlng(c) for c in counted.index]
    out = pd.DataFrame(
        {
            "cell": pd.Series(counted.index, dtype="object").astype(str),
            "lat": np.round([c[0] for c in centres], COORD_DECIMALS),
            "lon": np.round([c[1] for c in centres], COORD_DECIMALS),
            "weight": counted.to_numpy(),
        },
        columns=list(BIN_COLUMNS),
    )
    if len(out) and np.array_equal(out["weight"], np.round(out["weight"])):
        out["weight"] = out["weight"].astype("int64")
    out = out.sort_values("cell", kind="stable").reset_index(drop=True)
    out.attrs.update(resolution=resolution, events=total)
    return out


def heat_layer(bins: pd.DataFrame, *, name: str = "事件热力", **options: object) -> HeatMap:
    """A Leaflet.heat layer of the bins' centres weighted by their counts, loading the vendored plugin."""
    missing = [c for c in ("lat", "lon", "weight") if c not in bins.columns]
    if missing:
        raise ValueError(f"`bins` lacks column(s) {missing}; pass the frame from heat_bins or bin_points")
    data = [
        [float(la), float(lo), int(w) if float(w).is_integer() else round(float(w), 3)]
        for la, lo, w in zip(bins["lat"], bins["lon"], bins["weight"])
    ]
    layer = HeatMap(data, name=name, **{**HEAT_OPTIONS, **options})
    return use_vendored_heat(layer)


def use_vendored_heat(layer: HeatMap) -> HeatMap:
    """Make `layer` load Leaflet.heat from the app's static files instead of folium's CDN default."""
    layer.default_js = [("leaflet-heat.js", LEAFLET_HEAT_JS_URL)]
    return layer


def heatmap(
    bins: pd.DataFrame,
    *,
    basemap: Basemap = Basemap(),
    bounds: tuple[float, float, float, float] | None = None,
    **options: object,
) -> folium.Map:
    """An offline map with the heat layer, fitted to `bounds` (minx, miny, maxx, maxy) or to the bins."""
    if bounds is None and len(bins):
        bounds = (bins["lon"].min(), bins["lat"].min(), bins["lon"].max(), bins["lat"].max())
    minx, miny, maxx, maxy = bounds if bounds is not None else (0.0, 0.0, 0.0, 0.0)
    m = offline_map(basemap, location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=11, control_scale=True)
    heat_layer(bins, **options).add_to(m)
    if bounds is not None:
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def raw_heatmap_html_size(
    con: duckdb.DuckDBPyConnection,
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    where: object | None = None,
) -> dict[str, int]:
    """For benchmarks: rendered HTML bytes of a naive HeatMap with one point per event vs the binned one."""
    raw = con.execute(q.EVENT_POINTS_RAW, filter_params(where, start=start, end=end)).df()
    naive = offline_map(Basemap())
    use_vendored_heat(HeatMap(raw[["lat", "lon"]].to_numpy().tolist())).add_to(naive)
    bins = heat_bins(con, start=start, end=end, where=where)
    return {
        "events": len(raw),
        "raw_html_bytes": len(naive.get_root().render().encode("utf-8")),
        "cells": len(bins),
        "binned_html_bytes": len(heatmap(bins).get_root().render().encode("utf-8")),
    }
