"""Streamlit entry point of 民情地图: page config, store connection and cached queries, shared sidebar, navigation."""

from __future__ import annotations

import datetime as dt
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd
import streamlit as st

from dashboard.pages import command_center
from etl.schema import connect
from layers.grids import StoreSummary, event_counts, grid_frame, store_summary

DB_ENV = "MINQING_DB"
DEFAULT_DB = "demo/minqing.duckdb"  # relative to the working directory
QUERY_TTL_S = 300
FIX_COMMANDS = "`make demo`（生成演示数据）或 `minqing load --config DIR/minqing.toml`（加载本地数据）"
LEVEL_LABELS = {"large": "大网格", "medium": "中网格", "small": "小网格"}

FileSignature = tuple[int, int, int]  # inode, size, mtime_ns: a rebuilt file gets a new connection


def _close(con: duckdb.DuckDBPyConnection) -> None:
    con.close()


@st.cache_resource(max_entries=1, on_release=_close, show_spinner=False)
def _connection(path: str, signature: FileSignature) -> duckdb.DuckDBPyConnection:
    return connect(path, read_only=True)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def _summary(path: str, signature: FileSignature) -> StoreSummary:
    return store_summary(_connection(path, signature).cursor())


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def _grids(path: str, signature: FileSignature, level: str) -> gpd.GeoDataFrame:
    return grid_frame(_connection(path, signature).cursor(), level)


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False)
def _event_counts(
    path: str, signature: FileSignature, level: str, start: dt.datetime | None, end: dt.datetime | None
) -> pd.DataFrame:
    return event_counts(_connection(path, signature).cursor(), level, start=start, end=end)


@dataclass(frozen=True)
class Store:
    """Cached read access to one store file; pages receive this and never touch SQL."""

    path: Path
    signature: FileSignature

    def summary(self) -> StoreSummary:
        return _summary(str(self.path), self.signature)

    def grids(self, level: str) -> gpd.GeoDataFrame:
        return _grids(str(self.path), self.signature, level)

    def event_counts(
        self, level: str, *, start: dt.datetime | None = None, end: dt.datetime | None = None
    ) -> pd.DataFrame:
        return _event_counts(str(self.path), self.signature, level, start, end)


def db_path() -> Path:
    """The store file: $MINQING_DB, else demo/minqing.duckdb under the working directory."""
    return Path(os.environ.get(DB_ENV) or DEFAULT_DB).expanduser().resolve()


def open_store(path: Path) -> tuple[Store | None, StoreSummary | None, str | None]:
    """The store and its summary, or a friendly Chinese message saying what is wrong and how to fix it."""
    if not path.is_file():
        return None, None, (
            f"未找到数据库文件 `{path}`。\n\n请先运行 {FIX_COMMANDS}，"
            f"或用环境变量 `{DB_ENV}` 指向已有的数据库文件。"
        )
    stat = path.stat()
    store = Store(path, (stat.st_ino, stat.st_size, stat.st_mtime_ns))
    try:
        summary = store.summary()
    except duckdb.Error as exc:
        return None, None, (
            f"无法打开数据库 `{path}`：{type(exc).__name__}。\n\n"
            "如果正在加载数据，请等加载结束后刷新页面；若文件已损坏，请重新运行 " + FIX_COMMANDS + "。"
        )
    if not summary.is_store or summary.grid_total == 0:
        return store, summary, f"数据库 `{path}` 中还没有网格数据。\n\n请运行 {FIX_COMMANDS} 导入网格和事件。"
    return store, summary, None


def sidebar(path: Path, summary: StoreSummary | None) -> None:
    """The frame shared by every page: which database, how fresh, how much."""
    with st.sidebar:
        st.markdown("**数据库**")
        st.caption(str(path))
        if summary is None or not summary.is_store:
            return
        last = summary.last_load.strftime("%Y-%m-%d %H:%M") if summary.last_load else "尚无加载记录"
        st.markdown(f"**最近加载**：{last}")
        st.markdown(f"**事件**：{summary.event_total:,} 条")
        levels = "，".join(f"{LEVEL_LABELS.get(k, k)} {v:,}" for k, v in summary.grids_by_level.items())
        st.markdown(f"**网格**：{summary.grid_total:,} 个（{levels}）")


def main() -> None:
    st.set_page_config(layout="wide", page_title="民情地图", page_icon="🗺️")
    path = db_path()
    store, summary, problem = open_store(path)
    pages = [
        st.Page(
            functools.partial(command_center.render, store),  # only run when store is usable
            title="指挥中心",
            icon="🧭",
            url_path="command_center",
            default=True,
        )
    ]
    page = st.navigation(pages)
    sidebar(path, summary)
    if problem is not None:
        st.title("民情地图")
        st.warning(problem, icon="⚠️")
        st.stop()
    page.run()


main()
