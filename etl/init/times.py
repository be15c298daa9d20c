"""Time formats from a column's values: ISO (offsets too), day- or month-first, Chinese forms, Excel cells and
serial days; the project's own parser decides what parses."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

from etl.timeparse import parse_times

YEAR_FIRST: tuple[str, ...] = (
    "iso", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y.%m.%d",
    "%Y年%m月%d日 %H时%M分%S秒", "%Y年%m月%d日 %H时%M分", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日",
    "%Y%m%d%H%M%S", "%Y%m%d",
)
DAY_FIRST: tuple[str, ...] = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M",
                              "%d.%m.%Y", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y")
MONTH_FIRST: tuple[str, ...] = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M",
                                "%m/%d/%Y")
TIME_OF_DAY = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$|^\d{1,2}时\d{1,2}分$")
_DATE_ONLY = re.compile(r"^[^:时]*$")
SAMPLE = 1000


@dataclass(frozen=True)
class TimeColumn:
    """What a column's values say about time."""

    kind: str  # "datetime", "date" (no time of day), "time" (a time of day only) or "" (not a time)
    formats: tuple[str, ...] = ()
    parsed: float = 0.0  # share of the non-empty sample that the formats read
    note: str = ""  # e.g. why day-first was chosen


def sample_values(values: pd.Series) -> pd.Series:
    """Up to SAMPLE distinct non-empty values, in order of appearance."""
    kept = values[values.map(lambda v: v is not None and not (isinstance(v, float) and v != v) and str(v).strip() != "")]
    return kept.drop_duplicates().head(SAMPLE)


def inspect_time(values: pd.Series, *, month_first_region: bool, excel_allowed: bool) -> TimeColumn:
    """The formats that read the column (greedy: the format reading most of what is left, until 99 % are read)."""
    sample = sample_values(values)
    if sample.empty:
        return TimeColumn(kind="")
    native = sample.map(lambda v: isinstance(v, (dt.datetime, pd.Timestamp)))
    if native.mean() >= 0.9:  # Excel date cells: read as they are
        days = sample[native].map(lambda v: (v.hour, v.minute, v.second) == (0, 0, 0))
        return TimeColumn(kind="date" if days.all() else "datetime", formats=("iso",), parsed=float(native.mean()),
                          note="date cells of the workbook")
    if sample.map(lambda v: isinstance(v, dt.time)).mean() >= 0.9:
        return TimeColumn(kind="time", parsed=1.0, note="time-of-day cells of the workbook")
    text = sample.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip())
    if text.str.match(TIME_OF_DAY).mean() >= 0.9:
        return TimeColumn(kind="time", parsed=float(text.str.match(TIME_OF_DAY).mean()))
    if text.str.contains(r"\d").mean() < 0.9 or text.str.len().median() > 40:
        return TimeColumn(kind="")  # words or long texts: no format needs trying
    candidates = list(YEAR_FIRST)
    note = ""
    day, month = _parsed_share(text, DAY_FIRST), _parsed_share(text, MONTH_FIRST)
    if day > 0 or month > 0:
        if day > month:
            candidates += DAY_FIRST
            note = "day-first: some values have a day above 12 in the first place"
        elif month > day:
            candidates += MONTH_FIRST
            note = "month-first: some values have a day above 12 in the second place, or an AM/PM clock"
        else:
            candidates += MONTH_FIRST if month_first_region else DAY_FIRST
            note = ("ambiguous (no day above 12 in the sample): " + ("month-first, as usual in the Americas"
                                                                       if month_first_region else "day-first"))
    if excel_allowed:
        candidates.append("excel")
    formats: list[str] = []
    pending = text.copy()
    while len(pending):
        best, hits = None, pd.Series(dtype=bool)
        for fmt in candidates:
            if fmt in formats:
                continue
            parsed = parse_times(pending, [fmt], "UTC").notna()
            if best is None or parsed.sum() > hits.sum():
                best, hits = fmt, parsed
        if best is None or not hits.any():
            break
        formats.append(best)
        pending = pending[~hits]
        if len(pending) <= 0.01 * len(text):
            break
    share = 1 - len(pending) / len(text)
    if not formats or share < 0.9:
        return TimeColumn(kind="", parsed=share)
    dates_only = text[~text.isin(pending)].str.match(_DATE_ONLY).all() and not any("%H" in f for f in formats)
    if formats == ["iso"] and text.str.len().max() <= 10:
        dates_only = True
    return TimeColumn(kind="date" if dates_only else "datetime", formats=tuple(formats), parsed=share, note=note)


def _parsed_share(text: pd.Series, formats: tuple[str, ...]) -> float:
    parsed = parse_times(text, list(formats), "UTC")
    return float(parsed.notna().mean())
