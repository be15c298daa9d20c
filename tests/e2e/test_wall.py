"""The command center as its staff use it, in a real headless Chromium: the wall display fits 1920×1080, 1366×768 and
3840×2160 with no scrolling (legend and tickers inside the screen), a wall link signs in and survives a reload until
it is revoked, a person's sign-in survives a reload, /media/ refuses a fetch without the session cookie, a file
dropped into the `--watch` inbox pops up on the wall with its grid pulsing, and the 督办 loop runs across two
browsers (command center → official → command center) with the action log and the audit log checked.

Two served dashboards per module: the demo city (the wall's layout) and a one-town street project under
`minqing load --watch` (pop-ups, 督办). Screenshots: tests/artifacts/wall_*.png (look at them after a change).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from access.accounts import add_user
from access.actions import ActionLog, default_actions_path
from access.audit import AuditFilter, AuditLog
from access.sessions import SessionStore, sessions_path
from dashboard.serve import command, environment
from minqing.demo.build import DEMO_CITY
from projects import HEADER, write_street_project
from test_browser import (  # noqa: F401  (pytest fixtures)
    ARTIFACTS, MAP_IFRAME, assert_local_only, browser, chromium, free_port, stop, wait_healthy,
)

pytestmark = pytest.mark.browser

REFRESH_SECONDS = 5  # short, so the tests see refreshes; the README's figures were measured at the default 30
SIZES = ((1920, 1080), (1366, 768), (3840, 2160))
PASSWORDS = {"cc1": "center password 1", "bob": "official password 1"}
BOXES_JS = """
() => {
  const box = (r) => [r.left, r.top, r.right, r.bottom];
  const main = document.querySelector('[data-testid="stMain"]');
  const frame = document.querySelector('iframe[title*="streamlit_folium"]');
  const f = frame.getBoundingClientRect();
  const legend = frame.contentDocument.querySelector('.minqing-legend').getBoundingClientRect();
  return {
    view: [innerWidth, innerHeight],
    scroll: [main.scrollHeight - main.clientHeight, main.scrollWidth - main.clientWidth,
             document.documentElement.scrollHeight - innerHeight, document.documentElement.scrollWidth - innerWidth],
    tickers: [...document.querySelectorAll('.mq-ticker')].map((t) => box(t.getBoundingClientRect())),
    strip: box(document.querySelector('.mq-strip').getBoundingClientRect()),
    map: box(f),
    legend: [f.left + legend.left, f.top + legend.top, f.left + legend.right, f.top + legend.bottom],
    mapHeight: frame.contentDocument.getElementById('map_div').getBoundingClientRect().height,
  };
}
"""


@dataclass
class Site:
    base: str
    db: Path
    users: Path
    audit: Path
    log: Path
    urls: list[str]


def serve_with_users(db: Path, users: Path, log: Path, **extra: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = {"MINQING_CLOCK": "data", "MINQING_REFRESH_SECONDS": str(REFRESH_SECONDS),
                "MINQING_USERS": str(users), "MINQING_POPUP_SECONDS": "600",  # cards stay while the test looks
                **extra}
    with log.open("wb") as out:
        proc = subprocess.Popen(command(db, port), env=environment(db, settings), stdout=out, stderr=subprocess.STDOUT)
    wait_healthy(base, proc, log)
    return proc, base


def wall_link(users: Path, base: str, name: str = "lobby") -> str:
    key = SessionStore(sessions_path(users)).make_wall_link(name)
    return f"{base}/session/wall?key={key}"


@pytest.fixture(scope="module")
def demo_wall(demo_db: Path, tmp_path_factory) -> Iterator[Site]:
    """The demo city served with sign-in: a wall account `lobby` and the command center's `cc1`."""
    folder = tmp_path_factory.mktemp("wall_demo")
    db = folder / "minqing.duckdb"
    shutil.copyfile(demo_db, db)
    users = folder / "users.toml"
    add_user(users, "lobby", role="wall", password=None)
    add_user(users, "cc1", role="command_center", password=PASSWORDS["cc1"])
    proc, base = serve_with_users(db, users, folder / "streamlit.log")
    try:
        yield Site(base, db, users, db.with_name(db.name + ".audit.sqlite"), folder / "streamlit.log", [])
    finally:
        stop(proc)
    assert "Traceback" not in (folder / "streamlit.log").read_text(errors="replace")


