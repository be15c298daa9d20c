"""Run the dashboard with `streamlit run`, passing every Streamlit option as a flag (no .streamlit/config.toml is
read) and the app's settings (dashboard/settings.py) as environment variables."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from dashboard.settings import ADDRESS, BY_ENV, DB, PORT, check_environment

APP = Path(__file__).resolve().parent / "gateway.py"  # app.py behind the session routes and the media gate
SHUTDOWN_GRACE_SECONDS = 20.0  # after a stop signal, how long streamlit may take before it is killed
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
LOCAL_ADDRESS = ADDRESS.default  # "127.0.0.1"; "0.0.0.0" serves the LAN, but then streamlit asks checkip.amazonaws.com for its IP


def command(db_path: Path | str, port: int, *, headless: bool = True, address: str = LOCAL_ADDRESS) -> list[str]:
    """The `python -m streamlit run` command line; the database goes in the environment, see `environment`."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", address,  # a specific address also stops streamlit looking up its public IP online
        "--server.port", str(int(port)),
        "--server.headless", "true" if headless else "false",
        "--server.enableStaticServing", "true",  # serves dashboard/static/ (vendored Leaflet) at /app/static/
        "--browser.gatherUsageStats", "false",  # otherwise the browser calls an outside host
        "--server.fileWatcherType", "none",
        "--theme.base", "light",
        "--client.toolbarMode", "minimal",  # no "Deploy" button pointing at Streamlit's cloud
    ]  # fmt: skip


def environment(db_path: Path | str, settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus $MINQING_DB (absolute path) and the `settings` given (declared environment
    variable -> text, e.g. settings.child_environment(...)). Every app setting in the result is checked: an
    undeclared name is a ValueError, a bad value a settings.SettingsError (a UserError) before anything starts."""
    given = dict(settings or {})
    undeclared = sorted(set(given) - set(BY_ENV))
    if undeclared:
        raise ValueError(f"{', '.join(undeclared)}: not declared in dashboard/settings.py")
    env = {**os.environ, **given, DB.env: str(Path(db_path).expanduser().resolve())}
    check_environment(env)
    return env


def serve(db_path: Path, *, port: int = int(PORT.default), headless: bool = True, address: str = LOCAL_ADDRESS,
          settings: Mapping[str, str] | None = None) -> int:
    """Serve the dashboard for `db_path` until it stops; return streamlit's exit code.

    SIGTERM, SIGINT and SIGHUP to this process (`kill PID`, Ctrl-C, a closed terminal) are passed on to the
    streamlit child, which is then waited for: it never keeps serving the port after `minqing serve` is gone. A
    second signal, or a child still running SHUTDOWN_GRACE_SECONDS after the first, gets the child killed.
    `settings` are the environment variables of the app's settings (dashboard/settings.py), see `environment`.
    """
    env = environment(db_path, settings)
    proc = subprocess.Popen(command(db_path, port, headless=headless, address=address), env=env)
    received: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        if proc.poll() is not None:
            return
        try:
            proc.send_signal(signum if len(received) == 1 else signal.SIGKILL)
        except ProcessLookupError:
            pass

    previous = {}
    try:
        for signum in FORWARDED_SIGNALS:
            previous[signum] = signal.signal(signum, forward)
    except ValueError:  # not the main thread: signals cannot be caught here, the caller handles them
        previous = {}
    try:
        while True:
            try:
                return proc.wait(timeout=SHUTDOWN_GRACE_SECONDS if received else None)
            except subprocess.TimeoutExpired:
                proc.kill()
            except KeyboardInterrupt:  # SIGINT while handlers could not be installed: the child got it too
                received.append(signal.SIGINT)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if proc.poll() is None:  # an unexpected error here: never leave streamlit serving behind
            proc.kill()
            proc.wait()
