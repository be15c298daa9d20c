"""A load whose grid files and grid settings are those the stored grids were read from does not read them again; any
change of a file (a Shapefile's side file too) or of a setting reads them again, with the same report as before."""

from __future__ import annotations

from pathlib import Path

import pytest

import etl.grids as grids
from etl.config import load_config
from etl.load import load_project
from projects import HEADER, LINKED_STREET_MAPPING, write_config, write_town_grids

LINE = "A1,邻里纠纷,处理中,2024/03/01 09:00,,115.05,22.95,"


@pytest.fixture()
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The grid levels read from their files, in order."""
    seen: list[str] = []
    read = grids.read_grid_level

    def counting(source, report):  # type: ignore[no-untyped-def]
        seen.append(source.level)
        return read(source, report)

    monkeypatch.setattr(grids, "read_grid_level", counting)
    return seen


def project(folder: Path) -> Path:
    write_town_grids(folder, ["第1网格", "第2网格", "第1网格", "第2网格"], [100, 200, 300, 400])
    (folder / "street.toml").write_text(LINKED_STREET_MAPPING, encoding="utf-8")
    (folder / "street.csv").write_text(HEADER + LINE + "\n", encoding="utf-8")
    return write_config(folder, "street")


def test_unchanged_grid_files_are_not_read_again(tmp_path: Path, reads: list[str]) -> None:
    config = load_config(project(tmp_path))
    first = load_project(config).grids
    assert sorted(reads) == ["large", "medium", "small"] and first.changed
    reads.clear()
    (tmp_path / "street.csv").write_text(HEADER + LINE.replace("处理中", "已办结").replace(",,", ",2024/03/02 10:00,", 1)
                                         + "\n", encoding="utf-8")
    second = load_project(config)
    assert reads == [] and second.files[0].updated == 1
    assert (second.grids.counts, second.grids.notes, second.grids.version, second.grids.changed) == \
        (first.counts, first.notes, first.version, False)


@pytest.mark.parametrize("change", ["a grid file", "a grid setting"])
def test_a_changed_grid_file_or_setting_is_read_again(tmp_path: Path, reads: list[str], change: str) -> None:
    config_path = project(tmp_path)
    first = load_project(load_config(config_path)).grids
    reads.clear()
    if change == "a grid file":  # the same grids, written again with a renamed small grid
        write_town_grids(tmp_path, ["第1网格", "第2网格", "第1网格", "新网格"], [100, 200, 300, 400])
    else:  # the small grids' names are read from another column
        small = '[grids.small]\npath = "small.geojson"\ncode = "code"\nname = "name"'
        text = config_path.read_text(encoding="utf-8")
        assert small in text
        config_path.write_text(text.replace(small, small.replace('name = "name"', 'name = "code"')), encoding="utf-8")
    second = load_project(load_config(config_path)).grids
    assert sorted(reads) == ["large", "medium", "small"]
    assert second.changed and second.version == first.version + 1
    third = load_project(load_config(config_path)).grids  # and the new reading is remembered in turn
    assert sorted(reads) == ["large", "medium", "small"] and not third.changed and third.version == second.version
