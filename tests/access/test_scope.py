"""Jurisdiction below the pages (access/scope.py): a cursor scoped to one large grid L sees only L's grids and events
in every layers function the pages call, in prepared geometry, through the Store's caches and in the CLI export.
Expected values come from pandas filters of the raw tables (read on a plain connection), never from the views."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from dashboard.published import Store, open_store
from store.errors import UserError
from access.principal import SYSTEM, Principal
from store.rollups import rollup_state
from access.scope import SCOPE_TABLE, allowed_grids, ancestor_grids, scope_views, scoped_cursor
from layers import disputes, drilldown, geometry, heatmap, kpis, lookups, markers, review, stats, trends
from layers import grids as layer_grids
from layers.event_query import EventFilter
from minqing.cli import main
from references import assert_figures_match, ref_grid_figures, ref_yearly

T = dt.datetime
GRID_COLUMN = {"large": "grid_large", "medium": "grid_medium", "small": "grid_small"}
ROLLUP_WINDOW = (T(2025, 1, 1), T(2025, 12, 1))  # midnights: the rollups answer it
RAW_WINDOW = (T(2025, 6, 1, 8, 30), T(2025, 12, 31, 18))  # not on midnights: the raw events answer it
HOSTILE_SCOPES = [
    "' OR 1=1 --",
    "441502001000000' OR '1'='1",
    '"; DROP TABLE grids; --',
    "x'); DROP TABLE events; --",
    "%",
    "",
    "441502001000000\x00",
    "city",
]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def plain(demo_db: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(demo_db), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def raw_grids(plain) -> pd.DataFrame:
    return plain.execute("SELECT * EXCLUDE (geometry) FROM grids").df()


@pytest.fixture(scope="module")
def raw_events(plain) -> pd.DataFrame:
    return plain.execute("SELECT * FROM events").df()


@pytest.fixture(scope="module")
def towns(raw_events) -> tuple[str, str]:
    """L (the large grid with most events) and O (another town with events)."""
    counts = raw_events["grid_large"].value_counts()
    return counts.index[0], counts.index[1]


@pytest.fixture(scope="module")
def town(towns) -> str:
    return towns[0]


@pytest.fixture(scope="module")
def official(town) -> Principal:
    return Principal(username="zhang", role="official", scope=(town,), display_name="张三")


@pytest.fixture(scope="module")
def own(raw_grids, town) -> dict[str, list[str]]:
    """L's grids per level from the raw grids table: L, its medium grids, their small grids."""
    medium = raw_grids.loc[raw_grids["parent_code"] == town, "grid_code"]
    small = raw_grids.loc[raw_grids["parent_code"].isin(medium), "grid_code"]
    return {"large": [town], "medium": sorted(medium), "small": sorted(small)}


@pytest.fixture(scope="module")
def own_codes(own) -> set[str]:
    return {c for codes in own.values() for c in codes}


@pytest.fixture(scope="module")
def foreign_codes(raw_grids, own_codes) -> set[str]:
    return set(raw_grids["grid_code"]) - own_codes


@pytest.fixture(scope="module")
def town_events(raw_events, town) -> pd.DataFrame:
    return raw_events[raw_events["grid_large"] == town].reset_index(drop=True)


@pytest.fixture(scope="module")
def cur(plain, official) -> duckdb.DuckDBPyConnection:
    cursor = scoped_cursor(plain, official)
    yield cursor
    cursor.close()


@pytest.fixture(scope="module")
def as_of(plain) -> dt.datetime:
    return stats.data_clock(plain)


def grid_strings(value: object) -> set[str]:
    """Every text found in a layers result (frames, series, dataclasses, dicts, tuples, prepared geometry)."""
    out: set[str] = set()
    if isinstance(value, pd.DataFrame):
        out |= {str(c) for c in value.columns} | {str(i) for i in value.index}
        for column in value.columns:
            out |= {v for v in value[column].tolist() if isinstance(v, str)}
        out |= {str(v) for v in value.attrs.values()}
    elif isinstance(value, pd.Series):
        out |= {v for v in value.tolist() if isinstance(v, str)} | {str(i) for i in value.index}
    elif isinstance(value, geometry.PreparedGrids):
        out |= set(value.codes) | set(value.names) | {value.topology_json}
    elif dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            out |= grid_strings(getattr(value, field.name))
    elif isinstance(value, dict):
        for k, v in value.items():
            out |= grid_strings(k) | grid_strings(v)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            out |= grid_strings(v)
    elif isinstance(value, str):
        out.add(value)
    return out


