"""Code → Chinese name lookups the UI and the statistics need: departments, categories, statuses and dispute classes."""

from __future__ import annotations

import duckdb

from layers import lookups_queries as q

# Canonical status → the Chinese word the UI and exports use (处置 as in the GB/T 30428 workflow).
STATUS_NAMES: dict[str, str] = {"reported": "已上报", "dispatched": "已派遣", "in_progress": "处置中", "closed": "已办结"}
# The usual order of the mediation classes (domain notes); classes found beyond these follow, sorted.
DISPUTE_CLASS_ORDER: tuple[str, ...] = (
    "婚姻家庭", "邻里", "房屋宅基地", "合同", "生产经营", "损害赔偿", "山林土地", "征地拆迁", "环境污染",
    "劳动争议", "医疗", "道路交通事故", "物业", "其他",
)
UNCLASSIFIED = "未分类"  # a dispute report without a class


def department_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Department code → Chinese name (from the mapping files, recorded at load)."""
    return dict(con.execute(q.DEPARTMENT_NAMES).fetchall())


def category_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Canonical category code → Chinese name, in code order."""
    return {code: name for code, name, _ in sorted(con.execute(q.CATEGORY_NAMES).fetchall())}


def category_codes(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every category code of the categories table, sorted."""
    return sorted(code for code, _, _ in con.execute(q.CATEGORY_NAMES).fetchall())


def departments_seen(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every department code that reported an event, sorted."""
    return [row[0] for row in con.execute(q.DEPTS_SEEN).fetchall()]


def dispute_classes(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every dispute class of the categories table and of the events, in the usual order."""
    known = {r[2] for r in con.execute(q.CATEGORY_NAMES).fetchall() if r[2]}
    known |= {r[0] for r in con.execute(q.DISPUTE_CLASSES_SEEN).fetchall()}
    ordered = [c for c in DISPUTE_CLASS_ORDER if c in known]
    return ordered + sorted(known - set(ordered))
