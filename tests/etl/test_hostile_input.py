"""Hostile input (issue 6 item 7): damaged, truncated, mis-encoded, oversized and malicious files and rows.

Every kind in KINDS is generated in tmp_path by a builder in tests/hostile/corpus.py and loaded through
the real path (`load_project(load_config(...))`, or `read_raw` in a child process for the bombs). Each must
end in one of:
- Fails: a UserError naming the file and saying what to do (never a traceback of another type);
- Quarantines: the good rows load, each bad row is rejected with its reason, and the accounting holds;
- Loads: every row loads (the value kept as text, the point put right, the grid flagged...);
- Bounded: read in a child process within a peak-memory bound (a safety timeout turns a hang into a failure).
No expectation depends on the machine's speed: where a guard is against work that grows too fast (ragged rows
numbered by searching from the top each time), it compares counted work on n and 4n rows, not seconds.
tests/etl/test_bad_rows.py covers 25 kinds of bad rows in a well-formed CSV; this file is about bad files.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import duckdb
import openpyxl
import pandas as pd
import pytest
import shapely

from store.errors import UserError
from etl.load import LoadReport
from hostile import corpus as c
from hostile.corpus import BIDI_ADDRESS, BIDI_DEPT, BIDI_MEDIUM, BIDI_SMALL, BIDI_TEXT, C0_FORMULAS, FORMULAS, Case
from hostile.isolated import read_isolated
from hostile.project import COLUMNS, stored
from dashboard.widgets.command_center.feed import feed_html, feed_rows
from layers.choropleth import GridChoropleth, choropleth
from layers.display_text import BIDI_TOKENS, DISPLAY_LIMIT, ELLIPSIS
from layers.export import write_events_csv, write_events_xlsx
from layers.geometry import prepare_level
from layers.kpis import latest_reports
from layers.lookups import department_names
from layers.markers import POPUP_FIELDS, event_markers, latest_events, markers_map
from layers.offline import Basemap
from layers.stats import event_rows

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may read as a formula
XLSX_CELL_CHARACTERS = 32_767  # the most an Excel cell holds
AS_OF = "2024-03-02 00:00"  # after every row of the corpus (reported 2024-03-01)

PEAK_MB = 1024  # a bomb must never take the reader past 1 GB


# --------------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Fails:
    """One UserError whose message matches `match` and names the file (`file`: another file than the case's,
    e.g. the mapping for a mapping's own problems): raised by the load, or, for a department file, recorded as
    that file's `error` in the report (etl/load.py: the file's transaction rolls back, the other files still load)."""

    match: str
    file: str | None = None

    def check(self, case: Case) -> None:
        try:
            report = case.run()
        except UserError as exc:
            message = str(exc)
        else:
            failed = [f for f in report.files if getattr(f, "error", None)]
            assert len(failed) == 1, f"no UserError raised and no file failed: {report.files}"
            assert failed[0].loaded + failed[0].updated == 0, failed[0]
            message = str(failed[0].error)
        assert re.search(self.match, message), f"{self.match!r} not in {message!r}"
        named = self.file or case.file
        assert named in message, f"the message does not name {named}: {message}"
        assert "Traceback" not in message


@dataclass(frozen=True)
class Quarantines:
    """These source ids load; these rows (by id, or '#<row>' when the row has none) are rejected for these reasons."""

    loaded: frozenset[str]
    reasons: dict[str, str]
    then: Callable[[Case, LoadReport], None] | None = None

    def check(self, case: Case) -> None:
        report = case.run()
        (result,) = report.files
        result.check()  # rows in = loaded + updated + duplicate + rejected
        assert (result.rows_in, result.loaded, result.rejected) == (
            len(self.loaded) + len(self.reasons), len(self.loaded), len(self.reasons))
        events, rejects = stored(case.config)
        assert set(events) == set(self.loaded)
        assert set(rejects) == set(self.reasons), rejects
        for key, reason in self.reasons.items():
            assert reason in rejects[key], (key, rejects[key])
        if self.then:
            self.then(case, report)


@dataclass(frozen=True)
class Loads:
    """Every one of `rows` rows loads; `then` checks what was stored."""

    rows: int
    then: Callable[[Case, LoadReport], None] | None = None

    def check(self, case: Case) -> None:
        report = case.run()
        (result,) = report.files
        result.check()
        assert (result.rows_in, result.loaded, result.rejected) == (self.rows, self.rows, 0), result
        if self.then:
            self.then(case, report)


@dataclass(frozen=True)
class Bounded:
    """Read in a child process: done (no hang) within PEAK_MB, with `rows` rows or an error matching `match`."""

    rows: int | None = None
    match: str | None = None

    def check(self, case: Case) -> None:
        assert case.path is not None and case.fmt is not None
        outcome = read_isolated(case.path, case.fmt)
        assert outcome["peak_mb"] < PEAK_MB, outcome
        if self.match:
            assert outcome["error"] and re.search(self.match, outcome["error"]), outcome
            assert case.file in outcome["error"]
        else:
            assert outcome["error"] is None and outcome["rows"] == self.rows, outcome


# --------------------------------------------------------------------------- checks after a load


def _events(case: Case) -> dict[str, dict[str, Any]]:
    return stored(case.config)[0]


def _cut_row_kept_raw(case: Case, report: LoadReport) -> None:
    """The quarantined row keeps its text; the cells it lacks are null (not the text "nan")."""
    with duckdb.connect(str(case.config.parent / "store.duckdb"), read_only=True) as con:
        value, raw = con.execute("SELECT value, raw FROM rejects").fetchone()
    assert value == "the row has 3 fields but the header has 8"
    assert json.loads(raw) | {"__error": None} == {c: None for c in COLUMNS} | {"__error": None, "__line": "R3,市容,"}


def _ten_mb_description(case: Case, report: LoadReport) -> None:
    assert len(_events(case)["A1"]["description"]) == c.TEN_MB // 3


def _five_mb_description(case: Case, report: LoadReport) -> None:
    assert len(_events(case)["L1"]["description"]) == c.FIVE_MB


def _nul_kept(case: Case, report: LoadReport) -> None:
    assert _events(case)["N1"]["description"] == "前\x00后"


def _literal_quote(case: Case, report: LoadReport) -> None:
    assert _events(case)["Q1"]["description"] == '5号楼"A座'


def _placed_in_s1_and_s2(case: Case, report: LoadReport) -> None:
    events = _events(case)
    assert (events["W1"]["grid_small"], events["W2"]["grid_small"]) == ("S1", "S2")
    assert (events["W1"]["lon"], events["W1"]["lat"]) == (115.05, 22.95)


def _kept_and_flagged_outside(case: Case, report: LoadReport) -> None:
    events = _events(case)
    assert report.files[0].outside_grid == 1  # 0/0 is a placeholder for a withheld place, not a point in the sea
    assert [events[k]["outside_grid"] for k in ("S1", "S2", "S3")] == [False, True, False]
    assert pd.isna(events["S2"]["grid_small"]) and events["S2"]["location_from"] == "point"
    assert events["S3"]["location_from"] == "none" and pd.isna(events["S3"]["lon"])


def _repaired_with_a_note(case: Case, report: LoadReport) -> None:
    assert any(re.search(r"small\.geojson: repaired 1 invalid geometries with make_valid \(S1\)", n)
               for n in report.grids.notes), report.grids.notes
    with duckdb.connect(str(case.config.parent / "store.duckdb"), read_only=True) as con:
        (wkb,) = con.execute("SELECT geometry FROM grids WHERE grid_code = 'S1'").fetchone()
    repaired = shapely.from_wkb(bytes(wkb))
    assert repaired.geom_type == "MultiPolygon" and repaired.is_valid
    assert repaired.area == pytest.approx(0.1 * 0.1 / 2)  # the bowtie's two triangles


def _outside_parent_in_m2(case: Case, report: LoadReport) -> None:
    found = [re.search(r"small: 1 grid\(s\) stick out of their parent, ([\d,]+) m²", n) for n in report.grids.notes]
    area = next(float(m.group(1).replace(",", "")) for m in found if m)
    assert area == pytest.approx(0.01 * 0.1 * 111_319.49**2 * 0.92083, rel=0.01)  # 0.01° x 0.1° at 22.95°N


def _codes_kept_as_text(case: Case, report: LoadReport) -> None:
    events = _events(case)
    assert (events["A1"]["grid_small"], events["A2"]["grid_small"]) == ("4415021010010", "4415021010011")
    with duckdb.connect(str(case.config.parent / "store.duckdb"), read_only=True) as con:
        codes = [r[0] for r in con.execute("SELECT grid_code FROM grids WHERE level = 'small' ORDER BY 1").fetchall()]
    assert codes == ["4415021010010", "4415021010011"]


def _formulas_neutralised_on_export(case: Case, report: LoadReport) -> None:
    """Stored exactly as given (text, not evaluated); exported to CSV and XLSX with a leading apostrophe."""
    events = _events(case)
    assert [events[f"F{i}"]["description"] for i in range(len(FORMULAS))] == list(FORMULAS)
    assert events["=1+2"]["event_id"] == "hostile:=1+2"
    with duckdb.connect(str(case.config.parent / "store.duckdb"), read_only=True) as con:
        rows = event_rows(con)
    assert len(rows) == len(FORMULAS) + 1
    buffer = io.BytesIO()
    write_events_csv(rows, buffer)
    cells = [v for line in csv.reader(io.StringIO(buffer.getvalue().decode("utf-8-sig"))) for v in line]
    for payload in [*FORMULAS, "=1+2", "@SUM(A1:A9)"]:
        assert "'" + payload in cells and payload not in cells, payload
    buffer = io.BytesIO()
    write_events_xlsx(rows, buffer)
    sheet = openpyxl.load_workbook(buffer).active
    texts = [cell for line in sheet.iter_rows() for cell in line if isinstance(cell.value, str)]
    assert all(cell.data_type == "s" for cell in texts)
    assert not [cell.value for cell in texts if cell.value.startswith(FORMULA_STARTS)]
    assert {"'" + p for p in FORMULAS} <= {cell.value for cell in texts}


def _store(case: Case) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(case.config.parent / "store.duckdb"), read_only=True)


def _exported_cells(rows: pd.DataFrame) -> tuple[list[str], list[Any]]:
    """Every CSV cell, and every XLSX cell object (openpyxl, read back), of `rows` written by both event writers."""
    buffer = io.BytesIO()
    write_events_csv(rows, buffer)
    limit = csv.field_size_limit(64 << 20)  # the 1 MB texts (the default limit is 128 KiB)
    try:
        csv_cells = [v for line in csv.reader(io.StringIO(buffer.getvalue().decode("utf-8-sig"))) for v in line]
    finally:
        csv.field_size_limit(limit)
    buffer = io.BytesIO()
    write_events_xlsx(rows, buffer)
    xlsx_cells = [cell for line in openpyxl.load_workbook(buffer).active.iter_rows() for cell in line]
    return csv_cells, xlsx_cells


def _c0_formulas_neutralised_on_export(case: Case, report: LoadReport) -> None:
    """Each C0-prefixed formula is stored as given (description and address) and leaves in both exports as
    "'" + the formula: the control character removed first, then the apostrophe put before the formula character.

    Every form is stored as it came (the loader trims only spaces, tabs, line ends and no-break spaces)."""
    events = _events(case)
    for i, given in enumerate(C0_FORMULAS):
        event = events[f"P{i}"]
        assert (event["description"], event["address"]) == (given, given), (i, event["description"])
    with _store(case) as con:
        rows = event_rows(con)
    assert len(rows) == len(C0_FORMULAS)
    csv_cells, xlsx_cells = _exported_cells(rows)
    texts = [cell for cell in xlsx_cells if isinstance(cell.value, str)]
    assert not [cell.coordinate for cell in xlsx_cells if cell.data_type == "f"]
    assert not [v for v in csv_cells if v.startswith(FORMULA_STARTS) or c.C0_FORMULAS[0][0] in v]
    for given in C0_FORMULAS:
        formula = given[1:]
        for cells in (csv_cells, [cell.value for cell in texts]):
            found = [v for v in cells if formula in v]
            assert len(found) == 2, (given, found)  # the description and the address
            assert all(v == "'" + formula and v[1] in "=+-@" for v in found), (given, found)


def _c0_separators_kept_at_load(case: Case, report: LoadReport) -> None:
    """A value is stored as given: a C0 control before a formula is not whitespace to strip silently."""
    events = _events(case)
    for i, given in enumerate(c.C0_SEPARATORS):
        assert (events[f"W{i}"]["description"], events[f"W{i}"]["address"]) == (given, given), (i, events[f"W{i}"])


def _no_raw_bidi(where: str, text: str) -> None:
    """No bidi control in `text`, neither as the character nor as a JSON or JS escape of it."""
    for ch in BIDI_TOKENS:
        escape = f"\\u{ord(ch):04x}"
        assert ch not in text and escape not in text.lower(), (where, f"U+{ord(ch):04X}")


def _bidi_kept_and_shown_inert(case: Case, report: LoadReport) -> None:
    """The store keeps every bidi control as loaded; the choropleth tooltips, the marker tooltips and popups and the
    command center feed show each as a visible token (⟨RLO⟩, ...), so none can reorder what a person reads."""
    events = _events(case)
    assert (events["B1"]["description"], events["B1"]["address"]) == (BIDI_TEXT, BIDI_ADDRESS)
    assert (events["B2"]["description"], events["B2"]["address"]) == (BIDI_ADDRESS, BIDI_TEXT)
    shown_text = "甲⟨RLO⟩乙⟨LRO⟩丙⟨LRI⟩丁⟨RLI⟩戊⟨FSI⟩己⟨PDI⟩"
    shown_small, shown_medium = ("⟨RLO⟩第1网格", "第2⟨LRI⟩网格⟨PDI⟩"), ("东⟨LRO⟩村", "西⟨RLI⟩村⟨PDI⟩")
    with _store(case) as con:
        names = dict(con.execute("SELECT grid_code, name FROM grids").fetchall())
        assert [names[g] for g in ("S1", "S2", "M1", "M2")] == [*BIDI_SMALL, *BIDI_MEDIUM]
        assert department_names(con) == {"hostile": BIDI_DEPT}
        # choropleth tooltips, small and medium
        for level, codes, shown in (("small", ("S1", "S2"), shown_small), ("medium", ("M1", "M2"), shown_medium)):
            prepared = prepare_level(con, level)
            counts = pd.Series([1, 1], index=list(codes))
            layer = GridChoropleth(prepared, counts)
            assert [p["name"] for p in layer.properties()] == list(shown), level
            out = choropleth(prepared, counts, title="网格", basemap=Basemap.none()).get_root().render()
            _no_raw_bidi(f"{level} choropleth", out)
            assert all(name in out for name in shown), level
        # markers: tooltip and popup
        located = latest_events(con, as_of=AS_OF, limit=10)
        layer = event_markers(located, dept_names=department_names(con))
        popups = {p["编号"]: p for p in (dict(zip(POPUP_FIELDS, r[5])) for r in layer.rows)}
        assert (popups["hostile:B1"]["描述"], popups["hostile:B1"]["地址"]) == (shown_text, "⟨RLO⟩exe.txt")
        assert (popups["hostile:B2"]["描述"], popups["hostile:B2"]["地址"]) == ("⟨RLO⟩exe.txt", shown_text)
        assert popups["hostile:B1"]["部门"] == "敌意⟨RLO⟩输入"
        assert popups["hostile:B1"]["网格"] == "甲镇 / 东⟨LRO⟩村 / ⟨RLO⟩第1网格"
        out = markers_map(located, dept_names=department_names(con), basemap=Basemap.none()).get_root().render()
        _no_raw_bidi("markers", out)
        # the command center feed
        feed = feed_rows(latest_reports(con, as_of=AS_OF, limit=10))
        by_id = {r.event_id: r for r in feed}
        assert (by_id["hostile:B1"].dept, by_id["hostile:B1"].grid) == ("敌意⟨RLO⟩输入", "东⟨LRO⟩村·⟨RLO⟩第1网格")
        assert by_id["hostile:B2"].grid == "西⟨RLI⟩村⟨PDI⟩·第2⟨LRI⟩网格⟨PDI⟩"
        _no_raw_bidi("feed", feed_html(feed))


def _long_text_shown_short_exported_whole(case: Case, report: LoadReport) -> None:
    """A 1 MB description, address, grid name and department name: stored whole, exported whole, shown cut to
    DISPLAY_LIMIT characters ending in "…" so the marker's popup, the feed row and the tooltip stay under 2 KB."""
    events = _events(case)
    long_description, long_address = "述" * c.ONE_MB, "址" * c.ONE_MB
    assert (events["M1"]["description"], events["M1"]["address"]) == (long_description, long_address)
    cut = DISPLAY_LIMIT - len(ELLIPSIS)
    with _store(case) as con:
        (grid_name,) = con.execute("SELECT name FROM grids WHERE grid_code = 'S1'").fetchone()
        assert grid_name == "网" * c.ONE_MB and department_names(con) == {"hostile": "部" * c.ONE_MB}
        # the marker's popup and tooltip
        layer = event_markers(latest_events(con, as_of=AS_OF, limit=10), dept_names=department_names(con))
        (row,) = [r for r in layer.rows if r[5][POPUP_FIELDS.index("编号")] == "hostile:M1"]
        popup = dict(zip(POPUP_FIELDS, row[5]))
        assert popup["描述"] == "述" * cut + ELLIPSIS and popup["地址"] == "址" * cut + ELLIPSIS
        assert popup["部门"] == "部" * cut + ELLIPSIS and popup["网格"].endswith("网" + ELLIPSIS)
        size = len(json.dumps(row, ensure_ascii=False).encode("utf-8"))
        assert size < 4 * 1024, size  # four 200-character values of 3 bytes each, and the rest
        assert len(json.dumps([row[4], popup["描述"]], ensure_ascii=False).encode("utf-8")) < 2 * 1024
        # the feed row
        feed = {r.event_id: r for r in feed_rows(latest_reports(con, as_of=AS_OF, limit=10))}
        long_row = feed["hostile:M1"]
        assert long_row.dept == "部" * cut + ELLIPSIS and long_row.grid == "东村·" + "网" * (cut - 3) + ELLIPSIS
        size = len(feed_html([long_row]).encode("utf-8"))
        assert size < 2 * 1024, size
        # the choropleth tooltip
        prepared = prepare_level(con, "small")
        counts = pd.Series([1, 1], index=["S1", "S2"])
        assert GridChoropleth(prepared, counts).properties()[0]["name"] == "网" * cut + ELLIPSIS
        out = choropleth(prepared, counts, title="网格", basemap=Basemap.none()).get_root().render()
        assert "网" * (cut + 1) not in out and len(out.encode("utf-8")) < 16 * 1024, len(out)
        # exports: whole
        rows = event_rows(con)
    csv_cells, xlsx_cells = _exported_cells(rows)
    assert long_description in csv_cells and long_address in csv_cells
    # XLSX: not cut by the display rule; a cell holds at most Excel's 32,767 characters, so the writer cuts there
    # visibly ("…") and says so in the export's notes (tests/layers/test_cells.py).
    for whole in (long_description, long_address):
        (value,) = [cell.value for cell in xlsx_cells if isinstance(cell.value, str) and cell.value[:1] == whole[0]]
        assert value == whole[:XLSX_CELL_CHARACTERS - 1] + ELLIPSIS


