"""CSV and XLSX writers for dispute statistics, event rows, meeting reports and audit entries.

Each writer takes a DataFrame (from layers.stats / layers.disputes / layers.review / access.audit) and a path or a
binary buffer (a BytesIO for a dashboard download button), and returns the notes of what it changed (characters it
had to remove). Headers are Chinese. CSV is UTF-8 with a BOM (Excel opens it without garbling). Every text cell
goes through the one neutraliser, layers.cells (control characters out first, then formula starts prefixed with
an apostrophe); numbers are written as numbers and XLSX text cells as explicit strings.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Mapping

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from store.errors import UserError
from layers.cells import CellCleaner
from layers.lookups import STATUS_NAMES

__all__ = [
    "write_disputes_csv", "write_disputes_xlsx", "write_events_csv", "write_events_xlsx",
    "write_supervision_csv", "write_supervision_xlsx",
    "write_review_csv", "write_review_xlsx", "LEVEL_SHEETS", "CITY_SHEET", "DISPUTE_HEADERS", "EVENT_HEADERS",
    "REVIEW_HEADERS", "dispute_headers", "write_audit_csv", "opened",
]

Target = str | os.PathLike | BinaryIO

LEVEL_SHEETS: dict[str, str] = {"large": "大网格", "medium": "中网格", "small": "小网格"}
CITY_SHEET = "全市合计"
XLSX_MAX_ROWS = 1_048_575  # one row of the sheet is the header
XLSX_MAX_CELL = 32_767  # characters an Excel cell holds (openpyxl would cut longer text silently)
MAX_WIDTH = 50
MIN_WIDTH = 8

DISPUTE_HEADERS: dict[str, str] = {
    "scope_code": "范围编码", "scope_name": "范围",
    "grid_code": "网格编码", "name": "网格名称",
    "medium_code": "所属中网格编码", "medium_name": "所属中网格",
    "large_code": "所属大网格编码", "large_name": "所属大网格",
    "year": "年份", "received": "受理纠纷数", "resolved": "化解纠纷数", "resolution_rate": "化解率(%)",
    "received_change": "受理较上年增减", "received_change_pct": "受理较上年增减(%)",
    "resolved_change": "化解较上年增减", "resolved_change_pct": "化解较上年增减(%)",
}
CLASS_PREFIX = "resolved_class_"  # layers.disputes.CLASS_PREFIX (not imported: writers take frames only)
CLASS_HEADER = "化解·{}"
EVENT_HEADERS: dict[str, str] = {
    "event_id": "事件编号", "dept": "部门", "source_id": "部门编号", "category": "类别代码",
    "category_name": "类别", "dispute_class": "纠纷类型", "is_dispute": "是否纠纷", "status": "状态",
    "reported_at": "上报时间", "dispatched_at": "派遣时间", "closed_at": "办结时间", "due_at": "办理时限",
    "grid_small": "小网格", "grid_medium": "中网格", "grid_large": "大网格", "incident_id": "事件归并编号",
    "lon": "经度", "lat": "纬度", "address": "地址", "description": "描述",
}
REVIEW_HEADERS: dict[str, str] = {
    "grid_code": "网格编码", "name": "网格名称", "period_start": "时段开始", "period_end": "时段结束",
    "new": "新增事件", "closed": "办结事件", "open_now": "在办(截至时点)", "overdue_now": "超期(截至时点)",
    "top1": "第一类别", "top1_count": "第一类别件数", "top2": "第二类别", "top2_count": "第二类别件数",
    "top3": "第三类别", "top3_count": "第三类别件数",
}


def dispute_headers(columns: Iterable[str]) -> dict[str, str]:
    """Chinese header of every column of a dispute statistics or city totals frame."""
    out = {}
    for column in columns:
        if column.startswith(CLASS_PREFIX):
            out[column] = CLASS_HEADER.format(column[len(CLASS_PREFIX):])
        elif column in DISPUTE_HEADERS:
            out[column] = DISPUTE_HEADERS[column]
        else:
            out[column] = column
    return out


# --------------------------------------------------------------------------- frames for display


def _display(df: pd.DataFrame, headers: Mapping[str, str], clean: CellCleaner) -> pd.DataFrame:
    """Rates as percent, percents to one decimal, text neutralised by `clean`, Chinese headers; columns outside
    `headers` keep their names."""
    out = pd.DataFrame(index=range(len(df)))
    for column in df.columns:
        values = df[column].reset_index(drop=True)
        if column.endswith("_rate"):
            values = (values.astype("Float64") * 100).round(1)
        elif column.endswith("_pct"):
            values = values.astype("Float64").round(1)
        elif values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            values = values.astype(object).map(clean)
        out[str(clean(headers.get(column, column)))] = values
    return out


def _cell(value: object) -> object:
    """A plain Python value openpyxl accepts (missing -> None, numpy scalars unwrapped); text arrives neutralised."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and np.isnan(value):
            return None
    return value


