"""较去年同期 and 较上年 tiles of the trends page: one st.metric per figure with the change in count and percent."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.frame import PageContext
from layers.trends import Scope, previous_year_comparison, same_period_comparison

DELTA_COLOURS = {"events": "inverse", "disputes_received": "inverse", "disputes_resolved": "normal"}


def delta_text(change: int, pct: object) -> str:
    """'+12（+3.4%）', '-5（-2.0%）', or the count alone when the base was 0."""
    share = "" if pd.isna(pct) else f"（{float(pct):+.1f}%）"
    return f"{int(change):+,}{share}"


def _tiles(frame: pd.DataFrame, compared_with: str) -> None:
    for column, row in zip(st.columns(len(frame)), frame.itertuples(index=False)):
        column.metric(row.label, f"{int(row.value):,}", delta_text(row.change, row.change_pct),
                      delta_color=DELTA_COLOURS.get(row.figure, "off"),
                      delta_arrow="off" if row.change == 0 else "auto",
                      help=f"{compared_with}：{int(row.base):,}")


def show_comparisons(ctx: PageContext, scope: Scope) -> None:
    """Two rows of tiles: this year to as_of against the same dates last year, last year against the year before."""
    same = ctx.store.query(same_period_comparison, as_of=ctx.as_of, scope=scope, where=ctx.where)
    first = same.iloc[0]
    st.markdown(f"**较去年同期**　{first.start:%Y-%m-%d} 至 {first.end:%Y-%m-%d %H:%M}，"
                f"对比 {first.base_start:%Y-%m-%d} 至 {first.base_end:%Y-%m-%d %H:%M}")
    _tiles(same, "去年同期")
    previous = ctx.store.query(previous_year_comparison, as_of=ctx.as_of, scope=scope, where=ctx.where)
    year = previous.iloc[0].start.year
    st.markdown(f"**较上年**　{year} 年全年，对比 {year - 1} 年")
    _tiles(previous, f"{year - 1} 年")
