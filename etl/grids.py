"""Grid boundaries in: read each level, detect garbled text, repair, validate the hierarchy, store with versions."""

from __future__ import annotations

import glob
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from etl.config import DEFAULT_AREA, GridSource
from etl.coords import crs_problem, to_wgs84
from etl.readers import has_geometry, no_geometry_message, read_geo_frame
from store.errors import ConfigError, Problem, UserError
from store.transaction import transaction
from etl.topology import LevelCheck, check_level

EQUAL_AREA_CRS = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +ellps=WGS84 +units=m +no_defs"
_CHILD_LEVEL = {"large": "medium", "medium": "small"}


@dataclass
class GridReport:
    """What loading the grids found and did."""

    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    checks: list[LevelCheck] = field(default_factory=list)
    version: int = 0
    changed: bool = False


def read_grid_level(source: GridSource, report: GridReport) -> gpd.GeoDataFrame:
    """Read one level's file into grid_code, name, parent_code, population, geometry (EPSG:4326)."""
    gdf = _read_decoded(source, report)
    wanted = (source.code, source.name, source.parent, source.grandparent, source.population)
    wanted = tuple(dict.fromkeys(wanted))
    missing = [c for c in wanted if c and c not in gdf.columns]
    if missing:
        raise UserError(
            f"{source.path}: column(s) {', '.join(missing)} not found; the file has {', '.join(map(str, gdf.columns[:-1]))}. "
            f"Fix grids.{source.level} in minqing.toml"
        )
    code = _folder(source)
    parent: object = gdf[source.parent].map(code) if source.parent else None
    if source.parent_constant is not None:
        parent = source.parent_constant[0]
    out = gpd.GeoDataFrame(
        {
            "grid_code": gdf[source.code].map(code),
            "name": gdf[source.name].astype(str).str.strip(),
            "parent_code": parent,
            "grandparent_code": gdf[source.grandparent].map(code) if source.grandparent else None,
            "population": pd.to_numeric(gdf[source.population], errors="coerce").astype("Int64")
            if source.population else pd.array([pd.NA] * len(gdf), dtype="Int64"),
        },
        geometry=_to_wgs84_geometry(gdf, source),
        crs="EPSG:4326",
    )
    _repair(out, source, report)
    if source.repeated == "union" and out["grid_code"].duplicated().any():
        out = _union_repeated(out, source, report)
    return out


def _union_repeated(grids: gpd.GeoDataFrame, source: GridSource, report: GridReport) -> gpd.GeoDataFrame:
    """Rows sharing a code become one grid: the union of their polygons, the first row's name and parent, the sum
    of their populations (repeated = "union")."""
    counts = grids["grid_code"].value_counts()
    repeated = counts[counts > 1]
    first = grids.drop_duplicates("grid_code").set_index("grid_code")
    geometry = grids.groupby("grid_code", sort=False).geometry.agg(lambda g: shapely.union_all(g.values))
    population = grids.groupby("grid_code", sort=False)["population"].sum(min_count=1)
    out = gpd.GeoDataFrame({"grid_code": first.index, "name": first["name"].to_numpy(),
                            "parent_code": first["parent_code"].to_numpy(),
                            "grandparent_code": first["grandparent_code"].to_numpy(),
                            "population": population.reindex(first.index).astype("Int64").to_numpy()},
                           geometry=geometry.reindex(first.index).to_numpy(), crs="EPSG:4326")
    sample = ", ".join(f"{c} ({n} rows)" for c, n in repeated.head(5).items())
    report.notes.append(f"{source.path.name}: {len(repeated)} code(s) repeat and were unioned into one grid each "
                        f"(grids.{source.level}.repeated = \"union\"): {sample}")
    return out


