"""网格人员与巡查 on 网格详情: the chosen grid's patrol figures, its people and a pager over its check-ins."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.frame import NEGLECT_ENV, PageContext
from dashboard.widgets.common import MISSING, NO_PATROL_DATA, Pager, count_text, is_missing, rate_text
from dashboard.widgets.grid_detail.patrol_people import grid_people_panel
from layers.drilldown import GridProfile
from layers.patrol import (DEFAULT_NEGLECT_DAYS, PAGE_SIZE, VisitPage, has_patrol_data, patrol_figures,
                           visit_history)

NEVER = "从未走访"
VISITS_PAGER = Pager("drill_visits", unit="次", label="走访记录页码")  # drill_visits_page, _prev, _next
GRID_KEY = "drill_visits_grid"  # the grid the pager's page belongs to; another grid starts at page 1
COLUMNS = {  # visit_history row column -> Chinese header, in the order shown
    "visited_at": "时间", "visit_type_name": "类型", "worker_label": "人员", "worker_role_name": "身份",
    "event_id": "跟进事件", "off_beat_mark": "偏离网格", "address": "地址", "description": "备注",
}


def _flag(value: object) -> bool:
    """A nullable boolean as True / False (missing: False)."""
    return not is_missing(value) and bool(value)


def _last_visit(value: object) -> str:
    return NEVER if is_missing(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _per_1000(value: object) -> str:
    return MISSING if is_missing(value) else f"{float(value):.2f}"


def figure_row(ctx: PageContext, profile: GridProfile) -> None:
    """The grid's patrol figures at the statistics moment (ctx.as_of), one line of metrics."""
    figures = ctx.store.query(patrol_figures, profile.level, as_of=ctx.as_of, neglect_days=ctx.neglect_days)
    found = figures[figures["grid_code"] == profile.code]
    if found.empty:
        st.caption("没有该网格的巡查数据。")
        return
    row = found.iloc[0]
    tiles = (
        ("最近走访", _last_visit(row["last_visit_at"]), "网格内最近一次巡查签到的日期"),
        ("距上次走访（天）", count_text(row["days_since_visit"]), "最近一次签到到统计时点的整天数"),
        ("近7日走访", count_text(row["visits_7d"]), "统计时点前7天内网格内的签到次数（含偏离网格的签到）"),
        ("近30日走访", count_text(row["visits_30d"]), "统计时点前30天内网格内的签到次数"),
        ("近7日走访覆盖率", rate_text(row["share_visited_7d"]), "近7天内有签到的小网格占小网格总数的比例"),
        ("失管小网格", count_text(row["neglected_small"]),
         f"连续 {ctx.neglect_days} 天及以上没有巡查签到（或从未签到）的小网格数；"
         f"天数由环境变量 `{NEGLECT_ENV}` 设置（默认 {DEFAULT_NEGLECT_DAYS}）"),
        ("网格员", count_text(row["workers"]), "统计时点在岗、负责本网格或其下级网格的网格长与网格员（联户长另计）"),
        ("每千人网格员", _per_1000(row["workers_per_1000"]), "网格员 ÷ 人口 × 1,000"),
    )
    for column, (label, value, help_text) in zip(st.columns(len(tiles)), tiles):
        column.metric(label, value, help=help_text)


def visits_table(rows: pd.DataFrame) -> pd.DataFrame:
    """visit_history rows with Chinese headers; ⚠ and the distance for a check-in off the worker's grids."""
    if rows.empty:
        return pd.DataFrame(columns=list(COLUMNS.values()))
    marks = [("⚠" if is_missing(km) else f"⚠ {float(km):.1f} km") if _flag(off) else ""
             for off, km in zip(rows["off_beat"], rows["beat_km"])]
    shown = rows.assign(off_beat_mark=marks, worker_label=rows["worker_name"].fillna(rows["worker_id"]))
    return shown[list(COLUMNS)].rename(columns=COLUMNS)


def visit_history_panel(ctx: PageContext, profile: GridProfile) -> VisitPage:
    """巡查走访记录: the grid's check-ins in the sidebar's window, newest first, with the pager."""
    st.markdown("**巡查走访记录**")
    if st.session_state.get(GRID_KEY) != profile.code:
        st.session_state[GRID_KEY] = profile.code
        VISITS_PAGER.first()
    result = ctx.store.query(visit_history, profile.code, start=ctx.start, end=ctx.end, page=VISITS_PAGER.page(),
                             page_size=PAGE_SIZE)
    if result.page > result.pages:  # fewer pages than before (a narrower window): show the last one
        result = ctx.store.query(visit_history, profile.code, start=ctx.start, end=ctx.end, page=result.pages,
                                 page_size=PAGE_SIZE)
    off = sum(_flag(v) for v in result.rows["off_beat"]) if not result.rows.empty else 0
    st.caption(f"共 {result.total:,} 次签到，本页偏离网格 {off} 次；时间范围同侧栏。")
    column_config = {"时间": st.column_config.DatetimeColumn("时间", format="YYYY-MM-DD HH:mm")}
    st.dataframe(visits_table(result.rows), hide_index=True, column_config=column_config, placeholder=MISSING)
    VISITS_PAGER.draw(result.page, result.pages, result.page_size)
    return result


def patrol_panel(ctx: PageContext, profile: GridProfile) -> None:
    """网格人员与巡查: figures, people and check-ins of the chosen grid (a caption for the city or no data)."""
    st.subheader("网格人员与巡查")
    if not ctx.store.query(has_patrol_data):
        st.caption(NO_PATROL_DATA)
        return
    if profile.level == "city":
        st.caption("选择一个网格查看其网格人员与巡查走访。")
        return
    figure_row(ctx, profile)
    grid_people_panel(ctx, profile)
    visit_history_panel(ctx, profile)