def watch_page(page, site: Site) -> None:
    page.on("request", lambda r: site.urls.append(r.url))
    page.on("websocket", lambda ws: site.urls.append(ws.url))


def open_wall(browser, site: Site, size: tuple[int, int]):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    watch_page(page, site)
    page.goto(wall_link(site.users, site.base), wait_until="domcontentloaded")
    page.wait_for_selector(".mq-ticker", timeout=90_000)
    wait_for_wall_map(page)
    return context, page


def wait_for_wall_map(page) -> None:
    page.wait_for_selector(MAP_IFRAME, timeout=60_000)
    page.wait_for_function(  # the map drawn, its legend there, and fitted to its frame by alerts.js
        f"() => {{ const f = document.querySelector('{MAP_IFRAME}'); const d = f && f.contentDocument;"
        " const m = d && d.getElementById('map_div'); return !!(d && d.querySelector('.minqing-legend') && m"
        " && Math.abs(m.getBoundingClientRect().height - f.getBoundingClientRect().height) < 2); }",
        timeout=60_000)


def assert_inside(box: list[float], view: list[float], what: str) -> None:
    left, top, right, bottom = box
    assert left >= -1 and top >= -1 and right <= view[0] + 1 and bottom <= view[1] + 1, f"{what} {box} outside {view}"


def test_the_wall_fills_one_screen_at_three_sizes(browser, demo_wall: Site):
    context, page = open_wall(browser, demo_wall, SIZES[0])
    try:
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_function(  # the map refitted for the new size
                f"() => {{ const f = document.querySelector('{MAP_IFRAME}');"
                " const m = f.contentDocument.getElementById('map_div');"
                " return Math.abs(m.getBoundingClientRect().height - f.getBoundingClientRect().height) < 2; }",
                timeout=30_000)
            page.wait_for_timeout(800)  # fonts and the refit settle
            boxes = page.evaluate(BOXES_JS)
            view = boxes["view"]
            assert view == [width, height]
            assert max(boxes["scroll"]) <= 1, f"{width}x{height} scrolls: {boxes['scroll']}"
            assert len(boxes["tickers"]) == 2, "最新上报 and 最新巡查走访"
            for name in ("strip", "map", "legend"):
                assert_inside(boxes[name], view, name)
            for ticker in boxes["tickers"]:
                assert_inside(ticker, view, "ticker")
            assert boxes["map"][3] - boxes["map"][1] > 0.6 * height, "the map is the centrepiece"
            body = page.inner_text("body")
            assert f"民情地图 · {DEMO_CITY}" in body and "督办超期" in body and "大网格 TOP10" in body
            assert page.locator('[data-testid="stSidebar"] button').count() == 0 or \
                not page.locator('[data-testid="stSidebar"]').is_visible()
            page.screenshot(path=str(ARTIFACTS / f"wall_{width}x{height}.png"))
        page.reload(wait_until="domcontentloaded")  # F5 on the wall: still signed in
        page.wait_for_selector(".mq-ticker", timeout=90_000)
        assert page.get_by_role("button", name="登录").count() == 0
    finally:
        context.close()
    assert_local_only(demo_wall.urls)
    entries = AuditLog(demo_wall.audit).entries(AuditFilter(actions=("wall_link",)))
    assert list(entries["outcome"]) == ["success"] and list(entries["username"]) == ["lobby"]


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/", wait_until="domcontentloaded")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORDS[username])
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="指挥中心").first.wait_for(timeout=90_000)


def session_cookie(context) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == "minqing_session"), None)


def wait_for_cookie(context, page) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        cookie = session_cookie(context)
        if cookie is not None:
            return cookie
        page.wait_for_timeout(200)
    pytest.fail("the session cookie was never set")


