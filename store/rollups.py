"""Pre-aggregated tables (rollups) kept up to date with `events` in one transaction after each load.

The analytics in `layers/` read these when they give the same answer as the raw events, and the raw
events otherwise (see docs/analytics.md). Definitions shared with the raw path live here, once:

- `EVENT_FACTS`: every located event as a "reported" fact at `reported_at` and, when closed, a
  "closed" fact at `closed_at`, with the closure measures. `rollup_daily` is its daily sum.
- `INCIDENTS`: dispute incidents from the relation `dispute_reports` (dispute reports located in a
  grid). An incident is resolved when one of its reports is closed; its year is that of the earliest
  `closed_at`; its home report (grid and class) is the report that closed first, or, while nothing is
  closed, the report that came in first. Ties go to the smaller `event_id`.

Tables (columns are added, never renamed):

rollup_daily: day DATE, grid_small, grid_medium, grid_large, dept, category, dispute_class, status,
    is_dispute, reported BIGINT (events reported that day), closed BIGINT (events closed that day),
    closed_with_due, closed_on_time (closed_at <= due_at), handling_hours DOUBLE (sum over the closed).
    `status` is the event's current status, on both its reported and its closed rows.
rollup_hourly: the same columns with `hour TIMESTAMP` (the hour the fact falls in) instead of `day`, for the hours
    from `meta.rollup_hourly_from` on: midnight HOURLY_DAYS (90) days before the day of the latest located report.
    For the 24-hour trend and hour-of-day figures of recent weeks; older hours are read from the events.
rollup_incidents: incident_id, reports, first_reported_at, first_closed_at (NULL while unresolved),
    home_event_id, grid_small, grid_medium, grid_large, dispute_class, dept, category (of the home report).
rollup_disputes_yearly: year, grid_small, grid_medium, grid_large, dispute_class, received (incidents
    first reported in the year), resolved (incidents first closed in the year).

`meta.rollup_signature` records the events the rollups were built from; `rollup_state` compares it with
the store so readers fall back to raw events when a load skipped the refresh.

Incremental refresh: a load calls `track_changes` first, and the merge records, with `record_changes`, every events
row it is about to change or remove (as it was) and every row it wrote (as it is now). The refresh then rebuilds
only what those rows touch: the hours and days of their facts in their medium grid, their dispute incidents, and the
years and medium grids of those incidents. It does so only when the rollups matched the events before the load
(`rollup_state` was fresh) and every change was recorded; otherwise it rebuilds everything.
"""

from __future__ import annotations

import duckdb

from store.transaction import transaction

ROLLUP_TABLES: tuple[str, ...] = ("rollup_hourly", "rollup_daily", "rollup_incidents", "rollup_disputes_yearly")
SIGNATURE_KEY = "rollup_signature"
HOURLY_FROM_KEY = "rollup_hourly_from"  # meta: the first hour rollup_hourly covers (ISO text)
HOURLY_DAYS = 90
_HOURLY_FROM = f"""
SELECT coalesce(date_trunc('day', max(reported_at)) - INTERVAL {HOURLY_DAYS} DAY, TIMESTAMP '9999-01-01')
FROM events WHERE grid_large IS NOT NULL
"""

# Dispute reports that count in the dispute statistics: a dispute category, located in a grid.
DISPUTE_REPORTS = "SELECT * FROM events WHERE is_dispute AND grid_large IS NOT NULL"

# Located events as facts: reported at reported_at, and closed at closed_at with the closure measures.
EVENT_FACTS = """
SELECT reported_at AS t, grid_small, grid_medium, grid_large, dept, category, dispute_class, status, is_dispute,
       1 AS reported, 0 AS closed, 0 AS closed_with_due, 0 AS closed_on_time, 0.0 AS handling_hours
FROM events
WHERE grid_large IS NOT NULL
UNION ALL
SELECT closed_at AS t, grid_small, grid_medium, grid_large, dept, category, dispute_class, status, is_dispute,
       0, 1, CAST(due_at IS NOT NULL AS INTEGER), CAST(coalesce(closed_at <= due_at, FALSE) AS INTEGER),
       epoch(closed_at - reported_at) / 3600.0
FROM events
WHERE status = 'closed' AND closed_at IS NOT NULL AND grid_large IS NOT NULL
"""

