"""The shared frame of every page: settings, the sidebar's global filters, big-screen mode, the page context."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from dashboard.settings import CLOCK, DB, NEGLECT_DAYS, Settings, read as read_settings
from dashboard.published import Store
from access.actions import ActionLog, default_actions_path
from access.audit import AuditLog
from access.principal import SYSTEM, Principal
from layers.grids import StoreSummary, store_summary
from layers.offline import Basemap
from layers.patrol import DEFAULT_NEGLECT_DAYS
from layers.event_query import EventFilter
from layers.stats import data_clock
from store.timewindow import QueryError, now_in, store_zone
from layers.lookups import category_names, department_names

NEGLECT_ENV = NEGLECT_DAYS.env  # named in the patrol tiles' help; every setting is declared in dashboard/settings.py
CONTEXT_KEY = "frame_context"
LEVEL_LABELS = {"large": "大网格", "medium": "中网格", "small": "小网格"}
WINDOWS: dict[str, dt.timedelta | None] = {
    "最近1小时": dt.timedelta(hours=1),
    "最近24小时": dt.timedelta(hours=24),
    "最近7天": dt.timedelta(days=7),
    "最近30天": dt.timedelta(days=30),
    "今年以来": None,
    "全部": None,
    "自定义": None,
}
DEFAULT_WINDOW = "最近30天"
FIX_COMMANDS = "`make demo`（生成演示数据）或 `minqing load --config DIR/minqing.toml`（加载本地数据）"


@dataclass(frozen=True)
class PageContext:
    """What every page receives: the store, the moment called "now", the global filters, the settings
    (dashboard/settings.py, read once per run by app.py), who is asking and the audit log.

    `principal` is the signed-in user (dashboard/auth.py); queries and exports are scoped by it, and exports and
    reveals are written to `audit` (`ctx.audit.record(ctx.principal, "export", ...)`). build_context always
    passes both; the SYSTEM default only serves contexts built by hand in tests.
    """

    store: Store
    summary: StoreSummary
    as_of: dt.datetime
    start: dt.datetime | None
    end: dt.datetime | None
    window_label: str
    where: EventFilter
    dept_names: dict[str, str] = field(default_factory=dict)
    category_names: dict[str, str] = field(default_factory=dict)
    basemap: Basemap = field(default_factory=Basemap)
    big_screen: bool = False
    refresh_seconds: int = 30
    principal: Principal = SYSTEM
    audit: AuditLog | None = None
    neglect_days: int = DEFAULT_NEGLECT_DAYS
    clock: str | None = None  # "now" | "data" (settings.CLOCK); None: read $MINQING_CLOCK when needed
    users: Path | None = None  # the users file the session signed in against (None: open mode)
    actions: ActionLog | None = None  # the 督办 action log beside the store (None: contexts built by hand in tests)
    popup_seconds: int = 15
    sound: bool = False
    rotate_seconds: int = 0
    session_idle_hours: int = 12

    def window_text(self) -> str:
        """The time window as Chinese text for captions."""
        fmt = "%Y-%m-%d %H:%M"
        start = self.start.strftime(fmt) if self.start else "最早"
        end = self.end.strftime(fmt) if self.end else "最新"
        return f"{self.window_label}（{start} 至 {end}）"


def now_for(store: Store, clock: str | None = None) -> dt.datetime:
    """The moment the figures are "now" for: the wall clock, or the latest report when `clock` is "data"
    (None: the CLOCK setting read from the environment; a bad value raises settings.SettingError)."""
    if (CLOCK.read() if clock is None else clock) == "data":
        try:
            return store.query(data_clock) + dt.timedelta(minutes=1)
        except QueryError:  # a store with grids but no events yet: the wall clock will do
            pass
    # the wall clock in the store's zone, not the server's; per minute, so cached figures are reused
    return now_in(store.query(store_zone)).replace(second=0, microsecond=0)


def window_bounds(label: str, as_of: dt.datetime, custom: tuple[dt.date, dt.date] | None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """[start, end) of a named window ending at as_of; "全部" is open at both ends."""
    if label == "全部":
        return None, None
    if label == "今年以来":
        return dt.datetime(as_of.year, 1, 1), as_of
    if label == "自定义" and custom:
        first, last = custom
        return dt.datetime.combine(first, dt.time()), dt.datetime.combine(last, dt.time()) + dt.timedelta(days=1)
    span = WINDOWS.get(label) or WINDOWS[DEFAULT_WINDOW]
    return as_of - span, as_of


def build_context(store: Store, summary: StoreSummary, *, principal: Principal, audit: AuditLog,
                  settings: Settings | None = None) -> PageContext:
    """Draw the sidebar's global filters and return the context every page reads, for `principal`, with the
    run's `settings` (default: read from the environment now)."""
    settings = read_settings() if settings is None else settings
    as_of = now_for(store, settings.clock)
    depts = store.query(department_names)
    categories = store.query(category_names)
    big_screen = st.query_params.get("screen") == "big" or principal.wall_only
    with st.sidebar:
        st.markdown("### 筛选")
        label = st.selectbox("时间范围", list(WINDOWS), index=list(WINDOWS).index(DEFAULT_WINDOW), key="frame_window")
        custom = None
        if label == "自定义":
            picked = st.date_input("起止日期", value=(as_of.date() - dt.timedelta(days=30), as_of.date()),
                                   key="frame_custom")
            custom = tuple(picked) if isinstance(picked, (tuple, list)) and len(picked) == 2 else None
        chosen_depts = st.multiselect("部门", list(depts), format_func=lambda c: depts.get(c, c), key="frame_depts",
                                      placeholder="全部部门")
        chosen_categories = st.multiselect("事件类别", list(categories), format_func=lambda c: categories.get(c, c),
                                           key="frame_categories", placeholder="全部类别")
        st.divider()
        _store_facts(store, summary, as_of)
    start, end = window_bounds(label, as_of, custom)
    return PageContext(
        store=store, summary=summary, as_of=as_of, start=start, end=end, window_label=label,
        where=EventFilter(depts=tuple(chosen_depts), categories=tuple(chosen_categories)),
        dept_names=depts, category_names=categories, basemap=settings.basemap, big_screen=big_screen,
        refresh_seconds=settings.refresh_seconds, principal=principal, audit=audit,
        neglect_days=settings.neglect_days, clock=settings.clock, users=settings.users,
        actions=ActionLog(default_actions_path(store.path)), popup_seconds=settings.popup_seconds,
        sound=settings.sound, rotate_seconds=settings.rotate_seconds, session_idle_hours=settings.session_idle_hours,
    )


