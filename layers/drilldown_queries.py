"""SQL of one grid up close (layers/drilldown.py): its family, search, event history, category mix and timeline.

The grid's level picks the events column through GRID_KEY ('city' matches every located event); the grid code
($code), the window ($start, $end), the sidebar's filter ($depts, ...) and the page's own ($also_depts, ...), the
search text ($search), $as_of, the page ($limit, $offset) are always bound parameters.
"""

from __future__ import annotations

from layers.disputes_queries import incidents_source
from layers.event_query import EVENT_CONDITION, GRID_KEY, OVERDUE_AT, EventFilter, in_window, passes_filter, pick
from layers.stats_queries import BREAKDOWN_KEY

# One grid with its parent and grandparent, and how many grids it has below it. Parameters: $code.
DRILL_GRID = """
SELECT g.grid_code, g.name, g.level, g.population, g.area_km2,
       g.parent_code, p.name AS parent_name, p.parent_code AS grandparent_code, gp.name AS grandparent_name,
       (SELECT count(*) FROM grids AS c WHERE c.parent_code = g.grid_code) AS children
FROM grids AS g
LEFT JOIN grids AS p ON p.grid_code = g.parent_code
LEFT JOIN grids AS gp ON gp.grid_code = p.parent_code
WHERE g.grid_code = $code
"""

# The grids one level below $code ('city': the large grids), in code order. Parameters: $code.
DRILL_CHILDREN = """
SELECT grid_code, name
FROM grids
WHERE (CAST($code AS VARCHAR) = 'city' AND level = 'large') OR parent_code = $code
ORDER BY grid_code
"""

# The same grids with their WKB geometry (for the drill-down map). Parameters: $code.
DRILL_CHILD_GEOMETRY = """
SELECT grid_code, name, parent_code, population, area_km2, geometry
FROM grids
WHERE (CAST($code AS VARCHAR) = 'city' AND level = 'large') OR parent_code = $code
ORDER BY grid_code
"""

# Grids whose code, or whose path of names without separators (大网格 中网格 小网格), contains $text
# (case-insensitive): exact name or code first, then large before medium before small, then code.
# `matches` is the number of matches before the limit. Parameters: $text, $limit.
DRILL_GRID_SEARCH = """
WITH paths AS (
    SELECT g.grid_code, g.name, g.level, p.name AS parent_name, gp.name AS grandparent_name,
           concat_ws('', gp.name, p.name, g.name) AS path
    FROM grids AS g
    LEFT JOIN grids AS p ON p.grid_code = g.parent_code
    LEFT JOIN grids AS gp ON gp.grid_code = p.parent_code
)
SELECT grid_code, name, level, parent_name, grandparent_name, count(*) OVER () AS matches
FROM paths
WHERE contains(lower(path), lower(CAST($text AS VARCHAR))) OR contains(lower(grid_code), lower(CAST($text AS VARCHAR)))
ORDER BY (name = $text OR grid_code = $text) DESC,
         CASE level WHEN 'large' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END,
         grid_code
LIMIT CAST($limit AS INTEGER)
"""

# Sortable columns of the event history (drill_history_sql picks the expression by key).
DRILL_HISTORY_SORT: dict[str, str] = {
    "reported_at": "e.reported_at",
    "dispatched_at": "e.dispatched_at",
    "closed_at": "e.closed_at",
    "due_at": "e.due_at",
    "status": "e.status",
    "category": "c.name",
    "dept": "e.dept",
    "event_id": "e.event_id",
}


def _grid_events(level: str) -> str:
    """Events of the grid $code reported in [$start, $end) that pass the sidebar's filter."""
    grid = pick(GRID_KEY, level, "level")
    return f"SELECT * FROM events AS e WHERE {EVENT_CONDITION} AND {grid} = $code"


def _drill_events(level: str) -> str:
    """The grid's events that also pass the page's own filter ($also_...) and contain $search in their description,
    address or id (an empty text matches everything)."""
    return f"""
SELECT * FROM ({_grid_events(level)}) AS e
WHERE {passes_filter("also_")}
  AND (CAST($search AS VARCHAR) = ''
       OR contains(lower(coalesce(e.description, '')), lower(CAST($search AS VARCHAR)))
       OR contains(lower(coalesce(e.address, '')), lower(CAST($search AS VARCHAR)))
       OR contains(lower(e.event_id), lower(CAST($search AS VARCHAR))))
"""


def drill_history_count_sql(level: str) -> str:
    """How many events the history has."""
    return f"SELECT count(*) FROM ({_drill_events(level)})"


def drill_history_sql(level: str, sort: str, descending: bool) -> str:
    """One page ($limit, $offset) of the history, with names, whether each event is overdue at $as_of (OVERDUE_AT)
    and whether it was closed after its due time. Ties sort by event_id."""
    order = f"{pick(DRILL_HISTORY_SORT, sort, 'sort')} {'DESC' if descending else 'ASC'} NULLS LAST"
    return f"""
SELECT e.event_id, e.reported_at, e.dispatched_at, e.closed_at, e.due_at, e.status,
       e.category, c.name AS category_name, e.dept, d.name AS dept_name,
       {OVERDUE_AT} AS overdue,
       coalesce(e.status = 'closed' AND e.closed_at > e.due_at, FALSE) AS closed_late,
       e.grid_small, gs.name AS grid_small_name, e.address, e.description
FROM ({_drill_events(level)}) AS e
LEFT JOIN categories AS c ON c.code = e.category
LEFT JOIN departments AS d ON d.code = e.dept
LEFT JOIN grids AS gs ON gs.grid_code = e.grid_small
ORDER BY {order}, e.event_id
LIMIT $limit OFFSET $offset
"""


def drill_category_sql(level: str) -> str:
    """Events of the grid per category, most first."""
    return f"""
SELECT e.category, coalesce(c.name, e.category) AS category_name, c.domain, count(*) AS events
FROM ({_grid_events(level)}) AS e
LEFT JOIN categories AS c ON c.code = e.category
GROUP BY ALL
ORDER BY events DESC, e.category
"""


def drill_timeline_sql(level: str, period: str, source: str, where: EventFilter) -> str:
    """Per period of the grid: events reported, and dispute incidents first reported with their home report in the
    grid (the incident rule of docs/analytics.md; the filter selects the reports). `source` 'rollup' reads
    rollup_incidents (only without a filter)."""
    grid = pick(GRID_KEY, level, "level")
    key = pick(BREAKDOWN_KEY, period, "period")
    return f"""
WITH reported AS (
    SELECT {key} AS period, count(*) AS events
    FROM (SELECT e.reported_at AS t, * FROM ({_grid_events(level)}) AS e)
    GROUP BY 1
), disputes AS (
    SELECT {key} AS period, count(*) AS disputes
    FROM (SELECT first_reported_at AS t, * FROM ({incidents_source(source, where)}))
    WHERE {in_window("t")} AND {grid} = $code
    GROUP BY 1
)
SELECT CAST(coalesce(r.period, d.period) AS TIMESTAMP) AS period,
       coalesce(r.events, 0)::BIGINT AS events, coalesce(d.disputes, 0)::BIGINT AS disputes
FROM reported AS r
FULL JOIN disputes AS d ON d.period = r.period
ORDER BY 1
"""
