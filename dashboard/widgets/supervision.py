"""督办 on every page that shows it (指挥中心, 网格详情, 事件详情): the items a user may see, the forms of the loop's
steps for the user's role and the item's state, an item's history, and links to an event's detail.

An item is visible, and may be acted on, when the user's scoped cursor sees its event (jurisdiction by the event's
current grid). Every step goes to the action log beside the store (access.actions) after an audit entry.
"""

from __future__ import annotations

import datetime as dt
import html
from urllib.parse import quote

import pandas as pd
import streamlit as st

from access.actions import ACTIONS, RESULTS, STATUS, ActionError, supervision_items
from access.audit import AuditError
from dashboard.frame import PageContext
from dashboard.widgets.common import cell_text
from layers.alerts import place_text
from layers.event_detail import event_record, events_by_id

EVENT_PAGE = "event"  # dashboard/app.py's url_path of 事件详情
DEFAULT_DEADLINE = dt.timedelta(days=3)
TIME_FORMAT = "%m-%d %H:%M"
EVENT_FIELDS = ("event_id", "place", "category_name", "dept_name", "event_status", "grid_small", "grid_medium",
                "grid_large")


def event_url(event_id: str) -> str:
    """The detail page of an event (a relative link: the page keeps its sign-in through the session cookie)."""
    return f"/{EVENT_PAGE}?id={quote(str(event_id), safe='')}"


def visible_items(ctx: PageContext) -> pd.DataFrame:
    """The 督办 items whose events the user sees, with the events' place, category, department and status
    (supervision_items columns + place, category_name, dept_name, event_status)."""
    if ctx.actions is None:
        return supervision_items(pd.DataFrame(columns=["id", "at", "username", "role", "event_id", "action", "result",
                                                       "note", "deadline"]), as_of=ctx.as_of)
    items = supervision_items(ctx.actions.entries(), as_of=ctx.as_of)
    if items.empty:
        return items.assign(**{c: [] for c in EVENT_FIELDS if c != "event_id"})
    events = ctx.store.query(events_by_id, list(items["event_id"]), as_of=ctx.as_of)
    events = events.assign(place=[place_text(r.grid_large_name, r.grid_medium_name, r.grid_small_name)
                                  for r in events.itertuples()], event_status=events["status"])
    return items.merge(events[list(EVENT_FIELDS)], on="event_id", how="inner")


def in_jurisdiction(ctx: PageContext):  # -> Callable[[str], bool]
    """Whether the user's cursor sees an event (the action log's check before every step)."""
    return lambda event_id: ctx.store.query(event_record, event_id, as_of=ctx.as_of) is not None


def record_step(ctx: PageContext, action: str, event_id: str, **values: object) -> bool:
    """Record one step; say on the page why not when it is refused. True when it was recorded."""
    if ctx.actions is None:
        st.error("督办记录不可用。")
        return False
    try:
        ctx.actions.record(ctx.principal, action, event_id, in_jurisdiction=in_jurisdiction(ctx), audit=ctx.audit,
                           **values)  # type: ignore[arg-type]
    except (ActionError, AuditError) as exc:
        st.error(f"未能记录{ACTIONS[action]}：{exc}")
        return False
    return True


def item_steps(ctx: PageContext, event_id: str, state: str | None, *, key: str) -> None:
    """The forms this user may use on the item now: 督办 (command center, not supervised or closed), 反馈
    (official: open or answered), 核查通过 / 退回 (command center: answered or done)."""
    who = ctx.principal
    if who.may_supervise and state in (None, "closed"):
        _supervise_form(ctx, event_id, key)
    if who.may_feed_back and state in ("open", "answered"):
        _feedback_form(ctx, event_id, key)
    if who.may_supervise and state in ("answered", "done"):
        _review_form(ctx, event_id, key)


def _saved(ctx: PageContext, action: str, event_id: str, **values: object) -> None:
    if record_step(ctx, action, event_id, **values):
        st.toast(f"已{ACTIONS[action]}", icon=":material/check_circle:")
        st.rerun()


def _supervise_form(ctx: PageContext, event_id: str, key: str) -> None:
    with st.form(f"{key}_supervise", border=True):
        st.markdown("**督办**")
        note = st.text_area("督办要求", key=f"{key}_supervise_note", max_chars=500, height=80)
        due = ctx.as_of + DEFAULT_DEADLINE
        day = st.date_input("办理期限（日期）", value=due.date(), key=f"{key}_supervise_day")
        hour = st.time_input("办理期限（时间）", value=due.time(), key=f"{key}_supervise_time", step=3600)
        if st.form_submit_button("督办", type="primary"):
            _saved(ctx, "supervise", event_id, note=note, deadline=dt.datetime.combine(day, hour))


