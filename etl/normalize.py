"""Normalisation: a department's raw rows plus its mapping become canonical event rows and quarantined rejects."""

from __future__ import annotations

import hashlib
import json
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from etl.assign import GridIndex
from etl.coords import to_wgs84
from etl.duetime import due_times
from etl.gridnames import GridNames
from etl.grids import fold_leading_zeros
from store.errors import UserError
from etl.mapping import ROW_NUMBER_ID, TIME_FIELDS, Mapping
from etl.persons import clean_id, clean_phone, is_valid_id
from etl.readers import ERROR_COLUMN, ROW_COLUMN, X_COLUMN, Y_COLUMN, RawTable
from etl.timeparse import parse_times

EVENT_COLUMNS: tuple[str, ...] = (
    "event_id", "dept", "source_id", "category", "dispute_class", "is_dispute", "status",
    "reported_at", "dispatched_at", "closed_at", "due_at", "lon", "lat", "location_from",
    "outside_grid", "grid_small", "grid_medium", "grid_large", "incident_id", "address",
    "description",
)
# The persons table's columns (personal data): never part of the events frame nor of its row hash.
PERSON_COLUMNS: tuple[str, ...] = ("event_id", "role", "seq", "name", "phone", "id_number", "id_valid")
REDACTED = "***"  # personal data in a quarantined row's raw copy: the persons table is the only place it is kept
_GEOGRAPHIC = ("wgs84", "cgcs2000", "gcj02", "bd09", "epsg:4326", "epsg:4490")


@dataclass
class Normalised:
    """Canonical rows ready to load, and the rows quarantined with their reasons."""

    events: pd.DataFrame
    rejects: pd.DataFrame  # row_number, field, value, reason, raw
    persons: pd.DataFrame | None = None  # PERSON_COLUMNS + __row of the kept rows; None when the mapping has no [[persons]]
    notes: list[str] = field(default_factory=list)  # what was done to kept rows, for the load report


class Rejects:
    """Collects the first problem of each row; later checks skip rows already rejected."""

    def __init__(self, index: pd.Index) -> None:
        self.reason = pd.Series(None, index=index, dtype=object)
        self.field = pd.Series(None, index=index, dtype=object)
        self.value = pd.Series(None, index=index, dtype=object)

    def add(self, mask: pd.Series, field: str, values: pd.Series | None, reason: str) -> None:
        new = mask & self.reason.isna()
        if not new.any():
            return
        self.reason[new] = reason
        self.field[new] = field
        if values is not None:
            self.value[new] = values[new].map(lambda v: None if v is None else str(v)[:200])

    @property
    def mask(self) -> pd.Series:
        return self.reason.notna()


