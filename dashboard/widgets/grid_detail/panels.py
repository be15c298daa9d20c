"""What 网格详情 shows about the chosen grid: profile, figures, children ranked, timeline, category mix."""

from __future__ import annotations

import streamlit as st

from dashboard.frame import PageContext
from dashboard.widgets.common import MISSING, count_text, is_missing, plain, rate_text
from dashboard.widgets.grid_detail.charts import category_chart, ranking_chart, timeline_chart
from layers.drilldown import (
    LEVEL_NAMES, GridProfile, auto_period, category_mix, children_ranked, grid_figures, timeline,
)

PERIOD_KEY = "drill_period"
PERIODS = {"auto": "自动", "day": "按日", "week": "按周", "month": "按月"}


def _number(value: object, digits: int = 1) -> str:
    return MISSING if is_missing(value) else f"{float(value):,.{digits}f}"


def profile_card(profile: GridProfile) -> None:
    """名称, 编码, 上级, 网格层级, 面积, 人口."""
    st.subheader(plain(profile.name))
    parents = " › ".join(name for _, name in profile.ancestors) or MISSING
    code = MISSING if profile.level == "city" else profile.code
    st.caption(f"编码：{plain(code)}　·　上级：{plain(parents)}")
    level, area, people, children = st.columns(4)
    level.metric("网格层级", profile.level_name)
    area.metric("面积（km²）", _number(profile.area_km2, 2))
    people.metric("人口", count_text(profile.population))
    below = LEVEL_NAMES.get(profile.child_level or "", "")
    children.metric(f"下级{below}" if below else "下级网格", count_text(profile.child_count) if below else "无")


def figures_row(ctx: PageContext, profile: GridProfile) -> None:
    """The grid's six figures for the sidebar's window and filters."""
    f = ctx.store.query(grid_figures, profile.code, start=ctx.start, end=ctx.end, as_of=ctx.as_of, where=ctx.where)
    tiles = (
        ("事件数", count_text(f["events"]), "时间范围内上报的事件"),
        ("矛盾纠纷", count_text(f["disputes_received"]), "时间范围内受理的矛盾纠纷（同一纠纷多部门上报计一次）"),
        ("未办结", count_text(f["open_now"]), "统计时点仍未办结的事件（不限时间范围）"),
        ("超期", count_text(f["overdue_now"]), "未办结且已过办理期限的事件"),
        ("按期办结率", rate_text(f["on_time_rate"]), "时间范围内办结的有期限事件中，按期办结的比例"),
        ("每万人事件数", _number(f["events_per_10k"]), "事件数 ÷ 人口 × 10,000"),
    )
    for column, (label, value, help_text) in zip(st.columns(len(tiles)), tiles):
        column.metric(label, value, help=help_text)


CHILD_COLUMNS = {
    "rank": st.column_config.NumberColumn("排名", format="%d"),
    "name": st.column_config.TextColumn("名称"),
    "grid_code": st.column_config.TextColumn("编码"),
    "events": st.column_config.NumberColumn("事件数", format="localized"),
    "disputes_received": st.column_config.NumberColumn("矛盾纠纷", format="localized"),
    "open_now": st.column_config.NumberColumn("未办结", format="localized"),
    "overdue_now": st.column_config.NumberColumn("超期", format="localized"),
    "on_time_rate": st.column_config.NumberColumn("按期办结率", format="percent"),
    "events_per_10k": st.column_config.NumberColumn("每万人事件数", format="%.1f"),
    "population": st.column_config.NumberColumn("人口", format="localized"),
}


def children_panel(ctx: PageContext, profile: GridProfile) -> None:
    """The grids one level below, ranked by events: a table and a bar chart of the first twenty."""
    if profile.child_level is None:
        st.info("小网格是最末一级，没有下级网格。")
        return
    ranked = ctx.store.query(children_ranked, profile.code, start=ctx.start, end=ctx.end, as_of=ctx.as_of,
                             where=ctx.where)
    st.caption(f"{LEVEL_NAMES[profile.child_level]} {len(ranked):,} 个，按事件数排序")
    table, chart = st.columns([3, 2])
    table.dataframe(ranked, hide_index=True, column_config=CHILD_COLUMNS, column_order=list(CHILD_COLUMNS),
                    placeholder=MISSING)
    chart.altair_chart(ranking_chart(ranked), width="stretch")


def timeline_panel(ctx: PageContext, profile: GridProfile) -> None:
    """Events and disputes per day, week or month of the window (自动: by the window's length)."""
    choice = st.segmented_control("时间粒度", list(PERIODS), format_func=PERIODS.get, key=PERIOD_KEY, default="auto",
                                  required=True)
    period = auto_period(ctx.start, ctx.end) if choice in (None, "auto") else choice
    df = ctx.store.query(timeline, profile.code, start=ctx.start, end=ctx.end, where=ctx.where, period=period)
    if df.empty:
        st.caption("时间范围内没有事件。")
        return
    st.altair_chart(timeline_chart(df, period), width="stretch")
    st.caption(f"共 {len(df):,} 个时段；事件 {int(df['events'].sum()):,} 件，矛盾纠纷 {int(df['disputes'].sum()):,} 件")


def category_panel(ctx: PageContext, profile: GridProfile) -> None:
    """Events per category (Chinese names), most first."""
    df = ctx.store.query(category_mix, profile.code, start=ctx.start, end=ctx.end, where=ctx.where)
    if df.empty:
        st.caption("时间范围内没有事件。")
        return
    chart, table = st.columns([3, 2])
    chart.altair_chart(category_chart(df), width="stretch")
    table.dataframe(df[["category_name", "events", "share"]], hide_index=True,
                    column_config={"category_name": st.column_config.TextColumn("类别"),
                                   "events": st.column_config.NumberColumn("事件数", format="localized"),
                                   "share": st.column_config.NumberColumn("占比", format="percent")})
