"""SQL of the dispute trends (layers/trends.py): incidents of a scope per period and class, and per grid per month.

A scope is every incident whose home report has a grid of the level (`city`: every located one) or one grid of it
($grid); the period unit, the level's grid column and the time column come from the whitelists below; the grid code,
the window ($start, $end) and the filter's lists are always bound.
"""

from __future__ import annotations

from layers.disputes_queries import UNCLASSIFIED_SQL, incidents_source
from layers.event_query import GRID_KEY, EventFilter, in_window, pick

TREND_PERIODS: dict[str, str] = {"month": "month", "year": "year"}  # period -> date_trunc unit
INCIDENT_TIMES: dict[str, str] = {  # what a dispute figure counts -> the incident's time column
    "disputes_received": "first_reported_at",
    "disputes_resolved": "first_closed_at",
}
DATA_YEARS = "SELECT year(min(reported_at)), year(max(reported_at)) FROM events"


def trend_disputes_sql(level: str, source: str, where: EventFilter, period: str, one_grid: bool) -> str:
    """Per period and dispute class of the scope: incidents received (first report) and resolved (first closure)
    in [$start, $end); a missing class is '未分类'. With `one_grid` the scope is the grid $grid."""
    grid, unit = pick(GRID_KEY, level, "level"), pick(TREND_PERIODS, period, "period")
    scope = "= $grid" if one_grid else "IS NOT NULL"
    return f"""
WITH incidents AS ({incidents_source(source, where)}),
scoped AS (
    SELECT first_reported_at, first_closed_at, coalesce(dispute_class, {UNCLASSIFIED_SQL}) AS dispute_class
    FROM incidents
    WHERE {grid} {scope}
)
SELECT period, dispute_class, CAST(sum(received) AS BIGINT) AS received, CAST(sum(resolved) AS BIGINT) AS resolved
FROM (
    SELECT date_trunc('{unit}', first_reported_at) AS period, dispute_class, 1 AS received, 0 AS resolved
    FROM scoped
    WHERE {in_window("first_reported_at")}
    UNION ALL
    SELECT date_trunc('{unit}', first_closed_at), dispute_class, 0, 1
    FROM scoped
    WHERE {in_window("first_closed_at")}
)
GROUP BY 1, 2
"""


def grid_month_disputes_sql(level: str, source: str, where: EventFilter, figure: str) -> str:
    """Per home grid of `level` and month: dispute incidents received (or resolved) in [$start, $end)."""
    grid, column = pick(GRID_KEY, level, "level"), pick(INCIDENT_TIMES, figure, "figure")
    return f"""
SELECT {grid} AS grid_code, date_trunc('month', {column}) AS month, CAST(count(*) AS BIGINT) AS value
FROM ({incidents_source(source, where)})
WHERE {in_window(column)} AND {grid} IS NOT NULL
GROUP BY 1, 2
"""
