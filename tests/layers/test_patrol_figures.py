"""The patrol figures on the demo city against an independent pandas computation from the raw tables, the coverage
layer's classes and size budget, jurisdiction, and the command center's patrol widgets under AppTest."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from access.principal import Principal
from store.schema import connect
from access.scope import scoped_cursor
from layers.coverage import COVERAGE_COLUMN, coverage_map
from layers.geometry import prepare_level
from layers.patrol import neglected_grids, patrol_figures

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
NEGLECT_DAYS = 7
MB = 1024 * 1024
COVERAGE_BUDGET = int(1.5 * MB)  # the small level, like the event choropleth's budget (tests/layers/test_map_layers.py)


@pytest.fixture(scope="module")
def raw(demo_db):
    """The tables read as they are stored, and the dashboard's demo clock (latest report + 1 minute)."""
    con = connect(str(demo_db), read_only=True)
    try:
        tables = {name: con.execute(f"SELECT * FROM {name}").df() for name in ("visits", "roster", "roster_grids")}
        tables["grids"] = con.execute("SELECT grid_code, name, level, parent_code, population FROM grids").df()
        tables["as_of"] = con.execute("SELECT max(reported_at) FROM events").fetchone()[0] + dt.timedelta(minutes=1)
    finally:
        con.close()
    return tables


def independent(raw: dict, level: str, as_of: dt.datetime, neglect_days: int) -> pd.DataFrame:
    """The figures of every grid of `level` computed straight from the rows (the definitions in layers/patrol.py)."""
    grids = raw["grids"]
    parent = dict(zip(grids["grid_code"], grids["parent_code"]))
    small = grids.loc[grids["level"] == "small", ["grid_code"]].rename(columns={"grid_code": "grid_small"})
    small["grid_medium"] = small["grid_small"].map(parent)
    small["grid_large"] = small["grid_medium"].map(parent)
    key = f"grid_{level}"
    visits = raw["visits"][raw["visits"]["visited_at"] <= as_of]
    last = visits.dropna(subset=["grid_small"]).groupby("grid_small")["visited_at"].max()
    small["last"] = small["grid_small"].map(last)
    first = visits["visited_at"].min()
    small["days"] = np.floor((as_of - small["last"].fillna(first)).dt.total_seconds() / 86400)
    small["seen_7d"] = small["last"] > as_of - dt.timedelta(days=7)
    small["neglected"] = small["last"].isna() | (small["last"] <= as_of - dt.timedelta(days=neglect_days))
    out = small.groupby(key).agg(small_grids=("grid_small", "size"), visited_small_7d=("seen_7d", "sum"),
                                 neglected_small=("neglected", "sum"), longest_unvisited_days=("days", "max"),
                                 last=("last", "max"))
    recent = visits[(visits["visited_at"] > as_of - dt.timedelta(days=30)) & visits["grid_large"].notna()]
    out["visits_30d"] = recent.groupby(key).size()
    out["visits_7d"] = recent[recent["visited_at"] > as_of - dt.timedelta(days=7)].groupby(key).size()
    follow = recent[(recent["visit_type"] == "follow_up") & recent["event_id"].notna()]
    out["followed_up_30d"] = follow.groupby(key)["event_id"].nunique()
    roster = raw["roster"]
    in_post = roster[(roster["start_date"].isna() | (roster["start_date"] <= as_of))
                     & (roster["end_date"].isna() | (roster["end_date"] > as_of))]
    workers = in_post.loc[in_post["role"].isin(["grid_leader", "grid_worker"]), "worker_id"]
    assigned = raw["roster_grids"].dropna(subset=[key])
    out["workers"] = assigned[assigned["worker_id"].isin(workers)].groupby(key)["worker_id"].nunique()
    population = grids.set_index("grid_code")["population"]
    out = out.fillna({"visits_30d": 0, "visits_7d": 0, "followed_up_30d": 0, "workers": 0})
    out["workers_per_1000"] = out["workers"] / out.index.map(population).astype(float) * 1000
    out["days_since_visit"] = np.floor((as_of - out["last"]).dt.total_seconds() / 86400)
    return out


@pytest.mark.parametrize("level", ["small", "medium", "large"])
def test_figures_equal_an_independent_computation(demo_db, raw, level):
    con = connect(str(demo_db), read_only=True)
    try:
        got = patrol_figures(con, level, as_of=raw["as_of"], neglect_days=NEGLECT_DAYS).set_index("grid_code")
    finally:
        con.close()
    want = independent(raw, level, raw["as_of"], NEGLECT_DAYS)
    assert len(got) == len(want) and want["visits_30d"].sum() > 0
    for column in ("small_grids", "visited_small_7d", "neglected_small", "visits_7d", "visits_30d", "followed_up_30d",
                   "workers"):
        assert (got[column].astype(int) == want.loc[got.index, column].astype(int)).all(), column
    for column in ("longest_unvisited_days", "days_since_visit", "workers_per_1000"):
        assert np.allclose(got[column].astype(float), want.loc[got.index, column].astype(float), equal_nan=True), column
    assert got["share_visited_7d"].between(0, 1).all()


