"""Draft a whole project from boundary files and event exports: inspect, decide, write, and check the result
parses as a config (`minqing init`)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from etl.assign import GridIndex
from etl.config import load_config
from etl.init.columns import Roles, coordinate_pairs, find_text_roles, find_times, source_columns, text_values
from etl.init.decisions import InitReport
from etl.init.draft import DraftMapping, categories_text, config_text, mapping_text, read_table
from etl.init.gridfiles import inspect_grid_file
from etl.init.layout import Layout, inspect_layout, read_events
from etl.init.levels import GridPlan, plan_grids, trial_load
from etl.init.placement import GridColumns, Placement, find_grid_columns, place
from etl.init.vocabulary import category_codes, status_of, status_share
from etl.readers import X_COLUMN, Y_COLUMN
from store.errors import UserError

CONFIG = "minqing.toml"
CATEGORIES = "categories.toml"
MAPPINGS = "mappings"


def init_project(directory: Path, grids: list[Path], events: list[Path], *, force: bool = False) -> InitReport:
    """Inspect the files, write DIR/minqing.toml, DIR/mappings/<dept>.toml and DIR/categories.toml, and return the
    report of every decision. Existing files are never overwritten without `force`."""
    report = InitReport()
    _check_inputs(directory, grids, events, force)
    layouts = {path: inspect_layout(path, path.name, report) for path in events}
    tables = {path: read_events(path, layouts[path]) for path in events}
    frames = {path: table.frame for path, table in tables.items()}
    grid_files = [inspect_grid_file(path, report) for path in grids]
    plan = plan_grids(grid_files, report, list(frames.values()))
    index, grid_report = trial_load(plan)
    for note in grid_report.notes:
        report.decide("grids", "trial load", "ok", note)
    report.figures["grids"] = dict(grid_report.counts)
    zone, zone_why = _timezone(index)
    report.decide("project", "timezone", zone, zone_why)
    drafts: list[DraftMapping] = []
    used: set[str] = set()
    for path in events:
        drafts.append(_draft_events(path, layouts[path], frames[path], tables[path].crs, plan, index, zone, used,
                                    report))
    _write(directory, plan, drafts, zone, zone_why, report)
    load_config(directory / CONFIG)  # what was written is a valid project (raises with every problem otherwise)
    return report


def _check_inputs(directory: Path, grids: list[Path], events: list[Path], force: bool) -> None:
    if not grids:
        raise UserError("give the grid boundary files: --grids FILE (one to three files, in any order)")
    if not events:
        raise UserError("give at least one events export: --events FILE")
    for path in [*grids, *events]:
        if not path.is_file():
            raise UserError(f"{path}: no such file; check the path")
    existing = [str(t) for t in (directory / CONFIG, directory / CATEGORIES, directory / MAPPINGS) if t.exists()]
    if existing and not force:
        raise UserError(f"{', '.join(existing)} already exist(s); init never overwrites a project: choose another "
                        "folder, or add --force to replace what init writes there")


def _timezone(index: GridIndex) -> tuple[str, str]:
    """The IANA zone at the centre of the grids (timezonefinder, offline)."""
    import shapely
    from timezonefinder import TimezoneFinder

    west, south, east, north = shapely.total_bounds(index.small_polygons)
    lon, lat = (west + east) / 2, (south + north) / 2
    finder = TimezoneFinder()
    zone = finder.timezone_at(lng=lon, lat=lat) or finder.timezone_at_land(lng=lon, lat=lat)
    if not zone:
        return "UTC", f"no time zone found at the grids' centre ({lon:.3f}, {lat:.3f}); UTC kept"
    return zone, f"the zone at the grids' centre ({lon:.3f}, {lat:.3f}), found offline with timezonefinder"


def _department_code(path: Path, used: set[str]) -> str:
    """An ASCII identifier from the file name (e.g. police_calls_2024), unique in the project."""
    stem = path.name.split(".")[0]
    slug = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")
    code = slug if slug and slug[0].isalpha() else f"dept_{slug}" if slug else f"dept{len(used) + 1}"
    code = code[:40]
    while code in used:
        code += "_2"
    used.add(code)
    return code


def _draft_events(path: Path, layout: Layout, frame: pd.DataFrame, crs: str | None, plan: GridPlan,
                  index: GridIndex, zone: str, used: set[str], report: InitReport) -> DraftMapping:
    subject = path.name
    department = _department_code(path, used)
    report.decide(subject, "department", department, "from the file name")
    draft = DraftMapping(department=department, name=path.name.split(".")[0], source=path, timezone=zone,
                         read=read_table(layout.fmt, layout.encoding, layout.sheet, layout.layer, layout.options))
    times, roles = find_times(frame, subject, report, zone)
    if "reported_at" not in roles.fields:
        raise UserError(f"{path}: no column holds times that can be read (the report time is required); columns: "
                        f"{', '.join(source_columns(frame)[:20])}")
    taken = set(times)
    pairs = _coordinate_pairs(frame, layout, taken)
    paired = {c for pair in pairs for c in pair}
    grid_columns = find_grid_columns(frame, index, plan.fold_zeros, taken | paired, subject, report)
    taken.update(c for c in (grid_columns.code, grid_columns.name) if c)
    grid_systems = sorted({g.system for g in plan.levels.values() if g.system != "wgs84"})
    declared = crs if crs and pairs[:1] == [(X_COLUMN, Y_COLUMN)] else None  # a vector file's own system
    placement = place(frame, pairs, layout.options.decimal, index, grid_systems, declared, grid_columns.recorded,
                      subject, report)
    if not pairs:
        report.decide(subject, "coordinates", "none", "no pair of numeric columns named like x/lon and y/lat")
    taken.update(c for c in placement.pair or () if c not in (X_COLUMN, Y_COLUMN))
    statuses = {c: status_share(text_values(frame[c])) for c in source_columns(frame) if c not in taken}
    find_text_roles(frame, subject, report, roles, taken, statuses)
    _fields(draft, roles, placement, grid_columns, layout, subject, report)
    _categories(draft, frame, roles, subject, report)
    _statuses(draft, frame, roles, subject, report)
    _identity(draft, frame, roles, placement, grid_columns, subject, report)
    shares = placement.shares.get(placement.system) if placement.pair else None
    report.figures[subject] = {"department": department, "system": placement.system if placement.pair else None,
                               "inside": shares, "shares": dict(placement.shares),
                               "agreement": placement.agreement.get(placement.system), "zero_zero": placement.zero_zero}
    return draft


def _coordinate_pairs(frame: pd.DataFrame, layout: Layout, taken: set[str]) -> list[tuple[str, str]]:
    """The geometry's points for a vector file of points, else the x/y column pairs worth trying."""
    if layout.from_geometry and X_COLUMN in frame.columns:
        return [(X_COLUMN, Y_COLUMN)]
    return coordinate_pairs(frame, layout.options.decimal, taken)


