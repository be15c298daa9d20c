"""Aggregation per grid level: the filter compiler, every figure against an independent pandas computation on
`SELECT * FROM events` (a hand-made store with known edge cases, and the demo city), and the rollups after a
second load that updates rows."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from projects import LINKED_STREET_MAPPING as MAPPING, square, write_config  # the same small street department
from references import assert_figures_match, compare_yearly, read_events, read_grids, ref_grid_figures, ref_yearly
from tiny_store import AS_OF, EVENTS, build_tiny_store
from etl.config import load_config
from etl.load import load_project
from store.rollups import refresh_rollups, rollup_state
from layers import stats
from layers.disputes import city_dispute_totals, dispute_statistics
from layers.event_query import EventFilter, compile_filter
from layers.review import review_report

T = dt.datetime

# --------------------------------------------------------------------------- independent reference (pandas)


# --------------------------------------------------------------------------- the filter compiler (pure)


def test_empty_filter_compiles_to_true() -> None:
    assert compile_filter(EventFilter()) == ("TRUE", [])
    assert EventFilter().is_empty


def test_filter_compiles_to_placeholders_and_parameters_in_order() -> None:
    where = EventFilter(depts=["police110", "mediation"], statuses=("closed",), dispute_classes=("邻里",))
    sql, params = compile_filter(where)
    assert sql == "dept IN (?, ?) AND dispute_class IN (?) AND status IN (?)"
    assert params == ["police110", "mediation", "邻里", "closed"]
    assert not where.is_empty


def test_a_lone_string_is_one_value_and_hostile_text_stays_a_parameter() -> None:
    hostile = "x' OR '1'='1"
    sql, params = compile_filter(EventFilter(depts=hostile, categories=(hostile, "a);DROP TABLE events;--")))
    assert sql == "dept IN (?) AND category IN (?, ?)"
    assert hostile not in sql and "DROP" not in sql
    assert params == [hostile, hostile, "a);DROP TABLE events;--"]


def test_filter_is_frozen_and_hashable() -> None:
    where = EventFilter(depts=("a",))
    with pytest.raises(Exception):
        where.depts = ("b",)  # type: ignore[misc]
    assert hash(where) == hash(EventFilter(depts=["a"]))


# --------------------------------------------------------------------------- a hand-made store

@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_store(tmp_path_factory.mktemp("tiny") / "tiny.duckdb")


@pytest.fixture()
def tiny_con(tiny: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tiny), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def tiny_rolled(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same store with its rollups built."""
    path = Path(shutil.copy(tiny, tmp_path_factory.mktemp("tiny_rolled") / "tiny.duckdb"))
    with duckdb.connect(str(path)) as con:
        assert refresh_rollups(con) is True
    return path


def test_data_clock_is_the_latest_report(tiny_con: duckdb.DuckDBPyConnection) -> None:
    assert stats.data_clock(tiny_con) == AS_OF


@pytest.mark.parametrize("level", ["large", "medium", "small", "city"])
@pytest.mark.parametrize("window", [(T(2021, 1, 1), T(2022, 1, 1)), (T(2022, 1, 1), T(2023, 1, 1)),
                                    (T(2021, 6, 1, 8), T(2021, 12, 31, 23))])
def test_every_figure_matches_pandas_on_the_tiny_store(tiny: Path, tiny_con, level, window) -> None:
    start, end = window
    codes = ["city"] if level == "city" else read_grids(tiny, level)
    got = stats.grid_stats(tiny_con, level, start=start, end=end, as_of=AS_OF)
    assert_figures_match(got, ref_grid_figures(read_events(tiny), level, codes, start, end, AS_OF))


