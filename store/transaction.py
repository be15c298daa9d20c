"""One DuckDB transaction as a context manager: BEGIN, COMMIT on success, ROLLBACK on any exception (Ctrl-C too)."""

from __future__ import annotations

import contextlib
from typing import Iterator

import duckdb


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block in one transaction on `con`; any exception (KeyboardInterrupt included) rolls it back and
    is re-raised, so nothing that runs after the block runs inside the transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
