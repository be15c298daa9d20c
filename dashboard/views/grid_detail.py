"""网格详情: one grid's profile, figures, children, trend, category mix, people and patrols, and event history;
pick it on the map, with the cascading selectors, by searching, or from a shared link (?grid=CODE)."""

from __future__ import annotations

import streamlit as st

from dashboard.frame import apply_big_screen, context
from dashboard.widgets.common import plain
from dashboard.widgets.grid_detail.history import event_history_panel
from dashboard.widgets.grid_detail.panels import (
    category_panel, children_panel, figures_row, profile_card, timeline_panel,
)
from dashboard.widgets.grid_detail.patrol import patrol_panel
from dashboard.widgets.grid_detail.picker import breadcrumb, grid_map, search, selectors
from dashboard.widgets.grid_detail.state import current_grid
from dashboard.widgets.analysis.warnings import grid_warning_panel
from dashboard.widgets.grid_detail.supervision import supervision_section

ctx = context()
apply_big_screen(ctx)
st.title("网格详情")
st.caption(ctx.window_text())
grid, unknown = current_grid(ctx)
if unknown:
    st.warning(f"未找到网格编码“{plain(unknown)}”，已显示全市。", icon="⚠️")
breadcrumb(grid)

map_column, pick_column = st.columns([3, 2])
with map_column:
    grid_map(ctx, grid)
with pick_column:
    selectors(ctx, grid)
    search(ctx)

profile_card(grid)
figures_row(ctx, grid)
children_tab, trend_tab, category_tab = st.tabs(["下级网格排名", "事件趋势", "类别构成"])
with children_tab:
    children_panel(ctx, grid)
with trend_tab:
    timeline_panel(ctx, grid)
with category_tab:
    category_panel(ctx, grid)

st.subheader("本网格预警")
grid_warning_panel(ctx, grid.code, grid.level)

patrol_panel(ctx, grid)
supervision_section(ctx, grid)

st.subheader("事件记录")
event_history_panel(ctx, grid)
