"""The month-by-month map of the trends page: a month slider, 播放 / 暂停, and a choropleth of the chosen month.

Playing reruns only the map's fragment every PLAY_SECONDS and moves the slider one month on, from the last back
to the first, until 暂停; the buttons' callbacks only set `trends_playing` (their full rerun sets or clears the
fragment's timer).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard.frame import LEVEL_LABELS, PageContext
from layers.choropleth import choropleth, class_breaks
from layers.geometry import prepare_level
from layers.trends import MAP_FIGURES, grid_month_values, month_columns, month_values, trend_window

PLAY_SECONDS = 1.5
MONTH_KEY = "trends_month"
PLAYING_KEY = "trends_playing"


def _set_playing(playing: bool) -> None:
    st.session_state[PLAYING_KEY] = playing


def _step(months: list[str]) -> None:
    """Keep the chosen month among `months`; while playing, move one month on (from the last: back to the first)."""
    current = st.session_state.get(MONTH_KEY)
    if current not in months:
        st.session_state[MONTH_KEY] = months[-1]
        return
    if st.session_state.get(PLAYING_KEY):
        st.session_state[MONTH_KEY] = months[(months.index(current) + 1) % len(months)]


def _month_map(ctx: PageContext, level: str, values: pd.DataFrame, figure: str, cumulative: bool) -> None:
    months = month_columns(values)
    _step(months)
    month = st.select_slider("月份", options=months, key=MONTH_KEY)
    name = ("累计" if cumulative else "") + MAP_FIGURES[figure]
    edges = class_breaks(values[months].stack())  # one set of classes for every frame of the playback
    st.caption(f"{month}　{name}（{LEVEL_LABELS[level]}，共 {int(month_values(values, month).sum()):,}；"
               "各月使用同一分级）")
    m = choropleth(ctx.store.resource(prepare_level, level), month_values(values, month),
                   title=f"{month} {name}", basemap=ctx.basemap, value_label=name, edges=edges)
    st_folium(m, key="trends_map", returned_objects=[], height=560, use_container_width=True)


def show_playback(ctx: PageContext, level: str, years: tuple[int, int]) -> None:
    """地图指标, the play buttons, then the map fragment (reruns alone while playing)."""
    figure = st.radio("地图指标", list(MAP_FIGURES), format_func=MAP_FIGURES.get, horizontal=True,
                      key="trends_map_figure")
    start, end = trend_window(*years, as_of=ctx.as_of)
    values = ctx.store.query(grid_month_values, level, start=start, end=end, figure=figure, where=ctx.where)
    cumulative = st.toggle("累计", key="trends_map_cumulative", help="从起始月份累计到所选月份")
    if cumulative:
        months = month_columns(values)
        values = values.assign(**dict(zip(months, values[months].cumsum(axis=1).T.to_numpy())))
    playing = bool(st.session_state.get(PLAYING_KEY))
    play, pause, _ = st.columns([1, 1, 6])
    play.button("播放", icon=":material/play_arrow:", key="trends_play", on_click=_set_playing, args=(True,),
                disabled=playing, help=f"每 {PLAY_SECONDS:g} 秒前进一个月，到最后一个月后从头开始")
    pause.button("暂停", icon=":material/pause:", key="trends_pause", on_click=_set_playing, args=(False,),
                 disabled=not playing)
    st.fragment(_month_map, run_every=PLAY_SECONDS if playing else None)(ctx, level, values, figure, cumulative)