# --------------------------------------------------------------------------- the corpus

FINITE = "coordinate is not finite"
TIME = "unreadable or impossible time"
UNPARSED = "the row cannot be parsed"


def _names_the_surrogate(case: Case, report: LoadReport) -> None:
    with duckdb.connect(str(case.config.parent / "store.duckdb"), read_only=True) as con:
        values = [r[0] for r in con.execute("SELECT value FROM rejects ORDER BY row_number").fetchall()]
    assert values == ["the text escape \\ud800 is half of a UTF-16 pair, not a character; export the line again as "
                      "UTF-8", "the text escape \\udc00 is half of a UTF-16 pair, not a character; export the line "
                      "again as UTF-8"], values

Builder = Callable[[Path], Case]
Expectation = Fails | Quarantines | Loads | Bounded
# name -> builder -> expectation
KINDS: list[tuple[str, Builder, Expectation]] = [
    # encodings
    ("gbk bytes declared utf-8", c.gbk_declared_utf8,
     Fails(r"gbk\.csv: line 2: byte .* is not valid utf-8(-sig)?; set read\.encoding")),
    ("utf-16 file with BOM", c.utf16_with_bom, Fails(r"in the UTF-16 encoding .*export it as CSV UTF-8")),
    ("utf-16 file without BOM (Excel unicode text)", c.utf16_without_bom,
     Fails(r"in the UTF-16 encoding .*export it as CSV UTF-8")),
    ("utf-8 cut in the middle of a character", c.utf8_cut_mid_character,
     Fails(r"line 3: the file ends in the middle of a character, so it is truncated; copy or export it again")),
    ("gbk cut in the middle of a character", c.gbk_cut_mid_character,
     Fails(r"line 3: the file ends in the middle of a character, so it is truncated")),
    ("utf-8 BOM and nothing else", c.utf8_bom_only, Fails(r"empty or starts with a blank line; export it again")),
    # truncated and empty files
    ("csv cut mid-row", c.csv_cut_mid_row, Quarantines(frozenset({"R1", "R2"}), {"#3": UNPARSED}, _cut_row_kept_raw)),
    ("csv cut inside a quoted field", c.csv_cut_inside_quoted_field,
     Fails(r"line 3: a quoted field opens with \" and never closes.*fix the quoting")),
    ("xlsx cut in half", c.xlsx_cut_in_half, Fails(r"not a readable XLSX workbook .*re-save it from Excel")),
    ("gzip truncated", c.gzip_truncated, Fails(r"not a readable gzip file .*re-export or re-compress")),
    ("geopackage truncated", c.geopackage_truncated, Fails(r"GDAL cannot read it .*complete")),
    ("empty file (0 bytes)", c.empty_file, Fails(r"the file is empty or starts with a blank line")),
    ("empty JSON Lines file", c.empty_json_lines, Loads(0)),
    ("JSON empty array", c.json_empty_array, Loads(0)),
    ("csv header only", c.header_only_csv, Loads(0)),
    ("xlsx header only", c.header_only_xlsx, Loads(0)),
    ("blank first line", c.blank_first_line, Fails(r"starts with a blank line; export it again with a header row")),
    ("xlsx with a blank first row", c.blank_first_row_xlsx, Fails(r"first row of the sheet is empty; put the header")),
    ("csv renamed to .xlsx", c.xlsx_not_a_workbook, Fails(r"not a readable XLSX workbook")),
    # headers and columns
    ("xlsx duplicated headers", c.duplicated_headers_xlsx, Fails(r"header repeats column\(s\) id; rename them")),
    ("tsv duplicated headers", c.duplicated_headers_tsv, Fails(r"header repeats column\(s\) kind; rename them")),
    ("blank header names (trailing delimiters)", c.blank_header_names, Loads(2)),
    ("missing required column", c.missing_required_column,
     Fails(r"column\(s\) reported named in dept\.toml are not in the file\. The file has: id, kind.*Fix \[fields\]")),
    ("semicolons in a file declared csv", c.semicolon_file_declared_csv, Fails(r"split by ';'.*set read\.format")),
    ("commas in a file declared tsv", c.comma_file_declared_tsv, Fails(r"split by ','.*set read\.format")),
    ("carriage-return line ends", c.carriage_return_line_ends, Loads(2)),
    # huge or strange values
    ("a 10 MB field", c.ten_mb_field, Loads(2, _ten_mb_description)),
    ("NUL bytes inside fields", c.nul_bytes_in_fields,
     Quarantines(frozenset({"N1"}), {"N2": "unknown category text"}, _nul_kept)),
    ("formula injection in text fields", c.formula_injection, Loads(len(FORMULAS) + 1, _formulas_neutralised_on_export)),
    ("C0-prefixed formulas in description and address", c.c0_prefixed_formulas,
     Loads(len(C0_FORMULAS), _c0_formulas_neutralised_on_export)),
    ("C0 separators before formulas kept at load", c.c0_separators_before_formulas,
     Loads(len(c.C0_SEPARATORS), _c0_separators_kept_at_load)),
    ("bidi overrides in grid names, department and event text", c.bidi_controls_in_names_and_text,
     Loads(2, _bidi_kept_and_shown_inert)),
    ("a 1 MB text in a feed row (description, address, grid and department names)", c.one_mb_text_in_a_feed_row,
     Loads(2, _long_text_shown_short_exported_whole)),
    ("dates in the years 9999 and 0001", c.dates_year_9999_and_0001,
     Quarantines(frozenset({"D1"}), {"D2": TIME, "D3": TIME, "D4": TIME, "D5": TIME, "D6": TIME})),
    ("xlsx date cells in the years 9999 and 0001", c.xlsx_dates_year_9999_and_0001,
     Quarantines(frozenset({"D1"}), {"D2": TIME, "D3": TIME})),
    ("NaN, inf and -inf coordinates", c.nan_and_infinite_coordinates,
     Quarantines(frozenset({"C1"}), {"C2": "no usable location", "C3": FINITE, "C4": FINITE, "C5": FINITE,
                                     "C6": FINITE, "C7": "coordinate is not a number"})),
    ("coordinates with thousands of digits", c.coordinates_with_thousands_of_digits,
     Quarantines(frozenset({"K1"}), {"K2": "coordinate is not a number", "K3": FINITE})),
    ("lat/lon swapped", c.lat_lon_swapped, Loads(2, _placed_in_s1_and_s2)),
    ("points in the sea", c.points_in_the_sea, Loads(3, _kept_and_flagged_outside)),
    # quoting
    ("a quote that never closes", c.unbalanced_quote_mid_file, Fails(r"line 3: a quoted field opens with \" and never closes")),
    ("a quote inside an unquoted field", c.quote_inside_unquoted_field, Loads(2, _literal_quote)),
    # JSON
    ("JSON file that is a bare string", c.json_bare_string, Fails(r"expected a JSON array of objects")),
    ("JSON file that is a bare number", c.json_bare_number, Fails(r"expected a JSON array of objects")),
    ("JSON array with scalars among the objects", c.json_array_with_scalars,
     Quarantines(frozenset({"J1"}), {"#2": UNPARSED, "#3": UNPARSED, "#4": UNPARSED, "#5": UNPARSED})),
    ("JSON nested 200,000 deep", c.json_nested_too_deep, Fails(r"unreadable JSON \(arrays or objects nested too deeply\)")),
    ("JSON integer of 5,000 digits", c.json_huge_integer, Fails(r"unreadable JSON \(Exceeds the limit")),
    ("JSON Lines with a 5 MB line", c.jsonl_five_mb_line, Loads(2, _five_mb_description)),
    ("JSON Lines with deep, huge and scalar lines", c.jsonl_hostile_lines,
     Quarantines(frozenset({"L1"}), {"#2": UNPARSED, "#3": UNPARSED, "#4": UNPARSED, "#5": UNPARSED})),
    ("JSON Lines with lone surrogate escapes", c.jsonl_lone_surrogates,
     Quarantines(frozenset({"L1", "L4\U0001f600"}), {"#2": UNPARSED, "#3": UNPARSED}, _names_the_surrogate)),
    # geodata: events
    ("shapefile without its .dbf", c.shapefile_missing_dbf, Fails(r"Shapefile's \.dbf part is missing.*copy all its files")),
    ("shapefile without its .shx", c.shapefile_missing_shx, Fails(r"Shapefile's \.shx part is missing.*copy all its files")),
    ("GeoJSON with null geometries", c.geojson_null_geometries,
     Quarantines(frozenset({"P1"}), {"P2": "no usable location"})),
    # geodata: grids
    ("self-intersecting grid polygon", c.grid_self_intersecting, Loads(1, _repaired_with_a_note)),
    ("empty grid polygon", c.grid_empty_polygon, Fails(r"1 grid\(s\) without geometry \(S1\); fix them")),
    ("grid polygon without area", c.grid_not_an_area, Fails(r"1 grid\(s\) are not areas \(S1 .*must be a polygon")),
    ("duplicate grid codes", c.grid_duplicate_codes, Fails(r"grid codes repeat \(S1\); each small grid needs its own code")),
    ("blank grid codes", c.grid_blank_codes, Fails(r"2 grid\(s\) have no code in column 'code'; fill them in")),
    ("child grid outside its parent", c.grid_child_outside_parent, Loads(1, _outside_parent_in_m2)),
    ("parent code that does not exist", c.grid_unknown_parent,
     Fails(r"1 small grid\(s\) name a parent that is not a medium grid \(S2→M9\); fix their parent codes")),
    ("grid codes as floats in the DBF", c.grid_codes_as_floats_in_dbf, Loads(2, _codes_kept_as_text)),
    ("projected grid coordinates read as lon/lat", c.grid_projected_declared_wgs84,
     Fails(r"not longitude/latitude.*grids\.small\.coordinates to its EPSG code")),
    # mapping and config
    ("mapping with unknown keys", c.mapping_unknown_keys, Fails(r"encodng.*feilds|feilds.*encodng", file="dept.toml")),
    ("mapping with wrong types", c.mapping_wrong_types, Fails(r"read.*time\.formats|time\.formats.*read", file="dept.toml")),
    ("config path climbing out of the project", c.config_path_traversal,
     Fails(r"passwd: column\(s\) .* are not in the file")),
    ("mapping path to a file that is no mapping", c.mapping_path_traversal, Fails(r"not valid UTF-8 TOML")),
    ("config glob matching nothing", c.config_glob_matching_nothing, Fails(r"no file matches; check the path or glob")),
    # bombs and hangs, read in a child process
    ("xlsx declaring 1,048,576 rows x 16,384 columns", c.xlsx_declaring_a_million_empty_rows, Bounded(rows=2)),
    ("xlsx 1,000 columns wide with a row at 1,048,576", c.xlsx_thousand_columns_and_a_million_rows, Bounded(rows=2)),
    ("xlsx header reaching column XFD", c.xlsx_header_reaching_column_xfd,
     Fails(r"header row reaches column 16,384; .*Delete the stray cells")),
    ("xlsx shared-strings zip bomb", c.xlsx_shared_strings_zip_bomb, Bounded(match=r"inflates .* over 100 times")),
    ("gzip bomb (2 GB from 4 MB)", c.gzip_zip_bomb, Bounded(match=r"inflates over 100 times .*hostile archive")),
    ("200,000 ragged rows", c.every_row_ragged, Bounded(rows=200_000)),
]
# Kinds whose clear message needs a fix outside the files this suite may change (etl/mapping.py, etl/normalize.py).
KNOWN_BUGS: dict[str, str] = {}


