"""Big-screen touches for the command center's widgets, on top of dashboard.frame.BIG_SCREEN_CSS.

frame.BIG_SCREEN_CSS paints every `p` and `span` light, which also whitens the text inside Streamlit's light
chips and buttons (metric deltas, segmented controls). These rules give those back readable colours and the
metric values their accent colour. Constant CSS, no data in it.
"""

from __future__ import annotations

import streamlit as st

from dashboard.frame import PageContext

BIG_SCREEN_FIXES = """
<style>
.stApp [data-testid="stMetricValue"] p {color: #ffd166;}
.stApp [data-testid="stMetricDelta"] p {color: inherit;}
.stApp [data-testid="stMetric"] {background: rgba(255, 255, 255, 0.04);}
.stApp [data-testid="stButtonGroup"] button {background: #1f2937; border-color: #4b5563;}
.stApp [data-testid="stButtonGroup"] button p {color: #e6edf7;}
.stApp [data-testid="stButtonGroup"] button[aria-checked="true"] {background: #ffd166; border-color: #ffd166;}
.stApp [data-testid="stButtonGroup"] button[aria-checked="true"] p {color: #111827;}
</style>
"""


def big_screen_fixes(ctx: PageContext) -> None:
    """Apply BIG_SCREEN_FIXES when the page is on the big screen."""
    if ctx.big_screen:
        st.markdown(BIG_SCREEN_FIXES, unsafe_allow_html=True)
