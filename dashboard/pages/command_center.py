"""指挥中心: what is happening now and what is overdue, for the command center's big screen."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from dashboard.frame import apply_big_screen, context
from layers.choropleth import choropleth
from layers.geometry import prepare_level
from layers.grids import event_counts

ctx = context()
apply_big_screen(ctx)
st.title("指挥中心")
st.caption(ctx.window_text())
counts = ctx.store.query(event_counts, "large", start=ctx.start, end=ctx.end)
total, grids = st.columns(2)
total.metric("事件数", f"{int(counts['event_count'].sum()):,}")
grids.metric("网格数", f"{ctx.summary.grid_total:,}")
st.subheader("各大网格事件数")
prepared = ctx.store.resource(prepare_level, "large")
m = choropleth(prepared, counts.set_index("grid_code")["event_count"], title="事件数（大网格）", basemap=ctx.basemap)
st_folium(m, key="cc_map", returned_objects=[], height=620, use_container_width=True)
