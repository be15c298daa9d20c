"""The names once defined here, re-exported for callers outside layers/ (layers itself imports the topic modules).

The event query lives in layers/event_query.py, SQL in layers/<topic>_queries.py beside the functions that run it.
"""

from __future__ import annotations

from layers.event_query import (
    FILTER_FIELDS, FILTER_LISTS, GRID_KEY, NO_FILTER, EventFilter, EventQuery, compile_filter, filter_params,
)
from layers.grids_queries import EVENT_COUNTS_BY_GRID, GRID_LEVEL_SIGNATURE, GRIDS_OF_LEVEL
from layers.lookups_queries import CATEGORY_NAMES, DEPARTMENT_NAMES, DEPTS_SEEN
from layers.markers_queries import EVENT_POINTS, EVENT_POINTS_RAW, FEED_EVENTS, LATEST_EVENTS

__all__ = [
    "FILTER_FIELDS", "FILTER_LISTS", "GRID_KEY", "NO_FILTER", "EventFilter", "EventQuery", "compile_filter",
    "filter_params", "EVENT_COUNTS_BY_GRID", "GRID_LEVEL_SIGNATURE", "GRIDS_OF_LEVEL", "CATEGORY_NAMES",
    "DEPARTMENT_NAMES", "DEPTS_SEEN", "EVENT_POINTS", "EVENT_POINTS_RAW", "FEED_EVENTS", "LATEST_EVENTS",
]