def normalise(raw: pd.DataFrame, table: RawTable, mapping: Mapping, *, path: Path,
              categories: dict[str, dict[str, str]], grids: GridIndex) -> Normalised:
    """Apply a mapping to raw rows (all or a chunk of `table`); raise UserError when the file cannot match it."""
    raw, rejects = checked_rows(raw, mapping, path)

    out = pd.DataFrame(index=raw.index)
    out["dept"] = mapping.department
    out["source_id"] = source_ids(raw, mapping, rejects, "missing source id")

    category = translate(raw, mapping, "category", mapping.category_map, mapping.category_default, rejects)
    out["category"] = category
    dispute_class = lookup(category, {c: spec["dispute_class"] for c, spec in categories.items() if spec.get("dispute_class")})
    out["dispute_class"] = dispute_class
    out["is_dispute"] = dispute_class.notna() | category.isin(mapping.extra_disputes)

    status_default = mapping.status_default if not mapping.column("status") else None
    out["status"] = translate(raw, mapping, "status", mapping.status_map, status_default, rejects)

    for name in TIME_FIELDS:
        out[name] = time_field(raw, mapping, name, rejects,
                               missing="missing report time" if name == "reported_at" else None)
    is_closed = out["status"] == "closed"
    rejects.add(is_closed & (out["closed_at"] < out["reported_at"]), mapping.column("closed_at")[0] if mapping.column("closed_at") else "closed_at",
                out["closed_at"], "closed before it was reported")
    closed_without_time = (out["status"] == "closed") & out["closed_at"].isna()
    rejects.add(closed_without_time, mapping.column("closed_at")[0] if mapping.column("closed_at") else "closed_at",
                None, "status is closed but there is no closed time")
    out.loc[out["status"] != "closed", "closed_at"] = pd.NaT
    missing_due = out["due_at"].isna()
    if missing_due.any():
        computed = due_times(out["reported_at"], out["category"], mapping.due_rules, mapping.due_default,
                             zone=mapping.store_timezone or mapping.timezone)
        out.loc[missing_due, "due_at"] = computed[missing_due]

    notes = locate(out, raw, table, mapping, grids, rejects) + duplicate_notes(raw, mapping)
    out["address"] = joined_text(raw, mapping.column("address")).replace("", None)
    out["description"] = joined_text(raw, mapping.column("description")).replace("", None)
    out["event_id"] = mapping.department + ":" + out["source_id"]
    out["incident_id"] = _incident_ids(raw, mapping, out["event_id"])

    bad = rejects.mask
    events = out.loc[~bad].copy()
    events["__row"] = raw.loc[~bad, ROW_COLUMN]
    personal = {c for spec in mapping.persons for c in (spec.name, spec.phone, spec.id_number) if c}
    persons = _persons(raw.loc[~bad], mapping, out.loc[~bad, "event_id"]) if mapping.persons else None
    return Normalised(events=events[[*EVENT_COLUMNS, "__row"]].reset_index(drop=True),
                      rejects=reject_frame(raw, rejects, personal), persons=persons, notes=notes)


def source_ids(raw: pd.DataFrame, mapping: Mapping, rejects: Rejects, missing: str) -> pd.Series:
    """The rows' source ids ("@row": the row number; { hash = [...] }: a hash of those columns' texts); rows without
    one are quarantined with reason `missing`. duplicates = "drop" gives rows identical to an earlier row of the
    file that row's id (the merge counts them as duplicates); "keep" numbers repeated hash ids (#2, #3...)."""
    columns = mapping.column("source_id")
    if columns == [ROW_NUMBER_ID]:
        ids = raw[ROW_COLUMN].astype(str)
        if mapping.duplicates == "drop":
            ids = raw[ROW_COLUMN].groupby(row_content(raw)).transform("first").astype(str)
    elif mapping.id_hash:
        parts = [text_of(raw[c]) for c in columns]
        joined = parts[0].str.cat(parts[1:], sep="\x1f") if len(parts) > 1 else parts[0]
        empty = pd.concat(parts, axis=1).eq("").all(axis=1)
        ids = joined.map(lambda s: hashlib.sha256(s.encode("utf-8")).hexdigest()[:16]).where(~empty, "")
        if mapping.duplicates == "keep":
            occurrence = ids.groupby(ids).cumcount()
            ids = ids.where((occurrence == 0) | empty, ids + "#" + (occurrence + 1).astype(str))
    else:
        ids = joined_text(raw, columns)
    rejects.add(ids == "", columns[0], ids, missing)
    return ids


def row_content(raw: pd.DataFrame) -> pd.Series:
    """A hash of each row's source values as text (every column but the reader's own), equal for identical rows.
    Hashed in DuckDB (a tenth of pandas' time for text columns); the columns are renamed, never quoted from input."""
    values = raw[[c for c in raw.columns if not str(c).startswith("__")]].astype(str)
    if values.empty or not len(values.columns):
        return pd.Series(np.zeros(len(raw), dtype=np.uint64), index=raw.index)
    values.columns = [f"c{i}" for i in range(len(values.columns))]
    with duckdb.connect() as con:  # an in-memory database of its own; the scan keeps the rows' order
        con.register("row_values", values)
        hashes = con.execute(f"SELECT hash({', '.join(values.columns)}) AS h FROM row_values").fetchnumpy()["h"]
    return pd.Series(np.asarray(hashes, dtype=np.uint64), index=raw.index)