def test_tiny_store_figures_by_hand(tiny_con) -> None:
    y2021 = stats.grid_stats(tiny_con, "large", start=T(2021, 1, 1), end=T(2022, 1, 1), as_of=AS_OF).set_index("grid_code")
    # LA: pol:14 (at the window's first instant), med:1, med:2, med:3, hot:5, pol:1; hot:4 at 2022-01-01 is out.
    assert y2021.loc["LA", "events"] == 6 and y2021.loc["LB", "events"] == 1 and y2021.loc["LC", "events"] == 0
    assert y2021.loc["LA", "closed"] == 2  # pol:14, med:1 (hot:5 closed at 2022-01-01 00:00 belongs to 2022)
    assert y2021.loc["LA", "disputes_received"] == 2 and y2021.loc["LA", "disputes_resolved"] == 1
    assert y2021.loc["LB", "disputes_received"] == 1 and y2021.loc["LB", "disputes_resolved"] == 1
    assert y2021.loc["LA", "resolution_rate"] == 0.5
    assert pd.isna(y2021.loc["LC", "resolution_rate"]) and pd.isna(y2021.loc["LC", "on_time_rate"])
    assert y2021.loc["LA", "events_per_10k"] == 6.0 and y2021.loc["LA", "events_per_km2"] == 0.6
    assert pd.isna(y2021.loc["LB", "events_per_10k"])  # population 0
    assert y2021.loc["LA", "on_time_rate"] == 0.5  # pol:14 late, med:1 on time
    now = y2021  # open / overdue at AS_OF do not depend on the window
    assert now.loc["LA", "open_now"] == 3  # med:3, hot:10 (closed after as_of), pol:11 (reported at as_of)
    assert now.loc["LA", "overdue_now"] == 1 and now.loc["LB", "overdue_now"] == 1  # med:3; pol:7
    assert now.loc["LB", "open_now"] == 1  # pol:7; hot:16 closed exactly at as_of is no longer open
    city = stats.grid_stats(tiny_con, "city", start=T(2022, 1, 1), end=T(2023, 1, 1), as_of=AS_OF).iloc[0]
    assert city["population"] == 10500 and city["area_km2"] == 17.0
    # hot:4 (at the window's first instant), pol:6, pol:7, med:8, hot:10, pol:11, med:13, hot:15, hot:16;
    # hot:9 lies outside every grid.
    assert city["events"] == 9
    # Closed in 2022: hot:4 hot:5 pol:1 med:2 pol:6 med:8 med:13 hot:15 hot:16; pol:6 has no due time; on time
    # are hot:5, med:8, med:13 and hot:15 (closed exactly at its due time).
    assert city["closed"] == 9 and city["closed_with_due"] == 8 and city["closed_on_time"] == 4
    assert city["median_handling_hours"] == 24  # 2.5 4 5 24 [24] 96 276 767 6556 hours


def test_median_handling_hours_by_hand(tiny_con) -> None:
    got = stats.median_handling(tiny_con, "small", start=T(2022, 1, 1), end=T(2023, 1, 1)).set_index("grid_code")
    # SA12 closures in 2022: med:2 (273 days 4 h), hot:4 (5 h), med:13 (24 h) -> median 24
    assert got.loc["SA12", "median_handling_hours"] == 24
    assert pd.isna(got.loc["SC11", "median_handling_hours"])


@pytest.mark.parametrize("level", ["large", "small"])
def test_filtered_figures_match_pandas(tiny: Path, tiny_con, level) -> None:
    where = EventFilter(depts=("med", "hot"), categories=("dispute_neighbour", "dispute_labour", "urban_environment"),
                        statuses=("closed", "in_progress"))
    codes = read_grids(tiny, level)
    start, end = T(2021, 1, 1), T(2023, 1, 1)
    got = stats.grid_stats(tiny_con, level, start=start, end=end, as_of=AS_OF, where=where)
    assert_figures_match(got, ref_grid_figures(read_events(tiny), level, codes, start, end, AS_OF, where))
    # Filtering out police's report of incident pol:1 leaves mediation's: still one incident.
    large = stats.grid_stats(tiny_con, "large", start=start, end=end, as_of=AS_OF, where=where).set_index("grid_code")
    assert large.loc["LA", "disputes_resolved"] == 3  # pol:1 (via med:1), med:8, med:13


def test_injection_text_as_filter_value_returns_nothing(tiny_con) -> None:
    hostile = "x' OR '1'='1"
    where = EventFilter(depts=(hostile,), categories=(hostile,), dispute_classes=(hostile,), statuses=(hostile,))
    got = stats.grid_stats(tiny_con, "large", start=None, end=None, as_of=AS_OF, where=where)
    assert got[["events", "closed", "disputes_received", "open_now"]].to_numpy().sum() == 0
    assert len(got) == 3
    assert stats.event_rows(tiny_con, where=EventFilter(depts=(hostile,))).empty
    assert stats.counts_by(tiny_con, "small", "category", where=where).drop(columns=["grid_code", "name"]).to_numpy().sum() == 0
    assert tiny_con.execute("SELECT count(*) FROM events").fetchall()[0][0] == len(EVENTS)


