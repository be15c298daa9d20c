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
row it is about to replace or remove (as it was, sign -1) and every row it writes (sign +1). The refresh then adds
the signed facts of those rows to the hourly and daily sums (the rows they touch are deleted and inserted again with
the new sums: a DuckDB UPDATE would rewrite whole row groups at the checkpoint), rebuilds the dispute incidents they
touch (from the recorded rows alone when every report an incident had before the load was replaced, else from the
events), and adds the difference between those incidents as they were and as they are to the yearly sums. It does so
only when the rollups matched the events before the load (`rollup_state` was fresh) and every change was recorded;
otherwise it rebuilds everything. The result is the full build's, row for row (handling_hours to rounding).
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

# Located events as facts: reported at reported_at, and closed at closed_at with the closure measures. Each fact
# counts {w} times: 1 for the events, +1 / -1 for the rows a load wrote / replaced (rollup_changes.sign).
_FACTS = """
SELECT reported_at AS t, grid_small, grid_medium, grid_large, dept, category, dispute_class, status, is_dispute,
       {w} AS reported, 0 AS closed, 0 AS closed_with_due, 0 AS closed_on_time, 0.0 AS handling_hours
FROM {source}
WHERE grid_large IS NOT NULL
UNION ALL
SELECT closed_at AS t, grid_small, grid_medium, grid_large, dept, category, dispute_class, status, is_dispute,
       0, {w}, {w} * CAST(due_at IS NOT NULL AS INTEGER), {w} * CAST(coalesce(closed_at <= due_at, FALSE) AS INTEGER),
       {w} * epoch(closed_at - reported_at) / 3600.0
FROM {source}
WHERE status = 'closed' AND closed_at IS NOT NULL AND grid_large IS NOT NULL
"""
EVENT_FACTS = _FACTS.format(w=1, source="events")

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
# Each statement below gives rows of one table: {facts} is EVENT_FACTS for a full build, or the signed facts of the
# rows a load changed (then the rows are changes to add); {only} restricts the facts (a span of months, a window).
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
_INCIDENTS = f"""
WITH dispute_reports AS (SELECT * FROM ({DISPUTE_REPORTS}) AS f {{only}})
{INCIDENTS}
"""
# Incidents as yearly facts: received in the year of the first report, resolved in that of the first closure; each
# incident counts {w} times (1, or -1 / +1 for an incident as it was before a load / as it is after).
_YEARLY_FACTS = """
SELECT year(first_reported_at) AS year, grid_small, grid_medium, grid_large, dispute_class, {w} AS received,
       0 AS resolved
FROM {source}
UNION ALL
SELECT year(first_closed_at), grid_small, grid_medium, grid_large, dispute_class, 0, {w}
FROM {source}
WHERE first_closed_at IS NOT NULL
"""
_YEARLY = """
SELECT year, grid_small, grid_medium, grid_large, dispute_class,
       CAST(sum(received) AS BIGINT) AS received, CAST(sum(resolved) AS BIGINT) AS resolved
FROM ({facts}) AS f
GROUP BY ALL
"""
_HOURLY_WINDOW = "WHERE t >= $hourly_from"  # the facts rollup_hourly covers

# What a load changed (temp tables of the loading connection; see the module docstring): each events row it replaced
# or removed (sign -1, as it was) and each row it wrote (sign +1), with the columns the rollups are made of.
_CHANGED_COLUMNS = ("event_id, reported_at, closed_at, due_at, status, grid_small, grid_medium, grid_large, dept, "
                    "category, dispute_class, is_dispute, incident_id")
_TRACK = (f"CREATE OR REPLACE TEMP TABLE rollup_changes AS SELECT 0 AS sign, {_CHANGED_COLUMNS} FROM events "
          "WHERE FALSE",
          "CREATE OR REPLACE TEMP TABLE rollup_changes_meta (tracked_from VARCHAR)")
_RECORD = (f"INSERT INTO rollup_changes SELECT {{sign:d}}, {_CHANGED_COLUMNS} FROM ({{rows}}) AS r "
           "WHERE grid_large IS NOT NULL")
