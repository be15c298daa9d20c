"""The loader on a small hand-made project: accounting, quarantine reasons, idempotency, updates, links, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import geopandas as gpd
import pytest
from click.testing import CliRunner

from projects import GOOD, HEADER, LINKED_STREET_MAPPING, square, write_street_project
from etl.config import load_config
from store.errors import ConfigError
from etl.load import load_project
from minqing.cli import main

BAD = {
    ",邻里纠纷,已办结,2023/8/21 14:05,2023/8/22 9:00,115.05,22.95,": "missing source id",
    "B2,打架,已办结,2023/8/21 14:05,2023/8/22 9:00,115.05,22.95,": "unknown category",
    "B3,邻里纠纷,不知道,2023/8/21 14:05,2023/8/22 9:00,115.05,22.95,": "unknown status",
    "B4,邻里纠纷,已办结,2023/2/30 14:05,2023/8/22 9:00,115.05,22.95,": "unreadable or impossible time",
    "B5,邻里纠纷,已办结,2023/8/21 14:05,2023/8/20 9:00,115.05,22.95,": "closed before it was reported",
    "B6,邻里纠纷,已办结,2023/8/21 14:05,2023/8/22 9:00,abc,22.95,": "coordinate is not a number",
    "B7,邻里纠纷,已办结,,2023/8/22 9:00,115.05,22.95,": "missing report time",
    "B8,邻里纠纷,已办结,2023/8/21 14:05,,115.05,22.95,": "status is closed but there is no closed time",
}
MAPPING = LINKED_STREET_MAPPING


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return write_street_project(tmp_path, list(BAD))


def test_every_row_is_accounted_for_with_reasons(project: Path) -> None:
    report = load_project(load_config(project / "minqing.toml"))
    (result,) = report.files
    assert result.rows_in == len(GOOD) + len(BAD) + 1
    assert (result.loaded, result.duplicate, result.rejected, result.outside_grid) == (len(GOOD), 1, len(BAD), 1)
    con = duckdb.connect(str(project / "store.duckdb"), read_only=True)
    reasons = dict(con.execute("SELECT value, reason FROM rejects").fetchall())
    rows = {r[0]: r[1:] for r in con.execute("SELECT row_number, reason, raw FROM rejects").fetchall()}
    for line, expected in BAD.items():
        number = (GOOD + list(BAD)).index(line) + 1
        assert expected in rows[number][0], (line, rows[number])
        assert json.loads(rows[number][1])["类别"] == line.split(",")[1]
    assert any("打架" == v for v in reasons)
    batch = con.execute("SELECT rows_in, rows_loaded, rows_updated, rows_duplicate, rows_rejected, rows_outside_grid "
                        "FROM load_batches").fetchone()
    assert batch == (result.rows_in, len(GOOD), 0, 1, len(BAD), 1)


def test_grid_assignment_hierarchy_swap_and_links(project: Path) -> None:
    load_project(load_config(project / "minqing.toml"))
    con = duckdb.connect(str(project / "store.duckdb"), read_only=True)
    events = {r[0]: r[1:] for r in con.execute(
        "SELECT source_id, grid_small, grid_medium, grid_large, outside_grid, incident_id, due_at FROM events").fetchall()}
    assert events["A1"][:4] == ("S1", "M1", "L1", False)
    assert events["A2"][:3] == ("S3", "M2", "L1")
    assert events["A4"][0] == "S1"  # swapped lat/lon detected
    assert events["A5"][0] is None and events["A5"][3] is True
    assert events["A3"][4] == "street:A1" and events["A1"][4] == "street:A1"
    assert str(events["A1"][5]) == "2023-08-24 14:05:00"  # Monday + 3 working days
    resolved = con.execute(
        "SELECT count(*) FROM (SELECT incident_id FROM events WHERE is_dispute AND status = 'closed' "
        "GROUP BY incident_id)").fetchone()[0]
    assert resolved == 1  # A1 and A3 are one incident


def test_reload_is_idempotent_and_newer_export_updates(project: Path) -> None:
    config = load_config(project / "minqing.toml")
    load_project(config)
    again = load_project(config).files[0]
    assert again.skipped and again.duplicate == again.rows_in
    newer = HEADER + "\n".join([GOOD[0], GOOD[1].replace("处理中,2023/8/21 15:00,", "已办结,2023/8/21 15:00,2023/8/25 8:00")]) + "\n"
    (project / "street.csv").write_text(newer, encoding="gbk")
    result = load_project(config).files[0]
    assert (result.rows_in, result.loaded, result.updated, result.duplicate) == (2, 0, 1, 1)
    con = duckdb.connect(str(project / "store.duckdb"), read_only=True)
    assert con.execute("SELECT status, closed_at FROM events WHERE source_id = 'A2'").fetchone()[0] == "closed"
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == len(GOOD)


def test_config_problems_are_listed_together(project: Path) -> None:
    text = (project / "minqing.toml").read_text(encoding="utf-8")
    (project / "minqing.toml").write_text(text.replace('path = "street.csv"', 'path = "nope.csv"')
                                          .replace('database = "store.duckdb"', "database = 3"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(project / "minqing.toml")
    message = str(info.value)
    assert "nope.csv" in message and "database" in message and "2 problem(s)" in message


def test_cli_reports_a_bad_mapping_without_traceback(project: Path) -> None:
    (project / "street.toml").write_text(MAPPING.replace('"dispute_neighbour"', '"no_such_code"'), encoding="utf-8")
    result = CliRunner().invoke(main, ["load", "--config", str(project / "minqing.toml")])
    assert result.exit_code == 2
    assert "no_such_code" in result.output and "categories.toml" in result.output
    assert "Traceback" not in result.output


def test_cli_load_prints_the_department_table(project: Path) -> None:
    result = CliRunner().invoke(main, ["load", "--config", str(project / "minqing.toml")])
    assert result.exit_code == 0, result.output
    line = next(l for l in result.output.splitlines() if l.startswith("street"))
    assert line.split()[1:] == ["1", str(len(GOOD) + len(BAD) + 1), str(len(GOOD)), "0", "1", str(len(BAD)), "1"]


def test_cli_rejects_lists_rows_with_file_row_and_reason(project: Path) -> None:
    load_project(load_config(project / "minqing.toml"))
    result = CliRunner().invoke(main, ["rejects", "--db", str(project / "store.duckdb"), "--dept", "street"])
    assert result.exit_code == 0, result.output
    assert "unknown category text" in result.output and "'打架'" in result.output
    assert "street.csv: row 7" in result.output  # B2 is the 7th data row
    other = CliRunner().invoke(main, ["rejects", "--db", str(project / "store.duckdb"), "--dept", "x' OR '1'='1"])
    assert other.exit_code == 0 and "no rejected rows" in other.output


def test_changed_boundaries_make_a_new_version_and_keep_history(project: Path) -> None:
    config = load_config(project / "minqing.toml")
    first = load_project(config)
    assert first.grids.changed and first.grids.version == 1 and first.grids.notes == []
    small = gpd.read_file(project / "small.geojson")
    small.loc[0, "geometry"] = square(115.0, 22.9, 0.12)  # now overlaps S2/S3 and sticks out of M1
    small.to_file(project / "small.geojson", driver="GeoJSON")
    second = load_project(config)
    assert second.grids.changed and second.grids.version == 2
    notes = " ".join(second.grids.notes)
    assert "overlapping sibling pair" in notes and "stick out of their parent" in notes
    con = duckdb.connect(str(project / "store.duckdb"), read_only=True)
    assert con.execute("SELECT count(*), min(version) FROM grid_history").fetchone() == (7, 1)
    assert con.execute("SELECT DISTINCT grid_version FROM events").fetchall() == [(1,)]  # history not re-labelled
    con.close()
    third = load_project(config)
    assert not third.grids.changed and third.grids.version == 2


def test_watch_loads_a_dropped_file_and_reports_strangers(project: Path) -> None:
    from etl.watch import watch

    inbox = project / "inbox"
    inbox.mkdir()
    text = (project / "minqing.toml").read_text(encoding="utf-8").replace('path = "street.csv"', 'path = "inbox/street_*.csv"')
    (project / "minqing.toml").write_text(text, encoding="utf-8")
    (inbox / "street_1.csv").write_text(HEADER + GOOD[0] + "\n", encoding="utf-8")
    config = load_config(project / "minqing.toml")
    reports, problems, polls = [], [], iter(range(100))

    def should_stop() -> bool:
        step = next(polls)
        if step == 3:
            (inbox / "street_2.csv").write_text(HEADER + GOOD[1] + "\n", encoding="utf-8")
            (inbox / "other.txt").write_text("?", encoding="utf-8")
        return step >= 7

    watch(config, inbox, interval=0.01, on_report=reports.append, on_problem=lambda p, why: problems.append(p.name),
          should_stop=should_stop)
    loaded = [(r.files[0].path.name, r.files[0].loaded) for r in reports]
    assert loaded == [("street_1.csv", 1), ("street_2.csv", 1)]
    assert problems == ["other.txt"]


def test_only_small_grids_build_both_upper_levels_by_dissolve(project: Path) -> None:
    small = gpd.read_file(project / "small.geojson").assign(town="L1")
    small.to_file(project / "small.geojson", driver="GeoJSON")
    text = (project / "minqing.toml").read_text(encoding="utf-8")
    text = text[: text.index("[grids.large]")] + text[text.index("[grids.small]"):]
    text = text.replace('population = "pop"', 'population = "pop"\ngrandparent = "town"')
    (project / "minqing.toml").write_text(text, encoding="utf-8")
    report = load_project(load_config(project / "minqing.toml"))
    assert report.grids.counts == {"small": 4, "medium": 2, "large": 1}
    con = duckdb.connect(str(project / "store.duckdb"), read_only=True)
    assert con.execute("SELECT grid_code, population FROM grids WHERE level = 'large'").fetchall() == [("L1", 1000)]
    assert con.execute("SELECT parent_code FROM grids WHERE level = 'medium'").fetchall() == [("L1",), ("L1",)]


def test_a_code_used_on_two_levels_is_a_clear_error(project: Path) -> None:
    from store.errors import UserError

    medium = gpd.read_file(project / "medium.geojson")
    medium.loc[0, "code"] = "S1"
    medium.to_file(project / "medium.geojson", driver="GeoJSON")
    small = gpd.read_file(project / "small.geojson")
    small.loc[small["parent"] == "M1", "parent"] = "S1"
    small.to_file(project / "small.geojson", driver="GeoJSON")
    with pytest.raises(UserError, match=r"unique across levels.*S1 \(medium\)"):
        load_project(load_config(project / "minqing.toml"))


def test_a_mapping_naming_a_missing_column_lists_the_file_s_columns(project: Path) -> None:
    (project / "street.toml").write_text(MAPPING.replace('reported_at = "上报时间"', 'reported_at = "报告时间"'),
                                         encoding="utf-8")
    result = CliRunner().invoke(main, ["load", "--config", str(project / "minqing.toml")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "报告时间" in result.output and "上报时间" in result.output and "street.csv" in result.output
    with duckdb.connect(str(project / "store.duckdb"), read_only=True) as con:  # nothing half-written
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM load_batches").fetchone()[0] == 0


def test_an_unreadable_file_gets_one_clear_message(project: Path) -> None:
    (project / "street.csv").write_bytes(b"\xff\xfe\x00garbage\x00\x81")
    result = CliRunner().invoke(main, ["load", "--config", str(project / "minqing.toml")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "street.csv" in result.output and "encoding" in result.output
