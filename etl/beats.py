"""Each check-in's distance to its worker's own grids (beat_km) and the off-beat flag, computed after merging."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import shapely

from etl.mapping import DEFAULT_OFF_BEAT_KM

KM_PER_DEGREE_LAT = 110.574  # WGS84, near 23°N; longitude degrees are scaled by cos(latitude)

# Which visits a pass recomputes: those a batch wrote ($batch), or every visit ($batch NULL).
_WHICH = "($batch IS NULL OR batch_id = $batch OR updated_batch = $batch)"
_CLEAR = f"UPDATE visits SET beat_km = NULL, off_beat = NULL WHERE {_WHICH}"
# Inside one of the worker's own grids, at any level (a leader looks after a whole village).
_INSIDE = f"""
UPDATE visits SET beat_km = 0 WHERE {_WHICH} AND EXISTS (
    SELECT 1 FROM roster_grids r
    WHERE r.worker_id = visits.worker_id AND r.grid_code IN (visits.grid_small, visits.grid_medium, visits.grid_large))
"""
# Check-ins outside all of their worker's grids, paired with each of those grids' geometry.
_OUTSIDE_PAIRS = """
SELECT v.visit_id, v.lon, v.lat, g.geometry
FROM visits v JOIN roster_grids r USING (worker_id) JOIN grids g ON g.grid_code = r.grid_code
WHERE ($batch IS NULL OR v.batch_id = $batch OR v.updated_batch = $batch)
  AND v.beat_km IS NULL AND v.lon IS NOT NULL AND v.lat IS NOT NULL
"""
_SET_DISTANCES = "UPDATE visits SET beat_km = d.beat_km FROM beat_distances d WHERE visits.visit_id = d.visit_id"
_FLAG = f"""
UPDATE visits SET off_beat = beat_km > coalesce(
    (SELECT km FROM beat_thresholds t WHERE t.source = visits.source), $default)
WHERE {_WHICH} AND beat_km IS NOT NULL
"""
_COUNTS = f"""
SELECT count(*) FILTER (WHERE off_beat),
       count(*) FILTER (WHERE lon IS NOT NULL AND worker_id NOT IN (SELECT worker_id FROM roster))
FROM visits WHERE {_WHICH}
"""


@dataclass
class BeatCounts:
    """Check-ins flagged off their beat, and check-ins by workers the roster does not list."""

    off_beat: int = 0
    unknown_worker: int = 0


def assign_beats(con: duckdb.DuckDBPyConnection, thresholds: dict[str, float], *,
                 batch_id: int | None = None) -> BeatCounts:
    """Set beat_km and off_beat for the visits of `batch_id` (None: every visit, after the roster changed).

    `thresholds` maps a visits source to its off_beat_km (sources not listed use the default).
    """
    which = {"batch": batch_id}
    con.execute(_CLEAR, which)
    con.execute(_INSIDE, which)
    pairs = con.execute(_OUTSIDE_PAIRS, which).df()
    if not pairs.empty:
        con.register("beat_distances", _nearest(pairs))
        try:
            con.execute(_SET_DISTANCES)
        finally:
            con.unregister("beat_distances")
    table = pd.DataFrame({"source": list(thresholds), "km": [float(v) for v in thresholds.values()]},
                         columns=["source", "km"]).astype({"source": object, "km": float})
    con.register("beat_thresholds", table)
    try:
        con.execute(_FLAG, {**which, "default": DEFAULT_OFF_BEAT_KM})
    finally:
        con.unregister("beat_thresholds")
    off_beat, unknown = con.execute(_COUNTS, which).fetchone()
    return BeatCounts(off_beat=int(off_beat), unknown_worker=int(unknown))


def _nearest(pairs: pd.DataFrame) -> pd.DataFrame:
    """The smallest distance (km) from each visit's point to any of its paired grids, on a local plane."""
    lon, lat = pairs["lon"].to_numpy(float), pairs["lat"].to_numpy(float)
    scale = np.cos(np.radians(float(np.mean(lat)))) * KM_PER_DEGREE_LAT
    codes, distinct = pd.factorize(pairs["geometry"].map(bytes))
    shapes = shapely.from_wkb(list(distinct))
    planar = shapely.transform(shapes, lambda xy: xy * np.array([scale, KM_PER_DEGREE_LAT]))
    points = shapely.points(lon * scale, lat * KM_PER_DEGREE_LAT)
    distance = shapely.distance(points, planar[codes])
    frame = pd.DataFrame({"visit_id": pairs["visit_id"].to_numpy(object), "beat_km": distance})
    return frame.groupby("visit_id", as_index=False)["beat_km"].min()
