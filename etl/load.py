"""Loading: each department file in one transaction, with row accounting (in = loaded + updated + duplicate + rejected)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd

from etl.assign import GridIndex
from etl.config import DepartmentSource, ProjectConfig
from etl.errors import UserError
from etl.grids import GridReport, load_grids
from etl.normalize import EVENT_COLUMNS, normalise
from etl.publish import publishing
from etl.readers import format_of, read_raw
from etl.rollups import refresh_rollups
from etl.schema import connect


@dataclass
class FileResult:
    """The accounting of one file's load."""

    dept: str
    path: Path
    rows_in: int = 0
    loaded: int = 0
    updated: int = 0
    duplicate: int = 0
    rejected: int = 0
    outside_grid: int = 0
    skipped: bool = False  # the identical file was loaded before
    notes: list[str] = field(default_factory=list)  # what the reader had to guess
    top_reasons: list[tuple[str, int]] = field(default_factory=list)

    def check(self) -> None:
        """The invariant every load must keep."""
        total = self.loaded + self.updated + self.duplicate + self.rejected
        if not self.skipped and total != self.rows_in:
            raise AssertionError(f"{self.path}: row accounting broken: {self.rows_in} in, {total} accounted for")


@dataclass
class LoadReport:
    """What one `minqing load` run did."""

    grids: GridReport | None = None
    files: list[FileResult] = field(default_factory=list)


CHUNK_ROWS = 500_000  # rows normalised and merged at a time; bounds memory on multi-million-row files
Progress = Callable[[int, int, str], None]  # (files done, files in all, what is loading now)


def planned_files(config: ProjectConfig) -> list[tuple[DepartmentSource, Path]]:
    """Every department file the config names now, in load order."""
    return [(source, path) for source in config.departments for path in source.files()]


def load_project(config: ProjectConfig, *, files: list[tuple[DepartmentSource, Path]] | None = None,
                 progress: Progress | None = None) -> LoadReport:
    """Load the grids, then the given department files (default: every file the config names)."""
    report = LoadReport()
    todo = planned_files(config) if files is None else files
    with publishing(config.database) as working:
        _load_into(working, config, todo, report, progress)
    return report


def _load_into(working: Path, config: ProjectConfig, todo: list[tuple[DepartmentSource, Path]],
               report: LoadReport, progress: Progress | None) -> None:
    con = connect(str(working))
    try:
        store_categories(con, config.categories)
        store_departments(con, {s.mapping.department: s.mapping.name for s in config.departments})
        if progress:
            progress(0, len(todo), "grids")
        report.grids = load_grids(con, config.grids)
        index = GridIndex.from_db(con)
        for done, (source, path) in enumerate(todo):
            if progress:
                progress(done, len(todo), f"{source.mapping.department}: {path.name}")
            report.files.append(load_file(con, source, path, config=config, grids=index))
        if progress:
            progress(len(todo), len(todo), "done")
    except UserError:
        _finish(con)  # the files loaded before the mistake are published: their rollups must match
        raise
    except BaseException:
        con.close()  # interrupted or crashed: the working copy is discarded, nothing to finish
        raise
    _finish(con)


