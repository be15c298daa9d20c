"""Named SQL queries over the Minqing store; every input is a bound parameter, never formatted in."""

from __future__ import annotations

# Grids of one level with their WKB geometry.
# Parameters: $level ('large' | 'medium' | 'small').
GRIDS_OF_LEVEL = """
SELECT grid_code, name, parent_code, population, area_km2, geometry
FROM grids
WHERE level = $level
ORDER BY grid_code
"""

# Event counts per grid of one level, zero counts included, optionally within [start, end)
# on events.reported_at. The level picks the events column (grid_large / grid_medium /
# grid_small) through a CASE on the bound value, so no column name is ever formatted in.
# Parameters: $level, $start (TIMESTAMP or NULL = open), $end (TIMESTAMP or NULL = open).
EVENT_COUNTS_BY_GRID = """
WITH counted AS (
    SELECT
        CASE CAST($level AS VARCHAR)
            WHEN 'large' THEN grid_large
            WHEN 'medium' THEN grid_medium
            WHEN 'small' THEN grid_small
        END AS grid_code,
        count(*) AS event_count
    FROM events
    WHERE (CAST($start AS TIMESTAMP) IS NULL OR reported_at >= CAST($start AS TIMESTAMP))
      AND (CAST($end AS TIMESTAMP) IS NULL OR reported_at < CAST($end AS TIMESTAMP))
    GROUP BY 1
)
SELECT g.grid_code, coalesce(c.event_count, 0)::BIGINT AS event_count
FROM grids AS g
LEFT JOIN counted AS c ON c.grid_code = g.grid_code
WHERE g.level = $level
ORDER BY g.grid_code
"""

# Which of the store's core tables exist (a file that is not a Minqing store has none).
STORE_TABLES = """
SELECT table_name
FROM information_schema.tables
WHERE table_schema = 'main' AND table_name IN ('grids', 'events', 'load_batches')
"""

# Headline numbers of the store: events, grids per level, last finished load.
EVENT_TOTAL = "SELECT count(*) FROM events"
GRID_COUNTS_BY_LEVEL = "SELECT level, count(*) FROM grids GROUP BY level"
LAST_LOAD_FINISHED = "SELECT max(finished_at) FROM load_batches"
