"""Concurrent sessions against a real `minqing serve`: clients that speak Streamlit's websocket protocol (BackMsg /
ForwardMsg protobufs of the pinned Streamlit), not browsers, so the server is what is measured.

Run: .venv/bin/python bench/sessions.py [--db bench/out/full.duckdb] [--sessions 20] [--reruns 5]

Each client opens /_stcore/stream (subprotocol "streamlit"), asks for a run of the default page (the command
center) with a BackMsg `rerun_script`, and times it until the ForwardMsg `script_finished`; then reruns it
`--reruns` times, `--think` seconds apart on average (a warm rerun, what the live refresh and every widget click
cost; --think 0 sends them back to back and measures the server's throughput). All clients run at once. The
floor is the same load against a bare Streamlit script (`st.write`) served the same way in the same run.
Figures: first run and rerun p50 / p95 / max, runs per second over the whole run (with --think 0: the throughput),
and from that the sessions one core serves at the dashboard's live refresh (one rerun per session every 30 s) and
at one rerun per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0]).resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)

import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

REFRESH_SECONDS = 30  # the dashboard's default live refresh (dashboard/settings.py)
BARE_APP = "import streamlit as st\nst.write('ok')\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(port: int, process: subprocess.Popen, timeout: float = 180.0) -> None:
    """Until /_stcore/health answers (the server process exiting first is an error)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"no server on port {port} after {timeout:.0f} s")


async def one_run(ws: websockets.ClientConnection) -> tuple[float, str]:
    """Ask for a run of the default page; seconds until script_finished, and how it finished."""
    message = BackMsg()
    message.rerun_script.query_string = ""
    message.rerun_script.page_script_hash = ""
    started = time.perf_counter()
    await ws.send(message.SerializeToString())
    while True:
        forward = ForwardMsg()
        forward.ParseFromString(await ws.recv())
        if forward.WhichOneof("type") == "script_finished":
            status = ForwardMsg.ScriptFinishedStatus.Name(forward.script_finished)
            if status != "FINISHED_EARLY_FOR_RERUN":
                return time.perf_counter() - started, status


async def client(port: int, reruns: int, think: float, first: list[float], warm: list[float],
                 problems: list[str]) -> None:
    rng = random.Random()
    async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=None, open_timeout=120) as ws:
        seconds, status = await one_run(ws)
        first.append(seconds)
        if status != "FINISHED_SUCCESSFULLY":
            problems.append(status)
        for _ in range(reruns):
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think)  # the user looks at the page before the next click
            seconds, status = await one_run(ws)
            warm.append(seconds)
            if status != "FINISHED_SUCCESSFULLY":
                problems.append(status)


async def crowd(port: int, sessions: int, reruns: int, think: float) -> dict[str, object]:
    first: list[float] = []
    warm: list[float] = []
    problems: list[str] = []
    started = time.perf_counter()
    await asyncio.gather(*(client(port, reruns, think, first, warm, problems) for _ in range(sessions)))
    wall = time.perf_counter() - started
    return {"first": first, "warm": warm, "wall": wall, "problems": problems}


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def measure(command: list[str], env: dict[str, str], port: int, sessions: int, reruns: int,
            think: float) -> dict[str, object]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        wait_healthy(port, process)
        asyncio.run(crowd(port, 1, 0, 0))  # one session first: the server's own start-up (imports) is not counted
        return asyncio.run(crowd(port, sessions, reruns, think))
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def report(name: str, result: dict[str, object], cores: int, think: float) -> None:
    first, warm, wall = result["first"], result["warm"], result["wall"]
    runs = len(first) + len(warm)
    rate = runs / wall
    print(f"{name:<28} first run p50 {p(first, 50):5.2f} s  p95 {p(first, 95):5.2f} s  max {max(first):5.2f} s | "
          f"rerun p50 {p(warm, 50):5.2f} s  p95 {p(warm, 95):5.2f} s  max {max(warm):5.2f} s | "
          f"{rate:5.2f} runs/s" + (f" = throughput; per core: {rate / cores * REFRESH_SECONDS:,.0f} sessions at a "
                                   f"{REFRESH_SECONDS} s refresh, {rate / cores:.1f} at one rerun/s" if not think else "")
          + (f" | problems: {result['problems']}" if result["problems"] else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "out" / "full.duckdb")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--reruns", type=int, default=5)
    parser.add_argument("--think", type=float, default=5.0,
                        help="mean seconds a user waits between two reruns (0: back to back, the server's throughput)")
    args = parser.parse_args()
    if not args.db.exists():
        sys.exit(f"{args.db} missing: run bench/etl.py --events 5000000 first")
    cores = os.cpu_count() or 1
    minqing = str(Path(sys.executable).with_name("minqing"))
    with tempfile.TemporaryDirectory() as folder:
        bare = Path(folder) / "bare.py"
        bare.write_text(BARE_APP, encoding="utf-8")
        port = free_port()
        env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
        floor = measure([sys.executable, "-m", "streamlit", "run", str(bare), "--server.port", str(port),
                         "--server.headless", "true"], env, port, args.sessions, args.reruns, args.think)
    port = free_port()
    full = measure([minqing, "serve", "--db", str(args.db), "--port", str(port), "--clock", "data"],
                   dict(os.environ), port, args.sessions, args.reruns, args.think)
    print(f"{args.sessions} sessions at once, {args.reruns} reruns each {args.think:g} s apart on average, {cores} "
          f"cores; store {args.db}")
    report("floor (bare Streamlit)", floor, cores, args.think)
    report("minqing serve (指挥中心)", full, cores, args.think)


if __name__ == "__main__":
    main()
