"""Loading: each department file in one transaction, with row accounting (in = loaded + updated + duplicate + rejected)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd

from etl.assign import GridIndex
from etl.beats import BeatCounts, assign_beats
from etl.config import DepartmentSource, ProjectConfig
from store.errors import UserError
from etl.grids import GridReport, load_grids
from etl.h3cells import fill_missing_cells, h3_cells
from etl.mapping import Mapping
from etl.merge import MergeCounts, Target, merge_rows
from etl.normalize import EVENT_COLUMNS, PERSON_COLUMNS, normalise
from store.publish import publishing
from etl.readers import RawTable, format_of, read_raw
from store.rollups import record_changes, refresh_rollups, track_changes
from etl.roster import ROSTER_COLUMNS, ROSTER_GRID_COLUMNS, normalise_roster
from store.schema import BULK_KEYS, FINISH_MEMORY_LIMIT, connect, drop_primary_key, restore_primary_keys
from store.transaction import transaction
from etl.visits import VISIT_COLUMNS, normalise_visits

# Where each kind of source is merged (etl/merge.py); the names are constants, never input.
TARGETS: dict[str, Target] = {
    "events": Target("events", "event_id", EVENT_COLUMNS, child="persons",
                     child_columns=PERSON_COLUMNS, rollups=True, derived=("h3_cell",)),
    "roster": Target("roster", "worker_id", ROSTER_COLUMNS, versioned=False, child="roster_grids",
                     child_columns=ROSTER_GRID_COLUMNS),
    "visits": Target("visits", "visit_id", VISIT_COLUMNS, reset_on_update=("beat_km", "off_beat")),
}
# Each target's column naming the department (mapping code) that wrote a row: a re-read replaces only its own rows.
SOURCE_COLUMNS: dict[str, str] = {"events": "dept", "roster": "source", "visits": "source"}


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
    skipped: bool = False  # the identical file was loaded before with the same mapping
    removed: int = 0  # rows this file gave before that its re-read (a changed mapping) no longer gives: removed
    error: str | None = None  # the file failed (nothing of it loaded): the message saying why and what to do
    rejected_before: int = 0  # a skipped file: how many of its rows the load it repeats rejected
    notes: list[str] = field(default_factory=list)  # what the reader had to guess
    top_reasons: list[tuple[str, int]] = field(default_factory=list)

    def check(self) -> None:
        """The invariant every load must keep."""
        total = self.loaded + self.updated + self.duplicate + self.rejected
        if not self.skipped and self.error is None and total != self.rows_in:
            raise AssertionError(f"{self.path}: row accounting broken: {self.rows_in} in, {total} accounted for")

    @property
    def problem(self) -> str | None:
        """Why this file makes `minqing load` exit 2: it failed, or none of its rows made it into the store."""
        if self.error is not None:
            return self.error
        if self.skipped and self.rows_in and self.rejected_before == self.rows_in:
            return (f"unchanged since its last load, which rejected every one of its {self.rows_in:,} rows; fix the "
                    "mapping (see `minqing rejects`) and load again")
        if not self.skipped and self.rows_in and self.rejected == self.rows_in:
            return (f"every one of its {self.rows_in:,} rows was rejected; see `minqing rejects --dept {self.dept}`, "
                    "fix the mapping (or the file) and load again")
        return None


@dataclass
class LoadReport:
    """What one `minqing load` run did."""

    grids: GridReport | None = None
    files: list[FileResult] = field(default_factory=list)

    @property
    def problems(self) -> list[FileResult]:
        """The files that failed or had every row rejected (`minqing load` then exits 2)."""
        return [f for f in self.files if f.problem is not None]


CHUNK_ROWS = 500_000  # rows normalised and merged at a time; bounds memory on multi-million-row files
Progress = Callable[[int, int, str], None]  # (bytes of the files loaded so far, bytes in all, what is loading now)


def planned_files(config: ProjectConfig) -> list[tuple[DepartmentSource, Path]]:
    """Every department file the config names now, in load order."""
    return [(source, path) for source in config.departments for path in source.files()]


def load_project(config: ProjectConfig, *, files: list[tuple[DepartmentSource, Path]] | None = None,
                 progress: Progress | None = None) -> LoadReport:
    """Load the grids, then the given department files (default: every file the config names)."""
    report = LoadReport()
    todo = planned_files(config) if files is None else files
    check_store_file(config.database)
    with publishing(config.database, mode=config.file_mode) as working:
        _load_into(working, config, todo, report, progress)
    return report


def _load_into(working: Path, config: ProjectConfig, todo: list[tuple[DepartmentSource, Path]],
               report: LoadReport, progress: Progress | None) -> None:
    con = connect(str(working))
    try:
        store_categories(con, config.categories)
        store_departments(con, {s.mapping.department: s.mapping.name for s in config.departments})
        if progress:
            progress(0, 1, "网格 / grids")
        track_changes(con)  # so the rollups' refresh at the end rebuilds only what this load changes
        record_timezone(con, config.timezone)
        if config.city:
            con.execute("INSERT OR REPLACE INTO meta VALUES ('city', ?)", [config.city])
        report.grids = load_grids(con, config.grids, area=config.area)
        filled = {TARGETS[source.mapping.kind].table for source, _path in todo}
        for table in BULK_KEYS:  # a first load: the key is indexed once at the end (_finish), not row by row
            if table in filled and not con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]:
                drop_primary_key(con, table)
        index = GridIndex.from_db(con)
        roster_changed = False
        sizes = [_size(path) for _, path in todo]
        total, done = max(sum(sizes), 1), 0
        for size, (source, path) in zip(sizes, todo):
            what = f"{source.mapping.department}: {path.name}"

            def advance(fraction: float, start: int = done, size: int = size, what: str = what) -> None:
                if progress:
                    progress(start + int(size * fraction), total, what)

            advance(0.0)
            try:
                result = load_file(con, source, path, config=config, grids=index, on_chunk=advance)
            except UserError as exc:  # this file's transaction rolled back; the other files still load
                result = FileResult(dept=source.mapping.department, path=path, error=str(exc))
            report.files.append(result)
            done += size
            roster_changed |= source.mapping.kind == "roster" and (result.loaded + result.updated) > 0
        if roster_changed:  # every check-in's beat is measured against the roster as it is now
            assign_beats(con, visit_thresholds(config))
        if progress:
            progress(total, total, "索引与汇总 / keys and rollups")
    except UserError:
        _finish(con)  # the files loaded before the mistake are published: their rollups must match
        raise
    except BaseException:
        con.close()  # interrupted or crashed: the working copy is discarded, nothing to finish
        raise
    _finish(con)


def visit_thresholds(config: ProjectConfig) -> dict[str, float]:
    """Each visits source's off-beat distance (km), from its mapping."""
    return {s.mapping.department: s.mapping.off_beat_km for s in config.departments if s.mapping.kind == "visits"}


