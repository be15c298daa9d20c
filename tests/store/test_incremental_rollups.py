"""After a load into a store whose rollups were fresh, the rollups are rebuilt only where the load changed something,
and the result is the full rebuild's, row for row: new rows, updates that move an event in time, place or category,
closures of linked incidents, a re-read under another mapping that removes rows, a second department."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import store.rollups as rollups
from etl.config import load_config
from etl.load import load_project
from projects import LINKED_STREET_MAPPING, write_project_config, write_town_grids

HEADER = "编号,类别,状态,上报时间,办结时间,经度,纬度,来源编号\n"
POINTS = [(115.05, 22.95), (115.05, 23.05), (115.15, 22.95), (115.15, 23.05), (116.9, 22.95)]  # S1-S4, outside


def rows(rng: random.Random, ids: range, *, link_to: int | None = None) -> list[str]:
    """CSV lines of the street office's export: random category, time, closure, grid and link to an earlier id."""
    out = []
    for number in ids:
        category = rng.choice(["邻里纠纷", "占道经营"])
        reported = pd.Timestamp(2023, 11, 1, rng.randint(0, 23)) + pd.Timedelta(days=rng.randint(1, 60))
        closed = reported + pd.Timedelta(hours=rng.randint(1, 24 * 40)) if rng.random() < 0.5 else None
        lon, lat = rng.choice(POINTS)
        link = f"A{rng.randrange(link_to)}" if link_to and rng.random() < 0.3 else ""
        status, closed_text = ("已办结", f"{closed:%Y/%m/%d %H:%M}") if closed is not None else ("处理中", "")
        out.append(f"A{number},{category},{status},{reported:%Y/%m/%d %H:%M},{closed_text},{lon},{lat},{link}")
    return out


