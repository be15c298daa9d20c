"""`minqing load --watch` prepares the next working copy while it waits: the next load starts from it without
copying the store, and only when it is a copy of exactly the published file; anything else is discarded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

import store.publish as publish
from etl.config import load_config
from etl.load import load_project
from projects import GOOD, HEADER, write_street_project


def events(database: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("SELECT event_id, status FROM events ORDER BY event_id").fetchall()


@pytest.fixture()
def loaded(tmp_path: Path) -> Path:
    project = write_street_project(tmp_path, [])
    load_project(load_config(project / "minqing.toml"))
    return project


@pytest.fixture()
def copies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The destinations shutil.copyfile writes (the working copies made)."""
    made: list[str] = []
    copyfile = shutil.copyfile

    def counting(src, dst, *args, **kwargs):
        made.append(str(dst))
        return copyfile(src, dst, *args, **kwargs)

    monkeypatch.setattr(publish.shutil, "copyfile", counting)
    return made


def add_rows(project: Path, name: str) -> None:
    rows = [line.replace("A", f"{name}-", 1) for line in GOOD]
    (project / "street.csv").write_text(HEADER + "\n".join(GOOD + rows) + "\n", encoding="gbk")


def test_the_next_load_starts_from_the_prepared_copy(loaded: Path, copies: list[str]) -> None:
    database = loaded / "store.duckdb"
    before = events(database)
    assert publish.prepare_working_copy(database)
    assert copies == [str(publish.working_path(database))]
    mode = os.stat(database).st_mode & 0o777
    assert os.stat(publish.working_path(database)).st_mode & 0o777 == mode
    add_rows(loaded, "P")
    load_project(load_config(loaded / "minqing.toml"))
    assert len(copies) == 1  # no second copy: the prepared one was used
    after = events(database)
    assert len(after) == len(before) + len(GOOD) and sum(e.startswith("street:P-") for e, _ in after) == len(GOOD)
    assert not publish.working_path(database).exists() and not publish._marker(database).exists()


def test_a_prepared_copy_of_another_store_is_discarded(loaded: Path, copies: list[str]) -> None:
    database = loaded / "store.duckdb"
    assert publish.prepare_working_copy(database)
    add_rows(loaded, "Q")
    load_project(load_config(loaded / "minqing.toml"))  # uses it, publishes a new file
    assert len(copies) == 1
    add_rows(loaded, "R")
    # A stale copy with a marker naming the store before the last load: the published file changed since.
    shutil.copyfile(database, publish.working_path(database))
    publish._marker(database).write_text('[0, 0, 0, 0, 0, 0]', encoding="utf-8")
    with duckdb.connect(str(publish.working_path(database))) as con:  # and it differs from the published store
        con.execute("DELETE FROM events")
    copies.clear()
    load_project(load_config(loaded / "minqing.toml"))
    assert copies == [str(publish.working_path(database))]  # copied afresh
    ids = [e for e, _ in events(database)]
    assert any(e.startswith("street:R-") for e in ids) and any(e.startswith("street:Q-") for e in ids)
    assert any(e == "street:A1" for e in ids)


def test_a_half_prepared_copy_without_its_marker_is_discarded(loaded: Path, copies: list[str]) -> None:
    database = loaded / "store.duckdb"
    with database.open("rb") as source:
        publish.working_path(database).write_bytes(source.read(database.stat().st_size // 2))
    add_rows(loaded, "S")
    load_project(load_config(loaded / "minqing.toml"))
    assert copies == [str(publish.working_path(database))]
    assert any(e.startswith("street:S-") for e, _ in events(database))
