"""The warning list: filters by kind, level and category; each row links to its grid on 网格详情 (?grid=CODE); this
grid's warnings (网格详情); and the small-grid counts the command center's 预警 tile shows.

The dashboard's warnings are hourly: they look back from the top of the page's hour (`warning_moment`), so the
list, 网格详情 and the tile agree, and the counts are computed once per store version, hour and jurisdiction: a
`WarningBoard` keeps them (the tile only reads it; `warm_warning_counts` fills it after the map and the feed).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from dashboard.frame import LEVEL_LABELS, PageContext
from dashboard.widgets.common import MISSING, cell_text
from layers.warnings import KINDS, all_warnings

GRID_PAGE = "grid_detail"  # the url path of 网格详情 (dashboard/views/grid_detail.py)
TILE_LEVEL = "small"  # the level the 预警 tile counts
SPIKE_KINDS = ("spike_7d", "spike_1d")  # 事件异常增多: what turns the tile red on the wall


def warning_moment(as_of: dt.datetime) -> dt.datetime:
    """The moment the dashboard's warnings look back from: the top of `as_of`'s hour (in the store's zone, as as_of)."""
    return as_of.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class WarningCounts:
    """How many warnings of the small grids at `moment`, and how many of them are spikes (近7日 / 今日异常增多)."""

    moment: dt.datetime
    total: int
    spikes: int


class WarningBoard:
    """The latest WarningCounts per (store file, version, jurisdiction): one per hour is computed; the newest
    `size` store versions and jurisdictions are kept. Thread-safe (sessions share it)."""

    def __init__(self, size: int = 64) -> None:
        self._lock = threading.Lock()
        self._latest: OrderedDict[tuple, WarningCounts] = OrderedDict()
        self._size = size

    def put(self, key: tuple, counts: WarningCounts) -> None:
        """Remember `counts` unless a later hour is already there."""
        with self._lock:
            known = self._latest.get(key)
            if known is None or known.moment <= counts.moment:
                self._latest[key] = counts
            self._latest.move_to_end(key)
            while len(self._latest) > self._size:
                self._latest.popitem(last=False)

    def get(self, key: tuple) -> WarningCounts | None:
        with self._lock:
            return self._latest.get(key)


@st.cache_resource(show_spinner=False)
def warning_board() -> WarningBoard:
    """The process's one board."""
    return WarningBoard()


def board_key(ctx: PageContext) -> tuple:
    """What counts are kept per: the store file, its version, and the user's jurisdiction (role, scope)."""
    return str(ctx.store.path), ctx.store.signature, ctx.store.jurisdiction


def warnings_for(ctx: PageContext, level: str) -> pd.DataFrame:
    """All warnings of `level` at the top of the page's hour, through the store's scoped cache; the small grids'
    counts go on the board for the 预警 tile."""
    moment = warning_moment(ctx.as_of)
    frame = ctx.store.query(all_warnings, level, as_of=moment)
    if level == TILE_LEVEL:
        warning_board().put(board_key(ctx), WarningCounts(moment, len(frame),
                                                          int(frame["kind"].isin(SPIKE_KINDS).sum())))
    return frame


def latest_counts(ctx: PageContext) -> WarningCounts | None:
    """The board's counts for this store version and jurisdiction (of this hour, or an earlier one until this hour's
    are computed); None before any were. Computes nothing."""
    return warning_board().get(board_key(ctx))


def warm_warning_counts(ctx: PageContext) -> None:
    """Compute this hour's counts when the board lacks them (tiles.LATE_WORK: after the map and the feed)."""
    known = latest_counts(ctx)
    if known is None or known.moment != warning_moment(ctx.as_of):
        warnings_for(ctx, TILE_LEVEL)


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
    st.dataframe(_table(frame), hide_index=True, width="stretch", key=key, column_config={
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
    st.caption(f"统计时点 {warning_moment(ctx.as_of):%Y-%m-%d %H:%M}（每小时整点更新）；共 {len(frame)} 条。"
               "近7日异常：高于按往年同期与近8周推算的上限（每个网格×类别误报率 0.1%），且至少 3 起。"
               "点击网格编码打开网格详情。")
    if frame.empty:
        st.info("当前没有预警。")
        return
    show_table(frame, "analysis_warning_table")


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
