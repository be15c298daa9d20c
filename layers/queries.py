"""Named SQL queries over the Minqing store; every input is a bound parameter, never formatted in."""

from __future__ import annotations

from dataclasses import dataclass

from store.rollups import DISPUTE_REPORTS, EVENT_FACTS, INCIDENTS
from store.schema import STATUSES
from store.timewindow import QueryError, TimeLike, checked_window

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
GRID_COUNTS_BY_LEVEL = "SELECT level, count(*) FROM grids WHERE level IS NOT NULL GROUP BY level"
LAST_LOAD_FINISHED = "SELECT max(finished_at) FROM load_batches"


# --------------------------------------------------------------------------- analytics (layers/stats.py, disputes.py)
# Filters compile to SQL plus a positional parameter list; column names come only from the whitelists below and
# from fixed texts in store/rollups.py (the shared definitions of facts and dispute incidents).

FILTER_FIELDS: dict[str, str] = {  # EventFilter field -> column (same name in events and the rollups)
    "depts": "dept",
    "categories": "category",
    "dispute_classes": "dispute_class",
    "statuses": "status",
}
# Grid column of each level; `city` is every located event (grid_large set).
GRID_KEY: dict[str, str] = {
    "large": "grid_large",
    "medium": "grid_medium",
    "small": "grid_small",
    "city": "CASE WHEN grid_large IS NOT NULL THEN 'city' END",
}
# What a count can be broken down by: a column, or the reported time truncated to a period.
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
# Fact sources of the same shape (t, grid columns, dept, category, dispute_class, status, is_dispute,
# reported, closed, closed_with_due, closed_on_time, handling_hours).
FACT_SOURCES: dict[str, str] = {
    "raw": EVENT_FACTS,
    "rollup": "SELECT CAST(day AS TIMESTAMP) AS t, * EXCLUDE (day) FROM rollup_daily",
}


@dataclass(frozen=True)
class EventFilter:
    """Which events count: each non-empty tuple keeps rows whose column is one of its values (AND across fields).

    Empty means no restriction. Values are always bound as parameters, never formatted into SQL.
    `statuses` is the current status as stored (`reported`, `dispatched`, `in_progress`, `closed`).
    """

    depts: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    dispute_classes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in FILTER_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):  # a lone string would otherwise become a tuple of characters
                value = (value,)
            object.__setattr__(self, name, tuple(str(v) for v in value))

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in FILTER_FIELDS)


NO_FILTER = EventFilter()


def compile_filter(where: EventFilter) -> tuple[str, list[str]]:
    """SQL condition and its positional parameters, e.g. ("dept IN (?, ?) AND status IN (?)", ["a", "b", "closed"])."""
    parts: list[str] = []
    params: list[str] = []
    for name, column in FILTER_FIELDS.items():
        values = getattr(where, name)
        if values:
            parts.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    return (" AND ".join(parts) or "TRUE"), params


def _pick(table: dict[str, str], key: str, what: str) -> str:
    if key not in table:
        raise ValueError(f"`{what}` was {key!r} but is expected to be one of {list(table)}")
    return table[key]


def window_totals_sql(level: str, source: str, condition: str) -> str:
    """Per grid of `level`: events reported and closed in [?, ?) with the closure measures.

    Parameters: start, end, start, end, then the filter's parameters.
    """
    grid, facts = _pick(GRID_KEY, level, "level"), _pick(FACT_SOURCES, source, "source")
    return f"""
SELECT {grid} AS grid_code,
       CAST(sum(reported) AS BIGINT) AS events,
       CAST(sum(closed) AS BIGINT) AS closed,
       CAST(sum(closed_with_due) AS BIGINT) AS closed_with_due,
       CAST(sum(closed_on_time) AS BIGINT) AS closed_on_time,
       sum(handling_hours) AS handling_hours_sum
FROM ({facts})
WHERE ((reported > 0 AND t >= ? AND t < ?) OR (closed > 0 AND t >= ? AND t < ?)) AND ({condition})
GROUP BY 1
"""


