"""The browser side of the sign-in cookie: a tiny st.components.v2 component that trades a session's one-time grant
for the HttpOnly cookie (POST /session/cookie) or removes the cookie (POST /session/clear), both answered by
dashboard/gateway.py. The page's script cannot set a cookie itself: it runs over the websocket."""

from __future__ import annotations

import secrets

import streamlit as st

from access.sessions import SessionError, SessionStore

GRANT_KEY = "auth_grant"  # dashboard.auth's pending grant
CLEAR_KEY = "auth_clear_cookie"  # the next run removes the browser's cookie
JS = """
export default function ({ data }) {
  if (!data || !data.nonce) return;
  const done = (window.__minqingCookie = window.__minqingCookie || {});
  if (done[data.nonce]) return;  // once per request, however often the element is drawn
  done[data.nonce] = true;
  const url = data.action === "grant" ? "/session/cookie" : "/session/clear";
  fetch(url, { method: "POST", credentials: "same-origin", body: data.code || "" }).catch(() => {});
}
"""
CSS = ":host { display: none; }"
_component = st.components.v2.component("minqing_cookie", js=JS, css=CSS)


def _send(action: str, code: str = "") -> None:
    with st.container(key="minqing_cookie_box", height=1, border=False):  # out of the layout's way (1 px)
        _component(key="minqing_cookie", data={"action": action, "code": code, "nonce": code or secrets.token_hex(8)},
                   height=0, width=1)


def hand_over_grant(sessions: SessionStore) -> None:
    """While the signed-in session's grant has not been traded, ask the browser to trade it for the cookie."""
    code = st.session_state.get(GRANT_KEY)
    if not code:
        return
    try:
        waiting = sessions.granted(code)
    except SessionError:
        waiting = False
    if not waiting:
        st.session_state.pop(GRANT_KEY, None)
        return
    _send("grant", code)


def clear_cookie() -> None:
    """Remove the browser's session cookie on the next run (the session has ended on the server already)."""
    st.session_state[CLEAR_KEY] = True


def clear_pending() -> None:
    """Draw the removal asked for by `clear_cookie`, once (the sign-in screen calls this)."""
    if st.session_state.pop(CLEAR_KEY, False):
        _send("clear")
