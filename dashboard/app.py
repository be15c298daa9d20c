"""Streamlit entry point of 民情地图: page config, sign-in, the pages the user may see, the store, the shared
sidebar once, then the chosen page."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.auth import (
    audit_log, current_principal, hand_over_cookie, scope_names, show_open_banner, show_user, sign_in_screen,
)
from dashboard.frame import CONTEXT_KEY, build_context, read_summary
from dashboard.settings import SettingsError, read as read_settings
from dashboard.published import open_store
from access.principal import Principal

VIEWS = Path(__file__).resolve().parent / "views"  # not "pages/": that name switches Streamlit to its old multipage mode


def pages_for(principal: Principal | None) -> list[st.Page]:
    """The pages a user may open; the audit log only for administrators, the wall display alone for a wall (None:
    before sign-in). 事件详情 opens from the feed, the pop-ups and the 督办 lists (not in the menu)."""
    command_center = st.Page(VIEWS / "command_center.py", title="指挥中心", icon=":material/radar:", default=True)
    if principal is not None and principal.wall_only:
        return [command_center]
    pages = [
        command_center,
        st.Page(VIEWS / "grid_detail.py", title="网格详情", icon=":material/travel_explore:"),
        st.Page(VIEWS / "trends.py", title="趋势与导出", icon=":material/monitoring:"),
        st.Page(VIEWS / "analysis.py", title="分析研判", icon=":material/crisis_alert:"),
        st.Page(VIEWS / "event_detail.py", title="事件详情", icon=":material/description:", url_path="event",
                visibility="hidden"),
    ]
    if principal is not None and principal.role == "admin":
        pages.append(st.Page(VIEWS / "audit.py", title="审计日志", icon=":material/policy:"))
    return pages


def main() -> None:
    st.set_page_config(layout="wide", page_title="民情地图", page_icon="🗺️",
                       initial_sidebar_state="collapsed" if st.query_params.get("screen") == "big" else "auto")
    try:
        settings = read_settings()  # once per run; the values are passed down from here
    except SettingsError as exc:  # a bad setting stops the app before sign-in: nothing runs on a guessed value
        st.title("民情地图")
        st.error(exc.zh(), icon="⚙️")
        st.stop()
    path = settings.db
    audit = audit_log(path, settings.audit)
    principal = current_principal(audit, settings.users, settings.session_idle_hours)
    if principal is None:
        st.navigation(pages_for(None), position="hidden")  # keeps a deep link's page through the sign-in screen
        sign_in_screen(audit, settings.users)  # stops the run; a successful sign-in reruns
    hand_over_cookie(settings.users)
    if principal.wall_only and st.query_params.get("screen") != "big":
        st.query_params["screen"] = "big"  # a wall sees the wall display, whatever link it was given
    page = st.navigation(pages_for(principal), position="hidden" if principal.wall_only else "sidebar")
    if not principal.wall_only and st.query_params.get("screen") != "big":  # the wall shows no notices
        show_open_banner(settings.users)
    store = open_store(path, principal)  # every query runs on a cursor scoped to the principal
    summary, problem = read_summary(store, path)
    if not principal.wall_only:  # a wall has no one to sign out
        show_user(principal, audit, users=settings.users,
                  names=scope_names(store, principal) if problem is None else None)
    if problem is not None:
        st.title("民情地图")
        st.warning(problem, icon="⚠️")
        st.stop()
    st.session_state[CONTEXT_KEY] = build_context(store, summary, principal=principal, audit=audit,
                                                  settings=settings)
    page.run()


main()
