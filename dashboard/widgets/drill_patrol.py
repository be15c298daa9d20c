"""网格人员与巡查 on 网格详情: the chosen grid's patrol figures, its people and a pager over its check-ins."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.frame import NEGLECT_ENV, PageContext
from dashboard.widgets.drill_patrol_people import grid_people_panel
from layers.drilldown import GridProfile
from layers.patrol import (DEFAULT_NEGLECT_DAYS, PAGE_SIZE, VisitPage, has_patrol_data, patrol_figures,
                           visit_history)

MISSING = "—"
NEVER = "从未走访"
NO_DATA = "未加载网格人员与巡查走访数据"
PAGE_KEY = "drill_visits_page"
GRID_KEY = "drill_visits_grid"  # the grid the pager's page belongs to; another grid starts at page 1
COLUMNS = {  # visit_history row column -> Chinese header, in the order shown
    "visited_at": "时间", "visit_type_name": "类型", "worker_label": "人员", "worker_role_name": "身份",
    "event_id": "跟进事件", "off_beat_mark": "偏离网格", "address": "地址", "description": "备注",
}


def _missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))


def _flag(value: object) -> bool:
    """A nullable boolean as True / False (missing: False)."""
    return not _missing(value) and bool(value)


def _count(value: object) -> str:
    return MISSING if _missing(value) else f"{int(value):,}"


def _last_visit(value: object) -> str:
    return NEVER if _missing(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _share(value: object) -> str:
    return MISSING if _missing(value) else f"{float(value):.1%}"


def _per_1000(value: object) -> str:
    return MISSING if _missing(value) else f"{float(value):.2f}"


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
        ("距上次走访（天）", _count(row["days_since_visit"]), "最近一次签到到统计时点的整天数"),
        ("近7日走访", _count(row["visits_7d"]), "统计时点前7天内网格内的签到次数（含偏离网格的签到）"),
        ("近30日走访", _count(row["visits_30d"]), "统计时点前30天内网格内的签到次数"),
        ("近7日走访覆盖率", _share(row["share_visited_7d"]), "近7天内有签到的小网格占小网格总数的比例"),
        ("失管小网格", _count(row["neglected_small"]),
         f"连续 {ctx.neglect_days} 天及以上没有巡查签到（或从未签到）的小网格数；"
         f"天数由环境变量 `{NEGLECT_ENV}` 设置（默认 {DEFAULT_NEGLECT_DAYS}）"),
        ("网格员", _count(row["workers"]), "统计时点在岗、负责本网格或其下级网格的网格长与网格员（联户长另计）"),
        ("每千人网格员", _per_1000(row["workers_per_1000"]), "网格员 ÷ 人口 × 1,000"),
    )
    for column, (label, value, help_text) in zip(st.columns(len(tiles)), tiles):
        column.metric(label, value, help=help_text)


def visits_table(rows: pd.DataFrame) -> pd.DataFrame:
    """visit_history rows with Chinese headers; ⚠ and the distance for a check-in off the worker's grids."""
    if rows.empty:
        return pd.DataFrame(columns=list(COLUMNS.values()))
    marks = [("⚠" if _missing(km) else f"⚠ {float(km):.1f} km") if _flag(off) else ""
             for off, km in zip(rows["off_beat"], rows["beat_km"])]
    shown = rows.assign(off_beat_mark=marks, worker_label=rows["worker_name"].fillna(rows["worker_id"]))
    return shown[list(COLUMNS)].rename(columns=COLUMNS)


def _step(delta: int) -> None:
    st.session_state[PAGE_KEY] = max(1, int(st.session_state.get(PAGE_KEY, 1)) + delta)


def visit_history_panel(ctx: PageContext, profile: GridProfile) -> VisitPage:
    """巡查走访记录: the grid's check-ins in the sidebar's window, newest first, with the pager."""
    st.markdown("**巡查走访记录**")
    if st.session_state.get(GRID_KEY) != profile.code:
        st.session_state[GRID_KEY] = profile.code
        st.session_state[PAGE_KEY] = 1
    page = max(1, int(st.session_state.get(PAGE_KEY, 1)))
    result = ctx.store.query(visit_history, profile.code, start=ctx.start, end=ctx.end, page=page,
                             page_size=PAGE_SIZE)
    if result.page > result.pages:  # fewer pages than before (a narrower window): show the last one
        result = ctx.store.query(visit_history, profile.code, start=ctx.start, end=ctx.end, page=result.pages,
                                 page_size=PAGE_SIZE)
    st.session_state[PAGE_KEY] = result.page  # before the pager is drawn
    off = sum(_flag(v) for v in result.rows["off_beat"]) if not result.rows.empty else 0
    st.caption(f"共 {result.total:,} 次签到，本页偏离网格 {off} 次；时间范围同侧栏。")
    column_config = {"时间": st.column_config.DatetimeColumn("时间", format="YYYY-MM-DD HH:mm")}
    st.dataframe(visits_table(result.rows), hide_index=True, column_config=column_config, placeholder="—")
    back, number, forward, position = st.columns([1, 1, 1, 3], vertical_alignment="bottom")
    back.button("上一页", key="drill_visits_prev", on_click=_step, args=(-1,), disabled=result.page <= 1)
    number.number_input("走访记录页码", min_value=1, max_value=result.pages, step=1, key=PAGE_KEY)
    forward.button("下一页", key="drill_visits_next", on_click=_step, args=(1,), disabled=result.page >= result.pages)
    position.caption(f"第 {result.page} / {result.pages} 页，每页 {result.page_size} 次")
    return result


def patrol_panel(ctx: PageContext, profile: GridProfile) -> None:
    """网格人员与巡查: figures, people and check-ins of the chosen grid (a caption for the city or no data)."""
    st.subheader("网格人员与巡查")
    if not ctx.store.query(has_patrol_data):
        st.caption(NO_DATA)
        return
    if profile.level == "city":
        st.caption("选择一个网格查看其网格人员与巡查走访。")
        return
    figure_row(ctx, profile)
    grid_people_panel(ctx, profile)
    visit_history_panel(ctx, profile)
