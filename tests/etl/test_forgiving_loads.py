"""Loads that forgive and explain (issue "Any city's own files become a working project", item 3).

One bad department file no longer stops the others: it is reported with its message and `minqing load` exits 2
after the load report, as it does when every row of a file is rejected. A file is skipped only when its bytes and
its mapping are unchanged; a changed mapping re-reads it and replaces what it gave. minqing.toml refuses unknown
keys with the nearest valid one, and a `database` that is no store (or cannot be written) is one clear message.
"""

from __future__ import annotations

import os
import pathlib
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from etl.config import load_config
from etl.load import load_project
from minqing.cli import main
from projects import STREET_MAPPING, write_project_config, write_town_grids
from store.errors import ConfigError, UserError
from store.publish import publishing

HEADER = "编号,类别,状态,上报时间,办结时间,经度,纬度\n"
ROWS = [
    "A1,邻里纠纷,已办结,2023/8/21 14:05,2023/8/22 9:00,115.05,22.95",
    "A2,占道经营,处理中,2023/8/21 15:00,,115.15,22.95",
    "A3,邻里纠纷,已受理,2023/8/23 10:00,,115.15,23.05",  # 已受理 is not in [status.map] (yet)
    "A4,占道经营,已受理,2023/8/24 10:00,,115.05,23.05",
    "A2,占道经营,处理中,2023/8/21 15:00,,115.15,22.95",  # an exact repeat: a duplicate
]
CITY_MAPPING = STREET_MAPPING.replace('department = "street"', 'department = "city"').replace(
    'name = "街道办"', 'name = "城管局"')


def write_two_departments(folder: Path, *, street: str, city: str) -> Path:
    """The town grids, street.csv (street.toml) then city.csv (city.toml); the config."""
    write_town_grids(folder, ["第1网格", "第2网格", "第3网格", "第4网格"], [100, 200, 300, 400])
    (folder / "street.toml").write_text(STREET_MAPPING, encoding="utf-8")
    (folder / "city.toml").write_text(CITY_MAPPING, encoding="utf-8")
    (folder / "street.csv").write_text(street, encoding="utf-8")
    (folder / "city.csv").write_text(city, encoding="utf-8")
    return write_project_config(folder, [("street.csv", "street.toml"), ("city.csv", "city.toml")])


def write_street(folder: Path, rows: list[str]) -> Path:
    write_town_grids(folder, ["第1网格", "第2网格", "第3网格", "第4网格"], [100, 200, 300, 400])
    (folder / "street.toml").write_text(STREET_MAPPING, encoding="utf-8")
    (folder / "street.csv").write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return write_project_config(folder, [("street.csv", "street.toml")])


def run_load(config: Path) -> Result:
    return CliRunner().invoke(main, ["load", "--config", str(config)])


