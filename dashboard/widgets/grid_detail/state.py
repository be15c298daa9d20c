"""Which grid the 网格详情 page shows: `st.session_state["drill_grid_code"]`, mirrored in the URL as `?grid=CODE`.

Every way of picking a grid (map click, selectors, search, breadcrumb) ends in `choose(code)`, a callback that
only sets state. `current_grid(ctx)` runs once at the top of the page: it takes a `?grid=` that the page did
not write itself (a shared link), falls back to the city for an unknown code, writes the URL back, and sets
the cascading selectors to the grid's parents before they are drawn.
"""

from __future__ import annotations

import streamlit as st

from dashboard.frame import PageContext
from dashboard.widgets.common import Pager
from store.schema import LEVELS
from layers.drilldown import CITY_CODE, GridProfile, grid_profile

GRID_KEY = "drill_grid_code"
PARAM = "grid"
PARAM_WRITTEN_KEY = "drill_param_written"  # the last ?grid= this page wrote; anything else came from outside
EVENT_PAGER = Pager("drill", unit="件")  # the event history's pager: drill_page, drill_prev, drill_next
NOT_CHOSEN = ""  # a cascading selector with nothing chosen
SELECTOR_KEYS: dict[str, str] = {"large": "drill_sel_large", "medium": "drill_sel_medium", "small": "drill_sel_small"}


def choose(code: str) -> None:
    """Show grid `code` (CITY_CODE: the whole city) from the next run on; the history starts at page 1."""
    st.session_state[GRID_KEY] = code or CITY_CODE
    EVENT_PAGER.first()


def jurisdiction(ctx: PageContext) -> tuple[GridProfile, ...]:
    """The signed-in user's scope grids (an official's large or medium grids); () for a whole-city user."""
    if ctx.principal.whole_city:
        return ()
    found = (ctx.store.query(grid_profile, code) for code in ctx.principal.scope)
    return tuple(p for p in found if p is not None and p.level in LEVELS)


def home(ctx: PageContext) -> str:
    """Where the page starts: the city, or the user's (first) scope grid."""
    roots = jurisdiction(ctx)
    return roots[0].code if roots else CITY_CODE


def top_level(ctx: PageContext) -> str | None:
    """The highest level the user may open below the city: None (whole city: the city itself), else the level
    of the highest scope grid."""
    roots = jurisdiction(ctx)
    return min((p.level for p in roots), key=LEVELS.index) if roots else None


def visible_trail(ctx: PageContext, profile: GridProfile) -> tuple[tuple[str, str], ...]:
    """The ancestors the breadcrumb shows: all of them for a whole-city user, else from the scope grid down."""
    roots = {p.code for p in jurisdiction(ctx)}
    if not roots and ctx.principal.whole_city:
        return profile.ancestors
    for depth, (code, _name) in enumerate(profile.ancestors):
        if code in roots:
            return profile.ancestors[depth:]
    return ()


def current_grid(ctx: PageContext) -> tuple[GridProfile, str | None]:
    """The grid to show and, when a requested code is not in the store (or not the user's), that code (the
    page says so). A scoped user starts at their scope grid and never sees the city or a grid above it."""
    shared = st.query_params.get(PARAM)
    if shared and shared != st.session_state.get(PARAM_WRITTEN_KEY):
        choose(shared)
    start = home(ctx)
    requested = st.session_state.get(GRID_KEY) or start
    if requested == CITY_CODE:
        requested = start
    profile = ctx.store.query(grid_profile, requested)
    missing = None
    if profile is None or (start != CITY_CODE and profile.level not in LEVELS):  # unknown, or an ancestor's name
        missing, profile = requested, ctx.store.query(grid_profile, start)
        choose(start)
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