def _fields(draft: DraftMapping, roles: Roles, placement: Placement, grid_columns: GridColumns, layout: Layout,
            subject: str, report: InitReport) -> None:
    for name in ("reported_at", "dispatched_at", "closed_at", "due_at"):
        columns = roles.fields.get(name)
        if columns:
            draft.fields[name] = columns[0] if len(columns) == 1 else columns
    formats: list[str] = []
    for name in ("reported_at", "dispatched_at", "closed_at", "due_at"):
        formats += [f for f in roles.time_formats.get(name, ()) if f not in formats]
    draft.time_formats = tuple(formats) or ("iso",)
    if placement.pair and placement.pair[0] == X_COLUMN:
        draft.coordinates["from_geometry"] = True
    elif placement.pair:
        draft.fields["lon"], draft.fields["lat"] = placement.pair
    if placement.pair:
        draft.coordinates["system"] = placement.system.lower() if placement.system in ("wgs84", "gcj02", "bd09") \
            else placement.system
    if placement.placeholders:
        draft.coordinates["placeholders"] = [[x, y] for x, y in placement.placeholders]
    if grid_columns.code:
        draft.fields["grid_code"] = grid_columns.code
        draft.leading_zeros = report.choice("grids", "leading zeros") == "drop"
    if grid_columns.name:
        draft.fields["grid_name"] = grid_columns.name
        draft.aliases = grid_columns.aliases
    for name in ("address", "description"):
        if name in roles.fields:
            draft.fields[name] = roles.fields[name][0]
    if not placement.pair and not grid_columns.code and not grid_columns.name and "address" not in roles.fields:
        raise UserError(f"{draft.source}: no column says where an event is (coordinates, a grid code or name, or an "
                        "address); export the file with its locations")


def _categories(draft: DraftMapping, frame: pd.DataFrame, roles: Roles, subject: str, report: InitReport) -> None:
    column = roles.fields.get("category", [None])[0]
    if column is None:
        draft.category_default = f"{draft.department}_event"
        draft.category_map = {}
        report.decide(subject, "category", draft.category_default, "no column names a category: one category for "
                      "every row")
        report.ask(f"{subject}: no category column; every row is '{draft.category_default}'")
        return
    draft.fields["category"] = column
    texts = [t for t in text_values(frame[column]).value_counts().index if t != ""]
    draft.category_map = category_codes(texts, draft.department)
    if (text_values(frame[column]) == "").any():
        draft.category_default = f"{draft.department}_unspecified"
        report.decide(subject, "category default", draft.category_default, "some rows have no category text")
    report.ask(f"{subject}: {len(texts)} categories drafted as non-disputes in categories.toml; say which are "
               "disputes (dispute_class) and give them the labels the dashboard should show")