def assert_clean_exit_2(result: Result) -> None:
    """Exit code 2 with a message, never a traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def batches(database: Path) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("SELECT source, rows_in, rows_loaded, rows_updated, rows_duplicate, rows_rejected, "
                           "status, mapping_sha256 FROM load_batches ORDER BY batch_id").fetchall()


def events(database: Path) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("SELECT event_id, status FROM events ORDER BY event_id").fetchall()


def street_rejects(database: Path) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute("SELECT row_number, value FROM rejects WHERE source = 'street' ORDER BY row_number").fetchall()


# --------------------------------------------------------------------------- one bad file, the others load


def test_a_broken_file_is_reported_and_the_next_file_still_loads(tmp_path: Path) -> None:
    broken = "编号,状态,上报时间\nA1,已办结,2023/8/21 14:05\n"  # no 类别, 办结时间, 经度, 纬度 columns
    config = write_two_departments(tmp_path, street=broken, city=HEADER + ROWS[0] + "\n" + ROWS[1] + "\n")
    result = run_load(config)
    assert_clean_exit_2(result)
    lines = result.output.splitlines()
    failed = [line for line in lines if line.startswith("failed: street")]
    assert len(failed) == 1 and "street.csv" in failed[0] and "类别" in failed[0], result.output
    assert "1 file(s) failed or had every row rejected: street street.csv" in result.output
    assert any(line.split()[:3] == ["city", "1", "2"] for line in lines), result.output  # city: 1 file, 2 rows in
    assert events(tmp_path / "store.duckdb") == [("city:A1", "closed"), ("city:A2", "in_progress")]
    assert [b[0] for b in batches(tmp_path / "store.duckdb")] == ["city"]  # the failed file left no batch

    # Fixed, the broken file loads on the next run; the city file is skipped as unchanged.
    (tmp_path / "street.csv").write_text(HEADER + ROWS[0] + "\n", encoding="utf-8")
    again = run_load(config)
    assert again.exit_code == 0, again.output
    assert "1 file(s) unchanged since their last load" in again.output
    assert [e[0] for e in events(tmp_path / "store.duckdb")] == ["city:A1", "city:A2", "street:A1"]


def test_a_file_whose_every_row_is_rejected_exits_2_and_says_which(tmp_path: Path) -> None:
    config = write_two_departments(tmp_path, street=HEADER + ROWS[2] + "\n" + ROWS[3] + "\n",
                                   city=HEADER + ROWS[0] + "\n")
    result = run_load(config)
    assert_clean_exit_2(result)
    assert any(line.startswith("all rows rejected: street") and "street.csv" in line and "every one of its 2 rows"
               in line for line in result.output.splitlines()), result.output
    assert "1 file(s) failed or had every row rejected: street street.csv" in result.output
    assert events(tmp_path / "store.duckdb") == [("city:A1", "closed")]
    # Nothing changed: the rerun skips both files and still says the street file has no rows in the store.
    again = run_load(config)
    assert_clean_exit_2(again)
    assert "unchanged since its last load, which rejected every one of its 2 rows" in again.output


def test_the_watcher_reports_a_failed_file_as_a_problem(tmp_path: Path) -> None:
    from etl.watch import watch

    config_path = write_two_departments(tmp_path, street=HEADER + ROWS[0] + "\n", city=HEADER + ROWS[0] + "\n")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "street.csv").write_text("编号,状态\nA9,已办结\n", encoding="utf-8")
    reports, problems, polls = [], [], iter(range(100))
    watch(load_config(config_path), inbox, interval=0.01, on_report=reports.append,
          on_problem=lambda path, why: problems.append((path.name, why)), should_stop=lambda: next(polls) >= 3)
    assert reports == [] and len(problems) == 1
    assert problems[0][0] == "street.csv" and "类别" in problems[0][1]


# --------------------------------------------------------------------------- a changed mapping re-reads the file


def test_a_mapping_fix_loads_the_rejected_rows_without_doubling(tmp_path: Path) -> None:
    config = write_street(tmp_path, ROWS)
    database = tmp_path / "store.duckdb"
    first = run_load(config)
    assert first.exit_code == 0, first.output
    assert events(database) == [("street:A1", "closed"), ("street:A2", "in_progress")]
    assert [r[0] for r in street_rejects(database)] == [3, 4]

    # A comment or a reordering is no change: the file is skipped.
    mapping = tmp_path / "street.toml"
    mapping.write_text("# 街道办的映射\n" + STREET_MAPPING, encoding="utf-8")
    assert load_project(load_config(config)).files[0].skipped

    # The fix: 已受理 is a status now. The file is read again, the two rejected rows load, nothing doubles.
    mapping.write_text(STREET_MAPPING.replace('"处理中" = "in_progress"',
                                              '"处理中" = "in_progress"\n"已受理" = "reported"'), encoding="utf-8")
    report = load_project(load_config(config))
    (result,) = report.files
    assert not result.skipped and report.problems == []
    assert (result.rows_in, result.loaded, result.updated, result.duplicate, result.rejected, result.removed) == \
        (5, 2, 0, 3, 0, 0)
    assert events(database) == [("street:A1", "closed"), ("street:A2", "in_progress"),
                                ("street:A3", "reported"), ("street:A4", "reported")]
    assert street_rejects(database) == []  # the old quarantine of this file is cleared
    rows = batches(database)
    assert len(rows) == 2 and rows[0][7] != rows[1][7] and all(r[7] for r in rows)
    for source, rows_in, loaded, updated, duplicate, rejected, status, _ in rows:
        assert status == "done" and rows_in == loaded + updated + duplicate + rejected
    assert sum(r[2] for r in rows) == len(events(database))

    # Loading again changes nothing.
    assert load_project(load_config(config)).files[0].skipped
    assert len(batches(database)) == 2

    # Back to the first mapping: read again (its batch is not the last read), A3 and A4 rejected and removed again.
    mapping.write_text(STREET_MAPPING, encoding="utf-8")
    (result,) = load_project(load_config(config)).files
    assert not result.skipped and (result.duplicate, result.rejected, result.removed) == (3, 2, 2)
    assert events(database) == [("street:A1", "closed"), ("street:A2", "in_progress")]
    assert [r[0] for r in street_rejects(database)] == [3, 4]


def test_a_changed_mapping_replaces_what_the_file_gave(tmp_path: Path) -> None:
    config = write_street(tmp_path, ROWS[:2])
    database = tmp_path / "store.duckdb"
    assert run_load(config).exit_code == 0
    # 处理中 now means dispatched, and 占道经营 is no longer mapped: A2 changes, then is rejected and removed.
    mapping = tmp_path / "street.toml"
    mapping.write_text(STREET_MAPPING.replace('"处理中" = "in_progress"', '"处理中" = "dispatched"'), encoding="utf-8")
    (result,) = load_project(load_config(config)).files
    assert (result.loaded, result.updated, result.duplicate, result.rejected) == (0, 1, 1, 0)
    assert events(database) == [("street:A1", "closed"), ("street:A2", "dispatched")]

    mapping.write_text(STREET_MAPPING.replace('"占道经营" = "urban_street_order"\n', ""), encoding="utf-8")
    (result,) = load_project(load_config(config)).files
    assert (result.rows_in, result.loaded, result.updated, result.duplicate, result.rejected, result.removed) == \
        (2, 0, 0, 1, 1, 1)
    assert events(database) == [("street:A1", "closed")]
    assert [r[0] for r in street_rejects(database)] == [2]  # quarantined once, under the current mapping
    assert any("removed" in note for note in result.notes)


def test_a_store_made_before_the_mapping_hash_gets_the_column(tmp_path: Path) -> None:
    config = write_street(tmp_path, ROWS[:2])
    database = tmp_path / "store.duckdb"
    assert run_load(config).exit_code == 0
    with duckdb.connect(str(database)) as con:
        con.execute("ALTER TABLE load_batches DROP COLUMN mapping_sha256")
    (result,) = load_project(load_config(config)).files  # the column is back; an unknown mapping reads again
    assert not result.skipped and result.duplicate == 2 and result.loaded == 0
    assert load_project(load_config(config)).files[0].skipped
    assert len(events(database)) == 2


# --------------------------------------------------------------------------- minqing.toml is as strict as a mapping


def test_unknown_config_keys_are_all_named_with_the_nearest_valid_key(tmp_path: Path) -> None:
    config = write_street(tmp_path, ROWS[:1])
    text = config.read_text(encoding="utf-8")
    text = text.replace('database = "store.duckdb"', 'databse = "store.duckdb"')
    text = text.replace('[grids.small]\n', '[grids.small]\nparnet = "parent"\n')
    text = text.replace('mapping = "street.toml"', 'mapping = "street.toml"\nmaping = "street.toml"')
    text = text.replace("[grids.large]", '[grids]\ncordinates = "wgs84"\n[grids.large]', 1)
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    found = {p.key: p.fix for p in caught.value.problems}
    assert "did you mean 'database'" in found["databse"]
    assert "did you mean 'parent'" in found["grids.small.parnet"]
    assert "did you mean 'mapping'" in found["departments[0].maping"]
    assert "did you mean 'coordinates'" in found["grids.cordinates"]
    assert "database" in found  # and the missing database, in the same error
    result = run_load(config)
    assert_clean_exit_2(result)
    for key in ("databse", "grids.small.parnet", "departments[0].maping", "grids.cordinates"):
        assert key in result.output
    assert not (tmp_path / "store.duckdb").exists()


def test_a_key_with_no_near_match_lists_the_valid_ones(tmp_path: Path) -> None:
    config = write_street(tmp_path, ROWS[:1])
    config.write_text(config.read_text(encoding="utf-8") + "\n[zzz]\nq = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    (problem,) = caught.value.problems
    assert problem.key == "zzz" and "did you mean" not in problem.fix and "database" in problem.fix


# --------------------------------------------------------------------------- a database that is no store


def point_database(config: Path, database: str) -> None:
    config.write_text(config.read_text(encoding="utf-8").replace('database = "store.duckdb"',
                                                                 f'database = "{database}"'), encoding="utf-8")


def test_a_zero_byte_database_is_one_message(tmp_path: Path) -> None:
    config = write_street(tmp_path, ROWS[:1])
    (tmp_path / "store.duckdb").write_bytes(b"")
    result = run_load(config)
    assert_clean_exit_2(result)
    assert f"{tmp_path / 'store.duckdb'}: is empty (0 bytes)" in result.output and "delete it" in result.output
    assert (tmp_path / "store.duckdb").read_bytes() == b""


def test_a_database_that_is_not_duckdb_is_one_message_and_left_alone(tmp_path: Path) -> None:
    config = write_street(tmp_path, ROWS[:1])
    text = "编号,类别\n这不是数据库\n".encode() * 20
    (tmp_path / "store.duckdb").write_bytes(text)
    result = run_load(config)
    assert_clean_exit_2(result)
    assert f"{tmp_path / 'store.duckdb'}: is not a DuckDB file" in result.output
    assert (tmp_path / "store.duckdb").read_bytes() == text
    assert not (tmp_path / "store.duckdb.loading").exists()


def test_a_database_that_is_a_folder_is_one_message(tmp_path: Path) -> None:
    config = write_street(tmp_path, ROWS[:1])
    (tmp_path / "store.duckdb").mkdir()
    result = run_load(config)
    assert_clean_exit_2(result)
    assert f"{tmp_path / 'store.duckdb'}: is a folder, not a database file" in result.output


@pytest.fixture
def read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """tmp_path/ro, mode 0555; as root (who writes anyway) its writes are refused by a stand-in for os.access and
    Path.open, so the case runs either way."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        access, open_ = os.access, pathlib.Path.open

        def refusing_access(path, mode, *args, **kwargs):
            if Path(path) == folder and mode & os.W_OK:
                return False
            return access(path, mode, *args, **kwargs)

        def refusing_open(self, mode="r", *args, **kwargs):
            if self.parent == folder and any(c in mode for c in "wax+"):
                raise PermissionError(13, "Permission denied", str(self))
            return open_(self, mode, *args, **kwargs)

        monkeypatch.setattr(os, "access", refusing_access)
        monkeypatch.setattr(pathlib.Path, "open", refusing_open)
    yield folder
    folder.chmod(0o755)


def test_a_database_in_a_read_only_folder_is_one_message(tmp_path: Path, read_only_folder: Path) -> None:
    config = write_street(tmp_path, ROWS[:1])
    point_database(config, "ro/store.duckdb")
    result = run_load(config)
    assert_clean_exit_2(result)
    assert f"{read_only_folder / 'store.duckdb'}: the folder {read_only_folder} is read-only" in result.output
    assert list(read_only_folder.iterdir()) == []


def test_publishing_into_a_read_only_folder_names_the_lock_and_the_fix(read_only_folder: Path) -> None:
    with pytest.raises(UserError, match=r"store.duckdb: cannot write store.duckdb.lock beside it .*make that folder "
                                        r"writable"):
        with publishing(read_only_folder / "store.duckdb"):
            pass
