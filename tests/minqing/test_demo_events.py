"""The demo's seven department exports, read back independently of the generator.

The files are read with pandas / openpyxl / geopandas and interpreted only through the mapping
files and data/categories.toml; the generator's internals are not used. A small stand-in city
(a lattice of squares near Shanwei) keeps the run short.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import geopandas
import numpy as np
import openpyxl
import pandas as pd
import pyproj
import pytest
import shapely

from etl.mapping import Mapping, load_mapping
from minqing.demo import events as demo_events
from minqing.demo.events import EventsTruth, write_events
from references import PUBLISHED
from stand_in_city import StandInCity, stand_in_city
from etl.coords import gcj02_to_bd09, wgs84_to_gcj02

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "data" / "demo" / "mappings"
CATEGORIES = tomllib.loads((REPO / "data" / "categories.toml").read_text(encoding="utf-8"))
DISPUTE_CODES = frozenset(code for code, spec in CATEGORIES.items() if spec.get("dispute_class"))
NOW = pd.Timestamp("2025-12-31 23:59:59")
EVENTS = 60_000  # the smallest round figure that holds the calibrated disputes
DEPTS = ("grid_app", "police110", "petition", "mediation", "hotline12345", "natural_resources", "urban_mgmt")


# --------------------------------------------------------------------------- a stand-in city


@pytest.fixture(scope="module")
def city() -> StandInCity:
    return stand_in_city()


@pytest.fixture(scope="module")
def written(city: StandInCity, tmp_path_factory: pytest.TempPathFactory) -> EventsTruth:
    return write_events(city, tmp_path_factory.mktemp("raw"), events=EVENTS, seed=11)


@pytest.fixture(scope="module")
def mappings() -> dict[str, Mapping]:
    known = frozenset(CATEGORIES)
    return {d: load_mapping(MAPPINGS / f"{d}.toml", known_categories=known) for d in DEPTS}


# --------------------------------------------------------------------------- independent reading


def read_raw(path: Path, mapping: Mapping) -> pd.DataFrame:
    """The file's rows as source values (strings, numbers, datetimes), with __x/__y for geometries."""
    if path.suffix == ".jsonl":
        return pd.DataFrame([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()], dtype=object)
    if path.suffix == ".csv":
        return pd.read_csv(path, encoding=mapping.encoding, dtype=str, keep_default_na=False)
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        rows = list(book[mapping.sheet].iter_rows(values_only=True))
        book.close()
        return pd.DataFrame(rows[1:], columns=rows[0], dtype=object)
    if path.suffix == ".gpkg":
        gdf = geopandas.read_file(path, layer=mapping.layer)
        frame = pd.DataFrame(gdf.drop(columns="geometry"), dtype=object)
        frame["__x"], frame["__y"] = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
        return frame
    raise AssertionError(path)


def text(series: pd.Series) -> pd.Series:
    return series.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip())


def parse_times(values: pd.Series, formats: list[str]) -> tuple[pd.Series, pd.Series]:
    """(parsed naive local times, given) — NaT where given but not readable."""
    given = text(values) != ""
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    native = values.map(lambda v: isinstance(v, dt.datetime))
    out[native] = pd.to_datetime(values[native].tolist())
    todo = given & ~native
    for fmt in formats:
        if not todo.any():
            break
        raw = text(values[todo])
        if fmt == "iso":
            parsed = pd.to_datetime(raw, format="ISO8601", utc=True, errors="coerce")
            parsed = parsed.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
        elif fmt == "excel":
            continue
        else:
            parsed = pd.to_datetime(raw, format=fmt, errors="coerce")
        hit = parsed.notna()
        out[hit[hit].index] = parsed[hit]
        todo[hit[hit].index] = False
    return out, given


