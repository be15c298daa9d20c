"""Real public data (Chicago, NYC, Guangdong) through the example projects in data/examples/: mapping files only.

Each example project (minqing.toml + mappings + GDAL VRT grid files + categories) is copied into tmp_path with
its data paths made absolute, loaded with `load_project(load_config(...))`, and checked against values computed
here independently from the raw files (pandas / geopandas) and against the agreement rates published in
shared/data/real/README.md. The data is not in this repository: it is looked up beside it
(<repo>/../shared/data/real), else in $MINQING_REAL_DATA; the tests skip when neither exists.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from etl.config import load_config
from etl.load import LoadReport, load_project
from real_data import REAL, code as _code, needs_real_data, recorded_boro_cd as _recorded_boro_cd

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "data" / "examples"
DATA_PREFIX = "../../../../shared/data/real"  # how the example files name the data, relative to their folder
EQUAL_AREA = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +ellps=WGS84 +units=m +no_defs"

# Published in shared/data/real/README.md ("agreement" section); everything else is computed here.
INSIDE_SOME_POLYGON = 0.995  # README: 99.7 % of located points fall inside some polygon
DISTRICT_AGREEMENT = 0.98  # README: 98.4 % (crimes 2019 and assaults 2010-2019)
DISTRICT_AGREEMENT_README = 0.984
BEAT_AGREEMENT = 0.90  # README: 91.2 %
COMMUNITY_BOARD_AGREEMENT = 0.98  # README: 98.9 % (2013) and 99.5 % (2022)
GCJ_SHIFT_SHANWEI_M = (570.0, 590.0)  # README: offset to WGS84 around Shanwei


pytestmark = needs_real_data


@dataclass
class Loaded:
    """An example project loaded into a fresh store."""

    folder: Path
    report: LoadReport

    def con(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.folder / _database_name(self.folder)), read_only=True)


def _database_name(folder: Path) -> str:
    return re.search(r'^database\s*=\s*"([^"]+)"', (folder / "minqing.toml").read_text(encoding="utf-8"), re.M)[1]


def instantiate(name: str, target: Path) -> Path:
    """Copy data/examples/<name> into target with the data paths made absolute; return the config path."""
    source = EXAMPLES / name
    assert REAL is not None
    folder = target / name
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("*.duckdb", "*.duckdb.wal"))
    config_text = (source / "minqing.toml").read_text(encoding="utf-8")
    assert DATA_PREFIX in config_text or list(source.glob("*.vrt")), f"{name}: the template names no real data"
    for path in [*folder.glob("*.toml"), *folder.glob("*.vrt")]:
        text = path.read_text(encoding="utf-8")
        text = text.replace(f'relativeToVRT="1">{DATA_PREFIX}', f'relativeToVRT="0">{REAL.as_posix()}')
        text = text.replace(f'"{DATA_PREFIX}', f'"{REAL.as_posix()}')
        # any other relative path (e.g. the canonical categories) keeps pointing where it did in the repository
        text = re.sub(r'"(\.\./[^"]*)"', lambda m: f'"{(source / m[1]).resolve().as_posix()}"', text)
        assert DATA_PREFIX not in text, f"{path.name}: a data path was not rewritten"
        path.write_text(text, encoding="utf-8")
    return folder / "minqing.toml"


def _load(name: str, factory: pytest.TempPathFactory) -> Loaded:
    config = instantiate(name, factory.mktemp(name))
    return Loaded(folder=config.parent, report=load_project(load_config(config)))


@pytest.fixture(scope="module")
def chicago(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    return _load("chicago", tmp_path_factory)


@pytest.fixture(scope="module")
def nyc(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    return _load("nyc", tmp_path_factory)


@pytest.fixture(scope="module")
def guangdong(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    return _load("guangdong", tmp_path_factory)


def _file(report: LoadReport, stem: str):
    (result,) = [f for f in report.files if f.path.name.startswith(stem)]
    return result


def _accounting_holds(loaded: Loaded) -> None:
    con = loaded.con()
    for result in loaded.report.files:
        assert not result.skipped
        assert result.rows_in == result.loaded + result.updated + result.duplicate + result.rejected, result
        batch = con.execute(
            "SELECT rows_in, rows_loaded, rows_updated, rows_duplicate, rows_rejected FROM load_batches "
            "WHERE file_path = ?", [str(result.path)]).fetchone()
        assert batch == (result.rows_in, result.loaded, result.updated, result.duplicate, result.rejected)
    per_dept = dict(con.execute("SELECT dept, count(*) FROM events GROUP BY dept").fetchall())
    for dept in {f.dept for f in loaded.report.files}:
        assert per_dept.get(dept, 0) == sum(f.loaded for f in loaded.report.files if f.dept == dept)
    assert con.execute("SELECT count(*) FROM rejects").fetchone()[0] == sum(f.rejected for f in loaded.report.files)


# ---------------------------------------------------------------------------------------------------------------
# The templates themselves


@pytest.mark.parametrize("name", ["chicago", "nyc", "guangdong"])
def test_example_configs_validate_in_place(name: str) -> None:
    """The configs in the repository are usable as they are when the data sits beside the repository."""
    if REAL != (REPO.parent / "shared" / "data" / "real").resolve():
        pytest.skip("the real data is not beside the repository, so the in-place relative paths cannot resolve")
    config = load_config(EXAMPLES / name / "minqing.toml")
    for source in config.grids.values():
        assert len(pyogrio.read_dataframe(source.path, read_geometry=False)) > 0
    for source in config.departments:
        assert source.files(), source.pattern


# ---------------------------------------------------------------------------------------------------------------
# Chicago: police district (large) ⊃ sector (medium) ⊃ beat (small); crimes 2019 sample and assaults 2010-2019


@pytest.fixture(scope="module")
def crimes_raw() -> pd.DataFrame:
    return pd.read_csv(REAL / "chicago" / "chicago_crimes_2019_sample50k.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def assaults_raw() -> pd.DataFrame:
    frame = pd.read_csv(REAL / "chicago" / "chicago_aggravated_assaults_2010_2019.csv", dtype=str,
                        keep_default_na=False)
    frame.insert(0, "row", [str(i) for i in range(1, len(frame) + 1)])  # "@row" ids: 1-based data row numbers
    return frame


@pytest.fixture(scope="module")
def crimes(chicago: Loaded, crimes_raw: pd.DataFrame) -> pd.DataFrame:
    events = chicago.con().execute(
        "SELECT source_id, category, status, reported_at, closed_at, location_from, outside_grid, "
        "grid_small, grid_medium, grid_large FROM events WHERE dept = 'cpd_crimes'").df()
    return events.merge(crimes_raw, left_on="source_id", right_on="id", how="inner", validate="1:1")


@pytest.fixture(scope="module")
def assaults(chicago: Loaded, assaults_raw: pd.DataFrame) -> pd.DataFrame:
    events = chicago.con().execute(
        "SELECT source_id, category, status, reported_at, location_from, outside_grid, grid_small, grid_large "
        "FROM events WHERE dept = 'cod_assaults'").df()
    return events.merge(assaults_raw, left_on="source_id", right_on="row", how="inner", validate="1:1")


def test_chicago_grids_dissolve_repeated_codes(chicago: Loaded) -> None:
    districts = pyogrio.read_dataframe(REAL / "chicago" / "chicago_police_districts.geojson", read_geometry=False)
    beats = pyogrio.read_dataframe(REAL / "chicago" / "chicago_police_beats.geojson", read_geometry=False)
    sectors = beats.assign(d=_code(beats["district"]))[["d", "sector"]].drop_duplicates()
    assert chicago.report.grids.counts == {
        "large": districts["dist_num"].nunique(),  # 25 rows, 23 codes (district 31 is three polygons)
        "medium": len(sectors),
        "small": beats["beat_num"].nunique(),  # beat 3100 is three rows too
    }
    con = chicago.con()
    parents = con.execute("SELECT s.grid_code, s.parent_code AS sector, m.parent_code AS district FROM grids s "
                          "JOIN grids m ON s.parent_code = m.grid_code WHERE s.level = 'small'").df()
    expected = beats.drop_duplicates("beat_num").assign(beat=_code(beats["beat_num"]), d=_code(beats["district"]))
    merged = parents.merge(expected, left_on="grid_code", right_on="beat", validate="1:1")
    assert len(merged) == len(expected)
    assert (merged["district_x"] == merged["d"]).all()  # each beat's grandparent is its recorded district
    assert (merged["sector_x"] == merged["d"] + "-" + merged["sector_y"]).all()
    # the union of district 31's three rows has their total area
    raw = gpd.read_file(REAL / "chicago" / "chicago_police_districts.geojson")
    area_31 = raw[_code(raw["dist_num"]) == "31"].to_crs(EQUAL_AREA).area.sum() / 1e6
    stored = con.execute("SELECT area_km2 FROM grids WHERE grid_code = '31' AND level = 'large'").fetchone()[0]
    assert stored == pytest.approx(area_31, rel=1e-3)


def test_chicago_row_accounting(chicago: Loaded, crimes_raw: pd.DataFrame, assaults_raw: pd.DataFrame,
                                crimes: pd.DataFrame) -> None:
    _accounting_holds(chicago)
    crimes_file = _file(chicago.report, "chicago_crimes_2019")
    assaults_file = _file(chicago.report, "chicago_aggravated_assaults")
    assert crimes_file.rows_in == len(crimes_raw)
    assert assaults_file.rows_in == len(assaults_raw)
    assert assaults_file.rejected == 0 and assaults_file.loaded == len(assaults_raw)
    # Crimes without coordinates are located by their recorded beat (fields.grid_code), not rejected:
    # every one of them names a beat that exists, so none is rejected.
    beats = set(_code(pyogrio.read_dataframe(REAL / "chicago" / "chicago_police_beats.geojson",
                                             read_geometry=False)["beat_num"]))
    no_point = crimes_raw[(crimes_raw["latitude"] == "") | (crimes_raw["longitude"] == "")]
    assert len(no_point) > 0
    unknown_beat = ~_code(no_point["beat"]).isin(beats)
    assert crimes_file.rejected == int(unknown_beat.sum())
    by_code = crimes[crimes["location_from"] == "grid_code"]
    assert set(by_code["id"]) == set(no_point.loc[~unknown_beat, "id"])
    assert (by_code["grid_small"] == _code(by_code["beat"])).all()
    assert (by_code["grid_large"] == _code(by_code["district"])).all()
    assert crimes_file.outside_grid == int(crimes["outside_grid"].sum())


def test_chicago_points_fall_inside_the_beats(crimes: pd.DataFrame, assaults: pd.DataFrame) -> None:
    for events in (crimes, assaults):
        located = events[events["location_from"] == "point"]
        inside = 1 - located["outside_grid"].mean()
        assert inside >= INSIDE_SOME_POLYGON, inside
        assert located.loc[~located["outside_grid"], "grid_small"].notna().all()


def test_chicago_assigned_codes_agree_with_recorded_codes(crimes: pd.DataFrame, assaults: pd.DataFrame) -> None:
    located = crimes[crimes["location_from"] == "point"]  # outside every beat counts as a disagreement
    district = (located["grid_large"] == _code(located["district"])).mean()
    beat = (located["grid_small"] == _code(located["beat"])).mean()
    assert district >= DISTRICT_AGREEMENT, district
    assert beat >= BEAT_AGREEMENT, beat
    assault_district = (assaults["grid_large"] == _code(assaults["district"])).mean()
    assert assault_district >= DISTRICT_AGREEMENT, assault_district


def _pip_districts(frame: pd.DataFrame) -> pd.Series:
    """Independent point-in-polygon on the raw district file (its repeated rows unioned by geopandas)."""
    districts = gpd.read_file(REAL / "chicago" / "chicago_police_districts.geojson")
    districts = districts.assign(code=_code(districts["dist_num"])).dissolve("code").reset_index()[["code", "geometry"]]
    points = gpd.GeoDataFrame(frame[[]], geometry=gpd.points_from_xy(pd.to_numeric(frame["longitude"]),
                                                                     pd.to_numeric(frame["latitude"])), crs=4326)
    joined = gpd.sjoin(points, districts, how="left", predicate="within")
    return joined[~joined.index.duplicated()]["code"].reindex(frame.index)


def test_chicago_assaults_per_district_and_year(chicago: Loaded, assaults_raw: pd.DataFrame) -> None:
    ours = chicago.con().execute(
        "SELECT grid_large AS district, year(reported_at) AS year, count(*) AS n FROM events "
        "WHERE dept = 'cod_assaults' AND grid_large IS NOT NULL GROUP BY ALL").df()
    ours = ours.pivot(index="district", columns="year", values="n").fillna(0)
    reference = pd.read_csv(REAL / "reference" / "chicago_assaults_count_by_district_year__from_recorded_codes.csv",
                            dtype={"district": str}).set_index("district")
    reference.columns = reference.columns.astype(int)
    if "TOTAL" in reference.index:
        assert (reference.drop(index="TOTAL").sum() == reference.loc["TOTAL"]).all()
        reference = reference.drop(index="TOTAL")
    # the reference is what it says: counts of the recorded district codes
    recorded = assaults_raw.assign(district=_code(assaults_raw["district"]), year=assaults_raw["date"].str[:4].astype(int))
    recorded = recorded.groupby(["district", "year"]).size().unstack(fill_value=0)
    assert recorded.reindex_like(reference).fillna(0).astype(int).equals(reference.astype(int))

    rows = reference.index.union(ours.index)
    ours, reference = ours.reindex(rows, fill_value=0), reference.reindex(rows, columns=ours.columns, fill_value=0)
    l1 = (ours - reference).abs().to_numpy().sum() / reference.to_numpy().sum()
    assert l1 <= 0.02, l1

    # an independent point-in-polygon on the raw district file gives (almost) the same counts
    independent = assaults_raw.assign(district=_pip_districts(assaults_raw), year=assaults_raw["date"].str[:4].astype(int))
    independent = independent.dropna(subset=["district"]).groupby(["district", "year"]).size().unstack(fill_value=0)
    independent = independent.reindex(rows, columns=ours.columns, fill_value=0)
    assert (ours - independent).abs().to_numpy().sum() <= 0.0005 * len(assaults_raw)


def test_chicago_crimes_per_district_and_arrests(chicago: Loaded) -> None:
    ours = chicago.con().execute(
        "SELECT grid_large AS district, count(*) AS n, count(*) FILTER (WHERE status = 'closed') AS arrests "
        "FROM events WHERE dept = 'cpd_crimes' AND grid_large IS NOT NULL GROUP BY ALL").df().set_index("district")
    reference = pd.read_csv(REAL / "reference" / "chicago_crimes2019_count_by_district_type_arrest__from_recorded_codes.csv",
                            dtype={"district": str, "arrest": str})
    reference["district"] = _code(reference["district"])
    total = reference.groupby("district")["n"].sum()
    arrests = reference[reference["arrest"].str.lower() == "true"].groupby("district")["n"].sum()
    rows = total.index.union(ours.index)
    l1_total = (ours["n"].reindex(rows, fill_value=0) - total.reindex(rows, fill_value=0)).abs().sum() / total.sum()
    l1_arrests = (ours["arrests"].reindex(rows, fill_value=0) - arrests.reindex(rows, fill_value=0)).abs().sum() / arrests.sum()
    assert l1_total <= 0.02, l1_total
    # if a share p of rows lands in another district, the per-district counts differ by at most 2p in all
    assert l1_arrests <= 2 * (1 - DISTRICT_AGREEMENT_README), l1_arrests


def test_chicago_status_categories_and_times(crimes: pd.DataFrame, assaults: pd.DataFrame) -> None:
    arrested = crimes["arrest"].str.lower() == "true"
    assert (crimes.loc[arrested, "status"] == "closed").all()
    assert (crimes.loc[~arrested, "status"] == "reported").all()
    assert (crimes.loc[arrested, "closed_at"] == pd.to_datetime(crimes.loc[arrested, "updated_on"])).all()
    assert crimes.loc[~arrested, "closed_at"].isna().all()
    assert (crimes["reported_at"] == pd.to_datetime(crimes["date"], format="%Y-%m-%d")).all()
    assert (crimes.loc[crimes["primary_type"] == "THEFT", "category"] == "crime_theft").all()
    sexual = crimes["primary_type"].isin(["CRIM SEXUAL ASSAULT", "CRIMINAL SEXUAL ASSAULT"])
    assert (crimes.loc[sexual, "category"] == "crime_sexual_assault").all()
    assert crimes.groupby("category")["primary_type"].nunique().max() <= 2  # at most the two merged pairs
    assert (assaults["category"] == "crime_assault_aggravated").all() and (assaults["status"] == "reported").all()
    assert (assaults["reported_at"] == pd.to_datetime(assaults["date"], format="%Y-%m-%d %H:%M")).all()


def test_layers_yearly_counts_per_district_match_the_reference(chicago: Loaded, assaults_raw: pd.DataFrame) -> None:
    """The analytics layer (rollups included) on real data, against the publisher's recorded codes."""
    from layers.event_query import EventFilter
    from layers.stats import counts_by

    ours = counts_by(chicago.con(), "large", "year", where=EventFilter(depts=("cod_assaults",)))
    ours = ours.set_index("grid_code")[[c for c in ours.columns if str(c).endswith("-01-01")]]
    ours.columns = [int(str(c)[:4]) for c in ours.columns]
    recorded = assaults_raw.assign(district=_code(assaults_raw["district"]), year=assaults_raw["date"].str[:4].astype(int))
    recorded = recorded.groupby(["district", "year"]).size().unstack(fill_value=0)
    rows = recorded.index.union(ours.index)
    ours = ours.reindex(rows, columns=recorded.columns, fill_value=0)
    l1 = (ours - recorded.reindex(rows, fill_value=0)).abs().to_numpy().sum() / recorded.to_numpy().sum()
    assert 0 < l1 <= 2 * (1 - DISTRICT_AGREEMENT_README), l1
    assert ours.to_numpy().sum() == chicago.con().execute(
        "SELECT count(*) FROM events WHERE dept = 'cod_assaults' AND grid_large IS NOT NULL").fetchall()[0][0]


