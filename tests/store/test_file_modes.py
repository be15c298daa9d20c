"""File modes: a load keeps the store's permission bits and group, new stores / audit logs / users files are 0600,
the working copy and its WAL get no more than the store, and a copy that does not open is never swapped in."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import duckdb
import pytest

from access.accounts import add_user, set_password
from access.audit import AuditLog
from access.principal import SYSTEM
from etl.config import load_config
from etl.load import load_project
from projects import HEADER, write_street_project
from store.errors import ConfigError, UserError
from store.publish import publishing, working_path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return write_street_project(tmp_path, [])


@pytest.fixture(autouse=True)
def ordinary_umask():
    """Tests run under the usual 022, so 0600 comes from the code, not from the test's environment."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def another_group() -> int:
    """A group id other than the current one (root may give a file any group)."""
    mine = os.getgid()
    for group in grp.getgrall():
        if group.gr_gid != mine:
            return group.gr_gid
    pytest.skip("this machine has only one group")


def reload(project: Path) -> None:
    (project / "street.csv").write_text(HEADER + "N1,邻里纠纷,处理中,2023/9/1 10:00,,115.05,22.95,\n", encoding="gbk")
    assert load_project(load_config(project / "minqing.toml")).files[0].loaded == 1


def test_a_new_store_is_owner_only(project: Path) -> None:
    load_project(load_config(project / "minqing.toml"))
    assert mode_of(project / "store.duckdb") == 0o600


def test_a_load_keeps_the_mode_and_group_of_the_store_it_replaces(project: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a file another group needs root (CI runs as root)")
    database = project / "store.duckdb"
    load_project(load_config(project / "minqing.toml"))
    gid = another_group()
    os.chmod(database, 0o640)
    os.chown(database, -1, gid)
    inode = database.stat().st_ino
    reload(project)
    assert database.stat().st_ino != inode  # a new file was published ...
    assert mode_of(database) == 0o640 and database.stat().st_gid == gid  # ... with the old one's mode and group


def test_a_load_keeps_a_chmod_600(project: Path) -> None:
    database = project / "store.duckdb"
    load_project(load_config(project / "minqing.toml"))
    os.chmod(database, 0o600)
    reload(project)
    assert mode_of(database) == 0o600


def test_file_mode_in_the_config_sets_a_new_store_and_bad_values_are_refused(project: Path) -> None:
    config = project / "minqing.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text('file_mode = "0640"\n' + text, encoding="utf-8")
    load_project(load_config(config))
    assert mode_of(project / "store.duckdb") == 0o640
    for bad in ('"0666"', '"0400"', '"rw-r-----"', "640"):
        config.write_text(f"file_mode = {bad}\n" + text, encoding="utf-8")
        with pytest.raises(ConfigError, match="file_mode"):
            load_config(config)


def test_the_working_copy_and_its_wal_get_no_more_than_the_store(tmp_path: Path) -> None:
    database = tmp_path / "store.duckdb"
    with publishing(database) as working:
        con = duckdb.connect(str(working))
        con.execute("CREATE TABLE meta (key VARCHAR, value VARCHAR)")
        con.execute("INSERT INTO meta VALUES ('a', 'b')")
        wal = working.with_name(working.name + ".wal")
        seen = {path.name: mode_of(path) for path in (working, wal) if path.exists()}
        con.close()
    assert seen[working.name] == 0o600
    assert all(mode == 0o600 for mode in seen.values()), seen
    assert mode_of(database) == 0o600


def test_a_copy_that_does_not_open_is_never_swapped_in(project: Path) -> None:
    database = project / "store.duckdb"
    load_project(load_config(project / "minqing.toml"))
    before = database.read_bytes()
    with pytest.raises(UserError, match="does not open"):
        with publishing(database) as working:
            working.write_bytes(b"not a duckdb file" * 1000)
    assert database.read_bytes() == before
    assert not working_path(database).exists()


def test_audit_log_and_users_file_are_owner_only(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "store.duckdb.audit.sqlite")
    log.record(SYSTEM, "signin")
    assert mode_of(log.path) == 0o600
    users = tmp_path / "users.toml"
    add_user(users, "admin1", role="admin", scope=(), name="", email="", password="a long password 1")
    assert mode_of(users) == 0o600
    os.chmod(users, 0o644)
    set_password(users, "admin1", "another long password 2")
    assert mode_of(users) == 0o600  # a rewrite tightens it again