def _width(value: object) -> int:
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# --------------------------------------------------------------------------- writers


def _open(target: Target) -> tuple[BinaryIO, bool]:
    if hasattr(target, "write"):
        return target, False  # type: ignore[return-value]
    return Path(target).open("wb"), True


@contextmanager
def opened(target: Target) -> Iterator[BinaryIO]:
    """The handle to write `target` through: the buffer itself, or the file opened for writing (closed after)."""
    handle, owned = _open(target)
    try:
        yield handle
    finally:
        if owned:
            handle.close()


def _write_csv(frame: pd.DataFrame, target: Target) -> None:
    text = frame.to_csv(index=False, lineterminator="\r\n", date_format="%Y-%m-%d %H:%M:%S")
    data = ("\ufeff" + text).encode("utf-8")
    handle, owned = _open(target)
    try:
        if isinstance(handle, io.TextIOBase):
            handle.write(data.decode("utf-8"))
        else:
            handle.write(data)
    finally:
        if owned:
            handle.close()


def _write_xlsx(sheets: list[tuple[str, pd.DataFrame]], target: Target) -> list[str]:
    """One sheet per frame, bold frozen header row, widths from the header and the first rows."""
    for name, frame in sheets:
        if len(frame) > XLSX_MAX_ROWS:
            raise UserError(f"sheet {name}: {len(frame):,} rows do not fit an Excel sheet ({XLSX_MAX_ROWS:,}); "
                            "export CSV instead or narrow the filter")
    book = Workbook(write_only=True)
    bold = Font(bold=True)
    shortened = 0
    for name, frame in sheets:
        sheet = book.create_sheet(title=name)
        sheet.freeze_panes = "A2"
        sample = frame.head(500)
        for index, column in enumerate(frame.columns, start=1):
            widest = max([_width(column), *(_width(_cell(v)) for v in sample[column])]) if len(sample) else _width(column)
            if pd.api.types.is_datetime64_any_dtype(frame[column].dtype):
                widest = max(widest, 19)
            letter = sheet.column_dimensions[_letter(index)]
            letter.width = max(MIN_WIDTH, min(MAX_WIDTH, widest + 2))
        header = []
        for column in frame.columns:
            cell = WriteOnlyCell(sheet, value=_cell(column))
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        date_columns = {i for i, c in enumerate(frame.columns) if pd.api.types.is_datetime64_any_dtype(frame[c].dtype)}
        for row in frame.itertuples(index=False, name=None):
            cells = []
            for i, value in enumerate(row):
                value = _cell(value)
                if isinstance(value, str) and len(value) > XLSX_MAX_CELL:
                    value = value[:XLSX_MAX_CELL - 1] + "…"
                    shortened += 1
                if i in date_columns and isinstance(value, dt.datetime):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.number_format = "yyyy-mm-dd hh:mm:ss"
                    cells.append(cell)
                elif isinstance(value, str) and value.startswith("="):  # never after layers.cells; never a formula
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.data_type = "s"
                    cells.append(cell)
                else:
                    cells.append(value)
            sheet.append(cells)
    with opened(target) as handle:
        book.save(handle)
    if not shortened:
        return []
    return [f"{shortened} 个单元格超过 XLSX 上限 {XLSX_MAX_CELL:,} 字符，已截断并以“…”结尾；完整内容请导出 CSV / "
            f"{shortened} cell(s) longer than the XLSX limit of {XLSX_MAX_CELL:,} characters were cut, ending in "
            "\"…\"; export CSV for the whole text"]


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def write_disputes_csv(df: pd.DataFrame, path_or_buffer: Target) -> list[str]:
    """A dispute statistics frame (one row per grid and year, no total row) as UTF-8 CSV with a BOM."""
    clean = CellCleaner()
    _write_csv(_display(df, dispute_headers(df.columns), clean), path_or_buffer)
    return clean.notes()


