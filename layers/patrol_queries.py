"""Named SQL over the grid people (roster, roster_grids) and patrol check-ins (visits); inputs are bound parameters.

Column names and level keys are picked from the constants below by a checked level, never formatted from input.
Times: $as_of is the moment of the figures; the 7- and 30-day windows are (as_of - N days, as_of].
"""

from __future__ import annotations

# The visit / roster column that names a unit of each level (city: one unit).
LEVEL_KEYS: dict[str, str] = {"large": "grid_large", "medium": "grid_medium", "small": "grid_small", "city": "'city'"}
# The units of each level: their code, name and population.
_UNITS = {
    "city": "SELECT 'city' AS grid_code, '全市' AS name, CAST(sum(population) AS BIGINT) AS population "
            "FROM grids WHERE level = 'small'",
    "grid": "SELECT grid_code, name, population FROM grids WHERE level = $level",
}
WORKER_ROLES = ("grid_leader", "grid_worker")  # counted as workers; household heads (联户长) are volunteers

# Tables a store needs for the patrol figures (a store made before them has none).
PATROL_TABLES = """
SELECT count(*) FROM duckdb_tables()
WHERE schema_name = 'main' AND table_name IN ('roster', 'roster_grids', 'visits')
"""
PATROL_ROWS = "SELECT EXISTS (SELECT 1 FROM roster) OR EXISTS (SELECT 1 FROM visits)"
FIRST_VISIT = "SELECT min(visited_at) FROM visits WHERE visited_at <= $as_of"


def patrol_by_unit_sql(level: str) -> str:
    """Patrol figures per unit of `level` (large | medium | small | city), zero rows included.

    Parameters: $level, $as_of, $week_start, $month_start, $neglect_start, $data_start.
    """
    key = LEVEL_KEYS[level]
    units = _UNITS["city" if level == "city" else "grid"]
    return f"""
WITH small AS (
    SELECT s.grid_code AS grid_small, s.parent_code AS grid_medium, m.parent_code AS grid_large
    FROM grids s LEFT JOIN grids m ON m.grid_code = s.parent_code
    WHERE s.level = 'small'
), last_visit AS (
    SELECT grid_small, max(visited_at) AS last_visit_at
    FROM visits WHERE grid_small IS NOT NULL AND visited_at <= $as_of
    GROUP BY grid_small
), smalls AS (
    SELECT {key} AS grid_code,
           count(*) AS small_grids,
           count(*) FILTER (WHERE l.last_visit_at > $week_start) AS visited_small_7d,
           count(*) FILTER (WHERE l.last_visit_at IS NULL OR l.last_visit_at <= $neglect_start) AS neglected_small,
           max(l.last_visit_at) AS last_visit_at,
           min(coalesce(l.last_visit_at, $data_start)) AS oldest_last_visit
    FROM small LEFT JOIN last_visit l USING (grid_small)
    GROUP BY 1
), recent AS (
    SELECT {key} AS grid_code,
           count(*) FILTER (WHERE visited_at > $week_start) AS visits_7d,
           count(*) AS visits_30d,
           count(DISTINCT event_id) FILTER (WHERE visit_type = 'follow_up' AND event_id IS NOT NULL) AS followed_up_30d
    FROM visits
    WHERE grid_large IS NOT NULL AND visited_at > $month_start AND visited_at <= $as_of
    GROUP BY 1
), people AS (
    SELECT {key} AS grid_code,
           count(DISTINCT worker_id) FILTER (WHERE r.role IN {WORKER_ROLES}) AS workers,
           count(DISTINCT worker_id) FILTER (WHERE r.role = 'household_head') AS household_heads
    FROM roster_grids rg JOIN roster r USING (worker_id)
    WHERE (r.start_date IS NULL OR r.start_date <= $as_of) AND (r.end_date IS NULL OR r.end_date > $as_of)
      AND rg.grid_large IS NOT NULL
    GROUP BY 1
)
SELECT u.grid_code, u.name, u.population,
       coalesce(s.small_grids, 0)::BIGINT AS small_grids,
       coalesce(s.visited_small_7d, 0)::BIGINT AS visited_small_7d,
       coalesce(s.neglected_small, 0)::BIGINT AS neglected_small,
       s.last_visit_at, s.oldest_last_visit,
       coalesce(v.visits_7d, 0)::BIGINT AS visits_7d,
       coalesce(v.visits_30d, 0)::BIGINT AS visits_30d,
       coalesce(v.followed_up_30d, 0)::BIGINT AS followed_up_30d,
       coalesce(p.workers, 0)::BIGINT AS workers,
       coalesce(p.household_heads, 0)::BIGINT AS household_heads
FROM ({units}) AS u
LEFT JOIN smalls AS s USING (grid_code)
LEFT JOIN recent AS v USING (grid_code)
LEFT JOIN people AS p USING (grid_code)
ORDER BY u.grid_code
"""


