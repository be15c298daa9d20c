"""The trends page's choices: the scope (全市 / a level / one grid), the years, and a caption of the sidebar filters."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard.frame import LEVEL_LABELS, PageContext
from layers.trends import CITY, Scope, data_years, grid_options

SCOPE_LEVELS: dict[str, str] = {"city": "全市", **LEVEL_LABELS}
WHOLE_LEVEL = ""  # the grid picker's first option: every grid of the level
MARKDOWN_SPECIALS = "\\`*_{}[]()#+-.!|<>~$"


@dataclass(frozen=True)
class ScopeChoice:
    """The chosen scope and how to name it on screen."""

    scope: Scope
    label: str  # 全市, 全部中网格, or the grid's label

    @property
    def map_level(self) -> str:
        """The level the playback map draws: the scope's level, the large grids for the city."""
        return "large" if self.scope.level == "city" else self.scope.level


def plain(text: str) -> str:
    """Text (a grid name) shown literally inside Markdown."""
    return "".join(f"\\{ch}" if ch in MARKDOWN_SPECIALS else ch for ch in text)


def pick_scope(ctx: PageContext) -> ScopeChoice:
    """范围层级 then 网格 (searchable by name or code); each level remembers its own grid."""
    left, right = st.columns([1, 3])
    level = left.selectbox("范围层级", list(SCOPE_LEVELS), format_func=SCOPE_LEVELS.get, key="trends_level")
    if level == "city":
        right.selectbox("网格", ["全市"], disabled=True, key="trends_grid_city")
        return ScopeChoice(CITY, "全市")
    names = ctx.store.query(grid_options, level)
    whole = f"全部{LEVEL_LABELS[level]}"
    grid = right.selectbox("网格", [WHOLE_LEVEL, *names], key=f"trends_grid_{level}",
                           format_func=lambda code: whole if code == WHOLE_LEVEL else names.get(code, code),
                           help="输入网格名称或编码可搜索")
    if grid == WHOLE_LEVEL:
        return ScopeChoice(Scope(level), whole)
    return ScopeChoice(Scope(level, grid), names[grid])


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
