"""Streamlit entry point of 民情地图: page config, the store, the shared sidebar once, then the chosen page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.frame import CONTEXT_KEY, build_context, read_summary
from dashboard.store import db_path, open_store

VIEWS = Path(__file__).resolve().parent / "views"  # not "pages/": that name switches Streamlit to its old multipage mode


def main() -> None:
    st.set_page_config(layout="wide", page_title="民情地图", page_icon="🗺️",
                       initial_sidebar_state="collapsed" if st.query_params.get("screen") == "big" else "auto")
    page = st.navigation([
        st.Page(VIEWS / "command_center.py", title="指挥中心", icon=":material/radar:", default=True),
        st.Page(VIEWS / "grid_detail.py", title="网格详情", icon=":material/travel_explore:"),
        st.Page(VIEWS / "trends.py", title="趋势与导出", icon=":material/monitoring:"),
    ])
    path = db_path()
    store = open_store(path)
    summary, problem = read_summary(store, path)
    if problem is not None:
        st.title("民情地图")
        st.warning(problem, icon="⚠️")
        st.stop()
    st.session_state[CONTEXT_KEY] = build_context(store, summary)
    page.run()


main()
