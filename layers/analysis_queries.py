"""SQL of the analysis (layers/warnings.py, hotspots.py, repeats.py), with named parameters.

Counts are of distinct incidents (`incident_id`: two departments' reports of one case count once) of located events
(a grid at the level) passing the filter. Weeks are counted back from $as_of: bucket 0 is [as_of − 7 days, as_of),
bucket k is the k-th 7-day span before it. Parameters: $as_of, $weeks (how many buckets), the filter's lists, and per
query $days, $since, $radius_deg.
"""

from __future__ import annotations

from layers.event_query import AS_OF, EVENT_FILTER, GRID_KEY, pick

# What a warning counts by: the category or the department.
SERIES_KEY: dict[str, str] = {"category": "e.category", "dept": "e.dept"}
WEEK_SECONDS = 7 * 86_400

_BUCKET = f"CAST(floor(epoch({AS_OF} - e.reported_at) / {WEEK_SECONDS}) AS INTEGER)"
_HORIZON = f"e.reported_at < {AS_OF} AND e.reported_at > {AS_OF} - to_days(CAST($weeks * 7 AS INTEGER))"


def _series_rows(level: str, by: str) -> str:
    """Located reports of the last $weeks weeks passing the filter, in a grid of `level` that the grids table knows:
    grid_code, key, bucket, incident_id. Parameters: $as_of, $weeks, $level, the filter's lists."""
    grid, key = pick(GRID_KEY, level, "level"), pick(SERIES_KEY, by, "by")
    return f"""
SELECT {grid} AS grid_code, {key} AS key, {_BUCKET} AS bucket, e.incident_id
FROM events AS e
WHERE {grid} IS NOT NULL AND {key} IS NOT NULL AND {_HORIZON} AND {EVENT_FILTER}
  AND {grid} IN (SELECT g.grid_code FROM grids AS g WHERE g.level = $level)
"""


def weekly_series_sql(level: str, by: str) -> str:
    """Per grid of `level`, key (category or department) and week bucket 0 .. $weeks − 1: distinct incidents.
    Sparse: only cells with incidents."""
    return f"""
SELECT grid_code, key, bucket, count(DISTINCT incident_id) AS n
FROM ({_series_rows(level, by)}) AS r
GROUP BY 1, 2, 3
"""


def city_weeks_sql(level: str, by: str) -> str:
    """Per key and week bucket in the list $buckets: the sum over the grids of their distinct incidents (an incident
    reported in two grids counts in both, as when the grids' cells are added up)."""
    return f"""
SELECT key, bucket, count(DISTINCT (grid_code, incident_id)) AS n
FROM ({_series_rows(level, by)}) AS r
WHERE list_contains(CAST($buckets AS INTEGER[]), bucket)
GROUP BY 1, 2
"""


def grid_key_sql(level: str, by: str) -> str:
    """Per grid and key: the sum over week buckets 1 .. $share_weeks of the distinct incidents of each week."""
    return f"""
SELECT grid_code, key, count(DISTINCT (bucket, incident_id)) AS n
FROM ({_series_rows(level, by)}) AS r
WHERE bucket BETWEEN 1 AND CAST($share_weeks AS INTEGER)
GROUP BY 1, 2
"""


def recent_cells_sql(level: str, by: str) -> str:
    """Per grid, key and week bucket 0 .. $recent_weeks: distinct incidents (the window and the recent weeks)."""
    return f"""
SELECT grid_code, key, bucket, count(DISTINCT incident_id) AS n
FROM ({_series_rows(level, by)}) AS r
WHERE bucket <= CAST($recent_weeks AS INTEGER)
GROUP BY 1, 2, 3
"""


def recent_days_sql(level: str, by: str) -> str:
    """Per grid and key: distinct incidents reported in [as_of − $days days, as_of)."""
    grid, key = pick(GRID_KEY, level, "level"), pick(SERIES_KEY, by, "by")
    return f"""
SELECT {grid} AS grid_code, {key} AS key, count(DISTINCT e.incident_id) AS n
FROM events AS e
WHERE {grid} IS NOT NULL AND e.reported_at < {AS_OF} AND e.reported_at >= {AS_OF} - to_days(CAST($days AS INTEGER))
  AND {EVENT_FILTER}
GROUP BY 1, 2
"""


def grid_weeks_sql(level: str) -> str:
    """Per grid of `level` and week bucket 0 .. $weeks − 1 counted back from $weeks_end (bucket 0 = the 7 days
    before it): distinct incidents reported before $as_of (for hotspots over time: the weeks end at a midnight, the
    data at as_of)."""
    grid = pick(GRID_KEY, level, "level")
    end = "CAST($weeks_end AS TIMESTAMP)"
    return f"""
SELECT {grid} AS grid_code, CAST(floor(epoch({end} - e.reported_at) / {WEEK_SECONDS}) AS INTEGER) AS bucket,
       count(DISTINCT e.incident_id) AS n
FROM events AS e
WHERE {grid} IS NOT NULL AND e.reported_at < {AS_OF} AND e.reported_at > {end} - to_days(CAST($weeks * 7 AS INTEGER))
  AND {EVENT_FILTER}
GROUP BY 1, 2
"""


def grid_window_sql(level: str) -> str:
    """Per grid of `level`: distinct incidents reported in [$start, $end) (hotspots of a window)."""
    grid = pick(GRID_KEY, level, "level")
    return f"""
SELECT {grid} AS grid_code, count(DISTINCT e.incident_id) AS n
FROM events AS e
WHERE {grid} IS NOT NULL AND e.reported_at >= CAST($start AS TIMESTAMP) AND e.reported_at < CAST($end AS TIMESTAMP)
  AND {EVENT_FILTER}
GROUP BY 1
"""


# Dispute reports with a point in [$since, as_of): the candidates of repeat places. Parameters: $since, $as_of.
DISPUTE_POINTS = f"""
SELECT e.event_id, e.incident_id, e.reported_at, e.lon, e.lat, e.address, e.grid_small, e.grid_medium, e.grid_large,
       e.category, e.dept
FROM events AS e
WHERE e.is_dispute AND e.grid_large IS NOT NULL AND e.reported_at >= CAST($since AS TIMESTAMP)
  AND e.reported_at < {AS_OF}
ORDER BY e.reported_at, e.event_id
"""

# People named by records of [$since, as_of) with an ID number, keyed by a hash of it (the number itself never leaves
# the database). Parameters: $since, $as_of.
PERSON_RECORDS = f"""
SELECT sha256(p.id_number) AS person_key, p.id_number, p.name, p.role, e.event_id, e.incident_id, e.dept,
       e.reported_at, e.category, e.grid_small, e.grid_medium, e.grid_large
FROM persons AS p
JOIN events AS e ON e.event_id = p.event_id
WHERE p.id_number IS NOT NULL AND length(p.id_number) >= 15 AND e.grid_large IS NOT NULL
  AND e.reported_at >= CAST($since AS TIMESTAMP) AND e.reported_at < {AS_OF}
"""

HAS_PERSONS = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'persons' AND schema_name = 'main'"
DATA_START = "SELECT min(reported_at) FROM events"
