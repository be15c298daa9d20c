"""审计日志: the audit log for administrators (who signed in, exported, revealed personal data), filtered, with a
CSV download; every distinct view and every download is itself audited."""

from __future__ import annotations

import datetime as dt
import io
import shlex
from pathlib import Path

import streamlit as st

from dashboard.frame import context
from access.audit import ACTIONS, OUTCOMES, AuditError, AuditFilter, AuditLog
from access.principal import ROLES, Principal
from layers.export import write_audit_csv

SHOWN = 2000  # newest entries shown in the table; the CSV has every entry that passes the filters
VIEW_KEY = "audit_last_view"  # the filters of the last audited view in this session


def download(log: AuditLog, principal: Principal, filters: AuditFilter) -> bytes:
    """The CSV of the filtered entries, made when the button is clicked; refused unless the export is audited."""
    frame = log.entries(filters)
    log.record(principal, "audit_export", target="audit.csv", detail={"filters": filters.describe(), "via": "dashboard"},
               rows=len(frame))
    buffer = io.BytesIO()
    write_audit_csv(frame, buffer)
    return buffer.getvalue()


def export_command(path: Path, filters: AuditFilter, first: dt.date | None, last: dt.date | None, output: str) -> str:
    """The `minqing audit export` command that writes the same CSV."""
    words = ["minqing", "audit", "export", "--audit", str(path)]
    if first:
        words += ["--from", f"{first:%Y-%m-%d}"]
    if last:
        words += ["--to", f"{last:%Y-%m-%d}"]
    for flag, values in (("--user", filters.usernames), ("--action", filters.actions), ("--outcome", filters.outcomes)):
        for value in values:
            words += [flag, value]
    if filters.text.strip():
        words += ["--text", filters.text.strip()]
    return shlex.join([*words, "--format", "csv", "-o", output])


ctx = context()
st.title("审计日志")
log = ctx.audit
if ctx.principal.role != "admin" or log is None:  # the page is registered for administrators only; check again
    if log is not None:
        log.record(ctx.principal, "audit_view", outcome="refused", detail={"via": "dashboard"})
    st.error("只有系统管理员可以查看审计日志。")
    st.stop()

st.caption(f"日志文件：{log.path}。登录、退出、导出、查看个人信息和查看或导出本日志的操作都会记录；密码从不记录。")
today = dt.date.today()
left, middle, right = st.columns([2, 3, 3])
picked = left.date_input("起止日期", value=(today - dt.timedelta(days=30), today), key="audit_dates")
users = middle.multiselect("用户", log.usernames(), key="audit_users", placeholder="全部用户")
actions = right.multiselect("操作", list(ACTIONS), format_func=ACTIONS.get, key="audit_actions", placeholder="全部操作")
left, right = st.columns([2, 6])
outcomes = left.multiselect("结果", list(OUTCOMES), format_func=OUTCOMES.get, key="audit_outcomes",
                            placeholder="全部结果")
text = right.text_input("关键字（对象或详情）", key="audit_text")

first, last = (tuple(picked) + (None, None))[:2] if isinstance(picked, (tuple, list)) else (picked, picked)
filters = AuditFilter(
    since=dt.datetime.combine(first, dt.time()) if first else None,
    until=dt.datetime.combine(last, dt.time()) + dt.timedelta(days=1) if last else None,
    usernames=tuple(users), actions=tuple(actions), outcomes=tuple(outcomes), text=text,
)
try:
    total = log.count(filters)
    frame = log.entries(filters, limit=SHOWN)
    if st.session_state.get(VIEW_KEY) != filters:
        log.record(ctx.principal, "audit_view", detail={"filters": filters.describe(), "via": "dashboard"},
                   rows=len(frame))
        st.session_state[VIEW_KEY] = filters
except AuditError as exc:
    st.error(f"审计日志无法读取或写入：{exc}")
    st.stop()

st.caption(f"共 {total:,} 条" + (f"，表中显示最新 {SHOWN:,} 条，CSV 含全部" if total > SHOWN else ""))
shown = frame.assign(
    action=frame["action"].map(lambda a: ACTIONS.get(a, a)),
    outcome=frame["outcome"].map(lambda o: OUTCOMES.get(o, o)),
    role=frame["role"].map(lambda r: ROLES.get(r, r)),
).rename(columns={"at": "时间", "username": "用户", "role": "角色", "action": "操作", "target": "对象",
                  "detail_json": "详情", "rows": "行数", "outcome": "结果", "id": "编号"})
st.dataframe(shown, hide_index=True, width="stretch",
             column_config={"时间": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")})
stamp = f"{first:%Y%m%d}-{last:%Y%m%d}" if first and last else "all"
st.download_button("下载 CSV", data=lambda: download(log, ctx.principal, filters), file_name=f"audit-{stamp}.csv",
                   mime="text/csv", key="audit_download", on_click="ignore", icon=":material/download:")
st.caption("等效命令")
st.code(export_command(log.path, filters, first, last, f"audit-{stamp}.csv"), language="bash", wrap_lines=True)
