"""The command center's map: its switches (level, figure, heatmap, latest events) and the map they compose.

The map is a choropleth of one figure per grid (layers/stats.grid_stats for the context's window, filters and
moment), optionally with the event heatmap and the latest located events on top. It is drawn with
st_folium under a fixed key returning only a clicked grid's tooltip, so panning and zooming never rerun the script;
a click on a grid opens 网格详情 for it (?grid=CODE).
"""

from __future__ import annotations

from dataclasses import dataclass

import folium
import streamlit as st
from streamlit_folium import st_folium

from dashboard.frame import LEVEL_LABELS, PageContext
from layers.choropleth import GridChoropleth, choropleth
from layers.coverage import coverage_map
from layers.drilldown import ClickableTooltips, clicked_grid
from layers.geometry import prepare_level
from layers.heatmap import heat_bins, heat_layer
from layers.markers import event_markers, latest_events, marker_legend
from layers.patrol import has_patrol_data, patrol_figures
from layers.stats import grid_stats

MAP_KEY = "cc_map"
MAP_RETURNS = ["last_object_clicked_tooltip"]  # a click on a grid: its tooltip's text names the grid
OPEN_GRID_KEY = "cc_open_grid"  # a grid clicked on the map, opened on 网格详情 by the run that follows
GRID_PAGE = "views/grid_detail.py"
LEVELS: dict[str, str] = {label: level for level, label in LEVEL_LABELS.items()}  # 大网格 → large, …
DEFAULT_LEVEL = "中网格"
METRICS: dict[str, str] = {  # switch label → grid_stats column
    "事件数": "events",
    "矛盾纠纷": "disputes_received",
    "超期": "overdue_now",
    "每万人事件数": "events_per_10k",
}
COVERAGE = "巡查覆盖"  # the patrol-coverage layer: days since the least-recently visited small grid (失管 alert)
VALUE_LABELS: dict[str, str] = {  # the tooltip's wording of each figure
    "事件数": "事件数",
    "矛盾纠纷": "受理矛盾纠纷",
    "超期": "超期（统计时点）",
    "每万人事件数": "每万人事件数",
}
LATEST_MARKERS = 100
# Natural breaks: at the small level most grids count 0 in a window and quantile classes collapse into one.
BREAKS = "jenks"
ZOOM_SNAP = 0.25  # fitting the city to the frame in quarter zoom steps fills it (whole steps can leave half empty)
MAP_HEIGHT = 600  # leaves the tiles, the switches and the map on one 1080-pixel screen


@dataclass(frozen=True)
class MapView:
    """What the switches chose: a level label, a figure label, and the two overlays."""

    level: str = DEFAULT_LEVEL
    metric: str = "事件数"
    heat: bool = False
    latest: bool = True

    @property
    def title(self) -> str:
        return f"{self.metric}（{self.level}）"


def map_controls() -> MapView:
    """The switches above the map, in one wrapping row."""
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):
        level = st.segmented_control("网格层级", list(LEVELS), default=DEFAULT_LEVEL, required=True, key="cc_level")
        metric = st.segmented_control("地图指标", [*METRICS, COVERAGE], default="事件数", required=True,
                                      key="cc_metric")
        heat = st.toggle("热力图", value=False, key="cc_heat")
        latest = st.toggle("最新事件", value=True, key="cc_latest")
    return MapView(level=level, metric=metric, heat=heat, latest=latest)


def command_map(ctx: PageContext, view: MapView) -> folium.Map:
    """The choropleth of the chosen figure and level, with the chosen overlays, for the context."""
    level = LEVELS[view.level]
    prepared = ctx.store.resource(prepare_level, level)
    if view.metric == COVERAGE:
        figures = ctx.store.query(patrol_figures, level, as_of=ctx.as_of, neglect_days=ctx.neglect_days)
        m = coverage_map(prepared, figures, neglect_days=ctx.neglect_days, level_label=view.level,
                         basemap=ctx.basemap)
    else:
        stats = ctx.store.query(grid_stats, level, start=ctx.start, end=ctx.end, as_of=ctx.as_of, where=ctx.where)
        values = stats.set_index("grid_code")[METRICS[view.metric]]
        m = choropleth(prepared, values, title=view.title, value_label=VALUE_LABELS[view.metric], method=BREAKS,
                       basemap=ctx.basemap)
    m.options["zoom_snap"] = ZOOM_SNAP
    if view.heat:
        bins = ctx.store.query(heat_bins, start=ctx.start, end=ctx.end, where=ctx.where)
        heat_layer(bins).add_to(m)
    if view.latest:
        events = ctx.store.query(latest_events, as_of=ctx.as_of, start=ctx.start, end=ctx.end, where=ctx.where,
                                 limit=LATEST_MARKERS)
        event_markers(events, dept_names=ctx.dept_names).add_to(m)
        marker_legend().add_to(m)
    return m


def show_map(ctx: PageContext, view: MapView) -> None:
    """Draw the map; panning and zooming return nothing to Python, so they never rerun the page; a click on a grid
    opens 网格详情 for it."""
    if view.metric == COVERAGE and not ctx.store.query(has_patrol_data):
        st.info("未加载网格人员与巡查走访数据：在 minqing.toml 中加入花名册（kind = \"roster\"）和走访签到"
                "（kind = \"visits\"）的映射后重新加载，见 docs/mappings.md。", icon="ℹ️")
    m = command_map(ctx, view)
    layer = next((c for c in m._children.values() if isinstance(c, GridChoropleth)), None)
    if layer is not None:
        ClickableTooltips(layer).add_to(m)
    codes = layer.prepared.codes if layer is not None else ()
    st.caption("点击地图上的网格可打开其网格详情。")
    st_folium(m, key=MAP_KEY, returned_objects=MAP_RETURNS, height=MAP_HEIGHT, use_container_width=True,
              on_change=lambda: _on_click(codes))
    code = st.session_state.pop(OPEN_GRID_KEY, None)
    if code:
        st.switch_page(GRID_PAGE, query_params={"grid": code})


def _on_click(codes: tuple[str, ...]) -> None:
    returned = st.session_state.get(MAP_KEY) or {}
    code = clicked_grid(returned.get("last_object_clicked_tooltip"), codes)
    if code is not None:
        st.session_state[OPEN_GRID_KEY] = code