def assert_no_foreign(value: object, foreign: set[str]) -> None:
    texts = grid_strings(value)
    leaked = {code for code in foreign if code in texts}
    assert not leaked, f"grid codes of other jurisdictions leaked: {sorted(leaked)[:5]}"
    joined = "\n".join(t for t in texts if len(t) > 40)  # long texts (topology JSON, descriptions) hold codes inside
    assert not [code for code in list(foreign)[:2000] if code in joined]


# --------------------------------------------------------------------------- the scope itself


def test_allowed_grids_are_the_town_and_everything_below_it(plain, official, own_codes, town) -> None:
    assert allowed_grids(plain, official) == own_codes
    assert ancestor_grids(plain, official) == set()
    assert allowed_grids(plain, SYSTEM) == set(plain.execute("SELECT grid_code FROM grids").df()["grid_code"])


def test_the_views_shadow_every_grid_level_table(plain, official) -> None:
    assert scope_views(plain, SYSTEM) == {}
    views = scope_views(plain, official)
    expected = {"events", "grids", "grid_history", "rollup_daily", "rollup_incidents", "rollup_disputes_yearly",
                "rejects", "meta"}
    tables = {r[0] for r in plain.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
    if "persons" in tables:
        expected.add("persons")
    assert expected <= set(views)
    assert list(views)[0] == "events"
    for table, select in views.items():
        assert '.main."' + table + '"' in select, select  # always the catalog-qualified table, never main.<table>
    assert not {"categories", "departments", "load_batches"} & set(views)


def test_every_table_holds_only_the_towns_rows(plain, cur, own, own_codes, town_events, raw_events) -> None:
    got = cur.execute("SELECT event_id FROM events ORDER BY event_id").df()["event_id"].tolist()
    assert got == sorted(town_events["event_id"])
    assert cur.execute("SELECT count(*) FROM main.events").fetchone()[0] == len(town_events)  # main.<t> is scoped too
    for level, codes in own.items():
        listed = cur.execute("SELECT grid_code FROM grids WHERE level = ? ORDER BY 1", [level]).df()["grid_code"]
        assert listed.tolist() == codes
    for table in ("rollup_daily", "rollup_incidents", "rollup_disputes_yearly"):
        rows = cur.execute(f"SELECT grid_large, grid_medium, grid_small FROM {table}").df()
        full = plain.execute(f"SELECT count(*) FROM {table} WHERE grid_large = ?", [own['large'][0]]).fetchone()[0]
        assert len(rows) == full > 0
        assert set(rows["grid_large"]) == set(own["large"])
        assert set(rows["grid_medium"].dropna()) <= own_codes and set(rows["grid_small"].dropna()) <= own_codes
    assert cur.execute("SELECT count(*) FROM rejects").fetchone()[0] == 0
    assert set(cur.execute("SELECT grid_code FROM grid_history").df()["grid_code"]) <= own_codes
    if plain.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'persons'").fetchone()[0]:
        persons = cur.execute("SELECT event_id FROM persons").df()["event_id"]
        all_persons = plain.execute("SELECT event_id FROM persons").df()["event_id"]
        assert set(persons) <= set(town_events["event_id"])
        assert len(persons) == all_persons.isin(town_events["event_id"]).sum()
    # the plain connection and a fresh cursor of it still see the whole city: temp views belong to one cursor
    assert plain.execute("SELECT count(*) FROM events").fetchone()[0] == len(raw_events)
    other = plain.cursor()
    assert other.execute("SELECT count(*) FROM events").fetchone()[0] == len(raw_events)
    other.close()


def test_rollups_stay_fresh_under_a_scope(plain, cur) -> None:
    assert rollup_state(plain) == "fresh"
    assert rollup_state(cur) == "fresh"  # the scoped views are read, not the raw fallback
    assert stats.choose_source(cur, "auto", start=ROLLUP_WINDOW[0], end=ROLLUP_WINDOW[1]) == "rollup"


def test_a_stale_store_stays_stale_under_a_scope(demo_db, tmp_path, town) -> None:
    copy = tmp_path / "stale.duckdb"
    copy.write_bytes(demo_db.read_bytes())
    with duckdb.connect(str(copy)) as con:
        con.execute("UPDATE meta SET value = '1:1:1' WHERE key = 'rollup_signature'")
        cursor = scoped_cursor(con, Principal("x", "official", (town,)))
        assert rollup_state(cursor) == "stale"
        cursor.close()


def test_whole_city_principals_get_the_plain_cursor(plain, raw_events) -> None:
    for principal in (SYSTEM, Principal("cc", "command_center"), Principal("an", "analyst")):
        cursor = scoped_cursor(plain, principal)
        assert cursor.execute("SELECT count(*) FROM events").fetchone()[0] == len(raw_events)
        assert cursor.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{SCOPE_TABLE}'").fetchone()[0] == 0
        cursor.close()


def test_a_medium_scope_sees_its_small_grids_and_names_its_town(plain, raw_grids, raw_events) -> None:
    medium = raw_grids[raw_grids["level"] == "medium"].sort_values("grid_code").iloc[-1]
    small = set(raw_grids.loc[raw_grids["parent_code"] == medium["grid_code"], "grid_code"])
    principal = Principal("li", "official", (medium["grid_code"],))
    assert allowed_grids(plain, principal) == {medium["grid_code"], *small}
    assert ancestor_grids(plain, principal) == {medium["parent_code"]}
    cursor = scoped_cursor(plain, principal)
    try:
        expected = raw_events[raw_events["grid_medium"] == medium["grid_code"]]
        assert cursor.execute("SELECT count(*) FROM events").fetchone()[0] == len(expected)
        assert stats.grid_table(cursor, "large").empty  # the town is a name, not a grid of the user's
        table = stats.grid_table(cursor, "medium")
        town_name = raw_grids.set_index("grid_code").loc[medium["parent_code"], "name"]
        assert table["grid_code"].tolist() == [medium["grid_code"]] and table["parent_name"].tolist() == [town_name]
        small_table = stats.grid_table(cursor, "small")
        assert set(small_table["grid_code"]) == small and set(small_table["grandparent_name"]) == {town_name}
        assert set(geometry.prepare_level(cursor, "small").codes) == small
        with pytest.raises(ValueError, match="no grids of level 'large'"):
            geometry.prepare_level(cursor, "large")
        row = cursor.execute("SELECT level, geometry, population FROM grids WHERE grid_code = ?",
                             [medium["parent_code"]]).fetchone()
        assert row == (None, None, None)  # names only
        profile = drilldown.grid_profile(cursor, medium["grid_code"])
        assert profile.ancestors[-1] == (medium["parent_code"], town_name)  # the breadcrumb keeps the name
    finally:
        cursor.close()


@pytest.mark.parametrize("code", HOSTILE_SCOPES)
def test_hostile_scope_codes_are_refused_cleanly(plain, code, raw_events) -> None:
    principal = Principal("evil", "official", (code,))
    with pytest.raises(UserError, match="is not a grid in the store"):
        scoped_cursor(plain, principal)
    with pytest.raises(UserError):
        allowed_grids(plain, principal)
    assert plain.execute("SELECT count(*) FROM events").fetchone()[0] == len(raw_events)  # nothing dropped


def test_malformed_scopes_are_refused(plain, own, town) -> None:
    with pytest.raises(UserError, match="small grid"):
        scoped_cursor(plain, Principal("s", "official", (own["small"][0],)))
    with pytest.raises(UserError, match="is a int"):
        scoped_cursor(plain, Principal("n", "official", (123,)))  # type: ignore[arg-type]
    with pytest.raises(UserError, match="Principal"):
        scoped_cursor(plain, town)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="not a grid"):
        scoped_cursor(plain, Principal("m", "official", (town, "nope")))  # one bad code refuses the whole scope


