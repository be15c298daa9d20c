"""Live refresh: draw part of a page again every few seconds with the latest data, without rerunning the page.

`live(draw, ctx)` runs `draw(ctx)` inside a Streamlit fragment with `run_every=ctx.refresh_seconds`. A fragment
rerun does not run app.py, so the context it received is from the last full run: `live_context` brings it up to
date (the store's current version, "now", the window ending at the new now). When a new load has been published
since the full run, the whole app is rerun instead, so the map and the sidebar's store facts show it too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace

import streamlit as st

from dashboard.auth import current_principal
from dashboard.frame import PageContext, now_for, window_bounds
from dashboard.published import open_store
from layers.stats import QueryError, data_clock

CUSTOM_WINDOW = "自定义"  # a window of fixed dates: it does not move with "now"
STALE_AFTER = dt.timedelta(days=1)  # a newest report older than this before "now" gets a notice


def live(draw: Callable[[PageContext], None], ctx: PageContext) -> None:
    """Draw `draw(ctx)` now and again every `ctx.refresh_seconds`, each time with `live_context(ctx)`."""

    def refresh() -> None:
        draw(live_context(ctx))

    st.fragment(refresh, run_every=ctx.refresh_seconds)()


def live_context(ctx: PageContext) -> PageContext:
    """`ctx` moved to the current moment: same filters and window length, latest store version and "now"."""
    if ctx.users is not None and ctx.audit is not None and current_principal(
            ctx.audit, ctx.users, ctx.session_idle_hours) != ctx.principal:
        st.rerun(scope="app")  # the account was removed, changed or expired: the full run signs the session out
    # the file is replaced atomically, so it is normally there; seen as the signed-in user sees it
    store = open_store(ctx.store.path, ctx.store.principal) or ctx.store
    if store.signature != ctx.store.signature:
        st.rerun(scope="app")  # a new load was published: redraw everything from it
    as_of = now_for(store, ctx.clock)  # "now" of the user's own jurisdiction, as the full run has it
    if as_of == ctx.as_of:
        return ctx
    if ctx.window_label == CUSTOM_WINDOW:
        start, end = ctx.start, ctx.end
    else:
        start, end = window_bounds(ctx.window_label, as_of, None)
    return replace(ctx, as_of=as_of, start=start, end=end)


def stale_data_notice(ctx: PageContext) -> None:
    """Say so when the newest report is much older than "now" (old data served on the wall clock)."""
    try:
        newest = ctx.store.query(data_clock)
    except QueryError:  # no events at all: the KPI tiles show zeros, which says it
        return
    if ctx.as_of - newest > STALE_AFTER:
        st.info(
            f"最新一条上报在 {newest:%Y-%m-%d %H:%M}，早于统计时点 {ctx.as_of:%Y-%m-%d %H:%M}，"
            "因此“今日”的数字为 0。回放历史或演示数据时，请用 `minqing serve --clock data` 启动，"
            "以最新上报时间作为统计时点。",
            icon="ℹ️",
        )
