"""Repeat places and repeat people (masked) of the 分析研判 page, and the briefing downloads."""

from __future__ import annotations

from functools import partial
from typing import Callable

import pandas as pd
import streamlit as st

from access.actions import open_items_source
from dashboard.frame import PageContext
from dashboard.widgets.common import cell_text
from dashboard.widgets.trends.downloads import _download, downloads_allowed
from layers.export_service import MIME
from layers.repeats import repeat_people, repeat_places


def _grid_links(found: pd.DataFrame) -> list[str]:
    """网格详情 links: the small grid, or the medium grid of a record placed by address only."""
    return [f"grid_detail?grid={c}" for c in found["grid_small"].fillna(found["grid_medium"])]


def _show(found: pd.DataFrame, caption: str, nothing: str, columns: Callable[[], dict[str, object]]) -> None:
    """The caption, then the table `columns()` builds, its 网格 column as links (or a note that nothing was found)."""
    st.caption(caption)
    if found.empty:
        st.info(nothing)
        return
    st.dataframe(pd.DataFrame(columns()), hide_index=True, width="stretch", column_config={
        "网格": st.column_config.LinkColumn("网格", display_text=r"grid=(.*)$")})


def show_repeat_places(ctx: PageContext) -> None:
    places = ctx.store.query(repeat_places, as_of=ctx.as_of)
    _show(places, "近90天，同一地点（50米内，或同一地址）矛盾纠纷 3 起及以上。", "近90天没有重复发生矛盾纠纷的地点。", lambda: {
        "网格": _grid_links(places), "地址": places["address"].map(cell_text), "纠纷数": places["disputes"],
        "首次": places["first_at"].dt.strftime("%Y-%m-%d"), "最近": places["last_at"].dt.strftime("%Y-%m-%d"),
        "经度": places["lon"].round(5), "纬度": places["lat"].round(5),
    })


def show_repeat_people(ctx: PageContext) -> None:
    people = ctx.store.query(repeat_people, as_of=ctx.as_of)
    _show(people, "近一年，同一身份证号在 2 个及以上部门、共 3 件及以上（姓名、证件号已脱敏）。", "近一年没有跨部门重复来访的当事人。",
          lambda: {
              "当事人": people["name"], "证件号": people["id_number"], "件数": people["records"],
              "部门": people["dept_names"], "最近": people["last_at"].dt.strftime("%Y-%m-%d"),
              "网格": _grid_links(people),
          })


def show_briefing_downloads(ctx: PageContext) -> None:
    if not downloads_allowed(ctx):
        return
    period = st.radio("简报周期", ["day", "week", "month"], index=1, horizontal=True, key="analysis_brief_period",
                      format_func={"day": "日碰头", "week": "周会商", "month": "月调度"}.get)
    supervision = None if ctx.actions is None else open_items_source(ctx.actions)  # 督办 where the log exists
    options = dict(period=period, as_of=ctx.as_of, grid=None, supervision=supervision)
    for column, fmt in zip(st.columns(2), ("pdf", "docx")):
        name = f"brief_{period}_{ctx.as_of:%Y%m%d}.{fmt}"
        column.download_button(f"下载简报 {fmt.upper()}", data=partial(_download, ctx, "brief", fmt, name, options),
                               file_name=name, mime=MIME[fmt], key=f"analysis_brief_{fmt}", on_click="ignore",
                               icon=":material/download:")
    st.caption(f"等效命令：minqing brief --db DB.duckdb --period {period} -o brief.pdf")