def test_counts_by_category_department_status_and_period(tiny: Path, tiny_con) -> None:
    ev = read_events(tiny)
    ev = ev[ev["grid_large"].notna() & (ev["reported_at"] >= T(2021, 1, 1)) & (ev["reported_at"] < T(2023, 1, 1))]
    for by, column in (("category", "category"), ("dept", "dept"), ("status", "status"), ("dispute_class", "dispute_class")):
        got = stats.counts_by(tiny_con, "medium", by, start=T(2021, 1, 1), end=T(2023, 1, 1)).set_index("grid_code")
        expected = ev.groupby(["grid_medium", column]).size()
        for (grid, key), count in expected.items():
            assert got.loc[grid, key] == count, (by, grid, key)
        assert got.drop(columns="name").to_numpy().sum() == expected.sum()
        assert got.loc["MC1"].drop("name").sum() == 0  # a grid without events is a row of zeros
    month = stats.counts_by(tiny_con, "large", "month", start=T(2021, 11, 1), end=T(2022, 2, 1))
    assert [c for c in month.columns if c[0].isdigit()] == ["2021-11-01", "2021-12-01", "2022-01-01"]
    assert month.set_index("grid_code").loc["LA", "2021-12-01"] == 3  # pol:1, med:1, hot:5
    assert month.set_index("grid_code").loc["LA", "2022-01-01"] == 1  # hot:4 at the month's first instant
    week = stats.counts_by(tiny_con, "city", "week", start=T(2021, 12, 29), end=T(2022, 1, 6))
    assert list(week.columns[2:]) == ["2021-12-27", "2022-01-03"]  # Mondays
    assert week.iloc[0]["2021-12-27"] == 2  # hot:5, hot:4
    for by in ("day", "quarter", "year"):
        got = stats.counts_by(tiny_con, "small", by, start=T(2021, 1, 1), end=T(2023, 1, 1))
        assert got.drop(columns=["grid_code", "name"]).to_numpy().sum() == len(ev[ev["grid_small"].notna()])


def test_changes_against_previous_period_and_last_year(tiny_con) -> None:
    got = stats.period_changes(tiny_con, "large", start=T(2022, 1, 1), end=T(2023, 1, 1)).set_index("grid_code")
    # LA: 2022 has hot:4 med:8 hot:10 pol:11 med:13 hot:15; 2021 has pol:1 med:1 med:2 med:3 hot:5 pol:14.
    la = got.loc["LA"]
    assert la["events_prev"] == la["events_last_year"] == 6  # 365-day year: previous period == last year
    assert la["events"] == 6 and la["events_change_prev"] == 0 and la["events_change_prev_pct"] == 0
    assert la["disputes_resolved"] == 2 and la["disputes_resolved_prev"] == 1
    assert la["disputes_resolved_change_yoy"] == 1 and la["disputes_resolved_change_yoy_pct"] == 100
    lc = got.loc["LC"]
    assert lc["events_change_prev"] == 0 and pd.isna(lc["events_change_prev_pct"])  # base 0 -> missing
    lb = got.loc["LB"]
    assert lb["events"] == 3 and lb["events_prev"] == 1 and lb["events_change_prev_pct"] == 200


def test_year_to_date_windows() -> None:
    as_of = T(2024, 2, 29, 18, 30)
    start, end = stats.year_to_date(as_of)
    assert (start, end) == (T(2024, 1, 1), as_of)
    assert stats.same_period_last_year(start, end) == (T(2023, 1, 1), T(2023, 2, 28, 18, 30))
    assert stats.previous_period(T(2024, 3, 1), T(2024, 4, 1)) == (T(2024, 1, 30), T(2024, 3, 1))
    with pytest.raises(ValueError, match="before `end`"):
        stats.previous_period(T(2024, 4, 1), T(2024, 3, 1))


def test_as_of_is_required_and_never_taken_from_the_wall_clock(tiny_con) -> None:
    with pytest.raises(ValueError, match="as_of"):
        stats.grid_stats(tiny_con, "large", start=None, end=None, as_of=None)  # type: ignore[arg-type]
    early = stats.open_now(tiny_con, "large", as_of=T(2021, 6, 1, 12)).set_index("grid_code")
    assert early.loc["LA", "open_now"] == 2 and early.loc["LA", "overdue_now"] == 1  # med:3 (due 1 Apr); med:2