def test_the_demo_has_neglected_grids_and_they_are_found(demo_dir, demo_db, raw):
    import json

    truth = json.loads((demo_dir / "demo.json").read_text(encoding="utf-8"))
    con = connect(str(demo_db), read_only=True)
    try:
        found = neglected_grids(con, as_of=raw["as_of"], neglect_days=NEGLECT_DAYS)
    finally:
        con.close()
    assert 0 < len(found) < 0.2 * (raw["grids"]["level"] == "small").sum()
    assert (found["longest_unvisited_days"] >= NEGLECT_DAYS).all()
    assert list(found["longest_unvisited_days"]) == sorted(found["longest_unvisited_days"], reverse=True)
    as_of = raw["as_of"]
    planted = [g for g in truth["patrol"]["neglected"]
               if as_of - pd.Timestamp(g["neglected_from"]) >= dt.timedelta(days=NEGLECT_DAYS)]
    assert len(planted) >= 10
    visits = raw["visits"]
    for grid in planted:
        since = visits[(visits["grid_small"] == grid["code"]) & (visits["visited_at"] >= grid["neglected_from"])
                       & (visits["visited_at"] <= as_of)]
        # Only somebody else's off-beat check-in may land in a grid its own workers neglect.
        assert grid["code"] in set(found["grid_code"]) or since["off_beat"].fillna(True).all() and len(since), grid


def test_coverage_layer_classes_and_size_budget(demo_db, raw):
    con = connect(str(demo_db), read_only=True)
    try:
        figures = patrol_figures(con, "small", as_of=raw["as_of"], neglect_days=NEGLECT_DAYS)
        prepared = prepare_level(con, "small")
    finally:
        con.close()
    m = coverage_map(prepared, figures, neglect_days=NEGLECT_DAYS, level_label="小网格")
    html = m.get_root().render()
    assert len(html.encode("utf-8")) <= COVERAGE_BUDGET
    assert not re.search(r"https?://(?!127\.0\.0\.1|localhost)", html.split("<body>")[0].replace("http://www.w3.org", ""))
    (layer,) = [c for c in m._children.values() if type(c).__name__ == "GridChoropleth"]
    fills = {p["code"]: p["fill"] for p in layer.properties()}
    neglected_colour = layer.colours[-1]
    values = figures.set_index("grid_code")[COVERAGE_COLUMN]
    for code, days in values.items():
        assert (fills[code] == neglected_colour) == (days >= NEGLECT_DAYS), (code, days)
    assert "7 天及以上（失管）" in html


def test_an_official_sees_only_the_people_and_visits_of_their_grids(demo_db, raw):
    grids = raw["grids"]
    large = sorted(grids.loc[grids["level"] == "large", "grid_code"])[0]
    con = connect(str(demo_db), read_only=True)
    try:
        cursor = scoped_cursor(con, Principal("o", "official", scope=(large,)))
        visits = cursor.execute("SELECT DISTINCT grid_large FROM visits").fetchall()
        people = cursor.execute("SELECT count(*) FROM roster").fetchone()[0]
        outside = cursor.execute("SELECT count(*) FROM roster WHERE worker_id NOT IN "
                                 "(SELECT worker_id FROM roster_grids WHERE grid_large = ?)", [large]).fetchone()[0]
        figures = patrol_figures(cursor, "large", as_of=raw["as_of"], neglect_days=NEGLECT_DAYS)
        cursor.close()
    finally:
        con.close()
    assert visits == [(large,)]
    assert 0 < people < len(raw["roster"]) and outside == 0
    assert list(figures["grid_code"]) == [large]


def _open_command_center(monkeypatch, db: Path) -> AppTest:
    monkeypatch.setenv("MINQING_DB", str(db))
    monkeypatch.setenv("MINQING_CLOCK", "data")
    monkeypatch.setenv("MINQING_NEGLECT_DAYS", str(NEGLECT_DAYS))
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page("views/command_center.py").run()
    assert not at.exception, at.exception
    return at


def test_command_center_patrol_tiles_feed_and_coverage_switch(monkeypatch, demo_db, raw):
    at = _open_command_center(monkeypatch, demo_db)
    metrics = {m.label: m.value for m in at.metric}
    want = independent(raw, "large", raw["as_of"], NEGLECT_DAYS)
    assert metrics["近7日走访"] == f"{int(want['visits_7d'].sum()):,}"
    assert metrics[f"失管网格（≥{NEGLECT_DAYS}天）"] == f"{int(want['neglected_small'].sum()):,}"
    share = want["visited_small_7d"].sum() / want["small_grids"].sum()
    assert metrics["近7日走访覆盖率"] == f"{share * 100:.1f}%"
    assert "最新巡查走访" in [s.value for s in at.subheader]
    newest = raw["visits"][raw["visits"]["visited_at"] <= raw["as_of"]].sort_values("visited_at").iloc[-1]
    feed = [m.value for m in at.markdown if m.value.startswith('<table class="cc-visits')]
    assert any(pd.Timestamp(newest["visited_at"]).strftime("%m-%d %H:%M") in f for f in feed)
    (switch,) = [s for s in at.segmented_control if s.label == "地图指标"]
    assert "巡查覆盖" in switch.options
    switch.set_value("巡查覆盖").run()
    assert not at.exception, at.exception
