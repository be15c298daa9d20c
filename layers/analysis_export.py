"""CSV and XLSX of the analysis findings (warnings, hotspots, emerging hotspots), through layers.export's writers and
the one cell neutraliser: Chinese headers, one row per finding, numbers as numbers."""

from __future__ import annotations

import pandas as pd

from layers.cells import CellCleaner
from layers.export import Target, _display, _write_csv, _write_xlsx

__all__ = ["WARNING_HEADERS", "HOTSPOT_HEADERS", "EMERGING_HEADERS", "write_findings"]

WARNING_HEADERS: dict[str, str] = {
    "grid_code": "网格编码", "grid_name": "网格名称", "parent_name": "上级网格", "grandparent_name": "上上级网格",
    "kind_name": "预警类型", "key_name": "类别/部门", "observed": "实际数", "expected": "预期数", "ratio": "倍数",
    "p_value": "P值", "window_start": "起始时间", "window_end": "截止时间", "sentence": "预警说明",
}
HOTSPOT_HEADERS: dict[str, str] = {
    "grid_code": "网格编码", "name": "网格名称", "parent_name": "上级网格", "population": "常住人口",
    "incidents": "事件数", "value": "指标值", "z": "Gi*得分(z)", "p_value": "P值", "gi_class": "热点分类",
}
EMERGING_HEADERS: dict[str, str] = {
    "grid_code": "网格编码", "name": "网格名称", "parent_name": "上级网格", "incidents": "事件数",
    "hot_weeks": "热点周数", "last_z": "最近一周z", "trend_z": "趋势z(Mann-Kendall)", "trend_p": "趋势P值",
    "emerging_class": "时空热点分类",
}


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in ("expected", "ratio", "value", "z", "last_z", "trend_z"):
        if column in out:
            out[column] = out[column].astype("Float64").round(2)
    for column in ("p_value", "trend_p"):
        if column in out:
            out[column] = out[column].astype("Float64").round(4)
    return out


def write_findings(frame: pd.DataFrame, headers: dict[str, str], fmt: str, target: Target, *,
                   sheet: str = "研判结果") -> list[str]:
    """The columns of `headers` (in its order) of `frame`, Chinese headers, as CSV (UTF-8 with BOM) or XLSX."""
    clean = CellCleaner()
    table = _display(_rounded(frame[[c for c in headers if c in frame.columns]]), headers, clean)
    if fmt == "csv":
        _write_csv(table, target)
        return clean.notes()
    return clean.notes() + _write_xlsx([(sheet, table)], target)