def test_a_person_stays_signed_in_and_media_needs_the_cookie(browser, demo_wall: Site):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    try:
        sign_in(page, demo_wall.base, "cc1")
        cookie = wait_for_cookie(context, page)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        assert page.evaluate("() => document.cookie.includes('minqing_session')") is False, "HttpOnly"
        page.reload(wait_until="domcontentloaded")
        page.get_by_role("heading", name="指挥中心").first.wait_for(timeout=90_000)
        assert page.get_by_label("密码").count() == 0, "a reload keeps the sign-in"
        signed = context.request.get(demo_wall.base + "/media/0123456789abcdef.csv?title=x.csv")
        assert signed.status == 404, "with the session the gate lets the fetch through (no such file here)"
    finally:
        context.close()
    try:
        urllib.request.urlopen(demo_wall.base + "/media/0123456789abcdef.csv", timeout=10)
        pytest.fail("a fetch without the cookie was answered")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
    downloads = AuditLog(demo_wall.audit).entries(AuditFilter(actions=("download",)))
    assert sorted(zip(downloads["username"], downloads["outcome"])) == [("(no session)", "refused"),
                                                                      ("cc1", "success")]


def test_a_removed_wall_is_signed_out_and_its_link_refused(browser, demo_wall: Site):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    add_user(demo_wall.users, "hall", role="wall", password=None)
    link = wall_link(demo_wall.users, demo_wall.base, "hall")
    try:
        page.goto(link, wait_until="domcontentloaded")
        page.wait_for_selector(".mq-ticker", timeout=90_000)
        removed = subprocess.run([sys.executable, "-m", "minqing.cli", "users", "remove", "hall", "--users",
                                  str(demo_wall.users)], capture_output=True, text=True, timeout=120)
        assert removed.returncode == 0, removed.stderr
        assert "1 session(s) ended" in removed.stdout
        page.get_by_role("button", name="登录").wait_for(timeout=180_000)  # a safety limit, not a time budget
    finally:
        context.close()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(link, timeout=10)
    assert refused.value.code == 403



LEGEND_JS = (f"() => {{ const f = document.querySelector('{MAP_IFRAME}'); const d = f && f.contentDocument;"
             " const l = d && d.querySelector('.minqing-legend'); return l ? l.innerText : ''; }")


def test_the_wall_map_rotates_through_its_views(browser, demo_db: Path, tmp_path):
    """With --rotate-seconds the wall's map shows 事件数, 超期 and 巡查覆盖 in turn (the demo has check-ins)."""
    db = tmp_path / "minqing.duckdb"
    shutil.copyfile(demo_db, db)
    users = tmp_path / "users.toml"
    add_user(users, "lobby", role="wall", password=None)
    proc, base = serve_with_users(db, users, tmp_path / "streamlit.log", MINQING_ROTATE_SECONDS="10")
    site = Site(base, db, users, db.with_name(db.name + ".audit.sqlite"), tmp_path / "streamlit.log", [])
    try:
        context, page = open_wall(browser, site, (1920, 1080))
        try:
            seen = [page.evaluate(LEGEND_JS)]
            while len(seen) < 4:  # three views, then the first again
                page.wait_for_function(f"(before) => {{ const t = ({LEGEND_JS})(); return t && t !== before; }}",
                                       arg=seen[-1], timeout=120_000)
                seen.append(page.evaluate(LEGEND_JS))
        finally:
            context.close()
    finally:
        stop(proc)
    titles = [text.splitlines()[0] for text in seen]
    print("\nwall map views in turn:", titles)
    assert len(set(titles[:3])) == 3 and titles[3] == titles[0], titles
    assert any("超期" in t for t in titles) and any("巡查" in t or "走访" in t for t in titles), titles
    assert "Traceback" not in (tmp_path / "streamlit.log").read_text(errors="replace")
    assert_local_only(site.urls)

# --------------------------------------------------------------------------- the street project under --watch