def duplicate_notes(raw: pd.DataFrame, mapping: Mapping) -> list[str]:
    """The load report's note on rows identical to an earlier row of the file, and what duplicates = ... did."""
    if raw.empty:
        return []
    repeats = int(row_content(raw).duplicated().sum())
    if not repeats:
        return []
    if mapping.duplicates == "drop":
        return [f"{repeats:,} row(s) identical to an earlier row of the file: counted as duplicates "
                "(duplicates = \"drop\")"]
    kept = "kept with their own ids" if mapping.column("source_id") == [ROW_NUMBER_ID] or mapping.id_hash else \
        "counted as duplicates (same id, same content)"
    return [f"{repeats:,} row(s) identical to an earlier row of the file: {kept} (duplicates = \"keep\"; set "
            "duplicates = \"drop\" when a repeated row is the same record exported twice)"]


def time_field(raw: pd.DataFrame, mapping: Mapping, name: str, rejects: Rejects, *, missing: str | None = None,
               unreadable: str = "unreadable or impossible time") -> pd.Series:
    """A mapped time field as naive local times (NaT when unmapped or empty). Unreadable values are quarantined,
    and empty ones too when `missing` gives the reason."""
    columns = mapping.column(name)
    if not columns:
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    if len(columns) == 2:  # the date and the time of day: joined with a space, then parsed like one value
        values, native = date_and_time(raw[columns[0]], raw[columns[1]])
        formats = mapping.time_formats + (["iso"] if native.any() and "iso" not in mapping.time_formats else [])
        field_name = "+".join(columns)
    else:
        values, formats, field_name = raw[columns[0]], mapping.time_formats, columns[0]
    parsed = to_store_zone(parse_times(values, formats, mapping.timezone), mapping)
    given = text_of(values) != ""
    if missing is not None:
        rejects.add(~given, field_name, values, missing)
    rejects.add(given & parsed.isna(), field_name, values,
                f"{unreadable}; expected one of {mapping.time_formats} between 1990 and 2100"
                + (" (the two columns joined with a space)" if len(columns) == 2 else ""))
    return parsed


def to_store_zone(local: pd.Series, mapping: Mapping) -> pd.Series:
    """Naive times in the mapping's zone as naive times in the store's (minqing.toml `timezone`). A wall time that
    occurs twice (the hour a clock falls back) is taken as its first occurrence; one that never occurs (the hour a
    clock springs forward) is moved forward by the gap."""
    store = mapping.store_timezone
    if store is None or store == mapping.timezone or local.isna().all():
        return local
    aware = local.dt.tz_localize(mapping.timezone, ambiguous=np.ones(len(local), dtype=bool),
                                 nonexistent="shift_forward")
    return aware.dt.tz_convert(store).dt.tz_localize(None).astype("datetime64[us]")


def date_and_time(dates: pd.Series, times: pd.Series) -> tuple[pd.Series, pd.Series]:
    """One text per row, "<date> <time>" (either part alone when the other is empty), and where a part was a
    date/time cell (Excel), written as ISO text (2024-03-01, 14:05:00) so that "iso" parses it."""
    day, day_native = _time_part(dates, "%Y-%m-%d")
    clock, clock_native = _time_part(times, "%H:%M:%S")
    return (day + " " + clock).str.strip().astype("string"), day_native | clock_native  # text: parsed vectorised


def _time_part(values: pd.Series, fmt: str) -> tuple[pd.Series, pd.Series]:
    text = text_of(values).astype(object)
    native = pd.Series(False, index=values.index)
    if values.dtype == object:
        native = values.map(lambda v: isinstance(v, (dt.date, dt.time))).astype(bool)
        if native.any():
            text[native] = values[native].map(lambda v: v.strftime(fmt))
    return text, native


