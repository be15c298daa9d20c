"""Yearly dispute statistics and the exports: published totals through the CLI, CSV (BOM) against the XLSX city
sheet, sheet names / Chinese headers / frozen header, formula injection, buffers, CLI errors, meeting reports."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from layers.cells import neutralise
from layers.disputes import city_dispute_totals, dispute_statistics
from layers.export import (
    CITY_SHEET,
    LEVEL_SHEETS,
    write_disputes_csv,
    write_disputes_xlsx,
    write_events_csv,
    write_events_xlsx,
    write_review_csv,
)
from layers.review import review_report
from layers.stats import data_clock, event_rows
from minqing.cli import main
from references import PUBLISHED
from references import compare_yearly, read_events, read_grids, ref_yearly
from tiny_store import INJECTION, build_tiny_store

BOM = b"\xef\xbb\xbf"
COUNT_HEADERS = ("受理纠纷数", "化解纠纷数", "受理较上年增减", "化解较上年增减")


def _sheet_frame(sheet) -> pd.DataFrame:
    rows = list(sheet.iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


def _count_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c in COUNT_HEADERS or str(c).startswith("化解·")]


def _run(*args: str) -> object:
    return CliRunner().invoke(main, ["export", *args])


@pytest.fixture(scope="module")
def xlsx_all(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("xlsx") / "disputes.xlsx"
    result = _run("disputes", "--db", str(demo_db), "--level", "all", "--from", "2019", "--to", "2021",
                  "--format", "xlsx", "-o", str(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def xlsx_book(xlsx_all: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(xlsx_all)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_store(tmp_path_factory.mktemp("tiny_export") / "tiny.duckdb")


# --------------------------------------------------------------------------- the demo city


def test_cli_csv_gives_the_published_city_totals(demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "large.csv"
    result = _run("disputes", "--db", str(demo_db), "--level", "large", "--from", "2019", "--to", "2021",
                  "--format", "csv", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(BOM)
    frame = pd.read_csv(out, encoding="utf-8-sig", dtype={"网格编码": str})
    assert frame.groupby("年份")["化解纠纷数"].sum().to_dict() == PUBLISHED
    assert len(frame) == 56 * 3 and frame["网格编码"].str.len().eq(15).all()  # one row per grid and year, codes as text
    assert "合计" not in "".join(frame["网格名称"])  # no total row


def test_xlsx_has_the_level_sheets_chinese_headers_and_a_frozen_header(xlsx_book: openpyxl.Workbook) -> None:
    book = xlsx_book
    assert book.sheetnames == [CITY_SHEET, "大网格", "中网格", "小网格"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        header = [c.value for c in sheet[1]]
        assert "年份" in header and "受理纠纷数" in header and "化解率(%)" in header and "化解·邻里" in header
        assert all(not str(h).isascii() for h in header), header  # every header is Chinese
        assert sheet.column_dimensions["A"].width >= 8
        if sheet.title != CITY_SHEET:
            assert sheet.column_dimensions["A"].width >= 15  # 15-digit grid codes are readable
    assert [c.value for c in book["小网格"][1]][:6] == ["网格编码", "网格名称", "所属中网格编码", "所属中网格",
                                                       "所属大网格编码", "所属大网格"]
    city = _sheet_frame(book[CITY_SHEET]).set_index("年份")
    assert city["化解纠纷数"].to_dict() == PUBLISHED
    assert (city["化解率(%)"] == (city["化解纠纷数"] / city["受理纠纷数"] * 100).round(1)).all()


def test_sums_over_grids_equal_the_city_sheet_in_every_column(demo_db: Path, xlsx_book: openpyxl.Workbook,
                                                              tmp_path: Path) -> None:
    book = xlsx_book
    city = _sheet_frame(book[CITY_SHEET]).set_index("年份")
    counted = _count_columns(city)
    assert len(counted) == 4 + 14
    for name in LEVEL_SHEETS.values():
        level = _sheet_frame(book[name]).groupby("年份")[counted].sum()
        pd.testing.assert_frame_equal(level, city[counted], check_dtype=False, check_names=False)
    out = tmp_path / "medium.csv"
    result = _run("disputes", "--db", str(demo_db), "--level", "medium", "--from", "2019", "--to", "2021", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(BOM)
    csv = pd.read_csv(out, encoding="utf-8-sig", dtype={"网格编码": str, "所属大网格编码": str})
    pd.testing.assert_frame_equal(csv.groupby("年份")[counted].sum(), city[counted], check_dtype=False,
                                  check_names=False)


@pytest.mark.parametrize("level", ["large", "small"])
def test_demo_dispute_statistics_match_pandas(demo_db: Path, level: str) -> None:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        got = dispute_statistics(con, level, year_from=2019, year_to=2025)
    compare_yearly(got, ref_yearly(read_events(demo_db), level, read_grids(demo_db, level), range(2019, 2026)))


def test_demo_raw_and_rollup_dispute_statistics_agree(demo_db: Path) -> None:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        for level in ("large", "medium"):
            pd.testing.assert_frame_equal(dispute_statistics(con, level, year_from=2019, year_to=2025, source="raw"),
                                          dispute_statistics(con, level, year_from=2019, year_to=2025, source="rollup"))
        totals = city_dispute_totals(con, year_from=2019, year_to=2021).set_index("year")
    assert totals["resolved"].to_dict() == PUBLISHED


def test_dispute_statistics_inside_one_grid(demo_db: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        large = con.execute("SELECT grid_code FROM grids WHERE level = 'large' ORDER BY grid_code LIMIT 1").fetchall()[0][0]
        inside = dispute_statistics(con, "small", year_from=2020, year_to=2020, grid=large)
        totals = city_dispute_totals(con, year_from=2020, year_to=2020, grid=large)
        n_small = con.execute("SELECT count(*) FROM grids s JOIN grids m ON s.parent_code = m.grid_code "
                              "WHERE s.level = 'small' AND m.parent_code = ?", [large]).fetchall()[0][0]
    assert len(inside) == n_small and (inside["large_code"] == large).all()
    assert inside["resolved"].sum() == totals["resolved"].iloc[0] and totals["scope_code"].iloc[0] == large
    out = tmp_path / "one.xlsx"
    result = _run("disputes", "--db", str(demo_db), "--level", "medium", "--grid", large, "--from", "2020",
                  "--to", "2020", "-o", str(out))
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == [CITY_SHEET, "中网格"]
    assert _sheet_frame(book[CITY_SHEET])["范围编码"].tolist() == [large]


def test_review_export_on_the_demo(demo_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "week.xlsx"
    result = _run("review", "--db", str(demo_db), "--period", "week", "--as-of", "2025-12-31T23:10", "-o", str(out))
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["周会商"]
    sheet = _sheet_frame(book["周会商"])
    assert len(sheet) == 56 and list(sheet.columns[:8]) == [
        "网格编码", "网格名称", "时段开始", "时段结束", "新增事件", "办结事件", "在办(截至时点)", "超期(截至时点)"]
    events = read_events(demo_db)
    as_of = dt.datetime(2025, 12, 31, 23, 10)
    start = as_of - dt.timedelta(days=7)
    located = events[events["grid_large"].notna()]
    new = located[(located["reported_at"] >= start) & (located["reported_at"] < as_of)]
    closed = located[(located["status"] == "closed") & (located["closed_at"] >= start) & (located["closed_at"] < as_of)]
    open_ = located[(located["reported_at"] <= as_of) & ~((located["status"] == "closed") & (located["closed_at"] <= as_of))]
    overdue = open_[open_["due_at"] < as_of]
    indexed = sheet.set_index("网格编码")
    assert indexed["新增事件"].to_dict() == new.groupby("grid_large").size().reindex(indexed.index, fill_value=0).to_dict()
    assert indexed["办结事件"].sum() == len(closed) and indexed["超期(截至时点)"].sum() == len(overdue)
    top = new.groupby(["grid_large", "category"]).size().sort_values(ascending=False)
    busiest = indexed["新增事件"].idxmax()
    assert indexed.loc[busiest, "第一类别件数"] == top.loc[busiest].max()
    with duckdb.connect(str(demo_db), read_only=True) as con:
        names = dict(con.execute("SELECT code, name FROM categories").fetchall())
        default = review_report(con, "week", as_of=data_clock(con))
    assert set(indexed["第一类别"].dropna()) <= set(names.values())
    assert default["new"].tolist() == indexed["新增事件"].tolist()  # --as-of defaults to the data clock


# --------------------------------------------------------------------------- formula injection and buffers


def test_neutralise_prefixes_formula_starts_only() -> None:
    for text in ("=1+2", "+86 755", "-3", "@SUM(A1)", "\t=cmd", "\r=cmd"):
        assert neutralise(text) == "'" + text
    for value in ("网格", "a=b", "", -3, 2.5, None):
        assert neutralise(value) == value


def test_injection_is_neutralised_in_csv_and_xlsx(tiny: Path, tmp_path: Path) -> None:
    with duckdb.connect(str(tiny), read_only=True) as con:
        rows = event_rows(con)
        stats = dispute_statistics(con, "large", year_from=2021, year_to=2022)
        totals = city_dispute_totals(con, year_from=2021, year_to=2022)
    stats.loc[0, "name"] = "=cmd|' /C calc'!A0"
    stats.loc[1, "name"] = "@SUM(1+1)"
    write_events_csv(rows, tmp_path / "e.csv")
    csv = pd.read_csv(tmp_path / "e.csv", encoding="utf-8-sig", dtype=str)
    assert csv.loc[csv["事件编号"] == "med:13", "描述"].item() == "'" + INJECTION
    assert csv.loc[csv["事件编号"] == "med:13", "地址"].item() == "'+86 755 1234"
    write_events_xlsx(rows, tmp_path / "e.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "e.xlsx")["事件"]
    header = [c.value for c in sheet[1]]
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    description = cells["med:13"][header.index("描述")]
    assert description.value == "'" + INJECTION and description.data_type == "s"
    assert isinstance(cells["med:13"][header.index("上报时间")].value, dt.datetime)
    write_disputes_csv(stats, tmp_path / "d.csv")
    text = (tmp_path / "d.csv").read_bytes().decode("utf-8-sig")
    assert "\"'=cmd|' /C calc'!A0\"" in text or "'=cmd|' /C calc'!A0" in text
    assert "'@SUM(1+1)" in text and ",-1," in text  # a negative count stays a number
    write_disputes_xlsx({"large": stats}, totals, tmp_path / "d.xlsx")
    book = openpyxl.load_workbook(tmp_path / "d.xlsx")
    names = [c.value for c in book["大网格"]["B"]]
    assert "'=cmd|' /C calc'!A0" in names and "'@SUM(1+1)" in names
    assert all(c.data_type != "f" for row in book["大网格"].iter_rows() for c in row)
    changes = [c.value for c in book["大网格"]["I"]][1:]  # 化解较上年增减
    assert -1 in changes


def test_writers_accept_buffers(tiny: Path) -> None:
    with duckdb.connect(str(tiny), read_only=True) as con:
        frame = dispute_statistics(con, "small", year_from=2022, year_to=2022)
        totals = city_dispute_totals(con, year_from=2022, year_to=2022)
        report = review_report(con, "week", as_of=dt.datetime(2022, 12, 31, 12))
    csv = io.BytesIO()
    write_disputes_csv(frame, csv)
    assert csv.getvalue().startswith(BOM)
    assert len(pd.read_csv(io.BytesIO(csv.getvalue()), encoding="utf-8-sig")) == 5
    xlsx = io.BytesIO()
    write_disputes_xlsx({"small": frame}, totals, xlsx)
    assert openpyxl.load_workbook(io.BytesIO(xlsx.getvalue())).sheetnames == [CITY_SHEET, "小网格"]
    review = io.BytesIO()
    write_review_csv(report, review)
    assert review.getvalue().startswith(BOM) and "网格编码" in review.getvalue().decode("utf-8-sig")


# --------------------------------------------------------------------------- the CLI


def test_cli_events_export_follows_the_filters(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "e.csv"
    result = _run("events", "--db", str(tiny), "--from", "2022-01-01", "--to", "2022-12-31", "--dept", "med",
                  "--dept", "hot", "--level", "large", "--grid", "LA", "-o", str(out))
    assert result.exit_code == 0, result.output
    got = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    events = read_events(tiny)
    expected = events[events["dept"].isin(["med", "hot"]) & (events["grid_large"] == "LA")
                      & (events["reported_at"] >= "2022-01-01") & (events["reported_at"] < "2023-01-01")]
    assert sorted(got["事件编号"]) == sorted(expected["event_id"])
    assert set(got["状态"]) <= {"已办结", "处置中", "已派遣", "已上报"}
    hostile = _run("events", "--db", str(tiny), "--dept", "x' OR '1'='1", "-o", str(tmp_path / "none.xlsx"))
    assert hostile.exit_code == 0, hostile.output
    assert openpyxl.load_workbook(tmp_path / "none.xlsx")["事件"].max_row == 1  # the header only
    assert "matches nothing" in hostile.output


@pytest.mark.parametrize(("args", "message"), [
    (["disputes", "--level", "town", "-o", "x.csv"], "--level was 'town'; pass one of large, medium, small, all"),
    (["disputes", "--level", "all", "-o", "x.csv"], "needs --format xlsx"),
    (["disputes", "--level", "large", "--from", "2022", "--to", "2021", "-o", "x.csv"], "reversed: from 2022 to 2021"),
    (["disputes", "--level", "small", "--grid", "SA1", "-o", "x.csv"], "grid code 'SA1' is not in the store; did you mean: SA1"),
    (["disputes", "--level", "large", "--grid", "SA11", "-o", "x.csv"], "is a small grid, finer than level 'large'"),
    (["disputes", "--level", "large", "-o", "x.txt"], "--format csv or --format xlsx"),
    (["events", "--level", "large", "-o", "x.csv"], "--level needs --grid"),
    (["events", "--from", "2022-05-01", "--to", "2022-04-01", "-o", "x.csv"], "swap them"),
    (["events", "--status", "done", "-o", "x.csv"], "--status 'done' is not a status"),
    (["review", "--period", "year", "-o", "x.csv"], "--period was 'year'; pass one of day, week, month"),
    (["review", "--period", "day", "--as-of", "yesterday", "-o", "x.csv"], "--as-of was 'yesterday'"),
])
def test_cli_errors_name_the_fix(tiny: Path, tmp_path: Path, args: list[str], message: str) -> None:
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    result = _run(args[0], "--db", str(tiny), *args[1:])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_cli_export_without_a_database(tmp_path: Path) -> None:
    result = _run("disputes", "--db", str(tmp_path / "none.duckdb"), "-o", str(tmp_path / "x.xlsx"))
    assert result.exit_code == 2 and "minqing demo" in result.output


@pytest.mark.parametrize("command", [["export"], ["export", "disputes"], ["export", "events"], ["export", "review"]])
def test_export_commands_have_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
