"""The DuckDB schema of the Minqing store: DDL and its creation, documented in docs/schema.md."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from store.errors import UserError

SCHEMA_VERSION = 1

STATUSES: tuple[str, ...] = ("reported", "dispatched", "in_progress", "closed")
LEVELS: tuple[str, ...] = ("large", "medium", "small")
H3_RESOLUTION = 8  # events.h3_cell: cells of about 0.74 km², the heatmap's default (layers/heatmap.py)

_DDL: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS grids (
        grid_code   VARCHAR PRIMARY KEY,
        name        VARCHAR NOT NULL,
        level       VARCHAR NOT NULL CHECK (level IN ('large', 'medium', 'small')),
        parent_code VARCHAR,
        geometry    BLOB NOT NULL,          -- WKB, EPSG:4326 (WGS84 lon/lat)
        area_km2    DOUBLE,                 -- geodesic area on the WGS84 ellipsoid
        population  INTEGER,
        version     INTEGER NOT NULL DEFAULT 1,
        valid_from  TIMESTAMP
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS grid_history (
        grid_code   VARCHAR NOT NULL,
        name        VARCHAR NOT NULL,
        level       VARCHAR NOT NULL,
        parent_code VARCHAR,
        geometry    BLOB NOT NULL,
        area_km2    DOUBLE,
        population  INTEGER,
        version     INTEGER NOT NULL,
        valid_from  TIMESTAMP,
        valid_to    TIMESTAMP NOT NULL,
        PRIMARY KEY (grid_code, version)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS categories (
        code          VARCHAR PRIMARY KEY,
        name          VARCHAR NOT NULL,     -- Chinese label shown in the UI
        domain        VARCHAR NOT NULL,     -- dispute | urban | police | hotline | petition | land | grid
        dispute_class VARCHAR               -- Chinese dispute class when this category is a dispute
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS departments (
        code VARCHAR PRIMARY KEY,            -- the mapping's department code (events.dept)
        name VARCHAR NOT NULL                -- its Chinese name, shown in the UI
    )
    """,
    """
    CREATE SEQUENCE IF NOT EXISTS batch_ids START 1
    """,
    """
    CREATE TABLE IF NOT EXISTS load_batches (
        batch_id          INTEGER PRIMARY KEY,
        source            VARCHAR NOT NULL,  -- department code
        file_path         VARCHAR NOT NULL,
        file_sha256       VARCHAR NOT NULL,
        mapping_path      VARCHAR,
        started_at        TIMESTAMP NOT NULL,
        finished_at       TIMESTAMP,
        rows_in           INTEGER NOT NULL DEFAULT 0,
        rows_loaded       INTEGER NOT NULL DEFAULT 0,
        rows_updated      INTEGER NOT NULL DEFAULT 0,
        rows_duplicate    INTEGER NOT NULL DEFAULT 0,
        rows_rejected     INTEGER NOT NULL DEFAULT 0,
        rows_outside_grid INTEGER NOT NULL DEFAULT 0,
        status            VARCHAR NOT NULL DEFAULT 'done',
        mapping_sha256    VARCHAR            -- hash of the mapping that read the file (NULL: loaded before it was kept)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS events (
        event_id      VARCHAR PRIMARY KEY,   -- '<dept>:<source_id>'
        dept          VARCHAR NOT NULL,
        source_id     VARCHAR NOT NULL,
        category      VARCHAR NOT NULL,      -- canonical code, see categories
        dispute_class VARCHAR,
        is_dispute    BOOLEAN NOT NULL,
        status        VARCHAR NOT NULL CHECK (status IN ('reported', 'dispatched', 'in_progress', 'closed')),
        reported_at   TIMESTAMP NOT NULL,    -- local China time (Asia/Shanghai), no offset
        dispatched_at TIMESTAMP,
        closed_at     TIMESTAMP,
        due_at        TIMESTAMP,
        lon           DOUBLE,                -- WGS84
        lat           DOUBLE,
        location_from VARCHAR NOT NULL,      -- 'point' | 'grid_code' | 'none'
        outside_grid  BOOLEAN NOT NULL DEFAULT FALSE,
        grid_small    VARCHAR,
        grid_medium   VARCHAR,
        grid_large    VARCHAR,
        grid_version  INTEGER,               -- boundary version the grid codes were assigned under
        incident_id   VARCHAR NOT NULL,      -- event_id of the first report of the same incident
        address       VARCHAR,
        description   VARCHAR,
        row_hash      VARCHAR NOT NULL,      -- hash of the canonical row, to tell updates from duplicates
        batch_id      INTEGER NOT NULL,      -- batch that first loaded the event
        updated_batch INTEGER,               -- batch that last changed it
        h3_cell       BIGINT                 -- H3 cell (resolution H3_RESOLUTION) of lon/lat, NULL without a point
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS persons (
        event_id  VARCHAR NOT NULL,          -- events.event_id of the record naming the person
        role      VARCHAR NOT NULL,          -- the mapping's [[persons]] role, e.g. petitioner, applicant
        seq       INTEGER NOT NULL,          -- position of the role in the mapping (display order)
        name      VARCHAR,                   -- personal data: never copied into events or map layers
        phone     VARCHAR,
        id_number VARCHAR,                   -- kept as given (spaces removed, x upper-cased) even when invalid
        id_valid  BOOLEAN,                   -- GB 11643 check: NULL when there is no ID number
        batch_id  INTEGER NOT NULL           -- batch that last wrote the event's persons
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS roster (
        worker_id     VARCHAR PRIMARY KEY,   -- the roster's person id, as the check-ins name it
        source        VARCHAR NOT NULL,      -- the roster mapping's department code
        role          VARCHAR NOT NULL CHECK (role IN ('grid_leader', 'grid_worker', 'household_head')),
        name          VARCHAR,               -- personal data: shown masked except to roles allowed to see it
        phone         VARCHAR,
        households    INTEGER,               -- households a household head (联户长) is responsible for
        start_date    DATE,
        end_date      DATE,                  -- NULL while in post
        grid_codes    VARCHAR NOT NULL,      -- the grid codes as listed, joined with ','
        row_hash      VARCHAR NOT NULL,
        batch_id      INTEGER NOT NULL,
        updated_batch INTEGER
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS roster_grids (
        worker_id   VARCHAR NOT NULL,        -- roster.worker_id
        seq         INTEGER NOT NULL,        -- position of the grid in the person's list
        grid_code   VARCHAR NOT NULL,        -- the grid the person looks after (any level: a leader's village)
        level       VARCHAR NOT NULL,
        grid_small  VARCHAR,                 -- the grid and its parents at each level (NULL below the grid's level)
        grid_medium VARCHAR,
        grid_large  VARCHAR,
        batch_id    INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS visits (
        visit_id      VARCHAR PRIMARY KEY,   -- '<source>:<source_id>'
        source        VARCHAR NOT NULL,
        source_id     VARCHAR NOT NULL,
        worker_id     VARCHAR NOT NULL,
        visited_at    TIMESTAMP NOT NULL,    -- local China time
        visit_type    VARCHAR NOT NULL CHECK (visit_type IN ('household', 'patrol', 'follow_up')),
        event_id      VARCHAR,               -- the event followed up on site (events.event_id), if named
        lon           DOUBLE,                -- WGS84
        lat           DOUBLE,
        location_from VARCHAR NOT NULL,
        outside_grid  BOOLEAN NOT NULL DEFAULT FALSE,
        grid_small    VARCHAR,               -- the grid the check-in lies in: the visit counts for it
        grid_medium   VARCHAR,
        grid_large    VARCHAR,
        grid_version  INTEGER,
        beat_km       DOUBLE,                -- distance to the nearest of the worker's own grids (0 inside one;
                                             -- NULL: worker not on the roster, or no point)
        off_beat      BOOLEAN,               -- beat_km beyond the mapping's off_beat_km: kept and flagged
        address       VARCHAR,
        description   VARCHAR,
        row_hash      VARCHAR NOT NULL,
        batch_id      INTEGER NOT NULL,
        updated_batch INTEGER
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS rejects (
        batch_id   INTEGER NOT NULL,
        source     VARCHAR NOT NULL,
        row_number INTEGER NOT NULL,         -- 1-based data row in the source file (header excluded)
        field      VARCHAR,
        value      VARCHAR,
        reason     VARCHAR NOT NULL,
        raw        VARCHAR                   -- the source row as JSON
    )
    """,
)

