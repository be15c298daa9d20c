"""Project config (minqing.toml): database, grid sources per level, department sources; validated before reading."""

from __future__ import annotations

import difflib
import glob
import hashlib
import json
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any


from store.errors import ConfigError, Problem, read_toml
from etl.coords import crs_problem
from etl.mapping import COORDINATE_SYSTEMS, ENCODINGS, LEADING_ZEROS, Mapping, known_zone, load_mapping
from store.publish import DEFAULT_FILE_MODE
from store.schema import LEVELS


DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_AREA = ("ALL", "全域")
REPEATED: tuple[str, ...] = ("refuse", "union")
SPATIAL = "spatial"  # parent = "spatial": each grid's parent is the upper grid it overlaps most


@dataclass(frozen=True)
class GridSource:
    """Where one level's grids come from and which attributes hold code, name, parent and population."""

    level: str
    path: Path
    code: str
    name: str
    parent: str | None
    population: str | None
    grandparent: str | None
    encoding: str
    coordinates: str
    parent_rule: str | None = None  # "column" (parent names a column), "spatial" (largest overlap), "constant"
    parent_constant: tuple[str, str] | None = None  # parent = { code, name }: every grid's parent is this one
    repeated: str = "refuse"  # "union": rows sharing a code are one grid (the union of their polygons)
    leading_zeros: str = "keep"  # "drop": all-digit codes lose their leading zeros ("0111" -> "111")


@dataclass(frozen=True)
class DepartmentSource:
    """A department's files (a path or glob) and the mapping that reads them."""

    pattern: str
    mapping: Mapping
    mapping_sha256: str = ""  # hash of what reads the files (mapping content, and categories for events)

    def files(self) -> list[Path]:
        """The files the pattern names now, sorted so loads run in a stable order."""
        return sorted(Path(p) for p in glob.glob(self.pattern))


@dataclass(frozen=True)
class ProjectConfig:
    """A validated minqing.toml."""

    path: Path
    database: Path
    categories: dict[str, dict[str, str]]
    grids: dict[str, GridSource]
    departments: list[DepartmentSource]
    file_mode: int = DEFAULT_FILE_MODE  # permission bits of a new store (an existing store keeps its own)
    users: Path | None = None  # the dashboard's users file (`users = "users.toml"`), for `minqing demo`
    timezone: str = DEFAULT_TIMEZONE  # the store's zone: every stored time is naive local time in it (meta 'timezone')
    area: tuple[str, str] = DEFAULT_AREA  # code and name of the grid of the whole area (a missing top level)
    city: str | None = None  # the name of the place the project covers (meta 'city': the wall's title)


# The keys minqing.toml may hold, per table; anything else is a typo reported with the nearest valid key.
TOP_KEYS: tuple[str, ...] = ("database", "city", "categories", "users", "file_mode", "timezone", "grids",
                             "departments")
CITY_MAX_CHARS = 40  # a title bar's worth
GRIDS_KEYS: tuple[str, ...] = ("coordinates", "area", *LEVELS)
GRID_LEVEL_KEYS: tuple[str, ...] = ("path", "code", "name", "parent", "population", "grandparent", "encoding",
                                    "coordinates", "repeated", "leading_zeros")
DEPARTMENT_KEYS: tuple[str, ...] = ("path", "mapping")


def _unknown_keys(table: dict[str, Any], allowed: tuple[str, ...], where: str, problem: Any) -> None:
    """One problem per key not in `allowed`, naming the nearest valid key (difflib) and all of them."""
    for key in table:
        if key in allowed:
            continue
        near = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean '{near[0]}'? " if near else ""
        problem(f"{where}{key}", "", f"unknown key; {hint}the keys here are {', '.join(allowed)}")


def load_config(path: str | Path) -> ProjectConfig:
    """Read and validate minqing.toml and every mapping it names; list all problems at once."""
    path = Path(path).resolve()
    raw = read_toml(path, missing="no such config; create one with `minqing demo --dir DIR` and edit it")
    return parse_config(raw, path=path)


