"""Pre-aggregated tables (rollups) rebuilt from `events` in one transaction after each load.

The analytics in `layers/` read these when they give the same answer as the raw events, and the raw
events otherwise (see docs/analytics.md). Definitions shared with the raw path live here, once:

- `EVENT_FACTS`: every located event as a "reported" fact at `reported_at` and, when closed, a
  "closed" fact at `closed_at`, with the closure measures. `rollup_daily` is its daily sum.
- `INCIDENTS`: dispute incidents from the relation `dispute_reports` (dispute reports located in a
  grid). An incident is resolved when one of its reports is closed; its year is that of the earliest
  `closed_at`; its home report (grid and class) is the report that closed first, or, while nothing is
  closed, the report that came in first. Ties go to the smaller `event_id`.

Tables (columns are added, never renamed):

rollup_daily: day DATE, grid_small, grid_medium, grid_large, dept, category, dispute_class, status,
    is_dispute, reported BIGINT (events reported that day), closed BIGINT (events closed that day),
    closed_with_due, closed_on_time (closed_at <= due_at), handling_hours DOUBLE (sum over the closed).
    `status` is the event's current status, on both its reported and its closed rows.
rollup_incidents: incident_id, reports, first_reported_at, first_closed_at (NULL while unresolved),
    home_event_id, grid_small, grid_medium, grid_large, dispute_class, dept, category (of the home report).
rollup_disputes_yearly: year, grid_small, grid_medium, grid_large, dispute_class, received (incidents
    first reported in the year), resolved (incidents first closed in the year).

`meta.rollup_signature` records the events the rollups were built from; `rollup_state` compares it with
the store so readers fall back to raw events when a load skipped the refresh.
"""

from __future__ import annotations

import duckdb

from store.transaction import transaction

ROLLUP_TABLES: tuple[str, ...] = ("rollup_daily", "rollup_incidents", "rollup_disputes_yearly")
SIGNATURE_KEY = "rollup_signature"

# Dispute reports that count in the dispute statistics: a dispute category, located in a grid.
DISPUTE_REPORTS = "SELECT * FROM events WHERE is_dispute AND grid_large IS NOT NULL"

# Located events as facts: reported at reported_at, and closed at closed_at with the closure measures.
EVENT_FACTS = """
SELECT reported_at AS t, grid_small, grid_medium, grid_large, dept, category, dispute_class, status, is_dispute,
       1 AS reported, 0 AS closed, 0 AS closed_with_due, 0 AS closed_on_time, 0.0 AS handling_hours
FROM events
WHERE grid_large IS NOT NULL
UNION ALL
SELECT closed_at AS t, grid_small, grid_medium, grid_large, dept, category, dispute_class, status, is_dispute,
       0, 1, CAST(due_at IS NOT NULL AS INTEGER), CAST(coalesce(closed_at <= due_at, FALSE) AS INTEGER),
       epoch(closed_at - reported_at) / 3600.0
FROM events
WHERE status = 'closed' AND closed_at IS NOT NULL AND grid_large IS NOT NULL
"""

# One row per dispute incident, from the relation `dispute_reports` (see the module docstring).
INCIDENTS = """
SELECT incident_id, reports, first_reported_at, first_closed_at,
       home.event_id AS home_event_id, home.grid_small, home.grid_medium, home.grid_large,
       home.dispute_class, home.dept, home.category
FROM (
    SELECT incident_id,
           count(*) AS reports,
           min(reported_at) AS first_reported_at,
           min(closed_at) FILTER (WHERE status = 'closed') AS first_closed_at,
           arg_min(
               struct_pack(event_id, grid_small, grid_medium, grid_large, dispute_class, dept, category),
               struct_pack(
                   open := status <> 'closed',
                   t := CASE WHEN status = 'closed' THEN closed_at ELSE reported_at END,
                   r := reported_at,
                   id := event_id)
           ) AS home
    FROM dispute_reports
    GROUP BY incident_id
)
"""

_BUILD_DAILY = f"""
CREATE OR REPLACE TABLE rollup_daily AS
SELECT CAST(t AS DATE) AS day, grid_small, grid_medium, grid_large, dept, category, dispute_class, status,
       is_dispute,
       CAST(sum(reported) AS BIGINT) AS reported, CAST(sum(closed) AS BIGINT) AS closed,
       CAST(sum(closed_with_due) AS BIGINT) AS closed_with_due,
       CAST(sum(closed_on_time) AS BIGINT) AS closed_on_time,
       sum(handling_hours) AS handling_hours
FROM ({EVENT_FACTS})
GROUP BY ALL
"""
_BUILD_INCIDENTS = f"""
CREATE OR REPLACE TABLE rollup_incidents AS
WITH dispute_reports AS ({DISPUTE_REPORTS})
{INCIDENTS}
"""
_BUILD_YEARLY = """
CREATE OR REPLACE TABLE rollup_disputes_yearly AS
SELECT year, grid_small, grid_medium, grid_large, dispute_class,
       CAST(sum(received) AS BIGINT) AS received, CAST(sum(resolved) AS BIGINT) AS resolved
FROM (
    SELECT year(first_reported_at) AS year, grid_small, grid_medium, grid_large, dispute_class,
           1 AS received, 0 AS resolved
    FROM rollup_incidents
    UNION ALL
    SELECT year(first_closed_at), grid_small, grid_medium, grid_large, dispute_class, 0, 1
    FROM rollup_incidents
    WHERE first_closed_at IS NOT NULL
)
GROUP BY ALL
"""
# What the rollups were built from: a load that adds or changes rows moves one of these.
_SIGNATURE = """
SELECT count(*) || ':' || coalesce(max(batch_id), 0) || ':' || coalesce(max(updated_batch), 0) FROM events
"""
_STORED_SIGNATURE = "SELECT value FROM meta WHERE key = ?"
_TABLES_PRESENT = """
SELECT count(*) FROM information_schema.tables
WHERE table_schema = 'main' AND table_name IN ('rollup_daily', 'rollup_incidents', 'rollup_disputes_yearly', 'meta')
"""


def store_signature(con: duckdb.DuckDBPyConnection) -> str:
    """A short text that changes whenever a load adds or updates events."""
    return str(con.execute(_SIGNATURE).fetchall()[0][0])


def rollup_state(con: duckdb.DuckDBPyConnection) -> str:
    """`fresh` (rollups match the events), `stale` (a load came after the last refresh) or `missing`."""
    present = con.execute(_TABLES_PRESENT).fetchall()[0][0]
    if present < len(ROLLUP_TABLES) + 1:
        return "missing"
    stored = con.execute(_STORED_SIGNATURE, [SIGNATURE_KEY]).fetchall()
    if not stored:
        return "missing"
    return "fresh" if stored[0][0] == store_signature(con) else "stale"


def refresh_rollups(con: duckdb.DuckDBPyConnection, *, force: bool = False) -> bool:
    """Rebuild every rollup table in one transaction; skipped (False) when they already match the events."""
    if not force and rollup_state(con) == "fresh":
        return False
    con.execute("SET preserve_insertion_order = false")  # CREATE TABLE AS needs no order; much faster
    try:
        with transaction(con):
            con.execute(_BUILD_DAILY)
            con.execute(_BUILD_INCIDENTS)
            con.execute(_BUILD_YEARLY)
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [SIGNATURE_KEY, store_signature(con)])
    finally:
        con.execute("RESET preserve_insertion_order")
    return True