# One row per dispute incident, from the relation `dispute_reports` (see the module docstring).
INCIDENTS = """
SELECT incident_id, reports, first_reported_at, first_closed_at,
       home.event_id AS home_event_id, home.grid_small, home.grid_medium, home.grid_large,
       home.dispute_class, home.dept, home.category
FROM (
    SELECT incident_id,
           count(*) AS reports,
           min(reported_at) AS first_reported_at,
           min(closed_at) FILTER (WHERE status = 'closed') AS first_closed_at,
           arg_min(
               struct_pack(event_id, grid_small, grid_medium, grid_large, dispute_class, dept, category),
               struct_pack(
                   open := status <> 'closed',
                   t := CASE WHEN status = 'closed' THEN closed_at ELSE reported_at END,
                   r := reported_at,
                   id := event_id)
           ) AS home
    FROM dispute_reports
    GROUP BY incident_id
)
"""

_GROUPS = "grid_small, grid_medium, grid_large, dept, category, dispute_class, status, is_dispute"
_MEASURES = """CAST(sum(reported) AS BIGINT) AS reported, CAST(sum(closed) AS BIGINT) AS closed,
       CAST(sum(closed_with_due) AS BIGINT) AS closed_with_due,
       CAST(sum(closed_on_time) AS BIGINT) AS closed_on_time,
       sum(handling_hours) AS handling_hours"""
# Each statement below builds or rebuilds rows of one table; {only} is empty for a full build, or the join that
# keeps the changed keys (the temp tables rollup_dirty_incidents, rollup_dirty_years); {facts} is EVENT_FACTS, or
# the facts of the changed days (rollup_dirty_facts).
_HOURLY = f"""
SELECT date_trunc('hour', t) AS hour, {_GROUPS}, {_MEASURES}
FROM ({{facts}}) AS f {{only}}
GROUP BY ALL
"""
_DAILY = f"""
SELECT CAST(t AS DATE) AS day, {_GROUPS}, {_MEASURES}
FROM ({{facts}}) AS f {{only}}
GROUP BY ALL
"""
# The facts of the changed days and medium grids, gathered once for the hourly and the daily rollup.
_DIRTY_FACTS = f"""
CREATE OR REPLACE TEMP TABLE rollup_dirty_facts AS
SELECT f.* FROM ({EVENT_FACTS}) AS f
SEMI JOIN rollup_dirty_days AS d ON d.day = CAST(f.t AS DATE) AND d.grid = coalesce(f.grid_medium, '')
"""
_INCIDENTS = f"""
WITH dispute_reports AS (SELECT * FROM ({DISPUTE_REPORTS}) AS f {{only}})
{INCIDENTS}
"""
_YEARLY = """
SELECT year, grid_small, grid_medium, grid_large, dispute_class,
       CAST(sum(received) AS BIGINT) AS received, CAST(sum(resolved) AS BIGINT) AS resolved
FROM (
    SELECT year(first_reported_at) AS year, grid_small, grid_medium, grid_large, dispute_class,
           1 AS received, 0 AS resolved
    FROM rollup_incidents
    UNION ALL
    SELECT year(first_closed_at), grid_small, grid_medium, grid_large, dispute_class, 0, 1
    FROM rollup_incidents
    WHERE first_closed_at IS NOT NULL
) AS f {only}
GROUP BY ALL
"""
_HOURLY_WINDOW = "SELECT * FROM ({facts}) WHERE t >= $hourly_from"  # the facts rollup_hourly covers
_BUILDS: tuple[tuple[str, str, str], ...] = (  # table, its rows, the join keeping the changed keys ("" for the
    ("rollup_hourly", _HOURLY, ""),             # hourly and daily rollups: they read rollup_dirty_facts then)
    ("rollup_daily", _DAILY, ""),
    ("rollup_incidents", _INCIDENTS, "SEMI JOIN rollup_dirty_incidents AS d USING (incident_id)"),
    ("rollup_disputes_yearly", _YEARLY, "SEMI JOIN rollup_dirty_years AS d ON d.year = f.year "
                                        "AND d.grid = coalesce(f.grid_medium, '')"),
)
# Which rows of each table the changed keys cover (they are deleted, then rebuilt with the join above).
_STALE_ROWS: dict[str, str] = {
    "rollup_hourly": "rollup_dirty_days AS d WHERE d.day = CAST(rollup_hourly.hour AS DATE) "
                     "AND d.grid = coalesce(rollup_hourly.grid_medium, '')",
    "rollup_daily": "rollup_dirty_days AS d WHERE d.day = rollup_daily.day "
                    "AND d.grid = coalesce(rollup_daily.grid_medium, '')",
    "rollup_incidents": "rollup_dirty_incidents AS d WHERE d.incident_id = rollup_incidents.incident_id",
    "rollup_disputes_yearly": "rollup_dirty_years AS d WHERE d.year = rollup_disputes_yearly.year "
                              "AND d.grid = coalesce(rollup_disputes_yearly.grid_medium, '')",
}
# What a load changed (temp tables of the loading connection; see the module docstring).
_TRACK = ("CREATE OR REPLACE TEMP TABLE rollup_changes (day DATE, grid VARCHAR, incident_id VARCHAR)",
          "CREATE OR REPLACE TEMP TABLE rollup_changes_meta (tracked_from VARCHAR)")