def _statuses(draft: DraftMapping, frame: pd.DataFrame, roles: Roles, subject: str, report: InitReport) -> None:
    column = roles.fields.get("status", [None])[0]
    if column is None:
        draft.status_default = "reported"
        report.decide(subject, "status", "reported (every row)", "no column holds status words")
        return
    texts = [t for t in text_values(frame[column]).unique() if t != ""]
    mapped = {t: status_of(t) for t in texts}
    if "closed" in mapped.values() and "closed_at" not in roles.fields:
        draft.status_default = "reported"
        report.decide(subject, "status", "reported (every row)", f"{column!r} says which rows are closed but no "
                      "column gives the closed time, which a closed row needs")
        report.ask(f"{subject}: map status = {column!r} and closed_at by hand (no closed-time column was found)")
        return
    unknown = [t for t, s in mapped.items() if s is None]
    draft.fields["status"] = column
    draft.status_map = {t: s or "reported" for t, s in mapped.items()}
    if (text_values(frame[column]) == "").any():
        draft.status_default = "reported"
    shown = ", ".join(f"{t} → {s}" for t, s in list(draft.status_map.items())[:8])
    report.decide(subject, "status words", shown, "known Chinese and English status words"
                  + (f"; {len(unknown)} unknown text(s) drafted as reported" if unknown else ""))
    if unknown:
        report.ask(f"{subject}: status texts not recognised, drafted as reported: {', '.join(unknown[:6])}")


def _identity(draft: DraftMapping, frame: pd.DataFrame, roles: Roles, placement: Placement, grid_columns: GridColumns,
              subject: str, report: InitReport) -> None:
    """The id column, or a hash of the columns that identify an incident (time, place, category; not the status)."""
    if "source_id" in roles.fields:
        draft.fields = {"source_id": roles.fields["source_id"][0], **draft.fields}
        return
    columns = [*roles.fields.get("reported_at", [])]
    if placement.pair and placement.pair[0] != X_COLUMN:
        columns += list(placement.pair)
    columns += [c for c in (grid_columns.code, grid_columns.name) if c]
    columns += roles.fields.get("address", []) + roles.fields.get("category", [])
    if placement.pair and placement.pair[0] == X_COLUMN:
        columns = [c for c in columns] + [c for c in source_columns(frame) if c not in columns][:3]
    columns = list(dict.fromkeys(columns))
    draft.fields = {"source_id": {"hash": columns}, **draft.fields}
    repeats = int(pd.util.hash_pandas_object(frame[columns].astype(str), index=False).duplicated().sum())
    report.decide(subject, "source_id", f"hash of {', '.join(columns)}", "no column has a distinct value on every "
                  "row; these identify an incident (not the status, so a re-export with a new status updates the row)"
                  + (f"; {repeats:,} rows repeat an earlier row's values and are kept apart (#2, #3...)" if repeats
                     else ""))
    if repeats:
        report.ask(f"{subject}: {repeats:,} rows repeat another row's time, place and category; kept as separate "
                   "events (duplicates = \"keep\"); set duplicates = \"drop\" if they are the same record twice")


def _write(directory: Path, plan: GridPlan, drafts: list[DraftMapping], zone: str, zone_why: str,
           report: InitReport) -> None:
    (directory / MAPPINGS).mkdir(parents=True, exist_ok=True)
    mappings = []
    categories: dict[str, tuple[str, str]] = {}
    for draft in drafts:
        target = directory / MAPPINGS / f"{draft.department}.toml"
        target.write_text(mapping_text(draft, report), encoding="utf-8")
        report.written.append(str(target))
        mappings.append((draft.source, f"{MAPPINGS}/{draft.department}.toml"))
        for text, code in draft.category_map.items():
            categories[code] = (text, draft.department)
        if draft.category_default:
            categories.setdefault(draft.category_default, (draft.name if draft.category_default.endswith("_event")
                                                           else "未分类", draft.department))
    (directory / CATEGORIES).write_text(categories_text(categories), encoding="utf-8")
    (directory / CONFIG).write_text(config_text(plan, directory, mappings, zone, zone_why, report), encoding="utf-8")
    report.written[:0] = [str(directory / CONFIG), str(directory / CATEGORIES)]
