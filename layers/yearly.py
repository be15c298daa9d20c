"""Leader-ready yearly dispute statistics (矛盾纠纷化解年度统计): one row per grid, years as columns, 较去年同期 for the
year to date, a 合计 row, a title with the period and 统计时点, and the definitions; as CSV or formatted XLSX.

化解率 here is the share of the incidents *received* in the period that were resolved by the 统计时点 (a cohort
rate, 0-100 %). The 化解 columns stay what they always were: incidents whose first closure falls in that year (the
demo's 1,965 / 3,021 / 4,352), which may include incidents received in an earlier year, so 化解 ÷ 受理 of one year
is not a rate and is not shown as one (docs/analytics.md).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from layers.cells import CellCleaner
from layers.disputes import dispute_statistics
from layers.disputes_queries import incidents_source
from layers.event_query import GRID_KEY, EventFilter, EventQuery, pick
from layers.export import Target, opened
from layers.stats import disputes_in_window, same_period_last_year, year_to_date
from store.timewindow import TimeLike, store_time

__all__ = ["YearlyTable", "yearly_statistics", "write_yearly_csv", "write_yearly_xlsx", "DEFINITIONS", "MISSING"]

MISSING = "—"
LEVEL_NAMES = {"large": "大网格", "medium": "中网格", "small": "小网格"}
DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("受理", "矛盾纠纷事件首次上报的年份计为受理年份；多个部门上报的同一纠纷只计一次。"),
    ("化解", "纠纷首次办结的年份计为化解年份（可能是以前年份受理的纠纷）。"),
    ("化解率", "统计期内受理的纠纷中，截至统计时点已化解的比例（0–100%）。按年的化解数÷受理数不是比率，不作化解率。"),
    ("较去年同期", "今年1月1日至统计时点，与去年同日期范围相比的增减幅度；去年同期为0时不计算，显示“—”。"),
    ("网格归属", "纠纷归入最先办结（未办结时最先上报）的那条上报所在网格；只按地址定位的纠纷不计入小网格。"),
    ("合计", "本表各网格之和。"),
)

_COHORT = """
SELECT {grid} AS grid_code, count(*) AS received,
       count(*) FILTER (WHERE first_closed_at IS NOT NULL AND first_closed_at < CAST($as_of AS TIMESTAMP)) AS resolved
