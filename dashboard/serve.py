"""Run the dashboard with `streamlit run`, passing every setting as a flag (no .streamlit/config.toml is read)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
DB_ENV = "MINQING_DB"  # read by dashboard/app.py
LOCAL_ADDRESS = "127.0.0.1"  # "0.0.0.0" serves the LAN, but then streamlit asks checkip.amazonaws.com for its IP


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


def environment(db_path: Path | str, settings: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus MINQING_DB (absolute path) and any MINQING_* settings given."""
    return {**os.environ, **(settings or {}), DB_ENV: str(Path(db_path).expanduser().resolve())}


def serve(db_path: Path, *, port: int = 8501, headless: bool = True, address: str = LOCAL_ADDRESS,
          settings: dict[str, str] | None = None) -> int:
    """Serve the dashboard for `db_path` until it stops (Ctrl-C); return streamlit's exit code.

    `settings` are environment variables the app reads: MINQING_CLOCK (now | data), MINQING_BASEMAP
    (none | xyz:URL | tianditu:KEY), MINQING_REFRESH_SECONDS.
    """
    proc = subprocess.Popen(command(db_path, port, headless=headless, address=address),
                            env=environment(db_path, settings))
    try:
        return proc.wait()
    except KeyboardInterrupt:  # the child got the same SIGINT; let it shut down cleanly
        return proc.wait()
