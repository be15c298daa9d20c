"""趋势与导出: dispute trends by year and month and class for a scope, 较去年同期, a month-by-month map, and the
exports of `minqing export` for analysts."""

from __future__ import annotations

import streamlit as st

from dashboard.frame import context
from dashboard.widgets.common import plain
from dashboard.widgets.trends.charts import pick_measure, show_trend
from dashboard.widgets.trends.downloads import downloads_allowed, show_dispute_downloads, show_event_downloads
from dashboard.widgets.trends.metrics import show_comparisons
from dashboard.widgets.trends.patrol import show_patrol_months
from dashboard.widgets.trends.playback import show_playback
from dashboard.widgets.trends.scope import filter_caption, pick_scope, pick_years

ctx = context()
st.title("趋势与导出")
choice = pick_scope(ctx)
years = pick_years(ctx)
st.caption(f"范围：{plain(choice.label)}；{filter_caption(ctx)}。同一纠纷多次上报只计一次，归入最先办结（未办结时最先上报）的那条上报的网格与类型。")

st.subheader("同比")
show_comparisons(ctx, choice.scope)

st.subheader("矛盾纠纷趋势")
measure = pick_measure()
year_tab, month_tab = st.tabs(["按年", "按月"])
with year_tab:
    show_trend(ctx, choice.scope, "year", years, measure)
with month_tab:
    show_trend(ctx, choice.scope, "month", years, measure)

st.subheader("逐月地图")
show_playback(ctx, choice.map_level, years)

st.subheader("巡查走访与事件（按月）")
show_patrol_months(ctx, choice.scope, years)

st.subheader("导出")
if downloads_allowed(ctx):
    show_dispute_downloads(ctx, choice, years)
    show_event_downloads(ctx, choice)
