"""Wall display benchmark in a real headless Chromium: (1) seconds from a file landing in the `minqing load --watch`
inbox to its pop-up on the wall, at the default refresh, several drops; (2) websocket bytes a wall left alone
receives, measured over a few refresh periods and extrapolated to an hour, next to the operator's page (the plain
baseline: the same refreshes with the tiles, feed and pop-ups as st.metric and HTML tables).

Run: .venv/bin/python bench/wall.py --db demo/minqing.duckdb [--drops 3] [--idle-minutes 3] [--refresh 30]
The pop-up run uses a one-town street project made in a temporary folder (tests/projects.py); the idle run serves
a copy of --db with the data clock. Payload bytes are as the browser hands them to the page (after the websocket's
compression is undone), so the wire carries at most this.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)
sys.path[1:1] = [str(ROOT / "tests"), str(ROOT / "tests" / "e2e")]

from dashboard.serve import command, environment  # noqa: E402
from projects import HEADER, write_street_project  # noqa: E402
from test_browser import CHROMIUM_ARGS, free_port, stop, wait_healthy  # noqa: E402

MAP_IFRAME = 'iframe[title*="streamlit_folium"]'


def serve(db: Path, log: Path, refresh: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    settings = {"MINQING_CLOCK": "data", "MINQING_REFRESH_SECONDS": str(refresh), "MINQING_POPUP_SECONDS": "600"}
    with log.open("wb") as out:
        proc = subprocess.Popen(command(db, port), env=environment(db, settings), stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    wait_healthy(base, proc, log)  # raises (pytest's Failed) when the server does not come up
    return proc, base


def open_page(browser, url: str, size=(1920, 1080)):
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(MAP_IFRAME, timeout=120_000)
    return page


def popup_latency(browser, drops: int, refresh: int, folder: Path) -> list[float]:
    """Seconds from each dropped file to its card on the wall."""
    folder.mkdir(parents=True, exist_ok=True)
    project = write_street_project(folder, bad=[])
    config = project / "minqing.toml"
    subprocess.run([sys.executable, "-m", "minqing.cli", "load", "--config", str(config)], check=True,
                   capture_output=True)
    inbox = project / "inbox"
    inbox.mkdir()
    watcher = subprocess.Popen([sys.executable, "-m", "minqing.cli", "load", "--config", str(config), "--watch",
                                str(inbox)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # default interval
    proc, base = serve(project / "store.duckdb", project / "streamlit.log", refresh)
    seconds = []
    try:
        page = open_page(browser, base + "/?screen=big")
        page.wait_for_timeout((refresh + 2) * 1000)  # the first refresh remembers what was there
        for n in range(drops):
            row = f"B{n},邻里纠纷,处理中,2023/8/{26 + n} 9:30,,115.05,22.95,"
            staged = inbox / f".street{n}.part"
            staged.write_text(HEADER + row + "\n", encoding="gbk")
            landed = time.monotonic()
            staged.rename(inbox / "street.csv")
            page.wait_for_function(
                "key => [...document.querySelectorAll('#mq-alerts .mq-card')].some(c => c.dataset.key === key)",
                arg=f"report:street:B{n}", timeout=(3 * refresh + 120) * 1000)
            seconds.append(time.monotonic() - landed)
            print(f"  drop {n + 1}: {seconds[-1]:.1f} s", flush=True)
            page.evaluate("() => document.querySelector('#mq-alerts .mq-close') && "
                          "document.querySelectorAll('#mq-alerts .mq-close').forEach(b => b.click())")
            page.wait_for_timeout(int(refresh * 1000 * (0.3 + 0.25 * n)))  # land at different points of the cycle
    finally:
        stop(proc)
        stop(watcher)
    return seconds


def idle_bytes(browser, db: Path, minutes: float, refresh: int, folder: Path) -> dict[str, tuple[int, float]]:
    """(bytes received, seconds measured) for the wall and for the operator's page, each left alone."""
    copy = folder / "idle.duckdb"
    shutil.copyfile(db, copy)
    proc, base = serve(copy, folder / "idle.log", refresh)
    out = {}
    try:
        for name, path in (("wall", "/?screen=big"), ("operator page", "/")):
            frames: list[int] = []
            counting = [False]
            page = open_page(browser, base + path)

            def on_socket(ws) -> None:
                ws.on("framereceived", lambda payload: counting[0] and frames.append(
                    len(payload if isinstance(payload, bytes) else payload.encode("utf-8"))))

            page.on("websocket", on_socket)
            page.reload(wait_until="domcontentloaded")  # attach the listener from the first frame
            page.wait_for_selector(MAP_IFRAME, timeout=120_000)
            page.wait_for_timeout((refresh + 5) * 1000)  # loaded and settled: the idle part starts now
            counting[0] = True
            started = time.monotonic()
            page.wait_for_timeout(int(minutes * 60 * 1000))
            counting[0] = False
            out[name] = (sum(frames), time.monotonic() - started)
            page.close()
    finally:
        stop(proc)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=ROOT / "demo" / "minqing.duckdb")
    parser.add_argument("--drops", type=int, default=3)
    parser.add_argument("--idle-minutes", type=float, default=3.0)
    parser.add_argument("--refresh", type=int, default=30, help="the live refresh (default: the setting's default)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            print(f"file in the --watch inbox -> pop-up on the wall (refresh {args.refresh} s, watch interval 1 s):")
            seconds = popup_latency(browser, args.drops, args.refresh, Path(tmp) / "street") if args.drops else []
            if seconds:
                print(f"  min {min(seconds):.1f} s, mean {sum(seconds) / len(seconds):.1f} s, "
                      f"max {max(seconds):.1f} s")
            print(f"websocket bytes received while left alone (refresh {args.refresh} s, {args.db}):")
            for name, (received, measured) in idle_bytes(browser, args.db, args.idle_minutes, args.refresh,
                                                         Path(tmp)).items():
                per_hour = received / measured * 3600
                print(f"  {name:<14} {received:>10,} B in {measured:5.0f} s  -> {per_hour / 1e6:6.2f} MB per hour "
                      f"(extrapolated), {received / (measured / args.refresh) / 1e3:.1f} kB per refresh")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
