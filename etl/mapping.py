"""Department mappings: one TOML file per department, parsed and validated into a typed Mapping."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from etl.coords import crs_problem
from etl.readoptions import READ_KEYS, ReadOptions, parse_read_options
from store.errors import ConfigError, Problem, read_toml
from store.schema import STATUSES

FORMATS: tuple[str, ...] = ("csv", "tsv", "xlsx", "json", "jsonl", "geojson", "gpkg", "shp")
ENCODINGS: tuple[str, ...] = ("auto", "utf-8", "utf-8-sig", "gbk", "gb18030", "cp1252", "latin-1")
COORDINATE_SYSTEMS: tuple[str, ...] = ("wgs84", "cgcs2000", "gcj02", "bd09")
CANONICAL_FIELDS: tuple[str, ...] = (
    "source_id",
    "category",
    "status",
    "reported_at",
    "dispatched_at",
    "closed_at",
    "due_at",
    "lon",
    "lat",
    "grid_code",
    "grid_name",
    "address",
    "description",
)
REQUIRED_FIELDS: tuple[str, ...] = ("source_id", "category", "status", "reported_at")
# What a source holds: events (the default), the roster of grid people, or the grid workers' patrol check-ins.
KINDS: tuple[str, ...] = ("events", "roster", "visits")
ROSTER_FIELDS: tuple[str, ...] = ("worker_id", "name", "phone", "role", "grid_code", "households", "start_date",
                                  "end_date")
ROSTER_REQUIRED: tuple[str, ...] = ("worker_id", "role", "grid_code")
ROSTER_ROLES: tuple[str, ...] = ("grid_leader", "grid_worker", "household_head")  # 网格长, 网格员, 联户长
VISIT_FIELDS: tuple[str, ...] = ("source_id", "worker_id", "visited_at", "visit_type", "event_ref", "lon", "lat",
                                 "grid_code", "grid_name", "address", "description")
VISIT_REQUIRED: tuple[str, ...] = ("source_id", "worker_id", "visited_at", "visit_type")
VISIT_TYPES: tuple[str, ...] = ("household", "patrol", "follow_up")  # 入户走访, 日常巡查, 事件跟进
DEFAULT_OFF_BEAT_KM = 1.0  # a check-in farther than this from all of its worker's grids is flagged
KIND_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # kind -> (canonical fields, required ones)
    "events": (CANONICAL_FIELDS, REQUIRED_FIELDS),
    "roster": (ROSTER_FIELDS, ROSTER_REQUIRED),
    "visits": (VISIT_FIELDS, VISIT_REQUIRED),
}
ROW_NUMBER_ID = "@row"  # fields.source_id = "@row": a file with no id column; the row number is the id
DUPLICATES: tuple[str, ...] = ("keep", "drop")  # rows identical to an earlier row of the file: kept apart, or dropped
LEADING_ZEROS: tuple[str, ...] = ("keep", "drop")  # grid codes as written, or numbers without leading zeros
GRID_LEVELS: tuple[str, ...] = ("small", "medium", "large")
TIME_FIELDS: tuple[str, ...] = ("reported_at", "dispatched_at", "closed_at", "due_at")
# Every field read as a time (all kinds): one column, or two (the date and the time of day, joined with a space).
TIMED_FIELDS: tuple[str, ...] = (*TIME_FIELDS, "visited_at", "start_date", "end_date")
# x/y pairs that stand for a withheld location: always 0/0; a mapping may add others in coordinates.placeholders.
DEFAULT_PLACEHOLDERS: tuple[tuple[float, float], ...] = ((0.0, 0.0),)
# Personal data of the people a record names, mapped in [[persons]] (never in [fields]): stored in the
# persons table, never in events.
PERSON_FIELDS: tuple[str, ...] = ("name", "phone", "id_number")
# The keys a mapping may hold, at the top and in each table; anything else is reported (a typo is never ignored).
TOP_KEYS: tuple[str, ...] = ("kind", "department", "name", "duplicates", "read", "fields", "time", "coordinates",
                             "category", "status", "grid_code", "grid_name", "due", "link", "persons", "roster", "role",
                             "visits", "visit_type")
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "read": READ_KEYS,
    "time": ("formats", "timezone"),
    "coordinates": ("system", "from_geometry", "placeholders"),
    "category": ("map", "default", "disputes"),
    "status": ("map", "default"),
    "grid_code": ("map", "leading_zeros"),
    "grid_name": ("aliases", "level"),
    "due": ("default", "rules"),
    "link": ("id_field", "dept", "dept_field", "dept_map"),
    "roster": ("separator",),
    "role": ("map", "default"),
    "visits": ("event_dept", "off_beat_km"),
    "visit_type": ("map", "default"),
}
# Tables that only one kind of source may hold.
KIND_TABLES: dict[str, tuple[str, ...]] = {
    "events": ("category", "status", "due", "link", "persons"),
    "roster": ("roster", "role"),
    "visits": ("visits", "visit_type"),
}


@dataclass(frozen=True)
class DueRule:
    """A time limit: a number of calendar hours or of working days (Mon-Fri)."""

    hours: float | None = None
    working_days: int | None = None


@dataclass(frozen=True)
class LinkSpec:
    """How a row names the same incident already reported by another department."""

    id_field: str
    dept: str | None = None
    dept_field: str | None = None
    dept_map: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PersonSpec:
    """One person a record names ([[persons]]): their role and the source columns of their data."""

    role: str  # e.g. petitioner, applicant, respondent, caller
    name: str | None = None
    phone: str | None = None
    id_number: str | None = None

    def columns(self) -> list[str]:
        """The source columns this person is read from."""
        return [c for c in (self.name, self.phone, self.id_number) if c]


@dataclass(frozen=True)
class Mapping:
    """A validated department mapping."""

    path: Path
    department: str
    name: str
    format: str | None
    encoding: str
    sheet: str | None
    layer: str | None
    fields: dict[str, list[str]]
    time_formats: list[str]
    timezone: str
    coordinate_system: str
    from_geometry: bool
    category_map: dict[str, str]
    category_default: str | None
    extra_disputes: frozenset[str]
    status_map: dict[str, str]
    status_default: str | None
    grid_code_map: dict[str, str]
    due_default: DueRule | None
    due_rules: dict[str, DueRule]
    link: LinkSpec | None
    persons: tuple[PersonSpec, ...] = ()
    kind: str = "events"
    roster_separator: str | None = None  # roster: between the grid codes of a person with several grids
    role_map: dict[str, str] = field(default_factory=dict)  # roster: source text -> ROSTER_ROLES
    role_default: str | None = None
    visit_type_map: dict[str, str] = field(default_factory=dict)  # visits: source text -> VISIT_TYPES
    visit_type_default: str | None = None
    event_dept: str | None = None  # visits: the department whose source ids event_ref holds (None: full event ids)
    off_beat_km: float = DEFAULT_OFF_BEAT_KM
    placeholders: tuple[tuple[float, float], ...] = DEFAULT_PLACEHOLDERS  # x/y treated as "no coordinates"
    read: ReadOptions = ReadOptions()  # [read]: delimiter, decimal mark, quote, header row, null values
    missing: dict[str, frozenset[str]] = field(default_factory=dict)  # canonical field -> texts meaning "no value"
    id_hash: bool = False  # source_id = { hash = [...] }: the id is a hash of those columns' values
    duplicates: str = "keep"  # rows identical to an earlier row of the file: "keep" (own ids) or "drop" (duplicates)
    grid_code_leading_zeros: str = "keep"  # "drop": "0111" is matched as "111"
    grid_name_aliases: dict[str, str] = field(default_factory=dict)  # source text -> grid name or code
    grid_name_level: str | None = None  # the level grid_name names (None: the smallest level with that name)
    store_timezone: str | None = None  # the store's zone (minqing.toml `timezone`): times are converted to it

    def column(self, canonical: str) -> list[str]:
        """Source columns of a canonical field ([] when the mapping does not map it)."""
        return self.fields.get(canonical, [])


def load_mapping(path: str | Path, *, known_categories: frozenset[str]) -> Mapping:
    """Read and validate a mapping file; raise ConfigError listing every problem at once."""
    path = Path(path)
    raw = read_toml(path, missing="the mapping file does not exist; check the mapping path in minqing.toml")
    return parse_mapping(raw, path=path, known_categories=known_categories)


def parse_mapping(
    raw: dict[str, Any], *, path: Path, known_categories: frozenset[str]
) -> Mapping:
    """Validate a mapping already parsed from TOML."""
    problems: list[Problem] = []

    def problem(key: str, value: object, fix: str) -> None:
        problems.append(Problem(str(path), key, repr(value) if value != "" else "", fix))

    if not isinstance(raw, dict):
        problem("mapping", type(raw).__name__, "a mapping is a TOML file of keys and tables")
        raise ConfigError(problems)
    # Unknown keys, and tables that are no tables, are each reported as one problem naming all of them.
    unknown = [k for k in raw if k not in TOP_KEYS]
    wrong: list[str] = []
    raw = dict(raw)
    for table, allowed in TABLE_KEYS.items():
        value = raw.get(table, {})
        if not isinstance(value, dict):
            wrong.append(f"{table} = {value!r} (write a [{table}] table with {', '.join(allowed)})")
            value = {}
        unknown += [f"{table}.{k}" for k in value if k not in allowed]
        raw[table] = {k: v for k, v in value.items() if k in allowed}
    if not isinstance(raw.get("fields", {}), dict):
        wrong.append(f"fields = {raw['fields']!r} (write a [fields] table: canonical_field = \"source column\")")
        raw["fields"] = {}
    for table, key in (("category", "map"), ("status", "map"), ("grid_code", "map"), ("due", "rules"),
                       ("link", "dept_map"), ("role", "map"), ("visit_type", "map"), ("grid_name", "aliases")):
        if not isinstance(raw[table].get(key, {}), dict):
            wrong.append(f"{table}.{key} = {raw[table][key]!r} (write a [{table}.{key}] table)")
            raw[table] = {k: v for k, v in raw[table].items() if k != key}
    formats = raw["time"].get("formats", ["iso"])
    if not isinstance(formats, (str, list)) or isinstance(formats, list) and (
            not formats or not all(isinstance(f, str) for f in formats)):
        wrong.append(f"time.formats = {formats!r} (give a format or a list of formats, e.g. [\"iso\", \"%Y/%m/%d %H:%M\"])")
        raw["time"] = {k: v for k, v in raw["time"].items() if k != "formats"}
    if unknown:
        allowed_text = "; ".join([f"top level: {', '.join(TOP_KEYS)}",
                                  *(f"[{t}]: {', '.join(keys)}" for t, keys in TABLE_KEYS.items())])
        problem("unknown keys", ", ".join(unknown), f"remove or correct them; the keys a mapping may hold are "
                f"{allowed_text}; [fields]: {', '.join(CANONICAL_FIELDS)}")
    if wrong:
        problem("wrong types", "; ".join(wrong), "fix each as said in brackets")
    kind = raw.get("kind", "events")
    if kind not in KINDS:
        problem("kind", kind, f"use one of {', '.join(KINDS)} (events is the default)")
        kind = "events"
    misplaced = [t for other, tables in KIND_TABLES.items() if other != kind for t in tables if raw.get(t)]
    if misplaced:
        problem("kind", kind, f"a {kind} mapping has no {', '.join(f'[{t}]' for t in misplaced)}; remove them or "
                "set kind to the source they belong to")
    canonical, required_fields = KIND_FIELDS[kind]
    department = raw.get("department")
    if not isinstance(department, str) or not department.isidentifier():
        problem("department", department, "set a short ASCII code such as 'police110'")
        department = "?"
    name = raw.get("name", department)

    read = raw.get("read", {})
    fmt = read.get("format")
    if fmt is not None and fmt not in FORMATS:
        problem("read.format", fmt, f"use one of {', '.join(FORMATS)} (or leave it out to use the suffix)")
    encoding = read.get("encoding", "auto")
    if encoding not in ENCODINGS:
        problem("read.encoding", encoding, f"use one of {', '.join(ENCODINGS)}")

    fields: dict[str, list[str]] = {}
    missing: dict[str, frozenset[str]] = {}
    id_hash = False
    for key, value in raw.get("fields", {}).items():
        if key in PERSON_FIELDS and key not in canonical:
            problem(f"fields.{key}", key, "personal data goes in a [[persons]] entry (role, name, phone, id_number), "
                    "never in [fields]")
            continue
        if key not in canonical:
            problem(f"fields.{key}", key, f"the canonical fields of a {kind} mapping are {', '.join(canonical)}")
            continue
        if isinstance(value, dict):  # { column = "...", missing = [...] } or, for source_id, { hash = [...] }
            value, texts, hashed = _field_table(key, value, problem)
            if texts:
                missing[key] = texts
            id_hash |= hashed
            if value is None:
                continue
        columns = [value] if isinstance(value, str) else value
        if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
            problem(f"fields.{key}", value, "give a source column name or a list of names")
            continue
        if key in TIMED_FIELDS and len(columns) > 2:
            problem(f"fields.{key}", value, "a time is read from one column, or from two: the date and the time of "
                    f"day, joined with a space in that order (e.g. {key} = [\"日期\", \"时间\"] with "
                    "time.formats = [\"%Y-%m-%d %H:%M\"]); merge the other columns in the export")
            continue
        if key in ("lon", "lat") and len(columns) > 1:
            problem(f"fields.{key}", value, f"give the one source column that holds the {key}")
            continue
        fields[key] = columns
    coordinates = raw.get("coordinates", {})
    from_geometry = bool(coordinates.get("from_geometry", False))
    constant = {
        "category": raw.get("category", {}).get("default") is not None,
        "status": raw.get("status", {}).get("default") is not None,
        "role": raw.get("role", {}).get("default") is not None,
        "visit_type": raw.get("visit_type", {}).get("default") is not None,
    }
    for required in required_fields:
        if required not in fields and not constant.get(required):
            problem(f"fields.{required}", "", f"map '{required}' to the source column that holds it")
    has_point = ("lon" in fields and "lat" in fields) or from_geometry
    if ("lon" in fields) != ("lat" in fields):
        problem("fields.lon/lat", "", "map both lon and lat, or neither")
    if kind != "roster" and not has_point and not {"grid_code", "grid_name", "address"} & set(fields):
        problem("fields", "", "map lon and lat, a grid_code or grid_name, or set coordinates.from_geometry = true")
    duplicates = raw.get("duplicates", "keep")
    if duplicates not in DUPLICATES:
        problem("duplicates", duplicates, 'use "keep" (rows identical to an earlier row of the file get their own '
                'ids) or "drop" (they are counted as duplicates)')
        duplicates = "keep"
    read_options = parse_read_options(read, problem)
    leading_zeros = raw["grid_code"].get("leading_zeros", "keep")
    if leading_zeros not in LEADING_ZEROS:
        problem("grid_code.leading_zeros", leading_zeros, 'use "keep" (codes as written) or "drop" ("0111" is '
                'matched as "111"; set the same on the grids)')
        leading_zeros = "keep"
    grid_name_level = raw["grid_name"].get("level")
    if grid_name_level is not None and grid_name_level not in GRID_LEVELS:
        problem("grid_name.level", grid_name_level, f"use one of {', '.join(GRID_LEVELS)}, or leave it out to match "
                "the smallest level with that name")
        grid_name_level = None

    time = raw.get("time", {})
    time_formats = time.get("formats", ["iso"])
    if isinstance(time_formats, str):
        time_formats = [time_formats]
    timezone = time.get("timezone", "Asia/Shanghai")
    if not known_zone(timezone):
        problem("time.timezone", timezone, "use an IANA time zone such as 'Asia/Shanghai'")
        timezone = "Asia/Shanghai"

    system = str(coordinates.get("system", "wgs84")).lower()
    if system not in COORDINATE_SYSTEMS and not system.startswith("epsg:"):
        problem("coordinates.system", system, f"use one of {', '.join(COORDINATE_SYSTEMS)} or an EPSG code such as 'EPSG:4547'")
    elif (unusable := crs_problem(system)) is not None:
        problem("coordinates.system", coordinates.get("system"), unusable)
    placeholders = _placeholders(coordinates.get("placeholders", []), problem)

    category = raw.get("category", {})
    category_map = {str(k): str(v) for k, v in category.get("map", {}).items()}
    for text, code in category_map.items():
        if code not in known_categories:
            problem(f"category.map.{text}", code, "map to a code listed in data/categories.toml")
    category_default = category.get("default")
    if category_default is not None and category_default not in known_categories:
        problem("category.default", category_default, "use a code listed in data/categories.toml")
    disputes = category.get("disputes", [])
    if not isinstance(disputes, list) or not all(isinstance(d, str) for d in disputes):
        problem("category.disputes", disputes, "give a list of category codes")
        disputes = []
    extra_disputes = frozenset(disputes)
    for code in extra_disputes - known_categories:
        problem("category.disputes", code, "use codes listed in data/categories.toml")

    status_map = {str(k): str(v) for k, v in raw.get("status", {}).get("map", {}).items()}
    for text, code in status_map.items():
        if code not in STATUSES:
            problem(f"status.map.{text}", code, f"map to one of {', '.join(STATUSES)}")
    status_default = raw.get("status", {}).get("default")
    if status_default is not None and status_default not in STATUSES:
        problem("status.default", status_default, f"use one of {', '.join(STATUSES)}")

    due = raw.get("due", {})
    due_default = _due_rule(due.get("default"), "due.default", problem)
    due_rules: dict[str, DueRule] = {}
    for code, rule in due.get("rules", {}).items():
        if code not in known_categories:
            problem(f"due.rules.{code}", code, "use a code listed in data/categories.toml")
        parsed = _due_rule(rule, f"due.rules.{code}", problem)
        if parsed is not None:
            due_rules[code] = parsed

    link = None
    if raw["link"]:
        spec = raw["link"]
        if "id_field" not in spec or ("dept" not in spec and "dept_field" not in spec):
            problem("link", spec, "give id_field and either dept or dept_field (+ dept_map)")
        else:
            link = LinkSpec(
                id_field=spec["id_field"],
                dept=spec.get("dept"),
                dept_field=spec.get("dept_field"),
                dept_map={str(k): str(v) for k, v in spec.get("dept_map", {}).items()},
            )

    persons = _persons(raw.get("persons", []), problem)
    role_map, role_default = _value_map(raw["role"], "role", ROSTER_ROLES, problem)
    visit_type_map, visit_type_default = _value_map(raw["visit_type"], "visit_type", VISIT_TYPES, problem)
    separator = raw["roster"].get("separator")
    if separator is not None and (not isinstance(separator, str) or not separator):
        problem("roster.separator", separator, 'give the text between grid codes, e.g. "、" or ","')
        separator = None
    event_dept = raw["visits"].get("event_dept")
    if event_dept is not None and (not isinstance(event_dept, str) or not event_dept.isidentifier()):
        problem("visits.event_dept", event_dept, "give the department code whose event numbers event_ref holds")
        event_dept = None
    off_beat_km = raw["visits"].get("off_beat_km", DEFAULT_OFF_BEAT_KM)
    if isinstance(off_beat_km, bool) or not isinstance(off_beat_km, (int, float)) or not 0 <= off_beat_km <= 1000:
        problem("visits.off_beat_km", off_beat_km, "give a distance in km between 0 and 1000, e.g. 1.0")
        off_beat_km = DEFAULT_OFF_BEAT_KM

    if problems:
        raise ConfigError(problems)
    return Mapping(
        path=path,
        department=department,
        name=str(name),
        format=fmt,
        encoding=encoding,
        sheet=read.get("sheet"),
        layer=read.get("layer"),
        fields=fields,
        time_formats=list(time_formats),
        timezone=timezone,
        coordinate_system=system,
        from_geometry=from_geometry,
        category_map=category_map,
        category_default=category_default,
        extra_disputes=extra_disputes,
        status_map=status_map,
        status_default=status_default,
        grid_code_map={str(k): str(v) for k, v in raw.get("grid_code", {}).get("map", {}).items()},
        due_default=due_default,
        due_rules=due_rules,
        link=link,
        persons=persons,
        kind=kind,
        roster_separator=separator,
        role_map=role_map,
        role_default=role_default,
        visit_type_map=visit_type_map,
        visit_type_default=visit_type_default,
        event_dept=event_dept,
        off_beat_km=float(off_beat_km),
        placeholders=placeholders,
        read=read_options,
        missing=missing,
        id_hash=id_hash,
        duplicates=duplicates,
        grid_code_leading_zeros=leading_zeros,
        grid_name_aliases={str(k): str(v) for k, v in raw["grid_name"].get("aliases", {}).items()},
        grid_name_level=grid_name_level,
    )


def _field_table(key: str, spec: dict[str, Any], problem: Any) -> tuple[Any, frozenset[str], bool]:
    """A field given as a table: its column(s), the texts that mean "no value" there, and whether it is a hash id.
    The column value is None when the table is wrong (already reported)."""
    allowed = ("hash",) if key == "source_id" else ("column", "missing")
    unknown = sorted(set(spec) - set(allowed))
    texts = spec.get("missing", [])
    if unknown:
        fix = ('give the columns whose values identify a record, e.g. source_id = { hash = ["时间", "地点", "类别"] }'
               if key == "source_id" else f'write {key} = {{ column = "<source column>", missing = ["-", "0"] }}')
        problem(f"fields.{key}", ", ".join(unknown), f"unknown key(s); {fix}")
        return None, frozenset(), False
    if not isinstance(texts, list) or not all(isinstance(v, str) for v in texts):
        problem(f"fields.{key}.missing", texts, 'give a list of texts that mean "no value" here, e.g. ["-", "0"]')
        texts = []
    if key == "source_id":
        columns = spec.get("hash")
        if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
            problem("fields.source_id.hash", columns, "give the list of columns whose values identify a record "
                    "(time, place, category; not the status, so a changed status updates the record)")
            return None, frozenset(), False
        return columns, frozenset(), True
    if "column" not in spec:
        problem(f"fields.{key}.column", "", f"name the source column: {key} = {{ column = \"...\", missing = [...] }}")
        return None, frozenset(texts), False
    return spec["column"], frozenset(texts), False


def _placeholders(value: Any, problem: Any) -> tuple[tuple[float, float], ...]:
    """coordinates.placeholders: [x, y] pairs (in the mapping's system) that stand for "no location", beside 0/0."""
    def number(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")

    if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 and all(map(number, p))
                                              for p in value):
        problem("coordinates.placeholders", value, "give a list of [x, y] number pairs that stand for a withheld "
                "location, e.g. placeholders = [[-1, -1], [999, 999]] (0/0 is always one)")
        return DEFAULT_PLACEHOLDERS
    pairs = list(DEFAULT_PLACEHOLDERS)
    pairs += [(float(x), float(y)) for x, y in value if (float(x), float(y)) not in pairs]
    return tuple(pairs)


def known_zone(name: object) -> bool:
    """Whether `name` is a time zone zoneinfo knows."""
    if not isinstance(name, str) or not name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _persons(value: Any, problem: Any) -> tuple[PersonSpec, ...]:
    """The [[persons]] entries: a role (unique, an ASCII identifier) and at least one of name, phone, id_number."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problem("persons", value, 'write one [[persons]] table per person: role = "petitioner", name = "<column>", ...')
        return ()
    out: list[PersonSpec] = []
    roles: set[str] = set()
    for i, entry in enumerate(value):
        key = f"persons[{i}]"
        role = entry.get("role")
        if not isinstance(role, str) or not role.isascii() or not role.isidentifier():
            problem(f"{key}.role", role, "give an ASCII role code such as 'petitioner', 'applicant', 'respondent', 'caller'")
            continue
        if role in roles:
            problem(f"{key}.role", role, "each role may appear once per mapping; give the second person another role")
            continue
        roles.add(role)
        unknown = sorted(set(entry) - {"role", *PERSON_FIELDS})
        if unknown:
            problem(f"{key}", ", ".join(unknown), f"a person has role and {', '.join(PERSON_FIELDS)}")
        columns = {f: entry.get(f) for f in PERSON_FIELDS}
        bad = [f for f, c in columns.items() if c is not None and (not isinstance(c, str) or not c.strip())]
        for f in bad:
            problem(f"{key}.{f}", columns[f], "give the source column name that holds it")
        if bad or unknown:
            continue
        if all(c is None for c in columns.values()):
            problem(key, role, f"map at least one of {', '.join(PERSON_FIELDS)} to a source column")
            continue
        out.append(PersonSpec(role=role, **columns))
    return tuple(out)


def _value_map(table: dict[str, Any], name: str, allowed: tuple[str, ...], problem: Any) -> tuple[dict[str, str], str | None]:
    """A [<name>] table's map of source texts to allowed codes, and its default; wrong codes are problems."""
    mapped = {str(k): str(v) for k, v in table.get("map", {}).items()}
    for text, code in mapped.items():
        if code not in allowed:
            problem(f"{name}.map.{text}", code, f"map to one of {', '.join(allowed)}")
    default = table.get("default")
    if default is not None and default not in allowed:
        problem(f"{name}.default", default, f"use one of {', '.join(allowed)}")
        default = None
    return mapped, default


def _due_rule(value: Any, key: str, problem: Any) -> DueRule | None:
    if value is None:
        return None
    if isinstance(value, dict) and set(value) == {"hours"} and isinstance(value["hours"], (int, float)) \
            and not isinstance(value["hours"], bool) and value["hours"] > 0:
        return DueRule(hours=float(value["hours"]))
    if isinstance(value, dict) and set(value) == {"working_days"} and isinstance(value["working_days"], int) \
            and not isinstance(value["working_days"], bool) and value["working_days"] > 0:
        return DueRule(working_days=value["working_days"])
    problem(key, value, "write a time limit greater than zero: { hours = 24 } or { working_days = 7 }")
    return None
