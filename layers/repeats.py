"""Repeat places and repeat people: disputes again and again at one spot, and one person in several departments' files.

Repeat places (重复发生地点): dispute reports of the last `days` (90) with a point; a place is a disc of `radius_m` (50 m)
around one report holding at least `min_disputes` (3) distinct incidents, found greedily (discs around the reports
with the most reports within the radius first, each taking the reports no earlier disc took); reports without a point but with the same
address text (spaces removed) form places too.

Repeat people (重复来访当事人): people named by records of the last `days` (365) with an ID number, grouped by a SHA-256
of the number computed inside the database; a person is a finding with at least `min_records` (3) distinct incidents
in at least `min_depts` (2) departments. Names and ID numbers leave this module masked (layers.personal); the hash
never leaves it.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from layers import analysis_queries as q
from layers.event_query import EventQuery
from layers.findings import empty, finish, labels
from layers.lookups import department_names
from layers.personal import mask_id, mask_name
from store.timewindow import TimeLike, store_time

__all__ = ["repeat_places", "repeat_people", "place_warnings", "person_warnings", "M_PER_DEG_LAT"]

M_PER_DEG_LAT = 110_574.0
GRID_COLUMN = {"large": "grid_large", "medium": "grid_medium", "small": "grid_small"}


def _moment(con: duckdb.DuckDBPyConnection, as_of: TimeLike) -> dt.datetime:
    moment = store_time(con, as_of, "as_of")
    if moment is None:
        raise ValueError("`as_of` is required: the moment the look-back ends")
    return moment


def _metres(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Local equirectangular metres (fine within a city)."""
    lat0 = float(np.nanmean(lat)) if len(lat) else 0.0
    return np.column_stack([lon * M_PER_DEG_LAT * np.cos(np.radians(lat0)), lat * M_PER_DEG_LAT])


def _greedy_discs(xy: np.ndarray, incidents: np.ndarray, radius: float, minimum: int) -> list[np.ndarray]:
    """Groups of row indices: discs of `radius` around a point, taken in the order of how many reports they held at
    the start (ties: earlier rows first), each keeping the points no earlier disc took, kept when they still hold
    `minimum` distinct incidents."""
    if len(xy) == 0:
        return []
    neighbours = cKDTree(xy).query_ball_point(xy, r=radius)
    alive = np.ones(len(xy), dtype=bool)
    groups = []
    for i in sorted(range(len(xy)), key=lambda i: (-len(neighbours[i]), i)):
        if not alive[i]:
            continue
        members = np.array([j for j in neighbours[i] if alive[j]])
        if len(set(incidents[members])) >= minimum:
            alive[members] = False
            groups.append(members)
    return groups


def repeat_places(con: duckdb.DuckDBPyConnection, *, as_of: TimeLike, days: int = 90, radius_m: float = 50.0,
                  min_disputes: int = 3) -> pd.DataFrame:
    """One row per repeat place: lon, lat (mean of its reports; missing for an address place), address (the commonest
    text), disputes (distinct incidents), reports, first_at, last_at, grid_small, grid_medium, grid_large, event_ids
    (list); most disputes first."""
    moment = _moment(con, as_of)
    query = EventQuery.of(as_of=moment)
    rows = con.execute(q.DISPUTE_POINTS, query.bind(q.DISPUTE_POINTS, since=moment - dt.timedelta(days=days))).df()
    found = []
    located = rows[rows["lon"].notna() & rows["lat"].notna()].reset_index(drop=True)
    if len(located):
        # only reports with at least one neighbour can be in a place: a cheap pre-filter for large stores
        xy = _metres(located["lon"].to_numpy(), located["lat"].to_numpy())
        counts = cKDTree(xy).query_ball_point(xy, r=radius_m, return_length=True)
        near = located[counts >= 2].reset_index(drop=True)
        xy = xy[counts >= 2]
        for members in _greedy_discs(xy, near["incident_id"].to_numpy(), radius_m, min_disputes):
            found.append(_place(near.iloc[members], with_point=True))
    unlocated = rows[rows["lon"].isna() & rows["address"].notna()].copy()
    if len(unlocated):
        unlocated["key"] = unlocated["address"].str.replace(r"\s+", "", regex=True)
        for _key, group in unlocated.groupby("key"):
            if group["incident_id"].nunique() >= min_disputes:
                found.append(_place(group, with_point=False))
    columns = ["lon", "lat", "address", "disputes", "reports", "first_at", "last_at", "grid_small", "grid_medium",
               "grid_large", "event_ids"]
    if not found:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    out = pd.DataFrame(found, columns=columns)
    return out.sort_values(["disputes", "last_at"], ascending=[False, False], kind="stable").reset_index(drop=True)