def test_bad_arguments_say_what_is_allowed(tiny_con) -> None:
    with pytest.raises(ValueError, match=r"`level` was 'town' but is expected to be one of \['large', 'medium', 'small', 'city'\]"):
        stats.grid_stats(tiny_con, "town", start=None, end=None, as_of=AS_OF)
    with pytest.raises(ValueError, match="`by` was 'hour'"):
        stats.counts_by(tiny_con, "large", "hour")
    with pytest.raises(ValueError, match="not in the store; did you mean: .*SA11 "):
        stats.event_rows(tiny_con, grid="SA1l")


def test_dispute_statistics_on_the_tiny_store(tiny: Path, tiny_con) -> None:
    large = dispute_statistics(tiny_con, "large", year_from=2021, year_to=2022).set_index(["grid_code", "year"])
    assert large.loc[("LA", 2021), ["received", "resolved"]].tolist() == [2, 1]  # pol:1 + med:3; pol:1
    assert large.loc[("LB", 2021), ["received", "resolved"]].tolist() == [1, 1]  # med:2 via hot:2
    assert large.loc[("LA", 2022), ["received", "resolved"]].tolist() == [3, 2]  # med:8, hot:10, med:13
    assert large.loc[("LA", 2021), "resolved_class_邻里"] == 1
    assert large.loc[("LB", 2021), "resolved_class_邻里"] == 1 and large.loc[("LB", 2021), "resolved_class_劳动争议"] == 0
    assert large.loc[("LA", 2021), "received_change"] == 1  # 2020 had med:12
    assert large.loc[("LB", 2022), "resolved_change"] == -1 and large.loc[("LB", 2022), "resolved_change_pct"] == -100
    assert pd.isna(large.loc[("LC", 2022), "resolution_rate"]) and pd.isna(large.loc[("LC", 2022), "received_change_pct"])
    city = city_dispute_totals(tiny_con, year_from=2021, year_to=2022).set_index("year")
    assert city.loc[2021, ["received", "resolved"]].tolist() == [3, 2]
    assert city.loc[2022, ["received", "resolved"]].tolist() == [3, 2]
    for column in ("received", "resolved", "received_change", "resolved_change"):
        assert large.groupby("year")[column].sum().tolist() == city[column].tolist(), column
    # med:8 was placed by address only: in LA and MA2 but in no small grid.
    small = dispute_statistics(tiny_con, "small", year_from=2022, year_to=2022)
    assert small["resolved"].sum() == city.loc[2022, "resolved"] - 1
    medium = dispute_statistics(tiny_con, "medium", year_from=2022, year_to=2022)
    assert medium["resolved"].sum() == city.loc[2022, "resolved"]
    assert list(medium.columns[:4]) == ["grid_code", "name", "large_code", "large_name"]
    inside = dispute_statistics(tiny_con, "small", year_from=2021, year_to=2022, grid="MA1")
    assert sorted(inside["grid_code"].unique()) == ["SA11", "SA12"]


@pytest.mark.parametrize("level", ["large", "medium", "small"])
def test_dispute_statistics_match_pandas_on_the_tiny_store(tiny: Path, tiny_con, level) -> None:
    years = range(2020, 2024)
    got = dispute_statistics(tiny_con, level, year_from=2020, year_to=2023)
    expected = ref_yearly(read_events(tiny), level, read_grids(tiny, level), years)
    compare_yearly(got, expected)


def test_review_report_on_the_tiny_store(tiny_con) -> None:
    report = review_report(tiny_con, "month", as_of=T(2022, 1, 1, 12)).set_index("grid_code")
    assert report.loc["LA", "period_start"] == T(2021, 12, 1, 12)
    assert report.loc["LA", "new"] == 3  # med:1, hot:5, hot:4 (pol:1 at 10:00 on 1 Dec is before the window)
    assert report.loc["LA", "closed"] == 3  # med:1, hot:5, hot:4
    assert report.loc["LA", "top1"] == "市容环境" and report.loc["LA", "top1_count"] == 2
    assert report.loc["LA", "top2"] == "邻里纠纷" and report.loc["LA", "top2_count"] == 1
    assert pd.isna(report.loc["LA", "top3"]) and report.loc["LA", "top3_count"] == 0
    assert report.loc["LA", "overdue_now"] == 3  # med:3, med:2 (due June, closed March), pol:1 (closed 2 Jan)
    assert report.loc["LC", "new"] == 0 and pd.isna(report.loc["LC", "top1"])
    day = review_report(tiny_con, "day", as_of=T(2022, 1, 1, 12)).set_index("grid_code")
    assert day.loc["LA", "new"] == 2  # hot:5 (20:00 on 31 Dec), hot:4 (00:00)


