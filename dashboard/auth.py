"""Sign-in before any page: the password form checked against the users file (the USERS setting, --users /
$MINQING_USERS, passed in by app.py), or the intranet SSO (Streamlit's st.login, when the users file says
`[auth] oidc = true`); the sidebar's 当前用户 block and 退出登录.

A sign-in starts a server-side session (access.sessions, beside the users file) and hands the browser a one-time
grant that it trades for an HttpOnly, SameSite=Strict cookie (dashboard/browser.py, dashboard/gateway.py), so a
reload, a new tab or a browser restart stays signed in. The session id and the Principal are kept in
st.session_state ("auth_session", "auth_principal"); every rerun and every live refresh checks the session again:
ended (sign-out, `minqing users remove|passwd`, a revoked wall link), unused for the idle limit, or its account
removed or changed (role, scope or password) signs the user out at once.
With no users file configured the app runs open as SYSTEM (an administrator) and says so (未启用登录).
Sign-ins (successful, failed, refused), sign-outs and expiries are written to the audit log; a username with
MAX_FAILURES failed sign-ins within FAILURE_WINDOW is refused until the window passes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, NoReturn

import streamlit as st

from access.accounts import Account, UsersFile, authenticate, normalize_username, read_users
from access.audit import AuditError, AuditLog, default_audit_path
from access.sessions import COOKIE, SessionCheck, SessionError, SessionStore, digest, sessions_path
from dashboard.browser import GRANT_KEY, clear_cookie, clear_pending, hand_over_grant
from dashboard.settings import SESSION_IDLE_HOURS
from store.errors import UserError
from access.principal import ROLES, SYSTEM, Principal

AUTH_KEY = "auth_principal"  # the signed-in Principal
SESSION_KEY = "auth_session"  # the server-side session's id (access.sessions)
DEFAULT_IDLE_HOURS = int(SESSION_IDLE_HOURS.default)
ENDED_NOTICES = {
    "account_changed": "账号、角色、辖区或密码已被管理员修改，请重新登录。",
    "account_removed": "账号已被管理员删除或停用，请联系管理员后重新登录。",
    "password_changed": "密码已被修改，请重新登录。",
    "idle": "长时间未使用，登录已过期，请重新登录。",
    "expired": "登录时间已超过上限，请重新登录。",
    "ended": "登录已结束（已退出或被管理员终止），请重新登录。",
    "signout": "已退出登录。",
    "new_link": "大屏链接已更换，请使用新链接。",
    "sso_signed_out": "统一身份认证已退出，请重新登录。",
    "link_revoked": "大屏链接已被撤销，请管理员重新生成。",
    "revoked": "大屏链接已被撤销，请管理员重新生成。",
}
NOTICE_KEY = "auth_notice"  # a message for the next sign-in screen (signed out, expired)
OIDC_REJECTED_KEY = "auth_oidc_rejected"  # the SSO identity already logged as unknown in this session
OPEN_BANNER = ("未启用登录：任何能打开本页面的人都以系统管理员身份访问全部数据。"
               "用 `minqing serve --users FILE` 启用登录（见 docs/security.md）。")
_MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|~$:")


def plain(text: str) -> str:
    """Text shown literally inside Markdown."""
    return "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIALS else ch for ch in text)


def audit_log(db: Path, configured: Path | None = None) -> AuditLog:
    """The audit log of the store at `db`: `configured` (the AUDIT setting) or `<db>.audit.sqlite`."""
    return AuditLog(configured or default_audit_path(db))


@st.cache_data(show_spinner=False, max_entries=8)
def _users_version(path: str, signature: tuple[int, int, int]) -> UsersFile:
    return read_users(Path(path))


def load_users(path: Path) -> UsersFile:
    """The users file, re-read whenever it changes on disk."""
    try:
        info = path.stat()
    except OSError:
        return read_users(path)  # raises the friendly "no such users file"
    return _users_version(str(path), (info.st_ino, info.st_size, info.st_mtime_ns))


def login_enabled(users: Path | None) -> bool:
    """Whether a users file is configured (the USERS setting)."""
    return users is not None


# --------------------------------------------------------------------------- the gate

def current_principal(audit: AuditLog, path: Path | None, idle_hours: float = DEFAULT_IDLE_HOURS) -> Principal | None:
    """Who is using this session: SYSTEM when no users file is configured (`path` None: open mode), the signed-in
    principal while their server-side session is valid (this tab's, or the one in the browser's cookie), None when
    someone must sign in (then call `sign_in_screen`). A users file or sessions file that cannot be read stops the
    run with a message: sign-in fails closed."""
    if path is None:
        return SYSTEM
    users = _users_or_stop(path)
    try:
        return _session_principal(users, audit, session_store(path), idle_hours)
    except SessionError as exc:
        _stop(f"会话记录无法读写，暂时无法登录。请管理员处理：{exc}")


def hand_over_cookie(path: Path | None) -> None:
    """After a sign-in, once per full run until done: the browser trades the session's grant for its cookie."""
    if path is not None:
        hand_over_grant(session_store(path))


