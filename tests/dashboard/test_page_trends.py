"""The 趋势与导出 page under Streamlit's AppTest on the demo city: Chinese widgets, the published yearly figures,
scope and sidebar filters that change the figures, playback, and downloads equal to what the shown CLI command
writes."""

from __future__ import annotations

import io
import json
import re
import shlex
from pathlib import Path

import duckdb
import openpyxl
import pytest
from click.testing import CliRunner
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from layers.disputes import city_dispute_totals
from minqing.cli import main
from references import PUBLISHED

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


class RecordingManager(MediaFileManager):
    """The media file manager AppTest makes for each run, kept so a test can fetch a download's bytes."""

    made: list[RecordingManager] = []

    def __init__(self, storage) -> None:
        super().__init__(storage)
        RecordingManager.made.append(self)


@pytest.fixture()
def app(monkeypatch: pytest.MonkeyPatch, demo_db: Path) -> AppTest:
    monkeypatch.setenv("MINQING_DB", str(demo_db))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    monkeypatch.setattr("streamlit.testing.v1.app_test.MediaFileManager", RecordingManager)
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("views/trends.py").run()
    assert not at.exception, at.exception
    assert [w.label for w in at.sidebar.selectbox] == ["时间范围"], "app.py's frame did not run"
    return at


def by_label(widgets, label: str):
    (found,) = [w for w in widgets if w.label == label]
    return found


def yearly_table(at: AppTest):
    (table,) = [d.value for d in at.dataframe if d.value.columns[0] == "年份" and "受理纠纷数" in d.value.columns]
    return table.set_index("年份")


def downloads(at: AppTest, first: int | None = None) -> list[tuple[str, bytes, str | None, str]]:
    """(label, bytes, command, file name) per download button (the first `first`), in page order; the command is
    the st.code under the button, none under a disabled one. The bytes are made as a click would make them."""
    manager = RecordingManager.made[-1]
    codes = [c.value for c in at.code]
    out = []
    for button in at.download_button[:first]:
        if button.disabled:
            out.append((button.label, b"", None, ""))
            continue
        url = manager.execute_deferred(button.proto.deferred_file_id)
        stored = manager.read_file(url.rsplit("/", 1)[1])
        out.append((button.label, stored.content, codes.pop(0), stored.filename))
    return out


def run_cli(command: str, output: Path) -> bytes:
    words = shlex.split(command)
    assert words[:2] == ["minqing", "export"]
    words[words.index("-o") + 1] = str(output)
    result = CliRunner().invoke(main, words[1:])
    assert result.exit_code == 0, result.output
    return output.read_bytes()


def cells(data: bytes) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def options(command: str) -> dict[str, list[str]]:
    words = shlex.split(command)
    out: dict[str, list[str]] = {}
    for flag, value in zip(words, words[1:]):
        if flag.startswith("-"):
            out.setdefault(flag, []).append(value)
    return out


def test_widgets_have_chinese_labels(app: AppTest) -> None:
    at = app
    assert [t.value for t in at.title] == ["趋势与导出"]
    assert [s.value for s in at.subheader] == ["同比", "矛盾纠纷趋势", "逐月地图", "巡查走访与事件（按月）", "导出"]
    assert {w.label for w in at.selectbox} >= {"范围层级", "网格", "导出网格层级", "时间范围"}
    assert {w.label for w in at.select_slider} == {"年份范围", "月份"}
    assert {w.label for w in at.radio} == {"按类型统计", "地图指标"}
    assert {b.label for b in at.button} >= {"播放", "暂停"}
    assert [b.label for b in at.download_button] == ["下载 CSV", "下载 XLSX"] * 2
    assert [m.label for m in at.metric] == ["新增事件", "受理纠纷", "化解纠纷"] * 2
    assert by_label(at.selectbox, "范围层级").value == "city" and by_label(at.select_slider, "年份范围").value == (2019, 2025)
    specs = [json.loads(e.proto.spec) for e in at.get("vega_lite_chart")]
    titles = {layer["encoding"]["x"]["title"] for spec in specs for layer in spec.get("layer", [spec])}
    assert titles == {"年份", "月份"}
    (component,) = at.get("component_instance")
    args = json.loads(component.proto.json_args)
    assert args["returned_objects"] == [] and not re.search(r"https?://", component.proto.json_args)


def test_yearly_table_shows_the_published_resolved_disputes(app: AppTest) -> None:
    table = yearly_table(app)
    assert {int(y): int(table.loc[y, "化解纠纷数"]) for y in ("2019", "2020", "2021")} == PUBLISHED
    metrics = {(i, m.label): m for i, m in enumerate(app.metric)}
    assert metrics[(5, "化解纠纷")].value == f"{int(table.loc['2024', '化解纠纷数']):,}"  # 较上年: 2024 against 2023
    assert metrics[(5, "化解纠纷")].delta.startswith(f"{int(table.loc['2024', '化解较上年增减']):+,}")