# --------------------------------------------------------------------------- rollups


def test_rollups_agree_with_raw_on_the_tiny_store(tiny_rolled: Path) -> None:
    with duckdb.connect(str(tiny_rolled), read_only=True) as con:
        assert rollup_state(con) == "fresh"
        assert stats.choose_source(con, "auto", start=T(2022, 1, 1), end=T(2023, 1, 1)) == "rollup"
        assert stats.choose_source(con, "auto", start=T(2022, 1, 1, 8), end=T(2023, 1, 1)) == "raw"
        _assert_sources_agree(con, T(2021, 1, 1), T(2022, 1, 1), as_of=AS_OF)
        _assert_sources_agree(con, None, None, as_of=AS_OF)


def _assert_sources_agree(con, start, end, *, as_of) -> None:
    for level in ("large", "small", "city"):
        raw = stats.grid_stats(con, level, start=start, end=end, as_of=as_of, source="raw")
        rolled = stats.grid_stats(con, level, start=start, end=end, as_of=as_of, source="rollup")
        pd.testing.assert_frame_equal(raw, rolled, check_exact=False, rtol=1e-9)
        for by in ("category", "month"):
            pd.testing.assert_frame_equal(stats.counts_by(con, level, by, start=start, end=end, source="raw"),
                                          stats.counts_by(con, level, by, start=start, end=end, source="rollup"))
    for level in ("large", "medium", "small"):
        pd.testing.assert_frame_equal(dispute_statistics(con, level, year_from=2019, year_to=2025, source="raw"),
                                      dispute_statistics(con, level, year_from=2019, year_to=2025, source="rollup"))
    pd.testing.assert_frame_equal(city_dispute_totals(con, year_from=2019, year_to=2025, source="raw"),
                                  city_dispute_totals(con, year_from=2019, year_to=2025, source="rollup"))


