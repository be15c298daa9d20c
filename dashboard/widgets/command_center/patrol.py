"""The command center's patrol tiles and feed: check-ins in the last 7 days, the share of small grids visited, the
neglected grids (an alert like overdue events) and the newest check-ins."""

from __future__ import annotations

import datetime as dt
import html

import pandas as pd
import streamlit as st

from dashboard.frame import PageContext
from dashboard.widgets.command_center.feed import FEED_CSS, TIME_FORMAT, grid_label
from dashboard.widgets.command_center.kpis import Tile, count_change, rate_change
from dashboard.widgets.common import cell_text, rate_text
from layers.patrol import has_patrol_data, latest_visits, patrol_figures

FEED_ROWS = 10
WEEK = dt.timedelta(days=7)
OFF_BEAT_LABEL = "⚠ 偏离网格"
COLUMNS: tuple[str, ...] = ("时间", "类型", "人员", "网格")


def patrol_tile_texts(ctx: PageContext) -> list[Tile]:
    """Three tiles, each compared with the same moment a week before; none when no check-ins are loaded."""
    if not ctx.store.query(has_patrol_data):
        return []
    now = ctx.store.query(patrol_figures, "city", as_of=ctx.as_of, neglect_days=ctx.neglect_days).iloc[0]
    before = ctx.store.query(patrol_figures, "city", as_of=ctx.as_of - WEEK, neglect_days=ctx.neglect_days).iloc[0]
    share, share_before = now["share_visited_7d"], before["share_visited_7d"]
    return [
        Tile("近7日走访", f"{int(now['visits_7d']):,}", count_change(now["visits_7d"] - before["visits_7d"]), "off",
             "较上周", "统计时点前 7 天内网格员的巡查走访签到次数（按签到位置计入网格）。"),
        Tile("近7日走访覆盖率", rate_text(share),
             None if pd.isna(share) or pd.isna(share_before) else rate_change(share - share_before), "normal",
             "较上周", "近 7 天内至少有一次走访签到的小网格占全部小网格的比例。"),
        Tile(f"失管网格（≥{ctx.neglect_days}天）", f"{int(now['neglected_small']):,}",
             count_change(now["neglected_small"] - before["neglected_small"]), "inverse", "较上周",
             f"连续 {ctx.neglect_days} 天及以上没有走访签到（或从未走访）的小网格；增加为坏。"
             "天数由 `minqing serve --neglect-days N` 设置。"),
    ]


def patrol_tiles(ctx: PageContext) -> None:
    """The patrol tiles in one row of st.metric (nothing when no check-ins are loaded)."""
    shown = patrol_tile_texts(ctx)
    for column, tile in zip(st.columns(3) if shown else [], shown):
        column.metric(tile.label, tile.value, tile.delta, tile.delta_color, help=tile.help,
                      delta_description=tile.delta_description, border=True)


def patrol_feed(ctx: PageContext) -> None:
    """The newest check-ins as an escaped HTML table; off-beat ones marked."""
    if not ctx.store.query(has_patrol_data):
        return
    visits = ctx.store.query(latest_visits, as_of=ctx.as_of, limit=FEED_ROWS)
    st.subheader("最新巡查走访")
    st.markdown(FEED_CSS, unsafe_allow_html=True)
    st.markdown(visits_html(visits, big=ctx.big_screen), unsafe_allow_html=True)
    st.caption(f"最近 {len(visits)} 条走访签到，按签到时间倒序。")


def visits_html(visits: pd.DataFrame, *, big: bool = False) -> str:
    """The check-ins as one HTML table; every text escaped, the markup fixed."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    rows = []
    for v in visits.itertuples(index=False):
        flag = f'<span class="cc-badge cc-overdue">{html.escape(OFF_BEAT_LABEL)}</span>' if v.off_beat is True else ""
        who = " ".join(t for t in (cell_text(v.worker_role_name), cell_text(v.worker_name) or cell_text(v.worker_id)) if t)
        cells = (pd.Timestamp(v.visited_at).strftime(TIME_FORMAT), cell_text(v.visit_type_name), who,
                 grid_label(v.grid_large_name, v.grid_medium_name, v.grid_small_name))
        body = "".join(f"<td>{html.escape(c)}</td>" for c in cells[:3])
        rows.append(f'<tr>{body}<td class="cc-grid">{html.escape(cells[3])}{flag}</td></tr>')
    if not rows:
        rows = [f'<tr><td colspan="{len(COLUMNS)}">暂无走访签到</td></tr>']
    css_class = "cc-visits cc-feed cc-big" if big else "cc-visits cc-feed"
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