@dataclass
class Street:
    site: Site
    inbox: Path
    watcher: subprocess.Popen


@pytest.fixture(scope="module")
def street(tmp_path_factory) -> Iterator[Street]:
    """The one-town street project loaded, `minqing load --watch INBOX` running, the dashboard served with
    sign-in (cc1 of the command center, bob the official of 甲镇, a wall `lobby`)."""
    folder = write_street_project(tmp_path_factory.mktemp("street"), bad=[])
    config = folder / "minqing.toml"
    first = subprocess.run([sys.executable, "-m", "minqing.cli", "load", "--config", str(config)],
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stdout + first.stderr
    inbox = folder / "inbox"
    inbox.mkdir()
    watch_log = (folder / "watch.log").open("wb")
    watcher = subprocess.Popen([sys.executable, "-m", "minqing.cli", "load", "--config", str(config), "--watch",
                                str(inbox), "--interval", "0.5"], stdout=watch_log, stderr=subprocess.STDOUT)
    users = folder / "users.toml"
    add_user(users, "cc1", role="command_center", password=PASSWORDS["cc1"])
    add_user(users, "bob", role="official", scope=["L1"], password=PASSWORDS["bob"])
    add_user(users, "lobby", role="wall", password=None)
    db = folder / "store.duckdb"
    try:
        proc, base = serve_with_users(db, users, folder / "streamlit.log")
        try:
            yield Street(Site(base, db, users, db.with_name(db.name + ".audit.sqlite"), folder / "streamlit.log",
                              []), inbox, watcher)
        finally:
            stop(proc)
    finally:
        stop(watcher)
        watch_log.close()
    assert "Traceback" not in (folder / "streamlit.log").read_text(errors="replace")


def test_a_file_dropped_in_the_inbox_pops_up_on_the_wall(browser, street: Street):
    context, page = open_wall(browser, street.site, (1920, 1080))
    desk = browser.new_context(viewport={"width": 1600, "height": 1000})
    try:
        operator = desk.new_page()
        sign_in(operator, street.site.base, "cc1")  # the operator's page pops up too, and signs for it
        for shown in (page, operator):  # the pop-ups' first run on each page remembers what is there: not news
            shown.wait_for_function("() => !!window.__mqAlerts", timeout=90_000)
        assert page.locator("#mq-alerts .mq-card").count() == 0
        row = "A9,邻里纠纷,处理中,2023/8/25 9:30,,115.05,22.95,"  # in S1 (东村 第1网格), the newest report
        staged = street.inbox / ".street.csv.part"
        staged.write_text(HEADER + row + "\n", encoding="gbk")
        dropped = time.monotonic()
        staged.rename(street.inbox / "street.csv")
        card = page.locator('#mq-alerts .mq-card[data-key="report:street:A9"]')
        card.wait_for(timeout=(3 * REFRESH_SECONDS + 60) * 1000)
        seconds = time.monotonic() - dropped
        text = card.inner_text()
        assert "新上报" in text and "甲镇 › 东村 › 第1网格" in text and "邻里纠纷" in text, text
        assert card.locator("button.mq-sign").count() == 0, "no controls on the wall"
        print(f"\nfile landed in the inbox -> pop-up on the wall: {seconds:.1f} s (refresh {REFRESH_SECONDS} s)")
        desk_card = operator.locator('#mq-alerts .mq-card[data-key="report:street:A9"]')
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # the desk shows one card at a time: close others until it is A9's
            operator.locator("#mq-alerts .mq-card").first.wait_for(timeout=60_000)
            if desk_card.count():
                break
            operator.locator("#mq-alerts button.mq-close").first.click()
        desk_card.locator("button.mq-sign").click()
        page.wait_for_function(
            f"() => document.querySelector('{MAP_IFRAME}').contentWindow.__mqLastPulse === 'M1'", timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "wall_popup.png"))
        signed = ActionLog(default_actions_path(street.site.db))
        deadline = time.monotonic() + 60
        while signed.entries(["street:A9"]).empty and time.monotonic() < deadline:
            operator.wait_for_timeout(250)
        steps = signed.entries(["street:A9"])
        assert list(zip(steps["username"], steps["action"], steps["result"])) == [("cc1", "sign_for", "report")]
    finally:
        context.close()
        desk.close()
    assert_local_only(street.site.urls)