def breakdown_sql(level: str, by: str, source: str, condition: str) -> str:
    """Per grid of `level` and value of `by`: events reported in [?, ?). Parameters: start, end, filter's."""
    grid, key, facts = _pick(GRID_KEY, level, "level"), _pick(BREAKDOWN_KEY, by, "by"), _pick(FACT_SOURCES, source, "source")
    return f"""
SELECT {grid} AS grid_code, {key} AS key, CAST(sum(reported) AS BIGINT) AS events
FROM ({facts})
WHERE reported > 0 AND t >= ? AND t < ? AND ({condition})
GROUP BY 1, 2
"""


def median_handling_sql(level: str, condition: str) -> str:
    """Per grid: median hours from report to closure of events closed in [?, ?) (raw events only)."""
    grid = _pick(GRID_KEY, level, "level")
    return f"""
SELECT {grid} AS grid_code, median(epoch(closed_at - reported_at) / 3600.0) AS median_handling_hours
FROM events
WHERE grid_large IS NOT NULL AND status = 'closed' AND closed_at >= ? AND closed_at < ? AND ({condition})
GROUP BY 1
"""


def open_now_sql(level: str, condition: str) -> str:
    """Per grid: events open at ? (reported by then, not closed by then) and of those overdue (due_at < ?).

    Parameters: as_of, as_of, as_of, then the filter's. Raw events only.
    """
    grid = _pick(GRID_KEY, level, "level")
    return f"""
SELECT {grid} AS grid_code,
       count(*) AS open_now,
       count(*) FILTER (WHERE due_at < ?) AS overdue_now
FROM (SELECT * FROM events WHERE grid_large IS NOT NULL AND reported_at <= ?
      AND (closed_at IS NULL OR status <> 'closed' OR closed_at > ?))
WHERE ({condition})
GROUP BY 1
"""


def incidents_source(source: str, condition: str) -> str:
    """Dispute incidents of the (filtered) dispute reports: the stored rollup or computed from raw events."""
    if source == "rollup":
        if condition != "TRUE":
            raise ValueError("the incident rollup holds every dispute report; a filtered count needs source='raw'")
        return "SELECT * FROM rollup_incidents"
    if source != "raw":
        raise ValueError(f"`source` was {source!r} but is expected to be one of ['raw', 'rollup']")
    return f"WITH dispute_reports AS (SELECT * FROM ({DISPUTE_REPORTS}) WHERE {condition})\n{INCIDENTS}"


def disputes_window_sql(level: str, source: str, condition: str) -> str:
    """Per home grid of `level`: incidents first reported in [?, ?) and first closed in [?, ?).

    Parameters: start, end, start, end, then the filter's.
    """
    grid = _pick(GRID_KEY, level, "level")
    return f"""
SELECT {grid} AS grid_code,
       count(*) FILTER (WHERE first_reported_at >= ? AND first_reported_at < ?) AS disputes_received,
       count(*) FILTER (WHERE first_closed_at >= ? AND first_closed_at < ?) AS disputes_resolved
FROM ({incidents_source(source, condition)})
GROUP BY 1
"""


def disputes_yearly_sql(level: str, source: str) -> str:
    """Per home grid of `level`, year and dispute class: incidents received and resolved in years [?, ?]."""
    grid = _pick(GRID_KEY, level, "level")
    if source == "rollup":
        yearly = "SELECT * FROM rollup_disputes_yearly"
    else:
        yearly = f"""
WITH incidents AS ({incidents_source(source, "TRUE")})
SELECT year(first_reported_at) AS year, grid_small, grid_medium, grid_large, dispute_class, 1 AS received, 0 AS resolved
FROM incidents
UNION ALL
SELECT year(first_closed_at), grid_small, grid_medium, grid_large, dispute_class, 0, 1
FROM incidents
WHERE first_closed_at IS NOT NULL
"""
    return f"""
SELECT {grid} AS grid_code, year, coalesce(dispute_class, '未分类') AS dispute_class,
       CAST(sum(received) AS BIGINT) AS received, CAST(sum(resolved) AS BIGINT) AS resolved
FROM ({yearly})
WHERE year BETWEEN ? AND ?
GROUP BY 1, 2, 3
"""


