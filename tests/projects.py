"""Small hand-made test projects: the minqing.toml of three GeoJSON grid levels and one department."""

from __future__ import annotations

from pathlib import Path

CATEGORIES = Path(__file__).resolve().parents[1] / "data" / "categories.toml"


def write_config(folder: Path, dept: str, *, population: bool = True) -> Path:
    """minqing.toml for large/medium/small.geojson (code, name, parent[, pop]) and <dept>.csv read by <dept>.toml."""
    lines = ['database = "store.duckdb"', f'categories = "{CATEGORIES.as_posix()}"']
    for level in ("large", "medium", "small"):
        lines += [f"[grids.{level}]", f'path = "{level}.geojson"', 'code = "code"', 'name = "name"']
        if level != "large":
            lines.append('parent = "parent"')
        if level == "small" and population:
            lines.append('population = "pop"')
    lines += ["[[departments]]", f'path = "{dept}.csv"', f'mapping = "{dept}.toml"']
    path = folder / "minqing.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
