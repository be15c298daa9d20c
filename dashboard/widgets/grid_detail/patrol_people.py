"""The people looking after the chosen grid on 网格详情 (网格人员): phones masked; an administrator may reveal them,
each reveal written to the audit log before any number is shown (the audited reveal of dashboard/widgets/common.py).
Rendered with st.dataframe only."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.frame import PageContext
from dashboard.widgets.common import MISSING, Reveal, audited_reveal
from layers.drilldown import GridProfile
from layers.patrol import grid_people

HEADERS = {  # grid_people column -> Chinese header, in the order shown
    "role_name": "身份", "name": "姓名", "phone": "联系电话", "grid_names": "负责网格", "households": "联系户数",
    "in_post_mark": "在岗", "last_check_in": "最近签到", "visits_30d": "近30日走访", "start_date": "入职日期",
    "end_date": "离岗日期",
}
REVEALED_KEY = "drill_patrol_phones_revealed"  # (username, grid code) whose phone reveal was recorded
AUDIT_DETAIL = {"page": "网格详情", "what": "grid_people_phones"}
REVEAL = Reveal(button="显示联系电话", button_key="drill_patrol_reveal", state_key=REVEALED_KEY, shows="联系电话",
                detail=AUDIT_DETAIL)


def people_table(people: pd.DataFrame) -> pd.DataFrame:
    """grid_people rows with Chinese headers; 在岗 as 是 / 否."""
    shown = people.assign(in_post_mark=["是" if bool(v) else "否" for v in people["in_post"]])
    return shown[list(HEADERS)].rename(columns=HEADERS)


def grid_people_panel(ctx: PageContext, profile: GridProfile) -> None:
    """网格人员: the table, with the audited 显示联系电话 button for those who may see the phones."""
    st.markdown("**网格人员**")
    allowed = ctx.principal.may_see_contact_phones
    revealed = audited_reveal(ctx, profile.code, REVEAL, allowed=allowed)
    people = ctx.store.query(grid_people, profile.code, as_of=ctx.as_of, reveal_phones=revealed)
    if people.empty:
        st.caption("该网格没有登记的网格人员。")
        return
    if revealed:
        st.caption("完整联系电话（已记入审计日志）。")
    elif allowed:
        st.caption("联系电话已脱敏；点击“显示联系电话”查看完整号码（记入审计日志）。")
    else:
        st.caption("联系电话已脱敏；仅系统管理员可查看完整号码。")
    columns = {HEADERS[c]: st.column_config.DateColumn(HEADERS[c], format="YYYY-MM-DD")
               for c in ("start_date", "end_date")}
    columns[HEADERS["last_check_in"]] = st.column_config.DatetimeColumn(HEADERS["last_check_in"],
                                                                        format="YYYY-MM-DD HH:mm")
    st.dataframe(people_table(people), hide_index=True, column_config=columns, placeholder=MISSING)