def spatial_parents(levels: dict[str, gpd.GeoDataFrame], sources: dict[str, GridSource], report: GridReport) -> None:
    """parent = "spatial": each grid's parent is the grid of the level above it overlaps most (by area); the
    overlap shares go to the report, and a grid overlapping none is an error naming it."""
    for child_level, parent_level in (("medium", "large"), ("small", "medium")):
        source = sources.get(child_level)
        if source is None or source.parent_rule != "spatial":
            continue
        if parent_level not in levels:
            raise UserError(f"grids.{child_level}.parent = \"spatial\" needs the {parent_level} grids' file: give "
                            f"[grids.{parent_level}], or a parent column or constant parent instead")
        parents, shares = largest_overlap(levels[child_level], levels[parent_level])
        orphans = parents.isna()
        if orphans.any():
            codes = ", ".join(levels[child_level].loc[orphans, "grid_code"].astype(str).head(5))
            raise UserError(f"{source.path}: {int(orphans.sum())} {child_level} grid(s) overlap no {parent_level} grid "
                            f"({codes}); check both files are of the same place and coordinate system")
        levels[child_level]["parent_code"] = parents
        weak = shares < 0.5
        report.notes.append(
            f"grids.{child_level}.parent = spatial: {len(parents)} {child_level} grids given the {parent_level} grid "
            f"they overlap most; share of their area inside it: median {shares.median():.1%}, lowest "
            f"{shares.min():.1%} ({levels[child_level].loc[shares.idxmin(), 'grid_code']})"
            + (f"; {int(weak.sum())} lie mostly outside their parent" if weak.any() else ""))


def largest_overlap(children: gpd.GeoDataFrame, parents: gpd.GeoDataFrame) -> tuple[pd.Series, pd.Series]:
    """For each child polygon, the code of the parent polygon with the largest shared area, and the share of the
    child's area it covers (equal-area metres); NA and 0 for a child that overlaps no parent."""
    child = gpd.GeoSeries(children.geometry.values, crs="EPSG:4326").to_crs(EQUAL_AREA_CRS).values
    parent = gpd.GeoSeries(parents.geometry.values, crs="EPSG:4326").to_crs(EQUAL_AREA_CRS).values
    tree = shapely.STRtree(np.asarray(parent))
    child_index, parent_index = tree.query(np.asarray(child), predicate="intersects")
    areas = shapely.area(shapely.intersection(np.asarray(child)[child_index], np.asarray(parent)[parent_index]))
    pairs = pd.DataFrame({"child": child_index, "parent": parent_index, "area": areas})
    best = pairs.sort_values("area", ascending=False, kind="stable").drop_duplicates("child").set_index("child")
    codes = parents["grid_code"].to_numpy()
    parent_code = pd.Series(pd.NA, index=children.index, dtype=object)
    share = pd.Series(0.0, index=children.index)
    hit = best.index.to_numpy()
    own_area = shapely.area(np.asarray(child))
    parent_code.iloc[hit] = codes[best["parent"].to_numpy()]
    share.iloc[hit] = best["area"].to_numpy() / np.where(own_area[hit] > 0, own_area[hit], 1)
    parent_code[share <= 0] = pd.NA
    return parent_code, share


