"""The wall display (`/?screen=big`, and all a `wall` account sees): one fixed 16:9 screen with no scrolling at
1920×1080, 1366×768 and 3840×2160 - type scales with the screen (the root font size is a share of the viewport) -
with a title bar and live clock, the KPI strip, the map as the centrepiece (legend inside the screen, large grids
outlined and named on a dark map), TOP-10 large grids, the category ring and the 24-hour trend on the left, the
最新上报 and 最新巡查走访 tickers on the right, and the pop-ups. No operator controls.

Live parts are fragments (dashboard/widgets/command_center/live.py). The map is drawn once (a refresh never sends
it again; the pop-ups pulse grids inside it); with the rotation setting it switches metric every N seconds.

Tile row: the KPI strip shows tiles.row_tiles (TILE_SOURCES) and then the patrol tiles; a new tile source joins
both the operator's page and the wall. tiles.late_work (the 预警 counts) runs at the end of the right panels' fragment:
after the map and the tickers, and with no element of its own (an empty fragment's container would take room).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import MutableMapping

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard.frame import PageContext
from dashboard.widgets.command_center.alerts import ALERT_PAGE_CSS, alert_popups
from dashboard.widgets.command_center.feed import grid_label
from dashboard.widgets.command_center.live import live
from dashboard.widgets.command_center.map import MapView, command_map
from dashboard.widgets.command_center.patrol import patrol_tile_texts
from dashboard.widgets.command_center.tiles import late_work, row_tiles, strip_html
from dashboard.widgets.command_center.wall_panels import category_ring, ticker, title_bar, top_bars, trend_bars
from dashboard.widgets.common import cell_text
from layers.kpis import latest_reports
from layers.patrol import has_patrol_data, latest_visits
from layers.wall import category_counts, hourly_reports, top_grids
from layers.geometry import prepare_level
from layers.wall_map import dark_wall_style

WALL_MAP_KEY = "wall_map"
REPORT_ROWS = 11
VISIT_ROWS = 8
BASELINE_KEY = "wall_ticker_baseline"  # the ids listed when the wall opened: anything else is new while listed
ROTATION: tuple[MapView, ...] = (
    MapView(level="中网格", metric="事件数", latest=False),
    MapView(level="中网格", metric="超期", latest=False),
    MapView(level="中网格", metric="巡查覆盖", latest=False),
)
NOMINAL_MAP_HEIGHT = 700  # st_folium's; the CSS sizes the frame and alerts.js fits the map into it
WALL_CSS = """
<style>
html {font-size: min(calc(100vw / 120), calc(100vh / 67.5)) !important;}
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"],
[data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stStatusWidget"] {display: none !important;}
.stApp {background: #0b1220; color: #e6edf7;}
.stApp [data-testid="stMainBlockContainer"] {max-width: 100%; padding: 0.5rem 0.9rem 0 0.9rem;}
.stApp [data-testid="stVerticalBlock"] {gap: 0.45rem;}
[data-testid="stElementContainer"]:has(.mq-css), .st-key-minqing_cookie_box,
[data-testid="stElementContainer"]:has(.mq-alerts-css) {display: none !important;}
.mq-title {display: flex; align-items: baseline; gap: 2rem; height: 2.9rem; border-bottom: 0.12rem solid #1e3a5f;}
.mq-title-name {font-size: 1.9rem; font-weight: 700; color: #f8fafc; letter-spacing: 0.1rem; flex: 1;}
.mq-title-date, .mq-title-asof {font-size: 1.1rem; color: #94a3b8;}
.mq-clock {font-size: 1.7rem; font-weight: 700; color: #ffd166; font-variant-numeric: tabular-nums;}
.mq-strip {display: flex; gap: 0.5rem; height: 5.4rem; margin: 0.45rem 0 1rem 0;}  /* 1rem: Streamlit pulls a markdown's end up by 1rem */
.mq-kpi {flex: 1; background: rgba(56, 189, 248, 0.07); border: 0.06rem solid #1e3a5f; border-radius: 0.4rem;
  padding: 0.3rem 0.6rem; overflow: hidden;}
.mq-kpi-value {font-size: 1.9rem; font-weight: 700; color: #ffd166; line-height: 1.15;
  font-variant-numeric: tabular-nums;}
.mq-kpi.mq-alarm .mq-kpi-value {color: #f87171;}
.mq-kpi-label {font-size: 0.85rem; color: #cbd5e1; white-space: nowrap;}
.mq-delta {font-size: 0.72rem; color: #94a3b8; white-space: nowrap;} .mq-delta span {color: #64748b;}
.mq-delta.mq-good {color: #4ade80;} .mq-delta.mq-bad {color: #f87171;}
.mq-panel {background: rgba(15, 23, 42, 0.85); border: 0.06rem solid #1e3a5f; border-radius: 0.4rem;
  padding: 0.4rem 0.6rem; margin-bottom: 0.45rem; overflow: hidden;}
.mq-panel .mq-h {font-size: 1.05rem; font-weight: 700; color: #7dd3fc; margin: 0 0 0.3rem 0; padding: 0; display: flex;
  justify-content: space-between; align-items: baseline;}
.mq-panel .mq-h small {font-size: 0.72rem; color: #64748b; font-weight: 400;}
.mq-top ol {list-style: none; margin: 0; padding: 0;}
.mq-top li {display: grid; grid-template-columns: 1.2rem 6.5rem 1fr 3.2rem; gap: 0.3rem; align-items: center;
  font-size: 0.82rem; height: 1.45rem;}
.mq-rank {color: #64748b;} .mq-name {white-space: nowrap; overflow: hidden; text-overflow: ellipsis;}
.mq-bar {background: #1e293b; height: 0.55rem; border-radius: 0.3rem; overflow: hidden;}
.mq-bar i {display: block; height: 100%; background: linear-gradient(90deg, #f59e0b, #ef4444);}
.mq-val {text-align: right; font-variant-numeric: tabular-nums; color: #e2e8f0;}
.mq-ring-body {display: flex; align-items: center; gap: 0.5rem;}
.mq-ring-svg {width: 8.5rem; height: 8.5rem; flex: none; transform: none;}
.mq-ring-total {fill: #f8fafc; font-weight: 700;} .mq-ring-unit {fill: #94a3b8;}
.mq-ring ul {list-style: none; margin: 0; padding: 0; font-size: 0.78rem; flex: 1; min-width: 0;}
.mq-ring li {display: flex; align-items: center; gap: 0.3rem; height: 1.2rem; white-space: nowrap; overflow: hidden;}
.mq-ring li i {width: 0.6rem; height: 0.6rem; border-radius: 0.15rem; flex: none;}
.mq-ring li b {margin-left: auto; color: #cbd5e1; font-weight: 400;}
.mq-trend > svg {width: 100%; height: 12.5rem; display: block;} .mq-trend rect {fill: #38bdf8;}
.mq-ticks {position: relative; height: 1.1rem; font-size: 0.72rem; color: #94a3b8;}
.mq-ticks span {position: absolute; top: 0;}
.mq-ticker ul {list-style: none; margin: 0; padding: 0;}
.mq-ticker li {display: grid; grid-template-columns: 3.2rem 1fr; grid-template-rows: auto auto; column-gap: 0.4rem;
  font-size: 0.82rem; padding: 0.18rem 0; border-bottom: 0.05rem solid #1e293b; line-height: 1.25;}
.mq-ticker .mq-t {color: #94a3b8; grid-row: span 2; font-variant-numeric: tabular-nums;}
.mq-ticker .mq-w {color: #f1f5f9; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;}
.mq-ticker .mq-p {color: #94a3b8; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-size: 0.75rem;}
.mq-ticker li.mq-row-new {background: rgba(255, 209, 102, 0.12);}
.mq-new {background: #f59e0b; color: #111827; border-radius: 0.2rem; padding: 0 0.25rem; margin-right: 0.3rem;
  font-size: 0.7rem; font-weight: 700;}
.mq-warn {color: #f87171; margin-right: 0.25rem;}
.st-key-wall_map_box iframe {height: 55.6rem !important; border-radius: 0.4rem;}
.mq-map-caption {font-size: 0.8rem; color: #94a3b8; margin: 0;}
</style>
<span class="mq-css"></span>
"""  # constant CSS, no data in it


def wall_page(ctx: PageContext) -> None:
    """The whole wall: CSS, the live title bar and KPI strip, then the three columns."""
    st.markdown(WALL_CSS + ALERT_PAGE_CSS, unsafe_allow_html=True)
    live(title_and_strip, ctx)
    left, centre, right = st.columns([1.05, 2.55, 1.1], gap="small")
    with left:
        live(side_panels, ctx)
    with centre:
        wall_map(ctx)
    with right:
        live(right_panels, ctx)


def scope_label(ctx: PageContext) -> str:
    """The city's name (minqing.toml `city`, else 全市), and the scope codes of a scoped wall after it."""
    city = ctx.summary.city or ("全市" if ctx.principal.whole_city else "")
    if ctx.principal.whole_city:
        return city
    return " · ".join(part for part in (city, "、".join(ctx.principal.scope)) if part)


def title_and_strip(ctx: PageContext) -> None:
    """The title bar and the KPI strip (every tile source, then the patrol tiles)."""
    tiles = row_tiles(ctx) + patrol_tile_texts(ctx)
    st.markdown(title_bar(scope_label(ctx), dt.datetime.now(), ctx.as_of) + strip_html(tiles),
                unsafe_allow_html=True)


def side_panels(ctx: PageContext) -> None:
    """TOP-10 large grids (by overdue when any, else by events), the category ring, the 24-hour trend."""
    overdue = ctx.store.query(top_grids, by="overdue_now", start=ctx.start, end=ctx.end, as_of=ctx.as_of,
                              where=ctx.where)
    by = "overdue_now" if len(overdue) and int(overdue["value"].max()) > 0 else "events"
    ranked = overdue if by == "overdue_now" else ctx.store.query(top_grids, by="events", start=ctx.start,
                                                                 end=ctx.end, as_of=ctx.as_of, where=ctx.where)
    window = ctx.window_label
    mix = ctx.store.query(category_counts, start=ctx.start, end=ctx.end, where=ctx.where)
    hourly = ctx.store.query(hourly_reports, as_of=ctx.as_of, where=ctx.where)
    st.markdown(top_bars(ranked, by, window) + category_ring(mix, window) + trend_bars(hourly),
                unsafe_allow_html=True)


def new_marks(ids: list[str], kind: str, state: MutableMapping | None = None) -> set[str]:
    """The ids that were not listed when the wall opened: new while they stay in the ticker."""
    state = st.session_state if state is None else state
    baseline = state.setdefault(BASELINE_KEY, {})
    if kind not in baseline:
        baseline[kind] = frozenset(ids)
    return set(ids) - baseline[kind]


def right_panels(ctx: PageContext) -> None:
    """The two tickers, then the pop-ups (which take no room), then tiles.late_work."""
    reports = ctx.store.query(latest_reports, as_of=ctx.as_of, where=ctx.where, limit=REPORT_ROWS)
    fresh = new_marks(list(reports["event_id"].astype(str)), "reports")
    rows = [(pd.Timestamp(r.reported_at).strftime("%H:%M"),
             " · ".join(t for t in (cell_text(r.category_name) or cell_text(r.category),
                                    cell_text(r.dept_name) or cell_text(r.dept)) if t),
             grid_label(r.grid_large_name, r.grid_medium_name, r.grid_small_name), str(r.event_id) in fresh,
             bool(r.overdue)) for r in reports.itertuples(index=False)]
    html_text = ticker("最新上报", rows, "暂无上报")
    if ctx.store.query(has_patrol_data):
        visits = ctx.store.query(latest_visits, as_of=ctx.as_of, limit=VISIT_ROWS)
        fresh_visits = new_marks(list(visits["visit_id"].astype(str)), "visits")
        visit_rows = [(pd.Timestamp(v.visited_at).strftime("%H:%M"),
                       " ".join(t for t in (cell_text(v.visit_type_name), cell_text(v.worker_name)) if t),
                       grid_label(v.grid_large_name, v.grid_medium_name, v.grid_small_name),
                       str(v.visit_id) in fresh_visits, v.off_beat is True) for v in visits.itertuples(index=False)]
        html_text += ticker("最新巡查走访", visit_rows, "暂无走访签到")
    st.markdown(html_text, unsafe_allow_html=True)
    alert_popups(ctx, wall=True)
    late_work(ctx)


def rotated_view(ctx: PageContext, now: float | None = None) -> MapView:
    """The map's metric now: the first without rotation, else the one whose turn it is."""
    views = [v for v in ROTATION if v.metric != "巡查覆盖" or ctx.store.query(has_patrol_data)]
    if ctx.rotate_seconds <= 0:
        return views[0]
    return views[int((time.time() if now is None else now) // ctx.rotate_seconds) % len(views)]


def wall_map(ctx: PageContext) -> None:
    """The centre map, dark, with the large grids outlined and named; drawn once, or in turn with rotation."""
    def draw() -> None:
        view = rotated_view(ctx)
        m = command_map(ctx, view)
        dark_wall_style(m, ctx.store.resource(prepare_level, "large"))
        with st.container(key="wall_map_box"):
            st_folium(m, key=f"{WALL_MAP_KEY}_{view.metric}", returned_objects=[], height=NOMINAL_MAP_HEIGHT,
                      use_container_width=True)

    if ctx.rotate_seconds > 0:
        st.fragment(draw, run_every=ctx.rotate_seconds)()
    else:
        draw()