# The people looking after a grid: those of the grid, of any grid inside it and of the grids above it (the leader
# of a small grid's village looks after it too), with their latest check-in and 30-day visits.
# Parameters: $code, $as_of, $month_start.
GRID_PEOPLE = f"""
WITH above AS (
    SELECT parent_code AS grid_code FROM grids WHERE grid_code = $code AND parent_code IS NOT NULL
    UNION
    SELECT p.parent_code FROM grids g JOIN grids p ON p.grid_code = g.parent_code
    WHERE g.grid_code = $code AND p.parent_code IS NOT NULL
), mine AS (
    SELECT DISTINCT worker_id FROM roster_grids
    WHERE $code IN (grid_code, grid_small, grid_medium, grid_large) OR grid_code IN (SELECT grid_code FROM above)
), grid_names AS (
    SELECT rg.worker_id, string_agg(coalesce(g.name, rg.grid_code), '、' ORDER BY rg.seq) AS grid_names
    FROM roster_grids rg LEFT JOIN grids g ON g.grid_code = rg.grid_code
    WHERE rg.worker_id IN (SELECT worker_id FROM mine)
    GROUP BY rg.worker_id
), checkins AS (
    SELECT worker_id, max(visited_at) AS last_check_in,
           count(*) FILTER (WHERE visited_at > $month_start) AS visits_30d
    FROM visits
    WHERE worker_id IN (SELECT worker_id FROM mine) AND visited_at <= $as_of
    GROUP BY worker_id
)
SELECT r.worker_id, r.role, r.name, r.phone, r.households, r.start_date, r.end_date, n.grid_names,
       (r.start_date IS NULL OR r.start_date <= $as_of) AND (r.end_date IS NULL OR r.end_date > $as_of) AS in_post,
       c.last_check_in, coalesce(c.visits_30d, 0)::BIGINT AS visits_30d
FROM roster r JOIN mine USING (worker_id)
LEFT JOIN grid_names n USING (worker_id)
LEFT JOIN checkins c USING (worker_id)
ORDER BY NOT in_post, CASE r.role WHEN 'grid_leader' THEN 0 WHEN 'grid_worker' THEN 1 ELSE 2 END, r.worker_id
"""

# Check-ins in a grid (at its level) within [$start, $end), newest first, one page. Parameters: $code, $start,
# $end, $limit, $offset. The count query takes the same but $limit/$offset.
_VISITS_IN_GRID = """
FROM visits v LEFT JOIN roster r USING (worker_id)
WHERE $code IN (v.grid_small, v.grid_medium, v.grid_large)
  AND ($start IS NULL OR v.visited_at >= $start) AND ($end IS NULL OR v.visited_at < $end)
"""
GRID_VISITS = f"""
SELECT v.visit_id, v.visited_at, v.visit_type, v.worker_id, r.name AS worker_name, r.role AS worker_role,
       v.event_id, v.off_beat, v.beat_km, v.grid_small, v.address, v.description
{_VISITS_IN_GRID}
ORDER BY v.visited_at DESC, v.visit_id
LIMIT $limit OFFSET $offset
"""
GRID_VISITS_COUNT = f"SELECT count(*) {_VISITS_IN_GRID}"

# The newest check-ins up to $as_of (the live feed), with the worker and the grid's names. Parameters: $as_of,
# $limit.
LATEST_VISITS = """
SELECT v.visit_id, v.visited_at, v.visit_type, v.worker_id, r.name AS worker_name, r.role AS worker_role,
       v.event_id, v.off_beat, gl.name AS grid_large_name, gm.name AS grid_medium_name, gs.name AS grid_small_name
FROM (SELECT * FROM visits WHERE visited_at <= $as_of ORDER BY visited_at DESC, visit_id LIMIT $limit) v
LEFT JOIN roster r USING (worker_id)
LEFT JOIN grids gl ON gl.grid_code = v.grid_large
LEFT JOIN grids gm ON gm.grid_code = v.grid_medium
LEFT JOIN grids gs ON gs.grid_code = v.grid_small
ORDER BY v.visited_at DESC, v.visit_id
"""


def monthly_activity_sql(level: str | None) -> str:
    """Check-ins and located event reports per month in [$start, $end), for the city (level None) or the grid
    $code of `level`. Parameters: $start, $end (and $code)."""
    where = "grid_large IS NOT NULL" if level is None else f"{LEVEL_KEYS[level]} = $code"
    return f"""
WITH v AS (
    SELECT date_trunc('month', visited_at) AS month, count(*) AS visits,
           count(*) FILTER (WHERE visit_type = 'household') AS household_visits,
           count(*) FILTER (WHERE visit_type = 'patrol') AS patrols,
           count(*) FILTER (WHERE visit_type = 'follow_up') AS follow_ups
    FROM visits WHERE {where} AND visited_at >= $start AND visited_at < $end
    GROUP BY 1
), e AS (
    SELECT date_trunc('month', reported_at) AS month, count(*) AS events
    FROM events WHERE {where} AND reported_at >= $start AND reported_at < $end
    GROUP BY 1
)
SELECT month, coalesce(e.events, 0)::BIGINT AS events, coalesce(v.visits, 0)::BIGINT AS visits,
       coalesce(v.household_visits, 0)::BIGINT AS household_visits, coalesce(v.patrols, 0)::BIGINT AS patrols,
       coalesce(v.follow_ups, 0)::BIGINT AS follow_ups
FROM v FULL OUTER JOIN e USING (month)
ORDER BY month
"""
