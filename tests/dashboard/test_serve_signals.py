"""`kill <pid of minqing serve>` stops the dashboard: the signal reaches the Streamlit child, which is waited for,
so nothing is left serving the port. A real `minqing serve` process on 127.0.0.1 and a free port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from etl.config import load_config
from etl.load import load_project
from projects import write_street_project

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 180.0  # safety limits only: the test never asserts on how long anything takes
STOP_TIMEOUT = 90.0


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_street_project(tmp_path_factory.mktemp("serve"), [])
    config = load_config(folder / "minqing.toml")
    load_project(config)
    return config.database


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, OSError):
        return False


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the child processes from /proc (Linux)")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_minqing_serve_stops_streamlit_and_frees_the_port(small_store: Path, tmp_path: Path,
                                                                      signum: int) -> None:
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen([sys.executable, "-m", "minqing.cli", "serve", "--db", str(small_store),
                              "--port", str(port), "--address", "127.0.0.1"],
                             cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    children: list[int] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (_healthy(port) and (children := _children(serve.pid))):
            assert serve.poll() is None, (tmp_path / "serve.log").read_text(errors="replace")
            assert time.monotonic() < deadline, "the dashboard never answered: " + \
                (tmp_path / "serve.log").read_text(errors="replace")
            time.sleep(0.5)
        assert all(_alive(c) for c in children)

        serve.send_signal(signum)
        try:
            code = serve.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"minqing serve did not exit after {signal.Signals(signum).name}")
        assert code is not None
        gone = time.monotonic() + STOP_TIMEOUT
        while any(_alive(c) for c in children) and time.monotonic() < gone:
            time.sleep(0.2)  # (only if the child outlived its parent, which is the failure asserted below)
        assert not any(_alive(c) for c in children), "streamlit kept running after minqing serve exited"
        assert not _port_open(port), f"something still serves 127.0.0.1:{port}"
    finally:
        log.close()
        for pid in [serve.pid, *children]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        serve.wait(timeout=30)
