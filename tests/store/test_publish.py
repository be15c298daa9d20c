"""Loads publish atomically: a reader holding the store keeps its snapshot, a new reader sees the whole batch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
from etl.config import load_config
from etl.load import load_project
from store.publish import working_path
import pytest

from paused_load import SAFETY_SECONDS
from projects import HEADER, write_street_project

@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return write_street_project(tmp_path, [])


READER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print(con.execute("SELECT count(*) FROM events").fetchone()[0], flush=True)
    sys.stdin.readline()                      # hold the store open while the test loads
    print(con.execute("SELECT count(*) FROM events").fetchone()[0], flush=True)
""")


def test_a_load_while_a_reader_holds_the_store(project: Path) -> None:
    config = load_config(project / "minqing.toml")
    load_project(config)
    database = project / "store.duckdb"
    with duckdb.connect(str(database), read_only=True) as con:
        before = con.execute("SELECT count(*) FROM events").fetchone()[0]
    reader = subprocess.Popen([sys.executable, "-c", READER, str(database)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert int(reader.stdout.readline()) == before
        (project / "street.csv").write_text(HEADER + "N1,邻里纠纷,处理中,2023/9/1 10:00,,115.05,22.95,\n", encoding="gbk")
        result = load_project(config).files[0]  # would fail on the reader's lock if it wrote in place
        assert result.loaded == 1
        out, _ = reader.communicate("\n", timeout=SAFETY_SECONDS)  # only turns a hang into a failure
        assert int(out.strip()) == before  # the open reader kept its snapshot: never half a batch
    finally:
        reader.kill()
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == before + 1
    assert not working_path(database).exists()