# The keys an events row touches: the days of its facts in its medium grid, its incident when it is a dispute report.
_RECORD = (
    """CREATE OR REPLACE TEMP TABLE rollup_rows AS
    SELECT reported_at, closed_at, status, grid_medium, is_dispute, incident_id FROM ({rows}) AS r
    WHERE grid_large IS NOT NULL""",
    """INSERT INTO rollup_changes
    SELECT CAST(reported_at AS DATE), coalesce(grid_medium, ''), CASE WHEN is_dispute THEN incident_id END
    FROM rollup_rows
    UNION ALL
    SELECT CAST(closed_at AS DATE), coalesce(grid_medium, ''), NULL
    FROM rollup_rows WHERE closed_at IS NOT NULL AND status = 'closed'""",
    "DROP TABLE rollup_rows",
)
_DIRTY = """
CREATE OR REPLACE TEMP TABLE rollup_dirty_days AS
SELECT DISTINCT day, grid FROM rollup_changes WHERE day IS NOT NULL;
CREATE OR REPLACE TEMP TABLE rollup_dirty_incidents AS
SELECT DISTINCT incident_id FROM rollup_changes WHERE incident_id IS NOT NULL;
CREATE OR REPLACE TEMP TABLE rollup_dirty_years (year BIGINT, grid VARCHAR)
"""
# The years and medium grids of the changed incidents (run before and after they are rebuilt).
_DIRTY_YEARS = """
INSERT INTO rollup_dirty_years
SELECT DISTINCT y, coalesce(grid_medium, '') FROM (
    SELECT year(first_reported_at) AS y, grid_medium FROM rollup_incidents SEMI JOIN rollup_dirty_incidents USING (incident_id)
    UNION ALL
    SELECT year(first_closed_at), grid_medium FROM rollup_incidents SEMI JOIN rollup_dirty_incidents USING (incident_id)
    WHERE first_closed_at IS NOT NULL
)
"""
# What the rollups were built from: a load that adds or changes rows moves one of these.
_SIGNATURE = """
SELECT count(*) || ':' || coalesce(max(batch_id), 0) || ':' || coalesce(max(updated_batch), 0) FROM events
"""
_STORED_SIGNATURE = "SELECT value FROM meta WHERE key = ?"
_TABLES_PRESENT = """
SELECT count(*) FROM information_schema.tables
WHERE table_schema = 'main' AND table_name IN ('rollup_hourly', 'rollup_daily', 'rollup_incidents',
                                               'rollup_disputes_yearly', 'meta')
"""


