"""Each located event's H3 cell, computed once at load (events.h3_cell), so the heatmap is a GROUP BY."""

from __future__ import annotations

from itertools import repeat

import duckdb
import h3.api.basic_int as h3
import numpy as np
import pandas as pd

from store.schema import H3_RESOLUTION


def h3_cells(lon: np.ndarray, lat: np.ndarray, resolution: int = H3_RESOLUTION) -> pd.array:
    """The H3 cell (as a 64-bit integer) of each point; NA where there is no point."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    cells = pd.array(np.zeros(len(lon), dtype=np.int64), dtype="Int64")
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    # map() over the coordinate lists: no Python frame per point between fromiter and h3's C code
    cells[ok] = np.fromiter(map(h3.latlng_to_cell, lat[ok].tolist(), lon[ok].tolist(), repeat(resolution)),
                            dtype=np.int64, count=int(ok.sum()))
    cells[~ok] = pd.NA
    return cells


def fill_missing_cells(con: duckdb.DuckDBPyConnection) -> int:
    """Compute the cell of every located event without one (rows a store kept from before the column); the count."""
    todo = con.execute("SELECT event_id, lon, lat FROM events WHERE h3_cell IS NULL AND abs(lon) <= 180 "
                       "AND abs(lat) <= 90").df()
    if todo.empty:
        return 0
    todo["h3_cell"] = h3_cells(todo["lon"].to_numpy(), todo["lat"].to_numpy())
    con.register("missing_cells", todo[["event_id", "h3_cell"]])
    try:
        con.execute("UPDATE events SET h3_cell = m.h3_cell FROM missing_cells m WHERE events.event_id = m.event_id")
    finally:
        con.unregister("missing_cells")
    return len(todo)
