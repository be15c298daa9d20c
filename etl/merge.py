"""Merging normalised rows into a store table: new rows inserted, changed rows updated, repeats counted, in DuckDB."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from store.rollups import record_changes


@dataclass(frozen=True)
class Target:
    """A store table rows are merged into: its key, the canonical columns hashed to tell updates from repeats,
    the columns an update resets to NULL (derived later), and its child table replaced with each row."""

    table: str
    key: str
    columns: tuple[str, ...]
    versioned: bool = True  # has grid_version (the boundary version the grid codes were assigned under)
    reset_on_update: tuple[str, ...] = ()
    child: str | None = None  # table whose rows (keyed by `key`) are replaced by those of the latest record
    child_columns: tuple[str, ...] = ()
    rollups: bool = False  # the rollups (store/rollups.py) are built from this table: record what a merge changes
    derived: tuple[str, ...] = ()  # columns computed from the hashed ones (events.h3_cell): written, never hashed


@dataclass
class MergeCounts:
    """What one merge did, in the load report's terms."""

    loaded: int = 0
    updated: int = 0
    duplicate: int = 0
    outside_grid: int = 0


# Columns the merge itself writes beside the target's own: the hash that tells an update from a repeat, the boundary
# version, the batch that first loaded the row and the one that last changed it.
_BOOKKEEPING = ("row_hash", "grid_version", "batch_id", "updated_batch")


def _sql(target: Target) -> dict[str, str]:
    """The merge statements of a target; every name in them comes from the Target constants, never from input."""
    columns = ", ".join(target.columns)
    hashed = f"CAST(hash({columns}) AS VARCHAR)"  # DuckDB's hash(): stable within a DuckDB version
    written = ", ".join((*target.columns, *target.derived))
    bookkeeping = [c for c in _BOOKKEEPING if target.versioned or c != "grid_version"]
    # An update is a delete and an insert (DuckDB rewrites every column of each row group an UPDATE touches at the
    # next checkpoint; a delete only marks the row): the new version keeps its first batch and names this one in
    # updated_batch, and its reset_on_update columns (derived later) start again from NULL.
    values = {"row_hash": "row_hash", "grid_version": "$grid_version",
              "batch_id": "coalesce(stored_batch, $batch_id)",
              "updated_batch": "CASE WHEN stored_row IS NOT NULL THEN $batch_id END"}
    outside = "count(*) FILTER (WHERE version_rank = 1 AND s.outside_grid)" if "outside_grid" in target.columns \
        else "0"
    # Every key of the file is looked up in the table once ("staged"): the stored row's hash, row id and first batch
    # (NULL for a new key). The statements after it read the staged rows, and find the stored ones by row id.
    stored = f"""
            SELECT s.*, e.row_hash AS stored_hash, e.rowid AS stored_row, e.batch_id AS stored_batch
            FROM ({{rows}}) AS s LEFT JOIN {target.table} e ON e.{target.key} = s.{target.key}"""
    changed = "SELECT stored_row FROM staged WHERE version_rank = 1 AND stored_hash <> row_hash"
    statements = {
        "ranked": "CREATE OR REPLACE TEMP TABLE staged AS" + stored.format(rows=f"""
            SELECT *,
                row_number() OVER (PARTITION BY {target.key}, row_hash ORDER BY __row DESC) AS copy_rank,
                row_number() OVER (PARTITION BY {target.key} ORDER BY __row DESC)           AS version_rank
            FROM (SELECT *, {hashed} AS row_hash FROM incoming_rows)"""),
        "unique": "CREATE OR REPLACE TEMP TABLE staged AS" + stored.format(rows=f"""
            SELECT *, {hashed} AS row_hash, 1 AS copy_rank, 1 AS version_rank FROM incoming_rows"""),
        "count": f"""
            SELECT
                count(*) FILTER (WHERE copy_rank > 1)                                AS repeats,
                count(*) FILTER (WHERE copy_rank = 1 AND version_rank > 1)           AS superseded,
                count(*) FILTER (WHERE version_rank = 1 AND stored_row IS NULL)      AS new_rows,
                count(*) FILTER (WHERE version_rank = 1 AND stored_hash <> row_hash) AS changed_rows,
                count(*) FILTER (WHERE version_rank = 1 AND stored_hash = row_hash)  AS same_rows,
                {outside}                                                            AS outside_rows
            FROM staged s""",
        # What the merge changes, for the rollups: the rows written (new or changed), and the stored rows they
        # replace, as they are now.
        "written": "SELECT * FROM staged WHERE version_rank = 1 AND stored_hash IS DISTINCT FROM row_hash",
        "replaced": f"SELECT * FROM {target.table} WHERE rowid IN ({changed})",
        "delete": f"DELETE FROM {target.table} WHERE rowid IN ({changed})",
        "insert": f"""
            INSERT INTO {target.table} ({written}, {", ".join(bookkeeping)})
            SELECT {written}, {", ".join(values[c] for c in bookkeeping)} FROM staged s
            WHERE version_rank = 1 AND stored_hash IS DISTINCT FROM row_hash""",
    }
    if target.child:
        child_columns = ", ".join(target.child_columns)
        statements["delete_children"] = (
            f"DELETE FROM {target.child} WHERE {target.key} IN (SELECT {target.key} FROM staged WHERE version_rank = 1)")
        statements["insert_children"] = f"""
            INSERT INTO {target.child} ({child_columns}, batch_id)
            SELECT {", ".join(f"p.{c}" for c in target.child_columns)}, $batch_id
            FROM incoming_children p JOIN staged s ON s.{target.key} = p.{target.key} AND s.__row = p.__row
            WHERE s.version_rank = 1"""
    return statements


