"""The served dashboard in headless Chromium: the map draws polygons and the page asks nothing of outside hosts."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from dashboard.serve import command, environment
from fixtures import HOSTILE_NAME, FixtureStore, fixture_store  # noqa: F401  (pytest fixture)

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
NETWORK_SCHEMES = {"http", "https", "ws", "wss"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"streamlit did not answer within {START_TIMEOUT_S}s:\n{log.read_text(errors='replace')[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_command_center_in_chromium(fixture_store: FixtureStore, tmp_path):  # noqa: F811
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium fonts-wqy-microhei)")
    from playwright.sync_api import sync_playwright

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "streamlit.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command(fixture_store.path, port), env=environment(fixture_store.path), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_healthy(base, proc, log)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 960})
                urls: list[str] = []
                page.on("request", lambda r: urls.append(r.url))
                page.on("websocket", lambda ws: urls.append(ws.url))
                page.goto(base, wait_until="domcontentloaded")
                page.get_by_role("heading", name="指挥中心").wait_for(timeout=30_000)

                iframe = page.wait_for_selector('iframe[title*="streamlit_folium"]', timeout=30_000)
                frame = iframe.content_frame()
                assert frame is not None
                frame.wait_for_selector("path.leaflet-interactive", timeout=30_000)
                assert frame.locator("path.leaflet-interactive").count() == fixture_store.grid_count("large")
                assert "事件数（大网格）" in frame.locator(".minqing-legend").inner_text()

                # the hostile grid (L2, second feature) shows its name as text, never as markup
                dialogs: list[str] = []
                page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
                frame.locator("path.leaflet-interactive").nth(1).hover()
                tooltip = frame.wait_for_selector(".leaflet-tooltip", timeout=10_000)
                assert HOSTILE_NAME in tooltip.inner_text() and "排名" in tooltip.inner_text()
                assert frame.locator('img[src="x"]').count() == 0 and dialogs == []
                page.mouse.move(5, 5)
                page.wait_for_timeout(1000)  # let fonts and the legend settle before the screenshot

                body = page.inner_text("body")
                assert "指挥中心" in body and "事件总数" in body
                assert "Traceback" not in body and "Error" not in body

                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "command_center.png"), full_page=True)
            finally:
                browser.close()
    finally:
        stop(proc)

    outside = sorted(
        {u for u in urls if urlparse(u).scheme in NETWORK_SCHEMES and urlparse(u).hostname not in LOCAL_HOSTS}
    )
    assert outside == [], f"the page contacted outside hosts: {outside}"
    assert any(u.endswith("/app/static/vendor/leaflet/leaflet.js") for u in urls)
    server_log = log.read_text(errors="replace")
    assert "external IP" not in server_log, "streamlit tried to look up its public IP online"
    assert "Traceback" not in server_log, server_log[-3000:]
