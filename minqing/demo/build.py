"""Build the demo city folder: grid files, seven departments' exports, the grid workers' roster and check-ins, their
mappings, minqing.toml and one account per role in users.toml (passwords generated and printed once)."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import shutil
import tomllib
from pathlib import Path
from typing import Any, Callable

import tomli_w

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
MANIFEST = "demo.json"
GENERATOR_VERSION = 5  # bump when the generated files change, so an existing demo folder is rebuilt
USERS_FILE = "users.toml"
DEMO_CITY = "演示城市"  # minqing.toml `city`: the wall's title (a synthetic city at the place and size of Shanwei)
PASSWORD_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/l/I
DEMO_ACCOUNTS = (  # username, role, display name
    ("admin", "admin", "演示管理员"),
    ("center", "command_center", "指挥中心值班员"),
    ("official", "official", "网格负责人"),
    ("analyst", "analyst", "统计分析员"),
)

CONFIG_HEADER = (
    "# 民情地图 project config, written by `minqing demo`. Edit it and run `minqing load --config` again.\n"
    "# Paths are relative to this file. users: the accounts for the dashboard's sign-in (minqing users).\n"
    "# grids.small.encoding: the Shapefile has GBK attributes and no .cpg file.\n"
)
PATROL_FILES = "*.jsonl"  # the check-ins, one file per month (minqing.demo.patrol)
_GRID_FIELDS = {"code": "网格编码", "name": "网格名称", "parent": "上级编码", "population": "人口数"}


def build_demo(directory: Path, *, events: int = 200_000, seed: int = 7, patrol_since: dt.date | None = None,
               echo: Callable[[str], None] = print) -> Path:
    """Generate the demo city into `directory` unless the same recipe is there already; return minqing.toml.

    `patrol_since` starts the grid workers' check-ins at that date (None: the whole period, 20+ million lines).
    """
    from minqing.demo.city import build_city, write_grid_files
    from minqing.demo.events import write_events
    from minqing.demo.patrol import PATROL_DIR, write_grid_workers

    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "minqing.toml"
    since = patrol_since.isoformat() if patrol_since is not None else None
    wanted = {"events": events, "seed": seed, "patrol_since": since, "generator": GENERATOR_VERSION}
    manifest = directory / MANIFEST
    if config_path.exists() and manifest.exists() and json.loads(manifest.read_text())["recipe"] == wanted:
        echo(f"演示城市已存在 / demo city already in {directory} (seed {seed}, {events:,} events, check-ins from "
             f"{since or 'the start'})")
        _ensure_users_setting(config_path)
        write_demo_accounts(directory, _large_grid_codes(directory), echo=echo)
        return config_path
    echo(f"生成演示城市 / building the demo city in {directory} (seed {seed}, {events:,} events) …")
    city = build_city(seed)
    grid_files = write_grid_files(city, directory / "grids")
    truth = write_events(city, directory / "raw", events=events, seed=seed)
    echo(f"网格员花名册与巡查走访 / grid workers' roster and check-ins (from {since or 'the start'}) …")
    workers = write_grid_workers(city, directory / "raw", seed=seed, events=truth.refs_by_dept["grid_app"],
                                 since=patrol_since)
    mappings_dir = directory / "mappings"
    mappings_dir.mkdir(exist_ok=True)
    for mapping in sorted((REPO_DATA / "demo" / "mappings").glob("*.toml")):
        shutil.copyfile(mapping, mappings_dir / mapping.name)
    shutil.copyfile(REPO_DATA / "categories.toml", directory / "categories.toml")
    departments = {"roster": workers.roster.path, **dict(sorted(truth.files.items())),
                   "patrol": directory / "raw" / PATROL_DIR / PATROL_FILES}
    config_path.write_text(_config_text(directory, grid_files, departments), encoding="utf-8")
    manifest.write_text(json.dumps({
        "recipe": wanted,
        "rows_by_dept": truth.rows_by_dept,
        "bad_rows_by_dept": truth.bad_rows_by_dept,
        "repeated_rows_by_dept": truth.repeated_rows_by_dept,
        "outside_city_by_dept": truth.outside_city_by_dept,
        "resolved_disputes_by_year": {str(k): v for k, v in truth.resolved_disputes_by_year.items()},
        "roster": workers.roster.summary(),
        "patrol": workers.patrol.summary(),
        "planted": truth.planted,  # what the analysis should find (minqing/demo/planted.py)
    }, ensure_ascii=False, indent=2), encoding="utf-8")
    write_demo_accounts(directory, _large_grid_codes(directory), echo=echo)
    return config_path


def write_demo_accounts(directory: Path, large_codes: list[str], *, echo: Callable[[str], None] = print) -> Path:
    """DIR/users.toml with one account per role (the official scoped to the first large grid), unless it exists.
    The generated passwords are printed now and never again (only their argon2id hashes are stored)."""
    from access.accounts import add_user
    from access.principal import ROLES

    path = directory / USERS_FILE
    if path.exists():
        echo(f"演示账号已存在 / demo accounts already in {path} (reset a password with "
             f"`minqing users passwd NAME --users {path}`)")
        return path
    first = sorted(large_codes)[0]
    echo(f"演示账号 / demo accounts in {path} — the passwords are shown only this once:")
    for username, role, name in DEMO_ACCOUNTS:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(12))
        scope = (first,) if role == "official" else ()
        add_user(path, username, role=role, scope=scope, name=name, password=password)
        where = first if scope else "全市"
        echo(f"  {username:<9} {password}  {ROLES[role]}（{where}）")
    return path


def demo_users_path(config_path: Path) -> Path | None:
    """The users file a config names (`users = "users.toml"`, relative to it), or None."""
    raw = tomllib.loads(Path(config_path).read_text(encoding="utf-8"))
    users = raw.get("users")
    return (Path(config_path).parent / users).resolve() if isinstance(users, str) and users else None


def _large_grid_codes(directory: Path) -> list[str]:
    data = json.loads((directory / "grids" / "large_grids.geojson").read_text(encoding="utf-8"))
    return [str(f["properties"][_GRID_FIELDS["code"]]) for f in data["features"]]


def _ensure_users_setting(config_path: Path) -> None:
    """Add `users = "users.toml"` to a config written before accounts existed (before its first table)."""
    text = config_path.read_text(encoding="utf-8")
    if demo_users_path(config_path) is not None:
        return
    lines = text.splitlines(keepends=True)
    at = next((i for i, line in enumerate(lines) if re.match(r"\s*\[", line)), len(lines))
    setting = tomli_w.dumps({"users": USERS_FILE}).rstrip("\n")
    lines.insert(at, f"{setting}  # accounts for the dashboard's sign-in (minqing users)\n\n")
    config_path.write_text("".join(lines), encoding="utf-8")


def _config_text(directory: Path, grid_files: dict[str, Path], dept_files: dict[str, Path]) -> str:
    """The config (values written by tomli-w) under a comment; departments in the order given (a path may be a glob)."""
    def rel(path: Path) -> str:
        return path.resolve().relative_to(directory.resolve()).as_posix()

    grids: dict[str, Any] = {"coordinates": "wgs84"}
    for level in ("large", "medium", "small"):
        spec = {"path": rel(grid_files[level]), "code": _GRID_FIELDS["code"], "name": _GRID_FIELDS["name"]}
        if level != "large":
            spec["parent"] = _GRID_FIELDS["parent"]
        spec["population"] = _GRID_FIELDS["population"]
        if level == "small":
            spec["encoding"] = "gbk"
        grids[level] = spec
    config = {
        "database": "minqing.duckdb",
        "city": DEMO_CITY,
        "categories": "categories.toml",
        "users": USERS_FILE,
        "grids": grids,
    }
    # One [[departments]] block each, easy to copy and edit (tomli-w would inline tables this short).
    departments = ["\n[[departments]]\n" + tomli_w.dumps({"path": rel(path), "mapping": f"mappings/{dept}.toml"})
                   for dept, path in dept_files.items()]
    return CONFIG_HEADER + "\n" + tomli_w.dumps(config) + "".join(departments)
