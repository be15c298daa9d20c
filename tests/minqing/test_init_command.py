"""`minqing init` at the command line: its options, one clear message (exit code 2) for files it cannot use, and
--force to redo a project."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
from click.testing import CliRunner

import init_city as city
from minqing.cli import main


def invoke(*args: str):
    return CliRunner().invoke(main, ["init", *map(str, args)])


def test_help_names_the_options() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert all(option in result.output for option in ("--grids", "--events", "--force"))


def test_events_without_any_time_are_one_message(tmp_path: Path) -> None:
    grids = tmp_path / "grids.geojson"
    city.small_grids().to_file(grids, driver="GeoJSON")
    events = tmp_path / "list.csv"
    events.write_text("name,lon,lat\nA,-46.85,-23.65\nB,-46.75,-23.65\n", encoding="utf-8")
    result = invoke(tmp_path / "project", "--grids", grids, "--events", events)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "list.csv" in result.output and "no column holds times" in result.output
    assert not (tmp_path / "project" / "minqing.toml").exists()


def test_a_grid_file_without_geometry_is_one_message(tmp_path: Path) -> None:
    table = tmp_path / "table.gpkg"
    pyogrio.write_dataframe(city.small_grids().drop(columns="geometry"), table, driver="GPKG")
    events = city.tab_file(tmp_path)
    result = invoke(tmp_path / "project", "--grids", table, "--events", events.path)
    assert result.exit_code == 2 and "table.gpkg" in result.output and "geometry" in result.output


def test_force_redoes_a_project_and_the_report_says_what_was_written(tmp_path: Path) -> None:
    grids = tmp_path / "grids.gpkg"
    city.small_grids().to_file(grids, driver="GPKG")
    events = city.tab_file(tmp_path)
    folder = tmp_path / "project"
    first = invoke(folder, "--grids", grids, "--events", events.path)
    assert first.exit_code == 0, first.output
    assert "minqing init: decisions" in first.output and f"next: minqing load --config {folder}" in first.output
    (folder / "mappings" / "calls.toml").write_text("# edited by hand\n", encoding="utf-8")
    assert invoke(folder, "--grids", grids, "--events", events.path).exit_code == 2
    again = invoke(folder, "--grids", grids, "--events", events.path, "--force")
    assert again.exit_code == 0 and "department" in (folder / "mappings" / "calls.toml").read_text("utf-8")
    assert gpd.read_file(grids).shape[0] == 6  # the data files are read, never written
