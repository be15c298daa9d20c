"""Samplers the demo generator's stages share (minqing.demo.events, .planted, .patrol): a weighted draw, and the
workflow times of reports (dispatch, closure, due time, status) by a department's timing and its mapping's limits."""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import pandas as pd

from etl.duetime import apply_rule
from etl.mapping import DueRule
from minqing.demo.rowkinds import MISSING

__all__ = ["CLOSED", "DAY", "TimedDept", "draw", "due_times", "office", "workflow"]

DAY = 86_400
CLOSED = 3  # status codes: 0 reported, 1 dispatched, 2 in progress, 3 closed
IN_PROGRESS_SHARE = 0.65  # open and dispatched: in progress rather than just dispatched
MIN_HANDLING_S = 600  # closing takes at least 10 minutes after dispatch


class TimedDept(Protocol):
    """What the workflow reads of a department (minqing.demo.events' department)."""

    spec: dict[str, Any]  # the recipe's section: its [timing]
    codes: np.ndarray  # canonical category code per category text
    due_rules: dict[str, DueRule]
    due_default: DueRule | None
    precision: int  # seconds: 60 for minute-precision exports
    close_sigma: float


def draw(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """n indices into `weights`, each drawn with probability proportional to its weight."""
    cdf = np.cumsum(weights)
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(weights) - 1).astype(np.int64)


def due_times(t_rep: np.ndarray, rule: DueRule | None) -> np.ndarray:
    """Due times under one mapping rule, by the loader's own rule (etl.duetime); no rule: a week."""
    if rule is None:
        return t_rep + 7 * DAY
    due = apply_rule(pd.Series(t_rep.astype("datetime64[s]")), rule)
    return due.to_numpy(dtype="datetime64[s]").astype(np.int64)


def workflow(rng: np.random.Generator, dept: TimedDept, cat: np.ndarray, t_rep: np.ndarray,
             now: int) -> dict[str, np.ndarray]:
    """Dispatch, closure, due time and status of each report as of `now`."""
    n = len(t_rep)
    timing = dept.spec["timing"]
    # Due times per distinct category (cheap: few categories, vectorised within each).
    due = np.empty(n, dtype=np.int64)
    for c in np.unique(cat):
        mask = cat == c
        code = str(dept.codes[c])
        due[mask] = due_times(t_rep[mask], dept.due_rules.get(code, dept.due_default))
    median, sigma = timing["dispatch_minutes"]
    delay = np.exp(math.log(float(median) * 60.0) + float(sigma) * rng.standard_normal(n))
    t_disp = office(rng, t_rep + np.maximum(60, delay).astype(np.int64), dept, t_rep + 60)
    ratio = np.exp(math.log(float(timing["close_median"])) + dept.close_sigma * rng.standard_normal(n))
    span = np.maximum(due - t_rep, 3600)
    t_close = t_rep + (ratio * span).astype(np.int64)
    t_close = office(rng, np.maximum(t_close, t_disp + MIN_HANDLING_S), dept, t_disp + MIN_HANDLING_S)
    t_disp -= t_disp % dept.precision
    t_close -= t_close % dept.precision
    stuck = rng.random(n) < float(timing["stuck"])
    closed = (t_close <= now) & ~stuck
    dispatched = t_disp <= now
    in_progress = rng.random(n) < IN_PROGRESS_SHARE
    status = np.where(closed, CLOSED, np.where(dispatched, np.where(in_progress, 2, 1), 0)).astype(np.int8)
    return {
        "t_disp": np.where(dispatched, t_disp, MISSING),
        "t_close": np.where(closed, t_close, MISSING),
        "t_due": due,
        "status": status,
    }


def office(rng: np.random.Generator, t: np.ndarray, dept: TimedDept, lower: np.ndarray) -> np.ndarray:
    """Move most times outside the department's working hours (and days) into a working window.

    A time goes back to a random moment of the last window before it when that stays at or after
    `lower` (work done earlier that day), else forward into the next window.
    """
    timing = dept.spec["timing"]
    hours = timing.get("office_hours")
    if not hours or not len(t):
        return t
    start, end = int(float(hours[0]) * 3600), int(float(hours[1]) * 3600)
    weekdays_only = bool(timing.get("office_weekdays", False))
    day = t // DAY
    tod = t - day * DAY
    outside = (tod < start) | (tod >= end)
    if weekdays_only:
        outside |= ~np.is_busday(day.astype("datetime64[D]"))
    outside &= rng.random(len(t)) < float(timing.get("office_share", 0.92))
    back_day = np.where(tod >= end, day, day - 1)
    next_day = np.where(tod < start, day, day + 1)
    if weekdays_only:
        back_day = np.busday_offset(back_day.astype("datetime64[D]"), 0, roll="backward").astype(np.int64)
        next_day = np.busday_offset(next_day.astype("datetime64[D]"), 0, roll="forward").astype(np.int64)
    back = back_day * DAY + start + rng.integers(0, end - start, len(t))
    forward = next_day * DAY + start + rng.integers(0, end - start, len(t))
    moved = np.where((back >= lower) & (back <= t), back, forward)
    return np.where(outside, moved, t)