def merge_rows(con: duckdb.DuckDBPyConnection, target: Target, rows: pd.DataFrame, batch_id: int,
               grid_version: int, *, children: pd.DataFrame | None = None) -> MergeCounts:
    """Insert new rows, replace changed ones, count unchanged ones and in-file repeats as duplicates.

    Within one file an exact repeat is a duplicate and an earlier, different version of a key is superseded by
    the later one (counted as updated). `children` (None: the source names none) replace the child rows of every
    key in `rows`, taken from the key's latest record. Hashing and ranking run inside DuckDB.
    """
    sql = _sql(target)
    counts = MergeCounts()
    _check_columns(con, target)
    con.register("incoming_rows", rows)
    try:
        repeated_keys = bool(rows[target.key].duplicated().any())
        con.execute(sql["ranked" if repeated_keys else "unique"])
        repeats, superseded, new, changed, same, outside = con.execute(sql["count"]).fetchone()
        counts.duplicate = int(repeats) + int(same)
        counts.updated = int(superseded) + int(changed)
        counts.loaded = int(new)
        counts.outside_grid = int(outside)
        if target.rollups and (new or changed):  # the rows as they will be, and as they were
            record_changes(con, sql["written"], sign=1)
            if changed:
                record_changes(con, sql["replaced"], sign=-1)
        if changed:
            con.execute(sql["delete"])
        if new or changed:
            parameters: dict[str, object] = {"batch_id": batch_id}
            if target.versioned:
                parameters["grid_version"] = grid_version
            con.execute(sql["insert"], parameters)
        if children is not None and target.child:
            con.execute(sql["delete_children"])
            if not children.empty:
                con.register("incoming_children", children)
                try:
                    con.execute(sql["insert_children"], {"batch_id": batch_id})
                finally:
                    con.unregister("incoming_children")
        con.execute("DROP TABLE staged")
    finally:
        con.unregister("incoming_rows")
    return counts


def _check_columns(con: duckdb.DuckDBPyConnection, target: Target) -> None:
    """Every column of the table is one the merge writes or resets: any other would lose its value when an update
    replaces the row."""
    known = {*target.columns, *target.derived, *target.reset_on_update, *_BOOKKEEPING}
    columns = {r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'main' "
                                         "AND table_name = ?", [target.table]).fetchall()}
    if columns - known:
        raise AssertionError(f"{target.table}: the merge does not write column(s) {sorted(columns - known)}; add them "
                             "to its Target (columns, derived or reset_on_update)")
