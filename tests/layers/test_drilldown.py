"""layers/drilldown.py against an independent pandas computation on the demo city (60k events, 56/868/4,555 grids)."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest

from store.schema import connect
from layers.drilldown import (
    CITY_CODE, HISTORY_SORTS, PAGE_SIZE, auto_period, category_mix, child_grids, children_ranked, clicked_grid,
    drill_map, event_history, grid_figures, grid_profile, map_grids, search_grids, timeline,
)
from layers.geometry import prepare_level
from layers.event_query import EventFilter
from layers.stats import data_clock
from store.timewindow import QueryError

COLUMN = {"large": "grid_large", "medium": "grid_medium", "small": "grid_small"}
INJECTION = "x' OR '1'='1"


# --------------------------------------------------------------------------- the demo, read independently


@pytest.fixture(scope="module")
def con(demo_db):
    c = connect(str(demo_db), read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def events(con) -> pd.DataFrame:
    return con.execute("SELECT * FROM events").df()


@pytest.fixture(scope="module")
def grids(con) -> pd.DataFrame:
    return con.execute("SELECT grid_code, name, level, parent_code, population, area_km2 FROM grids").df()


@pytest.fixture(scope="module")
def as_of(con) -> dt.datetime:
    return data_clock(con) + dt.timedelta(minutes=1)


@pytest.fixture(scope="module")
def year() -> tuple[dt.datetime, dt.datetime]:
    return dt.datetime(2025, 1, 1), dt.datetime(2026, 1, 1)


@pytest.fixture(scope="module")
def recent(as_of) -> tuple[dt.datetime, dt.datetime]:
    """The dashboard's default window: 30 days to the data clock (bounds not on midnights: raw events)."""
    return as_of - dt.timedelta(days=30), as_of


def located(events: pd.DataFrame, code: str, level: str) -> pd.DataFrame:
    if code == CITY_CODE:
        return events[events["grid_large"].notna()]
    return events[events[COLUMN[level]] == code]


def reported_in(df: pd.DataFrame, window: tuple[dt.datetime, dt.datetime]) -> pd.DataFrame:
    start, end = window
    return df[(df["reported_at"] >= start) & (df["reported_at"] < end)]


def busiest_child(events, grids, parent: str, window) -> tuple[str, str]:
    """(code, level) of the child of `parent` with most events in the window (ties: smallest code)."""
    children = grids[grids["parent_code"] == parent] if parent != CITY_CODE else grids[grids["level"] == "large"]
    level = children["level"].iloc[0]
    counts = reported_in(events, window)[COLUMN[level]].value_counts()
    ranked = children.assign(n=children["grid_code"].map(counts).fillna(0)).sort_values(["n", "grid_code"],
                                                                                         ascending=[False, True])
    return ranked["grid_code"].iloc[0], level


@pytest.fixture(scope="module")
def chain(events, grids, year) -> dict[str, str]:
    """The busiest large grid of 2025, its busiest medium and that one's busiest small grid."""
    large, _ = busiest_child(events, grids, CITY_CODE, year)
    medium, _ = busiest_child(events, grids, large, year)
    small, _ = busiest_child(events, grids, medium, year)
    return {"large": large, "medium": medium, "small": small}


def incidents(events: pd.DataFrame) -> pd.DataFrame:
    """Dispute incidents, one row each: the home report's grids and the incident's first report time."""
    d = events[events["is_dispute"] & events["grid_large"].notna()].copy()
    d["open"] = d["status"] != "closed"
    d["t"] = d["closed_at"].where(~d["open"], d["reported_at"])
    home = d.sort_values(["incident_id", "open", "t", "reported_at", "event_id"]).groupby("incident_id").head(1)
    home = home.set_index("incident_id")[["grid_small", "grid_medium", "grid_large"]]
    home["first_reported_at"] = d.groupby("incident_id")["reported_at"].min()
    return home


# --------------------------------------------------------------------------- the grid and its family