def _store_facts(store: Store, summary: StoreSummary, as_of: dt.datetime) -> None:
    if store.principal.may_see_server_paths:  # where the store lives is for administrators
        st.markdown("**数据库**")
        st.caption(str(store.path))
    last = summary.last_load.strftime("%Y-%m-%d %H:%M") if summary.last_load else "尚无加载记录"
    st.markdown(f"**最近加载**：{last}")
    st.markdown(f"**事件**：{summary.event_total:,} 条")
    levels = "，".join(f"{LEVEL_LABELS.get(k, k)} {v:,}" for k, v in summary.grids_by_level.items())
    st.markdown(f"**网格**：{summary.grid_total:,} 个（{levels}）")
    st.caption(f"统计时点：{as_of:%Y-%m-%d %H:%M}")


def read_summary(store: Store | None, path: Path) -> tuple[StoreSummary | None, str | None]:
    """The store's summary, or a friendly Chinese message saying what is wrong and how to fix it."""
    if store is None:
        return None, (f"未找到数据库文件 `{path}`。\n\n请先运行 {FIX_COMMANDS}，"
                      f"或用环境变量 `{DB.env}` 指向已有的数据库文件。")
    try:
        summary = store.query(store_summary)
    except Exception as exc:  # duckdb raises several types for a damaged or foreign file
        return None, (f"无法打开数据库 `{store.path}`：{type(exc).__name__}。\n\n"
                      f"若文件已损坏，请重新运行 {FIX_COMMANDS}。")
    if not summary.is_store or summary.grid_total == 0:
        return summary, f"数据库 `{store.path}` 中还没有网格数据。\n\n请运行 {FIX_COMMANDS} 导入网格和事件。"
    return summary, None


def context() -> PageContext:
    """The context app.py built for this run; pages call this first."""
    return st.session_state[CONTEXT_KEY]


BIG_SCREEN_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], header[data-testid="stHeader"] {display: none;}
.stApp {background: #0b1220; color: #e6edf7;}
.stApp h1, .stApp h2, .stApp h3, .stApp p, .stApp label, .stApp span {color: #e6edf7;}
[data-testid="stMetricValue"] {font-size: 3.2rem; color: #ffd166;}
[data-testid="stMetricLabel"] p {font-size: 1.3rem;}
.stApp [data-testid="stMetricValue"] p {color: #ffd166;}
.stApp [data-testid="stMetricDelta"] p {color: inherit;}
.stApp [data-testid="stMetric"] {background: rgba(255, 255, 255, 0.04);}
.stApp [data-testid="stButtonGroup"] button {background: #1f2937; border-color: #4b5563;}
.stApp [data-testid="stButtonGroup"] button p {color: #e6edf7;}
.stApp [data-testid="stButtonGroup"] button[aria-checked="true"] {background: #ffd166; border-color: #ffd166;}
.stApp [data-testid="stButtonGroup"] button[aria-checked="true"] p {color: #111827;}
.block-container {max-width: 100%; padding: 1rem 2rem;}
</style>
"""


def apply_big_screen(ctx: PageContext) -> None:
    """Full width, large type, dark background and no sidebar (the page's query string has screen=big)."""
    if ctx.big_screen:
        st.markdown(BIG_SCREEN_CSS, unsafe_allow_html=True)  # constant CSS, no data in it