HEADER = "编号,类别,状态,上报时间,办结时间,经度,纬度,来源编号\n"
FIRST = [
    "A1,邻里纠纷,处理中,2023/12/20 14:05,,115.05,22.95,",
    "A2,邻里纠纷,处理中,2023/12/21 09:00,,115.15,22.95,A1",  # same incident as A1, another grid
    "A3,占道经营,处理中,2023/12/30 15:00,,115.15,23.05,",
    "A4,邻里纠纷,已办结,2023/6/1 10:00,2023/6/3 10:00,115.05,23.05,",
    "A5,占道经营,已办结,2024/1/2 08:00,2024/1/2 18:00,116.90,22.95,",  # outside the city
]
SECOND = [
    "A1,邻里纠纷,已办结,2023/12/20 14:05,2024/1/5 09:00,115.05,22.95,",  # closed in the next year
    "A2,邻里纠纷,已办结,2023/12/21 09:00,2023/12/28 16:00,115.15,22.95,A1",  # closes the incident first
    "A3,占道经营,已办结,2023/12/30 15:00,2024/1/3 10:00,115.15,23.05,",
    "A4,邻里纠纷,已办结,2023/6/1 10:00,2023/6/3 10:00,115.05,23.05,",
    "A6,邻里纠纷,处理中,2024/2/1 10:00,,115.05,23.05,",
]
@pytest.fixture()
def project(tmp_path: Path) -> Path:
    large = gpd.GeoDataFrame({"code": ["L1"], "name": ["甲镇"], "pop": [1000]}, geometry=[square(115.0, 22.9, 0.2)], crs=4326)
    medium = gpd.GeoDataFrame({"code": ["M1", "M2"], "name": ["东村", "西村"], "parent": ["L1", "L1"]},
                              geometry=[square(115.0, 22.9, 0.1).union(square(115.0, 23.0, 0.1)),
                                        square(115.1, 22.9, 0.1).union(square(115.1, 23.0, 0.1))], crs=4326)
    small = gpd.GeoDataFrame({"code": ["S1", "S2", "S3", "S4"], "name": ["第1网格", "第2网格", "第1网格", "第2网格"],
                              "parent": ["M1", "M1", "M2", "M2"], "pop": [100, 0, 300, 400]},
                             geometry=[square(115.0, 22.9, 0.1), square(115.0, 23.0, 0.1),
                                       square(115.1, 22.9, 0.1), square(115.1, 23.0, 0.1)], crs=4326)
    for name, frame in (("large", large), ("medium", medium), ("small", small)):
        frame.to_file(tmp_path / f"{name}.geojson", driver="GeoJSON")
    (tmp_path / "street.toml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "street.csv").write_text(HEADER + "\n".join(FIRST) + "\n", encoding="utf-8")
    write_config(tmp_path, "street")
    return tmp_path


def test_rollups_follow_a_second_load_that_updates_rows(project: Path) -> None:
    config = load_config(project / "minqing.toml")
    load_project(config)
    db = project / "store.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        assert rollup_state(con) == "fresh"
        first = dispute_statistics(con, "small", year_from=2023, year_to=2024).set_index(["grid_code", "year"])
        assert first["resolved"].sum() == 1  # A4 only
    (project / "street.csv").write_text(HEADER + "\n".join(SECOND) + "\n", encoding="utf-8")
    result = load_project(config).files[0]
    assert result.updated == 3 and result.loaded == 1
    events = read_events(db)
    assert (events["updated_batch"].notna()).sum() == 3
    with duckdb.connect(str(db), read_only=True) as con:
        assert rollup_state(con) == "fresh"
        assert stats.choose_source(con, "auto", start=T(2023, 1, 1), end=T(2025, 1, 1)) == "rollup"
        as_of = T(2024, 2, 1, 12)
        _assert_sources_agree(con, T(2023, 12, 1), T(2024, 2, 1), as_of=as_of)
        for level in ("large", "small"):
            codes = read_grids(db, level)
            got = stats.grid_stats(con, level, start=T(2023, 12, 1), end=T(2024, 2, 1), as_of=as_of, source="rollup")
            assert_figures_match(got, ref_grid_figures(events, level, codes, T(2023, 12, 1), T(2024, 2, 1), as_of))
            compare_yearly(dispute_statistics(con, level, year_from=2023, year_to=2024, source="rollup"),
                            ref_yearly(events, level, codes, range(2023, 2025)))
        small = dispute_statistics(con, "small", year_from=2023, year_to=2024, source="rollup").set_index(["grid_code", "year"])
        # The incident A1/A2 is resolved in 2023 in A2's grid S3, not in 2024 in A1's grid S1.
        assert small.loc[("S3", 2023), "resolved"] == 1 and small.loc[("S1", 2024), "resolved"] == 0
    # A change outside a load makes the rollups stale; readers then fall back to the raw events.
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM events WHERE source_id = 'A6'")
        assert rollup_state(con) == "stale"
        assert stats.choose_source(con, "auto") == "raw"
        with pytest.raises(ValueError, match="stale"):
            stats.choose_source(con, "rollup")
        assert refresh_rollups(con) is True and refresh_rollups(con) is False
        assert rollup_state(con) == "fresh"


# --------------------------------------------------------------------------- the demo city


@pytest.fixture(scope="module")
def demo_events(demo_db: Path) -> pd.DataFrame:
    return read_events(demo_db)


@pytest.fixture()
def demo_con(demo_db: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(demo_db), read_only=True)
    yield con
    con.close()


def test_demo_rollups_are_fresh_and_the_clock_is_the_last_report(demo_con) -> None:
    assert rollup_state(demo_con) == "fresh"
    assert stats.data_clock(demo_con) == T(2025, 12, 31, 23, 10)


@pytest.mark.parametrize("level", ["large", "medium", "city"])
def test_demo_figures_match_pandas(demo_db: Path, demo_con, demo_events, level) -> None:
    as_of = stats.data_clock(demo_con)
    start, end = stats.year_to_date(as_of)
    codes = ["city"] if level == "city" else read_grids(demo_db, level)
    got = stats.grid_stats(demo_con, level, start=start, end=end, as_of=as_of)
    assert_figures_match(got, ref_grid_figures(demo_events, level, codes, start, end, as_of))


def test_demo_filtered_figures_match_pandas(demo_db: Path, demo_con, demo_events) -> None:
    as_of = T(2024, 6, 30, 8)
    where = EventFilter(depts=("mediation", "hotline12345"), dispute_classes=("邻里", "婚姻家庭", "劳动争议"))
    start, end = T(2024, 1, 1), T(2024, 7, 1)
    got = stats.grid_stats(demo_con, "large", start=start, end=end, as_of=as_of, where=where)
    assert got["events"].sum() > 100
    assert_figures_match(got, ref_grid_figures(demo_events, "large", read_grids(demo_db, "large"), start, end, as_of, where))


def test_demo_rates_and_densities(demo_db: Path, demo_con, demo_events) -> None:
    as_of = stats.data_clock(demo_con)
    got = stats.grid_stats(demo_con, "large", start=T(2025, 1, 1), end=T(2026, 1, 1), as_of=as_of).set_index("grid_code")
    with duckdb.connect(str(demo_db), read_only=True) as con:
        grids = con.execute("SELECT grid_code, population, area_km2 FROM grids WHERE level = 'large'").df().set_index("grid_code")
    assert np.allclose(got["events_per_10k"].astype(float), got["events"] / grids["population"] * 10_000)
    assert np.allclose(got["events_per_km2"].astype(float), got["events"] / grids["area_km2"])
    assert np.allclose(got["on_time_rate"].astype(float), got["closed_on_time"] / got["closed_with_due"])
    assert np.allclose(got["resolution_rate"].astype(float), got["disputes_resolved"] / got["disputes_received"])


def test_demo_rollup_and_raw_agree_on_a_filtered_window(demo_con) -> None:
    # Several events share a rollup cell (day, grid, department, category, status): sums, not row counts.
    where = EventFilter(depts=("mediation", "hotline12345"), dispute_classes=("邻里", "婚姻家庭", "劳动争议"))
    for level in ("large", "small"):
        raw = stats.window_totals(demo_con, level, start=T(2024, 1, 1), end=T(2024, 7, 1), where=where, source="raw")
        rolled = stats.window_totals(demo_con, level, start=T(2024, 1, 1), end=T(2024, 7, 1), where=where, source="rollup")
        pd.testing.assert_frame_equal(raw, rolled, check_exact=False, rtol=1e-9)
        raw = stats.counts_by(demo_con, level, "week", start=T(2024, 1, 1), end=T(2024, 7, 1), where=where, source="raw")
        rolled = stats.counts_by(demo_con, level, "week", start=T(2024, 1, 1), end=T(2024, 7, 1), where=where, source="rollup")
        pd.testing.assert_frame_equal(raw, rolled)


def test_demo_year_on_year_changes_match_pandas(demo_con, demo_events) -> None:
    as_of = stats.data_clock(demo_con)
    start, end = stats.year_to_date(as_of)
    got = stats.period_changes(demo_con, "city", start=start, end=end).iloc[0]
    located = demo_events[demo_events["grid_large"].notna()]

    def reported(s, e):
        return int(((located["reported_at"] >= s) & (located["reported_at"] < e)).sum())

    now, last = reported(start, end), reported(T(2024, 1, 1), T(2024, 12, 31, 23, 10))
    assert got["events"] == now and got["events_last_year"] == last
    assert got["events_change_yoy"] == now - last
    assert got["events_change_yoy_pct"] == pytest.approx((now - last) / last * 100)


def test_every_column_is_documented(tiny_con) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "analytics.md").read_text(encoding="utf-8")
    frames = [
        stats.grid_stats(tiny_con, "small", start=None, end=None, as_of=AS_OF),
        stats.window_totals(tiny_con, "large"),
        dispute_statistics(tiny_con, "small", year_from=2021, year_to=2021),
        city_dispute_totals(tiny_con, year_from=2021, year_to=2021),
        review_report(tiny_con, "day", as_of=AS_OF),
    ]
    columns = {c for frame in frames for c in frame.columns if not c.startswith("resolved_class_")}
    missing = sorted(c for c in columns if f"`{c}`" not in docs)
    assert not missing, f"document these columns in docs/analytics.md: {missing}"
    changes = stats.period_changes(tiny_con, "large", start=T(2022, 1, 1), end=T(2023, 1, 1))
    for column in changes.columns[2:]:
        figure = next(f for f in stats.COMPARED if column.startswith(f))
        assert f"`{figure}`" in docs and f"`X{column[len(figure):]}`" in docs, column
