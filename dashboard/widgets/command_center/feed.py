"""The command center's feed (最新上报): the newest reports as an escaped HTML table, new arrivals highlighted.

A row is "new" when it was not in the feed at the previous refresh of the same filters (kept in session state
under SEEN_KEY); the first drawing highlights nothing. Overdue rows (open and past their due time at the
context's moment) carry "⚠ 超期". Every text cell is display text (layers.display_text: bidi controls shown as
tokens, cut at 200 characters with "…", so a 1 MB name keeps the row small) and HTML-escaped; the markup around it
is fixed.
"""

from __future__ import annotations

import html
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard.frame import PageContext
from dashboard.widgets.common import cell_text, raw_text
from dashboard.widgets.supervision import event_url
from layers.display_text import display_text
from layers.kpis import latest_reports
from layers.markers import STATUS_LABELS

FEED_ROWS = 15
SEEN_KEY = "cc_feed_seen"
TIME_FORMAT = "%m-%d %H:%M"
OUTSIDE_GRIDS = "网格外"
GRID_JOIN = "·"  # between the community and its grid; the only place a grid name may wrap
NEW_LABEL = "新"
OVERDUE_LABEL = "⚠ 超期"
COLUMNS: tuple[str, ...] = ("时间", "部门", "类别", "网格", "状态")
FEED_CSS = """
<style>
.cc-feed {width: 100%; border-collapse: collapse; font-size: 0.85rem; line-height: 1.35;}
.cc-feed th, .cc-feed td {padding: 0.3rem 0.35rem; border-bottom: 1px solid rgba(128, 128, 128, 0.3);
  text-align: left; white-space: nowrap; color: inherit;}
.cc-feed td.cc-grid {white-space: normal; word-break: keep-all;}
.cc-feed tr.cc-new td {background: rgba(255, 209, 102, 0.35);}
.cc-feed .cc-badge {display: inline-block; padding: 0 0.3rem; border-radius: 0.25rem; font-size: 0.8em;
  font-weight: 600; margin-left: 0.25rem;}
.cc-feed .cc-badge.cc-new-badge {background: #f59e0b; color: #111827;}
.cc-feed .cc-badge.cc-overdue {background: #dc2626; color: #ffffff;}
.cc-feed.cc-big {font-size: 1.1rem;}
.cc-feed a.cc-open {color: inherit; text-decoration: underline dotted;}
</style>
"""  # constant CSS, no data in it


@dataclass(frozen=True)
class FeedRow:
    """One report as the feed shows it (display text; escaped when drawn)."""

    event_id: str
    time: str
    dept: str
    category: str
    grid: str
    status: str
    overdue: bool
    new: bool


def feed_rows(events: pd.DataFrame, new_ids: set[str] | frozenset[str] = frozenset()) -> list[FeedRow]:
    """Rows for the reports of layers.kpis.latest_reports, newest first; `new_ids` are highlighted (pure)."""
    return [
        FeedRow(
            event_id=str(e.event_id),
            time=pd.Timestamp(e.reported_at).strftime(TIME_FORMAT),
            dept=cell_text(e.dept_name) or cell_text(e.dept),
            category=cell_text(e.category_name) or cell_text(e.category),
            grid=grid_label(e.grid_large_name, e.grid_medium_name, e.grid_small_name),
            status=display_text(STATUS_LABELS.get(str(e.status), str(e.status))),
            overdue=bool(e.overdue),
            new=str(e.event_id) in new_ids,
        )
        for e in events.itertuples(index=False)
    ]


def grid_label(large: object, medium: object, small: object) -> str:
    """The finest grid with its community: "马墩社区·第1网格"; the medium or large name without a small grid.
    Display text (layers.display_text): the whole label at most 200 characters."""
    large_name, medium_name, small_name = raw_text(large), raw_text(medium), raw_text(small)
    if small_name:
        if not medium_name or small_name.startswith(medium_name):
            return display_text(small_name)
        return display_text(f"{medium_name}{GRID_JOIN}{small_name}")
    return display_text(medium_name or large_name or OUTSIDE_GRIDS)


def feed_html(rows: list[FeedRow], *, big: bool = False) -> str:
    """The feed as one HTML table on one line (markdown leaves it alone); every text escaped."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join(_row_html(r) for r in rows)
    if not rows:
        body = f'<tr><td colspan="{len(COLUMNS)}">暂无上报</td></tr>'
    css_class = "cc-feed cc-big" if big else "cc-feed"
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def new_arrivals(ids: list[str], scope: Hashable, state: Mapping | None = None) -> set[str]:
    """Ids not in the feed at the previous refresh of the same `scope`; records `ids` for the next refresh."""
    state = st.session_state if state is None else state
    previous = state.get(SEEN_KEY)
    state[SEEN_KEY] = (scope, frozenset(ids))  # type: ignore[index]
    if previous is None or previous[0] != scope:
        return set()
    return set(ids) - previous[1]


def latest_feed(ctx: PageContext) -> None:
    """The feed's heading, its table and how many reports arrived since the previous refresh."""
    events = ctx.store.query(latest_reports, as_of=ctx.as_of, where=ctx.where, limit=FEED_ROWS)
    fresh = new_arrivals(list(events["event_id"].astype(str)), scope=(str(ctx.store.path), ctx.where))
    st.subheader("最新上报")
    st.markdown(FEED_CSS, unsafe_allow_html=True)
    st.markdown(feed_html(feed_rows(events, fresh), big=ctx.big_screen), unsafe_allow_html=True)
    note = f"本次刷新新到 {len(fresh)} 条（高亮）" if fresh else "自上次刷新以来没有新上报"
    st.caption(f"最近 {len(events)} 条，按上报时间倒序；{note}。")


def _row_html(r: FeedRow) -> str:
    new = f'<span class="cc-badge cc-new-badge">{html.escape(NEW_LABEL)}</span>' if r.new else ""
    overdue = f'<span class="cc-badge cc-overdue">{html.escape(OVERDUE_LABEL)}</span>' if r.overdue else ""
    link = html.escape(event_url(r.event_id), quote=True)
    cells = (
        f'<td><a class="cc-open" href="{link}" target="_self" title="查看事件详情">{html.escape(r.time)}</a>{new}</td>',
        f"<td>{html.escape(r.dept)}</td>",
        f"<td>{html.escape(r.category)}</td>",
        f'<td class="cc-grid">{html.escape(r.grid).replace(GRID_JOIN, GRID_JOIN + "<wbr>")}</td>',
        f"<td>{html.escape(r.status)}{overdue}</td>",
    )
    return f'<tr class="cc-new">{"".join(cells)}</tr>' if r.new else f"<tr>{''.join(cells)}</tr>"
