"""SQL of single events on the command center: map markers, the live feed and heatmap points.

The newest located events for the markers (layers/markers.py), the newest reports for the live feed (layers/kpis.py)
and event points for the heatmap (layers/heatmap.py).

Every query filters with EVENT_CONDITION (window [$start, $end) on reported_at, the filter's lists) and marks
"overdue" with the one OVERDUE_AT of layers/event_query.py, so a ringed marker, a feed badge and the KPI tile agree.
"""

from __future__ import annotations

from layers.event_query import AS_OF, EVENT_CONDITION, OVERDUE_AT

# Located events in the filter, one row per distinct point with its number of events (the heatmap bins these
# points; identical coordinates are counted once here, exactly). Parameters: the event condition's.
EVENT_POINTS = f"""
SELECT e.lon, e.lat, count(*) AS n
FROM events AS e
WHERE e.lon IS NOT NULL AND e.lat IS NOT NULL AND {EVENT_CONDITION}
GROUP BY e.lon, e.lat
ORDER BY e.lon, e.lat
"""

# Located events in the filter counted per stored H3 cell (events.h3_cell, computed at load), and the points of
# located events without a stored cell (a store loaded before the column) counted per distinct point.
# Parameters: the event condition's.
EVENT_CELLS = f"""
SELECT e.h3_cell AS cell, count(*) AS n
FROM events AS e
WHERE e.h3_cell IS NOT NULL AND {EVENT_CONDITION}
GROUP BY e.h3_cell
"""
EVENT_POINTS_WITHOUT_CELL = f"""
SELECT e.lon, e.lat, count(*) AS n
FROM events AS e
WHERE e.h3_cell IS NULL AND e.lon IS NOT NULL AND e.lat IS NOT NULL AND {EVENT_CONDITION}
GROUP BY e.lon, e.lat
ORDER BY e.lon, e.lat
"""

# Every located event point in the filter, one row per event (only for the raw-point comparison).
# Parameters: the event condition's.
EVENT_POINTS_RAW = f"""
SELECT e.lat, e.lon
FROM events AS e
WHERE e.lon IS NOT NULL AND e.lat IS NOT NULL AND {EVENT_CONDITION}
"""

# The newest located events reported up to $as_of within the condition, with Chinese category name, grid names and
# whether the event is overdue at $as_of (OVERDUE_AT). Parameters: the condition's, $as_of, $limit.
LATEST_EVENTS = f"""
SELECT
    e.event_id, e.dept, e.category, c.name AS category_name, e.status,
    e.reported_at, e.dispatched_at, e.closed_at, e.due_at,
    {OVERDUE_AT} AS overdue,
    e.lon, e.lat,
    e.grid_small, gs.name AS grid_small_name,
    e.grid_medium, gm.name AS grid_medium_name,
    e.grid_large, gl.name AS grid_large_name,
    e.address, e.description
FROM events AS e
LEFT JOIN categories AS c ON c.code = e.category
LEFT JOIN grids AS gs ON gs.grid_code = e.grid_small
LEFT JOIN grids AS gm ON gm.grid_code = e.grid_medium
LEFT JOIN grids AS gl ON gl.grid_code = e.grid_large
WHERE e.lon IS NOT NULL AND e.lat IS NOT NULL
  AND e.reported_at <= {AS_OF} AND {EVENT_CONDITION}
ORDER BY e.reported_at DESC, e.event_id
LIMIT CAST($limit AS INTEGER)
"""

# The newest reports up to $as_of within the condition, located or not (unlike LATEST_EVENTS), for the live feed:
# Chinese category and department names, the grids' names per level (NULL outside every grid; no small grid for
# events placed by address) and whether the event is overdue at $as_of (OVERDUE_AT).
# Parameters: the condition's, $as_of, $limit.
FEED_EVENTS = f"""
SELECT
    e.event_id, e.reported_at, e.dept, d.name AS dept_name, e.category, c.name AS category_name, e.status,
    e.due_at,
    {OVERDUE_AT} AS overdue,
    gl.name AS grid_large_name, gm.name AS grid_medium_name, gs.name AS grid_small_name
FROM events AS e
LEFT JOIN departments AS d ON d.code = e.dept
LEFT JOIN categories AS c ON c.code = e.category
LEFT JOIN grids AS gs ON gs.grid_code = e.grid_small
LEFT JOIN grids AS gm ON gm.grid_code = e.grid_medium
LEFT JOIN grids AS gl ON gl.grid_code = e.grid_large
WHERE e.reported_at <= {AS_OF} AND {EVENT_CONDITION}
ORDER BY e.reported_at DESC, e.event_id
LIMIT CAST($limit AS INTEGER)
"""