def test_a_grid_scope_changes_the_figures_and_the_commands(app: AppTest, demo_db: Path) -> None:
    at = app
    city = yearly_table(at)["化解纠纷数"].tolist()
    city_metrics = [m.value for m in at.metric]
    by_label(at.selectbox, "范围层级").select("large").run()
    assert not at.exception
    assert yearly_table(at)["化解纠纷数"].tolist() == city  # the large grids add up to the city
    picker = by_label(at.selectbox, "网格")
    code = picker.options[1].rsplit("（", 1)[1].rstrip("）")
    picker.set_value(code).run()
    assert not at.exception
    with duckdb.connect(str(demo_db), read_only=True) as con:
        expected = city_dispute_totals(con, year_from=2019, year_to=2025, grid=code)["resolved"].tolist()
    assert yearly_table(at)["化解纠纷数"].tolist() == expected and sum(expected) < sum(city)
    assert [m.value for m in at.metric] != city_metrics
    disputes_command, _, events_command, _ = [c.value for c in at.code]
    assert options(disputes_command)["--grid"] == [code] and options(disputes_command)["--level"] == ["large"]
    assert options(events_command)["--grid"] == [code] and options(events_command)["--level"] == ["large"]


def test_a_sidebar_filter_changes_the_figures(app: AppTest) -> None:
    at = app
    before = yearly_table(at)
    at.sidebar.multiselect[1].set_value(["dispute_neighbour"]).run()  # 事件类别
    assert not at.exception
    after = yearly_table(at)
    assert after.loc["2019", "化解纠纷数"] < before.loc["2019", "化解纠纷数"]
    classes = [d.value for d in at.dataframe if "邻里" in d.value.columns and d.value.columns[0] == "年份"]
    assert classes and list(classes[0].columns) == ["年份", "邻里", "合计"]
    assert after["化解纠纷数"].tolist() == classes[0]["邻里"].tolist()
    events_command = [c.value for c in at.code][2]
    assert options(events_command)["--category"] == ["dispute_neighbour"]


def test_downloads_equal_what_the_shown_command_writes(app: AppTest, demo_db: Path, tmp_path: Path) -> None:
    at = app
    by_label(at.select_slider, "年份范围").set_value((2019, 2021)).run()
    assert not at.exception
    files = downloads(at)
    assert [label for label, *_ in files] == ["下载 CSV", "下载 XLSX"] * 2
    for i, (label, data, command, name) in enumerate(files):
        assert command.endswith(f"-o {name}")
        flags = options(command)
        assert flags["--db"] == [str(demo_db)] and flags["--format"] == [name.rsplit(".", 1)[1]]
        written = run_cli(command, tmp_path / f"{i}_{name}")
        if name.endswith(".csv"):
            assert data == written and data.startswith(b"\xef\xbb\xbf")
        else:
            assert cells(data) == cells(written)
    disputes = options(files[0][2])
    assert disputes["--level"] == ["large"] and disputes["--from"] == ["2019"] and disputes["--to"] == ["2021"]
    assert "2021" in files[0][1].decode("utf-8-sig") and "2022" not in files[0][1].decode("utf-8-sig")
    events = options(files[2][2])
    assert events["--from"] == ["2025-12-01 23:11:00"] and events["--to"] == ["2025-12-31 23:11:00"]


def test_all_levels_export_only_as_xlsx(app: AppTest, tmp_path: Path) -> None:
    at = app
    by_label(at.select_slider, "年份范围").set_value((2021, 2021))
    by_label(at.selectbox, "导出网格层级").select("all").run()
    assert not at.exception
    csv, xlsx = at.download_button[:2]
    assert csv.disabled and not xlsx.disabled
    assert "CSV 每次只含一个层级" in "".join(c.value for c in at.caption)
    (_, data, command, name), = [f for f in downloads(at, first=2) if f[2]]
    assert options(command)["--level"] == ["all"] and name == "disputes_all_2021-2021.xlsx"
    book = cells(data)
    assert list(book) == ["全市合计", "大网格", "中网格", "小网格"] and len(book["小网格"]) == 4555 + 1
    assert book == cells(run_cli(command, tmp_path / name))


def test_play_steps_the_map_month_by_month(app: AppTest) -> None:
    at = app
    by_label(at.select_slider, "月份").set_value("2019-01").run()
    assert "trends_playing" not in at.session_state and by_label(at.button, "暂停").disabled
    by_label(at.button, "播放").click().run()
    assert not at.exception
    assert at.session_state["trends_playing"] and by_label(at.select_slider, "月份").value == "2019-02"
    by_label(at.button, "暂停").click().run()
    assert not at.session_state["trends_playing"] and by_label(at.select_slider, "月份").value == "2019-02"
    by_label(at.radio, "地图指标").set_value("disputes_resolved").run()
    assert not at.exception and any("2019-02　化解纠纷数" in c.value for c in at.caption)
