"""SQL of the wall display's side panels: reports per hour over the last day, and events per category."""

from __future__ import annotations

from layers.event_query import EVENT_CONDITION

# Reports per hour in the window [$start, $end) passing the filter. Parameters: the condition's.
HOURLY_REPORTS = f"""
SELECT date_trunc('hour', e.reported_at) AS hour, count(*) AS events
FROM events AS e
WHERE {EVENT_CONDITION}
GROUP BY hour
ORDER BY hour
"""

# Events per category in the window passing the filter, most first. Parameters: the condition's.
CATEGORY_COUNTS = f"""
SELECT e.category, coalesce(c.name, e.category) AS category_name, count(*) AS events
FROM events AS e LEFT JOIN categories AS c ON c.code = e.category
WHERE {EVENT_CONDITION}
GROUP BY e.category, category_name
ORDER BY events DESC, e.category
"""
