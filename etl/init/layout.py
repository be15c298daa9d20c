"""How an events file is laid out: format, gzip, encoding, delimiter, decimal mark, header row, sheet, null texts."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from etl.encoding import detect_encoding, plausible_encoding
from etl.init.decisions import InitReport
from etl.readers import RawTable, format_of, open_bytes, read_raw
from etl.readoptions import ReadOptions, sniff_delimiter

NULL_TOKENS: tuple[str, ...] = ("NULL", "null", "Null", "NA", "N/A", "n/a", "#N/A", "\\N", "None", "none", "nan",
                                "NaN", "(null)", "无", "空")
_HEAD_BYTES = 256 * 1024
_DECIMAL_COMMA = re.compile(r"^-?\d{1,3},\d+$")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}


@dataclass(frozen=True)
class Layout:
    """What the mapping's [read] table will say."""

    fmt: str
    encoding: str = "auto"
    sheet: str | None = None
    layer: str | None = None
    options: ReadOptions = ReadOptions()
    from_geometry: bool = False


def inspect_layout(path: Path, subject: str, report: InitReport) -> Layout:
    """Decide the layout of one events file, recording each decision."""
    fmt = format_of(path, None)
    gzipped = path.suffix.lower() == ".gz"
    report.decide(subject, "format", fmt + (" (gzip, unwrapped on reading)" if gzipped else ""),
                  f"from the file name {path.name!r}")
    if fmt in ("csv", "tsv"):
        return _delimited(path, fmt, subject, report)
    if fmt == "xlsx":
        return _workbook(path, subject, report)
    if fmt in ("gpkg", "geojson", "shp"):
        return _vector(path, fmt, subject, report)
    return Layout(fmt=fmt)


def read_events(path: Path, layout: Layout) -> RawTable:
    """The file read exactly as the loader will read it with this layout."""
    return read_raw(path, fmt=layout.fmt, encoding=layout.encoding, sheet=layout.sheet, layer=layout.layer,
                    options=layout.options)


def _delimited(path: Path, fmt: str, subject: str, report: InitReport) -> Layout:
    data = open_bytes(path)
    encoding = detect_encoding(data, path)
    why = {"utf-8-sig": "a UTF-8 byte-order mark", "utf-8": "the bytes are valid UTF-8"}.get(encoding) or \
        plausible_encoding([data[:data.rfind(b"\n", 0, _HEAD_BYTES) + 1 or _HEAD_BYTES]])[1]
    report.decide(subject, "encoding", encoding, why)
    text = data[:_HEAD_BYTES].decode("utf-8-sig" if encoding.startswith("utf-8") else encoding, errors="replace")
    lines = text.splitlines()[:200]
    if len(data) > _HEAD_BYTES and lines:
        lines = lines[:-1]  # the last line may be cut
    header_row, delimiter = _header_and_delimiter(lines)
    if delimiter is None:
        delimiter = "\t" if fmt == "tsv" else ","
        report.decide(subject, "delimiter", DELIMITER_NAMES[delimiter], "no delimiter splits the first lines evenly; "
                      "the format's own")
        report.ask(f"{subject}: no delimiter splits the file evenly; check [read] delimiter")
    else:
        report.decide(subject, "delimiter", DELIMITER_NAMES[delimiter],
                      f"it splits the header and the next {min(len(lines) - header_row, 49)} lines into the same "
                      "number of fields")
    if header_row > 1:
        report.decide(subject, "header row", header_row, f"the {header_row - 1} line(s) above it are not a table "
                      f"({lines[0][:40]!r}...)")
    options = ReadOptions(delimiter=delimiter, header_row=header_row)
    layout = Layout(fmt=fmt, encoding=encoding, options=options)
    frame = read_events(path, layout).frame
    decimal = _decimal_mark(frame, delimiter)
    if decimal == ",":
        report.decide(subject, "decimal mark", "comma", "numbers are written like 22,95 in a file split by "
                      f"{DELIMITER_NAMES[delimiter]}s")
    nulls = _null_texts(frame, subject, report)
    return replace(layout, options=replace(options, decimal=decimal, null_values=nulls))