def _feedback_form(ctx: PageContext, event_id: str, key: str) -> None:
    with st.form(f"{key}_feedback", border=True):
        st.markdown("**反馈**")
        note = st.text_area("处置情况", key=f"{key}_feedback_note", max_chars=500, height=80)
        result = st.radio("结果", list(RESULTS), format_func=RESULTS.get, key=f"{key}_feedback_result",
                          horizontal=True)
        if st.form_submit_button("提交反馈", type="primary"):
            _saved(ctx, "feedback", event_id, note=note, result=result)


def _review_form(ctx: PageContext, event_id: str, key: str) -> None:
    with st.form(f"{key}_review", border=True):
        st.markdown("**核查**")
        note = st.text_input("核查意见（退回时必填）", key=f"{key}_review_note", max_chars=500)
        due = ctx.as_of + DEFAULT_DEADLINE
        left, right = st.columns(2)
        confirm = left.form_submit_button("核查通过", type="primary")
        send_back = right.form_submit_button("退回")
        if confirm:
            _saved(ctx, "confirm", event_id, note=note)
        elif send_back:
            if not note.strip():
                st.error("退回时请填写核查意见。")
            else:
                _saved(ctx, "send_back", event_id, note=note, deadline=due)


def item_history(ctx: PageContext, event_id: str) -> pd.DataFrame:
    """The item's steps for the timeline and the history table: at, what, who, note."""
    if ctx.actions is None:
        return pd.DataFrame(columns=["at", "what", "who", "note"])
    entries = ctx.actions.entries([event_id])
    steps = entries[entries["action"] != "sign_for"]
    what = [f"{ACTIONS[a]}（{RESULTS.get(r, r)}）" if r and a == "feedback" else ACTIONS.get(a, a)
            for a, r in zip(steps["action"], steps["result"])]
    deadline = [f"；期限 {d:%Y-%m-%d %H:%M}" if pd.notna(d) else "" for d in steps["deadline"]]
    return pd.DataFrame({"at": steps["at"], "what": [f"督办·{w}" for w in what], "who": steps["username"],
                         "note": [cell_text(n) + d for n, d in zip(steps["note"], deadline)]})


def item_state(items: pd.DataFrame, event_id: str) -> str | None:
    """The item's state among `items` (visible_items), None when the event is not supervised."""
    found = items[items["event_id"] == event_id]
    return None if found.empty else str(found.iloc[0]["status"])


def items_html(items: pd.DataFrame) -> str:
    """The items as one HTML table, each row linking to its event's detail (where its steps are taken); every text
    escaped, the markup fixed."""
    head = "".join(f"<th>{h}</th>" for h in ("督办状态", "期限", "网格", "类别", "督办要求", "最近", ""))
    rows = []
    for r in items.itertuples(index=False):
        badge = '<span class="sv-overdue">⚠ 督办超期</span>' if r.overdue else ""
        deadline = r.deadline.strftime(TIME_FORMAT) if pd.notna(r.deadline) else ""
        last = f"{r.last_at:%m-%d %H:%M} {ACTIONS.get(r.last_action, r.last_action)}"
        cells = (html.escape(STATUS.get(r.status, r.status)) + badge, html.escape(deadline),
                 html.escape(cell_text(r.place)), html.escape(cell_text(r.category_name)),
                 html.escape(cell_text(r.supervise_note)), html.escape(last),
                 f'<a href="{html.escape(event_url(r.event_id), quote=True)}" target="_self">处理</a>')
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f'<table class="sv-items"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


ITEMS_CSS = """
<style>
.sv-items {width: 100%; border-collapse: collapse; font-size: 0.9rem;}
.sv-items th, .sv-items td {padding: 0.3rem 0.4rem; border-bottom: 1px solid rgba(128, 128, 128, 0.3); text-align: left;}
.sv-items .sv-overdue {background: #dc2626; color: #fff; border-radius: 0.25rem; padding: 0 0.3rem; margin-left: 0.3rem;
  font-size: 0.8em;}
</style>
"""  # constant CSS, no data in it


def supervision_list(items: pd.DataFrame, *, empty: str) -> None:
    """The items as a table whose rows open their events (where the history and the steps are)."""
    if items.empty:
        st.caption(empty)
        return
    open_count = int(items["status"].isin(["open", "answered", "done"]).sum())
    st.caption(f"共 {len(items)} 项，其中未办结 {open_count} 项、督办超期 {int(items['overdue'].sum())} 项；"
               "点“处理”打开事件详情，查看记录并反馈或核查。")
    st.markdown(ITEMS_CSS, unsafe_allow_html=True)
    st.markdown(items_html(items), unsafe_allow_html=True)