_MIGRATIONS: tuple[str, ...] = (
    "ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS mapping_sha256 VARCHAR",
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS h3_cell BIGINT",  # filled for older rows by the next load
)


def create_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table of the store if missing and record the schema version."""
    for statement in _DDL:
        con.execute(statement)
    for statement in _MIGRATIONS:  # columns added since the table first shipped: stores made before get them too
        con.execute(statement)
    con.execute(
        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
    )


# Tables a first load may fill without their primary key and index it once at the end (etl/load.py): an index
# built in one pass over the loaded rows costs a fraction of keeping it up to date row by row.
BULK_KEYS: dict[str, str] = {"events": "event_id", "visits": "visit_id"}


def _table_ddl(table: str) -> str:
    return next(d for d in _DDL if re.search(rf"CREATE TABLE IF NOT EXISTS {table} \(", d))


def has_primary_key(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether `table` (one of BULK_KEYS) has its primary key now."""
    return bool(con.execute("SELECT count(*) FROM duckdb_constraints() WHERE table_name = ? AND schema_name = "
                            "'main' AND constraint_type = 'PRIMARY KEY'", [table]).fetchone()[0])


def drop_primary_key(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Recreate the EMPTY `table` (one of BULK_KEYS) with its key column NOT NULL but not yet a primary key."""
    key = BULK_KEYS[table]
    ddl, replaced = re.subn(rf"\b{key}(\s+)VARCHAR PRIMARY KEY", rf"{key}\1VARCHAR NOT NULL", _table_ddl(table))
    assert replaced == 1, f"the DDL of {table} names no primary key {key}"
    if con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]:
        raise ValueError(f"{table} has rows: its primary key stays")
    con.execute(f"DROP TABLE {table}")
    con.execute(ddl)


def restore_primary_keys(con: duckdb.DuckDBPyConnection) -> None:
    """Give every BULK_KEYS table that lacks it its primary key back (built in one pass over the rows)."""
    for table, key in BULK_KEYS.items():
        if not has_primary_key(con, table):
            con.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({key})")


WRITER_MEMORY_LIMIT = "512MB"  # DuckDB spills beyond this; a 5M-row first load peaks near 2.8 GB in all (1.5 GB: 3.8 GB, no faster)
# The load's last step (keys, rollups, checkpoint) runs after the files' rows have left Python's memory: DuckDB may
# take more then, without raising the load's peak, and the rollups' grouping stays off the disk.
FINISH_MEMORY_LIMIT = "3GB"


def connect(path: str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store at `path`; a writable connection also creates the schema."""
    config = {} if read_only else {"memory_limit": WRITER_MEMORY_LIMIT}
    con = duckdb.connect(path, read_only=read_only, config=config)
    if not read_only:
        create_schema(con)
    return con


CORE_TABLES = frozenset({"events", "grids", "categories"})


def open_published(path: Path) -> duckdb.DuckDBPyConnection:
    """The published store at `path`, read-only; a missing file, a file DuckDB cannot open or a file that is not a
    Minqing store is a UserError that names the path and the fix."""
    if not path.exists():
        raise UserError(f"{path}: no such database; build one with `minqing demo` or `minqing load --config FILE`")
    if not path.is_file():
        raise UserError(f"{path}: is a folder, not a database file; pass the .duckdb file `minqing load` wrote")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise UserError(f"{path}: cannot open it as a DuckDB store ({exc}); pass the file `minqing load` wrote, "
                        "or wait for a running `minqing load` to finish") from None
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if not CORE_TABLES <= tables:
        con.close()
        raise UserError(f"{path}: not a Minqing store (no events/grids tables); pass the file `minqing load` wrote")
    return con
