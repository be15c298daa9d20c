"""The ways to pick a grid on 网格详情: breadcrumb, map of the children, cascading selectors, search by name or code."""

from __future__ import annotations

from functools import partial

import streamlit as st
from streamlit_folium import st_folium

from dashboard.frame import CONTEXT_KEY, PageContext
from dashboard.widgets.common import plain
from dashboard.widgets.grid_detail.state import (
    NOT_CHOSEN, SELECTOR_KEYS, choose, home, jurisdiction, top_level, visible_trail,
)
from layers.drilldown import (
    CITY_CODE, LEVEL_NAMES, GridProfile, child_grids, children_ranked, clicked_grid, drill_map, map_grids,
    search_grids,
)

MAP_KEY = "drill_map"
MAP_RETURNS = ["last_object_clicked_tooltip"]  # clicks only: panning and zooming do not rerun the page
MAP_HEIGHT = 460
SEARCH_KEY = "drill_search"
SEARCH_SHOWN = 10


def breadcrumb(profile: GridProfile, ctx: PageContext | None = None) -> None:
    """全市 › XX镇 › XX村 › 第N网格: every grid above is a button that goes back up to it. A scoped user's trail
    starts at their scope grid; with several scope grids they are listed first (辖区)."""
    if ctx is None:
        ctx = st.session_state.get(CONTEXT_KEY)  # the page's context (the page passes the grid only)
    trail = profile.ancestors if ctx is None else visible_trail(ctx, profile)
    roots = jurisdiction(ctx) if ctx is not None else ()
    if len(roots) > 1:
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            st.markdown("辖区：")
            for root in roots:
                st.button(plain(root.name), key=f"drill_root_{root.code}", on_click=choose, args=(root.code,),
                          type="primary" if root.code == profile.code else "secondary")
    with st.container(horizontal=True, gap="small", vertical_alignment="center"):
        for depth, (code, name) in enumerate(trail):
            st.button(plain(name), key=f"drill_crumb_{depth}", type="tertiary", on_click=choose, args=(code,),
                      help=f"回到{plain(name)}")
            st.markdown("›")
        st.markdown(f"**{plain(profile.name)}**")


def grid_map(ctx: PageContext, profile: GridProfile) -> None:
    """The children of the grid (a small grid: its siblings, it outlined) by events; a click opens one."""
    scope = profile.map_scope
    prepared = ctx.store.resource(map_grids, scope)
    ranked = ctx.store.query(children_ranked, scope, start=ctx.start, end=ctx.end, as_of=ctx.as_of, where=ctx.where)
    if scope == CITY_CODE and not ctx.principal.whole_city:  # a scope grid without children: itself
        scope = profile.code
    scope_name = profile.name if scope == profile.code else profile.ancestors[-1][1]
    m = drill_map(prepared, ranked.set_index("grid_code")["events"], title=f"事件数（{scope_name}下级网格）",
                  basemap=ctx.basemap, selected=profile.code)
    st.caption("点击地图上的网格可查看其详情。")
    st_folium(m, key=MAP_KEY, returned_objects=MAP_RETURNS, height=MAP_HEIGHT, use_container_width=True,
              on_change=partial(_on_map_click, prepared.codes))


def _on_map_click(codes: tuple[str, ...]) -> None:
    returned = st.session_state.get(MAP_KEY) or {}
    code = clicked_grid(returned.get("last_object_clicked_tooltip"), codes)
    if code is not None:
        choose(code)


def selectors(ctx: PageContext, profile: GridProfile) -> None:
    """大网格 → 中网格 → 小网格: each lists the children of the one above; clearing one goes back up."""
    parent = CITY_CODE
    first = top_level(ctx)
    for level, key in SELECTOR_KEYS.items():
        if first is not None and level != first and parent == CITY_CODE:
            continue  # above a scoped user's jurisdiction
        if first is not None and level == first:  # a scoped user's top selector: their scope grids
            names = {p.code: p.name for p in jurisdiction(ctx) if p.level == level}
            parent = home(ctx)
        else:
            children = ctx.store.query(child_grids, parent) if parent else None
            names = dict(zip(children["grid_code"], children["name"])) if children is not None else {}
        st.selectbox(LEVEL_NAMES[level], [NOT_CHOSEN, *names], key=key, disabled=not names,
                     format_func=lambda c, names=names: names.get(c, c) if c else "（全部）",
                     on_change=_on_select, args=(key, parent))
        parent = profile.code_at(level)


def _on_select(key: str, parent: str) -> None:
    choose(st.session_state.get(key) or parent)


def search(ctx: PageContext) -> None:
    """A text box for a grid's name or code; the matches are buttons that open the grid."""
    text = st.text_input("搜索网格（名称或编码）", key=SEARCH_KEY, placeholder="如：黄岗社区、第3网格或网格编码")
    if not text.strip():
        return
    hits = ctx.store.query(search_grids, text, limit=SEARCH_SHOWN)
    if hits.empty:
        st.caption("没有匹配的网格。")
        return
    total = int(hits["matches"].iloc[0])
    more = f"，显示前 {SEARCH_SHOWN} 个" if total > SEARCH_SHOWN else ""
    st.caption(f"找到 {total} 个网格{more}：")
    for hit in hits.itertuples(index=False):
        if hit.level not in LEVEL_NAMES:  # a scoped user's ancestor grids: names only, never opened
            continue
        label = f"{hit.path}（{LEVEL_NAMES[hit.level]} {hit.grid_code}）"
        st.button(plain(label), key=f"drill_hit_{hit.grid_code}", on_click=choose, args=(hit.grid_code,),
                  width="stretch")
