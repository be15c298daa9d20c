"""Loading a roster and patrol check-ins on a small hand-made project: accounting, quarantine, idempotency,
updates, off-beat flags, beats re-measured when the roster changes, and the figures by hand."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from etl.config import load_config
from etl.load import load_project
from layers.patrol import grid_people, monthly_activity, patrol_figures, visit_history
from patrol_project import AS_OF, ROSTER, ROSTER_HEADER, ROSTER_MAPPING, VISITS, VISITS_MAPPING, visit
from projects import write_project_config, write_town_grids

ROSTER_GOOD = ROSTER[:5]  # one town: W1, W2 (two grids), Z1 (a village leader), H1, W9 (left in June)
ROSTER_BAD = {
    "W3,孙八,13300006666,志愿者,S1,,2018-01-01,": "unknown role",
    ",周九,13300007777,网格员,S1,,2018-01-01,": "missing worker id",
    "W4,吴十,13300008888,网格员,S1、X9,,2018-01-01,": "grid code is not a known grid",
    "W5,郑一,13300009999,联户长,S1,很多,2018-01-01,": "households is not a whole number",
    "W6,冯二,13300001234,网格员,S1,,2018-13-01,": "unreadable date",
    "W7,陈三,13300004321,网格员,S1,,2020-01-01,2019-01-01": "left before starting",
}
VISITS_GOOD = VISITS[:9]  # V1-V9: the first town's check-ins (see tests/patrol_project.py)
VISITS_BAD = [
    (visit("B1", "W1", "2023-08-30T09:00:00+08:00", "吃饭", 115.05, 22.95), "unknown visit_type"),
    (visit("B2", "", "2023-08-30T09:00:00+08:00", "入户走访", 115.05, 22.95), "missing worker id"),
    (visit("B3", "W1", "昨天", "入户走访", 115.05, 22.95), "unreadable or impossible time"),
    (visit("B4", "W1", "2023-08-30T09:00:00+08:00", "入户走访", "待定位", 22.95), "coordinate is not a number"),
    (visit("", "W1", "2023-08-30T09:00:00+08:00", "入户走访", 115.05, 22.95), "missing check-in id"),
]


def _write_visits(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    write_town_grids(tmp_path, ["东一", "东二", "西一", "西二"], [1000, 2000, 3000, 4000])
    (tmp_path / "roster.toml").write_text(ROSTER_MAPPING, encoding="utf-8")
    (tmp_path / "patrol.toml").write_text(VISITS_MAPPING, encoding="utf-8")
    (tmp_path / "roster.csv").write_text(ROSTER_HEADER + "\n".join(ROSTER_GOOD + list(ROSTER_BAD) + [ROSTER_GOOD[0]])
                                         + "\n", encoding="utf-8")
    (tmp_path / "patrol").mkdir()
    _write_visits(tmp_path / "patrol" / "2023-08.jsonl",
                  VISITS_GOOD + [row for row, _ in VISITS_BAD] + [VISITS_GOOD[0]])
    write_project_config(tmp_path, [("roster.csv", "roster.toml"), ("patrol/*.jsonl", "patrol.toml")])
    return tmp_path


def _con(project: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(project / "store.duckdb"), read_only=True)


def test_roster_and_visits_rows_are_all_accounted_for(project: Path) -> None:
    roster, visits = load_project(load_config(project / "minqing.toml")).files
    assert (roster.rows_in, roster.loaded, roster.duplicate, roster.rejected) == (
        len(ROSTER_GOOD) + len(ROSTER_BAD) + 1, len(ROSTER_GOOD), 1, len(ROSTER_BAD))
    assert (visits.rows_in, visits.loaded, visits.duplicate, visits.rejected) == (
        len(VISITS_GOOD) + len(VISITS_BAD) + 1, len(VISITS_GOOD), 1, len(VISITS_BAD))
    con = _con(project)
    reasons = dict(con.execute("SELECT source || ':' || row_number, reason FROM rejects").fetchall())
    lines = ROSTER_GOOD + list(ROSTER_BAD)
    for line, expected in ROSTER_BAD.items():
        assert expected in reasons[f"roster:{lines.index(line) + 1}"], line
    for i, (_, expected) in enumerate(VISITS_BAD):
        assert expected in reasons[f"patrol:{len(VISITS_GOOD) + i + 1}"], expected
    raw = con.execute("SELECT raw FROM rejects WHERE source = 'roster' AND reason LIKE 'unknown role%'").fetchone()[0]
    assert "孙八" not in raw and "13300006666" not in raw  # personal data redacted in the quarantine
    grids = con.execute("SELECT worker_id, grid_code, level, grid_small, grid_medium, grid_large FROM roster_grids "
                        "ORDER BY worker_id, seq").fetchall()
    assert ("W2", "S3", "small", "S3", "M2", "L1") in grids and ("Z1", "M1", "medium", None, "M1", "L1") in grids


def test_off_beat_and_unknown_workers_are_kept_and_flagged(project: Path) -> None:
    (_, visits) = load_project(load_config(project / "minqing.toml")).files
    beats = dict((r[0], r[1:]) for r in _con(project).execute(
        "SELECT source_id, beat_km, off_beat, grid_small FROM visits").fetchall())
    assert beats["V1"] == (0.0, False, "S1")
    assert beats["V5"][1] is True and 6.5 < beats["V5"][0] < 8.5  # ~7.5 km from S1's corner
    assert beats["V6"][1] is False and 0.25 < beats["V6"][0] < 0.4
    assert beats["V7"] == (None, None, "S1")
    assert beats["V8"][:2] == (0.0, False)  # the leader's village holds S2
    assert any("1 check-in(s) more than 1 km" in n for n in visits.notes)
    assert any("not on the roster" in n for n in visits.notes)


def test_reload_is_idempotent_and_a_new_roster_updates_and_remeasures(project: Path) -> None:
    config = load_config(project / "minqing.toml")
    load_project(config)
    again = load_project(config).files
    assert all(f.skipped for f in again)
    # The roster changes: W1 now also looks after S4, so V5 is no longer off its beat.
    text = (project / "roster.csv").read_text(encoding="utf-8").replace("W1,张三,13800001111,网格员,S1,",
                                                                         "W1,张三,13800001111,网格员,S1、S4,")
    (project / "roster.csv").write_text(text, encoding="utf-8")
    roster, visits = load_project(config).files
    assert (roster.loaded, roster.updated) == (0, 1)  # the repeated W1 row supersedes nothing: both say S1、S4
    assert visits.skipped
    beat, off = _con(project).execute("SELECT beat_km, off_beat FROM visits WHERE source_id = 'V5'").fetchone()
    assert (beat, off) == (0.0, False)


def test_roster_after_visits_still_measures_every_beat(project: Path) -> None:
    text = (project / "minqing.toml").read_text(encoding="utf-8")
    roster_block = '[[departments]]\npath = "roster.csv"\nmapping = "roster.toml"\n'
    (project / "minqing.toml").write_text(text.replace(roster_block, "") + roster_block, encoding="utf-8")
    files = load_project(load_config(project / "minqing.toml")).files
    assert [f.dept for f in files] == ["patrol", "roster"]
    off = dict(_con(project).execute("SELECT source_id, off_beat FROM visits").fetchall())
    assert off["V5"] is True and off["V1"] is False and off["V7"] is None


def test_figures_by_hand(project: Path) -> None:
    load_project(load_config(project / "minqing.toml"))
    con = _con(project)
    small = patrol_figures(con, "small", as_of=AS_OF, neglect_days=7).set_index("grid_code")
    # S1: V1 (7 d), V2 (30 d), V7 (unknown worker); V9 is after as_of.
    assert small.loc["S1", ["visits_7d", "visits_30d", "followed_up_30d"]].tolist() == [2, 3, 1]
    assert small.loc["S1", "days_since_visit"] == 1  # 08-30 09:00 -> 08-31 12:00
    assert small.loc["S2", ["visits_7d", "visits_30d", "followed_up_30d"]].tolist() == [3, 3, 1]
    assert small.loc["S3", "days_since_visit"] == 61 and small.loc["S3", "neglected_small"] == 1
    assert small.loc["S4", "visits_7d"] == 1  # the off-beat check-in still counts where it was made
    assert small.loc["S1", "workers"] == 1 and small.loc["S1", "household_heads"] == 1
    assert small.loc["S4", "workers"] == 0  # W9 left on 2023-06-30
    assert small.loc["S1", "workers_per_1000"] == pytest.approx(1.0)
    medium = patrol_figures(con, "medium", as_of=AS_OF, neglect_days=7).set_index("grid_code")
    assert medium.loc["M1", "workers"] == 3  # W1, W2 (S2), Z1 (the village itself)
    assert medium.loc["M2", ["small_grids", "visited_small_7d", "neglected_small"]].tolist() == [2, 1, 1]
    assert medium.loc["M2", "share_visited_7d"] == pytest.approx(0.5)
    assert medium.loc["M2", "longest_unvisited_days"] == 61
    city = patrol_figures(con, "city", as_of=AS_OF, neglect_days=7).iloc[0]
    assert (city["small_grids"], city["visited_small_7d"], city["neglected_small"]) == (4, 3, 1)
    assert city["followed_up_30d"] == 2 and city["workers"] == 3  # W1, W2, Z1 (W9 left)
    assert city["workers_per_1000"] == pytest.approx(3 / 10000 * 1000)


def test_people_history_and_months(project: Path) -> None:
    load_project(load_config(project / "minqing.toml"))
    con = _con(project)
    people = grid_people(con, "S1", as_of=AS_OF, reveal_phones=False)
    assert list(people["worker_id"]) == ["Z1", "W1", "H1"]  # the leader of its village looks after it too
    assert list(people["phone"]) == ["137****3333", "138****1111", "136****4444"]
    left = grid_people(con, "S4", as_of=AS_OF, reveal_phones=False)
    assert list(zip(left["worker_id"], left["in_post"])) == [("W9", False)]  # M2 has no leader; W9 left in June

    revealed = grid_people(con, "M1", as_of=AS_OF, reveal_phones=True)
    assert "13800001111" in set(revealed["phone"]) and "王五" in set(revealed["name"])
    assert revealed.set_index("worker_id").loc["W2", "grid_names"] == "东二、西一"
    page = visit_history(con, "S1", start=dt.datetime(2023, 8, 1), end=AS_OF)
    assert page.total == 3 and list(page.rows["visit_id"]) == ["patrol:V7", "patrol:V1", "patrol:V2"]
    months = monthly_activity(con, start=dt.datetime(2023, 6, 1), end=dt.datetime(2023, 9, 1)).set_index("month")
    assert months["visits"].tolist() == [0, 1, 8] and months["follow_ups"].tolist() == [0, 0, 2]


def test_mapping_mistakes_of_the_new_kinds_are_listed_at_once(tmp_path: Path) -> None:
    from store.errors import ConfigError
    from etl.mapping import load_mapping

    bad = VISITS_MAPPING.replace('kind = "visits"', 'kind = "visits"\n[category]\ndefault = "grid_other"') \
        .replace('"入户走访" = "household"', '"入户走访" = "house"').replace("off_beat_km = 1.0", 'off_beat_km = "far"')
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_mapping(path, known_categories=frozenset({"grid_other"}))
    text = str(caught.value)
    assert "a visits mapping has no [category]" in text
    assert "visit_type.map.入户走访 = 'house'" in text and "household, patrol, follow_up" in text
    assert "visits.off_beat_km = 'far'" in text
    path.write_text('kind = "patrols"\n' + ROSTER_MAPPING.replace('kind = "roster"\n', ""), encoding="utf-8")
    with pytest.raises(ConfigError, match="kind = 'patrols': use one of events, roster, visits"):
        load_mapping(path, known_categories=frozenset())
    path.write_text(ROSTER_MAPPING.replace('worker_id = "编号"\n', "").replace('"网格员" = "grid_worker"', ""),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="fields.worker_id: map 'worker_id'"):
        load_mapping(path, known_categories=frozenset())