def session_store(path: Path) -> SessionStore:
    """The sessions of the users file at `path`."""
    return SessionStore(sessions_path(path))


def sign_in_screen(audit: AuditLog, path: Path | None) -> NoReturn:
    """Draw the sign-in screen (password form or SSO button) for the users file at `path` and stop the run; a
    successful sign-in reruns."""
    if path is None:  # open mode has nobody to sign in
        st.rerun()
    users = _users_or_stop(path)
    sessions = session_store(path)
    clear_pending()
    if users.oidc:
        _oidc_screen(users, audit, sessions)
    else:
        _password_screen(users, audit, sessions)
    st.stop()


def _users_or_stop(path: Path) -> UsersFile:
    try:
        users = load_users(path)
    except UserError as exc:  # fail closed: a broken users file never opens the app
        _stop(f"登录配置有误，暂时无法登录。请管理员检查用户文件：\n\n{exc}")
    if not users.accounts:
        _stop(f"用户文件 `{path}` 中还没有账号。请管理员运行 `minqing users add NAME --role admin --users {path}`。")
    return users


def _stop(message: str) -> NoReturn:
    st.title("民情地图")
    st.error(message, icon="🔒")
    st.stop()


def _client() -> dict[str, Any]:
    """Where the request came from, for the audit entry (not trusted for decisions)."""
    out: dict[str, Any] = {}
    try:
        if st.context.ip_address:
            out["ip"] = st.context.ip_address
        forwarded = st.context.headers.get("X-Forwarded-For")
        if forwarded:
            out["forwarded_for"] = forwarded
    except Exception:  # no client context (tests, bare mode)
        pass
    return out


def _cookie_token() -> str:
    try:
        token = st.context.cookies.get(COOKIE, "")
    except Exception:  # no client context (bare mode)
        return ""
    return token if isinstance(token, str) else ""  # AppTest's context has no real cookies


def _session_principal(users: UsersFile, audit: AuditLog, sessions: SessionStore,
                       idle_hours: float) -> Principal | None:
    """The session's principal when its server-side session is valid, else None (signed out, with a notice)."""
    session_id = st.session_state.get(SESSION_KEY)
    from_cookie = session_id is None
    if from_cookie:
        token = _cookie_token()
        if not token:
            return None
        session_id = digest(token)
    check = sessions.check(session_id, users, idle_hours=idle_hours)
    if check.account is not None and users.oidc and check.via == "oidc" and not st.user.get("is_logged_in", False):
        sessions.end(session_id, "sso_signed_out")
        check = SessionCheck(None, "sso_signed_out", check.via, session_id, ended_now=True)
    if check.account is not None:
        st.session_state[SESSION_KEY] = session_id
        st.session_state[AUTH_KEY] = check.account.principal
        return check.account.principal
    principal: Principal | None = st.session_state.get(AUTH_KEY)
    _end_session()
    if from_cookie:
        clear_cookie()  # a cookie of an ended session: remove it from the browser
    if from_cookie and not check.ended_now:
        return None  # an old cookie of a session that ended earlier: just the sign-in screen
    st.session_state[NOTICE_KEY] = ENDED_NOTICES.get(check.reason or "", "登录已结束，请重新登录。")
    if check.ended_now or principal is not None:
        try:
            audit.record(principal if principal is not None else "(session)", "signout",
                         detail={"reason": check.reason, "via": check.via, **_client()})
        except AuditError:
            pass  # signing out never waits for the log
    return None


