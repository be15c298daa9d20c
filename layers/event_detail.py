"""One event as its detail page shows it: the record with its place and names, the department's record id, the
other departments' records of the same incident, the patrol follow-ups, the timeline, and a small map; and the
supervised (督办) events a cursor may see.

Every read goes through the caller's cursor, so a scoped user gets None (or no row) for an event outside their
jurisdiction, judged by the event's current grid.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import folium
import pandas as pd
import shapely

from layers import alerts_queries as q
from layers.drilldown import GridOutline
from layers.offline import Basemap, offline_map
from layers.patrol import VISIT_TYPE_NAMES, has_patrol_data
from store.timewindow import TimeLike, local_time

TIMELINE_STEPS: tuple[tuple[str, str], ...] = (
    ("reported_at", "上报"), ("dispatched_at", "派遣"), ("due_at", "办理期限"), ("closed_at", "办结"),
)
POINT_ZOOM = 15


def event_record(con: duckdb.DuckDBPyConnection, event_id: str, *, as_of: TimeLike) -> pd.Series | None:
    """The event (alerts_queries.EVENT_COLUMNS) as the cursor sees it, or None (unknown or outside the scope)."""
    rows = events_by_id(con, [event_id], as_of=as_of)
    return None if rows.empty else rows.iloc[0]


def events_by_id(con: duckdb.DuckDBPyConnection, event_ids: list[str], *, as_of: TimeLike) -> pd.DataFrame:
    """The events among `event_ids` that the cursor sees, newest first (EVENT_COLUMNS; `overdue` at `as_of`)."""
    frame = con.execute(q.EVENTS_BY_ID, {"ids": [str(i) for i in event_ids], "as_of": local_time(as_of, "as_of")}).df()
    frame["overdue"] = frame["overdue"].fillna(False).astype(bool)
    return frame


def linked_records(con: duckdb.DuckDBPyConnection, event_id: str, *, as_of: TimeLike) -> pd.DataFrame:
    """Other records of the same incident (another department's report of it), oldest first."""
    frame = con.execute(q.LINKED_RECORDS, {"event_id": event_id, "as_of": local_time(as_of, "as_of")}).df()
    frame["overdue"] = frame["overdue"].fillna(False).astype(bool)
    return frame


def follow_ups(con: duckdb.DuckDBPyConnection, event_id: str) -> pd.DataFrame:
    """Patrol check-ins that followed the event up, oldest first (visit_type_name in Chinese)."""
    if not has_patrol_data(con):
        return pd.DataFrame(columns=["visited_at", "visit_type", "visit_type_name", "worker_id", "worker_name",
                                     "description"])
    frame = con.execute(q.FOLLOW_UPS, {"event_id": event_id}).df()
    frame["visit_type_name"] = frame["visit_type"].map(VISIT_TYPE_NAMES).astype(object)
    return frame


def timeline(record: pd.Series, visits: pd.DataFrame, steps: pd.DataFrame | None = None) -> pd.DataFrame:
    """The event's steps in time order (pure): its own workflow times, the patrol follow-ups and the 督办 steps
    (`steps`: at, what, who, note). Columns: at, what, who, note."""
    rows = [(record[column], label, "", "") for column, label in TIMELINE_STEPS if pd.notna(record.get(column))]
    rows += [(v.visited_at, f"巡查走访（{v.visit_type_name or v.visit_type}）", v.worker_name or v.worker_id or "",
              v.description or "") for v in visits.itertuples(index=False)]
    if steps is not None:
        rows += list(steps[["at", "what", "who", "note"]].itertuples(index=False, name=None))
    frame = pd.DataFrame(rows, columns=["at", "what", "who", "note"])
    frame["at"] = pd.to_datetime(frame["at"])
    return frame.sort_values("at", kind="stable").reset_index(drop=True)


def event_map(con: duckdb.DuckDBPyConnection, record: pd.Series, *, basemap: Basemap = Basemap()) -> folium.Map | None:
    """A small map: the event's finest grid outlined and its point; None when it has neither."""
    code = next((record[c] for c in ("grid_small", "grid_medium", "grid_large") if pd.notna(record.get(c))), None)
    geometry = None
    if code is not None:
        row = con.execute(q.GRID_GEOMETRY, {"code": str(code)}).fetchone()
        geometry = shapely.from_wkb(row[0]) if row else None
    point = (record["lat"], record["lon"]) if pd.notna(record.get("lat")) and pd.notna(record.get("lon")) else None
    if geometry is None and point is None:
        return None
    centre = point or (geometry.centroid.y, geometry.centroid.x)
    m = offline_map(basemap, location=list(centre), zoom_start=POINT_ZOOM, control_scale=True)
    if geometry is not None:
        GridOutline(geometry).add_to(m)
        minx, miny, maxx, maxy = geometry.bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    if point is not None:
        folium.CircleMarker(point, radius=8, color="#dc2626", fill=True, fill_opacity=0.9).add_to(m)
    return m


def hours_left(deadline: dt.datetime | pd.Timestamp | None, as_of: TimeLike) -> float | None:
    """Hours from `as_of` to `deadline` (negative: past it); None without a deadline."""
    if deadline is None or pd.isna(deadline):
        return None
    return (pd.Timestamp(deadline) - pd.Timestamp(local_time(as_of, "as_of"))).total_seconds() / 3600.0
