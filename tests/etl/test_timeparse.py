"""Timestamp parsing: Chinese forms, slashes without zero padding, ISO offsets, Excel serials, impossible dates."""

import datetime as dt

import pandas as pd

from etl.timeparse import parse_times


def test_each_format_parses_to_local_time() -> None:
    values = pd.Series(["2023年8月21日 14时05分", "2023/8/1 4:05", "2023-08-21T14:05:00+08:00",
                        "2023-08-21T06:05:00Z", "45159.5", dt.datetime(2023, 8, 21, 14, 5)], dtype=object)
    formats = ["%Y年%m月%d日 %H时%M分", "%Y/%m/%d %H:%M", "iso", "excel"]
    parsed = parse_times(values, formats, "Asia/Shanghai")
    assert list(parsed) == [
        pd.Timestamp("2023-08-21 14:05"), pd.Timestamp("2023-08-01 04:05"), pd.Timestamp("2023-08-21 14:05"),
        pd.Timestamp("2023-08-21 14:05"), pd.Timestamp("2023-08-21 12:00"), pd.Timestamp("2023-08-21 14:05"),
    ]


def test_impossible_and_implausible_dates_are_missing() -> None:
    values = pd.Series(["2023/2/30 10:00", "2023/13/1 10:00", "9999/1/1 00:00", "明天", "", None], dtype=object)
    parsed = parse_times(values, ["%Y/%m/%d %H:%M"], "Asia/Shanghai")
    assert parsed.isna().all()
