"""`minqing analyse` and `minqing brief` on the demo: one row per finding, scoped by --user, audited, clear mistakes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from access.audit import AuditLog
from minqing.cli import main


@pytest.fixture(scope="module")
def store(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo store (the audit log is written beside it)."""
    folder = tmp_path_factory.mktemp("analyse")
    shutil.copy(demo_dir / "minqing.duckdb", folder / "minqing.duckdb")
    return folder / "minqing.duckdb"


def test_warnings_csv_has_one_row_per_finding_and_is_audited(store: Path, demo_dir: Path, tmp_path: Path) -> None:
    planted = json.loads((demo_dir / "demo.json").read_text(encoding="utf-8"))["planted"]
    end = planted["spikes"][-1]["end"]
    out = tmp_path / "warnings.csv"
    result = CliRunner().invoke(main, ["analyse", "warnings", "--db", str(store), "--as-of", end, "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
    assert list(frame.columns)[:6] == ["网格编码", "网格名称", "上级网格", "上上级网格", "预警类型", "类别/部门"]
    assert {s["grid"] for s in planted["spikes"] if s["end"] == end} <= set(frame["网格编码"])
    assert frame["预警说明"].str.len().min() > 5
    entries = AuditLog(store.with_name("minqing.duckdb.audit.sqlite")).entries()
    assert "minqing analyse warnings" in entries.iloc[-1]["detail_json"]
    assert entries.iloc[-1]["rows"] == len(frame)


def test_scoped_hotspots_and_a_clear_mistake(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "hot.xlsx"
    runner = CliRunner()
    scoped = runner.invoke(main, ["analyse", "hotspots", "--db", str(store), "--from", "2025-10-01", "--to",
                                  "2025-12-31", "--scope", "441502001000000", "-o", str(out)])
    assert scoped.exit_code == 0, scoped.output
    frame = pd.read_excel(out, dtype=str)
    assert len(frame) > 0 and frame["网格编码"].str.startswith("441502001").all()
    bad = runner.invoke(main, ["analyse", "hotspots", "--db", str(store), "--from", "2025-12-31", "--to",
                               "2025-10-01", "-o", str(out)])
    assert bad.exit_code == 2 and "swap" in bad.output and "Traceback" not in bad.output


def test_brief_writes_pdf_and_docx(store: Path, tmp_path: Path) -> None:
    for suffix in ("docx", "pdf"):
        out = tmp_path / f"brief.{suffix}"
        result = CliRunner().invoke(main, ["brief", "--db", str(store), "--period", "day", "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert out.read_bytes()[:4] in (b"%PDF", b"PK\x03\x04")
    wrong = CliRunner().invoke(main, ["brief", "--db", str(store), "--period", "day", "-o", str(tmp_path / "b.txt")])
    assert wrong.exit_code == 2 and ".pdf or .docx" in wrong.output
