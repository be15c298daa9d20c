"""The people (当事人) of one event on 网格详情: masked for everyone; an official or admin may reveal one event's
people at a time, through the audited reveal (dashboard/widgets/common.py): written to the audit log before
anything is shown.

Rendered with st.dataframe only (never unsafe HTML). The unmasked rows are fetched through the store's query
cache, whose key includes the principal, so one user's reveal is never served to another.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.frame import PageContext
from dashboard.widgets.common import MISSING, Reveal, audited_reveal
from layers.personal import persons_for_event

HEADERS = {"role_name": "身份", "name": "姓名", "phone": "电话", "id_number": "证件号码", "id_valid": "证件有效"}
REVEALED_KEY = "drill_people_revealed"  # (username, event_id) whose reveal was recorded in this session
REVEAL = Reveal(button="显示完整信息", button_key="drill_people_reveal", state_key=REVEALED_KEY, shows="完整信息",
                detail={"page": "网格详情"})


def _table(frame: pd.DataFrame) -> None:
    st.dataframe(frame[list(HEADERS)].rename(columns=HEADERS), hide_index=True, placeholder=MISSING)


def event_people_panel(ctx: PageContext, event_ids: list[str]) -> None:
    """A choice of this page's events (none chosen at first) and the chosen event's people."""
    with st.expander("当事人（选择本页一件事件查看）", expanded=True):
        if not event_ids:
            st.caption("本页没有事件。")
            return
        event_id = st.radio("选择事件查看当事人", event_ids, index=None, horizontal=True, key="drill_people_event")
        if event_id is not None:
            _people(ctx, str(event_id))


def _people(ctx: PageContext, event_id: str) -> None:
    revealed = audited_reveal(ctx, event_id, REVEAL, allowed=ctx.principal.may_reveal_personal_data)
    people = ctx.store.query(persons_for_event, event_id, reveal=revealed)
    if people.empty:
        st.caption("该事件没有当事人记录。")
        return
    st.caption("完整信息（已记入审计日志）" if revealed else "姓名、电话、证件号码已脱敏。")
    _table(people)