def _finish(con: duckdb.DuckDBPyConnection) -> None:
    """Refresh the pre-aggregates for layers/ (skipped when nothing changed), checkpoint and close."""
    try:
        refresh_rollups(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def store_categories(con: duckdb.DuckDBPyConnection, categories: dict[str, dict[str, str]]) -> None:
    """Replace the categories table with the config's canonical list."""
    rows = [(code, spec["name"], spec["domain"], spec.get("dispute_class")) for code, spec in categories.items()]
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM categories")
    if rows:
        con.executemany("INSERT INTO categories VALUES (?, ?, ?, ?)", rows)
    con.execute("COMMIT")


def store_departments(con: duckdb.DuckDBPyConnection, names: dict[str, str]) -> None:
    """Record each configured department's Chinese name (departments seen before keep theirs)."""
    if names:
        con.executemany("INSERT OR REPLACE INTO departments VALUES (?, ?)", list(names.items()))


def load_file(con: duckdb.DuckDBPyConnection, source: DepartmentSource, path: Path, *,
              config: ProjectConfig, grids: GridIndex) -> FileResult:
    """Load one file in one transaction; an identical file loaded before is skipped."""
    mapping = source.mapping
    result = FileResult(dept=mapping.department, path=path)
    digest = _sha256(path)
    seen = con.execute(
        "SELECT rows_in FROM load_batches WHERE source = ? AND file_sha256 = ? AND status = 'done' LIMIT 1",
        [mapping.department, digest],
    ).fetchone()
    if seen:
        result.skipped = True
        result.rows_in = int(seen[0])
        result.duplicate = result.rows_in
        return result
    table = read_raw(path, fmt=format_of(path, mapping.format), encoding=mapping.encoding,
                     sheet=mapping.sheet, layer=mapping.layer)
    result.rows_in = table.rows
    result.notes = list(table.notes)
    reasons: dict[str, int] = {}

    con.execute("BEGIN TRANSACTION")
    try:
        batch_id = con.execute("SELECT nextval('batch_ids')").fetchone()[0]
        con.execute(
            "INSERT INTO load_batches (batch_id, source, file_path, file_sha256, mapping_path, started_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, 'running')",
            [batch_id, mapping.department, str(path), digest, str(mapping.path), datetime.now()],
        )
        for raw in table.chunks(CHUNK_ROWS):
            normalised = normalise(raw, table, mapping, path=path, categories=config.categories, grids=grids)
            _merge_events(con, normalised.events, batch_id, grids.version, result, persons=normalised.persons)
            _store_rejects(con, normalised.rejects, batch_id, mapping.department)
            result.rejected += len(normalised.rejects)
            for reason, count in normalised.rejects["reason"].value_counts().items():
                reasons[reason] = reasons.get(reason, 0) + int(count)
        result.top_reasons = sorted(reasons.items(), key=lambda item: -item[1])[:5]
        result.check()
        con.execute(
            "UPDATE load_batches SET finished_at = ?, rows_in = ?, rows_loaded = ?, rows_updated = ?, "
            "rows_duplicate = ?, rows_rejected = ?, rows_outside_grid = ?, status = 'done' WHERE batch_id = ?",
            [datetime.now(), result.rows_in, result.loaded, result.updated, result.duplicate, result.rejected,
             result.outside_grid, batch_id],
        )
        con.execute("COMMIT")
    except BaseException:  # also Ctrl-C: the rollups refresh after it must not run inside this transaction
        con.execute("ROLLBACK")
        raise
    return result


def _store_rejects(con: duckdb.DuckDBPyConnection, rejects: pd.DataFrame, batch_id: int, dept: str) -> None:
    if rejects.empty:
        return
    frame = rejects.assign(batch_id=batch_id, source=dept)[
        ["batch_id", "source", "row_number", "field", "value", "reason", "raw"]
    ]
    con.register("incoming_rejects", frame)
    con.execute("INSERT INTO rejects SELECT * FROM incoming_rejects")
    con.unregister("incoming_rejects")


# Column names below come from the EVENT_COLUMNS constant, never from input.
_COLUMNS = ", ".join(EVENT_COLUMNS)
# DuckDB's hash() of the canonical columns: fast and stable within a DuckDB version (after an upgrade a
# re-export may count as updated once, never as lost).
_HASHED = f"CAST(hash({_COLUMNS}) AS VARCHAR)"
_STAGE_RANKED = f"""
    CREATE OR REPLACE TEMP TABLE staged AS
    SELECT *,
        row_number() OVER (PARTITION BY event_id, row_hash ORDER BY __row DESC) AS copy_rank,
        row_number() OVER (PARTITION BY event_id ORDER BY __row DESC)           AS version_rank
    FROM (SELECT *, {_HASHED} AS row_hash FROM incoming_events)
"""
_STAGE_UNIQUE = f"""
    CREATE OR REPLACE TEMP TABLE staged AS
    SELECT *, {_HASHED} AS row_hash, 1 AS copy_rank, 1 AS version_rank FROM incoming_events
"""
_COUNT = """
    SELECT
        count(*) FILTER (WHERE copy_rank > 1)                                             AS repeats,
        count(*) FILTER (WHERE copy_rank = 1 AND version_rank > 1)                        AS superseded,
        count(*) FILTER (WHERE version_rank = 1 AND e.event_id IS NULL)                   AS new_rows,
        count(*) FILTER (WHERE version_rank = 1 AND e.row_hash <> s.row_hash)             AS changed_rows,
        count(*) FILTER (WHERE version_rank = 1 AND e.row_hash = s.row_hash)              AS same_rows,
        count(*) FILTER (WHERE version_rank = 1 AND s.outside_grid)                       AS outside_rows
    FROM staged s LEFT JOIN events e USING (event_id)
"""
_INSERT_NEW = f"""
    INSERT INTO events ({_COLUMNS}, row_hash, grid_version, batch_id, updated_batch)
    SELECT {_COLUMNS}, row_hash, ?, ?, NULL FROM staged s
    WHERE version_rank = 1 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = s.event_id)
"""
_UPDATE_CHANGED = f"""
    UPDATE events SET
        {", ".join(f"{c} = s.{c}" for c in EVENT_COLUMNS if c != "event_id")},
        row_hash = s.row_hash, grid_version = ?, updated_batch = ?
    FROM staged s
    WHERE s.version_rank = 1 AND events.event_id = s.event_id AND events.row_hash <> s.row_hash
"""

# Personal data goes to persons only: an event's persons are replaced by those of its latest record
# in the file (new, updated or unchanged), so a re-load never duplicates them.
_DELETE_PERSONS = "DELETE FROM persons WHERE event_id IN (SELECT event_id FROM staged WHERE version_rank = 1)"
_INSERT_PERSONS = """
    INSERT INTO persons (event_id, role, seq, name, phone, id_number, id_valid, batch_id)
    SELECT p.event_id, p.role, p.seq, p.name, p.phone, p.id_number, p.id_valid, ?
    FROM incoming_persons p JOIN staged s ON s.event_id = p.event_id AND s.__row = p.__row
    WHERE s.version_rank = 1
"""


def _merge_events(con: duckdb.DuckDBPyConnection, events: pd.DataFrame, batch_id: int, grid_version: int,
                  result: FileResult, *, persons: pd.DataFrame | None = None) -> None:
    """Insert new events, update changed ones, count unchanged ones and in-file repeats as duplicates.

    Within one file an exact repeat is a duplicate and an earlier, different version of an id is
    superseded by the later one (counted as updated). Hashing and ranking run inside DuckDB.
    `persons` (None: the mapping names nobody) replace the persons of every event in `events`.
    """
    con.register("incoming_events", events)
    try:
        repeated_ids = bool(events["event_id"].duplicated().any())
        con.execute(_STAGE_RANKED if repeated_ids else _STAGE_UNIQUE)
        repeats, superseded, new, changed, same, outside = con.execute(_COUNT).fetchone()
        result.duplicate += int(repeats) + int(same)
        result.updated += int(superseded) + int(changed)
        result.loaded += int(new)
        result.outside_grid += int(outside)
        con.execute(_INSERT_NEW, [grid_version, batch_id])
        if changed:
            con.execute(_UPDATE_CHANGED, [grid_version, batch_id])
        if persons is not None:
            _replace_persons(con, persons, batch_id)
        con.execute("DROP TABLE staged")
    finally:
        con.unregister("incoming_events")


def _replace_persons(con: duckdb.DuckDBPyConnection, persons: pd.DataFrame, batch_id: int) -> None:
    con.execute(_DELETE_PERSONS)
    if persons.empty:
        return
    con.register("incoming_persons", persons)
    try:
        con.execute(_INSERT_PERSONS, [batch_id])
    finally:
        con.unregister("incoming_persons")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file ({exc.strerror}); check it exists and is readable") from None
    return digest.hexdigest()
