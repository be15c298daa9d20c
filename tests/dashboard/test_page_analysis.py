"""The 分析研判 page under AppTest on the demo: warnings that open 网格详情, the maps, repeat places and people; the
预警 tile on the command center and this grid's warnings on 网格详情."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.fixture()
def app(monkeypatch: pytest.MonkeyPatch, demo_db: Path) -> AppTest:
    monkeypatch.setenv("MINQING_DB", str(demo_db))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    return AppTest.from_file(APP, default_timeout=120)


def test_analysis_page(app: AppTest) -> None:
    app.switch_page("views/analysis.py").run()
    assert not app.exception, app.exception
    assert [s.value for s in app.subheader] == ["预警", "热点分析", "重复发生地点", "重复来访当事人", "研判简报"]
    warnings = next(d.value for d in app.dataframe if "说明" in d.value.columns)
    assert len(warnings) > 0 and warnings["网格"].str.fullmatch(r"grid_detail\?grid=\d{15}").all()
    people = next(d.value for d in app.dataframe if "证件号" in d.value.columns)
    assert people["证件号"].str.contains(r"\*{10}").all()
    assert "热点" in " ".join(c.value for c in app.caption)
    kinds = next(w for w in app.multiselect if w.label == "预警类型")
    kinds.set_value(["repeat_place"]).run()
    shown = next(d.value for d in app.dataframe if "说明" in d.value.columns)
    assert set(shown["类型"]) == {"重复发生地点"}


def test_command_center_tile_and_grid_warnings(app: AppTest) -> None:
    app.switch_page("views/command_center.py").run()
    assert not app.exception, app.exception
    tile = next(m for m in app.metric if m.label == "预警")
    assert int(tile.value.replace(",", "")) > 0
    app.switch_page("views/analysis.py").run()
    first = next(d.value for d in app.dataframe if "说明" in d.value.columns)["网格"].iloc[0].split("=")[1]
    app.switch_page("views/grid_detail.py")
    app.query_params["grid"] = first
    app.run()
    assert not app.exception, app.exception
    assert "本网格预警" in [s.value for s in app.subheader]
    assert any("说明" in d.value.columns and len(d.value) for d in app.dataframe)
