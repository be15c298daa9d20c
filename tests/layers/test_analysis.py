"""The analysis finds what the demo generator planted (demo.json's "planted"), within the stated false-alarm rate,
and its statistics agree with independent computations (esda's Gi*, hand-made series)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import duckdb
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.hotspots import (EMERGING_CLASSES, HOT_CLASSES, emerging_class, emerging_hotspots, fdr_significant,
                             gi_star_z, hotspots, mann_kendall, _star_matrix)
from layers.repeats import repeat_people, repeat_places
from layers.stats import data_clock
from layers.warnings import SpikeSettings, all_warnings, spike_backtest, spike_bounds, spike_warnings

WEEKS_CHECKED = 52  # Monday-to-Monday windows checked for false alarms
LAST_MONDAY = pd.Timestamp("2025-12-29")


@pytest.fixture(scope="module")
def planted(demo_dir: Path) -> dict:
    return json.loads((demo_dir / "demo.json").read_text(encoding="utf-8"))["planted"]


@pytest.fixture(scope="module")
def con(demo_db: Path):
    connection = duckdb.connect(str(demo_db), read_only=True)
    yield connection
    connection.close()


def _planted_near(planted: dict, grid: str, end: pd.Timestamp) -> bool:
    """A planted spike of `grid` overlaps the 7 days before `end`, or the grid is in a planted emerging cluster."""
    clusters = {g for e in planted["emerging"] for g in e["cluster"]}
    if grid[:12] + "000" in clusters:
        return True
    start = end - pd.Timedelta(days=7)
    return any(s["grid"] == grid and pd.Timestamp(s["start"]) < end and pd.Timestamp(s["end"]) > start
               for s in planted["spikes"])


@pytest.fixture(scope="module")
def backtest(con, planted: dict) -> pd.DataFrame:
    """近7日 spike warnings as of every planted spike's end and of WEEKS_CHECKED Mondays, from one read of the store."""
    ends = [pd.Timestamp(s["end"]) for s in planted["spikes"]]
    ends += [LAST_MONDAY - pd.Timedelta(weeks=k) for k in range(WEEKS_CHECKED)]
    return spike_backtest(con, "small", ends=ends)


