"""Which grid the 网格详情 page shows: `st.session_state["drill_grid_code"]`, mirrored in the URL as `?grid=CODE`.

Every way of picking a grid (map click, selectors, search, breadcrumb) ends in `choose(code)`, a callback that
only sets state. `current_grid(ctx)` runs once at the top of the page: it takes a `?grid=` that the page did
not write itself (a shared link), falls back to the city for an unknown code, writes the URL back, and sets
the cascading selectors to the grid's parents before they are drawn.
"""

from __future__ import annotations

import streamlit as st

from dashboard.frame import PageContext
from layers.drilldown import CITY_CODE, GridProfile, grid_profile

GRID_KEY = "drill_grid_code"
PARAM = "grid"
PARAM_WRITTEN_KEY = "drill_param_written"  # the last ?grid= this page wrote; anything else came from outside
PAGE_KEY = "drill_page"
NOT_CHOSEN = ""  # a cascading selector with nothing chosen
SELECTOR_KEYS: dict[str, str] = {"large": "drill_sel_large", "medium": "drill_sel_medium", "small": "drill_sel_small"}


def choose(code: str) -> None:
    """Show grid `code` (CITY_CODE: the whole city) from the next run on; the history starts at page 1."""
    st.session_state[GRID_KEY] = code or CITY_CODE
    st.session_state[PAGE_KEY] = 1


def current_grid(ctx: PageContext) -> tuple[GridProfile, str | None]:
    """The grid to show and, when a requested code is not in the store, that code (the page says so)."""
    shared = st.query_params.get(PARAM)
    if shared and shared != st.session_state.get(PARAM_WRITTEN_KEY):
        choose(shared)
    requested = st.session_state.get(GRID_KEY) or CITY_CODE
    profile = ctx.store.query(grid_profile, requested)
    missing = None
    if profile is None:
        missing, profile = requested, ctx.store.query(grid_profile, CITY_CODE)
        choose(CITY_CODE)
    _write_url(profile.code)
    for level, key in SELECTOR_KEYS.items():
        st.session_state[key] = profile.code_at(level) or NOT_CHOSEN
    return profile, missing


def _write_url(code: str) -> None:
    if code == CITY_CODE:
        if PARAM in st.query_params:
            del st.query_params[PARAM]
        st.session_state[PARAM_WRITTEN_KEY] = None
    else:
        if st.query_params.get(PARAM) != code:
            st.query_params[PARAM] = code
        st.session_state[PARAM_WRITTEN_KEY] = code


def plain(text: object) -> str:
    """Text shown as is inside Streamlit markdown (labels, captions): markdown and HTML characters escaped."""
    out = []
    for ch in str(text):
        if ch in "\\`*_{}[]()<>#+-.!|~$:":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)
