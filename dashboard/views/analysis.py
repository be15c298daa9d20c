"""分析研判: early warnings (each opens its grid), the hotspot map, the emerging-hotspot map, repeat places and people,
and the meeting briefing as PDF or DOCX."""

from __future__ import annotations

import streamlit as st

from dashboard.frame import context
from dashboard.widgets.analysis.maps import pick_map, pick_settings, show_emerging_map, show_hotspot_map
from dashboard.widgets.analysis.repeats import show_briefing_downloads, show_repeat_people, show_repeat_places
from dashboard.widgets.analysis.warnings import show_warning_list

ctx = context()
st.title("分析研判")
st.caption(f"统计时点：{ctx.as_of:%Y-%m-%d %H:%M}（不受侧栏时间范围影响）")

st.subheader("预警")
show_warning_list(ctx)

st.subheader("热点分析")
level, measure = pick_settings()
# One map at a time (not tabs: a map drawn in a hidden tab opens zoomed out to the whole world).
if pick_map() == "emerging":
    show_emerging_map(ctx, level, measure)
else:
    show_hotspot_map(ctx, level, measure)

st.subheader("重复发生地点")
show_repeat_places(ctx)

st.subheader("重复来访当事人")
show_repeat_people(ctx)

st.subheader("研判简报")
show_briefing_downloads(ctx)
