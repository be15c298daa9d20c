"""Independent reference figures computed with pandas from `SELECT * FROM events`, and the comparisons the
statistics tests make against them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from layers.event_query import EventFilter

GRID_COLUMN = {"large": "grid_large", "medium": "grid_medium", "small": "grid_small"}
PUBLISHED = {2019: 1965, 2020: 3021, 2021: 4352}  # resolved disputes per year, the published Shanwei figures


def read_events(path: Path) -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT * FROM events").df()


def read_grids(path: Path, level: str) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return sorted(r[0] for r in con.execute("SELECT grid_code FROM grids WHERE level = ?", [level]).fetchall())


def ref_key(ev: pd.DataFrame, level: str) -> pd.Series:
    if level == "city":
        return pd.Series(np.where(ev["grid_large"].notna(), "city", None), index=ev.index)
    return ev[GRID_COLUMN[level]]


def ref_filter(ev: pd.DataFrame, where: EventFilter | None) -> pd.DataFrame:
    if where is None:
        return ev
    keep = pd.Series(True, index=ev.index)
    for field, column in (("depts", "dept"), ("categories", "category"), ("dispute_classes", "dispute_class"),
                          ("statuses", "status")):
        values = getattr(where, field)
        if values:
            keep &= ev[column].isin(values)
    return ev[keep]


def ref_incidents(ev: pd.DataFrame, where: EventFilter | None = None) -> pd.DataFrame:
    """One row per dispute incident: first reported, first closed, home report's grids and class."""
    d = ref_filter(ev[ev["is_dispute"] & ev["grid_large"].notna()], where).copy()
    d["is_closed"] = d["status"] == "closed"
    d["open_first"] = ~d["is_closed"]
    d["order_t"] = d["closed_at"].where(d["is_closed"], d["reported_at"])
    d = d.sort_values(["incident_id", "open_first", "order_t", "reported_at", "event_id"])
    home = d.drop_duplicates("incident_id", keep="first").set_index("incident_id")
    out = home[["grid_small", "grid_medium", "grid_large", "dispute_class"]].copy()
    out["first_reported_at"] = d.groupby("incident_id")["reported_at"].min()
    out["first_closed_at"] = d[d["is_closed"]].groupby("incident_id")["closed_at"].min()
    return out


def ref_grid_figures(ev: pd.DataFrame, level: str, codes: list[str], start: dt.datetime, end: dt.datetime,
                     as_of: dt.datetime, where: EventFilter | None = None) -> pd.DataFrame:
    """The counted figures of stats.grid_stats, computed row by row from the raw events."""
    located = ref_filter(ev[ev["grid_large"].notna()], where)
    key = ref_key(located, level)
    reported = located[(located["reported_at"] >= start) & (located["reported_at"] < end)]
    closed_mask = (located["status"] == "closed") & (located["closed_at"] >= start) & (located["closed_at"] < end)
    closed = located[closed_mask]
    hours = (closed["closed_at"] - closed["reported_at"]).dt.total_seconds() / 3600
    is_open = (located["reported_at"] <= as_of) & ~((located["status"] == "closed") & (located["closed_at"] <= as_of))
    open_ = located[is_open]
    inc = ref_incidents(ev, where)
    inc_key = ref_key(inc, level)
    out = pd.DataFrame(index=pd.Index(codes, name="grid_code"))
    out["events"] = reported.groupby(key[reported.index]).size()
    out["closed"] = closed.groupby(key[closed.index]).size()
    out["closed_with_due"] = closed[closed["due_at"].notna()].groupby(key[closed.index]).size()
    out["closed_on_time"] = closed[closed["closed_at"] <= closed["due_at"]].groupby(key[closed.index]).size()
    out["open_now"] = open_.groupby(key[open_.index]).size()
    out["overdue_now"] = open_[open_["due_at"] < as_of].groupby(key[open_.index]).size()
    received = inc[(inc["first_reported_at"] >= start) & (inc["first_reported_at"] < end)]
    resolved = inc[(inc["first_closed_at"] >= start) & (inc["first_closed_at"] < end)]
    out["disputes_received"] = received.groupby(inc_key[received.index]).size()
    out["disputes_resolved"] = resolved.groupby(inc_key[resolved.index]).size()
    out = out.fillna(0).astype("int64")
    out["median_handling_hours"] = hours.groupby(key[closed.index]).median()
    return out


def ref_yearly(ev: pd.DataFrame, level: str, codes: list[str], years: range) -> pd.DataFrame:
    """received / resolved per grid and year (and the year before) and resolved per class, from the raw events."""
    inc = ref_incidents(ev)
    inc["key"] = ref_key(inc, level)
    inc["year_in"] = inc["first_reported_at"].dt.year
    inc["year_out"] = inc["first_closed_at"].dt.year
    index = pd.MultiIndex.from_product([codes, list(years)], names=["grid_code", "year"])
    before = pd.MultiIndex.from_product([codes, [y - 1 for y in years]], names=["grid_code", "year"])
    received = inc.groupby(["key", "year_in"]).size()
    resolved = inc.dropna(subset=["year_out"]).astype({"year_out": "int64"}).groupby(["key", "year_out"]).size()
    out = pd.DataFrame(index=index)
    out["received"] = received.reindex(index, fill_value=0).to_numpy()
    out["resolved"] = resolved.reindex(index, fill_value=0).to_numpy()
    out["received_before"] = received.reindex(before, fill_value=0).to_numpy()
    out["resolved_before"] = resolved.reindex(before, fill_value=0).to_numpy()
    done = inc.dropna(subset=["year_out"]).astype({"year_out": "int64"})
    by_class = done.groupby(["key", "year_out", "dispute_class"]).size().unstack(fill_value=0)
    for klass in by_class.columns:
        out[f"resolved_class_{klass}"] = by_class[klass].reindex(index, fill_value=0).to_numpy()
    return out.reset_index()


def assert_figures_match(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    got = got.set_index("grid_code")
    assert list(got.index) == list(expected.index)
    for column in expected.columns:
        if column == "median_handling_hours":
            a = got[column].astype("float64").to_numpy()
            b = expected[column].astype("float64").to_numpy()
            assert np.allclose(a, b, equal_nan=True, atol=1e-6), column
        else:
            assert got[column].astype("int64").tolist() == expected[column].tolist(), column


def compare_yearly(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    got = got.set_index(["grid_code", "year"]).sort_index()
    expected = expected.set_index(["grid_code", "year"]).sort_index()
    assert got.index.equals(expected.index)
    for column in ("received", "resolved"):
        assert got[column].tolist() == expected[column].astype("int64").tolist(), column
    assert got["received_change"].tolist() == (expected["received"] - expected["received_before"]).astype("int64").tolist()
    assert got["resolved_change"].tolist() == (expected["resolved"] - expected["resolved_before"]).astype("int64").tolist()
    for column in [c for c in got.columns if c.startswith("resolved_class_")]:
        want = expected[column] if column in expected else pd.Series(0, index=expected.index)
        assert got[column].tolist() == want.astype("int64").tolist(), column
    assert got[[c for c in got.columns if c.startswith("resolved_class_")]].sum(axis=1).tolist() == got["resolved"].tolist()