def _at(frame: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    return frame[frame["window_end"] == end].reset_index(drop=True)


def test_planted_spikes_are_found(backtest: pd.DataFrame, planted: dict) -> None:
    spikes = planted["spikes"]
    assert len(spikes) >= 30 and all(s["planted"] >= 6 for s in spikes)
    found = sum(bool(((hits["grid_code"] == s["grid"]) & (hits["key"] == s["category"])).any())
                for s in spikes for hits in [_at(backtest, pd.Timestamp(s["end"]))])
    recall = found / len(spikes)
    print(f"\nspikes: recall {recall:.1%} ({found}/{len(spikes)})")
    assert recall >= 0.8, f"recall {recall:.1%}"


def test_few_false_alarms_on_unplanted_weeks(con, backtest: pd.DataFrame, planted: dict) -> None:
    grids = con.execute("SELECT count(*) FROM grids WHERE level = 'small'").fetchone()[0]
    false_grid_weeks = 0
    for k in range(WEEKS_CHECKED):
        end = LAST_MONDAY - pd.Timedelta(weeks=k)
        hits = _at(backtest, end)
        false_grid_weeks += len({g for g in hits["grid_code"] if not _planted_near(planted, g, end)})
    rate = 100 * false_grid_weeks / (grids * WEEKS_CHECKED)
    print(f"\nspikes: false warnings {false_grid_weeks} in {grids * WEEKS_CHECKED:,} grid-weeks = {rate:.4f} per 100")
    assert rate <= 1.0


def test_backtest_gives_what_spike_warnings_gives(con, backtest: pd.DataFrame, planted: dict) -> None:
    """The back-test (cells read once, shifted week by week) and the warnings of one moment (aggregated in SQL) are
    the same rows, at a Monday and at the planted end that is not a Monday."""
    compared = 0
    for end in (LAST_MONDAY - pd.Timedelta(weeks=WEEKS_CHECKED - 1), pd.Timestamp(planted["spikes"][-1]["end"]),
                pd.Timestamp(planted["spikes"][0]["end"])):
        alone = spike_warnings(con, "small", as_of=end)
        pd.testing.assert_frame_equal(_at(backtest, end), alone, check_dtype=False)
        compared += len(alone)
    assert compared > 0  # rows were compared, not only empty frames


def test_warning_rows_say_what_was_found(con, planted: dict) -> None:
    last = [s for s in planted["spikes"] if s["end"] == planted["spikes"][-1]["end"]]
    found = all_warnings(con, "small", as_of=pd.Timestamp(last[0]["end"]))
    spike = found[(found["kind"] == "spike_7d") & (found["grid_code"] == last[0]["grid"])].iloc[0]
    assert spike["observed"] >= last[0]["planted"]
    assert spike["sentence"].startswith(f"近7日{spike['key_name']}{spike['observed']}起，往年同期")
    assert spike["grid_name"] and spike["parent_name"] and spike["grandparent_name"]
    assert set(found["kind"]) >= {"spike_7d", "repeat_place", "repeat_person"}
    assert found["kind_name"].notna().all()


def test_spike_bound_is_a_negative_binomial_quantile() -> None:
    settings = SpikeSettings(alpha=0.01, min_count=3)
    bound, p, warn = spike_bounds(np.array([2, 6, 9, 9]), np.array([0.1, 0.1, 4.0, 4.0]), np.array([1, 1, 1, 3]),
                                  settings)
    assert bound[0] == 1 and not warn[0]  # two events are never a spike: below min_count
    assert warn[1] and p[1] == pytest.approx(1 - sum(np.exp(-0.1) * 0.1 ** k / np.prod(range(1, k + 1))
                                                      for k in range(6)), rel=1e-6)
    assert bound[2] == 9 and not warn[2]  # Poisson(4): P(X > 9) < 1 % ≤ P(X > 8)
    assert bound[3] > bound[2]  # overdispersion widens the bound


def test_gi_star_z_equals_esda_and_fdr_is_benjamini_hochberg() -> None:
    from esda.getisord import G_Local

    polys = [shapely.box(i, j, i + 1, j + 1) for i in range(12) for j in range(10)]
    w = libpysal.weights.Queen.from_dataframe(gpd.GeoDataFrame(geometry=polys), use_index=False)
    y = np.random.default_rng(3).poisson(2, len(polys)).astype(float)
    y[:5] += 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = G_Local(y, w, transform="B", star=True, permutations=0)
    assert np.allclose(gi_star_z(_star_matrix(w), y), reference.Zs)
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    assert fdr_significant(p, 0.05).tolist() == [True, True] + [False] * 8


def test_mann_kendall_and_emerging_classes() -> None:
    z, p = mann_kendall(np.array([np.arange(20.0), np.arange(20.0)[::-1], np.zeros(20)]))
    assert z[0] > 5 and z[1] < -5 and z[2] == 0 and p[0] < 1e-6 and p[2] == 1
    hot = np.zeros((5, 20), dtype=bool)
    hot[0, -2:] = True  # new
    hot[1, 10:] = True  # intensifying (with a rising trend)
    hot[2, :] = True  # persistent
    hot[3, :8] = True  # diminishing
    classes = emerging_class(hot, np.array([1.0, 3.0, 0.5, -3.0, 0.0]), np.array([0.5, 0.001, 0.6, 0.001, 1.0]))
    assert classes.tolist() == ["新增热点", "加剧热点", "持续热点", "消退热点", "无"]
    assert set(classes) <= set(EMERGING_CLASSES)


def test_planted_emerging_hotspots_are_found(con, planted: dict) -> None:
    """Found at the data's clock (what the dashboard passes), the same as at the planted end (weeks end at a midnight,
    so minutes do not move them), and still found with the weeks shifted by three days."""
    clusters = planted["emerging"]
    assert {c["kind"] for c in clusters} == {"intensifying", "new"}
    members = [g for c in clusters for g in c["cluster"]]
    rising = [g for c in clusters if c["kind"] == "intensifying" for g in c["cluster"]]
    new = [g for c in clusters if c["kind"] == "new" for g in c["cluster"]]
    clock = data_clock(con) + pd.Timedelta(minutes=1)
    found = emerging_hotspots(con, "medium", as_of=clock, weeks=52)
    at_end = emerging_hotspots(con, "medium", as_of=pd.Timestamp(clusters[0]["end"]), weeks=52)
    pd.testing.assert_frame_equal(found, at_end)
    shifted = emerging_hotspots(con, "medium", as_of=clock - pd.Timedelta(days=3), weeks=52)
    for frame in (found.set_index("grid_code"), shifted.set_index("grid_code")):
        recall = frame.loc[members, "emerging_class"].isin(["新增热点", "加剧热点"]).mean()
        outside = frame.drop(index=members)["emerging_class"].isin(["新增热点", "加剧热点"]).mean()
        print(f"\nemerging: recall {recall:.1%} of {len(members)} planted grids; {outside:.2%} of the others flagged; "
              f"trend z of the rising cluster {frame.loc[rising, 'trend_z'].min():.1f}+")
        assert recall >= 0.8 and outside <= 0.02
        assert (frame.loc[rising, "emerging_class"] == "加剧热点").mean() >= 0.8
        assert (frame.loc[rising, "trend_z"] > 3).mean() >= 0.8  # clearly rising, not borderline
    assert (found.set_index("grid_code").loc[new, "emerging_class"] == "新增热点").mean() >= 0.8


def test_hotspots_mark_the_planted_cluster_hot(con, planted: dict) -> None:
    cluster = next(c for c in planted["emerging"] if c["kind"] == "intensifying")
    end = pd.Timestamp(cluster["end"])
    found = hotspots(con, "medium", start=end - pd.Timedelta(weeks=13), end=end).set_index("grid_code")
    assert set(found["gi_class"]) <= set(HOT_CLASSES)
    assert found.loc[cluster["core"], "gi_class"] == "热点 99%"
    assert (found.loc[cluster["cluster"], "gi_class"].str.startswith("热点")).mean() >= 0.8
    assert found["gi_class"].str.startswith("热点").mean() < 0.1


def test_planted_repeat_places_and_people_are_found_and_masked(con, planted: dict) -> None:
    as_of = pd.Timestamp(planted["spikes"][-1]["end"])
    places = repeat_places(con, as_of=as_of)
    for spot in planted["repeat_places"]:
        assert any(set(spot["events"]) <= set(ids) for ids in places["event_ids"]), spot
    people = repeat_people(con, as_of=as_of)
    for person in planted["repeat_persons"]:
        assert any(set(person["events"]) <= set(ids) for ids in people["event_ids"]), person
    assert people["id_number"].str.fullmatch(r"\d{4}\*{10}[\dX]{4}").all()
    assert people["name"].str.contains(r"\*").all()
    assert "person_key" not in people.columns
