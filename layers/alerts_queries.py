"""SQL of the command center's pop-ups and of one event's detail: events with their place (grid names and codes per
level), category, department and status; the neglected small grids with their parents.

Parameters are named (`$as_of`, `$since`, `$ids`, `$event_id`, `$limit`, `$codes`); OPEN_AT and OVERDUE_AT are the one
open / overdue rule of layers/event_query.py, so a pop-up, a feed badge and the KPI tile agree.
"""

from __future__ import annotations

from layers.event_query import AS_OF, OPEN_AT, OVERDUE_AT

EVENT_COLUMNS = f"""
    e.event_id, e.dept, d.name AS dept_name, e.source_id, e.category, c.name AS category_name, e.status,
    e.reported_at, e.dispatched_at, e.due_at, e.closed_at, {OVERDUE_AT} AS overdue,
    e.grid_small, gs.name AS grid_small_name, e.grid_medium, gm.name AS grid_medium_name,
    e.grid_large, gl.name AS grid_large_name, e.lon, e.lat, e.incident_id, e.address, e.description
"""
EVENT_JOINS = """
LEFT JOIN departments AS d ON d.code = e.dept
LEFT JOIN categories AS c ON c.code = e.category
LEFT JOIN grids AS gs ON gs.grid_code = e.grid_small
LEFT JOIN grids AS gm ON gm.grid_code = e.grid_medium
LEFT JOIN grids AS gl ON gl.grid_code = e.grid_large
"""

# The newest reports up to $as_of (the pop-ups' "new report" candidates). Parameters: $as_of, $limit.
NEWEST_REPORTS = f"""
SELECT {EVENT_COLUMNS}
FROM events AS e {EVENT_JOINS}
WHERE e.reported_at <= {AS_OF}
ORDER BY e.reported_at DESC, e.event_id
LIMIT CAST($limit AS INTEGER)
"""

# Open events whose deadline passed in ($since, $as_of]: the ones that just crossed it. Parameters: $since, $as_of,
# $limit.
JUST_OVERDUE = f"""
SELECT {EVENT_COLUMNS}
FROM events AS e {EVENT_JOINS}
WHERE {OPEN_AT} AND e.due_at > CAST($since AS TIMESTAMP) AND e.due_at <= {AS_OF}
ORDER BY e.due_at DESC, e.event_id
LIMIT CAST($limit AS INTEGER)
"""

# Events by id (those the cursor sees), at $as_of. Parameters: $ids (a list), $as_of.
EVENTS_BY_ID = f"""
SELECT {EVENT_COLUMNS}
FROM events AS e {EVENT_JOINS}
WHERE list_contains(CAST($ids AS VARCHAR[]), e.event_id)
ORDER BY e.reported_at DESC, e.event_id
"""

# The other departments' records of the same incident (linked by incident_id either way). Parameters: $event_id,
# $as_of.
LINKED_RECORDS = f"""
WITH me AS (SELECT event_id, incident_id FROM events WHERE event_id = $event_id)
SELECT {EVENT_COLUMNS}
FROM events AS e {EVENT_JOINS}, me
WHERE e.event_id <> me.event_id
  AND (e.incident_id = me.incident_id OR e.incident_id = me.event_id OR e.event_id = me.incident_id)
ORDER BY e.reported_at, e.event_id
"""

# Patrol check-ins that followed the event up (visits.event_id). Parameters: $event_id.
FOLLOW_UPS = """
SELECT v.visited_at, v.visit_type, v.worker_id, r.name AS worker_name, v.description
FROM visits AS v LEFT JOIN roster AS r ON r.worker_id = v.worker_id
WHERE v.event_id = $event_id
ORDER BY v.visited_at
"""

# Small grids with their parents' names and codes. Parameters: $codes (a list).
GRID_PLACES = """
SELECT gs.grid_code AS grid_small, gs.name AS grid_small_name, gm.grid_code AS grid_medium, gm.name AS grid_medium_name,
       gl.grid_code AS grid_large, gl.name AS grid_large_name
FROM grids AS gs
LEFT JOIN grids AS gm ON gm.grid_code = gs.parent_code
LEFT JOIN grids AS gl ON gl.grid_code = gm.parent_code
WHERE list_contains(CAST($codes AS VARCHAR[]), gs.grid_code)
ORDER BY gs.grid_code
"""

# A grid's outline geometry (WKB). Parameters: $code.
GRID_GEOMETRY = "SELECT geometry FROM grids WHERE grid_code = $code AND geometry IS NOT NULL"