# --------------------------------------------------------------------------- every layers function of the pages


@pytest.mark.parametrize("level", ["large", "medium", "small", "city"])
@pytest.mark.parametrize("window", [ROLLUP_WINDOW, RAW_WINDOW])
def test_grid_stats_match_pandas_on_the_towns_events(cur, own, town_events, foreign_codes, as_of, level, window) -> None:
    start, end = window
    codes = ["city"] if level == "city" else own[level]
    got = stats.grid_stats(cur, level, start=start, end=end, as_of=as_of)
    assert_figures_match(got, ref_grid_figures(town_events, level, codes, start, end, as_of))
    assert_no_foreign(got, foreign_codes)


def test_filtered_grid_stats_match_pandas(cur, own, town_events, as_of) -> None:
    where = EventFilter(statuses=("closed", "in_progress"))
    got = stats.grid_stats(cur, "medium", start=ROLLUP_WINDOW[0], end=ROLLUP_WINDOW[1], as_of=as_of, where=where)
    assert_figures_match(got, ref_grid_figures(town_events, "medium", own["medium"], *ROLLUP_WINDOW, as_of, where))


def test_the_town_row_is_the_same_for_the_official_and_the_city(plain, cur, town, as_of) -> None:
    city = stats.grid_stats(plain, "large", start=ROLLUP_WINDOW[0], end=ROLLUP_WINDOW[1], as_of=as_of)
    mine = stats.grid_stats(cur, "large", start=ROLLUP_WINDOW[0], end=ROLLUP_WINDOW[1], as_of=as_of)
    pd.testing.assert_frame_equal(mine, city[city["grid_code"] == town].reset_index(drop=True))


