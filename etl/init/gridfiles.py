"""One boundary file: its coordinate system, and the columns holding each grid's code, name and population."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from etl.grids import EQUAL_AREA_CRS, code_text, fold_leading_zeros
from etl.init.decisions import InitReport
from etl.readers import has_geometry, no_geometry_message, read_geo_frame
from store.errors import UserError

CODE_HINTS = re.compile(r"code|_id$|^id$|num|^no$|编码|代码|编号|adcode|^cd$|borocd|gid|beat|precinct|district|ward",
                        re.I)
NAME_HINTS = re.compile(r"name|名称|^名|label|title|nom|nome|nombre", re.I)
POPULATION_HINTS = re.compile(r"pop|人口|population|户籍", re.I)
NOT_A_CODE = re.compile(r"area|len|shape|perim|面积|人口|pop|objectid|^fid$|^ogc_fid$", re.I)


@dataclass
class GridFile:
    """A boundary file as init understands it."""

    path: Path
    frame: gpd.GeoDataFrame  # attributes as read (text decoded), geometry in the file's own system
    wgs84: gpd.GeoSeries  # the polygons in longitude/latitude
    system: str  # what the config says: "wgs84" or "EPSG:nnnn"
    code: str
    name: str
    population: str | None
    median_km2: float = 0.0

    def codes(self, fold: bool = False) -> pd.Series:
        """The code column as text (leading zeros folded when `fold`)."""
        values = self.frame[self.code].map(code_text)
        return values.map(fold_leading_zeros) if fold else values


def inspect_grid_file(path: Path, report: InitReport) -> GridFile:
    """Read one boundary file and decide its system and columns, recording why."""
    subject = path.name
    frame, note = read_geo_frame(path, require_geometry=False)
    if not has_geometry(frame):
        raise UserError(no_geometry_message(path, frame, None) + "; a grid file needs one polygon per grid")
    if note:  # the loader's encoding "auto" decides the same way when it reads the file
        found = re.search(r"read as (GBK|\S+?)[ .(]", note)
        report.decide(subject, "encoding", f"{found[1].lower() if found else 'auto'} (auto)", note.split(": ", 1)[1])
    system, wgs84 = _system(frame, path, subject, report)
    attributes = [c for c in frame.columns if c != frame.geometry.name]
    if not attributes:
        raise UserError(f"{path}: has no attribute columns, so its grids have no codes; add a code column")
    code = _best_code(frame, attributes)
    repeats = int(frame[code].map(code_text).duplicated().sum())
    report.decide(subject, "code column", code, f"{frame[code].nunique():,} distinct values in {len(frame):,} rows"
                  + (f" ({repeats} repeated)" if repeats else "") + f"; e.g. {_examples(frame[code])}")
    name = _best_name(frame, attributes, code)
    report.decide(subject, "name column", name, "no text column names the grids, so the code is the name"
                  if name == code else f"text, {frame[name].nunique():,} distinct; e.g. {_examples(frame[name])}")
    population = next((c for c in attributes if POPULATION_HINTS.search(str(c))
                       and pd.api.types.is_numeric_dtype(frame[c])), None)
    if population:
        report.decide(subject, "population column", population, "a numeric column named like a population")
    areas = gpd.GeoSeries(wgs84.values, crs="EPSG:4326").to_crs(EQUAL_AREA_CRS).area / 1e6
    return GridFile(path=path, frame=frame, wgs84=wgs84, system=system, code=code, name=name, population=population,
                    median_km2=float(np.median(areas)))


def _system(frame: gpd.GeoDataFrame, path: Path, subject: str, report: InitReport) -> tuple[str, gpd.GeoSeries]:
    """The system the config names for this file and its polygons in WGS84."""
    west, south, east, north = frame.total_bounds
    degrees = -180 <= west <= east <= 180 and -90 <= south <= north <= 90
    if frame.crs is None:
        if not degrees:
            raise UserError(f"{path}: has no coordinate system (.prj) and its coordinates (x {west:,.0f}..{east:,.0f}) "
                            "are not longitudes/latitudes; ship the file's .prj, or give --grids a GeoPackage")
        report.decide(subject, "coordinates", "wgs84", "no .prj, and the coordinates are longitudes/latitudes")
        return "wgs84", frame.geometry.set_crs("EPSG:4326", allow_override=True)
    epsg = frame.crs.to_epsg()
    if frame.crs.is_geographic:
        report.decide(subject, "coordinates", "wgs84", f"the file declares {frame.crs.name} (geographic)")
        return "wgs84", frame.geometry.to_crs("EPSG:4326") if epsg not in (4326, 4490, None) else \
            frame.geometry.set_crs("EPSG:4326", allow_override=True)
    system = f"EPSG:{epsg}" if epsg else "wgs84"
    report.decide(subject, "coordinates", system, f"the file declares {frame.crs.name} (projected metres)"
                  + ("" if epsg else "; read from its .prj, which names no EPSG code"))
    return system, frame.geometry.to_crs("EPSG:4326")


def _best_code(frame: pd.DataFrame, columns: list[object]) -> str:
    """The column most like a code: filled, (nearly) unique, short, named like a code, not an area or a length."""
    scored = []
    for position, column in enumerate(columns):
        values = frame[column]
        filled = values.notna().mean()
        if filled < 0.99 or _fractional(values):
            continue
        text = values.map(code_text)
        unique = text.nunique() / max(len(text), 1)
        if unique < 0.5 or text.str.len().max() > 40:
            continue
        score = unique + 0.5 * bool(CODE_HINTS.search(str(column))) - 1.0 * bool(NOT_A_CODE.search(str(column)))
        scored.append((score, -position, str(column)))
    if not scored:
        return str(columns[0])
    return max(scored)[2]


def _best_name(frame: pd.DataFrame, columns: list[object], code: str) -> str:
    """A text column naming the grids (named like a name), else the code column."""
    scored = []
    for position, column in enumerate(columns):
        values = frame[column]
        if str(column) == code or pd.api.types.is_numeric_dtype(values) or values.notna().mean() < 0.9:
            continue
        text = values.dropna().astype(str)
        if text.map(_looks_numeric).mean() > 0.5:
            continue
        unique = text.nunique() / max(len(text), 1)
        hint = bool(NAME_HINTS.search(str(column)))
        if unique < 0.3 and not hint:
            continue
        scored.append((hint, unique, -position, str(column)))
    return max(scored)[3] if scored else code


def _fractional(values: pd.Series) -> bool:
    """A float column with fractions (lengths, areas): never a code."""
    if not pd.api.types.is_float_dtype(values):
        return False
    numbers = values.dropna()
    return bool(len(numbers)) and not np.all(np.mod(numbers, 1) == 0)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _examples(values: pd.Series, count: int = 3) -> str:
    return ", ".join(repr(v) for v in values.dropna().map(code_text).unique()[:count])
