"""The demo's grid workers: the roster XLSX and the monthly check-in files, read back independently of the generator.

The files are read with openpyxl and json and interpreted through the mappings (roster.toml, patrol.toml), the
recipe and the city's grids; the generator's internals are not used, only the truth it returns is compared.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tomllib
import warnings
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyproj
import pytest
import shapely

from etl.coords import gcj02_to_wgs84
from etl.persons import is_mobile
from minqing.demo.city import City, build_city
from minqing.demo.events import EventsTruth, write_events
from minqing.demo.patrol import GridWorkersTruth, write_grid_workers

REPO = Path(__file__).resolve().parents[2]
RECIPE = tomllib.loads((REPO / "data" / "demo" / "recipe.toml").read_text(encoding="utf-8"))
ROSTER_MAP = tomllib.loads((REPO / "data" / "demo" / "mappings" / "roster.toml").read_text(encoding="utf-8"))
PATROL_MAP = tomllib.loads((REPO / "data" / "demo" / "mappings" / "patrol.toml").read_text(encoding="utf-8"))
ROLES = ROSTER_MAP["role"]["map"]
TYPES = PATROL_MAP["visit_type"]["map"]
SEP = ROSTER_MAP["roster"]["separator"]
SEED = 7
SINCE = dt.date(2025, 11, 1)
NOW = dt.date(2025, 12, 31)
HEADER = ["序号", "人员编号", "姓名", "性别", "联系电话", "岗位", "所属网格编码", "所属网格名称", "联系户数", "入职日期", "离岗日期", "备注"]
KEYS = ["checkinId", "workerNo", "checkinTime", "checkinType", "eventNo", "lng", "lat", "address", "remark"]
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00")
UTM50 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)


# --------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def city() -> City:
    return build_city(SEED)


@pytest.fixture(scope="module")
def events(city: City, tmp_path_factory: pytest.TempPathFactory) -> EventsTruth:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 20,000 events cannot hold the calibrated disputes: they are scaled down
        return write_events(city, tmp_path_factory.mktemp("events"), events=20_000, seed=SEED)


def _run(city: City, events: EventsTruth, directory: Path, **window: dt.date) -> GridWorkersTruth:
    return write_grid_workers(city, directory, seed=SEED, events=events.refs_by_dept["grid_app"], **window)


@pytest.fixture(scope="module")
def written(city: City, events: EventsTruth, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GridWorkersTruth]:
    raw = tmp_path_factory.mktemp("raw")
    return raw, _run(city, events, raw, since=SINCE)


@pytest.fixture(scope="module")
def truth(written: tuple[Path, GridWorkersTruth]) -> GridWorkersTruth:
    return written[1]


# --------------------------------------------------------------------------- reading the files back


@pytest.fixture(scope="module")
def grids(city: City) -> dict[str, object]:
    small = city.small.reset_index(drop=True)
    codes = small["grid_code"].astype(str).tolist()
    return {
        "codes": codes,
        "index": {c: i for i, c in enumerate(codes)},
        "parent": small["parent_code"].astype(str).to_numpy(),
        "polys": np.asarray(small.geometry.values, dtype=object),
        "medium": city.medium["grid_code"].astype(str).tolist(),
    }


@pytest.fixture(scope="module")
def sheet(written: tuple[Path, GridWorkersTruth]) -> list[tuple]:
    book = openpyxl.load_workbook(written[0] / "roster.xlsx")
    assert book.sheetnames == ["网格人员花名册"]
    return [tuple(cell.value for cell in row) for row in book["网格人员花名册"].iter_rows()]


@pytest.fixture(scope="module")
def roster(sheet: list[tuple], grids: dict) -> pd.DataFrame:
    frame = pd.DataFrame(sheet[1:], columns=sheet[0])
    known = set(grids["codes"]) | set(grids["medium"])
    parts = frame["所属网格编码"].fillna("").str.split(SEP)
    frame["codes"] = parts
    frame["valid"] = (frame["岗位"].isin(list(ROLES)) & frame["人员编号"].notna()
                      & parts.map(lambda cs: all(c in known for c in cs)))
    frame["duplicate"] = frame[HEADER].duplicated()
    return frame


@pytest.fixture(scope="module")
def people(roster: pd.DataFrame) -> pd.DataFrame:
    """Valid distinct persons, indexed by 人员编号."""
    return roster[roster["valid"] & ~roster["duplicate"]].set_index("人员编号")


def _read_lines(paths: list[Path]) -> pd.DataFrame:
    lines = [line for path in paths for line in path.read_text(encoding="utf-8").splitlines()]
    records = [json.loads(line) for line in lines]
    frame = pd.DataFrame(records)
    frame["line"] = lines
    frame["keys"] = [list(r) for r in records]
    return frame


@pytest.fixture(scope="module")
def checkins(written: tuple[Path, GridWorkersTruth], people: pd.DataFrame, grids: dict) -> pd.DataFrame:
    frame = _read_lines(sorted((written[0] / "patrol").glob("*.jsonl")))
    frame["repeat"] = frame["line"].duplicated()
    numeric = frame["lng"].map(lambda v: isinstance(v, float)) & frame["lat"].map(lambda v: isinstance(v, float))
    timed = frame["checkinTime"].map(lambda v: isinstance(v, str) and bool(ISO.fullmatch(v)))
    frame["valid"] = numeric & timed & frame["workerNo"].notna() & frame["checkinType"].isin(list(TYPES))
    frame["time"] = pd.to_datetime(frame["checkinTime"].where(timed), format="%Y-%m-%dT%H:%M:%S%z").dt.tz_localize(None)
    frame["date"] = pd.to_datetime(frame["checkinId"].str[2:10], format="%Y%m%d").dt.date
    lon, lat = gcj02_to_wgs84(frame["lng"].where(numeric, np.nan).astype(float).to_numpy(),
                              frame["lat"].where(numeric, np.nan).astype(float).to_numpy())
    frame["lon"], frame["lat_wgs"] = lon, lat
    frame["grid"] = _locate(grids, lon, lat)
    frame["listed"] = frame["workerNo"].isin(people.index)
    own = people["codes"].map(lambda cs: [grids["index"].get(c, -1) for c in cs])  # leaders: a medium code
    frame["own"] = frame["workerNo"].map(own)
    frame["in_own"] = [g in o if isinstance(o, list) else False for g, o in zip(frame["grid"], frame["own"])]
    return frame


def _locate(grids: dict, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    ok = np.isfinite(lon)
    out = np.full(len(lon), -1)
    point, grid = shapely.STRtree(grids["polys"]).query(shapely.points(lon[ok], lat[ok]), predicate="within")
    out[np.flatnonzero(ok)[point]] = grid
    return out


def _holiday_dates(name: str) -> set[dt.date]:
    """The days of one public holiday of recipe [patrol.holidays], 2019-2025."""
    rule = RECIPE["patrol"]["holidays"][name]
    if "from_period" in rule:
        anchors = RECIPE["period"][rule["from_period"]]
    elif "dates" in rule:
        anchors = rule["dates"]
    else:
        anchors = [dt.date.fromisoformat(f"{y}-{rule['month_day']}") for y in range(2019, 2026)]
    first, last = rule["days"]
    return {a + dt.timedelta(days=k) for a in anchors for k in range(first, last + 1)}


def _working_days(first: dt.date, last: dt.date) -> list[dt.date]:
    holidays = set().union(*(_holiday_dates(name) for name in RECIPE["patrol"]["holidays"]))
    days = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    return [d for d in days if d.weekday() < 5 and d not in holidays]


# --------------------------------------------------------------------------- the roster


def test_roster_header_and_cells(sheet: list[tuple], roster: pd.DataFrame, truth: GridWorkersTruth) -> None:
    assert list(sheet[0]) == HEADER
    assert set(ROSTER_MAP["fields"].values()) <= set(HEADER)
    assert len(sheet) - 1 == truth.roster.rows
    valid = roster[roster["valid"]]
    assert valid["入职日期"].map(lambda v: isinstance(v, dt.datetime)).all()  # Excel date cells, not text
    assert valid["离岗日期"].map(lambda v: v is None or isinstance(v, dt.datetime)).all()
    heads = valid["岗位"] == "联户长"
    households = pd.to_numeric(valid["联系户数"])
    assert households[heads].between(10, 40).all()
    assert households[~heads].isna().all()
    assert set(valid["性别"]) == {"男", "女"}
    assert valid["联系电话"].map(is_mobile).all()
    assert valid["姓名"].str.fullmatch(r"[\u4e00-\u9fff]{2,4}").all()
    assert set(valid["岗位"]) == set(ROLES)


def test_every_grid_has_its_people(people: pd.DataFrame, grids: dict) -> None:
    active = people[people["离岗日期"].isna()]
    n_small = len(grids["codes"])
    workers = active[active["岗位"].isin(["专职网格员", "兼职网格员"])]
    per_grid = pd.Series([c for cs in workers["codes"] for c in cs]).value_counts()
    assert len(per_grid) == n_small and per_grid.between(1, 2).all()
    heads = active[active["岗位"] == "联户长"]["所属网格编码"].value_counts()
    assert len(heads) == n_small and heads.between(3, 6).all()
    leaders = active[active["岗位"] == "网格长"]["所属网格编码"]
    assert sorted(leaders) == sorted(grids["medium"])  # exactly one per village/community, at its MEDIUM code


def test_two_grid_workers_cover_adjacent_grids_of_one_village(people: pd.DataFrame, grids: dict,
                                                              truth: GridWorkersTruth) -> None:
    workers = people[people["岗位"].isin(["专职网格员", "兼职网格员"])]
    two = workers[workers["codes"].map(len) == 2]
    assert (workers["codes"].map(len) <= 2).all()
    assert 0.07 < len(two) / len(workers) < 0.13
    assert len(two) == truth.roster.two_grid_workers
    a = np.array([grids["index"][cs[0]] for cs in two["codes"]])
    b = np.array([grids["index"][cs[1]] for cs in two["codes"]])
    assert (grids["parent"][a] == grids["parent"][b]).all()
    assert shapely.touches(grids["polys"][a], grids["polys"][b]).all()
    names = two["所属网格名称"].str.split(SEP)
    assert (names.map(len) == 2).all()


def test_worker_ids_are_stable_and_unique(people: pd.DataFrame, roster: pd.DataFrame, grids: dict) -> None:
    valid = roster[roster["valid"] & ~roster["duplicate"]]
    assert valid["人员编号"].is_unique
    role = people["岗位"]
    first_index = people["codes"].map(lambda cs: grids["index"].get(cs[0], -1))
    workers = people[role.isin(["专职网格员", "兼职网格员"])].index.to_series()
    assert workers.str.fullmatch(r"WGY\d{6}").all()
    assert (workers.str[3:8].astype(int) == first_index[workers.index]).all()  # the grid_app `reporter` format
    heads = people[role == "联户长"].index.to_series()
    assert heads.str.fullmatch(r"LHZ\d{7}").all() and (heads.str[3:8].astype(int) == first_index[heads.index]).all()
    leaders = people[role == "网格长"]
    assert leaders.index.to_series().str.fullmatch(r"WGZ\d{5}").all()
    medium_index = leaders["所属网格编码"].map({c: i for i, c in enumerate(grids["medium"])})
    assert (leaders.index.str[3:].astype(int) == medium_index).all()


def test_entry_and_leaving_dates(people: pd.DataFrame) -> None:
    start = people["入职日期"].dt.date
    assert start.between(dt.date(2012, 1, 1), NOW).all()
    originals = ~people["备注"].fillna("").str.startswith("接替")
    assert (start[originals] <= dt.date(2024, 12, 31)).all()
    assert (start[originals] < dt.date(2019, 1, 1)).mean() > 0.7
    left = people[people["离岗日期"].notna()]
    assert 0.01 < len(left) / len(people) < 0.06
    assert left["离岗日期"].dt.date.between(dt.date(2019, 1, 1), NOW).all()
    assert (left["离岗日期"] > left["入职日期"]).all()
    # Every one who left has a successor in the same post (a grid worker may change 专职/兼职) who started that day.
    successors = people[~originals]

    def posts(frame: pd.DataFrame, day: str) -> list[tuple]:
        return sorted(zip(frame["岗位"].replace("兼职网格员", "专职网格员"), frame["所属网格编码"], frame[day]))

    assert posts(left, "离岗日期") == posts(successors, "入职日期")


def test_roster_bad_rows_and_repeats(roster: pd.DataFrame, truth: GridWorkersTruth) -> None:
    bad = roster[~roster["valid"]]
    kinds = truth.roster.bad_rows_by_kind
    assert len(bad) == sum(kinds.values()) >= 3
    assert int((~bad["岗位"].isin(list(ROLES))).sum()) == kinds["unknown_role"] >= 1
    assert int(bad["人员编号"].isna().sum()) == kinds["missing_worker_id"] >= 1
    assert kinds["unknown_grid_code"] >= 1
    assert 0.001 < len(bad) / len(roster) < 0.01
    assert int(roster["duplicate"].sum()) == truth.roster.repeated_rows == 2
    assert roster["序号"].nunique() == len(roster) - 2


# --------------------------------------------------------------------------- check-ins


def test_checkin_files_and_lines(written: tuple[Path, GridWorkersTruth], checkins: pd.DataFrame,
                                 truth: GridWorkersTruth) -> None:
    names = sorted(p.name for p in (written[0] / "patrol").iterdir())
    assert names == ["checkins_2025-11.jsonl", "checkins_2025-12.jsonl"]
    assert (checkins["keys"].map(lambda k: k == KEYS)).all()
    assert set(PATROL_MAP["fields"].values()) <= set(KEYS)
    assert len(checkins) == truth.patrol.rows
    distinct = checkins[~checkins["repeat"]]
    assert distinct["checkinId"].is_unique and distinct["checkinId"].str.fullmatch(r"XC2025(11|12)\d{2}\d{7}").all()
    assert (distinct["date"] >= SINCE).all()
    valid = checkins[checkins["valid"]]
    assert (valid["time"].dt.date == valid["date"]).all()
    hours = valid["time"].dt.hour
    assert hours.between(8, 17).all()
    for key in ("address", "remark"):  # a text or null
        assert valid[key].isna().any() and (valid[key].dropna().str.len() > 0).all()
    assert valid.loc[valid["in_own"], "address"].dropna().str.endswith("网格").all()


def test_checkin_bad_rows_repeats_and_unknown_workers(checkins: pd.DataFrame, truth: GridWorkersTruth) -> None:
    p = truth.patrol
    distinct = checkins[~checkins["repeat"]]
    assert int(checkins["repeat"].sum()) == p.repeated_rows
    assert 0.0005 < p.repeated_rows / len(distinct) < 0.002
    kinds = p.bad_rows_by_kind
    assert int((~distinct["valid"]).sum()) == sum(kinds.values())
    assert 0.002 < sum(kinds.values()) / len(distinct) < 0.004
    assert int(distinct["lng"].map(lambda v: isinstance(v, str)).sum()) == kinds["non_numeric_lng"] > 0
    assert int(distinct["workerNo"].isna().sum()) == kinds["missing_worker_no"] > 0
    assert int((~distinct["checkinType"].isin(list(TYPES))).sum()) == kinds["unknown_type"] > 0
    unknown = distinct[distinct["valid"] & ~distinct["listed"]]
    assert len(unknown) == p.unknown_worker > 0


def test_only_employed_grid_workers_check_in(checkins: pd.DataFrame, people: pd.DataFrame) -> None:
    valid = checkins[checkins["valid"] & checkins["listed"]]
    who = people.loc[valid["workerNo"]]
    assert set(who["岗位"]) == {"专职网格员", "兼职网格员"}
    day = pd.to_datetime(valid["date"]).to_numpy()
    assert (who["入职日期"].to_numpy() <= day).all()
    end = who["离岗日期"].to_numpy()
    assert np.all(pd.isna(end) | (day < end))


def test_two_or_three_visits_per_working_day(checkins: pd.DataFrame, people: pd.DataFrame) -> None:
    workers = people[people["岗位"].isin(["专职网格员", "兼职网格员"]) & (people["入职日期"].dt.date < SINCE)
                     & people["离岗日期"].isna()].index
    working = _working_days(SINCE, NOW)
    own = checkins[~checkins["repeat"] & checkins["workerNo"].isin(workers)]
    on_working = own[own["date"].isin(working)]
    mean = len(on_working) / (len(workers) * len(working))
    assert 2.0 <= mean <= 3.0
    per_day = on_working.groupby(["workerNo", "date"]).size()
    assert per_day.max() <= 3 and per_day.between(2, 3).mean() > 0.99
    weekend = own[pd.to_datetime(own["date"]).dt.day_of_week >= 5]
    weekend_days = sum(1 for k in range((NOW - SINCE).days + 1) if (SINCE + dt.timedelta(days=k)).weekday() >= 5)
    assert 0 < len(weekend) / (len(workers) * weekend_days) < 0.2 * mean


def test_visit_types(checkins: pd.DataFrame, truth: GridWorkersTruth) -> None:
    valid = checkins[checkins["valid"] & ~checkins["repeat"]]
    share = valid["checkinType"].value_counts(normalize=True)
    assert 0.52 < share["入户走访"] < 0.58
    assert share["事件跟进"] > 0
    assert valid["checkinType"].value_counts().to_dict() == {k: v for k, v in truth.patrol.by_type.items() if v}
    assert valid.loc[valid["checkinType"] != "事件跟进", "eventNo"].isna().all()


def test_follow_ups_name_earlier_events_of_the_same_grid(checkins: pd.DataFrame, events: EventsTruth,
                                                         grids: dict) -> None:
    reported = _read_lines([events.files["grid_app"]])
    reported["time"] = pd.to_datetime(reported["reportTime"], format="%Y-%m-%dT%H:%M:%S%z", errors="coerce")
    reported = reported[reported["eventNo"].notna() & reported["lng"].map(lambda v: isinstance(v, float))
                        & reported["time"].notna()]
    lon, lat = gcj02_to_wgs84(reported["lng"].to_numpy(dtype=float), reported["lat"].to_numpy(dtype=float))
    event_grid = dict(zip(reported["eventNo"], _locate(grids, lon, lat)))
    event_time = dict(zip(reported["eventNo"], reported["time"].dt.tz_localize(None)))
    follow = checkins[checkins["valid"] & checkins["listed"] & (checkins["checkinType"] == "事件跟进")]
    assert len(follow) > 100
    assert follow["eventNo"].isin(list(event_grid)).all()
    grid = follow["eventNo"].map(event_grid)
    assert all(g in own for g, own in zip(grid, follow["own"]))
    at_home = follow["in_own"]
    assert (grid[at_home] == follow.loc[at_home, "grid"]).all()
    delay = follow["time"] - follow["eventNo"].map(event_time)
    assert (delay > pd.Timedelta(0)).all() and (delay <= pd.Timedelta(days=30)).all()


def test_off_beat_checkins_are_far_from_every_own_grid(checkins: pd.DataFrame, grids: dict,
                                                       truth: GridWorkersTruth) -> None:
    valid = checkins[checkins["valid"] & checkins["listed"] & ~checkins["repeat"]]
    away = valid[~valid["in_own"]]
    assert len(away) == truth.patrol.off_beat
    assert 0.001 < len(away) / len(valid) < 0.004
    x, y = UTM50.transform(away["lon"].to_numpy(), away["lat_wgs"].to_numpy())
    points = shapely.points(x, y)
    nearest = np.full(len(away), np.inf)
    for k in range(2):
        index = np.array([o[min(k, len(o) - 1)] for o in away["own"]])
        polys = shapely.transform(grids["polys"][index], lambda c: np.column_stack(UTM50.transform(c[:, 0], c[:, 1])))
        nearest = np.minimum(nearest, shapely.distance(points, polys) / 1000.0)
    assert nearest.min() >= 3.0 and nearest.max() <= 30.5
    assert 0.8 < (away["grid"] >= 0).mean() < 1.0  # mostly inside the city, a few outside
    assert int((valid["grid"] < 0).sum()) == truth.patrol.outside_city


def test_neglected_grids_are_not_visited_at_the_end(checkins: pd.DataFrame, people: pd.DataFrame, grids: dict,
                                                    truth: GridWorkersTruth) -> None:
    neglected = truth.patrol.neglected
    assert len(neglected) == round(RECIPE["patrol"]["neglected"] * len(grids["codes"]))
    valid = checkins[checkins["valid"]]
    last_seen = valid.groupby("grid")["date"].max()
    sole = people[people["codes"].map(len) == 1]
    sole_of = sole.groupby(sole["codes"].str[0]).apply(lambda f: set(f.index))
    for entry in neglected:
        g = grids["index"][entry["code"]]
        since = dt.date.fromisoformat(entry["neglected_from"])
        assert 20 <= (NOW - since).days + 1 <= 120
        seen = last_seen.get(g)
        recorded = dt.date.fromisoformat(entry["last_visit"]) if entry["last_visit"] else None
        assert seen == recorded  # no valid check-in in the grid after the recorded last visit
        assert recorded is None or recorded < since
        late = checkins[(checkins["date"] >= since) & checkins["workerNo"].isin(sole_of.get(entry["code"], set()))]
        assert late.empty  # its own workers stopped checking in
    assert sum(e["last_visit"] is not None for e in neglected) > len(neglected) / 3


@pytest.mark.parametrize("holiday, since, until", [
    ("spring_festival", dt.date(2025, 1, 24), dt.date(2025, 2, 9)),
    ("national_day", dt.date(2025, 9, 27), dt.date(2025, 10, 12)),
])
def test_no_checkins_on_public_holidays(city: City, events: EventsTruth, tmp_path: Path, holiday: str,
                                        since: dt.date, until: dt.date) -> None:
    run = _run(city, events, tmp_path, since=since, until=until)
    lines = _read_lines(run.patrol.files)
    dates = set(pd.to_datetime(lines["checkinId"].str[2:10], format="%Y%m%d").dt.date)
    closed = _holiday_dates(holiday) & {since + dt.timedelta(days=k) for k in range((until - since).days + 1)}
    assert len(closed) >= 7
    assert not dates & closed
    assert set(_working_days(since, until)) <= dates
    assert min(dates) >= since and max(dates) <= until


def test_same_seed_same_bytes_and_since_only_trims(city: City, events: EventsTruth,
                                                   written: tuple[Path, GridWorkersTruth], tmp_path: Path) -> None:
    later = dt.date(2025, 12, 10)
    _run(city, events, tmp_path, since=later)
    assert (tmp_path / "roster.xlsx").read_bytes() == (written[0] / "roster.xlsx").read_bytes()
    assert [p.name for p in (tmp_path / "patrol").iterdir()] == ["checkins_2025-12.jsonl"]
    full = (written[0] / "patrol" / "checkins_2025-12.jsonl").read_text(encoding="utf-8").splitlines()
    kept = [line for line in full if line[len('{"checkinId":"XC'):][:8] >= later.strftime("%Y%m%d")]
    assert (tmp_path / "patrol" / "checkins_2025-12.jsonl").read_text(encoding="utf-8").splitlines() == kept
    assert 0 < len(kept) < len(full)


def test_truth_is_json(truth: GridWorkersTruth) -> None:
    text = json.dumps({"roster": truth.roster.summary(), "patrol": truth.patrol.summary()}, ensure_ascii=False)
    assert json.loads(text)["patrol"]["rows"] == truth.patrol.rows
