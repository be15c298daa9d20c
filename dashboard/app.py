"""Streamlit entry point of 民情地图: page config, the store, the shared sidebar once, then the chosen page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.frame import CONTEXT_KEY, build_context, read_summary
from dashboard.store import db_path, open_store

PAGES = Path(__file__).resolve().parent / "pages"


def main() -> None:
    st.set_page_config(layout="wide", page_title="民情地图", page_icon=":material/map:",
                       initial_sidebar_state="collapsed" if st.query_params.get("screen") == "big" else "auto")
    page = st.navigation([
        st.Page(PAGES / "command_center.py", title="指挥中心", icon=":material/radar:", default=True),
        st.Page(PAGES / "grid_detail.py", title="网格详情", icon=":material/travel_explore:"),
        st.Page(PAGES / "trends.py", title="趋势与导出", icon=":material/monitoring:"),
    ])
    store = open_store(db_path())
    summary, problem = read_summary(store)
    if problem is not None:
        st.title("民情地图")
        st.warning(problem, icon="⚠️")
        st.stop()
    st.session_state[CONTEXT_KEY] = build_context(store, summary)
    page.run()


main()
