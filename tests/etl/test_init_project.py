"""`minqing init` + `minqing load` on a foreign city's own files, with no edits: init's decisions (read from the
files it writes and the report it prints) and the loaded figures against independent geopandas checks."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

import init_city as city
from minqing.cli import main


@dataclass
class Project:
    folder: Path
    init_output: str
    load_output: str
    events: dict[str, city.Events]

    def mapping(self, events: city.Events) -> dict:
        return tomllib.loads((self.folder / "mappings" / f"{self.department(events)}.toml").read_text("utf-8"))

    def department(self, events: city.Events) -> str:
        config = tomllib.loads((self.folder / "minqing.toml").read_text("utf-8"))
        for source in config["departments"]:
            if Path(source["path"]).name == events.path.name:
                return Path(source["mapping"]).stem
        raise KeyError(events.path.name)

    def config(self) -> dict:
        return tomllib.loads((self.folder / "minqing.toml").read_text("utf-8"))

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        with duckdb.connect(str(self.folder / "minqing.duckdb"), read_only=True) as con:
            return con.execute(sql, params or []).df()

    def events_of(self, events: city.Events) -> pd.DataFrame:
        return self.query("SELECT * FROM events WHERE dept = ?", [self.department(events)])


def run(args: list[str]) -> str:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture(scope="module")
def sao_paulo(tmp_path_factory: pytest.TempPathFactory) -> Project:
    data = tmp_path_factory.mktemp("files")
    small, medium = city.write_grid_files(data)
    events = {name: build(data) for name, build in (
        ("utm", city.utm_csv), ("semicolon", city.semicolon_csv), ("tab", city.tab_file),
        ("xlsx", city.workbook), ("gzip", city.gzipped_csv), ("withheld", city.placeholder_csv))}
    folder = tmp_path_factory.mktemp("project")
    args = ["init", str(folder), "--grids", str(small), "--grids", str(medium)]
    for item in events.values():
        args += ["--events", str(item.path)]
    init_output = run(args)
    load_output = run(["load", "--config", str(folder / "minqing.toml")])
    return Project(folder=folder, init_output=init_output, load_output=load_output, events=events)


# --------------------------------------------------------------------------- grids


def test_two_levels_without_parent_codes_nest_by_overlap_and_a_whole_area_tops_them(sao_paulo: Project) -> None:
    config = sao_paulo.config()
    assert set(config["grids"]) == {"area", "medium", "small"}
    assert Path(config["grids"]["small"]["path"]).name == "distritos.shp"
    assert Path(config["grids"]["medium"]["path"]).name == "regioes.geojson"
    assert config["grids"]["small"]["parent"] == "spatial"
    assert config["grids"]["small"]["code"] == "codigo" and config["grids"]["small"]["name"] == "nome"
    assert config["grids"]["medium"]["code"] == "regiao" and config["grids"]["medium"]["name"] == "nome_regiao"
    assert config["grids"]["small"]["population"] == "populacao"
    grids = sao_paulo.query("SELECT grid_code, name, level, parent_code FROM grids ORDER BY level, grid_code")
    small = grids[grids["level"] == "small"].set_index("grid_code")
    assert list(small.index) == city.SMALL_CODES  # leading zeros kept: nothing writes them otherwise
    assert dict(small["parent_code"]) == dict(zip(city.SMALL_CODES, ["R1"] * 3 + ["R2"] * 3))
    (large,) = grids[grids["level"] == "large"].itertuples()
    assert (large.grid_code, large.name) == ("ALL", "全域")
    assert set(grids.loc[grids["level"] == "medium", "parent_code"]) == {"ALL"}
    assert "parent = spatial" in sao_paulo.load_output and "median 100.0%" in sao_paulo.load_output


def test_accented_utf8_names_survive_a_shapefile_without_cpg_and_geojson(sao_paulo: Project) -> None:
    names = dict(sao_paulo.query("SELECT grid_code, name FROM grids").itertuples(index=False))
    assert [names[c] for c in city.SMALL_CODES] == city.SMALL_NAMES  # not "Ara莽ariguama", not "AraÃ§ariguama"
    assert [names[c] for c in city.MEDIUM_CODES] == city.MEDIUM_NAMES
    assert "valid UTF-8" in sao_paulo.init_output


def test_the_project_zone_is_where_the_grids_are(sao_paulo: Project) -> None:
    assert sao_paulo.config()["timezone"] == "America/Sao_Paulo"
    assert sao_paulo.query("SELECT value FROM meta WHERE key = 'timezone'")["value"].tolist() == ["America/Sao_Paulo"]
    for events in sao_paulo.events.values():
        assert sao_paulo.mapping(events)["time"]["timezone"] == "America/Sao_Paulo"


# --------------------------------------------------------------------------- each events file


def _located_counts(project: Project, events: city.Events) -> pd.Series:
    stored = project.events_of(events)
    located = stored[(stored["location_from"] == "point") & stored["grid_small"].notna()]
    return located["grid_small"].value_counts().sort_index()


def _assert_counts_equal_sjoin(project: Project, events: city.Events) -> None:
    expected = city.expected_counts(events, city.small_grids(), "codigo")
    got = _located_counts(project, events)
    pd.testing.assert_series_equal(got, expected, check_names=False)


def _load_row(project: Project, events: city.Events) -> list[str]:
    department = project.department(events)
    (line,) = [l for l in project.load_output.splitlines() if l.startswith(department + " ")]
    return line.split()


@pytest.mark.parametrize("name", ["utm", "semicolon", "tab", "xlsx", "gzip", "withheld"])
def test_every_file_loads_whole_and_its_points_land_where_an_independent_sjoin_puts_them(sao_paulo: Project,
                                                                                          name: str) -> None:
    events = sao_paulo.events[name]
    _, files, rows_in, loaded, updated, duplicate, rejected, outside = _load_row(sao_paulo, events)
    assert int(rows_in) == len(events.frame) and int(loaded) == len(events.frame) and int(rejected) == 0
    stored = sao_paulo.events_of(events)
    assert int(outside) == int(stored["outside_grid"].sum())
    _assert_counts_equal_sjoin(sao_paulo, events)


def test_utm_metres_are_recognised_by_trying_systems_against_the_grids(sao_paulo: Project) -> None:
    events = sao_paulo.events["utm"]
    mapping = sao_paulo.mapping(events)
    assert mapping["coordinates"]["system"] == city.UTM
    assert (mapping["fields"]["lon"], mapping["fields"]["lat"]) == ("x", "y")
    assert mapping["fields"]["source_id"] == "protocolo" and mapping["fields"]["category"] == "tipo"
    assert mapping["fields"]["reported_at"] == "data_abertura" and mapping["fields"]["closed_at"] == "data_fechamento"
    truth_inside = 1 - 12 / len(events.frame)
    assert f"{city.UTM} {truth_inside:.1%}" in " ".join(sao_paulo.init_output.split())
    stored = sao_paulo.events_of(events).set_index("source_id").loc[events.frame["id"]]
    assert (stored["lon"].to_numpy() - events.frame["lon"].to_numpy()).max() < 1e-6
    assert (stored["outside_grid"].to_numpy() == (events.frame["lon"] > city.WEST + 3 * city.SIZE).to_numpy()).all()


def test_semicolons_decimal_commas_title_lines_and_null_texts(sao_paulo: Project) -> None:
    events = sao_paulo.events["semicolon"]
    read = sao_paulo.mapping(events)["read"]
    assert read["delimiter"] == ";" and read["decimal"] == "," and read["header_row"] == 3
    assert read["null_values"] == ["NULL"]
    time = sao_paulo.mapping(events)["time"]
    assert time["formats"][0] == "%d/%m/%Y %H:%M"  # day-first: days above 12 show it
    stored = sao_paulo.events_of(events).set_index("source_id").loc[events.frame["id"]]
    assert (stored["reported_at"].to_numpy() == events.frame["created"].to_numpy()).all()
    assert (stored["lat"].round(6).to_numpy() == events.frame["lat"].to_numpy()).all()


def test_tabs_and_iso_times_with_z_converted_to_the_store_zone(sao_paulo: Project) -> None:
    events = sao_paulo.events["tab"]
    mapping = sao_paulo.mapping(events)
    assert mapping["read"]["format"] == "tsv" and "delimiter" not in mapping["read"]
    assert mapping["time"]["formats"] == ["iso"]
    stored = sao_paulo.events_of(events).set_index("source_id").loc[events.frame["id"]]
    assert (stored["reported_at"].to_numpy() == events.frame["created"].to_numpy()).all()  # Z -> São Paulo time
    closed = events.frame["status"] == "Closed"
    assert (stored.loc[closed.to_numpy(), "closed_at"].to_numpy() == events.frame.loc[closed, "closed"].to_numpy()).all()
    assert set(stored["status"]) == {"reported", "in_progress", "closed"}


def test_a_workbook_with_date_cells_on_its_second_sheet(sao_paulo: Project) -> None:
    events = sao_paulo.events["xlsx"]
    read = sao_paulo.mapping(events)["read"]
    assert read["sheet"] == "Ocorrências" and read["header_row"] == 2
    stored = sao_paulo.events_of(events).set_index("source_id").loc[events.frame["id"]]
    assert (stored["reported_at"].to_numpy() == events.frame["created"].to_numpy()).all()
    assert sao_paulo.mapping(events)["fields"]["source_id"] == "Número"


def test_a_gzipped_csv_with_month_first_times(sao_paulo: Project) -> None:
    events = sao_paulo.events["gzip"]
    mapping = sao_paulo.mapping(events)
    assert mapping["read"]["format"] == "csv" and "gzip" in sao_paulo.init_output
    assert mapping["time"]["formats"] == ["%m/%d/%Y %I:%M:%S %p"]
    stored = sao_paulo.events_of(events).set_index("source_id").loc[events.frame["id"]]
    assert (stored["reported_at"].to_numpy() == events.frame["created"].to_numpy()).all()


def test_zero_zero_rows_fall_back_to_grid_names_spelt_another_way(sao_paulo: Project) -> None:
    events = sao_paulo.events["withheld"]
    mapping = sao_paulo.mapping(events)
    assert mapping["fields"]["grid_name"] == "bairro_name"
    assert mapping["fields"]["source_id"] == {"hash": ["created", "lon", "lat", "bairro_name", "category"]}
    assert "0/0" in sao_paulo.init_output and f"{events.placeholders} rows give 0/0" in sao_paulo.init_output
    stored = sao_paulo.events_of(events)
    by_name = stored[stored["location_from"] == "grid_name"]
    assert len(by_name) == events.placeholders and by_name["lon"].isna().all()
    code_of = dict(zip(city.SMALL_NAMES, city.SMALL_CODES))
    expected = events.frame.iloc[:events.placeholders]["grid_name"].map(code_of).value_counts().sort_index()
    pd.testing.assert_series_equal(by_name["grid_small"].value_counts().sort_index(), expected, check_names=False)
    assert f"{events.placeholders} rows had placeholder coordinates" in sao_paulo.load_output
    assert f"{events.placeholders} located by their grid name" in sao_paulo.load_output


def test_status_words_and_categories_are_drafted_for_a_person(sao_paulo: Project) -> None:
    events = sao_paulo.events["gzip"]
    assert sao_paulo.mapping(events)["status"]["map"] == {"Open": "reported", "In Progress": "in_progress",
                                                          "Closed": "closed"}
    categories = tomllib.loads((sao_paulo.folder / "categories.toml").read_text("utf-8"))
    department = sao_paulo.department(events)
    drafted = {spec["name"] for code, spec in categories.items() if spec["domain"] == department}
    assert drafted == set(city.CATEGORIES) and not any("dispute_class" in spec for spec in categories.values())
    assert "needs a person" in sao_paulo.init_output and "dispute" in sao_paulo.init_output


def test_init_refuses_to_overwrite_without_force(sao_paulo: Project) -> None:
    small, medium = (Path(sao_paulo.config()["grids"][level]["path"]) for level in ("small", "medium"))
    grids = [str((sao_paulo.folder / p).resolve()) for p in (small, medium)]
    events = str(sao_paulo.events["tab"].path)
    args = ["init", str(sao_paulo.folder), "--grids", grids[0], "--grids", grids[1], "--events", events]
    before = (sao_paulo.folder / "minqing.toml").read_text("utf-8")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "--force" in result.output and "Traceback" not in result.output
    assert (sao_paulo.folder / "minqing.toml").read_text("utf-8") == before


# --------------------------------------------------------------------------- one GeoPackage level


@pytest.fixture(scope="module")
def one_level(tmp_path_factory: pytest.TempPathFactory) -> Project:
    data = tmp_path_factory.mktemp("gpkg_files")
    grids = data / "distritos.gpkg"
    city.small_grids().to_file(grids, driver="GPKG")
    events = city.tab_file(data)
    folder = tmp_path_factory.mktemp("gpkg_project")
    init_output = run(["init", str(folder), "--grids", str(grids), "--events", str(events.path)])
    load_output = run(["load", "--config", str(folder / "minqing.toml")])
    return Project(folder=folder, init_output=init_output, load_output=load_output, events={"tab": events})


def test_one_geopackage_level_is_small_and_the_levels_above_are_the_whole_area(one_level: Project) -> None:
    config = one_level.config()
    assert set(config["grids"]) == {"area", "small"} and "parent" not in config["grids"]["small"]
    grids = one_level.query("SELECT grid_code, name, level, parent_code FROM grids")
    assert grids.groupby("level").size().to_dict() == {"large": 1, "medium": 1, "small": 6}
    names = dict(zip(grids["grid_code"], grids["name"]))
    assert [names[c] for c in city.SMALL_CODES] == city.SMALL_NAMES
    medium = grids[grids["level"] == "medium"].iloc[0]
    assert medium["parent_code"] == "ALL" and set(grids.loc[grids["level"] == "small", "parent_code"]) == {
        medium["grid_code"]}
    _assert_counts_equal_sjoin(one_level, one_level.events["tab"])