@pytest.mark.parametrize("by", ["category", "dept", "status", "month"])
def test_counts_by(cur, own, town_events, foreign_codes, by) -> None:
    start, end = ROLLUP_WINDOW
    got = stats.counts_by(cur, "small", by, start=start, end=end)
    assert got["grid_code"].tolist() == own["small"]
    reported = town_events[(town_events["reported_at"] >= start) & (town_events["reported_at"] < end)]
    key = reported[by] if by != "month" else reported["reported_at"].dt.to_period("M").dt.start_time.dt.strftime("%Y-%m-%d")
    expected = reported.groupby([reported["grid_small"], key]).size()
    long = got.melt(id_vars=["grid_code", "name"], var_name="key", value_name="n")
    long = long[long["n"] > 0].set_index(["grid_code", "key"])["n"].sort_index()
    expected.index.names = ["grid_code", "key"]
    assert long.to_dict() == expected.sort_index().to_dict()
    assert_no_foreign(got, foreign_codes)


def test_period_changes(cur, own, foreign_codes) -> None:
    got = stats.period_changes(cur, "medium", start=T(2025, 3, 1), end=T(2025, 6, 1))
    assert got["grid_code"].tolist() == own["medium"]
    assert_no_foreign(got, foreign_codes)


@pytest.mark.parametrize("level", ["large", "medium", "small"])
def test_dispute_statistics_match_pandas(cur, own, town_events, foreign_codes, level) -> None:
    years = range(2021, 2026)
    got = disputes.dispute_statistics(cur, level, year_from=years[0], year_to=years[-1])
    expected = ref_yearly(town_events, level, own[level], years)
    assert got["grid_code"].drop_duplicates().tolist() == own[level]
    merged = got.merge(expected, on=["grid_code", "year"], suffixes=("", "_ref"))
    assert len(merged) == len(got) == len(own[level]) * len(years)
    for column in ("received", "resolved"):
        assert merged[column].tolist() == merged[f"{column}_ref"].tolist(), column
    for column in [c for c in expected.columns if c.startswith("resolved_class_")]:
        assert merged[column].astype("int64").tolist() == merged[f"{column}_ref"].tolist(), column
    assert_no_foreign(got, foreign_codes)


