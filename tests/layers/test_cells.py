"""The one neutraliser (layers.cells) through the real writers: no exported cell is ever a formula, whatever the text."""

from __future__ import annotations

import csv
import io

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.cells import REMOVED_CHARACTERS, neutralise, neutralise_text
from layers.export import write_audit_csv, write_events_csv, write_events_xlsx

FORMULA_CHARACTERS = "=+-@"
C0_PREFIXED = ("\x01=2+5", "\x02-2+3", "\x00+1+1", "\x1f@SUM(1)", "\x0b=HYPERLINK(\"http://x.invalid\")")
# Text biased towards the dangerous shapes: control characters, whitespace and formula starts in front.
dangerous = st.text(alphabet=st.sampled_from(["\x00", "\x01", "\x08", "\x0b", "\x1f", "\ufeff", "\t", "\r", "\n", " ",
                                              "\u3000", "=", "+", "-", "@", "1", "A", "网"]), max_size=12)
any_text = st.one_of(dangerous, st.text(max_size=40), st.tuples(dangerous, st.text(max_size=20)).map("".join))


def events_frame(texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"event_id": [f"x:{i}" for i in range(len(texts))], "description": texts,
                         "address": texts, "lon": [115.0 + i / 1000 for i in range(len(texts))]})


def csv_cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def starts_like_a_formula(text: str) -> bool:
    rest = REMOVED_CHARACTERS.sub("", text).lstrip()
    return rest[:1] in set(FORMULA_CHARACTERS) or text.startswith(("\t", "\r"))


@pytest.mark.parametrize("text", C0_PREFIXED)
def test_control_characters_go_before_the_formula_check(text: str) -> None:
    cleaned, removed = neutralise_text(text)
    assert removed == 1 and cleaned == "'" + text[1:]


def test_numbers_and_missing_values_pass_and_plain_text_is_untouched() -> None:
    for value in (-3, 2.5, None, "网格", "a=b", "", "1-2"):
        assert neutralise(value) == value
    assert neutralise(" =1+1") == "' =1+1"  # a spreadsheet may trim the space and run it
    assert neutralise("\u3000@SUM(1)") == "'\u3000@SUM(1)"


@settings(max_examples=150, deadline=None)
@given(st.lists(any_text, min_size=1, max_size=6))
def test_no_xlsx_cell_is_ever_a_formula(texts: list[str]) -> None:
    buffer = io.BytesIO()
    write_events_xlsx(events_frame(texts), buffer)
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["事件"]
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert not [cell.value for cell in cells if cell.data_type == "f"]
    texts_out = [cell.value for cell in cells if isinstance(cell.value, str)]
    assert not [t for t in texts_out if starts_like_a_formula(t)]
    assert not [t for t in texts_out if REMOVED_CHARACTERS.search(t)]


@settings(max_examples=150, deadline=None)
@given(st.lists(any_text, min_size=1, max_size=6))
def test_no_csv_text_cell_starts_a_formula(texts: list[str]) -> None:
    buffer = io.BytesIO()
    notes = write_events_csv(events_frame(texts), buffer)
    rows = csv_cells(buffer.getvalue())
    header, body = rows[0], rows[1:]
    description = header.index("描述")
    got = [row[description] for row in body]
    assert len(got) == len(texts)
    for original, cell in zip(texts, got):
        assert not starts_like_a_formula(cell), (original, cell)
        assert not REMOVED_CHARACTERS.search(cell)
    removed = sum(len(REMOVED_CHARACTERS.findall(t)) for t in texts) * 2  # description and address
    assert bool(notes) == bool(removed) and (not notes or str(removed) in notes[0])


def test_audit_csv_goes_through_the_same_neutraliser() -> None:
    frame = pd.DataFrame({"id": [1], "at": [pd.Timestamp("2025-01-02 03:04:05")], "username": ["\x01=cmd"],
                          "rows": [7.0]})
    buffer = io.BytesIO()
    write_audit_csv(frame, buffer)
    (row,) = csv_cells(buffer.getvalue())[1:]
    assert row == ["1", "2025-01-02 03:04:05", "'=cmd", "7"]


def test_xlsx_says_when_a_cell_is_longer_than_excel_holds() -> None:
    long_text = "长" * 40_000
    buffer = io.BytesIO()
    notes = write_events_xlsx(events_frame([long_text, "短"]), buffer)
    sheet = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["事件"]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("描述") + 1).value
    assert len(cell) == 32_767 and cell.endswith("…") and cell.startswith("长长")
    assert len(notes) == 1 and "2 cell(s)" in notes[0] and "export CSV" in notes[0]  # description and address
    csv_buffer = io.BytesIO()
    assert write_events_csv(events_frame([long_text]), csv_buffer) == []
    assert long_text in csv_buffer.getvalue().decode("utf-8-sig")
