"""网格详情's 督办 list: the items whose events lie in the shown grid (for an official: their jurisdiction), with
反馈 for the official and 核查 for the command center."""

from __future__ import annotations

import streamlit as st

from dashboard.frame import PageContext
from dashboard.widgets.supervision import supervision_list, visible_items
from layers.drilldown import CITY_CODE, GridProfile
from store.schema import LEVELS


def supervision_section(ctx: PageContext, grid: GridProfile) -> None:
    """督办事项 of the grid (the whole city: every item the user sees)."""
    st.subheader("督办事项")
    items = visible_items(ctx)
    if grid.code != CITY_CODE and grid.level in LEVELS:
        items = items[items[f"grid_{grid.level}"] == grid.code].reset_index(drop=True)
    supervision_list(items, empty="本网格暂无督办事项。")
