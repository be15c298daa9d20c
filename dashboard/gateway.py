"""The dashboard's HTTP front (`streamlit run dashboard/gateway.py`): Streamlit's own server (st.App, Starlette) with
the session routes that set and clear the HttpOnly sign-in cookie, the wall-link route, and the gate in front of
/media/ (prepared downloads need a signed-in session; every fetch is audited).

The pages run in app.py over the websocket, where no cookie can be set: after a sign-in the page hands the browser a
one-time grant, which the browser trades here (POST /session/cookie) for the cookie. On every later connection
(reload, new tab, browser restart) app.py reads the cookie from the websocket's handshake (st.context.cookies) and
checks the session in access.sessions. See docs/security.md.

Routes:
    POST /session/cookie   body: the grant code          -> 204 + Set-Cookie, or 403
    POST /session/clear                                   -> 204, the cookie removed (the page ended the session)
    GET  /session/wall?key=KEY                            -> 303 to /?screen=big with a wall session's cookie, or 403
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from access.accounts import UsersFile, read_users
from access.audit import AuditError, AuditLog, default_audit_path
from access.sessions import COOKIE, SessionError, SessionStore, sessions_path
from dashboard.settings import SettingsError, read as read_settings
from store.errors import UserError

COOKIE_MAX_AGE = 400 * 86400  # the browsers' cap; the server decides whether the session is still valid
MEDIA_PREFIX = "/media/"
WALL_PATH = "/?screen=big"
REFUSED_PAGE = ("<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>民情地图</title>"
                "<body style=\"font-family:sans-serif;margin:3rem\"><h1>民情地图</h1><p>{message}</p></body></html>")


def _gate() -> tuple[UsersFile | None, SessionStore | None, AuditLog, int]:
    """The users file (None: open mode), its sessions, the audit log and the idle hours, from the settings."""
    settings = read_settings()
    audit = AuditLog(settings.audit or default_audit_path(settings.db))
    if settings.users is None:
        return None, None, audit, settings.session_idle_hours
    return read_users(settings.users), SessionStore(sessions_path(settings.users)), audit, settings.session_idle_hours


def _client(request: Request) -> dict[str, Any]:
    out: dict[str, Any] = {"via_http": request.url.path}
    if request.client is not None:
        out["ip"] = request.client.host
    if request.headers.get("x-forwarded-for"):
        out["forwarded_for"] = request.headers["x-forwarded-for"]
    return out


def _same_origin(request: Request) -> bool:
    """A browser's POST from this site: its Origin (when sent) names this host."""
    origin = request.headers.get("origin")
    return origin is None or urlparse(origin).netloc == request.headers.get("host", "")


def set_cookie(response: Response, request: Request, token: str) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, the whole site, Secure when the request came over HTTPS."""
    response.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


async def trade_grant(request: Request) -> Response:
    """POST /session/cookie: the page's one-time grant for the session cookie."""
    if not _same_origin(request):
        return Response(status_code=403)
    code = (await request.body()).decode("utf-8", "replace").strip()[:200]
    try:
        users, sessions, _, _ = _gate()
        token = sessions.redeem(code) if sessions is not None else None
    except (UserError, SettingsError):
        token = None
    if token is None:
        return Response(status_code=403)
    response = Response(status_code=204)
    set_cookie(response, request, token)
    return response


async def clear_cookie(request: Request) -> Response:
    """POST /session/clear: remove the cookie (the page has already ended the session on the server)."""
    if not _same_origin(request):
        return Response(status_code=403)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


async def wall_link(request: Request) -> Response:
    """GET /session/wall?key=KEY: a wall display signs in through its link (audited either way)."""
    key = request.query_params.get("key", "")
    try:
        users, sessions, audit, _ = _gate()
    except (UserError, SettingsError):
        return _refused("登录配置有误，暂时无法登录。请管理员检查。", 503)
    if users is None or sessions is None:
        return RedirectResponse(WALL_PATH, status_code=303)  # open mode: nobody signs in
    try:
        found = sessions.wall_link(key)
        account = users.accounts.get(found[0]) if found else None
        if account is None or account.role != "wall":
            audit.record(found[0] if found else "(wall link)", "wall_link", outcome="refused",
                         detail={"reason": "unknown_or_revoked_link" if account is None else "not_a_wall_account",
                                 **_client(request)})
            return _refused("大屏链接无效或已被撤销。请管理员用 <code>minqing users wall-link 名称</code> 重新生成。", 403)
        audit.record(account.principal, "wall_link", detail=_client(request))  # AuditError: no entry, no sign-in
        token, _ = sessions.start(account, via="wall_link", link_id=found[1])
    except (AuditError, SessionError) as exc:
        return _refused(f"审计日志或会话文件无法写入，为安全起见暂停登录：{_escape(str(exc))}", 503)
    response = RedirectResponse(WALL_PATH, status_code=303)
    set_cookie(response, request, token)
    return response


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def _refused(message: str, status: int) -> Response:
    return HTMLResponse(REFUSED_PAGE.format(message=message), status_code=status,
                        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


class MediaGate:
    """ASGI middleware in front of /media/: with sign-in enabled a fetch needs a valid session cookie; every fetch
    (allowed or refused) is written to the audit log, and one that cannot be recorded is refused."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(MEDIA_PREFIX):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        allowed = await _media_allowed(request)
        if allowed:
            await self.app(scope, receive, send)
        else:
            await Response("需要登录 / sign-in required", status_code=403, media_type="text/plain; charset=utf-8",
                           headers={"Cache-Control": "no-store"})(scope, receive, send)


async def _media_allowed(request: Request) -> bool:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(media_allowed, request.url.path, request.query_params.get("title", ""),
                                   request.cookies.get(COOKIE, ""), request.method, _client(request))


def media_allowed(path: str, title: str, token: str, method: str, client: dict[str, Any]) -> bool:
    """Whether a /media/ fetch may be answered, recorded in the audit log either way (see MediaGate)."""
    try:
        users, sessions, audit, idle_hours = _gate()
    except (UserError, SettingsError):
        return False
    detail = {"file": unquote(title)[:200], "method": method, **client}
    target = path[len(MEDIA_PREFIX):][:200]
    try:
        if users is None or sessions is None:  # open mode: no sign-in to check, the fetch is still recorded
            audit.record("(open mode)", "download", target=target, detail=detail)
            return True
        check = sessions.check_token(token, users, idle_hours=idle_hours)
        if check.account is None:
            audit.record("(no session)", "download", target=target, outcome="refused",
                         detail={**detail, "reason": "no_cookie" if not token else check.reason})
            return False
        audit.record(check.account.principal, "download", target=target, detail=detail)
        return True
    except (AuditError, SessionError):
        return False


APP_SCRIPT = Path(__file__).resolve().parent / "app.py"
ROUTES = [
    Route("/session/cookie", trade_grant, methods=["POST"]),
    Route("/session/clear", clear_cookie, methods=["POST"]),
    Route("/session/wall", wall_link, methods=["GET"]),
]

app = st.App(str(APP_SCRIPT), routes=ROUTES, middleware=[Middleware(MediaGate)])