def parse_config(raw: dict[str, Any], *, path: Path) -> ProjectConfig:
    """Validate an already-parsed config; paths are relative to the config file's folder."""
    base = path.parent
    problems: list[Problem] = []

    def problem(key: str, value: object, fix: str) -> None:
        problems.append(Problem(str(path), key, repr(value) if value not in ("", None) else "", fix))

    _unknown_keys(raw, TOP_KEYS, "", problem)
    database = raw.get("database")
    if not isinstance(database, str) or not database:
        problem("database", database, "set the DuckDB file, e.g. database = \"minqing.duckdb\"")
        database = "minqing.duckdb"
    users = raw.get("users")
    if users is not None and (not isinstance(users, str) or not users):
        problem("users", users, 'name the users file, e.g. users = "users.toml", or leave the key out')
        users = None

    city = raw.get("city")
    if city is not None and (not isinstance(city, str) or not city.strip() or len(city) > CITY_MAX_CHARS
                             or not city.isprintable()):
        problem("city", city, f"name the city or area the grids cover in at most {CITY_MAX_CHARS} printable "
                "characters, e.g. city = \"汕尾市\", or leave the key out")
        city = None
    categories = _load_categories(base / raw.get("categories", "categories.toml"), problem)
    file_mode = _file_mode(raw.get("file_mode", f"{DEFAULT_FILE_MODE:04o}"), problem)
    timezone = raw.get("timezone")
    if timezone is not None and not known_zone(timezone):
        problem("timezone", timezone, "give the IANA time zone of the place the grids cover, e.g. 'Asia/Shanghai' "
                "(every stored time is local time there)")
        timezone = DEFAULT_TIMEZONE

    grids: dict[str, GridSource] = {}
    grid_section = raw.get("grids", {})
    if not isinstance(grid_section, dict):
        problem("grids", grid_section, "write a [grids] table with [grids.large], [grids.medium] and [grids.small]")
        grid_section = {}
    default_system = str(grid_section.get("coordinates", "wgs84")).lower()
    area = _area(grid_section.get("area", {}), problem)
    for level in LEVELS:
        spec = grid_section.get(level)
        if spec is None:
            if level == "small":
                problem("grids.small", "", "give the small grids: [grids.small] path, code, name, parent")
            continue
        if not isinstance(spec, dict):
            problem(f"grids.{level}", spec, f"write a [grids.{level}] table with path, code and name")
            continue
        _unknown_keys(spec, GRID_LEVEL_KEYS, f"grids.{level}.", problem)
        grids[level] = _grid_source(level, spec, base, default_system, problem)
    _unknown_keys(grid_section, GRIDS_KEYS, "grids.", problem)

    departments: list[DepartmentSource] = []
    department_specs = raw.get("departments", [])
    if not isinstance(department_specs, list):
        problem("departments", department_specs, "write one [[departments]] table per source, with path and mapping")
        department_specs = []
    for i, spec in enumerate(department_specs):
        key = f"departments[{i}]"
        if isinstance(spec, dict):
            _unknown_keys(spec, DEPARTMENT_KEYS, f"{key}.", problem)
        if not isinstance(spec, dict) or "path" not in spec or "mapping" not in spec:
            problem(key, spec, "give path (file or glob) and mapping (a mapping file)")
            continue
        pattern = str(base / spec["path"])
        if not glob.glob(pattern):
            problem(f"{key}.path", spec["path"], "no file matches; check the path or glob")
        try:
            mapping = load_mapping(base / spec["mapping"], known_categories=frozenset(categories))
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        departments.append(DepartmentSource(pattern=pattern, mapping=mapping))
    if timezone is None:  # the mappings' common zone, else the default: one zone for every stored time
        zones = {source.mapping.timezone for source in departments}
        timezone = zones.pop() if len(zones) == 1 else DEFAULT_TIMEZONE
    for i, source in enumerate(departments):
        mapping = replace(source.mapping, store_timezone=timezone)
        departments[i] = replace(source, mapping=mapping, mapping_sha256=mapping_digest(mapping, categories))
    seen: dict[str, str] = {}
    for source in departments:
        code = source.mapping.department
        if code in seen and seen[code] != str(source.mapping.path):
            problem("departments", code, f"two different mappings use the department code '{code}'; make codes unique")
        seen[code] = str(source.mapping.path)

    if problems:
        raise ConfigError(problems)
    return ProjectConfig(path=path, database=(base / database), categories=categories,
                         grids=grids, departments=departments, file_mode=file_mode,
                         users=(base / users).resolve() if users else None, timezone=timezone, area=area,
                         city=city.strip() if city else None)


def mapping_digest(mapping: Mapping, categories: dict[str, dict[str, str]]) -> str:
    """SHA-256 of the mapping's canonical parsed content (comments, spacing and key order do not count), with the
    categories for events (their dispute classes shape the rows): a file is read again when this changes."""
    content = {"mapping": read_toml(mapping.path, missing="the mapping file does not exist")}
    if mapping.kind == "events":
        content["categories"] = categories
    if mapping.store_timezone not in (None, mapping.timezone):  # its times are converted to the store's zone
        content["store_timezone"] = mapping.store_timezone
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _file_mode(value: object, problem: Any) -> int:
    """`file_mode = "0640"`: octal permission bits, owner read and write always included, nothing for others to write."""
    text = str(value).strip()
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not isinstance(value, str) or not 0 <= mode <= 0o777 or mode & 0o600 != 0o600 or mode & 0o002:
        problem("file_mode", value, 'give octal permission bits as text, e.g. file_mode = "0600" (owner only, the '
                'default) or "0640" (a group that reads the store); the owner must read and write, others never write')
        return DEFAULT_FILE_MODE
    return mode