_SIGNED_FACTS = _FACTS.format(w="sign", source="rollup_changes")
# Changes that move nothing (a row written again as it was, an update that leaves its facts where they were) are
# dropped before they reach the tables.
_ANY_CHANGE = {
    "count": "HAVING sum(reported) <> 0 OR sum(closed) <> 0 OR sum(closed_with_due) <> 0 "
             "OR sum(closed_on_time) <> 0 OR sum(handling_hours) <> 0",
    "yearly": "HAVING sum(received) <> 0 OR sum(resolved) <> 0",
}
# The incidents the changes touch, as they were (with their row ids), and which of them the changes describe in full:
# every report they had before the load was replaced or removed (a version from before the load that the load
# replaced is the one netted to -1), so their reports now are the versions the load wrote (netted to +1).
_DIRTY_INCIDENTS = (
    "CREATE OR REPLACE TEMP TABLE rollup_dirty_incidents AS "
    "SELECT DISTINCT incident_id FROM rollup_changes WHERE is_dispute",
    "CREATE OR REPLACE TEMP TABLE rollup_incidents_before AS SELECT i.rowid AS row_id, i.* FROM rollup_incidents AS i "
    "SEMI JOIN rollup_dirty_incidents AS d USING (incident_id)",
    "CREATE OR REPLACE TEMP TABLE rollup_net AS SELECT sum(sign) AS sign, * EXCLUDE (sign) FROM rollup_changes "
    "WHERE is_dispute GROUP BY ALL HAVING sum(sign) <> 0",
    """CREATE OR REPLACE TEMP TABLE rollup_known_incidents AS
    SELECT d.incident_id FROM rollup_dirty_incidents AS d
    LEFT JOIN rollup_incidents_before AS b USING (incident_id)
    LEFT JOIN (SELECT incident_id, count(*) AS replaced FROM rollup_net WHERE sign < 0 GROUP BY ALL) AS r
        USING (incident_id)
    WHERE coalesce(b.reports, 0) = coalesce(r.replaced, 0)""",
)
# The reports of the touched incidents now: from the changes for the incidents they describe in full, else from the
# events ({unknown}: the scan of the events, only when some incident needs it).
_TOUCHED_REPORTS = f"""
SELECT * EXCLUDE (sign) FROM rollup_net WHERE sign > 0 AND incident_id IN (SELECT incident_id FROM rollup_known_incidents)
{{unknown}}
"""
_UNKNOWN_REPORTS = f"""
UNION ALL BY NAME
SELECT {_CHANGED_COLUMNS} FROM ({DISPUTE_REPORTS}) AS e
WHERE incident_id IN (SELECT incident_id FROM rollup_dirty_incidents)
  AND incident_id NOT IN (SELECT incident_id FROM rollup_known_incidents)
"""
_INCIDENT_CHANGES = ("(SELECT -1 AS sign, * EXCLUDE (row_id) FROM rollup_incidents_before "
                     "UNION ALL BY NAME SELECT 1 AS sign, * FROM rollup_incidents_after)")
_SCRATCH = ("rollup_changes", "rollup_dirty_incidents", "rollup_incidents_before", "rollup_net",
            "rollup_known_incidents", "rollup_incidents_after", "rollup_delta", "rollup_touched")
# Each summed table: its key columns (the first two find the candidate rows cheaply: the time narrows by the zone
# maps, the small grid by the join), its measures, and the counts that are all zero when a row describes nothing.
_SUMMED: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "rollup_hourly": (("hour", *_GROUPS.split(", ")),
                      ("reported", "closed", "closed_with_due", "closed_on_time", "handling_hours"),
                      ("reported", "closed")),
    "rollup_daily": (("day", *_GROUPS.split(", ")),
                     ("reported", "closed", "closed_with_due", "closed_on_time", "handling_hours"),
                     ("reported", "closed")),
    "rollup_disputes_yearly": (("year", "grid_small", "grid_medium", "grid_large", "dispute_class"),
                               ("received", "resolved"), ("received", "resolved")),
}
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


def record_changes(con: duckdb.DuckDBPyConnection, rows: str, parameters: list[object] | None = None, *,
                   sign: int) -> None:
    """Record the events rows the query `rows` gives: rows about to be replaced or removed, as they are (sign -1),
    or rows just written (sign +1); nothing when changes are not tracked. `rows` is SQL made of constants, never
    input."""
    if sign not in (-1, 1):
        raise ValueError(f"sign is -1 or +1, not {sign!r}")
    if _tracking(con):
        con.execute(_RECORD.format(rows=rows, sign=sign), parameters or [])


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


def _hourly_from(con: duckdb.DuckDBPyConnection) -> object:
    """The first hour rollup_hourly covers now, recorded in meta."""
    start = con.execute(_HOURLY_FROM).fetchall()[0][0]
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [HOURLY_FROM_KEY, start.isoformat(sep=" ")])
    return start


def _rebuild_hourly(con: duckdb.DuckDBPyConnection, start: object) -> None:
    con.execute(f"CREATE OR REPLACE TABLE rollup_hourly AS {_HOURLY.format(only=_HOURLY_WINDOW, facts=EVENT_FACTS)}",
                {"hourly_from": start})


