"""指挥中心 page: headline numbers and the map of events per large grid."""

from __future__ import annotations

from typing import Protocol

import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from layers.choropleth import choropleth
from layers.grids import StoreSummary
from layers.offline import Basemap

MAP_HEIGHT = 620
MAP_LEVEL = "large"


class CommandCenterStore(Protocol):
    """What this page reads; dashboard/app.py supplies it with caching."""

    def summary(self) -> StoreSummary: ...

    def grids(self, level: str) -> gpd.GeoDataFrame: ...

    def event_counts(self, level: str) -> pd.DataFrame: ...


def render(store: CommandCenterStore) -> None:
    """Draw the page."""
    st.title("指挥中心")
    summary = store.summary()
    total, grids, large = st.columns(3)
    total.metric("事件总数", f"{summary.event_total:,}")
    grids.metric("网格数", f"{summary.grid_total:,}")
    large.metric("大网格", f"{summary.grids_by_level.get(MAP_LEVEL, 0):,}")

    st.subheader("各大网格事件数")
    counts = store.event_counts(MAP_LEVEL).set_index("grid_code")["event_count"]
    m = choropleth(store.grids(MAP_LEVEL), counts, title="事件数（大网格）", basemap=Basemap())
    st_folium(m, key="cc_map", returned_objects=[], height=MAP_HEIGHT, use_container_width=True)