# Event rows for export, filtered; the grid restriction picks a column through GRID_KEY.
def event_rows_sql(condition: str, grid_level: str | None) -> str:
    """Parameters: start, end, then the filter's, then the grid code when `grid_level` is given."""
    grid = "" if grid_level is None else f" AND {_pick(GRID_KEY, grid_level, 'level')} = ?"
    return f"""
SELECT e.event_id, e.dept, e.source_id, e.category, c.name AS category_name, e.dispute_class, e.is_dispute,
       e.status, e.reported_at, e.dispatched_at, e.closed_at, e.due_at,
       e.grid_small, e.grid_medium, e.grid_large, e.incident_id, e.lon, e.lat, e.address, e.description
FROM (SELECT * FROM events WHERE reported_at >= ? AND reported_at < ? AND ({condition}){grid}) AS e
LEFT JOIN categories AS c ON c.code = e.category
ORDER BY e.reported_at, e.event_id
"""


# Grids with their parents' names, for labelling rows. Parameters: $level.
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
CATEGORY_NAMES = "SELECT code, name, dispute_class FROM categories"
DEPARTMENT_NAMES = "SELECT code, name FROM departments ORDER BY code"
DISPUTE_CLASSES_SEEN = "SELECT DISTINCT dispute_class FROM events WHERE is_dispute AND dispute_class IS NOT NULL"
DEPTS_SEEN = "SELECT DISTINCT dept FROM events ORDER BY dept"
DATA_YEARS = "SELECT year(min(reported_at)), year(max(reported_at)) FROM events"


# --------------------------------------------------------------------------- map layers
# The grid set's identity for caching prepared geometry: the database file, and for one level the
# number of grids, the highest boundary version and a hash of every code, name and geometry.

DATABASE_PATH = "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"

# Parameters: $level.
GRID_LEVEL_SIGNATURE = """
SELECT count(*) AS n, max(version) AS version, bit_xor(hash(grid_code, name, geometry)) AS content_hash
FROM grids
WHERE level = $level
"""

# Filters shared by the event queries. Parameters: $start, $end (TIMESTAMP or NULL = open; window
# [start, end) on reported_at), $depts, $categories, $dispute_classes, $statuses (VARCHAR[] or
# NULL = no restriction).
_EVENT_FILTER = """
      (CAST($start AS TIMESTAMP) IS NULL OR e.reported_at >= CAST($start AS TIMESTAMP))
  AND (CAST($end AS TIMESTAMP) IS NULL OR e.reported_at < CAST($end AS TIMESTAMP))
  AND (CAST($depts AS VARCHAR[]) IS NULL OR list_contains(CAST($depts AS VARCHAR[]), e.dept))
  AND (CAST($categories AS VARCHAR[]) IS NULL OR list_contains(CAST($categories AS VARCHAR[]), e.category))
  AND (CAST($dispute_classes AS VARCHAR[]) IS NULL
       OR list_contains(CAST($dispute_classes AS VARCHAR[]), e.dispute_class))
  AND (CAST($statuses AS VARCHAR[]) IS NULL OR list_contains(CAST($statuses AS VARCHAR[]), e.status))
"""

# Located events in the filter, one row per distinct point with its number of events (the heatmap
# bins these points; identical coordinates are counted once here, exactly).
# Parameters: the event filter's.
EVENT_POINTS = (
    """
SELECT e.lon, e.lat, count(*) AS n
FROM events AS e
WHERE e.lon IS NOT NULL AND e.lat IS NOT NULL AND
"""
    + _EVENT_FILTER
    + """
GROUP BY e.lon, e.lat
ORDER BY e.lon, e.lat
"""
)

