"""指挥中心: what is happening now and what is overdue (events, and grids without patrol visits), for the command
center's big screen (?screen=big).

Live: the KPI tiles, the 预警 tile and the feed are fragments that redraw every ctx.refresh_seconds with the latest
data. The map is outside them, so a refresh never reloads it and its view stays where the operator left it; it
redraws on a full rerun: its switches, the sidebar's filters, or a newly published load
(dashboard/widgets/command_center/live.py).
"""

import streamlit as st

from dashboard.frame import apply_big_screen, context
from dashboard.widgets.analysis.warnings import warning_tile
from dashboard.widgets.command_center.feed import latest_feed
from dashboard.widgets.command_center.kpis import kpi_tiles
from dashboard.widgets.command_center.live import live, stale_data_notice
from dashboard.widgets.command_center.map import map_controls, show_map
from dashboard.widgets.command_center.patrol import patrol_feed, patrol_tiles

ctx = context()
apply_big_screen(ctx)

st.title("指挥中心")
st.caption(f"时间范围：{ctx.window_text()}")
stale_data_notice(ctx)
live(kpi_tiles, ctx)
live(patrol_tiles, ctx)
warning_row = st.container()  # shown under the tiles, filled last: the warnings never hold up the map and the feed

map_side, feed_side = st.columns([3, 2], gap="medium")
with map_side:
    show_map(ctx, map_controls())
with feed_side:
    live(latest_feed, ctx)
    live(patrol_feed, ctx)
with warning_row:
    live(warning_tile, ctx)