def wgs84_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def inverse(forward, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Invert a forward offset transform by fixed-point iteration."""
    gx, gy = x.copy(), y.copy()
    for _ in range(8):
        fx, fy = forward(gx, gy)
        gx, gy = gx - (fx - x), gy - (fy - y)
    return gx, gy


def to_wgs84(x: np.ndarray, y: np.ndarray, system: str) -> tuple[np.ndarray, np.ndarray]:
    if system == "wgs84":
        return x, y
    if system == "gcj02":
        return inverse(wgs84_to_gcj02, x, y)
    if system == "bd09":
        return inverse(wgs84_to_bd09, x, y)
    lon, lat = pyproj.Transformer.from_crs(system.upper(), "EPSG:4326", always_xy=True).transform(x, y)
    return np.asarray(lon), np.asarray(lat)


def canonical(dept: str, path: Path, mapping: Mapping, city: StandInCity) -> pd.DataFrame:
    """Rows as canonical values plus `problem` (why the loader must reject it, "" if valid)."""
    raw = read_raw(path, mapping)
    col = lambda field: raw[mapping.column(field)[0]] if mapping.column(field) else pd.Series("", index=raw.index)
    out = pd.DataFrame(index=raw.index)
    out["dept"] = dept
    out["source_id"] = text(col("source_id"))
    out["category"] = text(col("category")).map(mapping.category_map)
    out["status"] = text(col("status")).map(mapping.status_map)
    problem = pd.Series("", index=raw.index)

    def flag(mask: pd.Series, why: str) -> None:
        problem[mask & (problem == "")] = why

    flag(out["source_id"] == "", "id")
    flag(out["category"].isna(), "category")
    flag(out["status"].isna(), "status")
    for field in ("reported_at", "dispatched_at", "closed_at", "due_at"):
        if not mapping.column(field):
            out[field] = pd.NaT
            continue
        parsed, given = parse_times(col(field), mapping.time_formats)
        out[field] = parsed
        if field == "reported_at":
            flag(~given, "time missing")
        flag(given & parsed.isna(), "time unreadable")
    flag(out["closed_at"] < out["reported_at"], "closed before reported")
    flag((out["status"] == "closed") & out["closed_at"].isna(), "closed without time")

    has_point = pd.Series(False, index=raw.index)
    out["lon"], out["lat"] = np.nan, np.nan
    if mapping.from_geometry:
        x, y = raw["__x"].to_numpy(float), raw["__y"].to_numpy(float)
        has_point[:] = np.isfinite(x) & np.isfinite(y)
    elif mapping.column("lon"):
        xs, ys = col("lon"), col("lat")
        x = pd.to_numeric(text(xs), errors="coerce").to_numpy(float)
        y = pd.to_numeric(text(ys), errors="coerce").to_numpy(float)
        flag(((text(xs) != "") & np.isnan(x)) | ((text(ys) != "") & np.isnan(y)), "coordinates")
        has_point[:] = np.isfinite(x) & np.isfinite(y)
    if has_point.any():
        lon, lat = to_wgs84(x[has_point], y[has_point], mapping.coordinate_system)
        out.loc[has_point, "lon"], out.loc[has_point, "lat"] = lon, lat
    out["has_point"] = has_point
    out["inside"] = has_point & shapely.contains_xy(city.outline, out["lon"].fillna(0).to_numpy(), out["lat"].fillna(0).to_numpy())

    codes = text(col("grid_code"))
    known = set(city.small["grid_code"])
    use_code = ~has_point & (codes != "")
    flag(use_code & ~codes.isin(known), "grid code")
    out["inside"] |= use_code & codes.isin(known)
    towns = dict(zip(city.large["grid_code"], city.large["name"]))
    pairs = [(towns[p], n) for p, n in zip(city.medium["parent_code"], city.medium["name"])]
    address = text(col("address"))
    by_address = ~has_point & (codes == "")
    found = address[by_address].map(lambda a: any(t in a and v in a for t, v in pairs))
    out["by_address"] = False
    out.loc[found.index, "by_address"] = found
    flag(by_address & ~out["by_address"], "no place")

    out["link_dept"], out["link_id"] = "", ""
    link = mapping.link
    if link is not None:
        ids = text(raw[link.id_field])
        depts = text(raw[link.dept_field]).map(lambda v: link.dept_map.get(v, "")) if link.dept_field else pd.Series(link.dept, index=raw.index)
        linked = (ids != "") & (depts != "")
        out.loc[linked, "link_dept"], out.loc[linked, "link_id"] = depts[linked], ids[linked]
    out["problem"] = problem
    out["raw_key"] = pd.util.hash_pandas_object(raw.map(repr), index=False).to_numpy()
    return out


@pytest.fixture(scope="module")
def rows(written: EventsTruth, mappings: dict[str, Mapping], city: StandInCity) -> dict[str, pd.DataFrame]:
    return {d: canonical(d, written.files[d], mappings[d], city) for d in DEPTS}


def resolved_by_year(rows: dict[str, pd.DataFrame]) -> dict[int, int]:
    """Disputes resolved per year, recomputed from the canonical rows (the published definition)."""
    frames = []
    for frame in rows.values():
        ok = frame[(frame["problem"] == "") & frame["category"].isin(DISPUTE_CODES) & (frame["status"] == "closed")
                   & frame["inside"]]
        incident = np.where(ok["link_id"] != "", ok["link_dept"] + ":" + ok["link_id"], ok["dept"] + ":" + ok["source_id"])
        frames.append(pd.DataFrame({"incident": incident, "closed_at": ok["closed_at"].to_numpy()}))
    allrows = pd.concat(frames)
    first = allrows.groupby("incident")["closed_at"].min()
    return {int(y): int(n) for y, n in first.dt.year.value_counts().sort_index().items()}


# --------------------------------------------------------------------------- tests


def test_files_and_row_counts_match_the_truth(written: EventsTruth, rows: dict[str, pd.DataFrame]) -> None:
    assert set(written.files) == set(DEPTS)
    for dept in DEPTS:
        assert written.files[dept].name == demo_events.FILES[dept]
        assert len(rows[dept]) == written.rows_by_dept[dept], dept
    assert sum(written.rows_by_dept.values()) - sum(written.bad_rows_by_dept.values()) \
        - sum(written.repeated_rows_by_dept.values()) == EVENTS


def test_encodings_and_native_formats(written: EventsTruth) -> None:
    police = written.files["police110"].read_bytes()
    police.decode("gbk")
    with pytest.raises(UnicodeDecodeError):
        police.decode("utf-8")
    assert police.startswith("警情编号".encode("gbk"))
    assert re.search(rb"\n110-\d{8}-\d{6},\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2},", police)
    assert re.search(rb",\d{4}/[1-9]/[1-9] [0-9]:\d{2},", police)  # no zero padding

    assert written.files["hotline12345"].read_bytes().startswith(b"\xef\xbb\xbf")
    urban = written.files["urban_mgmt"].read_text(encoding="utf-8")
    assert not urban.startswith("\ufeff")
    assert re.search(r",\d{4}年\d{1,2}月\d{1,2}日 \d{2}时\d{2}分,", urban)

    lines = written.files["grid_app"].read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    times = [r["reportTime"] for r in records if isinstance(r.get("reportTime"), str)]
    offset = [t for t in times if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00", t)]
    assert len(offset) >= len(records) - written.bad_rows_by_dept["grid_app"]
    assert all(isinstance(r["lng"], float) for r in records[:50])

    gdf = geopandas.read_file(written.files["natural_resources"])
    assert gdf.crs.to_epsg() == 4547
    assert set(gdf.geom_type) == {"Point"}
    assert gdf.geometry.x.between(500_000, 900_000).mean() > 0.99  # metres east of CM 114E (+500 km false easting)
    for dept in ("petition", "mediation"):
        sheet = openpyxl.load_workbook(written.files[dept], read_only=True).worksheets[0]
        second = next(sheet.iter_rows(min_row=2, max_row=2, values_only=True))
        assert any(isinstance(v, dt.datetime) for v in second)


def test_bad_rows_repeats_and_outside_rows_match_the_truth(written: EventsTruth, rows: dict[str, pd.DataFrame]) -> None:
    for dept, frame in rows.items():
        bad = frame["problem"] != ""
        assert int(bad.sum()) == written.bad_rows_by_dept[dept], (dept, frame["problem"].value_counts().to_dict())
        assert 0.004 <= bad.mean() <= 0.012, dept
        kinds = set(frame.loc[bad, "problem"])
        assert len(kinds) >= 5, (dept, kinds)  # several kinds of bad rows
        assert int(frame["raw_key"].duplicated().sum()) == written.repeated_rows_by_dept[dept], dept
        assert int(frame.loc[bad, "raw_key"].duplicated().sum()) == 0  # repeats are copies of valid rows
        outside = ~bad & frame["has_point"] & ~frame["inside"]
        assert int(outside.sum()) == written.outside_city_by_dept[dept], dept
    assert written.outside_city_by_dept["grid_app"] > 0 and written.outside_city_by_dept["natural_resources"] > 0
    for dept in ("petition", "mediation"):
        assert "grid code" in set(rows[dept]["problem"])
    assert "coordinates" in set(rows["police110"]["problem"])


def test_ids_are_unique_apart_from_repeats(rows: dict[str, pd.DataFrame]) -> None:
    for dept, frame in rows.items():
        distinct = frame.drop_duplicates("raw_key")
        ids = distinct.loc[distinct["source_id"] != "", "source_id"]
        assert ids.is_unique, dept
    assert rows["police110"]["source_id"].str.fullmatch(r"110-\d{8}-\d{6}|").all()
    assert rows["petition"]["source_id"].str.fullmatch(r"XF\d{10}|").all()


def test_texts_of_valid_rows_are_in_the_mappings(written: EventsTruth, mappings: dict[str, Mapping]) -> None:
    unknown = {d: 0 for d in DEPTS}
    for dept in DEPTS:
        frame = read_raw(written.files[dept], mappings[dept])
        category = text(frame[mappings[dept].column("category")[0]])
        status = text(frame[mappings[dept].column("status")[0]])
        unknown[dept] = int((~category.isin(mappings[dept].category_map) | ~status.isin(mappings[dept].status_map)).sum())
        assert 0 < unknown[dept] < written.bad_rows_by_dept[dept], dept  # only some bad rows carry unknown texts
    recipe = demo_events.load_recipe()
    for dept in DEPTS:
        spec = recipe["departments"][dept]
        for text_, code, _weight in spec["categories"]:
            assert mappings[dept].category_map[text_] == code
        for status, table in spec["status"].items():
            assert all(mappings[dept].status_map[t] == status for t in table)
        for bad in recipe["bad_rows"]["unknown_categories"]:
            assert bad not in mappings[dept].category_map
        for bad in recipe["bad_rows"]["unknown_statuses"]:
            assert bad not in mappings[dept].status_map


def test_resolved_disputes_match_the_published_figures(written: EventsTruth, rows: dict[str, pd.DataFrame]) -> None:
    resolved = resolved_by_year(rows)
    assert {y: resolved.get(y) for y in PUBLISHED} == PUBLISHED
    assert resolved == written.resolved_disputes_by_year
    assert all(4_000 <= resolved[y] <= 8_000 for y in range(2022, 2026))
    assert resolved[2025] > resolved[2022]
    # Most disputes come through mediation, but every department that sees disputes contributes.
    share = {d: int((rows[d]["category"].isin(DISPUTE_CODES) & (rows[d]["problem"] == "")).sum()) for d in DEPTS}
    assert share["mediation"] == max(share.values())
    assert all(share[d] > 0 for d in ("petition", "police110", "hotline12345", "grid_app"))
    assert share["natural_resources"] == share["urban_mgmt"] == 0


def test_links_name_earlier_reports_of_other_departments(rows: dict[str, pd.DataFrame]) -> None:
    valid = {d: f[f["problem"] == ""].drop_duplicates("raw_key").set_index("source_id") for d, f in rows.items()}
    seen = 0
    for dept, frame in valid.items():
        linked = frame[frame["link_id"] != ""]
        for target_dept, group in linked.groupby("link_dept"):
            target = valid[target_dept]
            assert group["link_id"].isin(target.index).all(), (dept, target_dept)
            earlier = target.loc[group["link_id"], "reported_at"].to_numpy()
            assert (earlier <= group["reported_at"].to_numpy()).all(), (dept, target_dept)
            assert (target.loc[group["link_id"], "link_id"] == "").all()  # no chains
            seen += len(group)
        assert frame["link_id"].loc[frame["link_id"] != ""].is_unique, dept
    assert {d for d, f in valid.items() if (f["link_id"] != "").any()} == {"mediation", "hotline12345", "urban_mgmt"}
    assert seen > 0
    links = valid["mediation"]["link_dept"].value_counts()
    assert links.get("petition", 0) > 0 and links.get("police110", 0) > 0


def test_workflow_times_are_consistent(rows: dict[str, pd.DataFrame], mappings: dict[str, Mapping]) -> None:
    for dept, frame in rows.items():
        ok = frame[frame["problem"] == ""]
        assert (ok["reported_at"] >= pd.Timestamp("2019-01-01")).all() and (ok["reported_at"] <= NOW).all()
        assert (ok["dispatched_at"].isna() | (ok["dispatched_at"] >= ok["reported_at"])).all(), dept
        assert (ok["closed_at"].isna() | (ok["closed_at"] >= ok["dispatched_at"].fillna(ok["reported_at"]))).all(), dept
        assert (ok["closed_at"].isna() | (ok["closed_at"] <= NOW)).all(), dept
        assert ((ok["status"] == "closed") == ok["closed_at"].notna()).all(), dept
        assert ((ok["status"] == "reported") == ok["dispatched_at"].isna()).all(), dept
        # Due times from the mapping's rules: the on-time rate of closed reports is about 85-90 %.
        due = due_times(ok, mappings[dept])
        if dept == "hotline12345":
            assert (due == ok["due_at"]).all()  # the file's 办理时限 follows the mapping's rules
        closed = ok["closed_at"].notna()
        on_time = (ok.loc[closed, "closed_at"] <= due[closed]).mean()
        assert 0.8 <= on_time <= 0.95, (dept, on_time)
        # Old reports are nearly all closed, recent ones often open; a few old ones are overdue.
        old = ok["reported_at"] < pd.Timestamp("2025-06-01")
        assert ok.loc[old, "closed_at"].notna().mean() > 0.95, dept
        last_week = ok["reported_at"] > pd.Timestamp("2025-12-24")
        if last_week.sum() >= 20:
            assert ok.loc[last_week, "closed_at"].isna().mean() > 3 * ok.loc[old, "closed_at"].isna().mean(), dept
        assert (ok.loc[old, "closed_at"].isna() & (due[old] < NOW)).sum() > 0, dept


def due_times(frame: pd.DataFrame, mapping: Mapping) -> pd.Series:
    """Due times from the rules, computed here: calendar hours, or Mon-Fri working days from the next working day."""
    out = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    for code, group in frame.groupby("category"):
        rule = mapping.due_rules.get(code, mapping.due_default)
        t = group["reported_at"]
        if rule.hours is not None:
            out[group.index] = t + pd.to_timedelta(rule.hours, unit="h")
        else:
            days = t.dt.normalize()
            shifted = np.busday_offset(days.to_numpy().astype("datetime64[D]"), rule.working_days, roll="forward")
            out[group.index] = pd.to_datetime(shifted) + (t - days).to_numpy()
    return out


def test_time_and_place_patterns(rows: dict[str, pd.DataFrame], city: StandInCity) -> None:
    allrows = pd.concat([f[f["problem"] == ""] for f in rows.values()])
    years = allrows["reported_at"].dt.year.value_counts().sort_index()
    assert list(years.index) == list(range(2019, 2026))
    assert years[2025] > 1.5 * years[2019]
    urban = rows["urban_mgmt"]["reported_at"].dt.month.value_counts()
    assert urban[[7, 8]].sum() > 1.3 * urban[[1, 2]].sum()  # more urban complaints in summer
    disputes = allrows[allrows["category"].isin(DISPUTE_CODES)]["reported_at"].dt.month.value_counts()
    assert disputes[[1, 2]].sum() > disputes[[4, 5]].sum()  # more disputes around Spring Festival
    petition_days = rows["petition"]["reported_at"].dt.day_of_week.value_counts()
    assert petition_days[[5, 6]].sum() < 0.1 * len(rows["petition"])  # offices are closed at weekends
    police_hours = rows["police110"]["reported_at"].dt.hour.value_counts()
    assert police_hours[[20, 21, 22]].sum() > 2 * police_hours[[3, 4, 5]].sum()
    # Points cluster where people live: the densest town holds more than its share of area.
    points = allrows[allrows["inside"] & allrows["has_point"]]
    town = city.large.iloc[0]
    in_town = shapely.contains_xy(town.geometry, points["lon"].to_numpy(), points["lat"].to_numpy()).mean()
    assert in_town > 0.3
    # Petitions without a grid code still name their town and village.
    assert rows["petition"]["by_address"].sum() > 0


def test_same_seed_same_bytes_and_small_runs_scale_the_targets(city: StandInCity, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="calibration is off"):
        first = write_events(city, tmp_path / "a", events=3_000, seed=5)
    with pytest.warns(UserWarning):
        second = write_events(city, tmp_path / "b", events=3_000, seed=5)
    with pytest.warns(UserWarning):
        other = write_events(city, tmp_path / "c", events=3_000, seed=6)
    for dept in DEPTS:
        assert first.files[dept].read_bytes() == second.files[dept].read_bytes(), dept
    assert first.files["police110"].read_bytes() != other.files["police110"].read_bytes()
    assert {**first.__dict__, "files": None} == {**second.__dict__, "files": None}
    scaled = first.resolved_disputes_by_year
    assert all(0 < scaled[y] < PUBLISHED[y] for y in PUBLISHED)
    assert scaled[2020] / scaled[2019] == pytest.approx(PUBLISHED[2020] / PUBLISHED[2019], rel=0.02)
    known = frozenset(CATEGORIES)
    small_rows = {d: canonical(d, first.files[d], load_mapping(MAPPINGS / f"{d}.toml", known_categories=known), city)
                  for d in DEPTS}
    assert resolved_by_year(small_rows) == scaled


def test_mapping_files_validate(mappings: dict[str, Mapping]) -> None:
    assert {m.department for m in mappings.values()} == set(DEPTS)
    assert mappings["natural_resources"].coordinate_system == "epsg:4547" and mappings["natural_resources"].from_geometry
    assert mappings["grid_app"].coordinate_system == "gcj02" and mappings["hotline12345"].coordinate_system == "bd09"
    assert mappings["grid_app"].time_formats == ["iso"]
    for dept in DEPTS:
        assert mappings[dept].due_default is not None
