"""Jurisdiction below the pages: a cursor on which every grid-level table shows only one principal's grids.

`scoped_cursor(con, principal)` opens a fresh cursor on `con` and, for a principal with a scope, creates on it
(TEMP objects live in that cursor's own connection only; other cursors of `con` are untouched):

- TEMP TABLE `scope_grids(grid_code, level, own, root)`: `root` marks the scope grids themselves; `own` the
  grids the principal may see: the scope grids and all their descendants (current, or in `grid_history`);
  `own = FALSE` rows are the scope grids' ancestors, kept as names.
- TEMP VIEWs named exactly like the store's tables, each reading `"<catalog>".main.<table>` (catalog-qualified:
  a temp view naming `main.<table>` would name itself). Unqualified SQL in layers/ - and `main.<table>`, which
  DuckDB also resolves to the temp view first - then sees only the principal's rows:

  events, and every table with grid_large / grid_medium / grid_small columns (rollup_daily, rollup_incidents,
      rollup_disputes_yearly): the rows whose grid at a scope grid's level is that scope grid (grid_large = L for
      a large grid L, grid_medium = M for a medium grid M). Every located event carries its medium and large
      codes (an address match fills both), so this is every event inside the scope. Events outside every grid
      belong to no jurisdiction: only whole-city users see them. A rollup incident belongs to its home report's
      grid (store/rollups.py).
  grids: the principal's own grids as they are, plus the scope grids' ancestors as NAMES ONLY (`level`,
      `geometry`, `population`, `area_km2` NULL). Level lists (`WHERE level = ...`: grid tables, choropleths,
      prepared geometry, the city's children) hold only the principal's grids; joins on parent_code still give
      the parents' names for breadcrumbs and export labels (XX镇 › XX村). An ancestor's code looked up directly
      (grid_profile, find_grid) comes back with level NULL: pages must not link to it. `allowed_grids` lists
      what a user may open.
  grid_history and any other table with a grid_code column: the principal's own grids.
  roster_grids and visits carry grid_small/medium/large and are scoped like events (a check-in outside every
      grid belongs to no jurisdiction); roster and any other table with a worker_id column: the people with a
      grid in scope.
  persons and any other table with an event_id column: the rows of the events the principal sees.
  rejects: no rows (quarantined rows have no grid, and their raw text may hold personal data).
  meta: as stored, except that `rollup_signature` reads as the scoped events' signature when the store's
      rollups are fresh (else as 'stale'), so `store.rollups.rollup_state` on a scoped cursor is "fresh" exactly
      when it is for the whole store, and the analytics keep reading the (scoped) rollups.

  Other tables (categories, departments, load_batches) hold no grid-level data and are read as they are.
  Code naming a table with its catalog ("minqing".main.events) would bypass the views: layers/ never does.

Whole-city principals (empty scope) get the plain cursor. Scope codes are bound parameters, never formatted into
SQL; an unknown code, a small grid's code or a non-text value raises UserError.

Cost: checking the scope and listing its grids happens once per read-only connection and scope (a read-only
connection reads one snapshot of the file; loads publish a new file); each cursor then costs one temp table and
one script of views, a few milliseconds.

Known difference: with a filter (EventFilter) the dispute figures are computed from the raw events, and an
incident is then built from the reports the principal sees; without one they read rollup_incidents, where an
incident belongs to its home report's grid. The two differ only for an incident whose reports lie in different
jurisdictions (none in the demo).
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TypeVar

import duckdb

from access.principal import Principal
from store.errors import UserError
from store.rollups import SIGNATURE_KEY
from store.schema import open_published

T = TypeVar("T")

SCOPE_TABLE = "scope_grids"
GRID_LEVEL_COLUMNS: dict[str, str] = {"large": "grid_large", "medium": "grid_medium", "small": "grid_small"}
SCOPE_LEVELS: tuple[str, ...] = ("large", "medium")  # what a Principal.scope may name
HIDDEN_TABLES: frozenset[str] = frozenset({"rejects"})
NAMES_ONLY: tuple[str, ...] = ("level", "geometry", "population", "area_km2")  # NULL in an ancestor's grids row
_SHOWN_CODE = 40  # characters of a bad scope value repeated in an error message
_PLANS_PER_CONNECTION = 256

# The rollups' signature of an events relation, as store.rollups.store_signature computes it.
_SIGNATURE = ("SELECT count(*) || ':' || coalesce(max(batch_id), 0) || ':' || coalesce(max(updated_batch), 0) "
              "FROM {events}")
_SIGNATURE_TEXT = re.compile(r"[0-9]+:[0-9]+:[0-9]+|stale")

# The levels of those scope codes that are current grids. Parameters: $codes.
_SCOPE_LEVELS = """
SELECT grid_code, level FROM {catalog}.main.grids WHERE list_contains(CAST($codes AS VARCHAR[]), grid_code)
"""

# Every grid inside the scope with own = TRUE: the scope grids (root) and their descendants, current or in a
# previous boundary version (the tree is large > medium > small, so two steps down reach every descendant of a
# large or medium grid); then the scope grids' ancestors with own = FALSE. Parameters: $codes.
_SCOPE_GRIDS = """
WITH edges AS (
    SELECT grid_code, level, parent_code FROM {catalog}.main.grids
    {history}
), scope AS (
    SELECT DISTINCT unnest(CAST($codes AS VARCHAR[])) AS grid_code
), below AS (
    SELECT grid_code FROM edges WHERE parent_code IN (SELECT grid_code FROM scope)
), inside AS (
    SELECT grid_code FROM scope
    UNION SELECT grid_code FROM below
    UNION SELECT grid_code FROM edges WHERE parent_code IN (SELECT grid_code FROM below)
), parents AS (
    SELECT parent_code AS grid_code FROM {catalog}.main.grids
    WHERE grid_code IN (SELECT grid_code FROM scope) AND parent_code IS NOT NULL
), above AS (
    SELECT grid_code FROM parents
    UNION SELECT parent_code FROM {catalog}.main.grids
    WHERE grid_code IN (SELECT grid_code FROM parents) AND parent_code IS NOT NULL
), levels AS (
    SELECT grid_code, any_value(level) AS level FROM edges GROUP BY grid_code
)
SELECT i.grid_code, l.level, TRUE AS own, i.grid_code IN (SELECT grid_code FROM scope) AS root
FROM inside AS i JOIN levels AS l USING (grid_code)
UNION ALL
SELECT a.grid_code, l.level, FALSE AS own, FALSE AS root
FROM above AS a JOIN levels AS l USING (grid_code)
WHERE a.grid_code NOT IN (SELECT grid_code FROM inside)
ORDER BY 1
"""

# The store's tables with their columns.
_TABLE_COLUMNS = """
SELECT t.table_name, list(c.column_name ORDER BY c.column_index) AS columns
FROM duckdb_tables() AS t
JOIN duckdb_columns() AS c USING (database_name, schema_name, table_name)
WHERE t.database_name = current_database() AND t.schema_name = 'main'
GROUP BY t.table_name
"""


def identifier(name: str) -> str:
    """`name` quoted as an SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def _catalog(con: duckdb.DuckDBPyConnection) -> str:
    (name,) = con.execute("SELECT current_database()").fetchone()
    return identifier(name)