def rollup_tables(db: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {table: _sorted(con.execute(f"SELECT * FROM {table}").df()) for table in rollups.ROLLUP_TABLES}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [c for c in frame.columns if c != "handling_hours"]
    return frame.sort_values(keys, na_position="first").reset_index(drop=True)


def full_rebuild(db: Path, tmp: Path) -> dict[str, pd.DataFrame]:
    copy = tmp / "full.duckdb"
    shutil.copyfile(db, copy)
    with duckdb.connect(str(copy)) as con:
        assert rollups.refresh_rollups(con, force=True)
    return rollup_tables(copy)


@pytest.fixture()
def spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    rebuild = rollups._rebuild_changed

    def counting(con: duckdb.DuckDBPyConnection) -> None:
        calls.append(int(con.execute("SELECT count(*) FROM rollup_changes").fetchone()[0]))
        rebuild(con)

    monkeypatch.setattr(rollups, "_rebuild_changed", counting)
    return calls


def test_incremental_refresh_equals_the_full_rebuild(tmp_path: Path, spy: list[int]) -> None:
    rng = random.Random(5)
    write_town_grids(tmp_path, ["第1网格", "第2网格", "第1网格", "第2网格"], [100, 200, 300, 400])
    (tmp_path / "street.toml").write_text(LINKED_STREET_MAPPING, encoding="utf-8")
    (tmp_path / "other.toml").write_text(LINKED_STREET_MAPPING.replace('department = "street"', 'department = "other"'),
                                         encoding="utf-8")
    first = rows(rng, range(300), link_to=300)
    (tmp_path / "street.csv").write_text(HEADER + "\n".join(first) + "\n", encoding="utf-8")
    (tmp_path / "other_1.csv").write_text(HEADER + "\n".join(rows(rng, range(20))) + "\n", encoding="utf-8")
    write_project_config(tmp_path, [("street.csv", "street.toml"), ("other*.csv", "other.toml")])
    config = load_config(tmp_path / "minqing.toml")
    db = tmp_path / "store.duckdb"
    load_project(config)
    assert spy == []  # the first load builds them in full

    # Second version of the file: a third of the rows changed (time, place, category, closure), 50 new ones.
    second = list(first)
    for i in rng.sample(range(300), 100):
        second[i] = rows(rng, range(i, i + 1), link_to=300)[0]
    second += rows(rng, range(300, 350), link_to=350)
    (tmp_path / "street.csv").write_text(HEADER + "\n".join(second) + "\n", encoding="utf-8")
    result = load_project(config).files[0]
    assert result.updated > 50 and result.loaded == 50
    (tmp_path / "other_1.csv").write_text(HEADER + "\n".join(rows(rng, range(10, 40))) + "\n", encoding="utf-8")
    load_project(config)
    # The same bytes under a changed mapping: every 占道经营 row is now unknown, so the rows it gave are removed.
    (tmp_path / "street.toml").write_text(LINKED_STREET_MAPPING.replace('"占道经营" = "urban_street_order"\n', ""),
                                          encoding="utf-8")
    result = load_project(load_config(tmp_path / "minqing.toml")).files[0]
    assert result.removed > 0
    assert len(spy) == 3 and all(changes > 0 for changes in spy)
    got, want = rollup_tables(db), full_rebuild(db, tmp_path)
    for table in rollups.ROLLUP_TABLES:
        assert len(got[table]) > 0, table
        pd.testing.assert_frame_equal(got[table], want[table], check_exact=False, rtol=1e-9, obj=table)


def test_a_store_changed_outside_a_load_is_rebuilt_in_full(tmp_path: Path, spy: list[int]) -> None:
    rng = random.Random(6)
    write_town_grids(tmp_path, ["第1网格", "第2网格", "第1网格", "第2网格"], [100, 200, 300, 400])
    (tmp_path / "street.toml").write_text(LINKED_STREET_MAPPING, encoding="utf-8")
    (tmp_path / "street.csv").write_text(HEADER + "\n".join(rows(rng, range(100))) + "\n", encoding="utf-8")
    write_project_config(tmp_path, [("street*.csv", "street.toml")])
    config = load_config(tmp_path / "minqing.toml")
    db = tmp_path / "store.duckdb"
    load_project(config)
    with duckdb.connect(str(db)) as con:  # by hand: the rollups no longer match, and nothing recorded it
        con.execute("UPDATE events SET category = 'urban_street_order', is_dispute = FALSE, dispute_class = NULL "
                    "WHERE source_id IN ('A1', 'A2', 'A3')")
        con.execute("DELETE FROM events WHERE source_id = 'A4'")
    (tmp_path / "street_2.csv").write_text(HEADER + "\n".join(rows(rng, range(100, 110))) + "\n", encoding="utf-8")
    load_project(config)
    assert spy == []  # not incremental: the rollups were stale before the load
    got, want = rollup_tables(db), full_rebuild(db, tmp_path)
    for table in rollups.ROLLUP_TABLES:
        pd.testing.assert_frame_equal(got[table], want[table], check_exact=False, rtol=1e-9, obj=table)


def test_a_rebuild_in_passes_over_months_equals_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    write_town_grids(tmp_path, ["第1网格", "第2网格", "第1网格", "第2网格"], [100, 200, 300, 400])
    (tmp_path / "street.toml").write_text(LINKED_STREET_MAPPING, encoding="utf-8")
    (tmp_path / "street.csv").write_text(HEADER + "\n".join(rows(rng, range(400), link_to=400)) + "\n",
                                         encoding="utf-8")
    write_project_config(tmp_path, [("street.csv", "street.toml")])
    db = tmp_path / "store.duckdb"
    load_project(load_config(tmp_path / "minqing.toml"))
    with duckdb.connect(str(db), read_only=True) as con:
        assert len(rollups._month_spans(con.execute(rollups._FACTS_PER_MONTH).fetchall())) == 1
    one_pass = full_rebuild(db, tmp_path)
    monkeypatch.setattr(rollups, "FACTS_PER_PASS", 60)  # a pass per month or so
    with duckdb.connect(str(db), read_only=True) as con:
        assert len(rollups._month_spans(con.execute(rollups._FACTS_PER_MONTH).fetchall())) >= 3
    in_passes = full_rebuild(db, tmp_path)
    for table in rollups.ROLLUP_TABLES:
        pd.testing.assert_frame_equal(in_passes[table], one_pass[table], check_exact=False, rtol=1e-9, obj=table)


def test_the_hourly_rollup_covers_the_last_90_days_and_moves_with_the_data(tmp_path: Path, spy: list[int]) -> None:
    rng = random.Random(8)
    write_town_grids(tmp_path, ["第1网格", "第2网格", "第1网格", "第2网格"], [100, 200, 300, 400])
    (tmp_path / "street.toml").write_text(LINKED_STREET_MAPPING, encoding="utf-8")
    lines = rows(rng, range(300), link_to=300)
    shifted = [line.replace("2023/11/", "2023/05/").replace("2023/12/", "2023/06/") for line in lines[:150]]
    (tmp_path / "street.csv").write_text(HEADER + "\n".join(shifted + lines[150:]) + "\n", encoding="utf-8")
    write_project_config(tmp_path, [("street*.csv", "street.toml")])
    config = load_config(tmp_path / "minqing.toml")
    db = tmp_path / "store.duckdb"

    def check() -> None:
        with duckdb.connect(str(db), read_only=True) as con:
            start = pd.Timestamp(con.execute("SELECT value FROM meta WHERE key = ?",
                                             [rollups.HOURLY_FROM_KEY]).fetchone()[0])
            last = con.execute("SELECT max(reported_at) FROM events WHERE grid_large IS NOT NULL").fetchone()[0]
            assert start == pd.Timestamp(last).normalize() - pd.Timedelta(days=rollups.HOURLY_DAYS)
            hourly = con.execute("SELECT min(hour), sum(reported), sum(closed) FROM rollup_hourly").fetchone()
            facts = con.execute(f"SELECT sum(reported), sum(closed) FROM ({rollups.EVENT_FACTS}) WHERE t >= ?",
                                [start]).fetchone()
            earlier = con.execute(f"SELECT count(*) FROM ({rollups.EVENT_FACTS}) WHERE t < ?", [start]).fetchone()[0]
        assert hourly[0] >= start and hourly[1:] == facts and earlier > 0  # the window cuts some facts off

    load_project(config)
    check()
    later = [line.replace("2023/11/", "2024/01/").replace("2023/12/", "2024/02/").replace(",A", ",B", 1)
             for line in rows(rng, range(300, 330))]  # new events a month or two later: the window moves on
    (tmp_path / "street_2.csv").write_text(HEADER + "\n".join(later) + "\n", encoding="utf-8")
    load_project(config)
    assert len(spy) == 1
    check()
    got, want = rollup_tables(db), full_rebuild(db, tmp_path)
    for table in rollups.ROLLUP_TABLES:
        pd.testing.assert_frame_equal(got[table], want[table], check_exact=False, rtol=1e-9, obj=table)


def test_changes_of_one_event_in_two_files_of_one_load_net_out(tmp_path: Path, spy: list[int]) -> None:
    """One load, two files of the same department: the second file changes again events the first changed (back to
    their version before the load, or on to a third), moves reports between linked incidents, out of the grids and out
    of the dispute categories; the incremental refresh must still equal the full rebuild."""
    rng = random.Random(9)
    write_town_grids(tmp_path, ["第1网格", "第2网格", "第1网格", "第2网格"], [100, 200, 300, 400])
    (tmp_path / "street.toml").write_text(LINKED_STREET_MAPPING, encoding="utf-8")
    original = rows(rng, range(200), link_to=40)  # many reports linked into the first 40 incidents
    (tmp_path / "street_1.csv").write_text(HEADER + "\n".join(original) + "\n", encoding="utf-8")
    write_project_config(tmp_path, [("street_*.csv", "street.toml")])
    config = load_config(tmp_path / "minqing.toml")
    db = tmp_path / "store.duckdb"
    load_project(config)

    first = list(original)
    changed = rng.sample(range(200), 80)
    for i in changed:
        first[i] = rows(rng, range(i, i + 1), link_to=40)[0]
    again = [first[i] for i in changed[:20]]  # written again unchanged: nothing to add
    back = [original[i] for i in changed[20:40]]  # back to the version before the load
    onward = [rows(rng, range(i, i + 1), link_to=200)[0] for i in changed[40:60]]  # a third version
    outside = [",".join(line.split(",")[:5] + ["116.9", "22.95"] + line.split(",")[7:]) for line in
               (original[i] for i in rng.sample(range(200), 10))]  # the same report, now outside every grid
    (tmp_path / "street_1.csv").write_text(HEADER + "\n".join(first) + "\n", encoding="utf-8")
    (tmp_path / "street_2.csv").write_text(HEADER + "\n".join(again + back + onward + outside + rows(rng, range(200, 230), link_to=230)) + "\n", encoding="utf-8")
    report = load_project(config)
    assert [f.updated > 0 for f in report.files] == [True, True]
    assert len(spy) == 1 and spy[0] > 0
    got, want = rollup_tables(db), full_rebuild(db, tmp_path)
    for table in rollups.ROLLUP_TABLES:
        assert len(got[table]) > 0, table
        pd.testing.assert_frame_equal(got[table], want[table], check_exact=False, rtol=1e-9, obj=table)