def checked_rows(raw: pd.DataFrame, mapping: Mapping, path: Path) -> tuple[pd.DataFrame, Rejects]:
    """The raw rows once the file is known to have the mapping's columns, and their rejects with the rows the
    reader could not parse already quarantined."""
    raw = blank_missing(check_columns(raw, mapping, path), mapping)
    if mapping.from_geometry and X_COLUMN not in raw.columns and not mapping.column("lon") and len(raw):
        raise UserError(f"{path}: {mapping.path.name} sets coordinates.from_geometry = true, but the file has no geometry "
                        f"(columns: {', '.join(str(c) for c in raw.columns if not str(c).startswith('__'))}); "
                        "export it again with its points, or map lon and lat to its coordinate columns and "
                        "remove from_geometry")
    rejects = Rejects(raw.index)
    if ERROR_COLUMN in raw.columns:
        rejects.add(raw[ERROR_COLUMN].notna(), "row", raw[ERROR_COLUMN], "the row cannot be parsed")
    return raw, rejects


def blank_missing(raw: pd.DataFrame, mapping: Mapping) -> pd.DataFrame:
    """The rows with each field's `missing` texts (e.g. "-", "0000-00-00") emptied in that field's columns; the
    quarantine's raw copy keeps what the file said."""
    if not mapping.missing:
        return raw
    raw = raw.copy()
    for name, texts in mapping.missing.items():
        for column in mapping.column(name):
            if column in raw.columns:
                hit = text_of(raw[column]).isin(texts)
                if hit.any():
                    raw[column] = raw[column].astype(object).where(~hit, None)
    return raw


def reject_frame(raw: pd.DataFrame, rejects: Rejects, personal: set[str]) -> pd.DataFrame:
    """The quarantined rows (row number, field, value, reason, raw JSON with the `personal` columns redacted)."""
    bad = rejects.mask
    return pd.DataFrame({
        "row_number": raw.loc[bad, ROW_COLUMN].astype(int),
        "field": rejects.field[bad],
        "value": rejects.value[bad],
        "reason": rejects.reason[bad],
        "raw": raw.loc[bad].drop(columns=[c for c in (ROW_COLUMN, X_COLUMN, Y_COLUMN) if c in raw.columns])
        .apply(lambda r: json.dumps({k: REDACTED if k in personal and _text(v) else _jsonable(v) for k, v in r.items()},
                                    ensure_ascii=False), axis=1)
        if bad.any() else pd.Series(dtype=object),
    })


def _persons(raw: pd.DataFrame, mapping: Mapping, event_ids: pd.Series) -> pd.DataFrame:
    """One row per [[persons]] entry and kept row that names anyone; an invalid ID number is flagged, not rejected."""
    frames = []
    for seq, spec in enumerate(mapping.persons):
        name = joined_text(raw, [spec.name] if spec.name else [])
        phone = joined_text(raw, [spec.phone] if spec.phone else []).map(clean_phone)
        id_number = joined_text(raw, [spec.id_number] if spec.id_number else []).map(clean_id)
        named = (name != "") | (phone != "") | (id_number != "")
        if not named.any():
            continue
        ids = id_number[named]
        codes, distinct = pd.factorize(ids)
        valid = np.array([is_valid_id(v) if v else False for v in distinct], dtype=bool)
        id_valid = pd.array(valid[codes] if len(distinct) else np.zeros(len(ids), dtype=bool), dtype="boolean")
        id_valid[(ids == "").to_numpy()] = pd.NA
        frames.append(pd.DataFrame({
            "event_id": event_ids[named].astype(object),
            "role": spec.role,
            "seq": seq,
            "name": name[named].replace("", None),
            "phone": phone[named].replace("", None),
            "id_number": ids.replace("", None),
            "id_valid": id_valid,
            "__row": raw.loc[named, ROW_COLUMN],
        }))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in (*PERSON_COLUMNS, "__row")})
    return pd.concat(frames, ignore_index=True)


def translate(raw: pd.DataFrame, mapping: Mapping, name: str, table: dict[str, str], default: str | None,
               rejects: Rejects) -> pd.Series:
    """Source texts of a field through its value map; missing or unknown texts are quarantined."""
    text = joined_text(raw, mapping.column(name))
    codes = lookup(text, table)
    if default is not None:
        codes = codes.astype(object).fillna(default)
    field = (mapping.column(name) or [name])[0]
    rejects.add(codes.isna() & (text == ""), field, text, f"missing {name}")
    rejects.add(codes.isna(), field, text, f"unknown {name} text; add it to [{name}.map] in the mapping")
    return codes