def write_disputes_xlsx(frames_by_level: Mapping[str, pd.DataFrame], city_totals: pd.DataFrame,
                        path_or_buffer: Target) -> list[str]:
    """Sheets 全市合计 (city_totals) then 大网格 / 中网格 / 小网格 for the levels given."""
    unknown = [level for level in frames_by_level if level not in LEVEL_SHEETS]
    if unknown:
        raise UserError(f"levels {unknown} have no sheet; expected some of {list(LEVEL_SHEETS)}")
    clean = CellCleaner()
    sheets = [(CITY_SHEET, _display(city_totals, dispute_headers(city_totals.columns), clean))]
    for level in LEVEL_SHEETS:
        if level in frames_by_level:
            frame = frames_by_level[level]
            sheets.append((LEVEL_SHEETS[level], _display(frame, dispute_headers(frame.columns), clean)))
    return clean.notes() + _write_xlsx(sheets, path_or_buffer)


def _events_display(df: pd.DataFrame, clean: CellCleaner) -> pd.DataFrame:
    frame = df.copy()
    if "status" in frame:
        frame["status"] = frame["status"].map(lambda s: STATUS_NAMES.get(s, s))
    if "is_dispute" in frame:
        frame["is_dispute"] = frame["is_dispute"].map({True: "是", False: "否"})
    return _display(frame, EVENT_HEADERS, clean)


def write_events_csv(df: pd.DataFrame, path_or_buffer: Target) -> list[str]:
    """Event rows (layers.stats.event_rows) as UTF-8 CSV with a BOM."""
    clean = CellCleaner()
    _write_csv(_events_display(df, clean), path_or_buffer)
    return clean.notes()


def write_events_xlsx(df: pd.DataFrame, path_or_buffer: Target, *, sheet: str = "事件") -> list[str]:
    """Event rows in one sheet; more rows than an Excel sheet holds is an error that suggests CSV."""
    clean = CellCleaner()
    return clean.notes() + _write_xlsx([(sheet, _events_display(df, clean))], path_or_buffer)


def _table_csv(df: pd.DataFrame, headers: Mapping[str, str], path_or_buffer: Target) -> list[str]:
    clean = CellCleaner()
    _write_csv(_display(df, headers, clean), path_or_buffer)
    return clean.notes()


def _table_xlsx(df: pd.DataFrame, headers: Mapping[str, str], path_or_buffer: Target, sheet: str) -> list[str]:
    clean = CellCleaner()
    return clean.notes() + _write_xlsx([(sheet, _display(df, headers, clean))], path_or_buffer)


def write_review_csv(df: pd.DataFrame, path_or_buffer: Target) -> list[str]:
    """A meeting report (layers.review.review_report) as UTF-8 CSV with a BOM."""
    return _table_csv(df, REVIEW_HEADERS, path_or_buffer)


def write_review_xlsx(df: pd.DataFrame, path_or_buffer: Target, *, sheet: str = "会商报表") -> list[str]:
    """A meeting report in one sheet (name it after the meeting: 日碰头 / 周会商 / 月调度)."""
    return _table_xlsx(df, REVIEW_HEADERS, path_or_buffer, sheet)


SUPERVISION_HEADERS: dict[str, str] = {
    "event_id": "事件编号", "dept_name": "部门", "source_id": "部门记录编号", "category_name": "类别",
    "place": "网格", "event_status": "事件状态", "status_label": "督办状态", "overdue": "督办超期",
    "supervised_at": "督办时间", "supervised_by": "督办人", "supervise_note": "督办说明", "deadline": "督办期限",
    "last_at": "最近操作时间", "last_by": "最近操作人", "last_action": "最近操作", "last_note": "最近说明",
}


def write_supervision_csv(df: pd.DataFrame, path_or_buffer: Target) -> list[str]:
    """督办 items (layers.export_service's supervision rows) as UTF-8 CSV with a BOM."""
    return _table_csv(df, SUPERVISION_HEADERS, path_or_buffer)


def write_supervision_xlsx(df: pd.DataFrame, path_or_buffer: Target, *, sheet: str = "督办") -> list[str]:
    """督办 items in one sheet."""
    return _table_xlsx(df, SUPERVISION_HEADERS, path_or_buffer, sheet)


def _audit_text(value: object) -> object:
    """An audit entry's value as the CSV shows it: times to the second, counts as whole numbers, missing as ""."""
    value = _cell(value)
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def write_audit_csv(frame: pd.DataFrame, path_or_buffer: Target) -> list[str]:
    """Audit entries (access.audit.AuditLog.entries) as CSV with the schema's column names, times to the second."""
    clean = CellCleaner()
    out = pd.DataFrame(index=range(len(frame)))
    for column in frame.columns:
        values = frame[column].reset_index(drop=True).astype(object)
        out[column] = values.map(_audit_text).map(clean)
    _write_csv(out, path_or_buffer)
    return clean.notes()
