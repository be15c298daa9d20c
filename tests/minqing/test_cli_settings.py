"""`minqing serve` and `minqing demo` take their options from the settings declaration (dashboard/settings.py):
every declared option is listed with its variable, a bad value (given or from the environment) is one message and
exit code 2, and the values reach the Streamlit process as the declared environment variables."""

from __future__ import annotations

from types import SimpleNamespace
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboard import settings
from dashboard.settings import BY_ENV, SERVE_SETTINGS
from minqing.cli import main

TIANDITU_KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture()
def served(monkeypatch, tmp_path) -> tuple[Path, list[dict]]:
    """A database file to serve, a clean environment and the calls `minqing serve` would have made."""
    for name in BY_ENV:
        monkeypatch.delenv(name, raising=False)
    calls: list[dict] = []
    monkeypatch.setattr("minqing.cli._serve", lambda database, port, env, **kw: calls.append(
        {"database": database, "port": port, "env": env, **kw}))
    database = tmp_path / "m.duckdb"
    database.write_bytes(b"")  # serve only checks that it is there; the dashboard reads it
    return database, calls


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def test_serve_help_lists_every_declared_option():
    result = invoke("serve", "--help")
    assert result.exit_code == 0
    flat = " ".join(result.output.split())
    for setting in SERVE_SETTINGS:
        assert f"{setting.option} {setting.metavar}" in result.output, setting.name
        assert " ".join(setting.help.split()) in flat
        if setting.env:
            assert f"env var: {setting.env}" in flat
    options = [p.opts[0] for p in main.commands["serve"].params if p.opts[0] != "--help"]
    assert options == [s.option for s in SERVE_SETTINGS]  # nothing declared twice, nothing undeclared
    assert "--port PORT" in invoke("demo", "--help").output


@pytest.mark.parametrize(("option", "value", "allowed"), [
    ("--refresh", "abc", "a whole number of seconds, 5 or more"),
    ("--refresh", "4", "a whole number of seconds, 5 or more"),
    ("--neglect-days", "0", "a whole number of days from 1 to 365"),
    ("--neglect-days", "366", "a whole number of days from 1 to 365"),
    ("--clock", "tomorrow", "now or data"),
    ("--port", "99999", "a whole number from 1 to 65535"),
    ("--basemap", "google", "tianditu:KEY:img"),
])
def test_a_bad_option_is_one_message_and_exit_2(served, option, value, allowed):
    database, calls = served
    result = invoke("serve", "--db", str(database), option, value)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert f"错误 / error: {option} {value!r}:" in result.output and allowed in result.output
    assert "Traceback" not in result.output and not calls


def test_a_bad_environment_value_is_one_message_and_exit_2(served):
    database, calls = served
    result = invoke("serve", "--db", str(database), env={"MINQING_REFRESH_SECONDS": "abc"})
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert result.output.strip() == ("错误 / error: $MINQING_REFRESH_SECONDS='abc' (the --refresh setting): "
                                     "not a whole number; allowed: a whole number of seconds, 5 or more")
    assert not calls


def test_a_basemap_key_is_not_echoed(served):
    database, _ = served
    result = invoke("serve", "--db", str(database), "--basemap", f"tianditu:{TIANDITU_KEY}:satellite")
    assert result.exit_code == 2 and TIANDITU_KEY not in result.output and "--basemap" in result.output


def test_a_folder_is_not_a_database(served, tmp_path):
    result = invoke("serve", "--db", str(tmp_path))
    assert result.exit_code == 2 and "is a folder, not a file" in result.output


def test_serve_hands_the_settings_to_streamlit(served, tmp_path):
    database, calls = served
    result = invoke("serve", "--db", str(database), "--clock", "data", "--basemap", f"tianditu:{TIANDITU_KEY}:img",
                    "--neglect-days", "14", "--port", "9000", "--address", "0.0.0.0",
                    "--audit", str(tmp_path / "a.sqlite"))
    assert result.exit_code == 0, result.output
    (call,) = calls
    assert (call["database"], call["port"], call["address"]) == (database.resolve(), 9000, "0.0.0.0")
    assert call["env"] == {"MINQING_CLOCK": "data", "MINQING_BASEMAP": f"tianditu:{TIANDITU_KEY}:img",
                           "MINQING_REFRESH_SECONDS": "30", "MINQING_NEGLECT_DAYS": "14",
                           "MINQING_POPUP_SECONDS": "15", "MINQING_SOUND": "off", "MINQING_ROTATE_SECONDS": "0",
                           "MINQING_SESSION_IDLE_HOURS": "12", "MINQING_AUDIT": str((tmp_path / "a.sqlite").resolve())}
    assert settings.read({**call["env"], "MINQING_DB": str(database)}).neglect_days == 14


def test_serve_reads_an_option_from_its_variable_and_the_option_wins(served):
    database, calls = served
    env = {"MINQING_DB": str(database), "MINQING_REFRESH_SECONDS": "45", "MINQING_CLOCK": "data"}
    assert invoke("serve", env=env).exit_code == 0
    assert invoke("serve", "--refresh", "60", env=env).exit_code == 0
    assert [c["env"]["MINQING_REFRESH_SECONDS"] for c in calls] == ["45", "60"]
    assert calls[0]["env"]["MINQING_CLOCK"] == "data" and calls[0]["database"] == database.resolve()
    result = invoke("serve")
    assert result.exit_code == 2 and "Missing option '--db'" in result.output  # serve never guesses the database


def test_demo_passes_the_data_clock_and_its_accounts(monkeypatch, tmp_path):
    for name in BY_ENV:
        monkeypatch.delenv(name, raising=False)
    calls: list[tuple] = []
    users = tmp_path / "users.toml"
    monkeypatch.setattr("minqing.demo.build.build_demo", lambda directory, **kw: directory / "minqing.toml")
    config = SimpleNamespace(database=tmp_path / "minqing.duckdb", users=users)  # a checked minqing.toml's fields
    monkeypatch.setattr("etl.config.load_config", lambda path: config)
    monkeypatch.setattr("minqing.cli._run_load", lambda config: None)
    monkeypatch.setattr("minqing.cli._serve", lambda database, port, env, **kw: calls.append((port, env)))
    result = invoke("demo", "--dir", str(tmp_path), "--port", "8600")
    assert result.exit_code == 0, result.output
    assert calls == [(8600, {"MINQING_CLOCK": "data", "MINQING_USERS": str(users)})]
    result = invoke("demo", "--dir", str(tmp_path), "--port", "0")
    assert result.exit_code == 2 and "--port '0'" in result.output