def locate(out: pd.DataFrame, raw: pd.DataFrame, table: RawTable, mapping: Mapping, grids: GridIndex,
            rejects: Rejects) -> list[str]:
    """Fill lon/lat (WGS84), the grid codes, location_from and outside_grid; return notes for the load report.

    Placeholder coordinates (0/0, the mapping's coordinates.placeholders, or a point that converts to lon/lat 0/0)
    are no location: the row falls back to its grid code or address, else it is kept with location_from 'none'."""
    n = len(raw)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    system = mapping.coordinate_system
    if mapping.from_geometry and X_COLUMN in raw.columns:
        x = pd.to_numeric(raw[X_COLUMN], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(raw[Y_COLUMN], errors="coerce").to_numpy(dtype=float)
        if table.crs and system in ("wgs84",) and "4326" not in table.crs and "CRS84" not in table.crs:
            system = table.crs
    elif mapping.column("lon"):
        lon_col, lat_col = mapping.column("lon")[0], mapping.column("lat")[0]
        for column, target in ((lon_col, "x"), (lat_col, "y")):
            values = raw[column]
            text = text_of(values)
            if mapping.read.decimal == ",":  # 22,95 -> 22.95 (a file split by ";" or tabs)
                text = text.str.replace(",", ".", regex=False)
            numbers = pd.to_numeric(text.where(text != "", None), errors="coerce")
            given = text != ""
            rejects.add(given & numbers.isna(), column, values, "coordinate is not a number")
            rejects.add(given & numbers.notna() & ~np.isfinite(numbers.fillna(0)), column, values,
                        "coordinate is not finite")
            if target == "x":
                x = numbers.to_numpy(dtype=float)
            else:
                y = numbers.to_numpy(dtype=float)
    x = np.where(np.isfinite(x), x, np.nan)
    y = np.where(np.isfinite(y), y, np.nan)
    placeholder = np.zeros(n, dtype=bool)
    for px, py in mapping.placeholders:
        placeholder |= (x == px) & (y == py)
    x = np.where(placeholder, np.nan, x)
    y = np.where(placeholder, np.nan, y)
    if system in _GEOGRAPHIC:
        swapped = (np.abs(x) <= 90) & (np.abs(y) > 90)
        x, y = np.where(swapped, y, x), np.where(swapped, x, y)
        out_of_range = (np.abs(x) > 180) | (np.abs(y) > 90)
        rejects.add(pd.Series(out_of_range, index=raw.index), "lon/lat", pd.Series(list(zip(x, y)), index=raw.index),
                    "longitude/latitude out of range")
        x = np.where(out_of_range, np.nan, x)
        y = np.where(out_of_range, np.nan, y)
    has_point = np.isfinite(x) & np.isfinite(y)
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    if has_point.any():
        lon[has_point], lat[has_point] = to_wgs84(x[has_point], y[has_point], system)
        null_island = has_point & (np.abs(lon) < 1e-7) & (np.abs(lat) < 1e-7)
        if null_island.any():
            placeholder |= null_island
            has_point &= ~null_island
            lon[null_island], lat[null_island] = np.nan, np.nan
    out["lon"], out["lat"] = lon, lat

    small = pd.Series(grids.locate(lon, lat), index=raw.index, dtype=object)
    location_from = pd.Series(np.where(has_point, "point", "none"), index=raw.index, dtype=object)
    outside = pd.Series(has_point & small.isna().to_numpy(), index=raw.index)

    code_columns = mapping.column("grid_code")
    if code_columns:
        codes = joined_text(raw, code_columns)
        if mapping.grid_code_map:
            codes = lookup(codes, mapping.grid_code_map).fillna(codes)
        if mapping.grid_code_leading_zeros == "drop":
            codes = codes.map(fold_leading_zeros)
        use_code = ~pd.Series(has_point, index=raw.index) & (codes != "")
        known = grids.is_small(codes)
        rejects.add(use_code & ~known, code_columns[0], codes,
                    "grid code is not a known small grid; correct it or load the grid boundaries that define it")
        take = use_code & known
        small[take] = codes[take]
        location_from[take] = "grid_code"
    medium, large = grids.hierarchy(small)
    unnamed = by_grid_name(raw, mapping, grids, small, medium, large, location_from)
    address_columns = mapping.column("address")
    if address_columns:
        addresses = joined_text(raw, address_columns)
        by_address = (location_from == "none") & (addresses != "")
        found = addresses[by_address].map(grids.medium_from_address)
        hit = found.dropna().index
        medium[hit] = found[hit]
        large[hit] = medium[hit].map(grids.parent)
        location_from[hit] = "address"
    withheld = pd.Series(placeholder, index=raw.index)
    if unnamed is not None:
        texts, why = unnamed
        rejects.add((location_from == "none") & why.notna(), mapping.column("grid_name")[0], texts,
                    "grid name matches no grid (after folding case, accents, punctuation and spaces), or several; "
                    "add it to [grid_name.aliases] in the mapping")
    rejects.add((location_from == "none") & ~pd.Series(has_point, index=raw.index) & ~withheld, "location", None,
                "no usable location: give coordinates, a small-grid code or an address naming the town and village")
    out["grid_small"], out["grid_medium"], out["grid_large"] = small, medium, large
    out["location_from"] = location_from
    out["outside_grid"] = outside
    return placeholder_notes(withheld & ~rejects.mask, location_from, mapping)


def by_grid_name(raw: pd.DataFrame, mapping: Mapping, grids: GridIndex, small: pd.Series, medium: pd.Series,
                 large: pd.Series, location_from: pd.Series) -> tuple[pd.Series, pd.Series] | None:
    """Rows still without a location but with a grid name: placed in the grid of that name (small, else medium,
    else large, or `[grid_name] level`), their upper grids filled in; returns the names and, for names that match
    no grid, why (None when the mapping has no grid_name)."""
    columns = mapping.column("grid_name")
    if not columns:
        return None
    texts = joined_text(raw, columns)
    todo = (location_from == "none") & (texts != "")
    why = pd.Series(None, index=raw.index, dtype=object)
    if not todo.any():
        return texts, why
    names = GridNames(grids.names, grids.level)
    codes, reasons = names.resolve(texts[todo], mapping.grid_name_aliases, mapping.grid_name_level)
    found = codes.dropna()
    why[todo] = reasons
    levels = found.map(grids.level)
    for level, rows in found.groupby(levels).groups.items():
        picked = found[rows]
        if level == "small":
            small[rows] = picked
            medium[rows] = picked.map(grids.parent)
            large[rows] = medium[rows].map(grids.parent)
        elif level == "medium":
            medium[rows] = picked
            large[rows] = picked.map(grids.parent)
        else:
            large[rows] = picked
    location_from[found.index] = "grid_name"
    return texts, why


def placeholder_notes(withheld: pd.Series, location_from: pd.Series, mapping: Mapping) -> list[str]:
    """The load report's note on kept rows whose coordinates were placeholders (none when there were none)."""
    count = int(withheld.sum())
    if not count:
        return []
    values = ", ".join(f"{x:g}/{y:g}" for x, y in mapping.placeholders)
    how = location_from[withheld].value_counts()
    parts = [f"{int(how.get(k, 0)):,} located by {label}" for k, label in
             (("grid_code", "their grid code"), ("grid_name", "their grid name"), ("address", "their address"))
             if how.get(k, 0)]
    if how.get("none", 0):
        parts.append(f"{int(how['none']):,} kept without a location (not counted outside the grids)")
    return [f"{count:,} rows had placeholder coordinates {values}: treated as missing ({'; '.join(parts)}); the "
            "source file keeps the values. Declare other stand-in values in coordinates.placeholders"]


def _incident_ids(raw: pd.DataFrame, mapping: Mapping, event_ids: pd.Series) -> pd.Series:
    """The event id of the first report of the same incident: a linked department's record, else itself."""
    link = mapping.link
    if link is None or link.id_field not in raw.columns:
        return event_ids.copy()
    target = text_of(raw[link.id_field])
    if link.dept_field:
        dept = text_of(raw[link.dept_field]).map(lambda v: link.dept_map.get(v, v) if v else "")
    else:
        dept = pd.Series(link.dept or "", index=raw.index)
    linked = (target != "") & (dept != "")
    return event_ids.where(~linked, dept + ":" + target)


def check_columns(raw: pd.DataFrame, mapping: Mapping, path: Path) -> pd.DataFrame:
    """The raw rows, or a UserError when the file lacks columns the mapping names (a file without records lacks none)."""
    wanted = {c for columns in mapping.fields.values() for c in columns} - {ROW_NUMBER_ID}
    wanted |= {c for person in mapping.persons for c in person.columns()}
    if mapping.link:
        wanted.add(mapping.link.id_field)
        if mapping.link.dept_field:
            wanted.add(mapping.link.dept_field)
    missing = sorted(wanted - set(raw.columns))
    named = [str(c) for c in raw.columns if not str(c).startswith("__")]
    if missing and raw.empty and not named:
        return raw.reindex(columns=[*raw.columns, *missing])  # no records, no header (JSON []): nothing to map
    if missing:
        hint = ""
        if len(named) == 1:
            hint = next((f" The header is one column holding {word}: the file is split by {sep!r}, not by the "
                         f"delimiter its format declares (csv: comma, tsv: tab); set read.delimiter = {sep!r} in the "
                         "mapping (or set read.format), or re-export it."
                         for sep, word in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars"), (",", "commas"))
                         if sep in named[0]), "")
        raise UserError(
            f"{path}: column(s) {', '.join(missing)} named in {mapping.path.name} are not in the file. "
            f"The file has: {', '.join(named) or 'no named columns'}.{hint} Fix [fields] or [[persons]] in the mapping (or the file's header)"
        )
    return raw


# Trimmed from both ends of a source text: spaces, tabs, line ends, no-break and ideographic spaces. Not the other
# characters str.strip() takes for whitespace (\x0b, \x0c, \x1c-\x1f): they are data, kept as they came.
TRIMMED = " \t\n\r\u00a0\u3000"


def text_of(values: pd.Series) -> pd.Series:
    """Source values as trimmed text ('' for missing); vectorised for text columns (CSV), per value otherwise."""
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        return values.fillna("").str.strip(TRIMMED)
    # a text is trimmed in place (the common case: no call per value), anything else goes through _text
    texts = [v.strip(TRIMMED) if type(v) is str else _text(v) for v in values.tolist()]
    return pd.Series(texts, index=values.index, dtype=object).astype(str)


def lookup(values: pd.Series, table: dict[str, str]) -> pd.Series:
    """Translate texts through a dict (NaN where absent), mapping each distinct text once."""
    codes, uniques = pd.factorize(values)
    translated = pd.Series(uniques, dtype=object).map(table).to_numpy(dtype=object)
    out = np.where(codes >= 0, translated[np.maximum(codes, 0)] if len(translated) else None, None)
    return pd.Series(out, index=values.index, dtype=object)


def joined_text(raw: pd.DataFrame, columns: list[str]) -> pd.Series:
    if not columns:
        return pd.Series("", index=raw.index, dtype=object)
    parts = [text_of(raw[c]) for c in columns]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "-" + part
    return joined


def _text(value: object) -> str:
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, float):  # value != value: NaN, as np.isnan says for a float, without its call cost
        if value != value:
            return ""
        if value.is_integer():
            return str(int(value))
    return str(value).strip(TRIMMED)


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, float):  # NaN is no source value (a cell a short or broken row lacks): null
        return value if np.isfinite(value) else None if np.isnan(value) else str(value)
    return str(value)