def test_city_dispute_totals_are_the_towns(plain, cur, town, town_events) -> None:
    mine = disputes.city_dispute_totals(cur, year_from=2021, year_to=2025)
    theirs = disputes.city_dispute_totals(plain, year_from=2021, year_to=2025, grid=town)
    columns = ["year", "received", "resolved", "resolution_rate"]
    pd.testing.assert_frame_equal(mine[columns], theirs[columns])
    ref = ref_yearly(town_events, "large", [town], range(2021, 2026))
    assert mine["resolved"].tolist() == ref["resolved"].tolist()
    assert mine["scope_code"].unique().tolist() == ["city"]


def test_drilldown(cur, own, town, town_events, foreign_codes, raw_grids, as_of, towns) -> None:
    start, end = ROLLUP_WINDOW
    city = drilldown.grid_profile(cur, drilldown.CITY_CODE)
    assert city.child_count == 1
    assert drilldown.child_grids(cur, drilldown.CITY_CODE)["grid_code"].tolist() == [town]
    assert drilldown.grid_profile(cur, towns[1]) is None  # another town does not exist for the official
    with pytest.raises(stats.QueryError, match="not in the store"):
        drilldown.grid_figures(cur, towns[1], start=start, end=end, as_of=as_of)
    other_name = raw_grids.set_index("grid_code").loc[towns[1], "name"]
    assert drilldown.search_grids(cur, other_name).empty
    assert drilldown.search_grids(cur, towns[1]).empty
    found = drilldown.search_grids(cur, "第1网格", limit=1000)
    assert len(found) and set(found["grid_code"]) <= set(own["small"])
    in_window = town_events[(town_events["reported_at"] >= start) & (town_events["reported_at"] < end)]
    for code in (drilldown.CITY_CODE, town, own["medium"][0]):
        page = drilldown.event_history(cur, code, start=start, end=end, as_of=as_of, page_size=500)
        column = "grid_large" if code in (drilldown.CITY_CODE, town) else "grid_medium"
        expected = in_window if code == drilldown.CITY_CODE else in_window[in_window[column] == code]
        assert page.total == len(expected)
        assert set(page.rows["event_id"]) <= set(expected["event_id"])
        assert_no_foreign(page, foreign_codes)
    figures = drilldown.grid_figures(cur, drilldown.CITY_CODE, start=start, end=end, as_of=as_of)
    assert figures["events"] == len(in_window)
    results = [
        drilldown.children_ranked(cur, drilldown.CITY_CODE, start=start, end=end, as_of=as_of),
        drilldown.children_ranked(cur, town, start=start, end=end, as_of=as_of),
        drilldown.timeline(cur, town, start=start, end=end),
        drilldown.category_mix(cur, drilldown.CITY_CODE, start=start, end=end),
        drilldown.map_grids(cur, drilldown.CITY_CODE),
        drilldown.map_grids(cur, town),
        drilldown.map_grids(cur, own["small"][0]),
    ]
    assert results[0]["grid_code"].tolist() == [town]
    assert sorted(results[1]["grid_code"]) == own["medium"]
    assert int(results[3]["events"].sum()) == len(in_window)
    assert results[4].codes == (town,)
    for result in results:
        assert_no_foreign(result, foreign_codes)


def test_trends(cur, plain, town, town_events, foreign_codes, own, as_of) -> None:
    start, end = trends.trend_window(2022, 2025, as_of)
    mine = trends.dispute_totals(cur, "year", start=start, end=end)
    theirs = trends.dispute_totals(plain, "year", start=start, end=end, scope=trends.Scope("large", town))
    pd.testing.assert_frame_equal(mine, theirs)
    ref = ref_yearly(town_events, "large", [town], range(2022, 2026))
    assert mine["received"].tolist() == ref["received"].tolist()
    results = [
        mine,
        trends.dispute_series(cur, "month", start=start, end=end),
        trends.grid_month_values(cur, "small", start=T(2025, 1, 1), end=T(2025, 7, 1)),
        trends.grid_month_values(cur, "medium", start=T(2025, 1, 1), end=T(2025, 7, 1), figure="disputes_resolved"),
        trends.grid_options(cur, "small"),
    ]
    assert results[2]["grid_code"].tolist() == own["small"]
    assert list(results[4]) == own["small"]
    for result in results:
        assert_no_foreign(result, foreign_codes)


