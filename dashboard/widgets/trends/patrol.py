"""巡查走访与事件（按月） on 趋势与导出: check-ins next to event reports per month for the chosen scope and years."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.frame import PageContext
from dashboard.widgets.common import NO_PATROL_DATA
from layers.patrol import has_patrol_data, monthly_activity
from layers.trends import Scope, trend_window

HEADERS = {"month": "月份", "events": "事件数", "visits": "走访次数", "household_visits": "入户走访",
           "patrols": "日常巡查", "follow_ups": "事件跟进"}


def patrol_months_table(months: pd.DataFrame) -> pd.DataFrame:
    """monthly_activity rows with Chinese headers and the month as YYYY-MM."""
    shown = months.assign(month=pd.to_datetime(months["month"]).dt.strftime("%Y-%m"))
    return shown[list(HEADERS)].rename(columns=HEADERS)


def show_patrol_months(ctx: PageContext, scope: Scope, years: tuple[int, int]) -> None:
    """A line chart of 事件数 and 走访次数 per month, the table under it; a caption without patrol data."""
    if not ctx.store.query(has_patrol_data):
        st.caption(NO_PATROL_DATA)
        return
    start, end = trend_window(*years, as_of=ctx.as_of)
    grid = {} if scope.grid is None else {"level": scope.level, "code": scope.grid}  # a whole level: the city
    months = ctx.store.query(monthly_activity, start=start, end=end, **grid)
    table = patrol_months_table(months)
    st.caption("事件数为范围内全部上报（不受侧栏部门、类别筛选影响）；走访次数为网格内的巡查签到。")
    st.line_chart(table.set_index("月份")[["事件数", "走访次数"]], x_label="月份", y_label="次数")
    st.dataframe(table, hide_index=True, key="trends_patrol_table")
