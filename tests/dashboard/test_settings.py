"""The settings declaration (dashboard/settings.py): every setting parses its allowed values and refuses the rest
with a message naming it, the value and what is allowed; the Streamlit child gets them through it; the page shows a
bad one instead of guessing; README.md's table is the generated one; every MINQING_ name in the code is declared."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import settings
from dashboard.settings import (APP_SETTINGS, BY_ENV, SERVE_SETTINGS, SETTINGS, SettingError, SettingsError,
                                child_environment, read)
from fixtures import FixtureStore, fixture_store  # noqa: F401  (pytest fixture)

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
TIANDITU_KEY = "0123456789abcdef0123456789abcdef"
CODE_FOLDERS = ("dashboard", "layers", "access", "store", "minqing")

# setting name: ([(text, parsed value)], [bad text])
VALUES = {
    "clock": ([("now", "now"), ("data", "data"), (" DATA ", "data"), ("", "now")], ["later", "0", "nowdata"]),
    "refresh_seconds": ([("5", 5), ("30", 30), (" 600 ", 600), ("", 30)], ["abc", "4", "0", "-5", "2.5", "30s"]),
    "neglect_days": ([("1", 1), ("7", 7), ("365", 365), ("", 7)], ["0", "366", "seven", "1.5"]),
    "port": ([("1", 1), ("8501", 8501), ("65535", 65535), ("", 8501)], ["0", "65536", "http"]),
    "address": ([("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "0.0.0.0"), ("", "127.0.0.1")], ["127.0.0.1 x"]),
}


def environ(**values: str) -> dict[str, str]:
    """An environment with the given settings (by name) and nothing else."""
    return {settings.BY_NAME[name].env: value for name, value in values.items()}  # type: ignore[misc]


# --------------------------------------------------------------------------- parsing

@pytest.mark.parametrize("name", VALUES)
def test_each_setting_parses_what_is_allowed_and_refuses_the_rest(name):
    setting = settings.BY_NAME[name]
    good, bad = VALUES[name]
    for text, value in good:
        assert setting.value(text) == value, text
    assert setting.value(None) == setting.value(setting.default)
    for text in bad:
        with pytest.raises(SettingError) as caught:
            setting.value(text, "option")
        message = str(caught.value)
        assert setting.option in message and repr(text.strip()) in message and setting.allowed in message


def test_the_paths_resolve_and_refuse_a_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for setting in (settings.DB, settings.USERS, settings.AUDIT):
        assert setting.value("x/file.db") == tmp_path / "x" / "file.db"
        with pytest.raises(SettingError, match="is a folder"):
            setting.value(str(tmp_path))
    assert settings.DB.value(None) == tmp_path / "demo" / "minqing.duckdb"  # the app alone falls back to the demo
    assert settings.USERS.value("") is None and settings.AUDIT.value("  ") is None  # unset: open mode, default log


def test_the_basemap_parses_every_form_and_never_shows_a_key():
    from layers.offline import Basemap

    assert settings.BASEMAP.value(None) == Basemap.none() == settings.BASEMAP.value("none")
    assert settings.BASEMAP.value("xyz:/tiles/{z}/{x}/{y}.png") == Basemap.xyz("/tiles/{z}/{x}/{y}.png")
    assert settings.BASEMAP.value(f"tianditu:{TIANDITU_KEY}:img") == Basemap.tianditu(TIANDITU_KEY, "img")
    for text in ("google", "xyz:http://tiles/no-placeholders.png", f"tianditu:{TIANDITU_KEY}:satellite"):
        with pytest.raises(SettingError) as caught:
            settings.BASEMAP.value(text)
        error = caught.value
        assert TIANDITU_KEY not in str(error) and TIANDITU_KEY not in error.zh()
        assert "MINQING_BASEMAP" in str(error) and "tianditu:KEY:img" in str(error)
        assert "`tianditu:密钥:img`" in error.zh()


def test_messages_name_where_the_value_came_from():
    with pytest.raises(SettingError) as caught:
        settings.REFRESH.value("abc", "option")
    assert str(caught.value) == "--refresh 'abc': not a whole number; allowed: a whole number of seconds, 5 or more"
    with pytest.raises(SettingError) as caught:
        settings.REFRESH.value("abc", "env")
    assert str(caught.value).startswith("$MINQING_REFRESH_SECONDS='abc' (the --refresh setting): not a whole number")
    assert caught.value.zh() == ("环境变量 `MINQING_REFRESH_SECONDS`（对应 `minqing serve --refresh`）的值 `abc` 无效。"
                                 "允许的值：不小于 5 的整数（秒）。")
    secret = SettingError(settings.EXPORT_PASSWORD, "hunter2 hunter2", "whatever")
    assert "hunter2" not in str(secret) and "hunter2" not in secret.zh() and "$MINQING_PASSWORD='***'" in str(secret)


def test_a_value_shown_on_the_page_cannot_break_out_of_its_code_span():
    with pytest.raises(SettingError) as caught:
        settings.CLOCK.value("`now`\n<b>x</b>" + "y" * 300)
    text = caught.value.zh()
    assert "``" not in text and "\n" not in text and len(text) < 300


def test_read_gives_every_app_setting_and_lists_every_bad_one(tmp_path):
    from layers.offline import Basemap

    got = read(environ(db=str(tmp_path / "m.duckdb"), clock="data", basemap="xyz:/t/{z}/{x}/{y}.png",
                       refresh_seconds="12", neglect_days="3", users=str(tmp_path / "u.toml"), audit=""))
    assert got == settings.Settings(db=tmp_path / "m.duckdb", clock="data", basemap=Basemap.xyz("/t/{z}/{x}/{y}.png"),
                                    refresh_seconds=12, neglect_days=3, popup_seconds=15, sound=False,
                                    rotate_seconds=0, session_idle_hours=12, users=tmp_path / "u.toml", audit=None)
    assert read({}).clock == "now" and read({}).refresh_seconds == 30 and read({}).neglect_days == 7
    assert read({"MINQING_SOUND": "ON", "MINQING_ROTATE_SECONDS": "20"}).sound is True
    with pytest.raises(SettingsError) as caught:
        read({"MINQING_SOUND": "loud", "MINQING_ROTATE_SECONDS": "5", "MINQING_SESSION_IDLE_HOURS": "0"})
    assert [p.setting for p in caught.value.problems] == [settings.SOUND, settings.ROTATE_SECONDS,
                                                          settings.SESSION_IDLE_HOURS]
    with pytest.raises(SettingsError) as caught:
        read(environ(refresh_seconds="abc", neglect_days="0", clock="now"))
    assert [p.setting for p in caught.value.problems] == [settings.REFRESH, settings.NEGLECT_DAYS]
    assert "2 bad settings" in str(caught.value)
    page = caught.value.zh()
    assert "MINQING_REFRESH_SECONDS" in page and "MINQING_NEGLECT_DAYS" in page and "1 到 365 之间的整数（天）" in page


def test_the_neglect_range_is_the_patrol_layers():
    from layers.patrol import DEFAULT_NEGLECT_DAYS, MAX_NEGLECT_DAYS

    assert settings.NEGLECT_DAYS.value(None) == DEFAULT_NEGLECT_DAYS
    assert settings.NEGLECT_DAYS.value(str(MAX_NEGLECT_DAYS)) == MAX_NEGLECT_DAYS
    with pytest.raises(SettingError):
        settings.NEGLECT_DAYS.value(str(MAX_NEGLECT_DAYS + 1))


# --------------------------------------------------------------------------- to the Streamlit process

def test_the_child_environment_reads_back_as_the_same_settings(tmp_path):
    from layers.offline import Basemap

    values = {"db": tmp_path / "m.duckdb", "clock": "data", "basemap": Basemap.tianditu(TIANDITU_KEY),
              "refresh_seconds": 9, "neglect_days": 30, "users": tmp_path / "u.toml", "audit": None}
    env = child_environment(values)
    assert env == {"MINQING_CLOCK": "data", "MINQING_BASEMAP": f"tianditu:{TIANDITU_KEY}",
                   "MINQING_REFRESH_SECONDS": "9", "MINQING_NEGLECT_DAYS": "30",
                   "MINQING_USERS": str(tmp_path / "u.toml")}  # the database is serve()'s argument; None: unset
    back = read({**env, "MINQING_DB": str(values["db"])})
    assert {name: getattr(back, name) for name in values} == values
    with pytest.raises(ValueError, match="not a declared setting"):
        child_environment({"refresh": 9})
    with pytest.raises(SettingError):
        child_environment({"refresh_seconds": 2})


def test_serve_hands_only_declared_good_settings_to_streamlit(tmp_path, monkeypatch):
    from dashboard.serve import environment

    for name in BY_ENV:
        monkeypatch.delenv(name, raising=False)
    env = environment(tmp_path / "m.duckdb", {"MINQING_CLOCK": "data"})
    assert env["MINQING_DB"] == str(tmp_path / "m.duckdb") and env["MINQING_CLOCK"] == "data"
    with pytest.raises(ValueError, match="MINQING_CLOK"):
        environment(tmp_path / "m.duckdb", {"MINQING_CLOK": "data"})
    with pytest.raises(SettingsError, match="MINQING_REFRESH_SECONDS"):
        environment(tmp_path / "m.duckdb", {"MINQING_REFRESH_SECONDS": "abc"})
    monkeypatch.setenv("MINQING_NEGLECT_DAYS", "999")  # inherited from the parent: checked too
    with pytest.raises(SettingsError, match="MINQING_NEGLECT_DAYS"):
        environment(tmp_path / "m.duckdb", {})


# --------------------------------------------------------------------------- documented and declared

def test_the_readme_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert settings.readme_with_table(readme) == readme, (
        "README.md's settings table differs from dashboard/settings.py; run `python -m dashboard.settings README.md`")
    block = readme.split(settings.README_BEGIN)[1].split(settings.README_END)[0]
    for setting in SETTINGS:  # the generated table does list each one
        row = next((line for line in block.splitlines() if setting.env and f"`{setting.env}`" in line
                    or setting.option and line.startswith("|") and f"`{setting.option}" in line), "")
        assert row, setting.name
        if setting.option:
            assert setting.label in row and f"`{setting.option}" in row
            assert (setting.default_doc or setting.default) in row.replace("\\|", "|")


def test_every_minqing_name_in_the_code_is_declared():
    declared = set(BY_ENV)
    used: dict[str, set[str]] = {}
    for folder in CODE_FOLDERS:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".toml", ".md", ".txt") or "__pycache__" in path.parts:
                continue
            for name in re.findall(r"MINQING_[A-Z0-9_]*[A-Z0-9]", path.read_text(encoding="utf-8", errors="replace")):
                used.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert {"MINQING_DB", "MINQING_CLOCK", "MINQING_USERS"} <= set(used)  # the scan does find them
    undeclared = {name: sorted(paths) for name, paths in used.items() if name not in declared}
    assert not undeclared, f"declare these in dashboard/settings.py: {undeclared}"


def test_the_declaration_is_whole():
    assert len({s.name for s in SETTINGS}) == len(SETTINGS) == len({s.option or s.env for s in SETTINGS})
    assert {s.name for s in APP_SETTINGS} == set(settings.Settings.__dataclass_fields__)
    for s in SETTINGS:
        assert s.help and s.allowed and s.allowed_zh and s.label
        assert s.option or s.env
        assert s.default == "" or s.value(s.default, "default") is not None
    assert all(s.option for s in SERVE_SETTINGS)


# --------------------------------------------------------------------------- on the page

def run_app(monkeypatch, db: Path, **values: str) -> AppTest:
    for name in BY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MINQING_DB", str(db))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def test_a_bad_environment_value_is_shown_on_the_page(monkeypatch, tmp_path, fixture_store: FixtureStore):  # noqa: F811
    at = run_app(monkeypatch, fixture_store.path, MINQING_REFRESH_SECONDS="abc",
                 MINQING_AUDIT=str(tmp_path / "audit.sqlite"))
    (error,) = at.error
    assert "MINQING_REFRESH_SECONDS" in error.value and "`abc`" in error.value and "不小于 5 的整数（秒）" in error.value
    assert "--refresh" in error.value
    assert [t.value for t in at.title] == ["民情地图"]
    assert not at.metric and not at.get("component_instance") and not at.sidebar.markdown
    assert "frame_context" not in at.session_state
    assert not (tmp_path / "audit.sqlite").exists()  # nothing ran on the bad settings


def test_every_bad_value_is_shown_before_the_sign_in(monkeypatch, tmp_path, fixture_store: FixtureStore):  # noqa: F811
    at = run_app(monkeypatch, fixture_store.path, MINQING_USERS=str(tmp_path / "users.toml"),
                 MINQING_NEGLECT_DAYS="0", MINQING_CLOCK="tomorrow", MINQING_BASEMAP=f"tianditu:{TIANDITU_KEY}:x")
    text = "\n".join(e.value for e in at.error)
    for name in ("MINQING_NEGLECT_DAYS", "MINQING_CLOCK", "MINQING_BASEMAP"):
        assert name in text
    assert "`tomorrow`" in text and "`now`（系统时钟）或 `data`" in text and TIANDITU_KEY not in text
    assert not at.text_input  # no sign-in form on a misconfigured app


def test_good_environment_values_reach_the_page_context(monkeypatch, tmp_path, fixture_store: FixtureStore):  # noqa: F811
    at = run_app(monkeypatch, fixture_store.path, MINQING_REFRESH_SECONDS="12", MINQING_NEGLECT_DAYS="3",
                 MINQING_BASEMAP="xyz:/tiles/{z}/{x}/{y}.png", MINQING_AUDIT=str(tmp_path / "audit.sqlite"))
    assert not at.error
    ctx = at.session_state["frame_context"]
    assert (ctx.refresh_seconds, ctx.neglect_days, ctx.clock) == (12, 3, "data")
    assert ctx.basemap.url_template == "/tiles/{z}/{x}/{y}.png"
    assert ctx.audit.path == tmp_path / "audit.sqlite"