def load_grids(con: duckdb.DuckDBPyConnection, sources: dict[str, GridSource], *,
               area: tuple[str, str] = DEFAULT_AREA) -> GridReport:
    """Read, validate and store all levels in one transaction; an unchanged grid set is left as it is.
    Levels no file gives are built from the level below: dissolved by its parent codes, or, when it has none,
    one grid of the whole `area` (code, name)."""
    check_systems(sources)
    fingerprint = _sources_fingerprint(sources, area)
    unchanged = _unchanged_report(con, fingerprint)
    if unchanged is not None:  # the same files read the same way as for the grids stored: nothing to read again
        return unchanged
    report = GridReport()
    levels = {level: read_grid_level(src, report) for level, src in sources.items()}
    spatial_parents(levels, sources, report)
    if "small" in levels and "medium" not in levels:
        levels["medium"] = build_upper_level(levels["small"], "medium", sources["small"], report, area, top=False)
        if sources["small"].grandparent and "large" not in levels:
            large_of = _parent_of_parent(levels["small"], sources["small"])
            levels["medium"]["parent_code"] = levels["medium"]["grid_code"].map(large_of)
    if "medium" in levels and "large" not in levels:
        levels["large"] = build_upper_level(levels["medium"], "large", sources.get("medium"), report, area, top=True)
    _validate_hierarchy(levels, sources)
    frame = pd.concat(
        [g.assign(level=level) for level, g in levels.items()], ignore_index=True
    )
    shared = frame.loc[frame["grid_code"].duplicated(keep=False)]
    if len(shared):
        sample = ", ".join(f"{c} ({l})" for c, l in shared[["grid_code", "level"]].head(6).itertuples(index=False))
        raise UserError(
            f"grid codes must be unique across levels, but {shared['grid_code'].nunique()} code(s) are used on two levels: "
            f"{sample}. Give each level's grids their own codes (e.g. add a level suffix in the source)"
        )
    frame["area_km2"] = gpd.GeoSeries(frame.geometry, crs="EPSG:4326").to_crs(EQUAL_AREA_CRS).area / 1e6
    frame["wkb"] = shapely.to_wkb(frame.geometry.values)
    digest = _digest(frame)
    report.counts = {level: len(g) for level, g in levels.items()}
    previous = con.execute("SELECT value FROM meta WHERE key = 'grid_digest'").fetchone()
    version_row = con.execute("SELECT coalesce(max(version), 0) FROM grids").fetchone()
    current_version = int(version_row[0]) if version_row else 0
    if previous and previous[0] == digest:
        report.version = current_version
        _remember_sources(con, fingerprint, digest, report)
        return report
    report.changed = True
    report.version = current_version + 1
    for level, parent_level in (("large", None), ("medium", "large"), ("small", "medium")):
        if level in levels:
            check = check_level(levels[level], levels.get(parent_level) if parent_level else None, level)
            report.checks.append(check)
            report.notes.extend(check.findings())
    rows = pd.DataFrame({
        "grid_code": frame["grid_code"], "name": frame["name"], "level": frame["level"],
        "parent_code": frame["parent_code"], "geometry": frame["wkb"], "area_km2": frame["area_km2"],
        "population": frame["population"], "version": report.version, "valid_from": datetime.now().replace(microsecond=0),
    })
    with transaction(con):
        # The previous version goes to grid_history: events keep the codes they were assigned under it.
        con.execute("INSERT INTO grid_history SELECT *, ? FROM grids", [rows["valid_from"].iloc[0]])
        con.execute("DELETE FROM grids")
        con.register("incoming_grids", rows)
        con.execute("INSERT INTO grids SELECT * FROM incoming_grids")
        con.unregister("incoming_grids")
        con.execute("INSERT OR REPLACE INTO meta VALUES ('grid_digest', ?)", [digest])
        _remember_sources(con, fingerprint, digest, report)
    return report


_SOURCES_KEY = "grid_sources"  # meta: the fingerprint of the grid files and settings the stored grids were read from
_READING_VERSION = 1  # part of the fingerprint: raise it when reading the same files would now give other grids


def _sources_fingerprint(sources: dict[str, GridSource], area: tuple[str, str]) -> str:
    """A hash of every grid file's bytes (a Shapefile's side files too) and of the settings that read them."""
    digest = hashlib.sha256(repr((_READING_VERSION, area, sorted(sources.items()))).encode())
    for _level, source in sorted(sources.items()):
        siblings = source.path.parent.glob(f"{glob.escape(source.path.stem)}.*")
        for path in sorted(p for p in siblings if p.is_file()) if source.path.exists() else [source.path]:
            digest.update(path.name.encode())
            try:
                with path.open("rb") as handle:
                    digest.update(hashlib.file_digest(handle, "sha256").digest())
            except OSError:
                digest.update(b"unreadable")  # reading the grids says what is wrong
    return digest.hexdigest()


def _unchanged_report(con: duckdb.DuckDBPyConnection, fingerprint: str) -> GridReport | None:
    """The report of the last read of the same grid files, when the stored grids are still what it gave."""
    stored = con.execute("SELECT value FROM meta WHERE key = ?", [_SOURCES_KEY]).fetchone()
    digest = con.execute("SELECT value FROM meta WHERE key = 'grid_digest'").fetchone()
    if stored is None or digest is None:
        return None
    last = json.loads(stored[0])
    if last.get("fingerprint") != fingerprint or last.get("digest") != digest[0]:
        return None
    version = con.execute("SELECT coalesce(max(version), 0) FROM grids").fetchone()[0]
    return GridReport(counts=dict(last["counts"]), notes=list(last["notes"]), version=int(version))


def _remember_sources(con: duckdb.DuckDBPyConnection, fingerprint: str, digest: str, report: GridReport) -> None:
    value = json.dumps({"fingerprint": fingerprint, "digest": digest, "counts": report.counts, "notes": report.notes},
                       ensure_ascii=False)
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_SOURCES_KEY, value])