# Every located event point in the filter, one row per event (only for the raw-point comparison).
# Parameters: the event filter's.
EVENT_POINTS_RAW = (
    """
SELECT e.lat, e.lon
FROM events AS e
WHERE e.lon IS NOT NULL AND e.lat IS NOT NULL AND
"""
    + _EVENT_FILTER
)

# The newest located events reported up to $as_of within the filter, with Chinese category name,
# grid names and whether the event is overdue (not closed and due before $as_of).
# Parameters: the event filter's, $as_of (TIMESTAMP), $limit (INTEGER).
LATEST_EVENTS = (
    """
SELECT
    e.event_id, e.dept, e.category, c.name AS category_name, e.status,
    e.reported_at, e.dispatched_at, e.closed_at, e.due_at,
    (e.status <> 'closed' AND e.due_at IS NOT NULL AND e.due_at < CAST($as_of AS TIMESTAMP)) AS overdue,
    e.lon, e.lat,
    e.grid_small, gs.name AS grid_small_name,
    e.grid_medium, gm.name AS grid_medium_name,
    e.grid_large, gl.name AS grid_large_name,
    e.address, e.description
FROM events AS e
LEFT JOIN categories AS c ON c.code = e.category
LEFT JOIN grids AS gs ON gs.grid_code = e.grid_small
LEFT JOIN grids AS gm ON gm.grid_code = e.grid_medium
LEFT JOIN grids AS gl ON gl.grid_code = e.grid_large
WHERE e.lon IS NOT NULL AND e.lat IS NOT NULL
  AND e.reported_at <= CAST($as_of AS TIMESTAMP) AND
"""
    + _EVENT_FILTER
    + """
ORDER BY e.reported_at DESC, e.event_id
LIMIT CAST($limit AS INTEGER)
"""
)

FILTER_LISTS: tuple[str, ...] = ("depts", "categories", "dispute_classes", "statuses")  # EventFilter fields


def filter_params(where: object | None = None, *, start: TimeLike | None = None, end: TimeLike | None = None) -> dict:
    """The bound parameters of the shared event filter: the window [start, end) and `where`'s code lists.

    `where` is a layers.queries.EventFilter (or anything with its tuple fields depts, categories,
    dispute_classes, statuses); None or empty fields mean no restriction.
    """
    start_ts, end_ts = checked_window(start, end)
    params: dict[str, object] = {"start": start_ts, "end": end_ts}
    for name in FILTER_LISTS:
        values = getattr(where, name, ()) if where is not None else ()
        if isinstance(values, str):
            values = (values,)
        params[name] = [str(v) for v in values] or None
    bad = sorted(set(params["statuses"] or ()) - set(STATUSES))  # type: ignore[arg-type]
    if bad:
        raise QueryError(f"`statuses` had {bad} but every status is expected to be one of {list(STATUSES)}")
    return params


# --- command center
# The newest reports up to $as_of within the filter, located or not (unlike LATEST_EVENTS), for the live feed:
# Chinese category and department names, the grids' names per level (NULL outside every grid; no small grid for
# events placed by address) and whether the event is overdue at $as_of with the open_now rule (not closed by
# $as_of, due before it).
# Parameters: the event filter's (filter_params), $as_of (TIMESTAMP), $limit (INTEGER).
FEED_EVENTS = (
    """
SELECT
    e.event_id, e.reported_at, e.dept, d.name AS dept_name, e.category, c.name AS category_name, e.status,
    e.due_at,
    (e.due_at < CAST($as_of AS TIMESTAMP)
     AND (e.closed_at IS NULL OR e.status <> 'closed' OR e.closed_at > CAST($as_of AS TIMESTAMP))) AS overdue,
    gl.name AS grid_large_name, gm.name AS grid_medium_name, gs.name AS grid_small_name
FROM events AS e
LEFT JOIN departments AS d ON d.code = e.dept
LEFT JOIN categories AS c ON c.code = e.category
LEFT JOIN grids AS gs ON gs.grid_code = e.grid_small
LEFT JOIN grids AS gm ON gm.grid_code = e.grid_medium
LEFT JOIN grids AS gl ON gl.grid_code = e.grid_large
WHERE e.reported_at <= CAST($as_of AS TIMESTAMP) AND
"""
    + _EVENT_FILTER
    + """
ORDER BY e.reported_at DESC, e.event_id
LIMIT CAST($limit AS INTEGER)
"""
)


