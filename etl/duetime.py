"""Due times from a mapping's rules: elapsed hours (across a daylight-saving change too), or working days (Monday to
Friday) keeping the time of day."""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.mapping import DueRule


def due_times(reported_at: pd.Series, categories: pd.Series, rules: dict[str, DueRule],
              default: DueRule | None, *, zone: str | None = None) -> pd.Series:
    """The due time of each event: its category's rule, else the default, else NaT. Times are naive local times in
    `zone` (the store's); None: a zone without daylight saving."""
    due = pd.Series(pd.NaT, index=reported_at.index, dtype="datetime64[us]")
    codes, uniques = pd.factorize(categories)
    for i, category in enumerate(uniques):
        rule = rules.get(category, default)
        if rule is not None:
            rows = codes == i
            due[rows] = apply_rule(reported_at[rows], rule, zone=zone)
    return due


def apply_rule(reported_at: pd.Series, rule: DueRule, *, zone: str | None = None) -> pd.Series:
    """Add one rule to a series of report times (a weekend report starts counting on Monday). Hours are elapsed
    time: 48 h from 10:00 the day before clocks go forward is 11:00 local two days later."""
    if rule.hours is not None:
        if zone is None or reported_at.isna().all():
            return (reported_at + pd.to_timedelta(rule.hours, unit="h")).astype("datetime64[us]")
        aware = reported_at.dt.tz_localize(zone, ambiguous=np.ones(len(reported_at), dtype=bool),
                                           nonexistent="shift_forward")
        due = aware.dt.tz_convert("UTC") + pd.to_timedelta(rule.hours, unit="h")
        return due.dt.tz_convert(zone).dt.tz_localize(None).astype("datetime64[us]")
    valid = reported_at.notna()
    out = pd.Series(pd.NaT, index=reported_at.index, dtype="datetime64[us]")
    start = reported_at[valid]
    days = start.dt.normalize()
    time_of_day = start - days
    shifted = np.busday_offset(days.values.astype("datetime64[D]"), rule.working_days or 0, roll="forward")
    out[valid] = pd.to_datetime(shifted).astype("datetime64[us]") + time_of_day.values
    return out
