"""网格详情 page (being built)."""

import streamlit as st

from dashboard.frame import context

ctx = context()
st.title("网格详情")
