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


def _sql(target: Target) -> dict[str, str]:
    """The merge statements of a target; every name in them comes from the Target constants, never from input."""
    columns = ", ".join(target.columns)
    hashed = f"CAST(hash({columns}) AS VARCHAR)"  # DuckDB's hash(): stable within a DuckDB version
    written = ", ".join((*target.columns, *target.derived))
    extra_names = "row_hash, grid_version, batch_id, updated_batch" if target.versioned else \
        "row_hash, batch_id, updated_batch"
    extra_values = "row_hash, ?, ?, NULL" if target.versioned else "row_hash, ?, NULL"
    sets = [f"{c} = s.{c}" for c in (*target.columns, *target.derived) if c != target.key]
    sets += [f"{c} = NULL" for c in target.reset_on_update]
    sets += ["row_hash = s.row_hash"] + (["grid_version = ?"] if target.versioned else []) + ["updated_batch = ?"]
    outside = "count(*) FILTER (WHERE version_rank = 1 AND s.outside_grid)" if "outside_grid" in target.columns \
        else "0"
    statements = {
        "ranked": f"""
            CREATE OR REPLACE TEMP TABLE staged AS
            SELECT *,
                row_number() OVER (PARTITION BY {target.key}, row_hash ORDER BY __row DESC) AS copy_rank,
                row_number() OVER (PARTITION BY {target.key} ORDER BY __row DESC)           AS version_rank
            FROM (SELECT *, {hashed} AS row_hash FROM incoming_rows)""",
        "unique": f"""
            CREATE OR REPLACE TEMP TABLE staged AS
            SELECT *, {hashed} AS row_hash, 1 AS copy_rank, 1 AS version_rank FROM incoming_rows""",
        "count": f"""
            SELECT
                count(*) FILTER (WHERE copy_rank > 1)                                 AS repeats,
                count(*) FILTER (WHERE copy_rank = 1 AND version_rank > 1)            AS superseded,
                count(*) FILTER (WHERE version_rank = 1 AND e.{target.key} IS NULL)   AS new_rows,
                count(*) FILTER (WHERE version_rank = 1 AND e.row_hash <> s.row_hash) AS changed_rows,
                count(*) FILTER (WHERE version_rank = 1 AND e.row_hash = s.row_hash)  AS same_rows,
                {outside}                                                             AS outside_rows
            FROM staged s LEFT JOIN {target.table} e USING ({target.key})""",
        # What an insert or update changes, for the rollups: the rows written (every latest version; an unchanged
        # one only costs its keys a needless rebuild) and the stored rows about to be replaced.
        "written": "SELECT * FROM staged WHERE version_rank = 1",
        "replaced": f"""
            SELECT e.* FROM {target.table} e JOIN staged s USING ({target.key})
            WHERE s.version_rank = 1 AND e.row_hash <> s.row_hash""",
        "insert": f"""
            INSERT INTO {target.table} ({written}, {extra_names})
            SELECT {written}, {extra_values} FROM staged s
            WHERE version_rank = 1 AND NOT EXISTS (SELECT 1 FROM {target.table} e WHERE e.{target.key} = s.{target.key})""",
        "update": f"""
            UPDATE {target.table} SET {", ".join(sets)}
            FROM staged s
            WHERE s.version_rank = 1 AND {target.table}.{target.key} = s.{target.key}
              AND {target.table}.row_hash <> s.row_hash""",
    }
    if target.child:
        child_columns = ", ".join(target.child_columns)
        statements["delete_children"] = (
            f"DELETE FROM {target.child} WHERE {target.key} IN (SELECT {target.key} FROM staged WHERE version_rank = 1)")
        statements["insert_children"] = f"""
            INSERT INTO {target.child} ({child_columns}, batch_id)
            SELECT {", ".join(f"p.{c}" for c in target.child_columns)}, ?
            FROM incoming_children p JOIN staged s ON s.{target.key} = p.{target.key} AND s.__row = p.__row
            WHERE s.version_rank = 1"""
    return statements


def merge_rows(con: duckdb.DuckDBPyConnection, target: Target, rows: pd.DataFrame, batch_id: int,
               grid_version: int, *, children: pd.DataFrame | None = None) -> MergeCounts:
    """Insert new rows, update changed ones, count unchanged ones and in-file repeats as duplicates.

    Within one file an exact repeat is a duplicate and an earlier, different version of a key is superseded by
    the later one (counted as updated). `children` (None: the source names none) replace the child rows of every
    key in `rows`, taken from the key's latest record. Hashing and ranking run inside DuckDB.
    """
    sql = _sql(target)
    counts = MergeCounts()
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
            record_changes(con, sql["written"])
            if changed:
                record_changes(con, sql["replaced"])
        version = [grid_version] if target.versioned else []
        con.execute(sql["insert"], [*version, batch_id])
        if changed:
            con.execute(sql["update"], [*version, batch_id])
        if children is not None and target.child:
            con.execute(sql["delete_children"])
            if not children.empty:
                con.register("incoming_children", children)
                try:
                    con.execute(sql["insert_children"], [batch_id])
                finally:
                    con.unregister("incoming_children")
        con.execute("DROP TABLE staged")
    finally:
        con.unregister("incoming_rows")
    return counts