def _grid_source(level: str, spec: dict[str, Any], base: Path, default_system: str, problem: Any) -> GridSource:
    key = f"grids.{level}"
    for required in ("path", "code", "name"):
        if required not in spec:
            problem(f"{key}.{required}", "", f"set {required} for the {level} grids")
    path = base / str(spec.get("path", ""))
    if "path" in spec and not path.exists():
        problem(f"{key}.path", spec.get("path"), "no such file; check the path (relative to minqing.toml)")
    encoding = spec.get("encoding", "auto")
    if encoding not in ENCODINGS:
        problem(f"{key}.encoding", encoding, f"use one of {', '.join(ENCODINGS)}")
    system = str(spec.get("coordinates", default_system)).lower()
    if system not in COORDINATE_SYSTEMS and not system.startswith("epsg:"):
        problem(f"{key}.coordinates", system, f"use one of {', '.join(COORDINATE_SYSTEMS)} or an EPSG code")
    elif (fix := crs_problem(system)) is not None:
        problem(f"{key}.coordinates", system, fix)
    parent, rule, constant = _parent(spec.get("parent"), key, level, problem)
    repeated = spec.get("repeated", "refuse")
    if repeated not in REPEATED:
        problem(f"{key}.repeated", repeated, 'use "refuse" (the default: each row needs its own code) or "union" '
                "(rows sharing a code are parts of one grid)")
        repeated = "refuse"
    leading_zeros = spec.get("leading_zeros", "keep")
    if leading_zeros not in LEADING_ZEROS:
        problem(f"{key}.leading_zeros", leading_zeros, 'use "keep" (codes as written) or "drop" ("0111" becomes '
                '"111", as exports that store codes as numbers write them)')
        leading_zeros = "keep"
    return GridSource(level=level, path=path, code=str(spec.get("code", "")), name=str(spec.get("name", "")),
                      parent=parent, population=spec.get("population"),
                      grandparent=spec.get("grandparent"),
                      encoding=encoding, coordinates=system, parent_rule=rule, parent_constant=constant,
                      repeated=repeated, leading_zeros=leading_zeros)


def _parent(value: object, key: str, level: str, problem: Any) -> tuple[str | None, str | None, tuple[str, str] | None]:
    """`parent`: a column name, "spatial" (largest overlap with the level above), or { code, name } (one constant
    parent, e.g. the whole city); as (column, rule, constant)."""
    if value is None:
        return None, None, None
    if value == SPATIAL:
        if level == "large":
            problem(f"{key}.parent", value, "large grids have no parent level; remove parent")
        return None, "spatial", None
    if isinstance(value, str) and value:
        return value, "column", None
    if isinstance(value, dict) and set(value) <= {"code", "name"} and isinstance(value.get("code"), str) \
            and value["code"].strip() and isinstance(value.get("name", ""), str):
        code = value["code"].strip()
        return None, "constant", (code, str(value.get("name") or code))
    problem(f"{key}.parent", value, 'give the column holding each grid\'s parent code, "spatial" (the upper grid it '
            'overlaps most), or one parent for all, e.g. parent = { code = "NYC", name = "纽约市" }')
    return None, None, None


def _area(value: object, problem: Any) -> tuple[str, str]:
    """[grids] area = { code, name }: the grid of the whole area that stands for a level no file gives."""
    if isinstance(value, dict) and set(value) <= {"code", "name"} and all(isinstance(v, str) and v.strip()
                                                                          for v in value.values()):
        return value.get("code", DEFAULT_AREA[0]).strip(), value.get("name", DEFAULT_AREA[1]).strip()
    problem("grids.area", value, 'give the code and name of the whole area, e.g. area = { code = "ALL", name = "全市" }')
    return DEFAULT_AREA


def _load_categories(path: Path, problem: Any) -> dict[str, dict[str, str]]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        problem("categories", str(path), "no such file; point categories at a categories.toml")
        return {}
    except tomllib.TOMLDecodeError as exc:
        problem("categories", str(path), f"not valid TOML: {exc}")
        return {}
    for code, spec in raw.items():
        if not isinstance(spec, dict) or "name" not in spec or "domain" not in spec:
            problem(f"categories.{code}", spec, "each category needs name and domain (and dispute_class for disputes)")
    return raw