def _rebuild_all(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild every rollup table from the events (the daily one in passes over spans of months)."""
    spans = _month_spans(con.execute(_FACTS_PER_MONTH).fetchall())
    _rebuild_hourly(con, _hourly_from(con))
    if len(spans) < 2:
        con.execute(f"CREATE OR REPLACE TABLE rollup_daily AS {_DAILY.format(only='', facts=EVENT_FACTS)}")
    else:
        con.execute(f"CREATE OR REPLACE TABLE rollup_daily AS {_DAILY.format(only='WHERE FALSE', facts=EVENT_FACTS)}")
        for start, end in spans:
            con.execute(f"INSERT INTO rollup_daily {_DAILY.format(only='WHERE f.t >= $start AND f.t < $end', facts=EVENT_FACTS)}",
                        {"start": start, "end": end})
    con.execute(f"CREATE OR REPLACE TABLE rollup_incidents AS {_INCIDENTS.format(only='')}")
    yearly = _YEARLY.format(facts=_YEARLY_FACTS.format(w=1, source="rollup_incidents"))
    con.execute(f"CREATE OR REPLACE TABLE rollup_disputes_yearly AS {yearly}")


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
    """Apply the recorded changes: the hourly and daily sums by their signed facts, the touched incidents rebuilt
    from the events, the yearly sums by the incidents as they were (-1) and are (+1)."""
    before = con.execute(_STORED_SIGNATURE, [HOURLY_FROM_KEY]).fetchall()
    start = _hourly_from(con)
    if not before or before[0][0] > start.isoformat(sep=" "):  # the window moved back: rebuilt, changes included
        _rebuild_hourly(con, start)
    else:
        con.execute("DELETE FROM rollup_hourly WHERE hour < $hourly_from", {"hourly_from": start})
        _add_changes(con, "rollup_hourly", _HOURLY.format(only=_HOURLY_WINDOW, facts=_SIGNED_FACTS), start)
    _add_changes(con, "rollup_daily", _DAILY.format(only="", facts=_SIGNED_FACTS))
    for statement in _DIRTY_INCIDENTS:
        con.execute(statement)
    unknown = con.execute("SELECT count(*) FROM rollup_dirty_incidents WHERE incident_id NOT IN "
                          "(SELECT incident_id FROM rollup_known_incidents)").fetchone()[0]
    reports = _TOUCHED_REPORTS.format(unknown=_UNKNOWN_REPORTS if unknown else "")
    con.execute(f"CREATE OR REPLACE TEMP TABLE rollup_incidents_after AS WITH dispute_reports AS ({reports}) {INCIDENTS}")
    con.execute("DELETE FROM rollup_incidents WHERE rowid IN (SELECT row_id FROM rollup_incidents_before)")
    con.execute("INSERT INTO rollup_incidents BY NAME SELECT * FROM rollup_incidents_after")
    _add_changes(con, "rollup_disputes_yearly",
                 _YEARLY.format(facts=_YEARLY_FACTS.format(w="sign", source=_INCIDENT_CHANGES)))
    for name in _SCRATCH:
        con.execute(f"DROP TABLE IF EXISTS {name}")


def _add_changes(con: duckdb.DuckDBPyConnection, table: str, changes: str, hourly_from: object = None) -> None:
    """Add the summed changes `changes` (rows keyed like `table`) to its rows. The rows they touch are deleted and
    inserted again with the sums (DuckDB rewrites whole row groups at the checkpoint after an UPDATE; a delete only
    marks the row); a key whose counts come to zero is left out (a full build has no such row)."""
    keys, measures, counts = _SUMMED[table]
    kind = "yearly" if table == "rollup_disputes_yearly" else "count"
    time, grid = keys[0], keys[1]
    matched = " AND ".join(f"r.{k} IS NOT DISTINCT FROM d.{k}" for k in keys)
    sums = ", ".join(f"sum({m}) AS {m}" for m in measures)
    kept = " OR ".join(f"sum({c}) <> 0" for c in counts)
    con.execute(f"CREATE OR REPLACE TEMP TABLE rollup_delta AS {changes} {_ANY_CHANGE[kind]}",
                {"hourly_from": hourly_from} if hourly_from is not None else None)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE rollup_touched AS
        WITH candidates AS MATERIALIZED (
            SELECT r.rowid AS row_id, r.* FROM {table} AS r
            SEMI JOIN rollup_delta AS d ON r.{time} = d.{time} AND r.{grid} IS NOT DISTINCT FROM d.{grid})
        SELECT r.* FROM candidates AS r SEMI JOIN rollup_delta AS d ON ({matched})""")
    con.execute(f"DELETE FROM {table} WHERE rowid IN (SELECT row_id FROM rollup_touched)")
    con.execute(f"""
        INSERT INTO {table} BY NAME
        SELECT {", ".join(keys)}, {sums}
        FROM (SELECT * EXCLUDE (row_id) FROM rollup_touched UNION ALL BY NAME SELECT * FROM rollup_delta)
        GROUP BY ALL HAVING {kept}""")