def build_upper_level(children: gpd.GeoDataFrame, level: str, source: GridSource | None, report: GridReport,
                      area: tuple[str, str], *, top: bool) -> gpd.GeoDataFrame:
    """A level no file gives: the children dissolved by their parent codes (a constant parent names its grid), or,
    when the children name no parent at all, one grid of the whole area (its code suffixed below the top level)."""
    declared = source is not None and source.parent_rule is not None
    if children["parent_code"].isna().all() and not declared:
        code = area[0] if top else f"{area[0]}-{level}"
        children["parent_code"] = code
        report.notes.append(f"{level} grids: no file and no parent codes below, so one {level} grid covers the whole "
                            f"area ({code} {area[1]})")
        built = dissolve_parents(children, level, report)
        built["name"] = area[1]
        return built
    built = dissolve_parents(children, level, report)
    if source is not None and source.parent_constant is not None:
        built["name"] = source.parent_constant[1]
    return built


def dissolve_parents(children: gpd.GeoDataFrame, level: str, report: GridReport) -> gpd.GeoDataFrame:
    """Build a missing upper level as the union of its children, grouped by their parent code."""
    if children["parent_code"].isna().any():
        raise UserError(f"cannot build the {level} grids: some children have no parent code; give the {level} grids' file, "
                        "or name the column holding each small grid's large code in grids.small.grandparent")
    grouped = children.dissolve(by="parent_code", aggfunc={"population": "sum"}).reset_index()
    report.notes.append(f"{level} grids built by dissolving {len(children)} children into {len(grouped)} parents")
    return gpd.GeoDataFrame(
        {"grid_code": grouped["parent_code"], "name": grouped["parent_code"], "parent_code": None,
         "population": grouped["population"].astype("Int64")},
        geometry=grouped.geometry.values, crs="EPSG:4326",
    )


def _parent_of_parent(small: gpd.GeoDataFrame, source: GridSource) -> pd.Series:
    """Each dissolved medium grid's large code, from the small grids' grandparent column (must agree)."""
    pairs = small[["parent_code", "grandparent_code"]].drop_duplicates()
    conflicting = pairs["parent_code"].duplicated(keep=False)
    if conflicting.any():
        codes = ", ".join(sorted(set(pairs.loc[conflicting, "parent_code"]))[:5])
        raise UserError(f"{source.path}: small grids of one medium grid name different large grids ({codes}) "
                        f"in column '{source.grandparent}'; make them agree")
    return pairs.set_index("parent_code")["grandparent_code"]


def check_systems(sources: dict[str, GridSource]) -> None:
    """Refuse, before any file is read, coordinate systems pyproj cannot convert (one problem per level)."""
    problems = [Problem("minqing.toml", f"grids.{level}.coordinates (or grids.coordinates)", repr(source.coordinates),
                        fix)
                for level, source in sources.items() if (fix := crs_problem(source.coordinates)) is not None]
    if problems:
        raise ConfigError(problems)


def _read_decoded(source: GridSource, report: GridReport) -> gpd.GeoDataFrame:
    gdf, note = read_geo_frame(source.path, encoding=source.encoding, require_geometry=False)
    if not has_geometry(gdf):
        raise UserError(no_geometry_message(source.path, gdf, None) + f"; grids.{source.level} needs one polygon "
                        "per grid")
    if note:
        report.notes.append(note.replace("the encoding", f"grids.{source.level}.encoding"))
    return gdf


def _to_wgs84_geometry(gdf: gpd.GeoDataFrame, source: GridSource) -> np.ndarray:
    geometry = gdf.geometry.values
    system = source.coordinates
    if gdf.crs is not None and system == "wgs84" and not gdf.crs.is_geographic:
        system = gdf.crs.to_string()
    if system in ("wgs84", "cgcs2000", "epsg:4326", "epsg:4490"):
        return np.asarray(geometry)

    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(coords[:, 0], coords[:, 1], system)
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geometry), convert)


