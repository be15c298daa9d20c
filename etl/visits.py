"""Normalising patrol check-ins (巡查走访) from the grid-worker app: canonical visit rows and rejects."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.assign import GridIndex
from etl.mapping import ROW_NUMBER_ID, Mapping
from etl.normalize import Normalised, checked_rows, joined_text, locate, reject_frame, text_of, translate
from etl.readers import ROW_COLUMN, RawTable
from etl.timeparse import parse_times

VISIT_COLUMNS: tuple[str, ...] = (
    "visit_id", "source", "source_id", "worker_id", "visited_at", "visit_type", "event_id", "lon", "lat",
    "location_from", "outside_grid", "grid_small", "grid_medium", "grid_large", "address", "description",
)


def normalise_visits(raw: pd.DataFrame, table: RawTable, mapping: Mapping, *, path: Path,
                     grids: GridIndex) -> Normalised:
    """Apply a visits mapping to raw rows; the visit counts for the grid its position lies in."""
    raw, rejects = checked_rows(raw, mapping, path)
    out = pd.DataFrame(index=raw.index)
    out["source"] = mapping.department
    if mapping.column("source_id") == [ROW_NUMBER_ID]:
        out["source_id"] = raw[ROW_COLUMN].astype(str)
    else:
        out["source_id"] = joined_text(raw, mapping.column("source_id"))
    rejects.add(out["source_id"] == "", mapping.column("source_id")[0], out["source_id"], "missing check-in id")
    out["worker_id"] = joined_text(raw, mapping.column("worker_id"))
    rejects.add(out["worker_id"] == "", mapping.column("worker_id")[0], out["worker_id"],
                "missing worker id; a check-in must name the grid worker who made it")
    out["visit_type"] = translate(raw, mapping, "visit_type", mapping.visit_type_map, mapping.visit_type_default,
                                  rejects)
    column = mapping.column("visited_at")[0]
    values = raw[column]
    out["visited_at"] = parse_times(values, mapping.time_formats, mapping.timezone)
    given = text_of(values) != ""
    rejects.add(~given, column, values, "missing check-in time")
    rejects.add(given & out["visited_at"].isna(), column, values,
                f"unreadable or impossible time; expected one of {mapping.time_formats} between 1990 and 2100")
    reference = joined_text(raw, mapping.column("event_ref"))
    prefix = f"{mapping.event_dept}:" if mapping.event_dept else ""
    out["event_id"] = (prefix + reference).where(reference != "", None)
    locate(out, raw, table, mapping, grids, rejects)
    out["address"] = joined_text(raw, mapping.column("address")).replace("", None)
    out["description"] = joined_text(raw, mapping.column("description")).replace("", None)
    out["visit_id"] = mapping.department + ":" + out["source_id"]
    bad = rejects.mask
    visits = out.loc[~bad].copy()
    visits["__row"] = raw.loc[~bad, ROW_COLUMN]
    return Normalised(events=visits[[*VISIT_COLUMNS, "__row"]].reset_index(drop=True),
                      rejects=reject_frame(raw, rejects, set()))
