"""The load reports its progress in bytes of the department files, file by file and chunk by chunk, up to the
total, so `minqing load` and `make demo` can show a bar that moves during a long file."""

from __future__ import annotations

from pathlib import Path

import etl.load as load
from etl.config import load_config
from etl.load import load_project
from projects import GOOD, HEADER, LINKED_STREET_MAPPING, write_project_config, write_town_grids


def test_progress_counts_bytes_up_to_the_total(tmp_path: Path, monkeypatch) -> None:
    write_town_grids(tmp_path, ["第1网格", "第2网格", "第1网格", "第2网格"], [100, 200, 300, 400])
    (tmp_path / "street.toml").write_text(LINKED_STREET_MAPPING, encoding="utf-8")
    rows = [line.replace("A", f"B{i}-", 1) for i in range(60) for line in GOOD]  # 300 rows
    (tmp_path / "a.csv").write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text(HEADER + "\n".join(GOOD) + "\n", encoding="utf-8")
    write_project_config(tmp_path, [("a.csv", "street.toml"), ("b.csv", "street.toml")])
    monkeypatch.setattr(load, "CHUNK_ROWS", 100)  # three chunks in a.csv: the bar moves inside the file
    calls: list[tuple[int, int, str]] = []
    load_project(load_config(tmp_path / "minqing.toml"), progress=lambda *call: calls.append(call))
    total = (tmp_path / "a.csv").stat().st_size + (tmp_path / "b.csv").stat().st_size
    done = [c[0] for c in calls]
    assert done == sorted(done) and done[-1] == total and all(c[1] == total for c in calls[1:])
    inside_a = {c[0] for c in calls if c[2].endswith("a.csv")}
    assert len(inside_a) >= 4  # the start, then after each of the three chunks
    assert any(c[2].endswith("b.csv") for c in calls)
