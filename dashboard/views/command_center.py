"""指挥中心: what is happening now and what is overdue (events, 督办, and grids without patrol visits), with pop-ups.

Two layouts of one page: the operator's (switches above the map, a click on a grid opens 网格详情, a feed row opens
the event, 督办 and 签收 happen here) and the wall display (?screen=big, and all a `wall` account sees: one fixed
screen, no controls; dashboard/widgets/command_center/wall.py).

Live: the tiles, the feed and the pop-ups are fragments that redraw every ctx.refresh_seconds with the latest data.
The map is outside them, so a refresh never reloads it and its view stays where the operator left it; it redraws
on a full rerun: its switches, the sidebar's filters, or a newly published load (widgets/command_center/live.py).

Tiles: the first row is tiles.TILE_SOURCES (add a source there to add a tile to this page and to the wall's strip);
what a tile reads but takes seconds to compute (the 预警 counts) is tiles.late_work, run last on both layouts.
"""

import streamlit as st

from dashboard.frame import apply_big_screen, context
from dashboard.widgets.command_center.alerts import alert_popups, alert_styles
from dashboard.widgets.command_center.feed import latest_feed
from dashboard.widgets.command_center.live import live, stale_data_notice
from dashboard.widgets.command_center.map import map_controls, show_map
from dashboard.widgets.command_center.patrol import patrol_feed, patrol_tiles
from dashboard.widgets.command_center.supervision import supervision_panel
from dashboard.widgets.command_center.tiles import late_work, tile_row
from dashboard.widgets.command_center.wall import wall_page

ctx = context()
if ctx.big_screen:
    wall_page(ctx)
    st.stop()

apply_big_screen(ctx)
st.title("指挥中心")
st.caption(f"时间范围：{ctx.window_text()}")
stale_data_notice(ctx)
live(tile_row, ctx)
live(patrol_tiles, ctx)

map_side, feed_side = st.columns([3, 2], gap="medium")
with map_side:
    show_map(ctx, map_controls())
with feed_side:
    live(latest_feed, ctx)
    live(patrol_feed, ctx)
supervision_panel(ctx)
alert_styles()
live(alert_popups, ctx)
live(late_work, ctx)  # last: the 预警 counts never hold up the map and the feed