def test_profile_names_parents_area_and_population(con, grids, chain):
    by_code = grids.set_index("grid_code")
    small = grid_profile(con, chain["small"])
    row = by_code.loc[chain["small"]]
    assert (small.name, small.level, small.level_name) == (row["name"], "small", "小网格")
    assert small.population == row["population"] and small.area_km2 == pytest.approx(row["area_km2"])
    medium_name, large_name = by_code.loc[chain["medium"], "name"], by_code.loc[chain["large"], "name"]
    assert small.ancestors == ((CITY_CODE, "全市"), (chain["large"], large_name), (chain["medium"], medium_name))
    assert small.child_count == 0 and small.child_level is None and small.map_scope == chain["medium"]
    assert [small.code_at(level) for level in COLUMN] == [chain[level] for level in COLUMN]

    large = grid_profile(con, chain["large"])
    assert large.ancestors == ((CITY_CODE, "全市"),) and large.code_at("medium") is None
    assert large.child_count == int((grids["parent_code"] == chain["large"]).sum())
    assert large.map_scope == chain["large"]


def test_city_profile_sums_the_large_grids(con, grids):
    city = grid_profile(con, CITY_CODE)
    large = grids[grids["level"] == "large"]
    assert (city.name, city.level, city.child_count, city.ancestors) == ("全市", "city", 56, ())
    assert city.population == int(large["population"].sum())
    assert city.area_km2 == pytest.approx(large["area_km2"].sum())


def test_unknown_grid_has_no_profile_and_figures_say_which_codes_are_close(con, chain, as_of):
    assert grid_profile(con, "no-such-grid") is None
    assert grid_profile(con, INJECTION) is None
    with pytest.raises(QueryError, match="is not in the store; did you mean"):
        grid_figures(con, chain["small"][:-1] + "x", start=None, end=None, as_of=as_of)


def test_child_grids_are_the_children_in_code_order(con, grids, chain):
    expected = grids[grids["parent_code"] == chain["large"]].sort_values("grid_code")
    got = child_grids(con, chain["large"])
    assert got["grid_code"].tolist() == expected["grid_code"].tolist()
    assert got["name"].tolist() == expected["name"].tolist()
    assert len(child_grids(con, CITY_CODE)) == 56
    assert child_grids(con, chain["small"]).empty


def test_search_finds_by_name_path_and_code(con, grids, chain):
    by_code = grids.set_index("grid_code")
    medium_name = by_code.loc[chain["medium"], "name"]
    hits = search_grids(con, medium_name, limit=50)
    named = grids[grids["name"].str.contains(medium_name, regex=False)]
    assert chain["medium"] in set(hits["grid_code"])
    assert hits["grid_code"].iloc[0] in set(named["grid_code"])  # exact names first
    assert int(hits["matches"].iloc[0]) >= len(named)

    path = medium_name + " " + by_code.loc[chain["small"], "name"]  # "黄岗社区 第1网格": spaces ignored
    assert chain["small"] in set(search_grids(con, path)["grid_code"])
    large_name = by_code.loc[chain["large"], "name"]
    assert search_grids(con, chain["small"])["path"].tolist() == [
        f"{large_name} › {medium_name} › {by_code.loc[chain['small'], 'name']}"]
    for text in (INJECTION, "", "   ", "%", "_"):
        assert search_grids(con, text).empty


# --------------------------------------------------------------------------- figures


@pytest.mark.parametrize("level", ["city", "large", "medium", "small"])
def test_figures_match_pandas(con, events, grids, chain, as_of, recent, level):
    code = CITY_CODE if level == "city" else chain[level]
    got = grid_figures(con, code, start=recent[0], end=recent[1], as_of=as_of)
    mine = located(events, code, "large" if level == "city" else level)
    assert got["events"] == len(reported_in(mine, recent))
    open_now = mine[(mine["reported_at"] <= as_of) & ((mine["status"] != "closed") | (mine["closed_at"] > as_of))]
    assert got["open_now"] == len(open_now)
    assert got["overdue_now"] == int((open_now["due_at"] < as_of).sum())
    closed = mine[(mine["status"] == "closed") & (mine["closed_at"] >= recent[0]) & (mine["closed_at"] < recent[1])]
    with_due = closed[closed["due_at"].notna()]
    rate = (with_due["closed_at"] <= with_due["due_at"]).mean() if len(with_due) else None
    assert got["on_time_rate"] == (None if rate is None else pytest.approx(rate))
    inc = incidents(events)
    inc = inc[(inc["first_reported_at"] >= recent[0]) & (inc["first_reported_at"] < recent[1])]
    home = inc if level == "city" else inc[inc[COLUMN[level]] == code]
    assert got["disputes_received"] == len(home)
    population = grids[grids["level"] == "large"]["population"].sum() if level == "city" else \
        grids.set_index("grid_code").loc[code, "population"]
    assert got["events_per_10k"] == pytest.approx(got["events"] / population * 10_000)