def _place(group: pd.DataFrame, *, with_point: bool) -> dict:
    commonest = group["address"].dropna().mode()
    home = group.iloc[-1]  # the latest report names the place's grids
    return {
        "lon": float(group["lon"].mean()) if with_point else np.nan,
        "lat": float(group["lat"].mean()) if with_point else np.nan,
        "address": commonest.iloc[0] if len(commonest) else "",
        "disputes": int(group["incident_id"].nunique()), "reports": len(group),
        "first_at": group["reported_at"].min(), "last_at": group["reported_at"].max(),
        "grid_small": home["grid_small"], "grid_medium": home["grid_medium"], "grid_large": home["grid_large"],
        "event_ids": sorted(group["event_id"]),
    }


def repeat_people(con: duckdb.DuckDBPyConnection, *, as_of: TimeLike, days: int = 365, min_records: int = 3,
                  min_depts: int = 2) -> pd.DataFrame:
    """One row per repeat person (masked): name (masked), id_number (masked), records (distinct incidents),
    departments (count), dept_names (text), first_at, last_at, grid_small, grid_medium, grid_large (of the latest
    record), event_ids (list); most records first. A store without personal data gives no rows."""
    moment = _moment(con, as_of)
    columns = ["name", "id_number", "records", "departments", "dept_names", "first_at", "last_at", "grid_small",
               "grid_medium", "grid_large", "event_ids"]
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    if not con.execute(q.HAS_PERSONS).fetchone()[0]:
        return empty
    query = EventQuery.of(as_of=moment)
    rows = con.execute(q.PERSON_RECORDS, query.bind(q.PERSON_RECORDS, since=moment - dt.timedelta(days=days))).df()
    if rows.empty:
        return empty
    stats = rows.groupby("person_key").agg(records=("incident_id", "nunique"), departments=("dept", "nunique"))
    keys = stats.index[(stats["records"] >= min_records) & (stats["departments"] >= min_depts)]
    names = department_names(con)
    found = []
    for key in keys:
        group = rows[rows["person_key"] == key].sort_values("reported_at", kind="stable")
        latest = group.iloc[-1]
        found.append({
            "name": mask_name(latest["name"]), "id_number": mask_id(latest["id_number"]),
            "records": int(group["incident_id"].nunique()), "departments": int(group["dept"].nunique()),
            "dept_names": "、".join(names.get(d, d) for d in sorted(group["dept"].unique())),
            "first_at": group["reported_at"].min(), "last_at": group["reported_at"].max(),
            "grid_small": latest["grid_small"], "grid_medium": latest["grid_medium"], "grid_large": latest["grid_large"],
            "event_ids": sorted(group["event_id"]),
        })
    if not found:
        return empty
    out = pd.DataFrame(found, columns=columns)
    return out.sort_values(["records", "last_at"], ascending=[False, False], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- as warnings


def _as_warnings(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, level: str, kind: str, key_name: str,
                 count: str, sentence) -> pd.DataFrame:
    column = GRID_COLUMN[level]
    frame = frame[frame[column].notna()] if len(frame) else frame
    if frame.empty:
        return empty()
    found = pd.DataFrame({"grid_code": frame[column].to_numpy(), "observed": frame[count].astype("int64").to_numpy(),
                          "window_start": frame["first_at"].to_numpy(), "window_end": frame["last_at"].to_numpy(),
                          "sentence": [sentence(r) for r in frame.itertuples(index=False)]})
    found = found.merge(labels(con, level), on="grid_code", how="inner")
    found["level"], found["kind"], found["key"], found["key_name"] = level, kind, "", key_name
    found["expected"], found["ratio"], found["p_value"] = np.nan, np.nan, np.nan
    return finish(found)


def place_warnings(con: duckdb.DuckDBPyConnection, level: str = "small", *, as_of: TimeLike) -> pd.DataFrame:
    """Repeat places of the last 90 days as warnings of the grid their latest report lies in."""
    places = repeat_places(con, as_of=as_of)
    return _as_warnings(con, places, level, "repeat_place", "矛盾纠纷", "disputes",
                        lambda r: f"近90天同一地点（50米内{'' if not r.address else '，' + str(r.address)[:30]}）"
                                  f"发生矛盾纠纷{r.disputes}起")


def person_warnings(con: duckdb.DuckDBPyConnection, level: str = "small", *, as_of: TimeLike) -> pd.DataFrame:
    """Repeat people of the last year as warnings of the grid of their latest record (masked)."""
    people = repeat_people(con, as_of=as_of)
    return _as_warnings(con, people, level, "repeat_person", "当事人", "records",
                        lambda r: f"当事人{r.name}（证件{r.id_number}）近一年在{r.dept_names}共{r.records}件")