def _start_session(account: Account, audit: AuditLog, sessions: SessionStore, detail: dict[str, Any], *,
                   recorded: bool = False) -> None:
    """Record the sign-in (unless done), start the server-side session and queue its cookie for the browser."""
    principal = account.principal
    if not recorded:
        audit.record(principal, "signin", detail={**detail, **_client()})  # AuditError: no audit, no sign-in
    token, session_id = sessions.start(account, via=detail.get("via", "password"))
    st.session_state[AUTH_KEY] = principal
    st.session_state[SESSION_KEY] = session_id
    st.session_state[GRANT_KEY] = sessions.grant(token)
    st.session_state.pop(NOTICE_KEY, None)


def _end_session() -> None:
    for key in (AUTH_KEY, SESSION_KEY, GRANT_KEY, OIDC_REJECTED_KEY):
        st.session_state.pop(key, None)


def _heading() -> None:
    st.title("民情地图")
    st.subheader("登录")
    notice = st.session_state.get(NOTICE_KEY)
    if notice:
        st.warning(notice, icon="🔒")


def _password_screen(users: UsersFile, audit: AuditLog, sessions: SessionStore) -> None:
    _heading()
    with st.form("auth_signin", clear_on_submit=True, width=420):
        typed = st.text_input("用户名", key="auth_username", autocomplete="username")
        password = st.text_input("密码", type="password", key="auth_password", autocomplete="current-password")
        submitted = st.form_submit_button("登录", type="primary")
    if not submitted:
        return
    username = normalize_username(typed)
    if not username or not password:
        st.error("请输入用户名和密码。")
        return
    try:
        account, wait = password_signin(users, audit, username, password, _client())
    except AuditError as exc:
        st.error(f"审计日志无法写入，为安全起见暂停登录。请管理员处理：{exc}")
        return
    if wait is not None:
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        st.error(f"该账号登录失败次数过多，请 {minutes} 分钟后再试。")
        return
    if account is None:
        st.error("用户名或密码错误。")
        return
    if account.role == "wall":  # a wall display signs in by its link only
        st.error("大屏账号只能通过大屏链接登录（minqing users wall-link）。")
        return
    try:
        _start_session(account, audit, sessions, {"via": "password"}, recorded=True)
    except SessionError as exc:
        st.error(f"会话记录无法写入，暂时无法登录。请管理员处理：{exc}")
        return
    st.rerun()


def password_signin(users: UsersFile, audit: AuditLog, username: str, password: str,
                    client: dict[str, Any]) -> tuple[Account | None, dt.timedelta | None]:
    """One password sign-in attempt, decided and recorded in one turn (AuditLog.signin_turn): (the account, None)
    on success, (None, None) on a wrong password, (None, wait) when the username is locked. The audit entry is
    written before the answer is given; AuditError (no entry) refuses the sign-in."""
    with audit.signin_turn():
        wait = audit.signin_wait(username)
        if wait is not None:
            audit.record(username, "signin", outcome="refused", detail={"via": "password", "reason": "rate_limited",
                                                                        **client})
            return None, wait
        account = authenticate(users, username, password)
        if account is None:
            audit.record(username, "signin", outcome="failure", detail={"via": "password", **client})
            return None, None
        fresh = read_users(users.path).accounts.get(account.username, account)  # the hash may have been upgraded
        audit.record(fresh.principal, "signin", detail={"via": "password", **client})
        return fresh, None


