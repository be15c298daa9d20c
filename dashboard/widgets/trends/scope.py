"""The trends page's choices: the scope (全市 / a level / one grid), the years, and a caption of the sidebar filters."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard.frame import LEVEL_LABELS, PageContext
from dashboard.widgets.common import plain
from store.schema import LEVELS
from layers.drilldown import grid_profile
from layers.trends import CITY, Scope, data_years, grid_options

SCOPE_LEVELS: dict[str, str] = {"city": "全市", **LEVEL_LABELS}
WHOLE_LEVEL = ""  # the grid picker's first option: every grid of the level


@dataclass(frozen=True)
class ScopeChoice:
    """The chosen scope and how to name it on screen."""

    scope: Scope
    label: str  # 全市 (辖区 for a scoped user), 全部中网格, or the grid's label
    top_level: str = "large"  # the highest level the user sees: large, or medium for a medium-scoped official

    @property
    def map_level(self) -> str:
        """The level the playback map draws: the scope's level, the top level for the city (辖区)."""
        return self.top_level if self.scope.level == "city" else self.scope.level


def user_levels(ctx: PageContext) -> tuple[str, ...]:
    """The grid levels the user may pick: all for a whole-city user, else from their highest scope grid down."""
    if ctx.principal.whole_city:
        return tuple(LEVELS)
    found = [ctx.store.query(grid_profile, code) for code in ctx.principal.scope]
    levels = [p.level for p in found if p is not None and p.level in LEVELS]
    top = min(levels, key=LEVELS.index) if levels else LEVELS[-1]
    return tuple(LEVELS[LEVELS.index(top):])


def pick_scope(ctx: PageContext) -> ScopeChoice:
    """范围层级 then 网格 (searchable by name or code); each level remembers its own grid."""
    levels = user_levels(ctx)
    whole_label = "全市" if ctx.principal.whole_city else "辖区"  # a scoped user's "city" is their jurisdiction
    labels = {"city": whole_label, **{lv: LEVEL_LABELS[lv] for lv in levels}}
    left, right = st.columns([1, 3])
    level = left.selectbox("范围层级", list(labels), format_func=labels.get, key="trends_level")
    if level == "city":
        right.selectbox("网格", [whole_label], disabled=True, key="trends_grid_city")
        return ScopeChoice(CITY, whole_label, levels[0])
    names = ctx.store.query(grid_options, level)
    whole = f"全部{LEVEL_LABELS[level]}"
    grid = right.selectbox("网格", [WHOLE_LEVEL, *names], key=f"trends_grid_{level}",
                           format_func=lambda code: whole if code == WHOLE_LEVEL else names.get(code, code),
                           help="输入网格名称或编码可搜索")
    if grid == WHOLE_LEVEL:
        return ScopeChoice(Scope(level), whole, levels[0])
    return ScopeChoice(Scope(level, grid), names[grid], levels[0])


def pick_years(ctx: PageContext) -> tuple[int, int]:
    """年份范围 over the years with reports (trends, the playback months and the yearly export)."""
    first, last = ctx.store.query(data_years)
    if first == last:
        st.caption(f"年份：{first}")
        return first, last
    picked = st.select_slider("年份范围", options=list(range(first, last + 1)), value=(first, last), key="trends_years")
    return int(picked[0]), int(picked[1])


def filter_caption(ctx: PageContext) -> str:
    """The sidebar's department and category filters in words (全部 when none is set)."""
    depts = "、".join(ctx.dept_names.get(c, c) for c in ctx.where.depts) or "全部"
    categories = "、".join(ctx.category_names.get(c, c) for c in ctx.where.categories) or "全部"
    return plain(f"部门：{depts}；事件类别：{categories}")