def store_signature(con: duckdb.DuckDBPyConnection) -> str:
    """A short text that changes whenever a load adds or updates events."""
    return str(con.execute(_SIGNATURE).fetchall()[0][0])


def rollup_state(con: duckdb.DuckDBPyConnection) -> str:
    """`fresh` (rollups match the events), `stale` (a load came after the last refresh) or `missing`."""
    present = con.execute(_TABLES_PRESENT).fetchall()[0][0]
    if present < len(ROLLUP_TABLES) + 1:
        return "missing"
    stored = con.execute(_STORED_SIGNATURE, [SIGNATURE_KEY]).fetchall()
    if not stored:
        return "missing"
    return "fresh" if stored[0][0] == store_signature(con) else "stale"


def track_changes(con: duckdb.DuckDBPyConnection) -> None:
    """Start recording what a load changes in `events` (temp tables of this connection), so the refresh after it can
    be incremental; only when the rollups match the events now (else the refresh rebuilds them all anyway)."""
    for name in ("rollup_changes", "rollup_changes_meta"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    if rollup_state(con) == "fresh":
        for statement in _TRACK:
            con.execute(statement)
        con.execute("INSERT INTO rollup_changes_meta VALUES (?)", [store_signature(con)])


def record_changes(con: duckdb.DuckDBPyConnection, rows: str, parameters: list[object] | None = None) -> None:
    """Record the rollup keys of the events rows the query `rows` gives (rows about to change or be removed, as they
    are, or rows just written); nothing when changes are not tracked. `rows` is SQL made of constants, never input."""
    if _tracking(con):
        con.execute(_RECORD[0].format(rows=rows), parameters or [])
        for statement in _RECORD[1:]:
            con.execute(statement)


def _tracking(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = "
                            "'rollup_changes_meta'").fetchone()[0])


def refresh_rollups(con: duckdb.DuckDBPyConnection, *, force: bool = False) -> bool:
    """Bring every rollup table up to date in one transaction: incrementally when the load recorded its changes
    (`track_changes`), else rebuilt in full; skipped (False) when they already match the events."""
    incremental = not force and _tracking(con) and _was_fresh(con)
    if not force and rollup_state(con) == "fresh":
        con.execute("DROP TABLE IF EXISTS rollup_changes_meta")
        return False
    con.execute("SET preserve_insertion_order = false")  # CREATE TABLE AS needs no order; much faster
    try:
        with transaction(con):
            if incremental:
                _rebuild_changed(con)
            else:
                _rebuild_all(con)
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [SIGNATURE_KEY, store_signature(con)])
    finally:
        con.execute("RESET preserve_insertion_order")
        con.execute("DROP TABLE IF EXISTS rollup_changes_meta")
    return True


# The hourly and daily rollups are built a span of months at a time (about this many facts each), so the grouping
# fits the memory limit of the load's last step (store.schema.FINISH_MEMORY_LIMIT) instead of spilling to disk.
FACTS_PER_PASS = 4_000_000
_FACTS_PER_MONTH = """
SELECT m, sum(n) FROM (
    SELECT date_trunc('month', reported_at) AS m, count(*) AS n FROM events WHERE grid_large IS NOT NULL GROUP BY 1
    UNION ALL
    SELECT date_trunc('month', closed_at), count(*) FROM events
    WHERE status = 'closed' AND closed_at IS NOT NULL AND grid_large IS NOT NULL GROUP BY 1
) GROUP BY m ORDER BY m
"""
_TIME_COLUMN = {"rollup_daily": "t"}


def _hourly_from(con: duckdb.DuckDBPyConnection) -> object:
    """The first hour rollup_hourly covers now, recorded in meta."""
    start = con.execute(_HOURLY_FROM).fetchall()[0][0]
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [HOURLY_FROM_KEY, start.isoformat(sep=" ")])
    return start


