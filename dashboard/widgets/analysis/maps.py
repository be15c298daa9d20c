"""The hotspot map (Gi* classes in red and blue with a legend) and the emerging-hotspot map of the 分析研判 page."""

from __future__ import annotations

import datetime as dt

import streamlit as st
from streamlit_folium import st_folium

from dashboard.frame import LEVEL_LABELS, PageContext
from layers.class_map import class_map
from layers.geometry import prepare_level
from layers.hotspots import EMERGING_CLASSES, EMERGING_COLOURS, HOT_CLASSES, HOT_COLOURS, MEASURES, emerging_hotspots, hotspots

WINDOWS = {"近4周": 4, "近13周": 13, "近26周": 26, "近52周": 52}


def pick_settings() -> tuple[str, str]:
    left, right = st.columns(2)
    level = left.selectbox("分析层级", ["medium", "small", "large"], format_func=LEVEL_LABELS.get,
                           key="analysis_hot_level", help="默认中网格：小网格每周事件太少，看不出空间格局")
    measure = right.selectbox("指标", list(MEASURES), format_func=MEASURES.get, key="analysis_hot_measure")
    return level, measure


MAPS = {"hot": "热点（Gi*）", "emerging": "时空热点（近52周）"}


def pick_map() -> str:
    """Which map to draw: the window's hotspots or the emerging hotspots of the last 52 weeks."""
    return st.segmented_control("地图", list(MAPS), format_func=MAPS.get, default="hot", required=True,
                                key="analysis_map_kind", label_visibility="collapsed")


def show_hotspot_map(ctx: PageContext, level: str, measure: str) -> None:
    weeks = WINDOWS[st.selectbox("时间窗口", list(WINDOWS), index=1, key="analysis_hot_window")]
    end = ctx.as_of
    start = end - dt.timedelta(weeks=weeks)
    frame = ctx.store.query(hotspots, level, start=start, end=end, measure=measure)
    counts = frame["gi_class"].value_counts()
    st.caption(f"{LEVEL_LABELS[level]} · {MEASURES[measure]} · {start:%Y-%m-%d} 至 {end:%Y-%m-%d}；Getis-Ord Gi*，"
               f"999 次条件置换，错误发现率校正。热点 {sum(counts.get(c, 0) for c in HOT_CLASSES[:3])} 个，"
               f"冷点 {sum(counts.get(c, 0) for c in HOT_CLASSES[4:])} 个。")
    m = class_map(ctx.store.resource(prepare_level, level), frame.set_index("grid_code")["gi_class"], HOT_CLASSES,
                  HOT_COLOURS, title="热点分析", value_label="热点分类", basemap=ctx.basemap)
    st_folium(m, key="analysis_hot_map", returned_objects=[], height=520, use_container_width=True)


def show_emerging_map(ctx: PageContext, level: str, measure: str) -> None:
    frame = ctx.store.query(emerging_hotspots, level, as_of=ctx.as_of, weeks=52, measure=measure)
    counts = frame["emerging_class"].value_counts()
    st.caption("近52周每周 Gi*，Mann-Kendall 趋势检验。" + "，".join(
        f"{c} {counts.get(c, 0)} 个" for c in EMERGING_CLASSES[:5]))
    m = class_map(ctx.store.resource(prepare_level, level), frame.set_index("grid_code")["emerging_class"],
                  EMERGING_CLASSES, EMERGING_COLOURS, title="时空热点", value_label="时空热点分类", basemap=ctx.basemap)
    st_folium(m, key="analysis_emerging_map", returned_objects=[], height=520, use_container_width=True)
    rising = frame[frame["emerging_class"].isin(["新增热点", "加剧热点"])]
    if len(rising):
        st.dataframe(rising[["grid_code", "name", "parent_name", "incidents", "hot_weeks", "emerging_class"]].rename(
            columns={"grid_code": "网格编码", "name": "名称", "parent_name": "上级", "incidents": "事件数",
                     "hot_weeks": "热点周数", "emerging_class": "分类"}), hide_index=True, width="stretch")