def test_heatmap_markers_and_kpis(cur, plain, town, town_events, foreign_codes, as_of) -> None:
    start, end = ROLLUP_WINDOW
    located = town_events[town_events["lon"].notna() & town_events["lat"].notna()]
    window = located[(located["reported_at"] >= start) & (located["reported_at"] < end)]
    bins = heatmap.heat_bins(cur, start=start, end=end)
    assert bins.attrs["events"] == len(window) == bins["weight"].sum()
    latest = markers.latest_events(cur, as_of=as_of, limit=500)
    expected = located[located["reported_at"] <= as_of].sort_values(["reported_at", "event_id"],
                                                                     ascending=[False, True]).head(500)
    assert latest["event_id"].tolist() == expected["event_id"].tolist()
    assert set(latest["grid_large"]) == {town}
    feed = kpis.latest_reports(cur, as_of=as_of, limit=200)
    assert set(feed["event_id"]) <= set(town_events["event_id"]) and len(feed) == 200
    mine = kpis.command_kpis(cur, as_of=as_of)
    now = stats.open_now(plain, "large", as_of=as_of).set_index("grid_code").loc[town]
    assert mine.open_now.value == now["open_now"] and mine.overdue_now.value == now["overdue_now"]
    open_ref = town_events[(town_events["reported_at"] <= as_of)
                           & ~((town_events["status"] == "closed") & (town_events["closed_at"] <= as_of))]
    assert mine.open_now.value == len(open_ref)
    for result in (bins, latest, feed, mine):
        assert_no_foreign(result, foreign_codes)


def test_grid_layers_and_prepared_geometry(cur, plain, own, town_events, foreign_codes) -> None:
    for level, codes in own.items():
        counts = layer_grids.event_counts(cur, level)
        assert counts["grid_code"].tolist() == codes
        expected = town_events[GRID_COLUMN[level]].value_counts().reindex(codes, fill_value=0)
        assert counts.set_index("grid_code")["event_count"].tolist() == expected.tolist()
        frame = layer_grids.grid_frame(cur, level)
        assert frame["grid_code"].tolist() == codes
        prepared = geometry.prepare_level(cur, level)
        assert prepared.codes == tuple(codes)
        assert len(prepared.topology["grids"]) == len(codes) == len(geometry.topology_to_shapely(prepared.topology))
        whole = geometry.prepare_level(plain, level)
        assert len(whole) > len(prepared) and prepared is not whole
        for result in (counts, frame, prepared):
            assert_no_foreign(result, foreign_codes)
    summary = layer_grids.store_summary(cur)
    assert summary.event_total == len(town_events)
    assert summary.grids_by_level == {level: len(codes) for level, codes in own.items()}


def test_exports_and_reviews_of_the_layers(cur, town, town_events, foreign_codes, as_of) -> None:
    rows = stats.event_rows(cur)
    assert sorted(rows["event_id"]) == sorted(town_events["event_id"])
    with pytest.raises(stats.QueryError, match="not in the store"):
        stats.event_rows(cur, grid=sorted(foreign_codes)[0])
    report = review.review_report(cur, "month", as_of=as_of)
    assert report["grid_code"].tolist() == [town]
    assert stats.data_clock(cur) == town_events["reported_at"].max()
    assert lookups.department_names(cur) and lookups.category_names(cur)  # no grid data: read as they are
    for result in (rows, report):
        assert_no_foreign(result, foreign_codes)


def test_personal_data_of_other_towns_is_out_of_reach(plain, cur, town_events) -> None:
    personal = pytest.importorskip("layers.personal")
    if not hasattr(personal, "persons_for_event"):
        pytest.skip("layers.personal has no persons_for_event yet")
    if not plain.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'persons'").fetchone()[0]:
        pytest.skip("this store has no persons table")
    named = plain.execute("SELECT DISTINCT p.event_id, e.grid_large FROM persons AS p JOIN events AS e USING (event_id)").df()
    outside = named[named["grid_large"] != town_events["grid_large"].iloc[0]]
    if outside.empty:
        pytest.skip("the demo names nobody")
    for event_id in outside["event_id"].head(20):
        assert personal.persons_for_event(cur, event_id, reveal=True).empty
        assert not personal.persons_for_event(plain, event_id, reveal=True).empty
    inside = named[named["grid_large"] == town_events["grid_large"].iloc[0]]
    for event_id in inside["event_id"].head(5):
        assert not personal.persons_for_event(cur, event_id, reveal=False).empty