def _finish(con: duckdb.DuckDBPyConnection) -> None:
    """Index the keys a first load left unindexed, refresh the pre-aggregates for layers/ (skipped when nothing
    changed), checkpoint and close."""
    try:
        con.execute(f"SET memory_limit = '{FINISH_MEMORY_LIMIT}'")
        restore_primary_keys(con)
        con.execute("CHECKPOINT")  # the rows and their key written once, before the rollups are built
        fill_missing_cells(con)  # rows of a store from before events.h3_cell
        refresh_rollups(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def store_categories(con: duckdb.DuckDBPyConnection, categories: dict[str, dict[str, str]]) -> None:
    """Replace the categories table with the config's canonical list."""
    rows = [(code, spec["name"], spec["domain"], spec.get("dispute_class")) for code, spec in categories.items()]
    with transaction(con):
        con.execute("DELETE FROM categories")
        if rows:
            con.executemany("INSERT INTO categories VALUES (?, ?, ?, ?)", rows)


def record_timezone(con: duckdb.DuckDBPyConnection, zone: str) -> None:
    """Record the store's zone in meta ('timezone'): every stored time is naive local time in it. A store loaded
    before in another zone is refused: its times would mix two zones."""
    row = con.execute("SELECT value FROM meta WHERE key = 'timezone'").fetchone()
    loaded = con.execute("SELECT count(*) FROM load_batches").fetchone()[0]
    if row is not None and row[0] != zone and loaded:
        raise UserError(f"minqing.toml: timezone = {zone!r}, but the store holds times in {row[0]!r}; set timezone "
                        f"back to {row[0]!r}, or point database at a new file to load everything in {zone!r}")
    con.execute("INSERT OR REPLACE INTO meta VALUES ('timezone', ?)", [zone])


def store_departments(con: duckdb.DuckDBPyConnection, names: dict[str, str]) -> None:
    """Record each configured department's Chinese name (departments seen before keep theirs)."""
    if names:
        con.executemany("INSERT OR REPLACE INTO departments VALUES (?, ?)", list(names.items()))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # gone or unreadable: load_file says so
        return 0


def load_file(con: duckdb.DuckDBPyConnection, source: DepartmentSource, path: Path, *,
              config: ProjectConfig, grids: GridIndex,
              on_chunk: Callable[[float], None] | None = None) -> FileResult:
    """Load one file in one transaction; an identical file read before with the same mapping is skipped.

    The same bytes read before with another mapping are read again and replace what they gave: the same keys are
    updated, keys the file no longer gives are removed (from this department, when no other file changed them
    since), and the rows its earlier reads quarantined are cleared from the rejects (the rows still wrong are
    quarantined again)."""
    mapping = source.mapping
    result = FileResult(dept=mapping.department, path=path)
    digest = _sha256(path)
    mapping_digest = source.mapping_sha256 or None
    earlier = con.execute(
        "SELECT batch_id, rows_in, rows_rejected, mapping_sha256 IS NOT DISTINCT FROM ? FROM load_batches "
        "WHERE source = ? AND file_sha256 = ? AND status = 'done' ORDER BY batch_id",
        [mapping_digest, mapping.department, digest],
    ).fetchall()
    if earlier and earlier[-1][3]:  # the last read of these bytes used this mapping: the store holds what it gave
        result.skipped = True
        result.rows_in = int(earlier[-1][1])
        result.duplicate = result.rows_in
        result.rejected_before = int(earlier[-1][2])
        return result
    replaced = [int(row[0]) for row in earlier]  # batches of these bytes under other mappings
    table = read_raw(path, fmt=format_of(path, mapping.format), encoding=mapping.encoding,
                     sheet=mapping.sheet, layer=mapping.layer, options=mapping.read)
    result.rows_in = table.rows
    result.notes = list(table.notes)
    reasons: dict[str, int] = {}

    # Any exception, Ctrl-C too, rolls back: the rollups refresh after it must not run inside this transaction.
    with transaction(con):
        batch_id = con.execute("SELECT nextval('batch_ids')").fetchone()[0]
        con.execute(
            "INSERT INTO load_batches (batch_id, source, file_path, file_sha256, mapping_path, mapping_sha256, "
            "started_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'running')",
            [batch_id, mapping.department, str(path), digest, str(mapping.path), mapping_digest, datetime.now()],
        )
        if replaced:
            _start_replacing(con, replaced, mapping.department)
        for raw in table.chunks(CHUNK_ROWS):
            rejects = _load_chunk(con, raw, table, source.mapping, path, batch_id, config, grids, result,
                                  keep_keys=bool(replaced))
            _store_rejects(con, rejects, batch_id, mapping.department)
            result.rejected += len(rejects)
            for reason, count in rejects["reason"].value_counts().items():
                reasons[reason] = reasons.get(reason, 0) + int(count)
            if on_chunk and result.rows_in:  # the share of the file's rows done so far
                on_chunk(min(1.0, (result.loaded + result.updated + result.duplicate + result.rejected)
                             / result.rows_in))
        if replaced:
            result.removed = _remove_unproduced(con, TARGETS[mapping.kind], replaced, mapping)
            if result.removed:
                result.notes.append(f"{result.removed:,} row(s) this file gave under its earlier mapping are no "
                                    "longer in it under the current one: removed")
        if mapping.kind == "visits":
            beats = assign_beats(con, {mapping.department: mapping.off_beat_km}, batch_id=batch_id)
            result.notes += _beat_notes(beats, mapping)
        result.top_reasons = sorted(reasons.items(), key=lambda item: -item[1])[:5]
        result.check()
        con.execute(
            "UPDATE load_batches SET finished_at = ?, rows_in = ?, rows_loaded = ?, rows_updated = ?, "
            "rows_duplicate = ?, rows_rejected = ?, rows_outside_grid = ?, status = 'done' WHERE batch_id = ?",
            [datetime.now(), result.rows_in, result.loaded, result.updated, result.duplicate, result.rejected,
             result.outside_grid, batch_id],
        )
    return result


def _load_chunk(con: duckdb.DuckDBPyConnection, raw: pd.DataFrame, table: RawTable, mapping: Mapping, path: Path,
                batch_id: int, config: ProjectConfig, grids: GridIndex, result: FileResult, *,
                keep_keys: bool = False) -> pd.DataFrame:
    """Normalise and merge one chunk of a file by its mapping's kind; return the chunk's rejects. `keep_keys`
    records the chunk's keys in the temp table produced_keys (a re-read removes the keys it no longer gives)."""
    target = TARGETS[mapping.kind]
    if mapping.kind == "roster":
        roster = normalise_roster(raw, table, mapping, path=path, grids=grids)
        rows = roster.people
        counts = merge_rows(con, target, rows, batch_id, grids.version, children=roster.grids)
        rejects = roster.rejects
    elif mapping.kind == "visits":
        visits = normalise_visits(raw, table, mapping, path=path, grids=grids)
        rows = visits.events
        counts = merge_rows(con, target, rows, batch_id, grids.version)
        rejects = visits.rejects
    else:
        normalised = normalise(raw, table, mapping, path=path, categories=config.categories, grids=grids)
        rows = normalised.events
        rows["h3_cell"] = h3_cells(rows["lon"].to_numpy(dtype=float), rows["lat"].to_numpy(dtype=float))
        counts = merge_rows(con, target, rows, batch_id, grids.version, children=normalised.persons)
        rejects = normalised.rejects
        result.notes += [n for n in normalised.notes if n not in result.notes]
    if keep_keys and not rows.empty:
        con.register("chunk_keys", rows[[target.key]].rename(columns={target.key: "key"}))
        try:
            con.execute("INSERT INTO produced_keys SELECT CAST(key AS VARCHAR) FROM chunk_keys")
        finally:
            con.unregister("chunk_keys")
    _count(result, counts)
    return rejects


def _start_replacing(con: duckdb.DuckDBPyConnection, replaced: list[int], dept: str) -> None:
    """Before a re-read: clear the rejects of the earlier reads, start collecting the keys this read gives."""
    con.execute("DELETE FROM rejects WHERE source = ? AND list_contains(?, batch_id)", [dept, replaced])
    con.execute("CREATE OR REPLACE TEMP TABLE produced_keys (key VARCHAR)")


def _remove_unproduced(con: duckdb.DuckDBPyConnection, target: Target, replaced: list[int], mapping: Mapping) -> int:
    """Remove (with their child rows) the rows the earlier reads of a file wrote last that this read did not give;
    the number removed. Rows another file changed since are that file's and stay."""
    source = SOURCE_COLUMNS[mapping.kind]
    stale = (f"SELECT {target.key} FROM {target.table} WHERE {source} = ? "
             f"AND list_contains(?, coalesce(updated_batch, batch_id)) "
             f"AND {target.key} NOT IN (SELECT key FROM produced_keys)")
    try:
        count = int(con.execute(f"SELECT count(*) FROM ({stale})", [mapping.department, replaced]).fetchone()[0])
        if count:
            if target.rollups:
                record_changes(con, f"SELECT * FROM {target.table} WHERE {target.key} IN ({stale})",
                               [mapping.department, replaced], sign=-1)
            if target.child:
                con.execute(f"DELETE FROM {target.child} WHERE {target.key} IN ({stale})",
                            [mapping.department, replaced])
            con.execute(f"DELETE FROM {target.table} WHERE {target.key} IN ({stale})", [mapping.department, replaced])
    finally:
        con.execute("DROP TABLE IF EXISTS produced_keys")
    return count


def _count(result: FileResult, counts: MergeCounts) -> None:
    result.loaded += counts.loaded
    result.updated += counts.updated
    result.duplicate += counts.duplicate
    result.outside_grid += counts.outside_grid


def _beat_notes(beats: BeatCounts, mapping: Mapping) -> list[str]:
    """What the load report says about check-ins off their worker's beat or by people not on the roster."""
    notes = []
    if beats.off_beat:
        notes.append(f"{beats.off_beat:,} check-in(s) more than {mapping.off_beat_km:g} km from all of the "
                     "worker's grids: kept and flagged off-beat (visits.off_beat)")
    if beats.unknown_worker:
        notes.append(f"{beats.unknown_worker:,} check-in(s) by worker ids not on the roster: kept; load the roster "
                     "that lists them (their distance is measured then)")
    return notes


def _store_rejects(con: duckdb.DuckDBPyConnection, rejects: pd.DataFrame, batch_id: int, dept: str) -> None:
    if rejects.empty:
        return
    frame = rejects.assign(batch_id=batch_id, source=dept)[
        ["batch_id", "source", "row_number", "field", "value", "reason", "raw"]
    ]
    con.register("incoming_rejects", frame)
    con.execute("INSERT INTO rejects SELECT * FROM incoming_rejects")
    con.unregister("incoming_rejects")


DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file


def check_store_file(database: Path) -> None:
    """The configured `database` must be a DuckDB file, or not exist yet, in a folder this user may write; anything
    else is one UserError naming the file and the fix (the file is never touched)."""
    where = "`database` in minqing.toml"
    if database.is_dir():
        raise UserError(f"{database}: is a folder, not a database file; point {where} at a file in it, "
                        f"e.g. database = \"{database.name}/minqing.duckdb\"")
    if database.exists():
        try:
            with database.open("rb") as handle:
                head = handle.read(12)
        except OSError as exc:
            raise UserError(f"{database}: cannot read the store ({exc.strerror}); give this user read access to it "
                            f"or point {where} at another file") from None
        if not head:
            raise UserError(f"{database}: is empty (0 bytes), not a DuckDB store; delete it (rm {database}) and "
                            f"load again to build a new store there, or point {where} at the store")
        if head[8:12] != DUCKDB_MAGIC:
            raise UserError(f"{database}: is not a DuckDB file; point {where} at the store `minqing load` wrote, "
                            "or at a new file name to build one there (this file was left as it is)")
    folder = database.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{database}: the folder {folder} is read-only for this user, and a load writes its working "
                        f"copy and lock beside the store; make it writable (chmod u+w {folder}) or point {where} "
                        "into a folder you may write")


def _sha256(path: Path) -> str:
    """The file's SHA-256 (hex), or a UserError when it cannot be read."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file ({exc.strerror}); check it exists and is readable") from None
