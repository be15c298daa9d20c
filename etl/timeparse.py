"""Vectorised timestamp parsing: strptime formats (Chinese forms too), ISO-8601 with offsets, Excel serials."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

EARLIEST = pd.Timestamp("1990-01-01")
LATEST = pd.Timestamp("2100-01-01")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
# Z, ±hh:mm, ±hhmm, or ±hh right after a time (a bare "-01" may be a day: 2024-03-01)
_HAS_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2}|(?<=\d{2}:\d{2})[+-]\d{2})$")
# The same test for ASCII text without the look-behind, so Arrow's regex engine runs it over a whole column
# (ending in "hh:mm+hh" is what the look-behind asks for); text with other characters (full-width digits, which
# Python's \d also takes) keeps the pattern above.
_HAS_OFFSET_ASCII = r"(?:Z|[+-][0-9]{2}:?[0-9]{2}|[0-9]{2}:[0-9]{2}[+-][0-9]{2})$"


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
    if value is None:
        return None
    if isinstance(value, float):  # value != value: NaN, without np.isnan's call cost
        if value != value:
            return None
        if value.is_integer():
            return str(int(value))
    return str(value).strip()


def _parse_iso(text: pd.Series, timezone: str) -> pd.Series:
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    with_offset = _has_offset(text)
    if with_offset.any():
        aware = pd.to_datetime(text[with_offset], format="ISO8601", utc=True, errors="coerce")
        out[with_offset] = aware.dt.tz_convert(timezone).dt.tz_localize(None).astype("datetime64[us]")
    naive = ~with_offset
    if naive.any():
        out[naive] = _parse_plain_iso(text[naive], timezone)
    return out


def _has_offset(text: pd.Series) -> pd.Series:
    """Whether each text ends with a UTC offset (_HAS_OFFSET), vectorised for Arrow-backed text."""
    if not isinstance(text.array, pd.arrays.ArrowStringArray):
        return text.str.contains(_HAS_OFFSET, na=False)
    ascii_text = text.str.isascii().fillna(True).astype(bool)
    found = text.str.contains(_HAS_OFFSET_ASCII, regex=True, na=False).astype(bool)
    if not ascii_text.all():
        found[~ascii_text] = text[~ascii_text].str.contains(_HAS_OFFSET, na=False).astype(bool)
    return found


def _parse_plain_iso(text: pd.Series, timezone: str) -> pd.Series:
    """Values without a recognised offset; pandas may still find one ("10:00+1"): convert those, never fail."""
    try:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    except (ValueError, TypeError, OverflowError):  # naive and offset values mixed: one value at a time
        return pd.Series([_local(_one_iso(v), timezone) for v in text], index=text.index, dtype="datetime64[us]")
    if getattr(parsed.dtype, "tz", None) is not None:
        return parsed.dt.tz_convert(timezone).dt.tz_localize(None).astype("datetime64[us]")
    return parsed.astype("datetime64[us]")


def _one_iso(value: str) -> pd.Timestamp:
    try:
        return pd.to_datetime(value, format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return pd.NaT


def _local(stamp: pd.Timestamp, timezone: str) -> pd.Timestamp:
    if stamp is pd.NaT or stamp.tzinfo is None:
        return stamp
    try:
        return stamp.tz_convert(timezone).tz_localize(None)
    except (ValueError, OverflowError):
        return pd.NaT


def _parse_excel(text: pd.Series) -> pd.Series:
    # float64 with NaN: a masked Float64 NA keeps its raw value, which to_timedelta would still convert (and overflow)
    days = pd.to_numeric(text, errors="coerce").astype("float64")
    days = days.where((days > 0) & (days < 80000))
    return (_EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).astype("datetime64[us]").dt.round("s")
