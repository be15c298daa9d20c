"""The chosen grid's event history on 网格详情: filters, search, sorting, 50 events a page, overdue marked."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.frame import PageContext
from dashboard.widgets.common import MISSING
from dashboard.widgets.grid_detail.people import event_people_panel
from dashboard.widgets.grid_detail.state import EVENT_PAGER
from store.schema import STATUSES
from layers.drilldown import PAGE_SIZE, EventPage, GridProfile, event_history
from layers.lookups import STATUS_NAMES
from layers.event_query import EventFilter

SORTS = {"reported_at": "上报时间", "dispatched_at": "派遣时间", "closed_at": "办结时间", "due_at": "办理期限",
         "status": "状态", "category": "类别", "dept": "部门", "event_id": "编号"}
OVERDUE = "⚠️ 超期"
CLOSED_LATE = "超期办结"
COLUMNS = {  # history row column -> Chinese header, in the order shown
    "event_id": "编号", "reported_at": "上报", "dispatched_at": "派遣", "closed_at": "办结", "due_at": "期限",
    "status_name": "状态", "overdue_mark": "超期", "category_name": "类别", "dept_name": "部门",
    "grid_small_name": "小网格", "address": "地址", "description": "描述",
}
TIME_FORMAT = "YYYY-MM-DD HH:mm"


def history_filters(ctx: PageContext) -> tuple[EventFilter, str, str, bool]:
    """The page's own filter (部门 / 类别 / 状态), the search text, the sort key and direction."""
    depts, categories, statuses = st.columns(3)
    chosen_depts = depts.multiselect("部门", list(ctx.dept_names), format_func=lambda c: ctx.dept_names.get(c, c),
                                     key="drill_f_depts", placeholder="全部部门", on_change=EVENT_PAGER.first)
    chosen_categories = categories.multiselect(
        "类别", list(ctx.category_names), format_func=lambda c: ctx.category_names.get(c, c),
        key="drill_f_categories", placeholder="全部类别", on_change=EVENT_PAGER.first)
    chosen_statuses = statuses.multiselect("状态", list(STATUSES), format_func=lambda s: STATUS_NAMES.get(s, s),
                                           key="drill_f_statuses", placeholder="全部状态", on_change=EVENT_PAGER.first)
    text, sort, direction = st.columns([3, 1, 1], vertical_alignment="bottom")
    search = text.text_input("搜索事件（描述、地址或编号）", key="drill_q", on_change=EVENT_PAGER.first)
    sort_key = sort.selectbox("排序", list(SORTS), format_func=SORTS.get, key="drill_sort", on_change=EVENT_PAGER.first)
    descending = direction.toggle("降序", value=True, key="drill_desc", on_change=EVENT_PAGER.first)
    also = EventFilter(depts=tuple(chosen_depts), categories=tuple(chosen_categories), statuses=tuple(chosen_statuses))
    return also, search, sort_key, descending


def history_table(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of event_history with Chinese headers and the overdue mark (⚠️ 超期 / 超期办结)."""
    shown = rows.assign(overdue_mark=[OVERDUE if o else CLOSED_LATE if late else ""
                                      for o, late in zip(rows["overdue"], rows["closed_late"])])
    shown["dept_name"] = shown["dept_name"].fillna(shown["dept"])
    return shown[list(COLUMNS)].rename(columns=COLUMNS)


def event_history_panel(ctx: PageContext, profile: GridProfile) -> EventPage:
    """Filters, one page of the grid's events and the pager (上一页 / 页码 / 下一页)."""
    also, search, sort, descending = history_filters(ctx)
    result = ctx.store.query(event_history, profile.code, start=ctx.start, end=ctx.end, as_of=ctx.as_of,
                             where=ctx.where, also=also, search=search, sort=sort, descending=descending,
                             page=EVENT_PAGER.page(), page_size=PAGE_SIZE)  # clamped to the pages there are
    overdue = int(result.rows["overdue"].sum())
    st.caption(f"共 {result.total:,} 件事件，本页超期未办结 {overdue} 件；时间为上报、派遣、办结与办理期限。")
    time_columns = {COLUMNS[c]: st.column_config.DatetimeColumn(COLUMNS[c], format=TIME_FORMAT)
                    for c in ("reported_at", "dispatched_at", "closed_at", "due_at")}
    st.dataframe(history_table(result.rows), hide_index=True, column_config=time_columns, placeholder=MISSING)
    EVENT_PAGER.draw(result.page, result.page_count, result.page_size)
    event_people_panel(ctx, [str(e) for e in result.rows["event_id"]])
    return result
