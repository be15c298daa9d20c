"""事件详情: one event (?id=EVENT_ID) with its whole timeline, the department's record id, linked records from other
departments, a small map and its 督办 history and steps; opened from the feed, the pop-ups and the 督办 lists."""

from __future__ import annotations

import streamlit as st

from access.actions import STATUS
from dashboard.frame import apply_big_screen, context
from dashboard.widgets.common import plain
from dashboard.widgets.event_detail.record import facts, linked_panel, map_panel, timeline_panel
from dashboard.widgets.supervision import item_history, item_state, item_steps, visible_items
from layers.event_detail import event_record

ctx = context()
apply_big_screen(ctx)
st.title("事件详情")
event_id = st.query_params.get("id", "")
record = ctx.store.query(event_record, event_id, as_of=ctx.as_of) if event_id else None
if record is None:
    st.warning(f"未找到事件“{plain(event_id)}”，或该事件不在您的辖区内。" if event_id else "未指定事件。", icon="⚠️")
    st.page_link("views/command_center.py", label="返回指挥中心", icon=":material/arrow_back:")
    st.stop()

left, right = st.columns([3, 2], gap="medium")
with left:
    facts(record)
    st.markdown("**时间线**")
    timeline_panel(ctx, record)
    st.markdown("**其他部门的关联记录**")
    linked_panel(ctx, record)
with right:
    map_panel(ctx, record)
    st.markdown("**督办**")
    state = item_state(visible_items(ctx), event_id)
    if state is None:
        st.caption("该事件未被督办。")
    else:
        st.caption(f"督办状态：{STATUS[state]}")
        history = item_history(ctx, event_id)
        st.dataframe(history.assign(at=history["at"].dt.strftime("%Y-%m-%d %H:%M")).rename(
            columns={"at": "时间", "what": "操作", "who": "操作人", "note": "说明"}), hide_index=True, width="stretch")
    item_steps(ctx, event_id, state, key="event_supervision")
