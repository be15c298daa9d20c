"""The warning list: filters by kind, level and category; each row links to its grid on 网格详情 (?grid=CODE); this
grid's warnings (网格详情); and the small-grid counts the command center's 预警 tile shows.

The dashboard's warnings are hourly: they look back from the top of the page's hour (`warning_moment`), so the
list, 网格详情 and the tile agree, and the counts are computed once per store version, hour and jurisdiction: a
`WarningBoard` keeps them (the tile only reads it; `warm_warning_counts`, run after the map and the feed, starts
their computation on a thread of its own, so no page run waits for it: the tile shows them at its next refresh).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from dashboard.frame import LEVEL_LABELS, PageContext
from dashboard.published import Store
from dashboard.widgets.common import MISSING, cell_text
from layers.warnings import KINDS, all_warnings

GRID_PAGE = "grid_detail"  # the url path of 网格详情 (dashboard/views/grid_detail.py)
TILE_LEVEL = "small"  # the level the 预警 tile counts
SPIKE_KINDS = ("spike_7d", "spike_1d")  # 事件异常增多: what turns the tile red on the wall
LOG = logging.getLogger(__name__)


def warning_moment(as_of: dt.datetime) -> dt.datetime:
    """The moment the dashboard's warnings look back from: the top of `as_of`'s hour (in the store's zone, as as_of)."""
    return as_of.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class WarningCounts:
    """How many warnings of the small grids at `moment`, and how many of them are spikes (近7日 / 今日异常增多)."""

    moment: dt.datetime
    total: int
    spikes: int
    frame: pd.DataFrame | None = field(default=None, compare=False, repr=False)  # the warnings counted

    @classmethod
    def of(cls, moment: dt.datetime, frame: pd.DataFrame) -> WarningCounts:
        return cls(moment, len(frame), int(frame["kind"].isin(SPIKE_KINDS).sum()), frame)


class WarningBoard:
    """The latest WarningCounts per (store file, version, jurisdiction): one per hour is computed; the newest
    `size` store versions and jurisdictions are kept; what is being computed is claimed, so it is computed once.
    Thread-safe (sessions and the computing threads share it)."""

    def __init__(self, size: int = 64) -> None:
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._latest: OrderedDict[tuple, WarningCounts] = OrderedDict()
        self._busy: set[tuple] = set()
        self._size = size

    def claim(self, key: tuple, moment: dt.datetime) -> bool:
        """True for the one caller that is to compute `key`'s counts at `moment` (until it calls `release`)."""
        with self._lock:
            if (key, moment) in self._busy:
                return False
            self._busy.add((key, moment))
            return True

    def release(self, key: tuple, moment: dt.datetime) -> None:
        with self._settled:
            self._busy.discard((key, moment))
            self._settled.notify_all()

    def wait_settled(self, timeout: float) -> bool:
        """Wait until nothing is being computed (or `timeout` seconds); True when nothing is."""
        with self._settled:
            return self._settled.wait_for(lambda: not self._busy, timeout)

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
    are read from the board when the 预警 tile's counts of this hour are there, else computed and put there."""
    moment = warning_moment(ctx.as_of)
    if level == TILE_LEVEL:
        known = latest_counts(ctx)
        if known is not None and known.moment == moment and known.frame is not None:
            return known.frame.copy()  # what the 预警 tile's counts were made from
    frame = ctx.store.query(all_warnings, level, as_of=moment)
    if level == TILE_LEVEL:
        warning_board().put(board_key(ctx), WarningCounts.of(moment, frame))
    return frame


def latest_counts(ctx: PageContext) -> WarningCounts | None:
    """The board's counts for this store version and jurisdiction (of this hour, or an earlier one until this hour's
    are computed); None before any were. Computes nothing."""
    return warning_board().get(board_key(ctx))


def warm_warning_counts(ctx: PageContext) -> None:
    """Start computing this hour's counts on a thread of its own when the board lacks them and nobody is computing
    them (tiles.LATE_WORK: after the map and the feed)."""
    moment = warning_moment(ctx.as_of)
    known = latest_counts(ctx)
    board, key = warning_board(), board_key(ctx)
    if (known is not None and known.moment == moment) or not board.claim(key, moment):
        return
    threading.Thread(target=_count_warnings, args=(board, ctx.store, key, moment), daemon=False,  # exit waits for it
                     name="minqing-warning-counts").start()


def _count_warnings(board: WarningBoard, store: Store, key: tuple, moment: dt.datetime) -> None:
    """The small grids' warnings at `moment` counted onto the board (a failure is logged; the next refresh retries)."""
    try:
        board.put(key, WarningCounts.of(moment, store.run(all_warnings, TILE_LEVEL, as_of=moment)))
    except Exception:  # noqa: BLE001  (a replaced store, a closed connection: the tile keeps its last counts)
        LOG.warning("the 预警 tile's counts at %s could not be computed", moment, exc_info=True)
    finally:
        board.release(key, moment)


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