def _header_and_delimiter(lines: list[str]) -> tuple[int, str | None]:
    """The first line (1-based) from which a delimiter splits the lines evenly and that reads as a header."""
    for start in range(min(10, max(len(lines) - 1, 1))):
        delimiter = sniff_delimiter(lines[start:start + 50])
        if delimiter is None:
            continue
        header = next(csv.reader([lines[start]], delimiter=delimiter), [])
        named = [h for h in header if h.strip()]
        if len(named) >= 0.6 * len(header) and sum(_is_number(h) for h in named) <= len(named) / 3:
            return start + 1, delimiter
    return 1, None


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return True


def _decimal_mark(frame: pd.DataFrame, delimiter: str) -> str:
    """"," when the file is not split by commas and its numeric-looking columns write decimal commas."""
    if delimiter == ",":
        return "."
    for column in frame.columns:
        if str(column).startswith("__"):
            continue
        values = frame[column].dropna().astype(str).str.strip()
        values = values[values != ""].head(500)
        if len(values) and values.str.match(_DECIMAL_COMMA).mean() >= 0.8:
            return ","
    return "."


def _null_texts(frame: pd.DataFrame, subject: str, report: InitReport) -> tuple[str, ...]:
    """Texts such as NULL or N/A that fill cells where there is no value, as [read] null_values."""
    found: dict[str, int] = {}
    for column in frame.columns:
        if str(column).startswith("__") or frame[column].dtype != object and not pd.api.types.is_string_dtype(
                frame[column]):
            continue
        counts = frame[column].astype(str).str.strip().value_counts()
        for token in NULL_TOKENS:
            if token in counts.index:
                found[token] = found.get(token, 0) + int(counts[token])
    if found:
        report.decide(subject, "null values", ", ".join(found), "cells holding only "
                      + ", ".join(f"{t!r} ({n:,})" for t, n in found.items()) + " mean no value")
    return tuple(found)


def _workbook(path: Path, subject: str, report: InitReport) -> Layout:
    import io

    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(open_bytes(path)), read_only=True, data_only=True)
    try:
        sizes = {}
        heads = {}
        for sheet in book.worksheets:
            rows = [list(r) for r in sheet.iter_rows(max_row=12, values_only=True)]
            heads[sheet.title] = rows
            sizes[sheet.title] = sum(1 for _ in sheet.iter_rows(values_only=True))
        names = book.sheetnames
    finally:
        book.close()
    chosen = max(names, key=lambda n: (sizes[n], -names.index(n)))
    if len(names) > 1:
        report.decide(subject, "sheet", chosen, "the sheet with the most rows: "
                      + ", ".join(f"{n} ({sizes[n]:,})" for n in names))
    header_row = _sheet_header_row(heads[chosen])
    if header_row > 1:
        report.decide(subject, "header row", header_row, f"the {header_row - 1} row(s) above it are titles")
    return Layout(fmt="xlsx", sheet=chosen if len(names) > 1 else None,
                  options=ReadOptions(header_row=header_row))


def _sheet_header_row(rows: list[list[object]]) -> int:
    """The first row that is as wide as the table and holds names (text), not numbers or dates."""
    width = max((sum(v not in (None, "") for v in r) for r in rows), default=0)
    for number, row in enumerate(rows, start=1):
        filled = [v for v in row if v not in (None, "")]
        if width and len(filled) >= 0.8 * width and all(isinstance(v, str) for v in filled):
            return number
    return 1


def _vector(path: Path, fmt: str, subject: str, report: InitReport) -> Layout:
    import pyogrio

    layers = pyogrio.list_layers(path)
    layer = None
    if len(layers) > 1:
        layer = str(layers[0][0])
        report.decide(subject, "layer", layer, f"the first of {len(layers)} layers")
    kinds = [str(k or "") for _, k in layers]
    from_geometry = "Point" in (kinds[0] if kinds else "")
    report.decide(subject, "location", "the points of the file's geometry" if from_geometry else "attribute columns",
                  f"geometry type {kinds[0] if kinds else 'none'}")
    return Layout(fmt=fmt, layer=layer, from_geometry=from_geometry)