def test_sidebar_filter_applies_to_the_figures(con, events, chain, as_of, year):
    where = EventFilter(depts=("police110",))
    got = grid_figures(con, chain["large"], start=year[0], end=year[1], as_of=as_of, where=where)
    mine = reported_in(located(events, chain["large"], "large"), year)
    assert got["events"] == int((mine["dept"] == "police110").sum()) > 0


@pytest.mark.parametrize("level", ["city", "large", "medium"])
def test_children_ranked_by_events(con, events, grids, chain, as_of, year, level):
    code = CITY_CODE if level == "city" else chain[level]
    got = children_ranked(con, code, start=year[0], end=year[1], as_of=as_of)
    children = grids[grids["level"] == "large"] if level == "city" else grids[grids["parent_code"] == code]
    child_level = children["level"].iloc[0]
    counts = reported_in(events, year)[COLUMN[child_level]].value_counts()
    expected = children.assign(events=children["grid_code"].map(counts).fillna(0).astype("int64"))
    expected = expected.sort_values(["events", "grid_code"], ascending=[False, True])
    assert got["grid_code"].tolist() == expected["grid_code"].tolist()  # zero-event children included
    assert got["events"].tolist() == expected["events"].tolist()
    assert got["name"].tolist() == expected["name"].tolist()
    assert got["rank"].tolist() == expected["events"].rank(ascending=False, method="min").astype(int).tolist()
    assert got["rank"].iloc[0] == 1


def test_small_grid_has_no_children(con, chain, as_of):
    got = children_ranked(con, chain["small"], start=None, end=None, as_of=as_of)
    assert got.empty and "events" in got.columns


@pytest.mark.parametrize("level", ["large", "medium", "small"])
def test_monthly_timeline(con, events, chain, as_of, year, level):
    code = chain[level]
    got = timeline(con, code, start=year[0], end=year[1], period="month")
    assert got["period"].tolist() == list(pd.date_range("2025-01-01", "2025-12-01", freq="MS"))  # zeros kept
    mine = reported_in(located(events, code, level), year)
    by_month = mine["reported_at"].dt.to_period("M").dt.to_timestamp().value_counts()
    assert got["events"].tolist() == [int(by_month.get(p, 0)) for p in got["period"]]
    inc = incidents(events)
    inc = inc[(inc[COLUMN[level]] == code) & (inc["first_reported_at"] >= year[0])
              & (inc["first_reported_at"] < year[1])]
    disputes = inc["first_reported_at"].dt.to_period("M").dt.to_timestamp().value_counts()
    assert got["disputes"].tolist() == [int(disputes.get(p, 0)) for p in got["period"]]
    figures = grid_figures(con, code, start=year[0], end=year[1], as_of=as_of)
    assert (got["events"].sum(), got["disputes"].sum()) == (figures["events"], figures["disputes_received"])


def test_timeline_from_the_incident_rollup_equals_the_raw_reports(con, events, chain, as_of, year):
    code = chain["large"]
    every_dept = EventFilter(depts=tuple(sorted(events["dept"].unique())))  # a filter: incidents from raw reports
    rolled = timeline(con, code, start=year[0], end=year[1])
    raw = timeline(con, code, start=year[0], end=year[1], where=every_dept)
    pd.testing.assert_frame_equal(rolled, raw)
    mediation = EventFilter(depts=("mediation",))
    filtered = timeline(con, code, start=year[0], end=year[1], where=mediation)
    figures = grid_figures(con, code, start=year[0], end=year[1], as_of=as_of, where=mediation)
    assert (filtered["events"].sum(), filtered["disputes"].sum()) == (figures["events"], figures["disputes_received"])
    assert 0 < filtered["disputes"].sum() < rolled["disputes"].sum()


