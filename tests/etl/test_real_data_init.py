"""The Chicago and NYC example projects re-created by `minqing init` from the raw files alone (no VRT, no
hand-written mapping), loaded with no edits, reach the agreement the hand-written ones reach (published in
shared/data/real/README.md: Chicago districts 98.4 %, beats 91.2 %; NYC community boards 98.9 % and 99.5 %).
Skipped when the real data is absent."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import geopandas as gpd
import pandas as pd
import pytest

from etl.config import load_config
from etl.init.decisions import InitReport
from etl.init.project import init_project
from etl.load import LoadReport, load_project
from real_data import REAL, code, needs_real_data, recorded_boro_cd

pytestmark = needs_real_data
TOLERANCE = 0.001  # the published rates are rounded to 0.1 point
CHICAGO_DISTRICTS, CHICAGO_BEATS = 0.984, 0.912
# NYC: the hand-written example measured the same way as below (located rows with a specified board) gives
# 0.9886 and 0.9945; the README rounds them to 98.9 % and 99.5 %.
NYC_BOARDS = {"nyc311_2013-12-25_sample.csv": 0.9886, "nyc311_2022-05-01_sample.csv": 0.9945}


@dataclass
class Drafted:
    folder: Path
    init: InitReport
    load: LoadReport

    def events(self, file_name: str) -> pd.DataFrame:
        config = tomllib.loads((self.folder / "minqing.toml").read_text("utf-8"))
        (mapping,) = [s["mapping"] for s in config["departments"] if Path(s["path"]).name == file_name]
        department = tomllib.loads((self.folder / mapping).read_text("utf-8"))["department"]
        with duckdb.connect(str(self.folder / "minqing.duckdb"), read_only=True) as con:
            return con.execute("SELECT * FROM events WHERE dept = ?", [department]).df()

    def mapping(self, file_name: str) -> dict:
        config = tomllib.loads((self.folder / "minqing.toml").read_text("utf-8"))
        (mapping,) = [s["mapping"] for s in config["departments"] if Path(s["path"]).name == file_name]
        return tomllib.loads((self.folder / mapping).read_text("utf-8"))


def _draft(target: Path, grids: list[Path], events: list[Path]) -> Drafted:
    report = init_project(target, grids, events)
    return Drafted(folder=target, init=report, load=load_project(load_config(target / "minqing.toml")))


@pytest.fixture(scope="module")
def chicago(tmp_path_factory: pytest.TempPathFactory) -> Drafted:
    folder = REAL / "chicago"
    return _draft(tmp_path_factory.mktemp("chicago_init"),
                  [folder / "chicago_police_beats.geojson", folder / "chicago_police_districts.geojson"],
                  [folder / "chicago_crimes_2019_sample50k.csv", folder / "chicago_aggravated_assaults_2010_2019.csv"])


@pytest.fixture(scope="module")
def nyc(tmp_path_factory: pytest.TempPathFactory) -> Drafted:
    folder = REAL / "nyc"
    return _draft(tmp_path_factory.mktemp("nyc_init"),
                  [folder / "nyc_community_districts_dcp2013.geojson", folder / "nyc_boroughs_dcp2013.geojson"],
                  [folder / name for name in NYC_BOARDS])


def test_chicago_init_decides_what_the_vrt_files_did_by_hand(chicago: Drafted) -> None:
    config = tomllib.loads((chicago.folder / "minqing.toml").read_text("utf-8"))
    small, medium = config["grids"]["small"], config["grids"]["medium"]
    assert (Path(small["path"]).name, small["code"], small["parent"]) == ("chicago_police_beats.geojson", "beat_num",
                                                                           "district")
    assert (Path(medium["path"]).name, medium["code"]) == ("chicago_police_districts.geojson", "dist_num")
    assert small["repeated"] == medium["repeated"] == "union"  # beat 3100 and district 31: three rows each
    assert small["leading_zeros"] == medium["leading_zeros"] == "drop"  # beats '0111' as the crimes write '111'
    assert config["timezone"] == "America/Chicago"
    assert chicago.load.grids.counts == {"large": 1, "medium": 23, "small": 275}
    crimes = chicago.mapping("chicago_crimes_2019_sample50k.csv")
    assert (crimes["fields"]["lon"], crimes["fields"]["lat"]) == ("longitude", "latitude")  # not the feet columns
    assert crimes["fields"]["grid_code"] == "beat" and crimes["grid_code"]["leading_zeros"] == "drop"
    assert crimes["fields"]["source_id"] == "id" and crimes["fields"]["category"] == "primary_type"
    assaults = chicago.mapping("chicago_aggravated_assaults_2010_2019.csv")
    assert assaults["fields"]["source_id"] == {"hash": ["date", "longitude", "latitude"]}
    assert all(f.rejected == 0 and f.error is None for f in chicago.load.files)


def test_chicago_init_reaches_the_hand_written_agreement(chicago: Drafted) -> None:
    raw = pd.read_csv(REAL / "chicago" / "chicago_crimes_2019_sample50k.csv", dtype=str, keep_default_na=False)
    crimes = chicago.events("chicago_crimes_2019_sample50k.csv").merge(raw, left_on="source_id", right_on="id",
                                                                        validate="1:1")
    assert len(crimes) == len(raw)
    located = crimes[crimes["location_from"] == "point"]  # outside every beat counts as a disagreement
    districts = (located["grid_medium"] == code(located["district"])).mean()
    beats = (located["grid_small"] == code(located["beat"])).mean()
    chicago.init.figures["chicago agreement"] = {"districts": districts, "beats": beats}
    assert districts >= CHICAGO_DISTRICTS - TOLERANCE, districts
    assert beats >= CHICAGO_BEATS - TOLERANCE, beats
    by_beat = crimes[crimes["location_from"] == "grid_code"]  # no coordinates: placed by their recorded beat
    assert len(by_beat) == int(((raw["latitude"] == "") | (raw["longitude"] == "")).sum())
    assert (by_beat["grid_small"] == code(by_beat["beat"])).all()


def test_chicago_assaults_per_district_equal_an_independent_sjoin(chicago: Drafted) -> None:
    raw = pd.read_csv(REAL / "chicago" / "chicago_aggravated_assaults_2010_2019.csv", dtype=str, keep_default_na=False)
    ours = chicago.events("chicago_aggravated_assaults_2010_2019.csv")
    assert len(ours) == len(raw)
    districts = gpd.read_file(REAL / "chicago" / "chicago_police_districts.geojson")
    districts = districts.assign(district=code(districts["dist_num"])).dissolve("district").reset_index()
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(pd.to_numeric(raw["longitude"]),
                                                          pd.to_numeric(raw["latitude"])), crs=4326)
    joined = gpd.sjoin(points, districts[["district", "geometry"]], predicate="within", how="inner")
    independent = joined[~joined.index.duplicated()]["district"].value_counts().sort_index()
    counted = ours["grid_medium"].dropna().value_counts().sort_index()
    assert (counted - independent.reindex(counted.index, fill_value=0)).abs().sum() <= 0.0005 * len(raw)
    recorded = code(raw["district"]).value_counts().sort_index()
    l1 = (counted - recorded.reindex(counted.index, fill_value=0)).abs().sum() / len(raw)
    assert l1 <= 2 * (1 - CHICAGO_DISTRICTS), l1


def test_nyc_init_nests_districts_in_boroughs_by_overlap(nyc: Drafted) -> None:
    config = tomllib.loads((nyc.folder / "minqing.toml").read_text("utf-8"))
    assert config["grids"]["small"]["parent"] == "spatial" and config["grids"]["small"]["code"] == "BoroCD"
    assert config["grids"]["medium"]["code"] == "BoroCode" and config["grids"]["medium"]["name"] == "BoroName"
    assert config["timezone"] == "America/New_York"
    districts = gpd.read_file(REAL / "nyc" / "nyc_community_districts_dcp2013.geojson")
    with duckdb.connect(str(nyc.folder / "minqing.duckdb"), read_only=True) as con:
        parents = dict(con.execute("SELECT grid_code, parent_code FROM grids WHERE level = 'small'").fetchall())
    assert parents == {str(cd): str(cd // 100) for cd in districts["BoroCD"]}  # BoroCD // 100, as the VRT computed
    for name in NYC_BOARDS:
        mapping = nyc.mapping(name)
        assert mapping["time"]["formats"] == ["%m/%d/%Y %I:%M:%S %p"]
        assert mapping["fields"]["source_id"] == "Unique Key" and mapping["fields"]["status"] == "Status"
        assert mapping["status"]["map"]["Closed"] == "closed"


def test_nyc_init_reaches_the_hand_written_agreement(nyc: Drafted) -> None:
    for name, published in NYC_BOARDS.items():
        raw = pd.read_csv(REAL / "nyc" / name, dtype=str, keep_default_na=False)
        events = nyc.events(name).merge(raw, left_on="source_id", right_on="Unique Key", validate="1:1")
        located = events[events["location_from"] == "point"]
        recorded = recorded_boro_cd(located["Community Board"])
        specified = recorded.notna()
        rate = (located.loc[specified, "grid_small"] == recorded[specified]).mean()
        nyc.init.figures[f"nyc agreement {name}"] = rate
        assert rate >= published - 0.0001, (name, rate)
