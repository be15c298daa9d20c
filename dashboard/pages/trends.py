"""趋势与导出 page (being built)."""

import streamlit as st

from dashboard.frame import context

ctx = context()
st.title("趋势与导出")
