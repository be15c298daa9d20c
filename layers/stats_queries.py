"""SQL of the figures per grid (layers/stats.py), with named parameters ($start, $end, $as_of, the filter's lists).

Window totals, breakdowns, median handling time, open and overdue at as_of, event rows and grid labels.
"""

from __future__ import annotations

from layers.event_query import EVENT_CONDITION, EVENT_FILTER, GRID_KEY, OPEN_AT, OVERDUE_AT, in_window, pick
from store.rollups import EVENT_FACTS

# What a count can be broken down by: a column, or the fact's time truncated to a period.
BREAKDOWN_KEY: dict[str, str] = {
    "category": "category",
    "dept": "dept",
    "status": "status",
    "dispute_class": "dispute_class",
    "day": "date_trunc('day', t)",
    "week": "date_trunc('week', t)",  # ISO weeks, starting on Monday
    "month": "date_trunc('month', t)",
    "quarter": "date_trunc('quarter', t)",
    "year": "date_trunc('year', t)",
}
# Fact sources of the same shape (t, grid columns, dept, category, dispute_class, status, is_dispute, reported,
# closed, closed_with_due, closed_on_time, handling_hours); the definitions live in store/rollups.py.
FACT_SOURCES: dict[str, str] = {
    "raw": EVENT_FACTS,
    "rollup": "SELECT CAST(day AS TIMESTAMP) AS t, * EXCLUDE (day) FROM rollup_daily",
}

# Grids of one level with their parents' names, for labelling rows. Parameters: $level.
GRIDS_WITH_PARENTS = """
SELECT g.grid_code, g.name, g.parent_code, g.population, g.area_km2,
       p.grid_code AS parent_of_code, p.name AS parent_name, p.parent_code AS grandparent_code, gp.name AS grandparent_name
FROM grids AS g
LEFT JOIN grids AS p ON p.grid_code = g.parent_code
LEFT JOIN grids AS gp ON gp.grid_code = p.parent_code
WHERE g.level = $level
ORDER BY g.grid_code
"""
ALL_GRID_CODES = "SELECT grid_code, level, name, parent_code FROM grids"
DATA_CLOCK = "SELECT max(reported_at) FROM events"


def window_totals_sql(level: str, source: str) -> str:
    """Per grid of `level`: facts in [$start, $end) passing the filter: events reported, events closed with the
    closure measures (a fact is a report at reported_at or a closure at closed_at)."""
    grid, facts = pick(GRID_KEY, level, "level"), pick(FACT_SOURCES, source, "source")
    return f"""
SELECT {grid} AS grid_code,
       CAST(sum(reported) AS BIGINT) AS events,
       CAST(sum(closed) AS BIGINT) AS closed,
       CAST(sum(closed_with_due) AS BIGINT) AS closed_with_due,
       CAST(sum(closed_on_time) AS BIGINT) AS closed_on_time,
       sum(handling_hours) AS handling_hours_sum
FROM ({facts}) AS e
WHERE {in_window("e.t")} AND {EVENT_FILTER}
GROUP BY 1
"""


def breakdown_sql(level: str, by: str, source: str) -> str:
    """Per grid of `level` and value of `by`: events reported in [$start, $end) passing the filter."""
    grid, key = pick(GRID_KEY, level, "level"), pick(BREAKDOWN_KEY, by, "by")
    facts = pick(FACT_SOURCES, source, "source")
    return f"""
SELECT {grid} AS grid_code, {key} AS key, CAST(sum(reported) AS BIGINT) AS events
FROM ({facts}) AS e
WHERE e.reported > 0 AND {in_window("e.t")} AND {EVENT_FILTER}
GROUP BY 1, 2
"""


def median_handling_sql(level: str) -> str:
    """Per grid: median hours from report to closure of events closed in [$start, $end) (raw events only)."""
    grid = pick(GRID_KEY, level, "level")
    return f"""
SELECT {grid} AS grid_code, median(epoch(closed_at - reported_at) / 3600.0) AS median_handling_hours
FROM events AS e
WHERE e.grid_large IS NOT NULL AND e.status = 'closed' AND {in_window("e.closed_at")} AND {EVENT_FILTER}
GROUP BY 1
"""


def open_now_sql(level: str) -> str:
    """Per grid: events open at $as_of and of those overdue (OPEN_AT, OVERDUE_AT), passing the filter. Raw events."""
    grid = pick(GRID_KEY, level, "level")
    return f"""
SELECT {grid} AS grid_code,
       count(*) AS open_now,
       count(*) FILTER (WHERE {OVERDUE_AT}) AS overdue_now
FROM events AS e
WHERE e.grid_large IS NOT NULL AND {OPEN_AT} AND {EVENT_FILTER}
GROUP BY 1
"""


def event_rows_sql(grid_level: str | None) -> str:
    """Event rows reported in [$start, $end) passing the filter, inside grid $grid of `grid_level` when given, with the
    category's Chinese name, ordered by report time."""
    grid = "" if grid_level is None else f" AND {pick(GRID_KEY, grid_level, 'level')} = $grid"
    return f"""
SELECT e.event_id, e.dept, e.source_id, e.category, c.name AS category_name, e.dispute_class, e.is_dispute,
       e.status, e.reported_at, e.dispatched_at, e.closed_at, e.due_at,
       e.grid_small, e.grid_medium, e.grid_large, e.incident_id, e.lon, e.lat, e.address, e.description
FROM (SELECT * FROM events AS e WHERE {EVENT_CONDITION}{grid}) AS e
LEFT JOIN categories AS c ON c.code = e.category
ORDER BY e.reported_at, e.event_id
"""
