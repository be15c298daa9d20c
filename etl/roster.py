"""Normalising a roster of grid people (网格长, 网格员, 联户长): canonical person rows, their grids, rejects."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from etl.assign import GridIndex
from etl.mapping import Mapping
from etl.normalize import Rejects, checked_rows, joined_text, reject_frame, text_of, time_field, translate
from etl.persons import clean_phone
from etl.readers import ROW_COLUMN, RawTable

ROSTER_COLUMNS: tuple[str, ...] = ("worker_id", "source", "role", "name", "phone", "households", "start_date",
                                   "end_date", "grid_codes")
ROSTER_GRID_COLUMNS: tuple[str, ...] = ("worker_id", "seq", "grid_code", "level", "grid_small", "grid_medium",
                                        "grid_large")
_MAX_HOUSEHOLDS = 100_000


@dataclass
class NormalisedRoster:
    """The people to load (ROSTER_COLUMNS + __row), their grids (ROSTER_GRID_COLUMNS + __row) and the rejects."""

    people: pd.DataFrame
    grids: pd.DataFrame
    rejects: pd.DataFrame


def normalise_roster(raw: pd.DataFrame, table: RawTable, mapping: Mapping, *, path: Path,
                     grids: GridIndex) -> NormalisedRoster:
    """Apply a roster mapping to raw rows; a row naming an unknown grid or role is quarantined with its reason."""
    raw, rejects = checked_rows(raw, mapping, path)
    out = pd.DataFrame(index=raw.index)
    out["worker_id"] = joined_text(raw, mapping.column("worker_id"))
    rejects.add(out["worker_id"] == "", mapping.column("worker_id")[0], out["worker_id"],
                "missing worker id; every person on the roster needs the id their check-ins carry")
    out["source"] = mapping.department
    out["role"] = translate(raw, mapping, "role", mapping.role_map, mapping.role_default, rejects)
    out["name"] = joined_text(raw, mapping.column("name")).replace("", None)
    out["phone"] = joined_text(raw, mapping.column("phone")).map(clean_phone).replace("", None)
    out["households"] = _households(raw, mapping, rejects)
    for name in ("start_date", "end_date"):
        out[name] = time_field(raw, mapping, name, rejects, unreadable="unreadable date").dt.floor("D")
    column = (mapping.column("end_date") or ["end_date"])[0]
    rejects.add(out["end_date"] < out["start_date"], column, out["end_date"],
                "left before starting; check the start and end dates")
    codes = _grid_lists(raw, mapping)
    out["grid_codes"] = codes.map(",".join)
    grid_rows, unknown = _grid_rows(codes, out["worker_id"], raw[ROW_COLUMN], grids)
    field = mapping.column("grid_code")[0]
    rejects.add(codes.map(len) == 0, field, None, "no grid code; give the code of the grid the person looks after")
    rejects.add(unknown.notna(), field, unknown,
                "grid code is not a known grid; correct it or load the grid boundaries that define it")
    bad = rejects.mask
    people = out.loc[~bad].copy()
    people["__row"] = raw.loc[~bad, ROW_COLUMN]
    kept_rows = set(people["__row"])
    grid_rows = grid_rows[grid_rows["__row"].isin(kept_rows)].reset_index(drop=True)
    personal = {c for c in (*mapping.column("name"), *mapping.column("phone"))}
    return NormalisedRoster(people=people[[*ROSTER_COLUMNS, "__row"]].reset_index(drop=True), grids=grid_rows,
                            rejects=reject_frame(raw, rejects, personal))


def _households(raw: pd.DataFrame, mapping: Mapping, rejects: Rejects) -> pd.Series:
    columns = mapping.column("households")
    if not columns:
        return pd.Series(pd.NA, index=raw.index, dtype="Int64")
    text = text_of(raw[columns[0]])
    numbers = pd.to_numeric(text.where(text != "", None), errors="coerce")
    whole = numbers.notna() & (numbers == np.floor(numbers.fillna(0))) & numbers.between(0, _MAX_HOUSEHOLDS)
    rejects.add((text != "") & ~whole, columns[0], raw[columns[0]],
                f"households is not a whole number between 0 and {_MAX_HOUSEHOLDS:,}")
    return numbers.where(whole).astype("Int64")


def _grid_lists(raw: pd.DataFrame, mapping: Mapping) -> pd.Series:
    """Each row's grid codes: split on the mapping's separator, translated through [grid_code.map]."""
    text = joined_text(raw, mapping.column("grid_code"))
    separator = mapping.roster_separator
    pattern = re.compile(re.escape(separator)) if separator else None

    def split(value: str) -> list[str]:
        parts = pattern.split(value) if pattern else [value]
        codes = [p.strip() for p in parts if p.strip()]
        return [mapping.grid_code_map.get(c, c) for c in codes]

    return text.map(split)


def _grid_rows(codes: pd.Series, workers: pd.Series, rows: pd.Series, grids: GridIndex) -> tuple[pd.DataFrame, pd.Series]:
    """One row per (person, grid) with the grid's level and parents, and per person the first unknown code."""
    exploded = codes.explode().dropna()
    frame = pd.DataFrame({"grid_code": exploded.astype(str)})
    frame["worker_id"] = workers.loc[frame.index].to_numpy()
    frame["__row"] = rows.loc[frame.index].to_numpy()
    frame["seq"] = frame.groupby(level=0).cumcount()
    frame["level"] = frame["grid_code"].map(grids.level)
    unknown = frame.loc[frame["level"].isna(), "grid_code"].groupby(level=0).first()
    is_small, is_medium = frame["level"] == "small", frame["level"] == "medium"
    frame["grid_small"] = frame["grid_code"].where(is_small)
    frame["grid_medium"] = frame["grid_code"].where(is_medium).fillna(frame["grid_small"].map(grids.parent))
    frame["grid_large"] = frame["grid_code"].where(frame["level"] == "large").fillna(
        frame["grid_medium"].map(grids.parent))
    return (frame[[*ROSTER_GRID_COLUMNS, "__row"]].reset_index(drop=True),
            unknown.reindex(codes.index))
