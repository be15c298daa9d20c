"""Shared fixtures: the demo city built once per session (read it, never write to it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from minqing.cli import main

DEMO_EVENTS = 60_000  # enough for the calibrated dispute figures (they need about 55k)
PATROL_SINCE = "2025-10-01"  # three months of patrol check-ins (about 0.9 million): every 7/30-day figure is real


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo city generated and loaded through the CLI; tests open its database read-only."""
    directory = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(main, ["demo", "--dir", str(directory), "--events", str(DEMO_EVENTS),
                                   "--patrol-since", PATROL_SINCE, "--no-serve"])
    assert result.exit_code == 0, result.output
    return directory


@pytest.fixture(scope="session")
def demo_db(demo_dir: Path) -> Path:
    """The demo city's DuckDB file."""
    return demo_dir / "minqing.duckdb"
