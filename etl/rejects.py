"""Reading the quarantine: rejected rows with their file, row number, field, value and reason."""

from __future__ import annotations

import duckdb
import pandas as pd

_REJECTS = """
    SELECT r.source AS dept, b.file_path, r.row_number, r.field, r.value, r.reason, r.raw
    FROM rejects r JOIN load_batches b USING (batch_id)
    WHERE (CAST(? AS VARCHAR) IS NULL OR r.source = ?)
    ORDER BY r.batch_id, r.row_number
    LIMIT ?
"""
_REASON_COUNTS = """
    SELECT source AS dept, reason, count(*) AS rows
    FROM rejects
    WHERE (CAST(? AS VARCHAR) IS NULL OR source = ?)
    GROUP BY ALL ORDER BY rows DESC
"""


def list_rejects(con: duckdb.DuckDBPyConnection, *, dept: str | None = None, limit: int = 50) -> pd.DataFrame:
    """The first `limit` quarantined rows, optionally of one department."""
    return con.execute(_REJECTS, [dept, dept, limit]).df()


def reason_counts(con: duckdb.DuckDBPyConnection, *, dept: str | None = None) -> pd.DataFrame:
    """How many rows each reason quarantined, per department."""
    return con.execute(_REASON_COUNTS, [dept, dept]).df()
