"""layers/trends.py and layers/charts.py on the demo city: dispute series by period and class for the city, a level
and one grid (filtered too), 较去年同期 / 较上年 windows and values for a fixed as_of, the playback map's per-grid
months, all against pandas on `SELECT * FROM events`; the exports and their commands against the CLI."""

from __future__ import annotations

import datetime as dt
import io
import shlex
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from layers import trends
from layers.charts import class_trend_chart, received_resolved_chart
from layers.export_service import ExportRequest, jsonable, run_export
from layers.disputes import city_dispute_totals, dispute_statistics
from layers.event_query import EventFilter
from layers.stats import QueryError
from layers.trends import CITY, Scope
from minqing.cli import main
from store.errors import UserError
from references import PUBLISHED
from references import read_events, ref_incidents

T = dt.datetime
GRID_COLUMN = {"large": "grid_large", "medium": "grid_medium", "small": "grid_small"}
NEIGHBOURS = EventFilter(categories=("dispute_neighbour", "dispute_marriage_family"))
AS_OF = T(2025, 6, 15, 12, 30)


@pytest.fixture(scope="module")
def events(demo_db: Path) -> pd.DataFrame:
    return read_events(demo_db)


@pytest.fixture()
def con(demo_db: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(demo_db), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def medium_grid(demo_db: Path) -> str:
    with duckdb.connect(str(demo_db), read_only=True) as connection:
        return connection.execute("SELECT grid_code FROM grids WHERE level = 'medium' ORDER BY grid_code "
                                  "LIMIT 1 OFFSET 7").fetchall()[0][0]


# --------------------------------------------------------------------------- independent reference (pandas)


def in_scope(frame: pd.DataFrame, scope: Scope) -> pd.DataFrame:
    column = GRID_COLUMN.get(scope.level, "grid_large")
    keep = frame[column].notna() if scope.grid is None else frame[column] == scope.grid
    return frame[keep]


def ref_series(events: pd.DataFrame, period: str, start: dt.datetime, end: dt.datetime, scope: Scope,
               where: EventFilter | None = None) -> pd.DataFrame:
    """received / resolved per (period, class), non-zero cells only."""
    inc = in_scope(ref_incidents(events, where), scope).copy()
    inc["dispute_class"] = inc["dispute_class"].fillna("未分类")
    freq = "Y" if period == "year" else "M"
    parts = {}
    for figure, column in (("received", "first_reported_at"), ("resolved", "first_closed_at")):
        hit = inc[(inc[column] >= start) & (inc[column] < end)]
        parts[figure] = hit.groupby([hit[column].dt.to_period(freq).dt.start_time, hit["dispute_class"]]).size()
    out = pd.DataFrame(parts).fillna(0).astype("int64")
    out.index.names = ["period", "dispute_class"]
    return out


def assert_series_match(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    indexed = got.set_index(["period", "dispute_class"])[["received", "resolved"]]
    nonzero = indexed[(indexed["received"] > 0) | (indexed["resolved"] > 0)]
    assert nonzero.index.is_unique
    expected = expected.reindex(nonzero.index.union(expected.index), fill_value=0)
    assert len(nonzero) == len(expected), "a (period, class) with incidents is missing or extra"
    pd.testing.assert_frame_equal(nonzero.sort_index(), expected.sort_index(), check_names=False,
                                  check_index_type=False)


def located(events: pd.DataFrame, scope: Scope, where: EventFilter | None = None) -> pd.DataFrame:
    frame = in_scope(events[events["grid_large"].notna()], scope)
    if where is not None and where.categories:
        frame = frame[frame["category"].isin(where.categories)]
    return frame


def ref_figures(events: pd.DataFrame, scope: Scope, start: dt.datetime, end: dt.datetime,
                where: EventFilter | None = None) -> dict[str, int]:
    ev = located(events, scope, where)
    inc = in_scope(ref_incidents(events, where), scope)
    return {
        "events": int(((ev["reported_at"] >= start) & (ev["reported_at"] < end)).sum()),
        "disputes_received": int(((inc["first_reported_at"] >= start) & (inc["first_reported_at"] < end)).sum()),
        "disputes_resolved": int(((inc["first_closed_at"] >= start) & (inc["first_closed_at"] < end)).sum()),
    }


# --------------------------------------------------------------------------- series


@pytest.mark.parametrize("period", ["year", "month"])
@pytest.mark.parametrize("scope_kind", ["city", "small", "grid"])
def test_dispute_series_match_pandas(con, events, medium_grid, period, scope_kind) -> None:
    scope = {"city": CITY, "small": Scope("small"), "grid": Scope("medium", medium_grid)}[scope_kind]
    start, end = T(2019, 1, 1), T(2026, 1, 1)
    got = trends.dispute_series(con, period, start=start, end=end, scope=scope)
    assert_series_match(got, ref_series(events, period, start, end, scope))
    periods = got["period"].drop_duplicates()
    assert len(periods) == (7 if period == "year" else 84)  # every period, zeros included
    assert list(got["dispute_class"].drop_duplicates()[:3]) == ["婚姻家庭", "邻里", "房屋宅基地"]
    assert len(got) == len(periods) * got["dispute_class"].nunique()


def test_filtered_monthly_series_match_pandas(con, events, medium_grid) -> None:
    start, end = T(2022, 3, 1), T(2023, 9, 1)
    for scope in (CITY, Scope("medium", medium_grid)):
        got = trends.dispute_series(con, "month", start=start, end=end, scope=scope, where=NEIGHBOURS)
        assert_series_match(got, ref_series(events, "month", start, end, scope, NEIGHBOURS))
        assert set(got.loc[got["received"] > 0, "dispute_class"]) <= {"邻里", "婚姻家庭"}


def test_yearly_totals_equal_the_dispute_statistics(con, medium_grid) -> None:
    start, end = trends.trend_window(2019, 2025, as_of=T(2025, 12, 31, 23, 11))
    assert (start, end) == (T(2019, 1, 1), T(2026, 1, 1))
    got = trends.dispute_totals(con, "year", start=start, end=end)
    city = city_dispute_totals(con, year_from=2019, year_to=2025)
    assert dict(zip(got["period"].dt.year, got["resolved"])) == {**PUBLISHED, **dict(zip(city["year"], city["resolved"]))}
    columns = ["received", "resolved", "resolution_rate", "received_change", "received_change_pct", "resolved_change",
               "resolved_change_pct"]
    pd.testing.assert_frame_equal(got[columns], city[columns])
    one = trends.dispute_totals(con, "year", start=start, end=end, scope=Scope("medium", medium_grid))
    pd.testing.assert_frame_equal(one[columns], city_dispute_totals(con, year_from=2019, year_to=2025,
                                                                   grid=medium_grid)[columns])
    level = trends.dispute_totals(con, "year", start=start, end=end, scope=Scope("medium"))
    per_grid = dispute_statistics(con, "medium", year_from=2019, year_to=2025).groupby("year")[["received", "resolved"]].sum()
    assert level["received"].tolist() == per_grid["received"].tolist()
    assert level["resolved"].tolist() == per_grid["resolved"].tolist()


def test_monthly_totals_change_on_the_month_before(con, events) -> None:
    got = trends.dispute_totals(con, "month", start=T(2021, 1, 1), end=T(2021, 7, 1), where=NEIGHBOURS)
    ref = ref_series(events, "month", T(2020, 12, 1), T(2021, 7, 1), CITY, NEIGHBOURS).groupby(level="period").sum()
    assert got["period"].dt.strftime("%Y-%m").tolist() == [f"2021-0{m}" for m in range(1, 7)]
    assert got["received"].tolist() == ref["received"].iloc[1:].tolist()
    assert got["resolved_change"].tolist() == ref["resolved"].diff().iloc[1:].astype("int64").tolist()
    assert got["resolution_rate"].astype(float).tolist() == pytest.approx((ref["resolved"] / ref["received"]).iloc[1:].tolist())


def test_trend_window_stops_at_the_month_after_as_of() -> None:
    assert trends.trend_window(2019, 2025) == (T(2019, 1, 1), T(2026, 1, 1))
    assert trends.trend_window(2024, 2025, as_of=T(2025, 3, 14, 9)) == (T(2024, 1, 1), T(2025, 4, 1))
    assert trends.trend_window(2019, 2020, as_of=T(2025, 3, 14)) == (T(2019, 1, 1), T(2021, 1, 1))
    with pytest.raises(QueryError, match="swap them"):
        trends.trend_window(2025, 2019)


def test_tables_for_display(con) -> None:
    start, end = T(2019, 1, 1), T(2022, 1, 1)
    totals = trends.totals_table(trends.dispute_totals(con, "year", start=start, end=end), "year")
    assert list(totals.columns) == ["年份", "受理纠纷数", "化解纠纷数", "化解率(%)", "受理较上年增减", "受理较上年增减(%)",
                                    "化解较上年增减", "化解较上年增减(%)"]
    assert dict(zip(totals["年份"], totals["化解纠纷数"])) == {str(y): n for y, n in PUBLISHED.items()}
    series = trends.dispute_series(con, "year", start=start, end=end)
    classes = trends.class_table(series, "year")
    assert classes["年份"].tolist() == ["2019", "2020", "2021"] and classes["合计"].tolist() == list(PUBLISHED.values())
    assert "邻里" in classes.columns and "未分类" not in classes.columns  # classes that never occur are left out
    monthly = trends.totals_table(trends.dispute_totals(con, "month", start=start, end=end), "month")
    assert monthly.columns[0] == "月份" and "化解较上月增减" in monthly.columns and monthly["月份"].iloc[0] == "2019-01"


# --------------------------------------------------------------------------- comparisons


def test_same_period_last_year_windows_and_values(con, events, medium_grid) -> None:
    for scope, where in ((CITY, None), (Scope("large"), NEIGHBOURS), (Scope("medium", medium_grid), None)):
        got = trends.same_period_comparison(con, as_of=AS_OF, scope=scope, where=where).set_index("figure")
        assert got["label"].tolist() == ["新增事件", "受理纠纷", "化解纠纷"]
        assert (got["start"] == T(2025, 1, 1)).all() and (got["end"] == AS_OF).all()
        assert (got["base_start"] == T(2024, 1, 1)).all() and (got["base_end"] == T(2024, 6, 15, 12, 30)).all()
        now = ref_figures(events, scope, T(2025, 1, 1), AS_OF, where)
        before = ref_figures(events, scope, T(2024, 1, 1), T(2024, 6, 15, 12, 30), where)
        assert got["value"].to_dict() == now and got["base"].to_dict() == before
        for figure in now:
            assert got.loc[figure, "change"] == now[figure] - before[figure]
            assert float(got.loc[figure, "change_pct"]) == pytest.approx((now[figure] - before[figure]) / before[figure] * 100)


def test_previous_year_and_leap_day_windows(con, events) -> None:
    got = trends.previous_year_comparison(con, as_of=AS_OF).set_index("figure")
    assert (got["start"] == T(2024, 1, 1)).all() and (got["end"] == T(2025, 1, 1)).all()
    assert (got["base_start"] == T(2023, 1, 1)).all() and (got["base_end"] == T(2024, 1, 1)).all()
    assert got["value"].to_dict() == ref_figures(events, CITY, T(2024, 1, 1), T(2025, 1, 1))
    assert got.loc["disputes_resolved", "base"] == city_dispute_totals(con, year_from=2023, year_to=2023)["resolved"].iloc[0]
    leap = trends.same_period_comparison(con, as_of=T(2024, 2, 29, 18)).iloc[0]
    assert (leap["start"], leap["end"], leap["base_start"], leap["base_end"]) == (
        T(2024, 1, 1), T(2024, 2, 29, 18), T(2023, 1, 1), T(2023, 2, 28, 18))


def test_scope_mistakes_name_the_fix(con, medium_grid) -> None:
    with pytest.raises(QueryError, match="a city scope has no grid"):
        Scope("city", medium_grid)
    with pytest.raises(QueryError, match="expected to be one of"):
        Scope("town")
    with pytest.raises(QueryError, match=f"is a medium grid, not large; pass Scope\\('medium', '{medium_grid}'\\)"):
        trends.dispute_series(con, "year", start=T(2020, 1, 1), end=T(2021, 1, 1), scope=Scope("large", medium_grid))
    with pytest.raises(QueryError, match="`period` was 'week'"):
        trends.dispute_series(con, "week", start=T(2020, 1, 1), end=T(2021, 1, 1))


# --------------------------------------------------------------------------- playback


@pytest.mark.parametrize("figure", ["events", "disputes_received", "disputes_resolved"])
def test_grid_month_values_match_pandas(con, events, demo_db, figure) -> None:
    start, end = T(2023, 11, 1), T(2024, 3, 1)
    got = trends.grid_month_values(con, "medium", start=start, end=end, figure=figure, where=NEIGHBOURS)
    assert trends.month_columns(got) == ["2023-11", "2023-12", "2024-01", "2024-02"]
    with duckdb.connect(str(demo_db), read_only=True) as connection:
        codes = [r[0] for r in connection.execute("SELECT grid_code FROM grids WHERE level = 'medium' ORDER BY grid_code").fetchall()]
    assert got["grid_code"].tolist() == codes  # every grid, zeros included
    if figure == "events":
        frame = located(events, CITY, NEIGHBOURS)
        column = "reported_at"
    else:
        frame = ref_incidents(events, NEIGHBOURS)
        column = "first_reported_at" if figure == "disputes_received" else "first_closed_at"
    frame = frame[(frame[column] >= start) & (frame[column] < end) & frame["grid_medium"].notna()]
    expected = frame.groupby(["grid_medium", frame[column].dt.strftime("%Y-%m")]).size().unstack(fill_value=0)
    expected = expected.reindex(index=codes, columns=trends.month_columns(got), fill_value=0)
    assert got.set_index("grid_code")[trends.month_columns(got)].to_numpy().tolist() == expected.to_numpy().tolist()
    assert got.iloc[:, 2:].to_numpy().sum() > 50
    one = trends.month_values(got, "2024-01")
    assert one.index.name == "grid_code" and one.sum() == expected["2024-01"].sum()


def test_grid_options_label_grids_with_their_parents(con) -> None:
    options = trends.grid_options(con, "small")
    code, label = next(iter(options.items()))
    assert len(options) == 4555 and label.startswith("第1网格 · ") and label.endswith(f"（{code}）")
    assert len(set(options.values())) == len(options)  # every label tells its grid apart


# --------------------------------------------------------------------------- exports and commands


def run_command(command: str, output: Path) -> Path:
    words = shlex.split(command)
    assert words[:2] == ["minqing", "export"]
    words[words.index("-o") + 1] = str(output)
    result = CliRunner().invoke(main, words[1:])
    assert result.exit_code == 0, result.output
    return output


def sheets(data: bytes) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def exported(con, kind: str, fmt: str, **options) -> bytes:
    """What the one export service makes (as the dashboard's downloads do), with its audit record checked."""
    records = []
    result = run_export(ExportRequest(kind, fmt, options), query=lambda fn, *a, **k: fn(con, *a, **k),
                        record=lambda what, *, rows, detail: records.append((what, rows, detail)))
    assert records == [(kind, result.rows, {"format": fmt, "options": jsonable(result.options)})]
    return result.data


def test_dispute_export_is_what_the_command_writes(con, demo_db, medium_grid, tmp_path) -> None:
    for fmt, level, grid in (("csv", "large", None), ("csv", "small", medium_grid), ("xlsx", "all", None),
                             ("xlsx", "small", medium_grid)):
        data = exported(con, "disputes", fmt, level=level, year_from=2019, year_to=2021, grid=grid)
        command = trends.disputes_command(demo_db, fmt, level=level, year_from=2019, year_to=2021, grid=grid,
                                          output=trends.export_name("disputes", fmt, level, grid, "2019-2021"))
        written = run_command(command, tmp_path / f"{level}.{fmt}").read_bytes()
        if fmt == "csv":
            assert data == written
        else:
            assert sheets(data) == sheets(written)
    with pytest.raises(UserError, match="needs xlsx"):
        exported(con, "disputes", "csv", level="all", year_from=2019, year_to=2021)


def test_event_export_and_command_follow_window_filter_and_grid(con, demo_db, medium_grid, tmp_path) -> None:
    cases = [
        dict(start=T(2025, 12, 1, 23, 11), end=T(2025, 12, 31, 23, 11)),
        dict(start=T(2025, 1, 1), end=T(2025, 3, 1), where=NEIGHBOURS, level="medium", grid=medium_grid),
        dict(where=EventFilter(depts=("mediation",), statuses=("closed",)), start=T(2025, 11, 1)),
    ]
    for i, options in enumerate(cases):
        for fmt in ("csv", "xlsx"):
            data = exported(con, "events", fmt, **options)
            command = trends.events_command(demo_db, fmt, output=f"e.{fmt}", **options)
            written = run_command(command, tmp_path / f"e{i}.{fmt}").read_bytes()
            assert data == written if fmt == "csv" else sheets(data) == sheets(written)
    words = shlex.split(trends.events_command(demo_db, "csv", output="e.csv", **cases[1]))
    assert words[words.index("--from") + 1] == "2025-01-01" and words[words.index("--to") + 1] == "2025-02-28"
    assert words.count("--category") == 2 and words[words.index("--grid") + 1] == medium_grid
    assert shlex.split(trends.events_command(demo_db, "csv", output="e.csv", **cases[0]))[5:9] == [
        "--from", "2025-12-01 23:11:00", "--to", "2025-12-31 23:11:00"]


# --------------------------------------------------------------------------- charts


def test_charts_have_chinese_titles_and_stack_by_class(con) -> None:
    series = trends.dispute_series(con, "year", start=T(2019, 1, 1), end=T(2022, 1, 1))
    spec = class_trend_chart(series, period="year", measure="resolved").to_dict()
    assert spec["mark"]["type"] == "bar"
    encoding = spec["encoding"]
    assert encoding["x"]["title"] == "年份" and encoding["y"]["title"] == "化解纠纷数"
    assert encoding["y"]["stack"] == "zero" and encoding["color"]["title"] == "纠纷类型"
    assert encoding["color"]["scale"]["domain"][:2] == ["婚姻家庭", "邻里"] and "未分类" not in encoding["color"]["scale"]["domain"]
    totals = trends.dispute_totals(con, "month", start=T(2021, 1, 1), end=T(2022, 1, 1))
    layered = received_resolved_chart(totals, period="month").to_dict()
    assert [layer["encoding"]["y"]["title"] for layer in layered["layer"]] == ["纠纷数", "化解率(%)"]
    assert layered["layer"][0]["encoding"]["x"]["title"] == "月份" and layered["resolve"]["scale"]["y"] == "independent"
    with pytest.raises(ValueError, match="`measure` was 'closed'"):
        class_trend_chart(series, period="year", measure="closed")