def test_a_grid_on_the_map_opens_its_detail(browser, street: Street):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    try:
        page = context.new_page()
        sign_in(page, street.site.base, "cc1")
        frame = page.wait_for_selector(MAP_IFRAME, timeout=60_000).content_frame()
        frame.wait_for_function("() => window.minqingGridLayers && window.minqingGridLayers['M2']", timeout=60_000)
        box = frame.evaluate("() => { const b = window.map.latLngToContainerPoint("
                             "window.minqingGridLayers['M2'].getBounds().getCenter()); return [b.x, b.y]; }")
        frame.locator("#map_div").click(position={"x": box[0], "y": box[1] - 40})
        page.get_by_role("heading", name="网格详情").wait_for(timeout=60_000)
        assert "grid=M2" in page.url
    finally:
        context.close()


def test_supervision_round_trip_in_two_browsers(browser, street: Street):
    event = "street:A2"  # open, in S3 of 西村 (甲镇): bob's jurisdiction
    center = browser.new_context(viewport={"width": 1600, "height": 1000})
    official = browser.new_context(viewport={"width": 1600, "height": 1000})
    try:
        cc = center.new_page()
        sign_in(cc, street.site.base, "cc1")
        wait_for_cookie(center, cc)
        cc.goto(f"{street.site.base}/event?id={quote(event, safe='')}", wait_until="domcontentloaded")
        cc.get_by_role("heading", name="事件详情").wait_for(timeout=60_000)
        cc.get_by_label("督办要求").fill("请今日上门核实并反馈")
        cc.get_by_role("button", name="督办", exact=True).click()
        cc.get_by_text("督办状态：督办中").wait_for(timeout=60_000)

        bob = official.new_page()
        sign_in(bob, street.site.base, "bob")
        wait_for_cookie(official, bob)
        bob.goto(f"{street.site.base}/grid_detail", wait_until="domcontentloaded")
        bob.get_by_role("heading", name="督办事项").wait_for(timeout=60_000)
        bob.locator("table.sv-items a", has_text="处理").first.click()
        bob.get_by_role("heading", name="事件详情").wait_for(timeout=60_000)
        bob.get_by_label("处置情况").fill("已上门调解，双方和解")
        bob.get_by_text("已办结待核查").click()
        bob.get_by_role("button", name="提交反馈").click()
        bob.get_by_text("督办状态：已办结待核查").wait_for(timeout=60_000)

        cc.goto(street.site.base + "/", wait_until="domcontentloaded")
        cc.get_by_role("heading", name="督办事项").wait_for(timeout=60_000)
        cc.locator("table.sv-items a", has_text="处理").first.click()
        cc.get_by_role("heading", name="事件详情").wait_for(timeout=60_000)
        cc.get_by_role("button", name="核查通过").click()
        cc.get_by_text("督办状态：已核查办结").wait_for(timeout=60_000)
        cc.screenshot(path=str(ARTIFACTS / "supervision_confirmed.png"))
    finally:
        center.close()
        official.close()
    steps = ActionLog(default_actions_path(street.site.db)).entries([event])
    assert list(zip(steps["username"], steps["action"], steps["result"])) == [
        ("cc1", "supervise", ""), ("bob", "feedback", "done"), ("cc1", "confirm", "")]
    audit = AuditLog(street.site.audit)
    supervision = audit.entries(AuditFilter(actions=("supervision",), text=event))
    assert list(zip(supervision["username"], supervision["target"]))[::-1] == [("cc1", event), ("bob", event),
                                                                               ("cc1", event)]
    signins = audit.entries(AuditFilter(actions=("signin",), outcomes=("success",)))
    assert {"cc1", "bob"} <= set(signins["username"])
