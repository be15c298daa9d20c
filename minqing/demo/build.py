"""Build the demo city folder: grid files, seven departments' exports, their mappings and minqing.toml."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
MANIFEST = "demo.json"

_GRID_FIELDS = {"code": "网格编码", "name": "网格名称", "parent": "上级编码", "population": "人口数"}


def build_demo(directory: Path, *, events: int = 200_000, seed: int = 7,
               echo: Callable[[str], None] = print) -> Path:
    """Generate the demo city into `directory` unless the same recipe is there already; return minqing.toml."""
    from minqing.demo.city import build_city, write_grid_files
    from minqing.demo.events import write_events

    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "minqing.toml"
    wanted = {"events": events, "seed": seed}
    manifest = directory / MANIFEST
    if config_path.exists() and manifest.exists() and json.loads(manifest.read_text())["recipe"] == wanted:
        echo(f"演示城市已存在 / demo city already in {directory} (seed {seed}, {events:,} events)")
        return config_path
    echo(f"生成演示城市 / building the demo city in {directory} (seed {seed}, {events:,} events) …")
    city = build_city(seed)
    grid_files = write_grid_files(city, directory / "grids")
    truth = write_events(city, directory / "raw", events=events, seed=seed)
    mappings_dir = directory / "mappings"
    mappings_dir.mkdir(exist_ok=True)
    for mapping in sorted((REPO_DATA / "demo" / "mappings").glob("*.toml")):
        shutil.copyfile(mapping, mappings_dir / mapping.name)
    shutil.copyfile(REPO_DATA / "categories.toml", directory / "categories.toml")
    config_path.write_text(_config_text(directory, grid_files, truth.files), encoding="utf-8")
    manifest.write_text(json.dumps({
        "recipe": wanted,
        "rows_by_dept": truth.rows_by_dept,
        "bad_rows_by_dept": truth.bad_rows_by_dept,
        "repeated_rows_by_dept": truth.repeated_rows_by_dept,
        "outside_city_by_dept": truth.outside_city_by_dept,
        "resolved_disputes_by_year": {str(k): v for k, v in truth.resolved_disputes_by_year.items()},
    }, ensure_ascii=False, indent=2), encoding="utf-8")
    return config_path


def _config_text(directory: Path, grid_files: dict[str, Path], dept_files: dict[str, Path]) -> str:
    def rel(path: Path) -> str:
        return path.resolve().relative_to(directory.resolve()).as_posix()

    lines = [
        "# 民情地图 project config, written by `minqing demo`. Edit it and run `minqing load --config` again.",
        "# Paths are relative to this file.",
        'database = "minqing.duckdb"',
        'categories = "categories.toml"',
        "",
        "[grids]",
        'coordinates = "wgs84"',
    ]
    for level in ("large", "medium", "small"):
        lines += ["", f"[grids.{level}]", f'path = "{rel(grid_files[level])}"']
        lines += [f'code = "{_GRID_FIELDS["code"]}"', f'name = "{_GRID_FIELDS["name"]}"']
        if level != "large":
            lines.append(f'parent = "{_GRID_FIELDS["parent"]}"')
        lines.append(f'population = "{_GRID_FIELDS["population"]}"')
        if level == "small":
            lines.append('encoding = "gbk"  # the Shapefile has GBK attributes and no .cpg file')
    for dept, path in sorted(dept_files.items()):
        lines += ["", "[[departments]]", f'path = "{rel(path)}"', f'mapping = "mappings/{dept}.toml"']
    return "\n".join(lines) + "\n"
