"""The dashboard under Streamlit's AppTest: every page runs on the fixture store, friendly messages otherwise.

The command center's own figures are tested in test_page_command_center.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from store.schema import connect
from fixtures import FixtureStore, fixture_store  # noqa: F401  (pytest fixture)

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PAGES = {"views/command_center.py": "指挥中心", "views/grid_detail.py": "网格详情", "views/trends.py": "趋势与导出"}


def run_app(monkeypatch: pytest.MonkeyPatch, db: Path, *, page: str | None = None) -> AppTest:
    monkeypatch.setenv("MINQING_DB", str(db))
    monkeypatch.setenv("MINQING_CLOCK", "data")  # the fixture's events are from 2024
    at = AppTest.from_file(APP, default_timeout=60)
    if page is not None:
        at.switch_page(page)
    return at.run()


def shown_text(at: AppTest) -> str:
    parts = [e.value for kind in ("title", "warning", "markdown", "caption", "error") for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize(("page", "title"), PAGES.items())
def test_every_page_runs_on_the_fixture(monkeypatch, fixture_store: FixtureStore, page, title):  # noqa: F811
    at = run_app(monkeypatch, fixture_store.path, page=page)
    assert not at.exception, at.exception
    assert title in [t.value for t in at.title]


def test_sidebar_shows_the_store_facts(monkeypatch, fixture_store: FixtureStore):  # noqa: F811
    at = run_app(monkeypatch, fixture_store.path)
    sidebar = "\n".join(str(e.value) for e in [*at.sidebar.markdown, *at.sidebar.caption])
    assert str(fixture_store.path) in sidebar and "2024-12-31 08:05" in sidebar
    assert f"{fixture_store.event_total:,} 条" in sidebar


def test_command_center_map_is_offline_and_narrowed(monkeypatch, fixture_store: FixtureStore):  # noqa: F811
    at = run_app(monkeypatch, fixture_store.path)
    (component,) = at.get("component_instance")
    args = json.loads(component.proto.json_args)
    assert args["js_links"] == ["/app/static/vendor/leaflet/leaflet.js"]
    assert args["css_links"] == ["/app/static/vendor/leaflet/leaflet.css"]
    assert args["returned_objects"] == ["last_object_clicked_tooltip"]  # clicks only: panning never reruns
    assert not re.search(r"https?://", component.proto.json_args)
    assert len(component.proto.json_args) < 50_000


def test_missing_database_shows_the_fix(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere.duckdb"
    at = run_app(monkeypatch, missing)
    assert not at.exception
    text = shown_text(at)
    assert "未找到数据库文件" in text and str(missing) in text and "MINQING_DB" in text
    assert "make demo" in text and "minqing load --config DIR/minqing.toml" in text
    assert not at.get("component_instance") and not at.metric
    assert not missing.exists(), "the dashboard must not create the database"


def test_store_without_grids_shows_the_fix(monkeypatch, tmp_path):
    empty = tmp_path / "empty.duckdb"
    connect(str(empty)).close()
    at = run_app(monkeypatch, empty)
    assert not at.exception
    text = shown_text(at)
    assert "还没有网格数据" in text and "make demo" in text


def test_file_that_is_not_a_database_shows_the_fix(monkeypatch, tmp_path):
    bogus = tmp_path / "bogus.duckdb"
    bogus.write_text("not a database", encoding="utf-8")
    at = run_app(monkeypatch, bogus)
    assert not at.exception
    text = shown_text(at)
    assert "无法打开数据库" in text and "make demo" in text
