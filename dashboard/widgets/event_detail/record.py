"""事件详情's panels: the record's facts, its timeline (workflow, patrol follow-ups, 督办 steps), the other
departments' records of the same incident, and a small map."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard.frame import PageContext
from dashboard.widgets.common import MISSING, cell_text, plain
from dashboard.widgets.supervision import event_url, item_history
from layers.alerts import place_text
from layers.event_detail import event_map, follow_ups, linked_records, timeline
from layers.lookups import STATUS_NAMES

MAP_HEIGHT = 320
TIME = "%Y-%m-%d %H:%M"


def _time(value: object) -> str:
    return MISSING if value is None or pd.isna(value) else pd.Timestamp(value).strftime(TIME)


def facts(record: pd.Series) -> None:
    """Category, status, department and its record id, place, times, address and description (plain text)."""
    status = STATUS_NAMES.get(str(record["status"]), str(record["status"]))
    overdue = " · :red[超期]" if bool(record["overdue"]) else ""
    st.subheader(f"{plain(cell_text(record['category_name']) or record['category'])} · {plain(status)}{overdue}")
    rows = [
        ("部门", cell_text(record["dept_name"]) or cell_text(record["dept"])),
        ("部门记录编号", cell_text(record["source_id"])),
        ("事件编号", cell_text(record["event_id"])),
        ("网格", place_text(record["grid_large_name"], record["grid_medium_name"], record["grid_small_name"])),
        ("上报时间", _time(record["reported_at"])),
        ("办理期限", _time(record["due_at"])),
        ("办结时间", _time(record["closed_at"])),
        ("地址", cell_text(record["address"]) or MISSING),
        ("描述", cell_text(record["description"]) or MISSING),
    ]
    st.markdown("\n".join(f"- **{label}**：{plain(value)}" for label, value in rows))


def timeline_panel(ctx: PageContext, record: pd.Series) -> None:
    """Every step of the event in time order."""
    steps = timeline(record, ctx.store.query(follow_ups, str(record["event_id"])),
                     item_history(ctx, str(record["event_id"])))
    shown = pd.DataFrame({"时间": steps["at"].dt.strftime(TIME), "环节": steps["what"],
                          "人员": [cell_text(w) for w in steps["who"]], "说明": [cell_text(n) for n in steps["note"]]})
    st.dataframe(shown, hide_index=True, width="stretch")


def linked_panel(ctx: PageContext, record: pd.Series) -> None:
    """The same incident as other departments recorded it, each linked to its own detail."""
    linked = ctx.store.query(linked_records, str(record["event_id"]), as_of=ctx.as_of)
    if linked.empty:
        st.caption("没有其他部门关联的记录。")
        return
    lines = [f"- {_time(r.reported_at)} · {plain(cell_text(r.dept_name) or r.dept)} · "
             f"{plain(cell_text(r.category_name) or r.category)} · 记录编号 {plain(cell_text(r.source_id))} · "
             f"[详情]({event_url(r.event_id)})" for r in linked.itertuples()]
    st.markdown("\n".join(lines))


def map_panel(ctx: PageContext, record: pd.Series) -> None:
    """The event's grid outlined and its point."""
    m = ctx.store.query(event_map, record, basemap=ctx.basemap)
    if m is None:
        st.caption("该事件没有坐标，也未落入网格。")
        return
    st_folium(m, key="event_map", returned_objects=[], height=MAP_HEIGHT, use_container_width=True)
