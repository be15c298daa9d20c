"""The warning list: filters by kind, level and category; each row links to its grid on 网格详情 (?grid=CODE); and the
compact forms the command center (预警 tile) and 网格详情 (this grid's warnings) use."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.frame import LEVEL_LABELS, PageContext
from dashboard.widgets.common import MISSING, cell_text
from layers.warnings import KINDS, all_warnings

GRID_PAGE = "grid_detail"  # the url path of 网格详情 (dashboard/views/grid_detail.py)


def warnings_for(ctx: PageContext, level: str) -> pd.DataFrame:
    """All warnings of `level` at the page's "now", through the store's scoped cache."""
    return ctx.store.query(all_warnings, level, as_of=ctx.as_of)


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    expected = frame["expected"].map(lambda v: MISSING if pd.isna(v) else "<0.1" if v < 0.1 else f"{v:.1f}")
    return pd.DataFrame({
        "网格": [f"{GRID_PAGE}?grid={c}" for c in frame["grid_code"]],
        "名称": [cell_text(" · ".join(str(x) for x in (n, p) if isinstance(x, str) and x))
               for n, p in zip(frame["grid_name"], frame["parent_name"])],
        "类型": frame["kind_name"], "类别": frame["key_name"].map(cell_text),
        "实际": frame["observed"], "预期": expected, "说明": frame["sentence"].map(cell_text),
    })


def show_table(frame: pd.DataFrame, key: str) -> None:
    """The warnings as a table whose first column opens the grid on 网格详情."""
    st.dataframe(_table(frame), hide_index=True, use_container_width=True, key=key, column_config={
        "网格": st.column_config.LinkColumn("网格", display_text=r"grid=(.*)$", help="打开网格详情"),
    })


def show_warning_list(ctx: PageContext) -> None:
    """Filters, then the list."""
    left, middle, right = st.columns(3)
    level = left.selectbox("网格层级", ["small", "medium", "large"], format_func=LEVEL_LABELS.get,
                           key="analysis_warning_level")
    frame = warnings_for(ctx, level)
    kinds = middle.multiselect("预警类型", list(KINDS), format_func=KINDS.get, key="analysis_warning_kinds",
                               placeholder="全部类型")
    keys = sorted(k for k in frame["key_name"].dropna().unique() if k)
    chosen = right.multiselect("类别", keys, key="analysis_warning_keys", placeholder="全部类别")
    if kinds:
        frame = frame[frame["kind"].isin(kinds)]
    if chosen:
        frame = frame[frame["key_name"].isin(chosen)]
    st.caption(f"统计时点 {ctx.as_of:%Y-%m-%d %H:%M}；共 {len(frame)} 条。近7日异常：高于按往年同期与近8周推算的上限"
               "（每个网格×类别误报率 0.1%），且至少 3 起。点击网格编码打开网格详情。")
    if frame.empty:
        st.info("当前没有预警。")
        return
    show_table(frame, "analysis_warning_table")


def warning_tile(ctx: PageContext) -> None:
    """预警: how many small-grid warnings now, of which spikes (the command center's tile)."""
    frame = warnings_for(ctx, "small")
    spikes = int(frame["kind"].isin(["spike_7d", "spike_1d"]).sum())
    st.columns(3)[0].metric("预警", f"{len(frame):,}", f"{spikes:,}", "off", delta_arrow="off",
                            delta_description="条为事件异常增多", border=True,
                            help="小网格的预警：事件异常增多、超期积压、重复发生地点、重复来访当事人、巡查薄弱；"
                                 "详见“分析研判”页。")


def grid_warning_panel(ctx: PageContext, code: str, level: str) -> None:
    """This grid's warnings (网格详情)."""
    if level not in LEVEL_LABELS:
        return
    frame = warnings_for(ctx, level)
    mine = frame[frame["grid_code"] == code]
    if mine.empty:
        st.caption("本网格当前无预警。")
        return
    show_table(mine, f"grid_warnings_{code}")
