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
from etl.beats import BeatCounts, assign_beats
from etl.config import DepartmentSource, ProjectConfig
from store.errors import UserError
from etl.grids import GridReport, load_grids
from etl.mapping import Mapping
from etl.merge import MergeCounts, Target, merge_rows
from etl.normalize import EVENT_COLUMNS, PERSON_COLUMNS, normalise
from store.publish import publishing
from etl.readers import RawTable, format_of, read_raw
from store.rollups import refresh_rollups
from etl.roster import ROSTER_COLUMNS, ROSTER_GRID_COLUMNS, normalise_roster
from store.schema import connect
from store.transaction import transaction
from etl.visits import VISIT_COLUMNS, normalise_visits

# Where each kind of source is merged (etl/merge.py); the names are constants, never input.
TARGETS: dict[str, Target] = {
    "events": Target("events", "event_id", EVENT_COLUMNS, child="persons",
                     child_columns=PERSON_COLUMNS),
    "roster": Target("roster", "worker_id", ROSTER_COLUMNS, versioned=False, child="roster_grids",
                     child_columns=ROSTER_GRID_COLUMNS),
    "visits": Target("visits", "visit_id", VISIT_COLUMNS, reset_on_update=("beat_km", "off_beat")),
}


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
            progress(0, len(todo), "grids")
        report.grids = load_grids(con, config.grids)
        index = GridIndex.from_db(con)
        roster_changed = False
        for done, (source, path) in enumerate(todo):
            if progress:
                progress(done, len(todo), f"{source.mapping.department}: {path.name}")
            result = load_file(con, source, path, config=config, grids=index)
            report.files.append(result)
            roster_changed |= source.mapping.kind == "roster" and (result.loaded + result.updated) > 0
        if roster_changed:  # every check-in's beat is measured against the roster as it is now
            assign_beats(con, visit_thresholds(config))
        if progress:
            progress(len(todo), len(todo), "done")
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
    """Refresh the pre-aggregates for layers/ (skipped when nothing changed), checkpoint and close."""
    try:
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

    # Any exception, Ctrl-C too, rolls back: the rollups refresh after it must not run inside this transaction.
    with transaction(con):
        batch_id = con.execute("SELECT nextval('batch_ids')").fetchone()[0]
        con.execute(
            "INSERT INTO load_batches (batch_id, source, file_path, file_sha256, mapping_path, started_at, status) "
            "VALUES (?, ?, ?, ?, ?, ?, 'running')",
            [batch_id, mapping.department, str(path), digest, str(mapping.path), datetime.now()],
        )
        for raw in table.chunks(CHUNK_ROWS):
            rejects = _load_chunk(con, raw, table, source.mapping, path, batch_id, config, grids, result)
            _store_rejects(con, rejects, batch_id, mapping.department)
            result.rejected += len(rejects)
            for reason, count in rejects["reason"].value_counts().items():
                reasons[reason] = reasons.get(reason, 0) + int(count)
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
                batch_id: int, config: ProjectConfig, grids: GridIndex, result: FileResult) -> pd.DataFrame:
    """Normalise and merge one chunk of a file by its mapping's kind; return the chunk's rejects."""
    target = TARGETS[mapping.kind]
    if mapping.kind == "roster":
        roster = normalise_roster(raw, table, mapping, path=path, grids=grids)
        counts = merge_rows(con, target, roster.people, batch_id, grids.version, children=roster.grids)
        rejects = roster.rejects
    elif mapping.kind == "visits":
        visits = normalise_visits(raw, table, mapping, path=path, grids=grids)
        counts = merge_rows(con, target, visits.events, batch_id, grids.version)
        rejects = visits.rejects
    else:
        normalised = normalise(raw, table, mapping, path=path, categories=config.categories, grids=grids)
        counts = merge_rows(con, target, normalised.events, batch_id, grids.version, children=normalised.persons)
        rejects = normalised.rejects
    _count(result, counts)
    return rejects


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


def _sha256(path: Path) -> str:
    """The file's SHA-256 (hex), or a UserError when it cannot be read."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file ({exc.strerror}); check it exists and is readable") from None