def _params() -> list[Any]:
    out = []
    for name, build, expect in KINDS:
        marks = [pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name])] if name in KNOWN_BUGS else []
        out.append(pytest.param(build, expect, id=name, marks=marks))
    return out


def test_the_corpus_has_at_least_thirty_kinds() -> None:
    names = [name for name, _, _ in KINDS]
    assert len(names) >= 30 and len(set(names)) == len(names)
    assert len({build for _, build, _ in KINDS}) == len(KINDS)
    assert set(KNOWN_BUGS) <= set(names)
    required = ["utf-16", "truncated", "cut", "empty", "header only", "blank first", "duplicated headers",
                "missing required", "10 MB", "NUL", "formula", "9999", "inf", "swapped", "sea", "declared csv",
                "never closes", "bare string", "bare number", "5 MB line", ".dbf", ".shx", "null geometries",
                "self-intersecting", "empty grid", "duplicate grid", "outside its parent", "does not exist",
                "floats in the DBF", "zip bomb", "unknown keys", "wrong types", "climbing out", "matching nothing",
                "C0-prefixed formulas", "bidi overrides", "1 MB text"]
    for word in required:
        assert any(word in name for name in names), word


@pytest.mark.parametrize(("build", "expect"), _params())
def test_hostile_input(build: Builder, expect: Expectation, tmp_path: Path) -> None:
    expect.check(build(tmp_path / "project"))