# --------------------------------------------------------------------------- the Store's caches


def test_store_caches_do_not_leak_between_principals(demo_db, official, own, raw_grids, as_of) -> None:
    """Store.query / Store.resource run outside a Streamlit script: st.cache_data / st.cache_resource fall back to
    an in-memory cache (a "No runtime found" warning), which keys and hits exactly as in the app."""
    store = open_store(demo_db)
    assert store.principal == SYSTEM and store.as_principal(SYSTEM) == store
    scoped = store.as_principal(official)
    assert scoped.path == store.path and scoped.signature == store.signature
    large = len(raw_grids[raw_grids["level"] == "large"])
    window = dict(start=ROLLUP_WINDOW[0], end=ROLLUP_WINDOW[1], as_of=as_of)
    for _ in range(2):  # the second round is served from the caches
        assert len(store.query(stats.grid_table, "large")) == large
        assert store.query(stats.grid_table, "large")["grid_code"].tolist() != own["large"]
        assert scoped.query(stats.grid_table, "large")["grid_code"].tolist() == own["large"]
        assert len(store.query(stats.grid_stats, "small", **window)) > len(own["small"])
        assert scoped.query(stats.grid_stats, "small", **window)["grid_code"].tolist() == own["small"]
        assert scoped.resource(geometry.prepare_level, "small").codes == tuple(own["small"])
        assert len(store.resource(geometry.prepare_level, "small")) > len(own["small"])
        assert store.query(layer_grids.store_summary).event_total > scoped.query(layer_grids.store_summary).event_total
    # same role and scope, another username: the same figures (entries are keyed on role and scope)
    colleague = store.as_principal(dataclasses.replace(official, username="wang"))
    assert colleague.query(stats.grid_table, "large")["grid_code"].tolist() == own["large"]
    with pytest.raises(TypeError):
        store.as_principal("zhang")  # type: ignore[arg-type]
    assert open_store(demo_db, official) == scoped


def test_a_medium_officials_store_summary_counts_the_town_as_a_name(demo_db, raw_grids) -> None:
    """The ancestor row has level NULL, so store_summary has a None key (frame.py should skip it)."""
    medium = raw_grids[raw_grids["level"] == "medium"].sort_values("grid_code").iloc[0]
    store = open_store(demo_db, Principal("li", "official", (medium["grid_code"],)))
    summary = store.query(layer_grids.store_summary)
    small = (raw_grids["parent_code"] == medium["grid_code"]).sum()
    assert {k: v for k, v in summary.grids_by_level.items() if k is not None} == {"large": 0, "medium": 1, "small": small}


def test_a_store_with_a_bad_scope_raises_instead_of_showing_the_city(demo_db) -> None:
    store = open_store(demo_db).as_principal(Principal("x", "official", ("no-such-grid",)))
    with pytest.raises(UserError):
        store.query(stats.grid_table, "large")


# --------------------------------------------------------------------------- the CLI export


def _export(*args: str, env: dict[str, str] | None = None, input: str | None = None):
    return CliRunner().invoke(main, ["export", *args], env=env, input=input)


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(path.read_bytes()), encoding="utf-8-sig", dtype=str)


