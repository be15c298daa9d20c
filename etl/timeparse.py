"""Vectorised timestamp parsing: strptime formats (Chinese forms too), ISO-8601 with offsets, Excel serials."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

EARLIEST = pd.Timestamp("1990-01-01")
LATEST = pd.Timestamp("2100-01-01")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_HAS_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def parse_times(values: pd.Series, formats: list[str], timezone: str) -> pd.Series:
    """Parse raw values to naive local times in `timezone`; NaT where no format fits or the date is implausible.

    `formats` are tried in order: a strptime format ("%Y/%m/%d %H:%M", "%Y年%m月%d日 %H时%M分"),
    "iso" (ISO-8601; a value with an offset is converted to `timezone`) or "excel" (serial days).
    Values that are already datetimes (Excel date cells) are taken as local times.
    """
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[us]")
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        text = values.fillna("").str.strip()  # a text column (CSV): no per-value checks needed
    else:
        native = values.map(lambda v: isinstance(v, (dt.datetime, pd.Timestamp)))
        if native.any():
            result[native] = pd.to_datetime(values[native], errors="coerce").astype("datetime64[us]")
        text = values[~native].map(_as_text)
    pending = text.notna() & (text != "")
    for fmt in formats:
        if not pending.any():
            break
        todo = text[pending]
        if fmt == "iso":
            parsed = _parse_iso(todo, timezone)
        elif fmt == "excel":
            parsed = _parse_excel(todo)
        else:
            parsed = pd.to_datetime(todo, format=fmt, errors="coerce").astype("datetime64[us]")
        hit = parsed.notna()
        result[hit[hit].index] = parsed[hit]
        pending[hit[hit].index] = False
    implausible = (result < EARLIEST) | (result >= LATEST)
    result[implausible] = pd.NaT
    return result


def _as_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _parse_iso(text: pd.Series, timezone: str) -> pd.Series:
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    with_offset = text.str.contains(_HAS_OFFSET, na=False)
    if with_offset.any():
        aware = pd.to_datetime(text[with_offset], format="ISO8601", utc=True, errors="coerce")
        out[with_offset] = aware.dt.tz_convert(timezone).dt.tz_localize(None).astype("datetime64[us]")
    naive = ~with_offset
    if naive.any():
        out[naive] = pd.to_datetime(text[naive], format="ISO8601", errors="coerce").astype("datetime64[us]")
    return out


def _parse_excel(text: pd.Series) -> pd.Series:
    days = pd.to_numeric(text, errors="coerce")
    days = days.where((days > 0) & (days < 80000))
    return (_EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).astype("datetime64[us]").dt.round("s")