def test_rows_split_by_carriage_returns_keep_their_own_numbers(tmp_path: Path) -> None:
    """Ragged rows in a file with CR or CRLF line ends are numbered by data row, like the rows around them."""
    from etl.readers import ERROR_COLUMN, ROW_COLUMN, read_raw

    for ending in ("\r", "\r\n"):
        path = tmp_path / "ends.csv"
        path.write_bytes(ending.join(["a,b", "1,2", "3", "4,5", "6,7,8", "9,10", ""]).encode())
        frame = read_raw(path, fmt="csv").frame.set_index(ROW_COLUMN)
        assert list(frame.index) == [1, 2, 3, 4, 5]
        assert frame[ERROR_COLUMN].notna().tolist() == [False, True, False, True, False]
        assert list(frame.loc[[1, 3, 5], "a"]) == ["1", "4", "9"]


def test_ragged_rows_cost_grows_linearly(tmp_path: Path) -> None:
    """Numbering the ragged rows must not search the file from the top for each of them (etl/readers.py
    _ragged_rows): on 4n rows the read does about 4 times the work of n rows, where a quadratic numbering does
    16 times. Counted (function calls, bytes searched), not timed, so it holds on a machine of any speed."""
    n = 20_000
    cases = c.every_row_ragged(tmp_path / "n", rows=n), c.every_row_ragged(tmp_path / "4n", rows=4 * n)
    small, large = (read_isolated(case.path, case.fmt, count=True) for case in cases)
    assert (small["error"], small["rows"], large["error"], large["rows"]) == (None, n, None, 4 * n)
    for work in ("calls", "scanned"):
        assert small[work] > 0, (work, small)
        assert large[work] < 6 * small[work], f"{work}: {small[work]:,} on {n:,} rows, {large[work]:,} on {4 * n:,}"