# ---------------------------------------------------------------------------------------------------------------
# NYC: city (large, dissolved) ⊃ borough (medium) ⊃ community district (small); two 311 one-day samples

NYC311 = ("nyc311_2013-12-25_sample.csv", "nyc311_2022-05-01_sample.csv")
NYC_TIME = "%m/%d/%Y %I:%M:%S %p"


@pytest.fixture(scope="module")
def nyc_events(nyc: Loaded) -> pd.DataFrame:
    return nyc.con().execute(
        "SELECT e.source_id, e.category, e.status, e.reported_at, e.closed_at, e.due_at, e.location_from, "
        "e.outside_grid, e.grid_small, e.grid_medium, e.grid_large, b.file_path FROM events e "
        "JOIN load_batches b USING (batch_id)").df()


def _nyc_raw(name: str) -> pd.DataFrame:
    return pd.read_csv(REAL / "nyc" / name, dtype=str, keep_default_na=False)


def test_nyc_grids(nyc: Loaded) -> None:
    districts = pyogrio.read_dataframe(REAL / "nyc" / "nyc_community_districts_dcp2013.geojson", read_geometry=False)
    boroughs = pyogrio.read_dataframe(REAL / "nyc" / "nyc_boroughs_dcp2013.geojson", read_geometry=False)
    assert nyc.report.grids.counts == {"large": 1, "medium": len(boroughs), "small": len(districts)}
    stored = dict(nyc.con().execute("SELECT grid_code, parent_code FROM grids WHERE level = 'small'").fetchall())
    assert stored == {str(cd): str(cd // 100) for cd in districts["BoroCD"]}


def test_nyc_row_accounting(nyc: Loaded) -> None:
    _accounting_holds(nyc)
    con = nyc.con()
    for name in NYC311:
        raw = _nyc_raw(name)
        result = _file(nyc.report, name.removesuffix(".csv"))
        assert result.rows_in == len(raw)
        no_point = (raw["Latitude"] == "") | (raw["Longitude"] == "")
        reasons = dict(con.execute(
            "SELECT r.reason, count(*) FROM rejects r JOIN load_batches b USING (batch_id) WHERE b.file_path = ? "
            "GROUP BY ALL", [str(result.path)]).fetchall())
        unlocated = sum(n for reason, n in reasons.items() if reason.startswith("no usable location"))
        assert unlocated == int(no_point.sum())
        # the only other reason real rows give: a Closed Date before the Created Date
        created = pd.to_datetime(raw["Created Date"], format=NYC_TIME)
        closed = pd.to_datetime(raw["Closed Date"], format=NYC_TIME, errors="coerce")
        other = result.rejected - unlocated
        assert 0 <= other <= int(((closed < created) & ~no_point).sum()), reasons
        assert result.loaded == len(raw) - result.rejected


def test_nyc_community_board_agreement(nyc_events: pd.DataFrame) -> None:
    rates = []
    for name in NYC311:
        raw = _nyc_raw(name)
        events = nyc_events[nyc_events["file_path"].str.endswith(name)]
        merged = events.merge(raw, left_on="source_id", right_on="Unique Key", validate="1:1")
        assert len(merged) == len(events)
        located = merged[merged["location_from"] == "point"]
        assert 1 - located["outside_grid"].mean() >= INSIDE_SOME_POLYGON
        recorded = _recorded_boro_cd(located["Community Board"])
        specified = recorded.notna()
        rate = (located.loc[specified, "grid_small"] == recorded[specified]).mean()
        rates.append(rate)
        assert rate >= COMMUNITY_BOARD_AGREEMENT, (name, rate)
        # the recorded borough (of a specified board) agrees even more often
        borough = recorded[specified].str[0]
        assert (located.loc[specified, "grid_medium"] == borough).mean() >= rate
    assert (nyc_events["grid_large"].dropna() == "NYC").all()


def test_nyc_status_times_and_categories(nyc_events: pd.DataFrame) -> None:
    for name in NYC311:
        raw = _nyc_raw(name)
        events = nyc_events[nyc_events["file_path"].str.endswith(name)]
        merged = events.merge(raw, left_on="source_id", right_on="Unique Key", validate="1:1")
        expected = {"Closed": "closed", "Open": "reported", "Pending": "reported", "Assigned": "dispatched",
                    "Started": "in_progress", "In Progress": "in_progress"}
        assert (merged["status"] == merged["Status"].map(expected)).all()
        closed = merged["status"] == "closed"
        assert (merged.loc[closed, "closed_at"] == pd.to_datetime(merged.loc[closed, "Closed Date"], format=NYC_TIME)).all()
        assert merged.loc[~closed, "closed_at"].isna().all()
        assert (merged["reported_at"] == pd.to_datetime(merged["Created Date"], format=NYC_TIME)).all()
        due = pd.to_datetime(merged["Due Date"], format=NYC_TIME, errors="coerce")
        assert (merged.loc[due.notna(), "due_at"] == due[due.notna()]).all()
        assert merged.loc[due.isna(), "due_at"].isna().all()
        noise = merged["Complaint Type"].str.startswith("Noise")
        assert (merged.loc[noise, "category"] == "nyc311_noise").all()
        assert (merged.loc[~noise, "category"] != "nyc311_noise").all()
        assert (merged.loc[merged["Complaint Type"] == "HEATING", "category"] == "nyc311_heat_hot_water").all()


# ---------------------------------------------------------------------------------------------------------------
# Guangdong: province (large, dissolved) ⊃ city (medium) ⊃ county (small); DataV outlines in GCJ-02


def _gd(name: str) -> gpd.GeoDataFrame:
    return pyogrio.read_dataframe(REAL / "china" / name)


def test_guangdong_counts_and_codes(guangdong: Loaded) -> None:
    counties = _gd("guangdong_counties_datav_gcj02.geojson")
    cities = _gd("guangdong_cities_datav_gcj02.geojson")
    assert guangdong.report.grids.counts == {"large": 1, "medium": len(cities), "small": len(counties)}
    assert (len(counties), len(cities)) == (124, 21)  # as the README and MANIFEST say
    stored = dict(guangdong.con().execute("SELECT grid_code, parent_code FROM grids WHERE level = 'small'").fetchall())
    adcode, city = counties["adcode"].astype(str), counties["city_code"].astype(str)
    expected = dict(zip(adcode.where(adcode != city, adcode + "-county"), city))
    assert stored == expected
    assert set(stored.values()) == set(cities["adcode"].astype(str))


def test_guangdong_invalid_outlines_are_repaired_with_a_note(guangdong: Loaded) -> None:
    notes = guangdong.report.grids.notes
    for vrt, raw in (("counties.vrt", "guangdong_counties_datav_gcj02.geojson"),
                     ("cities.vrt", "guangdong_cities_datav_gcj02.geojson")):
        invalid = int((~_gd(raw).geometry.is_valid).sum())
        assert invalid > 0
        (note,) = [n for n in notes if n.startswith(vrt) and "repaired" in n]
        assert re.search(rf"\b{invalid}\b", note), note
    geometries = shapely.from_wkb([bytes(b) for (b,) in guangdong.con().execute("SELECT geometry FROM grids").fetchall()])
    assert shapely.is_valid(geometries).all()
    assert set(shapely.get_type_id(geometries)) <= {3, 6}  # polygons and multipolygons only


def _shanwei(guangdong: Loaded) -> gpd.GeoDataFrame:
    rows = guangdong.con().execute(
        "SELECT grid_code, area_km2, geometry FROM grids WHERE parent_code = '441500' ORDER BY grid_code").df()
    return gpd.GeoDataFrame(rows.drop(columns="geometry"), crs=4326,
                            geometry=shapely.from_wkb([bytes(b) for b in rows["geometry"]]))


def test_shanwei_areas_are_plausible(guangdong: Loaded) -> None:
    ours = _shanwei(guangdong)
    raw = _gd("shanwei_counties_datav_gcj02.geojson")
    assert sorted(ours["grid_code"]) == sorted(raw["adcode"].astype(str))
    # the stored area is the equal-area area of the converted outline; the GCJ-02 shift barely changes it
    assert ours["area_km2"].to_numpy() == pytest.approx(ours.to_crs(EQUAL_AREA).area.to_numpy() / 1e6, rel=1e-6)
    raw_total = raw.to_crs(EQUAL_AREA).area.sum() / 1e6
    total = ours["area_km2"].sum()
    assert total == pytest.approx(raw_total, rel=0.005)
    # 城区 (441502) carries the 东沙群岛 outlines (Pratas atoll and banks, far south-east, below 21.5°N).
    parts = ours.explode(index_parts=False)
    parts["km2"] = parts.to_crs(EQUAL_AREA).area / 1e6
    offshore = parts.geometry.representative_point().y < 21.5
    assert set(parts.loc[offshore, "grid_code"]) == {"441502"}
    mainland = parts.loc[~offshore, "km2"].sum()
    # 汕尾 is about 4,865 km² of land by official figures; DataV's generalised coast adds a little.
    assert 4800 <= mainland <= 5300, mainland
    # the atoll outlines (with lagoon and banks) are a few hundred km²; the total is mainland + offshore
    assert 100 <= total - mainland <= 500, total - mainland
    city = guangdong.con().execute("SELECT area_km2 FROM grids WHERE grid_code = '441500'").fetchone()[0]
    assert city == pytest.approx(total, rel=0.01)  # the city outline matches its counties


def test_shanwei_gcj02_to_wgs84_shift(guangdong: Loaded) -> None:
    ours = _shanwei(guangdong).set_index("grid_code")
    raw = _gd("shanwei_counties_datav_gcj02.geojson").set_index("adcode")
    derived = _gd("shanwei_counties_datav_wgs84_derived.geojson").set_index("adcode")
    geod = pyproj.Geod(ellps="WGS84")
    to_raw, to_derived = [], []
    for code, geometry in ours.geometry.items():
        a = shapely.get_coordinates(geometry)
        r = shapely.get_coordinates(raw.geometry[code])
        d = shapely.get_coordinates(derived.geometry[code])
        assert a.shape == r.shape == d.shape  # valid outlines: converted vertex by vertex, nothing repaired
        to_raw.append(geod.inv(a[:, 0], a[:, 1], r[:, 0], r[:, 1])[2])
        to_derived.append(geod.inv(a[:, 0], a[:, 1], d[:, 0], d[:, 1])[2])
    shift, error = np.concatenate(to_raw), np.concatenate(to_derived)
    low, high = GCJ_SHIFT_SHANWEI_M
    assert low - 10 <= np.median(shift) <= high + 10, np.median(shift)
    assert 500 <= shift.min() and shift.max() <= 620, (shift.min(), shift.max())  # offshore islands vary most
    assert error.max() < 5.0, error.max()  # the derived files are a 1-2 m single-step inverse