def test_cli_event_export_is_scoped(demo_db, tmp_path, town, towns, town_events, foreign_codes) -> None:
    out = tmp_path / "events.csv"
    result = _export("events", "--db", str(demo_db), "--scope", town, "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = _csv(out)
    assert len(rows) == len(town_events)
    assert not foreign_codes & set(rows.stack())
    refused = tmp_path / "other.csv"
    result = _export("events", "--db", str(demo_db), "--scope", town, "--grid", towns[1], "-o", str(refused))
    assert result.exit_code == 2 and "not in your jurisdiction" in result.output and "Traceback" not in result.output
    assert not refused.exists()
    inside = tmp_path / "inside.csv"
    medium = sorted(town_events["grid_medium"].dropna())[0]
    result = _export("events", "--db", str(demo_db), "--scope", town, "--grid", medium, "-o", str(inside))
    assert result.exit_code == 0, result.output
    assert len(_csv(inside)) == (town_events["grid_medium"] == medium).sum()


def test_cli_dispute_and_review_exports_are_scoped(demo_db, tmp_path, town, own, foreign_codes) -> None:
    out = tmp_path / "disputes.csv"
    result = _export("disputes", "--db", str(demo_db), "--scope", town, "--level", "small", "--from", "2024",
                     "--to", "2025", "-o", str(out))
    assert result.exit_code == 0, result.output
    rows = _csv(out)
    assert sorted(set(rows.iloc[:, 0])) == own["small"]
    assert not foreign_codes & set(rows.stack())
    xlsx = tmp_path / "disputes.xlsx"
    result = _export("disputes", "--db", str(demo_db), "--scope", town, "--level", "all", "-o", str(xlsx))
    assert result.exit_code == 0, result.output
    book = pd.read_excel(xlsx, sheet_name=None, dtype=str)
    assert not foreign_codes & {v for frame in book.values() for v in frame.stack()}
    refused = tmp_path / "refused.csv"
    other_medium = sorted(foreign_codes)[1]
    result = _export("disputes", "--db", str(demo_db), "--scope", town, "--level", "small", "--grid", other_medium,
                     "-o", str(refused))
    assert result.exit_code == 2 and "not in your jurisdiction" in result.output and not refused.exists()
    review_out = tmp_path / "review.csv"
    result = _export("review", "--db", str(demo_db), "--scope", town, "--period", "month", "-o", str(review_out))
    assert result.exit_code == 0, result.output
    assert set(_csv(review_out).stack()) & {town} and not foreign_codes & set(_csv(review_out).stack())


@pytest.mark.parametrize("code", HOSTILE_SCOPES[:4])
def test_cli_refuses_hostile_scopes(demo_db, tmp_path, code) -> None:
    out = tmp_path / "x.csv"
    result = _export("events", "--db", str(demo_db), "--scope", code, "-o", str(out))
    assert result.exit_code == 2, result.output
    assert "is not a grid in the store" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_cli_export_as_a_signed_in_user(demo_db, tmp_path, town, town_events) -> None:
    accounts = pytest.importorskip("access.accounts")
    users = tmp_path / "users.toml"
    accounts.add_user(users, "zhang", role="official", scope=[town], name="张三", password="correct horse")
    accounts.add_user(users, "boss", role="analyst", password="battery staple")
    out = tmp_path / "mine.csv"
    args = ("events", "--db", str(demo_db), "--user", "zhang", "--users", str(users), "-o", str(out))
    result = _export(*args, env={"MINQING_PASSWORD": "correct horse"})
    assert result.exit_code == 0, result.output
    assert len(_csv(out)) == len(town_events)
    prompted = tmp_path / "prompted.csv"
    result = _export(*args[:-1], str(prompted), env={"MINQING_PASSWORD": None}, input="correct horse\n")
    assert result.exit_code == 0, result.output
    assert len(_csv(prompted)) == len(town_events)
    wrong = tmp_path / "wrong.csv"
    result = _export(*args[:-1], str(wrong), env={"MINQING_PASSWORD": "nope nope"})
    assert result.exit_code == 2 and "sign-in failed" in result.output and not wrong.exists()
    whole = tmp_path / "whole.csv"
    result = _export("events", "--db", str(demo_db), "--user", "boss", "--users", str(users), "-o", str(whole),
                     env={"MINQING_PASSWORD": "battery staple"})
    assert result.exit_code == 0, result.output
    assert len(_csv(whole)) > len(town_events)
    result = _export(*args, "--scope", town, env={"MINQING_PASSWORD": "correct horse"})
    assert result.exit_code == 2 and "exclude each other" in result.output
