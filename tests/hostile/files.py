"""Hostile file contents: workbooks with lying or inflated parts, gzip bombs, Shapefiles with parts missing."""

from __future__ import annotations

import gzip
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import openpyxl
import shapely
from openpyxl.utils import get_column_letter

EXCEL_ROWS = 1_048_576
_SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    """A plain workbook with one sheet holding `rows` (the first is the header)."""
    book = openpyxl.Workbook()
    sheet = book.active
    for values in rows:
        sheet.append(values)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rewrite(workbook: bytes, change: dict[str, bytes | None]) -> bytes:
    """The workbook with some of its zip parts replaced (None keeps the part as it is)."""
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    parts.update({k: v for k, v in change.items() if v is not None})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def _sheet_xml(workbook: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        return archive.read("xl/worksheets/sheet1.xml").decode("utf-8")


def xlsx_declaring_a_million_rows(header: list[str], row: list[str]) -> bytes:
    """A few KB that declare the sheet as A1:XFD1048576 and put one more row at row 1,048,576.

    Trusting the declared size, a reader pads 1,048,574 empty rows of 16,384 cells each (about 17 billion cells).
    """
    base = xlsx_bytes([header, row])
    sheet = re.sub(r'<dimension ref="[^"]*" ?/>', '<dimension ref="A1:XFD1048576"/>', _sheet_xml(base))
    cells = "".join(f'<c r="{chr(65 + i)}{EXCEL_ROWS}" t="inlineStr"><is><t>{v}</t></is></c>' for i, v in enumerate(row))
    sheet = sheet.replace("</sheetData>", f'<row r="{EXCEL_ROWS}">{cells}<c r="XFD{EXCEL_ROWS}"/></row></sheetData>')
    return _rewrite(base, {"xl/worksheets/sheet1.xml": sheet.encode("utf-8")})


def xlsx_wide_header_and_last_row(header: list[str], row: list[str], width: int) -> bytes:
    """A header `width` columns wide (its last cell named) and one row at row 1,048,576: a million skipped rows."""
    base = xlsx_bytes([header, row])
    last = get_column_letter(width)
    sheet = _sheet_xml(base).replace('</row>', f'<c r="{last}1" t="inlineStr"><is><t>far</t></is></c></row>', 1)
    cells = "".join(f'<c r="{chr(65 + i)}{EXCEL_ROWS}" t="inlineStr"><is><t>{v}</t></is></c>' for i, v in enumerate(row))
    sheet = sheet.replace("</sheetData>", f'<row r="{EXCEL_ROWS}">{cells}</row></sheetData>')
    return _rewrite(base, {"xl/worksheets/sheet1.xml": sheet.encode("utf-8")})


def xlsx_shared_strings_bomb(header: list[str], row: list[str], strings: int = 2_500_000) -> bytes:
    """A workbook (about 100 KB) whose shared-strings part inflates to ~40 MB of millions of one-letter strings."""
    base = xlsx_bytes([header, row])
    with zipfile.ZipFile(io.BytesIO(base)) as archive:
        types = archive.read("[Content_Types].xml").decode("utf-8")
        rels = archive.read("xl/_rels/workbook.xml.rels").decode("utf-8")
    if "sharedStrings" not in types:
        types = types.replace("</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SST_TYPE}"/></Types>')
    if "sharedStrings" not in rels:
        rels = rels.replace("</Relationships>",
                            f'<Relationship Id="rIdBomb" Type="{_SST_REL}" Target="sharedStrings.xml"/></Relationships>')
    sst = ('<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
           f'count="{strings}" uniqueCount="{strings}">' + "<si><t>x</t></si>" * strings + "</sst>")
    return _rewrite(base, {"[Content_Types].xml": types.encode(), "xl/_rels/workbook.xml.rels": rels.encode(),
                           "xl/sharedStrings.xml": sst.encode()})


def gzip_bomb(line: bytes = b"0,0,0,0,0,0,0,0\n", member_mb: int = 16, members: int = 128) -> bytes:
    """A multi-member gzip of about 4 MB that inflates to member_mb * members MB (2 GB by default)."""
    member = gzip.compress(line * (member_mb * (1 << 20) // len(line)), compresslevel=9)
    return member * members


def truncated(data: bytes, fraction: float = 0.5) -> bytes:
    return data[: int(len(data) * fraction)]


def write_points_shapefile(folder: Path, name: str, records: dict[str, list[Any]], points: list[tuple[float, float]]) -> Path:
    """A point Shapefile (.shp .shx .dbf .prj .cpg) with the given attribute columns."""
    frame = gpd.GeoDataFrame(records, geometry=[shapely.Point(x, y) for x, y in points], crs=4326)
    path = folder / f"{name}.shp"
    frame.to_file(path, engine="pyogrio", encoding="utf-8")
    return path


def geopackage_bytes(records: dict[str, list[Any]], points: list[tuple[float, float]], folder: Path) -> bytes:
    """A point GeoPackage's bytes (written through a scratch file in `folder`)."""
    frame = gpd.GeoDataFrame(records, geometry=[shapely.Point(x, y) for x, y in points], crs=4326)
    folder.mkdir(parents=True, exist_ok=True)
    scratch = folder / "scratch.gpkg"
    frame.to_file(scratch, driver="GPKG", engine="pyogrio")
    data = scratch.read_bytes()
    scratch.unlink()
    return data