# --- drill-down (layers/drilldown.py): one grid, its parents and children, its events.
# The grid's level picks the events column through GRID_KEY ('city' matches every located event); the grid
# code, the window, the filters, the search text, the page and its size are always bound parameters.

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


def _drill_events(level: str, condition: str) -> str:
    """Events of one grid reported in [?, ?) that pass the filter condition and contain the search text.

    Parameters: start, end, grid code, the condition's, then the search text four times (an empty text
    matches everything).
    """
    grid = _pick(GRID_KEY, level, "level")
    return f"""
SELECT * FROM events
WHERE reported_at >= ? AND reported_at < ? AND {grid} = ? AND ({condition})
  AND (CAST(? AS VARCHAR) = ''
       OR contains(lower(coalesce(description, '')), lower(CAST(? AS VARCHAR)))
       OR contains(lower(coalesce(address, '')), lower(CAST(? AS VARCHAR)))
       OR contains(lower(event_id), lower(CAST(? AS VARCHAR))))
"""


def drill_history_count_sql(level: str, condition: str) -> str:
    """How many events the history has. Parameters: as _drill_events."""
    return f"SELECT count(*) FROM ({_drill_events(level, condition)})"


def drill_history_sql(level: str, condition: str, sort: str, descending: bool) -> str:
    """One page of the history, with names and whether each event is overdue at as_of or was closed late.

    Parameters: as_of, as_of, then as _drill_events, then limit, offset. Ties sort by event_id.
    """
    order = f"{_pick(DRILL_HISTORY_SORT, sort, 'sort')} {'DESC' if descending else 'ASC'} NULLS LAST"
    return f"""
SELECT e.event_id, e.reported_at, e.dispatched_at, e.closed_at, e.due_at, e.status,
       e.category, c.name AS category_name, e.dept, d.name AS dept_name,
       (e.due_at IS NOT NULL AND e.due_at < CAST(? AS TIMESTAMP)
        AND (e.status <> 'closed' OR e.closed_at IS NULL OR e.closed_at > CAST(? AS TIMESTAMP))) AS overdue,
       coalesce(e.status = 'closed' AND e.closed_at > e.due_at, FALSE) AS closed_late,
       e.grid_small, gs.name AS grid_small_name, e.address, e.description
FROM ({_drill_events(level, condition)}) AS e
LEFT JOIN categories AS c ON c.code = e.category
LEFT JOIN departments AS d ON d.code = e.dept
LEFT JOIN grids AS gs ON gs.grid_code = e.grid_small
ORDER BY {order}, e.event_id
LIMIT ? OFFSET ?
"""


def drill_category_sql(level: str, condition: str) -> str:
    """Events of one grid per category, most first. Parameters: start, end, grid code, the condition's."""
    grid = _pick(GRID_KEY, level, "level")
    return f"""
SELECT e.category, coalesce(c.name, e.category) AS category_name, c.domain, count(*) AS events
FROM (SELECT * FROM events WHERE reported_at >= ? AND reported_at < ? AND {grid} = ? AND ({condition})) AS e
LEFT JOIN categories AS c ON c.code = e.category
GROUP BY ALL
ORDER BY events DESC, e.category
"""