def test_timeline_open_window_and_daily_period(con, events, chain, recent):
    code = chain["medium"]
    whole = timeline(con, code, start=None, end=None, period="month")
    mine = located(events, code, "medium")
    assert whole["period"].iloc[0] == mine["reported_at"].min().to_period("M").to_timestamp()
    assert whole["events"].sum() == len(mine)
    daily = timeline(con, code, start=recent[0], end=recent[1], period="day")
    assert len(daily) == 31 and daily["events"].sum() == len(reported_in(mine, recent))
    assert auto_period(*recent) == "day" and auto_period(None, None) == "month"
    with pytest.raises(QueryError, match="`period` was 'hour'"):
        timeline(con, code, start=None, end=None, period="hour")


def test_category_mix(con, events, chain, year):
    code = chain["large"]
    got = category_mix(con, code, start=year[0], end=year[1])
    mine = reported_in(located(events, code, "large"), year)
    counts = mine["category"].value_counts()
    names = dict(con.execute("SELECT code, name FROM categories").fetchall())
    assert dict(zip(got["category"], got["events"])) == counts.to_dict()
    assert got["events"].is_monotonic_decreasing
    assert got["category_name"].tolist() == [names[c] for c in got["category"]]
    assert got["share"].sum() == pytest.approx(1.0)


# --------------------------------------------------------------------------- event history


def expected_history(events, code, level, window, *, sort="reported_at", descending=True) -> pd.DataFrame:
    mine = reported_in(located(events, code, level), window)
    ordered = mine.sort_values("event_id")
    return ordered.sort_values(sort, ascending=not descending, kind="stable", na_position="last")