def _rebuild_hourly(con: duckdb.DuckDBPyConnection, start: object) -> None:
    windowed = _HOURLY_WINDOW.format(facts=EVENT_FACTS)
    con.execute(f"CREATE OR REPLACE TABLE rollup_hourly AS {_HOURLY.format(only='', facts=windowed)}",
                {"hourly_from": start})


def _rebuild_all(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild every rollup table from the events (the daily one in passes over spans of months)."""
    spans = _month_spans(con.execute(_FACTS_PER_MONTH).fetchall())
    _rebuild_hourly(con, _hourly_from(con))
    for table, rows, _only in _BUILDS:
        if table == "rollup_hourly":
            continue
        column = _TIME_COLUMN.get(table)
        if column is None or len(spans) < 2:
            con.execute(f"CREATE OR REPLACE TABLE {table} AS {rows.format(only='', facts=EVENT_FACTS)}")
            continue
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {rows.format(only='WHERE FALSE', facts=EVENT_FACTS)}")
        within = f"WHERE f.{column} >= $start AND f.{column} < $end"
        for start, end in spans:
            con.execute(f"INSERT INTO {table} {rows.format(only=within, facts=EVENT_FACTS)}",
                        {"start": start, "end": end})


def _month_spans(months: list[tuple[object, int]]) -> list[tuple[object, object]]:
    """Consecutive [start, end) spans of whole months holding about FACTS_PER_PASS facts each, covering all facts
    (the first span open to the past, the last to the future)."""
    import datetime as dt

    spans: list[tuple[object, object]] = []
    start, count = dt.datetime(1, 1, 1), 0
    for month, facts in months:
        if count and count + facts > FACTS_PER_PASS:
            spans.append((start, month))
            start, count = month, 0
        count += int(facts)
    spans.append((start, dt.datetime(9999, 1, 1)))
    return spans


def _was_fresh(con: duckdb.DuckDBPyConnection) -> bool:
    """The rollups matched the events when tracking started, and still describe that state (nothing rebuilt them)."""
    stored = con.execute(_STORED_SIGNATURE, [SIGNATURE_KEY]).fetchall()
    started = con.execute("SELECT tracked_from FROM rollup_changes_meta").fetchall()
    present = con.execute(_TABLES_PRESENT).fetchall()[0][0] == len(ROLLUP_TABLES) + 1
    return present and bool(stored) and bool(started) and stored[0][0] == started[0][0]


def _rebuild_changed(con: duckdb.DuckDBPyConnection) -> None:
    """Delete and rebuild the rollup rows the recorded changes touch."""
    for statement in _DIRTY.split(";"):
        con.execute(statement)
    con.execute(_DIRTY_YEARS)  # the incidents as they were
    con.execute(_DIRTY_FACTS)
    before = con.execute(_STORED_SIGNATURE, [HOURLY_FROM_KEY]).fetchall()
    start = _hourly_from(con)
    hourly_rebuilt = not before or before[0][0] > start.isoformat(sep=" ")  # the window moved back: all of it
    if hourly_rebuilt:
        _rebuild_hourly(con, start)
    else:
        con.execute("DELETE FROM rollup_hourly WHERE hour < $hourly_from", {"hourly_from": start})
    for table, rows, only in _BUILDS:
        if table == "rollup_disputes_yearly":
            con.execute(_DIRTY_YEARS)  # and as they are now
        if table == "rollup_hourly" and hourly_rebuilt:
            continue
        con.execute(f"DELETE FROM {table} USING {_STALE_ROWS[table]}")
        facts = "SELECT * FROM rollup_dirty_facts"
        if table == "rollup_hourly":
            con.execute(f"INSERT INTO {table} BY NAME "
                        f"{rows.format(only=only, facts=_HOURLY_WINDOW.format(facts=facts))}", {"hourly_from": start})
        else:
            con.execute(f"INSERT INTO {table} BY NAME {rows.format(only=only, facts=facts)}")
    for name in ("rollup_changes", "rollup_dirty_days", "rollup_dirty_incidents", "rollup_dirty_years",
                 "rollup_dirty_facts"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
