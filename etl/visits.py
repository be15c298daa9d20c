"""Normalising patrol check-ins (巡查走访) from the grid-worker app: canonical visit rows and rejects."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.assign import GridIndex
from etl.mapping import Mapping
from etl.normalize import (Normalised, checked_rows, joined_text, locate, reject_frame, source_ids, time_field,
                            translate)
from etl.readers import ROW_COLUMN, RawTable

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
    out["source_id"] = source_ids(raw, mapping, rejects, "missing check-in id")
    out["worker_id"] = joined_text(raw, mapping.column("worker_id"))
    rejects.add(out["worker_id"] == "", mapping.column("worker_id")[0], out["worker_id"],
                "missing worker id; a check-in must name the grid worker who made it")
    out["visit_type"] = translate(raw, mapping, "visit_type", mapping.visit_type_map, mapping.visit_type_default,
                                  rejects)
    out["visited_at"] = time_field(raw, mapping, "visited_at", rejects, missing="missing check-in time")
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
