"""SQL of the dispute incidents (layers/disputes.py; the dispute figures of stats, trends and drilldown).

The incidents of the filtered dispute reports, per grid in a window and per year. The incident rule itself
(DISPUTE_REPORTS, INCIDENTS) lives once in store/rollups.py. Parameters are named: $start, $end, the filter's lists,
$year_from, $year_to.
"""

from __future__ import annotations

from layers.event_query import EVENT_FILTER, GRID_KEY, EventFilter, in_window, pick
from store.rollups import DISPUTE_REPORTS, INCIDENTS

UNCLASSIFIED_SQL = "'未分类'"  # the class of a dispute report without one (layers.lookups.UNCLASSIFIED)


def incidents_source(source: str, where: EventFilter) -> str:
    """Dispute incidents of the dispute reports passing the filter ($depts, ...): the stored rollup (only without a
    filter) or computed from the raw events. Without a filter the raw path reads every report with no filter fragment
    (its NULL checks made the raw incident aggregation about a quarter slower on the demo)."""
    if source == "rollup":
        if not where.is_empty:
            raise ValueError("the incident rollup holds every dispute report; a filtered count needs source='raw'")
        return "SELECT * FROM rollup_incidents"
    if source != "raw":
        raise ValueError(f"`source` was {source!r} but is expected to be one of ['raw', 'rollup']")
    reports = DISPUTE_REPORTS if where.is_empty else f"SELECT * FROM ({DISPUTE_REPORTS}) AS e WHERE {EVENT_FILTER}"
    return f"WITH dispute_reports AS ({reports})\n{INCIDENTS}"


def disputes_window_sql(level: str, source: str, where: EventFilter) -> str:
    """Per home grid of `level`: incidents first reported (received) and first closed (resolved) in [$start, $end)."""
    grid = pick(GRID_KEY, level, "level")
    return f"""
SELECT {grid} AS grid_code,
       count(*) FILTER (WHERE {in_window("first_reported_at")}) AS disputes_received,
       count(*) FILTER (WHERE {in_window("first_closed_at")}) AS disputes_resolved
FROM ({incidents_source(source, where)})
GROUP BY 1
"""


def disputes_yearly_sql(level: str, source: str) -> str:
    """Per home grid of `level`, year and dispute class: incidents received and resolved in years [$year_from,
    $year_to], of every dispute report."""
    grid = pick(GRID_KEY, level, "level")
    if source == "rollup":
        yearly = "SELECT * FROM rollup_disputes_yearly"
    else:
        yearly = f"""
WITH incidents AS ({incidents_source(source, EventFilter())})
SELECT year(first_reported_at) AS year, grid_small, grid_medium, grid_large, dispute_class, 1 AS received, 0 AS resolved
FROM incidents
UNION ALL
SELECT year(first_closed_at), grid_small, grid_medium, grid_large, dispute_class, 0, 1
FROM incidents
WHERE first_closed_at IS NOT NULL
"""
    return f"""
SELECT {grid} AS grid_code, year, coalesce(dispute_class, {UNCLASSIFIED_SQL}) AS dispute_class,
       CAST(sum(received) AS BIGINT) AS received, CAST(sum(resolved) AS BIGINT) AS resolved
FROM ({yearly})
WHERE year BETWEEN $year_from AND $year_to
GROUP BY 1, 2, 3
"""