def test_history_pages_in_report_order(con, events, chain, as_of, year):
    code = chain["large"]
    expected = expected_history(events, code, "large", year)
    first = event_history(con, code, start=year[0], end=year[1], as_of=as_of)
    assert (first.total, first.page, first.page_size) == (len(expected), 1, PAGE_SIZE)
    assert first.page_count == -(-len(expected) // PAGE_SIZE) > 2
    assert first.rows["event_id"].tolist() == expected["event_id"].head(PAGE_SIZE).tolist()
    second = event_history(con, code, start=year[0], end=year[1], as_of=as_of, page=2)
    assert second.rows["event_id"].tolist() == expected["event_id"].iloc[PAGE_SIZE:2 * PAGE_SIZE].tolist()
    beyond = event_history(con, code, start=year[0], end=year[1], as_of=as_of, page=10_000)
    assert beyond.page == beyond.page_count
    assert beyond.rows["event_id"].tolist() == expected["event_id"].iloc[(beyond.page - 1) * PAGE_SIZE:].tolist()


def test_history_rows_carry_workflow_times_status_and_overdue(con, events, chain, as_of):
    code = chain["large"]
    page = event_history(con, code, start=None, end=None, as_of=as_of, page_size=500,
                         also=EventFilter(statuses=("dispatched", "in_progress")))
    mine = located(events, code, "large")
    open_ = mine[mine["status"].isin(["dispatched", "in_progress"])]
    assert page.total == len(open_) > 0
    rows = page.rows.set_index("event_id")
    source = open_.set_index("event_id").loc[rows.index]
    for column in ("reported_at", "dispatched_at", "due_at"):
        assert (rows[column] == source[column]).all()
    assert set(rows["status_name"]) <= {"已派遣", "处置中"}
    assert rows["overdue"].tolist() == (source["due_at"] < as_of).tolist()
    assert rows["overdue"].any()
    assert rows["dept_name"].notna().all() and rows["category_name"].notna().all()


@pytest.mark.parametrize("sort", ["due_at", "closed_at", "category", "dept", "event_id"])
def test_history_sorts_by_a_chosen_column(con, events, chain, as_of, year, sort):
    code = chain["medium"]
    got = event_history(con, code, start=year[0], end=year[1], as_of=as_of, sort=sort, descending=False, page_size=500)
    if sort == "category":
        names = dict(con.execute("SELECT code, name FROM categories").fetchall())
        events = events.assign(category_name=events["category"].map(names))
        sort = "category_name"
    expected = expected_history(events, code, "medium", year, sort=sort, descending=False)
    assert got.rows["event_id"].tolist() == expected["event_id"].tolist()


def test_history_filters_combine_with_the_sidebar(con, events, chain, as_of, year):
    code = chain["large"]
    got = event_history(con, code, start=year[0], end=year[1], as_of=as_of, page_size=500,
                        where=EventFilter(depts=("police110", "hotline12345")), also=EventFilter(depts=("police110",)))
    mine = reported_in(located(events, code, "large"), year)
    assert got.total == int((mine["dept"] == "police110").sum()) > 0
    nothing = event_history(con, code, start=year[0], end=year[1], as_of=as_of,
                            where=EventFilter(depts=("hotline12345",)), also=EventFilter(depts=("police110",)))
    assert nothing.total == 0 and nothing.rows.empty and nothing.page == nothing.page_count == 1


def test_history_search_is_a_bound_case_insensitive_substring(con, events, chain, as_of):
    code = chain["large"]
    mine = located(events, code, "large")
    word = mine["description"].dropna().str.extract(r"(\w{2})$")[0].value_counts().index[0]  # a common ending
    got = event_history(con, code, start=None, end=None, as_of=as_of, search=word, page_size=500)
    hit = (mine["description"].fillna("").str.lower().str.contains(word.lower(), regex=False)
           | mine["address"].fillna("").str.lower().str.contains(word.lower(), regex=False)
           | mine["event_id"].str.lower().str.contains(word.lower(), regex=False))
    assert got.total == int(hit.sum()) > 0
    one = mine["event_id"].iloc[0]
    by_id = event_history(con, code, start=None, end=None, as_of=as_of, search=one.upper())
    assert one in by_id.rows["event_id"].tolist()
    for text in (INJECTION, "%", "'; DROP TABLE events; --"):
        assert event_history(con, code, start=None, end=None, as_of=as_of, search=text).total == 0
    underscore = event_history(con, code, start=None, end=None, as_of=as_of, search="_")  # literal, not LIKE's "_"
    assert underscore.total == int(mine["event_id"].str.contains("_", regex=False).sum()) < len(mine)
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == len(events)


def test_history_rejects_unknown_sort_page_size_and_status(con, chain, as_of):
    with pytest.raises(QueryError, match=re.escape(f"is expected to be one of {list(HISTORY_SORTS)}")):
        event_history(con, chain["small"], start=None, end=None, as_of=as_of, sort="reported_at; DROP TABLE events")
    with pytest.raises(QueryError, match="`page_size` was 0"):
        event_history(con, chain["small"], start=None, end=None, as_of=as_of, page_size=0)
    with pytest.raises(QueryError, match="`statuses` had"):
        event_history(con, chain["small"], start=None, end=None, as_of=as_of, also=EventFilter(statuses=("done",)))


# --------------------------------------------------------------------------- map


def test_map_shows_the_children_and_a_small_grid_among_its_siblings(con, grids, chain):
    assert map_grids(con, CITY_CODE) is prepare_level(con, "large")
    children = map_grids(con, chain["large"])
    assert list(children.codes) == sorted(grids.loc[grids["parent_code"] == chain["large"], "grid_code"])
    siblings = map_grids(con, chain["small"])
    assert chain["small"] in siblings.codes
    assert list(siblings.codes) == sorted(grids.loc[grids["parent_code"] == chain["medium"], "grid_code"])
    assert siblings.report.coverage_valid


def test_drill_map_tooltips_come_back_on_click_and_the_chosen_grid_is_outlined(con, chain):
    prepared = map_grids(con, chain["small"])
    values = pd.Series(range(len(prepared)), index=list(prepared.codes))
    html = drill_map(prepared, values, title="事件数", selected=chain["small"]).get_root().render()
    assert "setTooltipContent" in html and "interactive: false" in html
    assert not re.search(r"https?://(?!127\.0\.0\.1)", html.split("<body>")[1])  # no outside host in the map
    unselected = drill_map(prepared, values, title="事件数").get_root().render()
    assert "interactive: false" not in unselected


def test_clicked_grid_reads_the_code_from_the_tooltip_text():
    codes = ("L1", "L11", "441502001001001")
    assert clicked_grid("名称第1网格编码441502001001001事件数3排名1 / 6", codes) == "441502001001001"
    assert clicked_grid("名称甲编码L11事件数3排名1 / 2", codes) == "L11"
    assert clicked_grid("名称编码站编码L1事件数3排名1 / 2", codes) == "L1"  # a name that contains 编码
    assert clicked_grid("名称甲编码Z9事件数3排名1 / 2", codes) is None
    assert clicked_grid(None, codes) is None and clicked_grid("", codes) is None