FROM ({incidents})
WHERE first_reported_at >= CAST($start AS TIMESTAMP) AND first_reported_at < CAST($end AS TIMESTAMP)
GROUP BY 1
"""


@dataclass(frozen=True)
class YearlyTable:
    """The table and its frame: title, the 统计时点 line, rows (one per grid; counts as numbers, rates as 0-1 or
    missing), the 合计 row, which columns are counts and which rates, and the definitions."""

    title: str
    as_of_line: str
    rows: pd.DataFrame
    total: pd.Series
    count_columns: tuple[str, ...]
    rate_columns: tuple[str, ...]
    definitions: tuple[tuple[str, str], ...] = field(default=DEFINITIONS)


def _cohort(con: duckdb.DuckDBPyConnection, level: str, start: dt.datetime, end: dt.datetime,
            as_of: dt.datetime) -> pd.DataFrame:
    sql = _COHORT.format(grid=pick(GRID_KEY, level, "level"), incidents=incidents_source("raw", EventFilter()))
    return con.execute(sql, EventQuery.of(start=start, end=end, as_of=as_of).bind(sql)).df()


def _change_pct(now: pd.Series, before: pd.Series) -> pd.Series:
    base = before.astype("Float64")
    return ((now.astype("Float64") - base) / base.where(base != 0)).astype("Float64")


def yearly_statistics(con: duckdb.DuckDBPyConnection, level: str, *, year_from: int, year_to: int,
                      as_of: TimeLike, grid: str | None = None) -> YearlyTable:
    """One row per grid of `level` (inside `grid` when given): 受理 and 化解 per year, the period's 化解率 (cohort),
    and 今年以来 / 去年同期 / 较去年同期 for received and resolved (the year to date of as_of)."""
    moment = store_time(con, as_of, "as_of")
    stats = dispute_statistics(con, level, year_from=year_from, year_to=year_to, grid=grid)
    labels = [c for c in ("grid_code", "name", "medium_name", "large_name") if c in stats.columns]
    out = stats.drop_duplicates("grid_code")[labels].reset_index(drop=True)
    header = {"grid_code": "网格编码", "name": "网格名称", "medium_name": "所属中网格", "large_name": "所属大网格"}
    out = out.rename(columns=header)
    counts, rates = [], []
    for year in range(year_from, year_to + 1):
        part = stats[stats["year"] == year].set_index("grid_code")
        for figure, name in (("received", "受理"), ("resolved", "化解")):
            column = f"{year}年{name}"
            out[column] = part[figure].reindex(out["网格编码"]).fillna(0).astype("int64").to_numpy()
            counts.append(column)
    cohort = _cohort(con, level, dt.datetime(year_from, 1, 1), min(dt.datetime(year_to + 1, 1, 1), moment), moment)
    cohort = cohort.set_index("grid_code").reindex(out["网格编码"]).fillna(0)
    rate_column = f"{year_from}–{year_to}年化解率"
    received = cohort["received"].astype("Float64")
    out[rate_column] = (cohort["resolved"].astype("Float64") / received.where(received != 0)).to_numpy()
    rates.append(rate_column)
    ytd = year_to_date(moment)
    last = same_period_last_year(*ytd)
    now_w = disputes_in_window(con, level, start=ytd[0], end=ytd[1]).set_index("grid_code")
    last_w = disputes_in_window(con, level, start=last[0], end=last[1]).set_index("grid_code")
    for figure, name in (("disputes_received", "受理"), ("disputes_resolved", "化解")):
        now = now_w[figure].reindex(out["网格编码"]).fillna(0).astype("int64")
        before = last_w[figure].reindex(out["网格编码"]).fillna(0).astype("int64")
        out[f"今年以来{name}"] = now.to_numpy()
        out[f"去年同期{name}"] = before.to_numpy()
        out[f"{name}较去年同期"] = _change_pct(now, before).to_numpy()
        counts += [f"今年以来{name}", f"去年同期{name}"]
        rates.append(f"{name}较去年同期")
    total = pd.Series({c: out[c].sum() for c in counts}, dtype=object)
    total[rate_column] = (float(cohort["resolved"].sum()) / float(cohort["received"].sum())
                          if cohort["received"].sum() else pd.NA)
    for name in ("受理", "化解"):
        now, before = total[f"今年以来{name}"], total[f"去年同期{name}"]
        total[f"{name}较去年同期"] = (now - before) / before if before else pd.NA
    total["网格名称"] = "合计"
    title = f"矛盾纠纷化解统计（{LEVEL_NAMES[level]}，{year_from}–{year_to}年）"
    as_of_line = (f"统计时点：{moment:%Y-%m-%d %H:%M}；今年以来为 {ytd[0]:%Y-%m-%d} 至 {ytd[1]:%Y-%m-%d %H:%M}；"
                  "单位：件")
    return YearlyTable(title=title, as_of_line=as_of_line, rows=out, total=total, count_columns=tuple(counts),
                       rate_columns=tuple(rates))


def _text_cell(value: object, rate: bool) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return MISSING
    if rate:
        return f"{float(value) * 100:.1f}%"
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return f"{int(value):,}"
    return str(value)


def write_yearly_csv(table: YearlyTable, target: Target) -> list[str]:
    """Title, 统计时点, the header, one row per grid, the 合计 row; numbers with thousands separators, rates in
    percent with one decimal, "—" where a value does not exist. UTF-8 with a BOM."""
    clean = CellCleaner()
    columns = list(table.rows.columns)
    lines = [[table.title], [table.as_of_line], columns]
    for _i, row in table.rows.iterrows():
        lines.append([clean(_text_cell(row[c], c in table.rate_columns)) for c in columns])
    lines.append([clean(_text_cell(table.total.get(c, ""), c in table.rate_columns)) for c in columns])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(lines)
    with opened(target) as handle:
        handle.write(("\ufeff" + buffer.getvalue()).encode("utf-8"))
    return clean.notes()


def write_yearly_xlsx(table: YearlyTable, target: Target) -> list[str]:
    """Sheet 年度统计 (title, 统计时点, header frozen, grids, bold 合计 row; counts '#,##0', rates '0.0%', "—" for a
    value that does not exist) and sheet 口径说明 (the definitions)."""
    clean = CellCleaner()
    book = Workbook()
    sheet = book.active
    sheet.title = "年度统计"
    sheet.append([clean(table.title)])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([clean(table.as_of_line)])
    columns = list(table.rows.columns)
    sheet.append([clean(c) for c in columns])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, horizontal="center")
    sheet.freeze_panes = "C4"
    records = [row for _i, row in table.rows.iterrows()] + [table.total]
    for r, row in enumerate(records, start=4):
        for c, column in enumerate(columns, start=1):
            value = row.get(column, None)
            cell = sheet.cell(row=r, column=c)
            if column in table.rate_columns or column in table.count_columns:
                if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
                    cell.value = MISSING
                    cell.alignment = Alignment(horizontal="right")
                else:
                    cell.value = float(value) if column in table.rate_columns else int(value)
                    cell.number_format = "0.0%" if column in table.rate_columns else "#,##0"
            else:
                cell.value = clean(value if isinstance(value, str) else ("" if value is None else str(value)))
                cell.data_type = "s"
            if row is table.total:
                cell.font = Font(bold=True)
    for c, column in enumerate(columns, start=1):
        sheet.column_dimensions[sheet.cell(row=3, column=c).column_letter].width = max(10, min(28, 2 * len(column) + 2))
    notes = book.create_sheet("口径说明")
    notes.append(["指标", "口径"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for name, text in table.definitions:
        notes.append([name, text])
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["B"].width = 90
    with opened(target) as handle:
        book.save(handle)
    return clean.notes()
