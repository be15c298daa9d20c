"""`minqing analyse` and `minqing brief` on the demo: one row per finding, scoped by --user, audited, clear mistakes."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from docx import Document

from access.actions import ActionLog
from access.audit import AuditLog
from access.principal import Principal
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
    assert "督办" not in docx_text(tmp_path / "brief.docx"), "no action log beside the store: no 督办 part"
    wrong = CliRunner().invoke(main, ["brief", "--db", str(store), "--period", "day", "-o", str(tmp_path / "b.txt")])
    assert wrong.exit_code == 2 and ".pdf or .docx" in wrong.output


def docx_text(path: Path) -> str:
    doc = Document(io.BytesIO(path.read_bytes()))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in doc.paragraphs] + cells)


def test_the_brief_lists_the_open_supervision_items_the_user_sees(store: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(store), read_only=True)
    try:
        larges = [r[0] for r in con.execute("SELECT grid_code FROM grids WHERE level = 'large' ORDER BY 1 LIMIT 2")
                  .fetchall()]
        ids = {large: [r[0] for r in con.execute("SELECT event_id FROM events WHERE grid_large = ? ORDER BY event_id "
                                                 "LIMIT 3", [large]).fetchall()] for large in larges}
        as_of = con.execute("SELECT max(reported_at) FROM events").fetchone()[0] + dt.timedelta(minutes=1)
    finally:
        con.close()
    mine, other = larges
    log = ActionLog(tmp_path / "actions.sqlite")
    center = Principal("cc1", "command_center")

    def step(action: str, event_id: str, **values) -> None:
        log.record(center, action, event_id, in_jurisdiction=lambda _: True, audit=None, **values)

    late, later, confirmed = ids[mine]
    step("supervise", late, note="请今日处置", deadline=as_of - dt.timedelta(days=1))  # overdue at the briefing
    step("supervise", later, note="本周内办结", deadline=as_of + dt.timedelta(days=3))
    step("supervise", confirmed, note="已处置", deadline=as_of + dt.timedelta(days=3))
    log.record(Principal("bob", "official", scope=(mine,)), "feedback", confirmed, note="已办结", result="done",
               in_jurisdiction=lambda _: True, audit=None)
    step("confirm", confirmed)
    step("supervise", ids[other][0], note="他镇事件", deadline=as_of + dt.timedelta(days=3))

    def brief(*extra: str) -> tuple[str, list[tuple[str, str]]]:
        """The DOCX's text and its 督办 table's (事件编号, 督办超期) rows."""
        out = tmp_path / "brief.docx"
        result = CliRunner().invoke(main, ["brief", "--db", str(store), "--period", "week", "--actions",
                                           str(log.path), "-o", str(out), *extra])
        assert result.exit_code == 0, result.output
        (table,) = [t for t in Document(io.BytesIO(out.read_bytes())).tables
                    if any(c.text == "督办状态" for c in t.rows[0].cells)]
        head = [c.text for c in table.rows[0].cells]
        rows = [(r.cells[0].text, r.cells[head.index("督办超期")].text) for r in table.rows[1:]]
        return docx_text(out), rows

    city, rows = brief()
    assert "未办结的督办事项 3 项，其中督办超期 1 项。" in city and "六、督办事项" in city and "督办：" in city
    assert rows == [(late, "是"), (later, "否"), (ids[other][0], "否")], "open items only, 督办超期 first"
    scoped, rows = brief("--scope", mine)
    assert "未办结的督办事项 2 项，其中督办超期 1 项。" in scoped
    assert rows == [(late, "是"), (later, "否")], "an official's briefing lists their jurisdiction's items only"
    missing = CliRunner().invoke(main, ["brief", "--db", str(store), "--period", "week", "--actions",
                                        str(tmp_path / "none.sqlite"), "-o", str(tmp_path / "b.pdf")])
    assert missing.exit_code == 2 and "no such file" in missing.output