def _oidc_screen(users: UsersFile, audit: AuditLog, sessions: SessionStore) -> None:
    _heading()
    if not st.user.get("is_logged_in", False):
        st.caption("本系统使用单位统一身份认证登录。")
        if st.button("使用统一身份认证登录", type="primary", key="auth_sso"):
            try:
                st.login(users.provider) if users.provider else st.login()
            except Exception as exc:  # missing Authlib or [auth] secrets: Streamlit raises its own error types
                st.error(f"统一身份认证未正确配置（.streamlit/secrets.toml 的 [auth]，需要安装 Authlib）：{exc}")
        return
    claims = {k: v for k, v in st.user.to_dict().items() if k != "tokens"}
    account = users.find_identity(claims)
    identity = str(claims.get("email") or claims.get("preferred_username") or claims.get("sub") or "?")
    if account is None:
        if st.session_state.get(OIDC_REJECTED_KEY) != identity:
            try:
                audit.record(identity, "signin", outcome="failure",
                             detail={"via": "oidc", "reason": "no_matching_account", **_client()})
            except AuditError:
                pass
            st.session_state[OIDC_REJECTED_KEY] = identity
        st.error(f"统一身份认证账号 {plain(identity)} 未在民情地图登记（或对应多个账号），请联系系统管理员。")
        if st.button("退出统一身份认证", key="auth_sso_logout"):
            st.session_state.pop(OIDC_REJECTED_KEY, None)
            st.logout()
        return
    try:
        _start_session(account, audit, sessions, {"via": "oidc", "identity": identity})
    except (AuditError, SessionError) as exc:
        st.error(f"审计日志无法写入，为安全起见暂停登录。请管理员处理：{exc}")
        return
    st.rerun()


# --------------------------------------------------------------------------- the sidebar

def scope_text(scope: tuple[str, ...], names: dict[str, str] | None = None) -> str:
    """The jurisdiction as Chinese text: 全市, or names with codes."""
    if not scope:
        return "全市"
    names = names or {}
    return "、".join(f"{names[c]}（{c}）" if c in names else c for c in scope)


def show_user(principal: Principal, audit: AuditLog, *, users: Path | None,
              names: dict[str, str] | None = None) -> None:
    """The sidebar's 当前用户 block with 退出登录, or the open-mode notice (`users` None); signs out when the button
    is clicked."""
    with st.sidebar:
        if not login_enabled(users):
            st.markdown(f"**当前用户**：{ROLES[principal.role]}（未启用登录）")
            return
        who = principal.display_name or principal.username
        st.markdown(f"**当前用户**：{plain(who)}（{plain(principal.username)}）")
        st.markdown(f"**角色**：{ROLES[principal.role]}")
        st.markdown(f"**辖区**：{plain(scope_text(principal.scope, names))}")
        clicked = st.button("退出登录", key="auth_signout", icon=":material/logout:")
        st.divider()
    if clicked:
        sign_out(principal, audit, users)


def sign_out(principal: Principal, audit: AuditLog, users: Path | None = None) -> NoReturn:
    """End the session on the server at once (and the SSO session when signed in through it), audited, remove the
    browser's cookie, then show the sign-in screen."""
    try:
        audit.record(principal, "signout", detail={"reason": "button", **_client()})
    except AuditError:
        pass
    session_id = st.session_state.get(SESSION_KEY)
    if users is not None and session_id:
        try:
            session_store(users).end(session_id, "signout")
        except SessionError:
            pass  # the cookie is removed below; the session's account check still applies
    _end_session()
    clear_cookie()
    st.session_state[NOTICE_KEY] = "已退出登录。"
    if st.user.get("is_logged_in", False):
        st.logout()
    st.rerun()


def show_open_banner(users: Path | None) -> None:
    """The open-mode banner above every page (`users` None; Markdown, so it does not count as a page's notice)."""
    if not login_enabled(users):
        st.markdown(f":orange-background[:material/lock_open: {OPEN_BANNER}]")


def scope_names(store: Any, principal: Principal) -> dict[str, str]:
    """Names of the principal's scope codes (large and medium grids), read only for scoped users."""
    if principal.whole_city or store is None:
        return {}
    from layers.grids import grid_frame

    names: dict[str, str] = {}
    try:
        for level in ("large", "medium"):
            frame = store.query(grid_frame, level)
            names.update(zip(frame["grid_code"], frame["name"]))
    except Exception:  # a store being replaced or damaged: codes alone will do
        return {}
    return {code: names[code] for code in principal.scope if code in names}
