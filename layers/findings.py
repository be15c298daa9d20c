"""The one shape of an analysis finding (a warning row): its kinds, columns, labels and how a frame of them is
finished; shared by layers/warnings.py and layers/repeats.py."""

from __future__ import annotations

import duckdb
import pandas as pd

from layers.stats import grid_table

__all__ = ["KINDS", "WARNING_COLUMNS", "empty", "finish", "labels"]

KINDS: dict[str, str] = {
    "spike_7d": "近7日异常增多",
    "spike_1d": "今日异常增多",
    "backlog": "超期积压",
    "repeat_place": "重复发生地点",
    "repeat_person": "重复来访当事人",
    "patrol_gap": "巡查薄弱且事件上升",
}
WARNING_COLUMNS: tuple[str, ...] = (
    "grid_code", "grid_name", "parent_name", "grandparent_name", "level", "kind", "kind_name", "key", "key_name",
    "observed", "expected", "ratio", "p_value", "window_start", "window_end", "sentence",
)


def labels(con: duckdb.DuckDBPyConnection, level: str) -> pd.DataFrame:
    """grid_code, grid_name, parent_name, grandparent_name of every grid of `level`."""
    grids = grid_table(con, level)
    return grids[["grid_code", "name", "parent_name", "grandparent_name"]].rename(columns={"name": "grid_name"})


def empty() -> pd.DataFrame:
    """No findings, with the columns and types of a findings frame."""
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in WARNING_COLUMNS})
    return frame.astype({"observed": "int64", "expected": "float64", "ratio": "float64", "p_value": "float64"})


def finish(frame: pd.DataFrame) -> pd.DataFrame:
    """The findings in WARNING_COLUMNS (kind_name from KINDS), strongest (smallest p) first."""
    frame["kind_name"] = frame["kind"].map(KINDS)
    for column in WARNING_COLUMNS:
        if column not in frame:
            frame[column] = None
    frame = frame[list(WARNING_COLUMNS)].astype({"observed": "int64"})
    return frame.sort_values(["p_value", "grid_code", "key"], kind="stable", na_position="last").reset_index(drop=True)