def _tables(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    return {name: list(columns) for name, columns in con.execute(_TABLE_COLUMNS).fetchall()}


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CODE else text[:_SHOWN_CODE] + "…"


def _checked_scope(con: duckdb.DuckDBPyConnection, principal: Principal, catalog: str) -> list[str]:
    """The principal's scope codes after checking each is the code of a large or medium grid in the store."""
    if not isinstance(principal, Principal):
        raise UserError(f"expected a Principal (access.principal), got a {type(principal).__name__}")
    who = f"user {principal.username!r}"
    codes = list(principal.scope)
    for code in codes:
        if not isinstance(code, str):
            raise UserError(f"{who}: scope entry {_shown(code)} is a {type(code).__name__}; a scope lists grid "
                            "codes as text, e.g. '441502001000000'")
    unknown, small = scope_mistakes(con, codes, catalog=catalog)
    if unknown:
        raise UserError(f"{who}: scope code {_shown(unknown[0])} is not a grid in the store; a scope lists the "
                        "codes of large or medium grids (`minqing export disputes --level large` lists them)")
    if small:
        code, level = small[0]
        raise UserError(f"{who}: scope code {code!r} is a {level} grid; a scope lists large or "
                        "medium grids (give the small grid's medium grid instead)")
    return codes


def scope_mistakes(con: duckdb.DuckDBPyConnection, codes: list[str], *,
                   catalog: str | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """What is wrong with scope `codes`: those that are no grid of the store, and (code, level) of those that are
    grids finer than a scope may name. Both empty: every code is a large or medium grid."""
    found = dict(con.execute(_SCOPE_LEVELS.format(catalog=catalog or _catalog(con)), {"codes": list(codes)}).fetchall())
    unknown = [c for c in codes if c not in found]
    small = [(c, found[c]) for c in codes if c in found and found[c] not in SCOPE_LEVELS]
    return unknown, small


def _scope_grids(con: duckdb.DuckDBPyConnection, principal: Principal, catalog: str,
                 tables: dict[str, list[str]]) -> tuple[tuple[str, str | None, bool, bool], ...]:
    """(grid_code, level, own, root) of every grid the principal may see (own) or name (ancestors)."""
    codes = _checked_scope(con, principal, catalog)
    history = ""
    if "grid_history" in tables:
        history = f"UNION ALL SELECT grid_code, level, parent_code FROM {catalog}.main.grid_history"
    rows = con.execute(_SCOPE_GRIDS.format(catalog=catalog, history=history), {"codes": codes}).fetchall()
    return tuple((code, level, bool(own), bool(root)) for code, level, own, root in rows)


def allowed_grids(con: duckdb.DuckDBPyConnection, principal: Principal) -> set[str]:
    """Codes of the grids whose data the principal may see and open: for a scoped principal the scope grids and
    every grid below them (current and previous boundary versions), not their ancestors (names only, see
    `ancestor_grids`); for a whole-city principal every grid. A bad scope raises UserError."""
    catalog = _catalog(con)
    if isinstance(principal, Principal) and principal.whole_city:
        return {code for (code,) in con.execute(f"SELECT grid_code FROM {catalog}.main.grids").fetchall()}
    return {row[0] for row in _scope_grids(con, principal, catalog, _tables(con)) if row[2]}


def ancestor_grids(con: duckdb.DuckDBPyConnection, principal: Principal) -> set[str]:
    """Codes of the grids above the principal's scope grids: shown by name (breadcrumbs), never opened."""
    if isinstance(principal, Principal) and principal.whole_city:
        return set()
    return {row[0] for row in _scope_grids(con, principal, _catalog(con), _tables(con)) if not row[2]}


# --------------------------------------------------------------------------- the views


def _in_scope(columns: list[str], root_levels: set[str]) -> str:
    """Rows whose grid column at each scope grid's level holds that scope grid."""
    parts = [f"{column} IN (SELECT grid_code FROM temp.main.{SCOPE_TABLE} WHERE root AND level = '{level}')"
             for level, column in GRID_LEVEL_COLUMNS.items() if level in root_levels and column in columns]
    return " OR ".join(parts) or "FALSE"


def _view_sql(table: str, columns: list[str], catalog: str, tables: dict[str, list[str]], root_levels: set[str],
              signature: str | None) -> str | None:
    """The SELECT of the temp view that shadows `table`, or None when the table holds no grid-level data."""
    source = f"{catalog}.main.{identifier(table)}"
    own_codes = f"(SELECT grid_code FROM temp.main.{SCOPE_TABLE} WHERE own)"
    if table in HIDDEN_TABLES:
        return f"SELECT * FROM {source} WHERE FALSE"
    if table == "grids":
        names_only = [f"NULL AS {identifier(c)}" for c in NAMES_ONLY if c in columns]
        replaced = f" REPLACE ({', '.join(names_only)})" if names_only else ""
        ancestors = f"(SELECT grid_code FROM temp.main.{SCOPE_TABLE} WHERE NOT own)"
        return (f"SELECT * FROM {source} WHERE grid_code IN {own_codes}\n"
                f"UNION ALL\nSELECT *{replaced} FROM {source} WHERE grid_code IN {ancestors}")
    if any(column in columns for column in GRID_LEVEL_COLUMNS.values()):
        return f"SELECT * FROM {source} WHERE {_in_scope(columns, root_levels)}"
    if "grid_code" in columns:
        return f"SELECT * FROM {source} WHERE grid_code IN {own_codes}"
    if "worker_id" in columns and "roster_grids" in tables:  # the roster: people looking after a grid in scope
        return f"SELECT * FROM {source} WHERE worker_id IN (SELECT worker_id FROM temp.main.roster_grids)"
    if "event_id" in columns and "events" in tables:
        return f"SELECT * FROM {source} WHERE event_id IN (SELECT event_id FROM temp.main.events)"
    if table == "meta" and signature is not None and {"key", "value"} <= set(columns):
        if not _SIGNATURE_TEXT.fullmatch(signature):  # computed from counts; checked before it is written in
            raise ValueError(f"unexpected rollup signature {signature!r}")
        return (f"SELECT * REPLACE (CASE WHEN key = '{SIGNATURE_KEY}' THEN '{signature}' ELSE value END AS value) "
                f"FROM {source}")
    return None


def _views(catalog: str, tables: dict[str, list[str]], root_levels: set[str],
           signature: str | None) -> tuple[tuple[str, str], ...]:
    views = [(name, _view_sql(name, columns, catalog, tables, root_levels, signature))
             for name, columns in sorted(tables.items())]
    # events and roster_grids first: the views of event_id and worker_id tables read them
    first = {"events": 0, "roster_grids": 1}
    return tuple(sorted(((k, v) for k, v in views if v is not None), key=lambda kv: first.get(kv[0], 2)))


def _scoped_signature(cursor: duckdb.DuckDBPyConnection, catalog: str, tables: dict[str, list[str]],
                      root_levels: set[str]) -> str | None:
    """What `rollup_signature` reads as under the scope: the scoped events' signature while the store's rollups
    are fresh, else 'stale'; None without meta or events. Needs the temp scope table."""
    if "meta" not in tables or "events" not in tables:
        return None
    stored = cursor.execute(f"SELECT value FROM {catalog}.main.meta WHERE key = ?", [SIGNATURE_KEY]).fetchall()
    full = cursor.execute(_SIGNATURE.format(events=f"{catalog}.main.events")).fetchone()[0]
    if not stored or stored[0][0] != full:
        return "stale"
    condition = _in_scope(tables["events"], root_levels)
    return str(cursor.execute(_SIGNATURE.format(events=f"{catalog}.main.events WHERE {condition}")).fetchone()[0])


def scope_views(con: duckdb.DuckDBPyConnection, principal: Principal) -> dict[str, str]:
    """{table: SELECT} of the temp views a scoped cursor for `principal` creates on this store (docs, tests);
    empty for a whole-city principal."""
    if isinstance(principal, Principal) and principal.whole_city:
        return {}
    cursor = con.cursor()
    try:
        return dict(_new_plan(cursor, principal).views)
    finally:
        cursor.close()


# --------------------------------------------------------------------------- the cursor


@dataclass(frozen=True)
class _Plan:
    """What a scoped cursor creates: the rows of scope_grids and the SELECT of each view."""

    rows: tuple[tuple[str, str | None, bool, bool], ...]
    views: tuple[tuple[str, str], ...]


# Plans per read-only connection and scope. A read-only connection reads one snapshot of the file for its whole
# life (loads publish a new file; they never write the open one), so a plan made on it stays right; the entry
# goes with the connection (weak key). Writable connections are planned afresh for every cursor.
_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_PLANS_LOCK = threading.Lock()


def _reusable(cursor: duckdb.DuckDBPyConnection) -> bool:
    return cursor.execute("SELECT current_setting('access_mode')").fetchone()[0] == "read_only"


def _cached_plan(con: duckdb.DuckDBPyConnection, principal: Principal) -> _Plan | None:
    with _PLANS_LOCK:
        return _PLANS.get(con, {}).get(tuple(principal.scope))


def _create_scope_table(cursor: duckdb.DuckDBPyConnection, rows: tuple[tuple[str, str | None, bool, bool], ...]) -> None:
    columns = list(zip(*rows)) if rows else [(), (), (), ()]
    cursor.execute(
        f"CREATE TEMP TABLE {SCOPE_TABLE} AS SELECT unnest(CAST($c AS VARCHAR[])) AS grid_code, "
        "unnest(CAST($l AS VARCHAR[])) AS level, unnest(CAST($o AS BOOLEAN[])) AS own, "
        "unnest(CAST($r AS BOOLEAN[])) AS root",
        {"c": list(columns[0]), "l": list(columns[1]), "o": list(columns[2]), "r": list(columns[3])})


def _new_plan(cursor: duckdb.DuckDBPyConnection, principal: Principal) -> _Plan:
    """Check the scope, list its grids into the cursor's temp scope table and write the views' SELECTs."""
    catalog, tables = _catalog(cursor), _tables(cursor)
    rows = _scope_grids(cursor, principal, catalog, tables)
    _create_scope_table(cursor, rows)
    root_levels = {level for _code, level, _own, root in rows if root}
    signature = _scoped_signature(cursor, catalog, tables, root_levels)
    return _Plan(rows=rows, views=_views(catalog, tables, root_levels, signature))


def scoped_cursor(con: duckdb.DuckDBPyConnection, principal: Principal) -> duckdb.DuckDBPyConnection:
    """A fresh cursor of `con` on which every grid-level table shows only the principal's grids (module doc).

    Whole-city principals get a plain `con.cursor()`. Raises UserError for an unknown or malformed scope. The
    cursor is the caller's: close it when done (its temp objects go with it). It is for reading: on a writable
    connection the rollup freshness it reports is that of the moment it was made.
    """
    if not isinstance(principal, Principal):
        raise UserError(f"expected a Principal (access.principal), got a {type(principal).__name__}")
    cursor = con.cursor()
    if principal.whole_city:
        return cursor
    try:
        reusable = _reusable(cursor)
        plan = _cached_plan(con, principal) if reusable else None
        if plan is None:
            plan = _new_plan(cursor, principal)
            if reusable:
                with _PLANS_LOCK:
                    plans = _PLANS.setdefault(con, {})
                    if len(plans) >= _PLANS_PER_CONNECTION:
                        plans.clear()
                    plans[tuple(principal.scope)] = plan
        else:
            _create_scope_table(cursor, plan.rows)
        script = ";\n".join(f"CREATE TEMP VIEW {identifier(t)} AS {select}" for t, select in plan.views)
        if script:
            cursor.execute(script)  # catalog and table names quoted as identifiers; no user input in it
    except BaseException:
        cursor.close()
        raise
    return cursor


class ScopedStore:
    """The published store opened read-only for one principal: `query(fn, ...)` runs `fn` on a scoped cursor.

    The command line's counterpart of the dashboard's cached Store: `with ScopedStore(path, principal) as store:
    store.query(layers_function, ...)`. `grid_exists` looks past the scope, to tell "not yours" from "no such grid".
    """

    def __init__(self, path: Path, principal: Principal) -> None:
        self.principal = principal
        self._con = open_published(path)
        try:
            scoped_cursor(self._con, principal).close()  # a malformed or unknown scope fails here, once
        except BaseException:
            self._con.close()
            raise

    def query(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        cursor = scoped_cursor(self._con, self.principal)
        try:
            return fn(cursor, *args, **kwargs)
        finally:
            cursor.close()

    def in_jurisdiction(self, grid: str) -> bool:
        """Whether `grid` lies in the principal's jurisdiction (always, for the whole city)."""
        return self.principal.whole_city or grid in allowed_grids(self._con, self.principal)

    def grid_exists(self, grid: str) -> bool:
        return bool(self._con.execute("SELECT count(*) FROM grids WHERE grid_code = ?", [grid]).fetchone()[0])

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> ScopedStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
