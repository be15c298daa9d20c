"""The demo end to end through the CLI: files written, config, grids, row accounting and calibrated disputes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from conftest import DEMO_EVENTS, PATROL_SINCE
from minqing.cli import main
from references import PUBLISHED

RESOLVED_BY_YEAR = """
    SELECT year(first_closed) AS year, count(*) AS resolved
    FROM (
        SELECT incident_id, min(closed_at) AS first_closed
        FROM events
        WHERE is_dispute AND status = 'closed' AND grid_large IS NOT NULL
        GROUP BY incident_id
    )
    GROUP BY 1 ORDER BY 1
"""


@pytest.fixture()
def con(demo_dir: Path) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(demo_dir / "minqing.duckdb"), read_only=True)
    yield connection
    connection.close()


def test_demo_writes_config_and_raw_files(demo_dir: Path) -> None:
    config = (demo_dir / "minqing.toml").read_text(encoding="utf-8")
    assert 'database = "minqing.duckdb"' in config
    assert (demo_dir / "grids" / "small_grids.shp").exists()
    assert not (demo_dir / "grids" / "small_grids.cpg").exists()
    assert config.count("[[departments]]") == 9  # seven departments, the roster and the patrol check-ins
    for mapping in (demo_dir / "mappings").glob("*.toml"):
        assert f'mappings/{mapping.name}' in config


def test_grids_are_stored_per_level(con: duckdb.DuckDBPyConnection) -> None:
    counts = dict(con.execute("SELECT level, count(*) FROM grids GROUP BY level").fetchall())
    assert counts == {"large": 56, "medium": 868, "small": 4555}
    orphans = con.execute(
        "SELECT count(*) FROM grids c LEFT JOIN grids p ON c.parent_code = p.grid_code "
        "WHERE c.level <> 'large' AND p.grid_code IS NULL").fetchone()[0]
    assert orphans == 0
    names = con.execute("SELECT name FROM grids WHERE level = 'small' LIMIT 5").fetchall()
    assert all(n[0].startswith("第") and n[0].endswith("网格") for n in names)  # GBK decoded, not garbled
    total = con.execute("SELECT sum(area_km2) FILTER (WHERE level = 'small'), sum(area_km2) FILTER (WHERE level = 'large') "
                        "FROM grids").fetchone()
    assert 4800 < total[0] < 5200 and abs(total[0] - total[1]) / total[1] < 1e-4


def test_row_accounting_matches_what_the_generator_wrote(demo_dir: Path, con: duckdb.DuckDBPyConnection) -> None:
    truth = json.loads((demo_dir / "demo.json").read_text(encoding="utf-8"))
    batches = con.execute(
        "SELECT source, sum(rows_in), sum(rows_loaded), sum(rows_updated), sum(rows_duplicate), sum(rows_rejected), "
        "sum(rows_outside_grid) FROM load_batches GROUP BY source").fetchall()
    assert len(batches) == 9
    for dept, rows_in, loaded, updated, duplicate, rejected, outside in batches:
        assert rows_in == loaded + updated + duplicate + rejected
        if dept in ("roster", "patrol"):  # their truth is kept in its own section
            assert (rows_in, rejected, duplicate) == (truth[dept]["rows"], truth[dept]["bad_rows"],
                                                      truth[dept]["repeated_rows"]), dept
            assert outside == truth[dept].get("outside_city", 0), dept
            continue
        assert rows_in == truth["rows_by_dept"][dept]
        assert rejected == truth["bad_rows_by_dept"][dept], dept
        assert duplicate == truth["repeated_rows_by_dept"][dept], dept
        assert outside == truth["outside_city_by_dept"][dept], dept
    rejects = con.execute("SELECT count(*) FROM rejects").fetchone()[0]
    assert rejects == sum(truth["bad_rows_by_dept"].values()) + truth["roster"]["bad_rows"] + truth["patrol"]["bad_rows"]
    flagged = con.execute("SELECT count(*) FILTER (WHERE off_beat), count(*) FILTER (WHERE beat_km IS NULL AND "
                          "lon IS NOT NULL) FROM visits").fetchone()
    assert flagged == (truth["patrol"]["off_beat"], truth["patrol"]["unknown_worker"])


def test_resolved_disputes_match_the_published_figures(con: duckdb.DuckDBPyConnection) -> None:
    resolved = dict(con.execute(RESOLVED_BY_YEAR).fetchall())
    assert {year: resolved.get(year) for year in PUBLISHED} == PUBLISHED
    assert all(resolved[y] > 0 for y in range(2022, 2026))
    linked = con.execute("SELECT count(*) FROM events WHERE incident_id <> event_id").fetchone()[0]
    assert linked > 0  # some incidents were reported by two departments


def test_every_department_lands_in_grids(con: duckdb.DuckDBPyConnection) -> None:
    located = dict(con.execute(
        "SELECT dept, avg(CASE WHEN grid_large IS NOT NULL THEN 1 ELSE 0 END) FROM events GROUP BY dept").fetchall())
    assert set(located) == {"grid_app", "police110", "petition", "mediation", "hotline12345",
                            "natural_resources", "urban_mgmt"}
    assert all(share > 0.97 for share in located.values()), located


def test_demo_again_reuses_files_and_loads_nothing_new(demo_dir: Path, tmp_path: Path) -> None:
    demo_dir = Path(shutil.copytree(demo_dir, tmp_path / "again"))
    with duckdb.connect(str(demo_dir / "minqing.duckdb"), read_only=True) as first:
        before = first.execute("SELECT count(*) FROM events").fetchone()[0]
    result = CliRunner().invoke(main, ["demo", "--dir", str(demo_dir), "--events", str(DEMO_EVENTS),
                                       "--patrol-since", PATROL_SINCE, "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "already" in result.output
    again = duckdb.connect(str(demo_dir / "minqing.duckdb"), read_only=True)
    assert again.execute("SELECT count(*) FROM events").fetchone()[0] == before
    again.close()


@pytest.mark.parametrize("command", [[], ["demo"], ["load"], ["serve"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_serve_without_database_says_how_to_make_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2 and "minqing demo" in result.output


def test_serve_rejects_a_bad_basemap_setting(demo_db: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--db", str(demo_db), "--basemap", "google:xyz"])
    assert result.exit_code == 2 and "--basemap" in result.output and "Traceback" not in result.output
