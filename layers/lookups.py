"""Code → Chinese name lookups the UI needs: departments and categories, as the loader recorded them."""

from __future__ import annotations

import duckdb

from layers import queries

# Canonical status → the Chinese word the UI and exports use (处置 as in the GB/T 30428 workflow).
STATUS_NAMES: dict[str, str] = {"reported": "已上报", "dispatched": "已派遣", "in_progress": "处置中", "closed": "已办结"}


def department_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Department code → Chinese name (from the mapping files, recorded at load)."""
    return dict(con.execute(queries.DEPARTMENT_NAMES).fetchall())


def category_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Canonical category code → Chinese name, in code order."""
    return {code: name for code, name, _ in sorted(con.execute(queries.CATEGORY_NAMES).fetchall())}
