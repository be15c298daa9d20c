"""The trends page's downloads: yearly dispute statistics and the filtered events, each as CSV and XLSX, made by
the one export service (layers.export_service, as `minqing export` is) and shown with the command that writes the
same file.

The files are made only when a button is clicked (deferred download data), through the store's scoped query cache;
the service records each one as an "export" entry in the audit log (what, the options, the rows) before it writes
the bytes: no entry, no file.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import streamlit as st

from dashboard.frame import LEVEL_LABELS, PageContext
from dashboard.widgets.common import plain
from dashboard.widgets.trends.scope import ScopeChoice, filter_caption
from store.schema import LEVELS
from layers.export_service import FORMATS, MIME, ExportRequest, run_export
from layers.trends import Scope, disputes_command, events_command, export_name

DB_PLACEHOLDER = "DB.duckdb"  # the --db of the 等效命令 shown to anyone but an administrator
EXPORT_LEVEL_LABELS = {**LEVEL_LABELS, "all": "全部层级（仅 XLSX，每层一张表）"}


def export_levels(scope: Scope) -> list[str]:
    """The grid levels a dispute export of the scope can list: its own level and finer; all of them from the city
    or a large grid (a medium or small grid has no large-grid rows)."""
    finer = list(LEVELS) if scope.level == "city" else list(LEVELS[LEVELS.index(scope.level):])
    return [*finer, "all"] if scope.level in ("city", "large") else finer


def _db_shown(ctx: PageContext) -> str:
    """The store's path for an administrator; a placeholder for everyone else (server paths are not theirs)."""
    return str(ctx.store.path) if ctx.principal.may_see_server_paths else DB_PLACEHOLDER


def _download(ctx: PageContext, kind: str, fmt: str, file_name: str, options: dict[str, Any]) -> bytes:
    """The file, made by the export service as the signed-in user sees the store; recorded before it is written."""

    def record(what: str, *, rows: int, detail: dict[str, Any]) -> None:
        if ctx.audit is not None:
            ctx.audit.record(ctx.principal, "export", target=what, rows=rows,
                             detail={"via": "dashboard", "file": file_name, **detail})

    return run_export(ExportRequest(kind, fmt, options), query=ctx.store.query, record=record).data


def downloads_allowed(ctx: PageContext) -> bool:
    """Every download is recorded first; when the audit log cannot be written, say so instead of offering buttons
    that would fail without a word."""
    problem = ctx.audit.writable_problem() if ctx.audit is not None else None
    if problem is None:
        return True
    st.error(f"审计日志无法写入，导出已停用（每次导出必须先记入审计日志）。请管理员处理：{problem}")
    return False


def _button(label: str, fmt: str, file_name: str, make: partial, key: str, command: str | None) -> None:
    st.download_button(label, data=make, file_name=file_name, mime=MIME[fmt], key=key, on_click="ignore",
                       disabled=command is None, icon=":material/download:")
    if command is None:
        st.caption("CSV 每次只含一个层级：请选择大网格、中网格或小网格。")
    else:
        st.caption("等效命令")
        st.code(command, language="bash", wrap_lines=True)


def show_dispute_downloads(ctx: PageContext, choice: ScopeChoice, years: tuple[int, int]) -> None:
    """年度矛盾纠纷化解统计 for the scope and years, as `minqing export disputes` writes it."""
    st.markdown("**年度矛盾纠纷化解统计**")
    st.caption(f"范围：{plain(choice.label)}；{years[0]}–{years[1]} 年。与命令行导出的文件相同，不受侧栏部门、类别筛选影响。")
    scope = choice.scope
    level = st.selectbox("导出网格层级", export_levels(scope), format_func=EXPORT_LEVEL_LABELS.get,
                         key=f"trends_export_level_{scope.level}")
    options = dict(level=level, year_from=years[0], year_to=years[1], grid=scope.grid)
    for column, fmt in zip(st.columns(2), FORMATS):
        with column:
            name = export_name("disputes", fmt, level, scope.grid, f"{years[0]}-{years[1]}")
            usable = not (fmt == "csv" and level == "all")
            command = disputes_command(_db_shown(ctx), fmt, output=name, **options) if usable else None
            make = partial(_download, ctx, "disputes", fmt, name, options)
            _button(f"下载 {fmt.upper()}", fmt, name, make, f"trends_download_disputes_{fmt}", command)


def show_event_downloads(ctx: PageContext, choice: ScopeChoice) -> None:
    """事件明细 in the sidebar's window and filters (and the chosen grid), as `minqing export events` writes it."""
    st.markdown("**事件明细**")
    scope = choice.scope
    st.caption(f"{ctx.window_text()}；{filter_caption(ctx)}；范围：{plain(choice.label)}")
    options = dict(start=ctx.start, end=ctx.end, where=ctx.where, level=scope.level if scope.grid else None,
                   grid=scope.grid)
    stamp = "all" if ctx.start is None and ctx.end is None else "-".join(
        f"{t:%Y%m%d%H%M}" if t else "open" for t in (ctx.start, ctx.end))
    for column, fmt in zip(st.columns(2), FORMATS):
        with column:
            name = export_name("events", fmt, scope.grid, stamp)
            command = events_command(_db_shown(ctx), fmt, output=name, **options)
            make = partial(_download, ctx, "events", fmt, name, options)
            _button(f"下载 {fmt.upper()}", fmt, name, make, f"trends_download_events_{fmt}", command)
