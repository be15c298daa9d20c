"""SQL of the grids (layers/grids.py, layers/geometry.py), with named parameters ($level, $start, $end).

Geometry per level, event counts per grid, the store's headline numbers and the grid set's identity for caching.
"""

from __future__ import annotations

from layers.event_query import in_window

# Grids of one level with their WKB geometry. Parameters: $level ('large' | 'medium' | 'small').
GRIDS_OF_LEVEL = """
SELECT grid_code, name, parent_code, population, area_km2, geometry
FROM grids
WHERE level = $level
ORDER BY grid_code
"""

# Event counts per grid of one level, zero counts included, reported in the window [$start, $end) (NULL = open).
# The level picks the events column (grid_large / grid_medium / grid_small) through a CASE on the bound value, so no
# column name is ever formatted in. Parameters: $level, $start, $end.
EVENT_COUNTS_BY_GRID = f"""
WITH counted AS (
    SELECT
        CASE CAST($level AS VARCHAR)
            WHEN 'large' THEN e.grid_large
            WHEN 'medium' THEN e.grid_medium
            WHEN 'small' THEN e.grid_small
        END AS grid_code,
        count(*) AS event_count
    FROM events AS e
    WHERE {in_window("e.reported_at")}
    GROUP BY 1
)
SELECT g.grid_code, coalesce(c.event_count, 0)::BIGINT AS event_count
FROM grids AS g
LEFT JOIN counted AS c ON c.grid_code = g.grid_code
WHERE g.level = $level
ORDER BY g.grid_code
"""

# Which of the store's core tables (and meta) exist (a file that is not a Minqing store has none).
STORE_TABLES = """
SELECT table_name
FROM information_schema.tables
WHERE table_schema = 'main' AND table_name IN ('grids', 'events', 'load_batches', 'meta')
"""

# Headline numbers of the store: events, grids per level, last finished load.
EVENT_TOTAL = "SELECT count(*) FROM events"
GRID_COUNTS_BY_LEVEL = "SELECT level, count(*) FROM grids WHERE level IS NOT NULL GROUP BY level"
LAST_LOAD_FINISHED = "SELECT max(finished_at) FROM load_batches"

# The grid set's identity for caching prepared geometry: the database file, and for one level the number of grids,
# the highest boundary version and a hash of every code, name and geometry. Parameters: $level.
DATABASE_PATH = "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
GRID_LEVEL_SIGNATURE = """
SELECT count(*) AS n, max(version) AS version, bit_xor(hash(grid_code, name, geometry)) AS content_hash
FROM grids
WHERE level = $level
"""

CITY_NAME = "SELECT value FROM meta WHERE key = 'city'"