def drill_timeline_sql(level: str, period: str, condition: str, source: str = "raw") -> str:
    """Per period of one grid: events reported, and dispute incidents first reported with their home report
    in the grid (the incident rule of docs/analytics.md; the filter selects the reports). `source` 'rollup'
    reads rollup_incidents (only without a filter: condition 'TRUE').

    Parameters: start, end, grid code, the condition's (events); with source 'raw' the condition's again;
    then start, end, grid code (incidents).
    """
    grid = _pick(GRID_KEY, level, "level")
    key = _pick(BREAKDOWN_KEY, period, "period")
    return f"""
WITH reported AS (
    SELECT {key} AS period, count(*) AS events
    FROM (SELECT reported_at AS t, * FROM events
          WHERE reported_at >= ? AND reported_at < ? AND {grid} = ? AND ({condition}))
    GROUP BY 1
), disputes AS (
    SELECT {key} AS period, count(*) AS disputes
    FROM (SELECT first_reported_at AS t, * FROM ({incidents_source(source, condition)}))
    WHERE t >= ? AND t < ? AND {grid} = ?
    GROUP BY 1
)
SELECT CAST(coalesce(r.period, d.period) AS TIMESTAMP) AS period,
       coalesce(r.events, 0)::BIGINT AS events, coalesce(d.disputes, 0)::BIGINT AS disputes
FROM reported AS r
FULL JOIN disputes AS d ON d.period = r.period
ORDER BY 1
"""


# --- trends (layers/trends.py): dispute incidents of a scope per period and class, and per grid per month.
# A scope is every incident whose home report has a grid of the level (`city`: every located one) or one grid
# of it; the period unit, the level's grid column and the time column come from the whitelists below, the grid
# code, the window and the filter's values are always bound.

TREND_PERIODS: dict[str, str] = {"month": "month", "year": "year"}  # period -> date_trunc unit
INCIDENT_TIMES: dict[str, str] = {  # what a dispute figure counts -> the incident's time column
    "disputes_received": "first_reported_at",
    "disputes_resolved": "first_closed_at",
}


def trend_disputes_sql(level: str, source: str, condition: str, period: str, one_grid: bool) -> str:
    """Per period and dispute class of the scope: incidents received (first report) and resolved (first closure)
    in [?, ?); a missing class is '未分类'.

    Parameters: the filter's, the grid code when `one_grid`, then start, end, start, end.
    """
    grid, unit = _pick(GRID_KEY, level, "level"), _pick(TREND_PERIODS, period, "period")
    scope = "= ?" if one_grid else "IS NOT NULL"
    return f"""
WITH incidents AS ({incidents_source(source, condition)}),
scoped AS (
    SELECT first_reported_at, first_closed_at, coalesce(dispute_class, '未分类') AS dispute_class
    FROM incidents
    WHERE {grid} {scope}
)
SELECT period, dispute_class, CAST(sum(received) AS BIGINT) AS received, CAST(sum(resolved) AS BIGINT) AS resolved
FROM (
    SELECT date_trunc('{unit}', first_reported_at) AS period, dispute_class, 1 AS received, 0 AS resolved
    FROM scoped
    WHERE first_reported_at >= ? AND first_reported_at < ?
    UNION ALL
    SELECT date_trunc('{unit}', first_closed_at), dispute_class, 0, 1
    FROM scoped
    WHERE first_closed_at >= ? AND first_closed_at < ?
)
GROUP BY 1, 2
"""


def grid_month_disputes_sql(level: str, source: str, condition: str, figure: str) -> str:
    """Per home grid of `level` and month: dispute incidents received (or resolved) in [?, ?).

    Parameters: the filter's, then start, end.
    """
    grid, column = _pick(GRID_KEY, level, "level"), _pick(INCIDENT_TIMES, figure, "figure")
    return f"""
SELECT {grid} AS grid_code, date_trunc('month', {column}) AS month, CAST(count(*) AS BIGINT) AS value
FROM ({incidents_source(source, condition)})
WHERE {column} >= ? AND {column} < ? AND {grid} IS NOT NULL
GROUP BY 1, 2
"""
