"""Careless-user probes of the command line: each ends in one message naming the value and the fix, exit 2, no
traceback, and nothing done behind the user's back (no folders created, no load run before a bad --watch)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from minqing.cli import main
from projects import STREET_MAPPING, write_street_project
from tiny_store import build_tiny_store


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def refused(result, *phrases: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.output, result.output


@pytest.fixture()
def tiny(tmp_path: Path) -> Path:
    return build_tiny_store(tmp_path / "tiny.duckdb")


@pytest.mark.parametrize("command", [["events"], ["disputes", "--level", "large"], ["review", "--period", "day"]])
def test_export_into_a_missing_folder_is_refused_and_creates_nothing(tiny: Path, tmp_path: Path,
                                                                      command: list[str]) -> None:
    target = tmp_path / "nonexistent" / "dir" / "f.csv"
    refused(run("export", *command, "--db", str(tiny), "-o", str(target)), "does not exist", str(target.parent))
    assert not (tmp_path / "nonexistent").exists()


def test_a_program_given_as_csv_is_named_for_what_it_is(tmp_path: Path) -> None:
    project = write_street_project(tmp_path, [])
    (project / "street.csv").write_bytes(Path(sys.executable).resolve().read_bytes()[:65536])
    result = run("load", "--config", str(project / "minqing.toml"))
    refused(result, "street.csv", "ELF program", "not a text export")
    assert "UTF-16" not in result.output


@pytest.mark.parametrize("rule", ["{ hours = -4 }", "{ hours = 0 }", "{ working_days = -1 }", "{ hours = true }"])
def test_a_due_rule_must_be_a_positive_time(tmp_path: Path, rule: str) -> None:
    project = write_street_project(tmp_path, [])
    mapping = STREET_MAPPING.replace("default = { working_days = 3 }", f"default = {rule}")
    assert mapping != STREET_MAPPING
    (project / "street.toml").write_text(mapping, encoding="utf-8")
    refused(run("load", "--config", str(project / "minqing.toml")), "greater than zero")
    assert not (project / "store.duckdb").exists()


def test_watch_on_a_missing_folder_fails_before_loading(tmp_path: Path) -> None:
    project = write_street_project(tmp_path, [])
    refused(run("load", "--config", str(project / "minqing.toml"), "--watch", str(tmp_path / "inbox")),
            "--watch", "no such folder", "mkdir")
    assert not (project / "store.duckdb").exists()  # the load did not run first


def test_users_list_on_a_binary_file(tmp_path: Path) -> None:
    binary = tmp_path / "users.toml"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe\x00 not toml")
    refused(run("users", "list", "--users", str(binary)), str(binary), "not UTF-8")


def test_rejects_on_a_file_that_is_not_a_store(tmp_path: Path) -> None:
    not_a_store = tmp_path / "notes.duckdb"
    not_a_store.write_text("hello", encoding="utf-8")
    refused(run("rejects", "--db", str(not_a_store)), str(not_a_store))
    refused(run("rejects", "--db", str(tmp_path)), "is a directory")
