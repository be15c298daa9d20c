"""A dispute trend of the trends page: by class and received against resolved, with the tables under the charts."""

from __future__ import annotations

import streamlit as st

from dashboard.frame import PageContext
from layers.charts import class_trend_chart, received_resolved_chart
from layers.trends import MEASURES, Scope, class_table, dispute_series, dispute_totals, totals_table, trend_window

PERIOD_NAMES = {"year": "年度", "month": "月度"}


def pick_measure() -> str:
    """Which incidents the class charts stack: 受理 (received) or 化解 (resolved)."""
    return st.radio("按类型统计", list(MEASURES), index=1, format_func=lambda m: MEASURES[m].removesuffix("数"),
                    horizontal=True, key="trends_measure")


def show_trend(ctx: PageContext, scope: Scope, period: str, years: tuple[int, int], measure: str) -> None:
    """Two charts side by side, then the totals per period and the counts per class."""
    start, end = trend_window(*years, as_of=ctx.as_of)
    series = ctx.store.query(dispute_series, period, start=start, end=end, scope=scope, where=ctx.where)
    totals = ctx.store.query(dispute_totals, period, start=start, end=end, scope=scope, where=ctx.where)
    by_class, both = st.columns(2)
    by_class.altair_chart(class_trend_chart(series, period=period, measure=measure), width="stretch")
    both.altair_chart(received_resolved_chart(totals, period=period), width="stretch")
    st.dataframe(totals_table(totals, period), hide_index=True, key=f"trends_table_{period}")
    with st.expander(f"{PERIOD_NAMES[period]}{MEASURES[measure]}（按纠纷类型）"):
        st.dataframe(class_table(series, period, measure), hide_index=True, key=f"trends_classes_{period}")
