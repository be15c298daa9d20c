"""The command center's 督办 panel: every item the user may see (overdue first), each opening its event's detail, where
its history is and the steps the user may take (核查通过 / 退回 for the command center, 反馈 for an official). New
items are made on an event's detail page (事件详情), opened from the feed or a pop-up's 详情."""

from __future__ import annotations

import streamlit as st

from dashboard.frame import PageContext
from dashboard.widgets.supervision import supervision_list, visible_items


def supervision_panel(ctx: PageContext) -> None:
    """督办事项 under the map and the feed."""
    st.subheader("督办事项")
    problem = ctx.actions.writable_problem() if ctx.actions is not None else "no action log"
    if problem is not None:
        st.error(f"督办记录无法写入，督办已停用。请管理员处理：{problem}")
        return
    supervision_list(visible_items(ctx), empty="暂无督办事项。在事件详情页（点击最新上报中的时间）可对事件发起督办。")