def _repair(gdf: gpd.GeoDataFrame, source: GridSource, report: GridReport) -> None:
    empty = gdf.geometry.isna() | gdf.geometry.is_empty
    if empty.any():
        codes = ", ".join(gdf.loc[empty, "grid_code"].astype(str).head(5))
        raise UserError(f"{source.path}: {int(empty.sum())} grid(s) without geometry ({codes}); fix them in the source file")
    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        gdf.loc[invalid, "geometry"] = shapely.make_valid(gdf.geometry[invalid].values)
        gdf.loc[invalid, "geometry"] = gdf.geometry[invalid].map(_polygonal)
        codes = ", ".join(gdf.loc[invalid, "grid_code"].astype(str).head(5))
        report.notes.append(f"{source.path.name}: repaired {int(invalid.sum())} invalid geometries with make_valid ({codes})")
    kinds = gdf.geometry.geom_type
    flat = ~kinds.isin(["Polygon", "MultiPolygon"])
    if flat.any():
        sample = ", ".join(f"{c} ({k})" for c, k in zip(gdf.loc[flat, "grid_code"].head(5), kinds[flat].head(5)))
        raise UserError(f"{source.path}: {int(flat.sum())} grid(s) are not areas ({sample}); a grid boundary must be "
                        "a polygon with an area. Fix them in the source file")
    west, south, east, north = gdf.total_bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise UserError(f"{source.path}: coordinates reach x {west:,.0f}..{east:,.0f}, y {south:,.0f}..{north:,.0f}, "
                        "which are not longitude/latitude: the file is in a projected system. Set "
                        f"grids.{source.level}.coordinates to its EPSG code (e.g. \"EPSG:4547\") or ship its .prj file")
    blank = gdf["grid_code"].isna() | (gdf["grid_code"] == "")
    if blank.any():  # before the repeat check: two blank codes are missing codes, not a repeated one
        raise UserError(f"{source.path}: {int(blank.sum())} grid(s) have no code in column '{source.code}'; fill them in")
    repeated = gdf["grid_code"].duplicated(keep=False)
    if repeated.any() and source.repeated != "union":
        codes = ", ".join(sorted(set(gdf.loc[repeated, "grid_code"]))[:5])
        raise UserError(f"{source.path}: grid codes repeat ({codes}); each {source.level} grid needs its own code, "
                        f"or set grids.{source.level}.repeated = \"union\" when the rows are parts of one grid")


def _validate_hierarchy(levels: dict[str, gpd.GeoDataFrame], sources: dict[str, GridSource]) -> None:
    for parent_level, child_level in _CHILD_LEVEL.items():
        if parent_level not in levels or child_level not in levels:
            continue
        child = levels[child_level]
        known = set(levels[parent_level]["grid_code"])
        orphans = child.loc[~child["parent_code"].isin(known), ["grid_code", "parent_code"]]
        if len(orphans):
            where = sources[child_level].path if child_level in sources else child_level
            sample = ", ".join(f"{c}→{p}" for c, p in orphans.head(5).itertuples(index=False))
            raise UserError(
                f"{where}: {len(orphans)} {child_level} grid(s) name a parent that is not a {parent_level} grid ({sample}); "
                f"fix their parent codes or the {parent_level} grids' file"
            )


def _polygonal(geometry: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygonal part of a make_valid result (drop stray lines and points)."""
    if geometry.geom_type in ("Polygon", "MultiPolygon"):
        return geometry
    parts = [g for g in getattr(geometry, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else geometry


def _folder(source: GridSource):
    """The code reader of a level: text as written, or all-digit codes without leading zeros ("drop")."""
    if source.leading_zeros != "drop":
        return code_text
    return lambda value: fold_leading_zeros(code_text(value))


def fold_leading_zeros(code: str | None) -> str | None:
    """An all-digit code without its leading zeros ("0111" -> "111", "000" -> "0"); other codes unchanged."""
    if code is None or not code.isdigit():
        return code
    return re.sub(r"^0+(?=\d)", "", code)


def code_text(value: object) -> str | None:
    """Grid codes are text: keep leading zeros, drop a float's '.0', never store them as numbers."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _digest(frame: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for code, level, parent, name, wkb in sorted(
        zip(frame["grid_code"], frame["level"], frame["parent_code"].astype(str), frame["name"], frame["wkb"])
    ):
        digest.update(f"{code}|{level}|{parent}|{name}|".encode())
        digest.update(wkb)
    return digest.hexdigest()
