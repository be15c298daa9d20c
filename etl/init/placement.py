"""Where events are: the coordinate columns and system that put most points inside the grids (candidates tried on
the rows, ties settled by a recorded grid code or name), placeholder values, and grid code / name columns."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyproj

from etl.assign import GridIndex
from etl.coords import crs_problem, in_china, to_wgs84
from etl.gridnames import GridNames, fold_name
from etl.grids import fold_leading_zeros
from etl.init.columns import points, source_columns, text_values
from etl.init.decisions import InitReport

GEOGRAPHIC = ("wgs84", "gcj02", "bd09")
TIE = 0.02  # candidates within 2 points of the best share may tie...
TIE_OUTSIDE = 2.0  # ...unless they leave over twice as many points outside (plus 3): the shift shows at the edges
SAMPLE_ROWS = 20_000
FAR_DEGREES = 1.0  # a point repeated this far (about 100 km) outside the grids' box is a stand-in, not a place


@dataclass
class Placement:
    """The coordinates part of a mapping."""

    pair: tuple[str, str] | None = None
    system: str = "wgs84"
    shares: dict[str, float] = field(default_factory=dict)  # system -> share of the points inside a grid
    agreement: dict[str, float] = field(default_factory=dict)  # system -> share agreeing with the recorded grid
    placeholders: list[tuple[float, float]] = field(default_factory=list)  # besides 0/0
    zero_zero: int = 0


@dataclass
class GridColumns:
    """Columns that name a row's grid: a small-grid code and / or a grid name (with drafted aliases)."""

    code: str | None = None
    name: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    recorded: pd.Series | None = None  # per row: the small grid the code or name names (None where none)


def find_grid_columns(frame: pd.DataFrame, index: GridIndex, fold: bool, taken: set[str], subject: str,
                      report: InitReport) -> GridColumns:
    """A column whose values are small-grid codes, and one whose values are grid names (any level, after folding
    case, accents, punctuation and spaces); names close to a grid's name are drafted as aliases."""
    out = GridColumns()
    small = {c for c, level in index.level.items() if level == "small"}
    names = GridNames(index.names, index.level)
    folded_names = {f: codes for level in names.by_level.values() for f, codes in level.items()}
    best_code, best_name = (0.0, None), (0.0, None)
    for column in source_columns(frame):
        if column in taken:
            continue
        text = text_values(frame[column])
        given = text[text != ""]
        if given.empty:
            continue
        codes = given.map(fold_leading_zeros) if fold else given
        code_share = float(codes.isin(small).mean())
        if code_share > best_code[0]:
            best_code = (code_share, column)
        distinct = pd.Series(given.unique())
        folded = distinct.map(fold_name)
        matched = folded.isin(folded_names)
        name_share = float(given.isin(set(distinct[matched])).mean())
        if name_share > best_name[0] and not given.str.fullmatch(r"\d+").all():
            best_name = (name_share, column)
    if best_code[0] >= 0.8:
        out.code = best_code[1]
        report.decide(subject, "grid_code", out.code, f"{best_code[0]:.1%} of its values are small-grid codes"
                      + (" (compared without leading zeros)" if fold else "") + ": rows without a point use it")
        taken.add(out.code)
    if best_name[0] >= 0.5 and best_name[1] not in taken:
        out.name = best_name[1]
        taken.add(out.name)
        out.aliases = _aliases(frame[out.name], folded_names, index)
        report.decide(subject, "grid_name", out.name, f"{best_name[0]:.1%} of its values are grid names after "
                      "folding case, accents, punctuation and spaces: rows without a point or code use it"
                      + (f"; {len(out.aliases)} close spelling(s) drafted as aliases" if out.aliases else ""))
        if out.aliases:
            report.ask(f"{subject}: check the drafted [grid_name.aliases] ("
                       + ", ".join(f"{k!r} → {v!r}" for k, v in list(out.aliases.items())[:4]) + ")")
    out.recorded = _recorded(frame, out, index, names, fold)
    return out


def _aliases(values: pd.Series, folded_names: dict[str, list[str]], index: GridIndex) -> dict[str, str]:
    """Names that fold to no grid but are close to exactly one grid's folded name (difflib ratio >= 0.85)."""
    aliases = {}
    for text in text_values(values).unique():
        folded = fold_name(text)
        if not folded or folded in folded_names:
            continue
        close = difflib.get_close_matches(folded, list(folded_names), n=2, cutoff=0.85)
        if len(close) == 1 and len(folded_names[close[0]]) == 1:
            aliases[text] = index.names[folded_names[close[0]][0]]
    return aliases


def _recorded(frame: pd.DataFrame, columns: GridColumns, index: GridIndex, names: GridNames,
              fold: bool) -> pd.Series | None:
    """The small grid each row's code (else name) records, to settle a tie between coordinate systems."""
    if columns.code:
        codes = text_values(frame[columns.code])
        return (codes.map(fold_leading_zeros) if fold else codes).where(lambda c: c.map(index.level.get) == "small")
    if columns.name:
        texts = text_values(frame[columns.name])
        found, _ = names.resolve(texts, columns.aliases, None)
        return found.where(found.map(index.level.get) == "small")
    return None


def place(frame: pd.DataFrame, pairs: list[tuple[str, str]], decimal: str, index: GridIndex, grid_systems: list[str],
          declared: str | None, recorded: pd.Series | None, subject: str, report: InitReport) -> Placement:
    """Try every coordinate pair in every candidate system; keep the one that puts most points inside a grid."""
    if not pairs:
        return Placement()
    centre = _centre(index)
    trials: list[tuple[float, float, int, tuple[str, str], str]] = []
    results: dict[tuple[tuple[str, str], str], tuple[float, float]] = {}
    usable_rows: dict[tuple[str, str], int] = {}
    sample = frame.head(SAMPLE_ROWS)
    for rank, pair in enumerate(pairs):
        x, y = points(sample, pair, decimal)
        usable = np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0))
        if usable.sum() == 0:
            continue
        usable_rows[pair] = int(usable.sum())
        for system in candidate_systems(x[usable], y[usable], centre, grid_systems, declared):
            located = _locate(x[usable], y[usable], system, index)
            share = float(np.mean(located != None))  # noqa: E711 (object array)
            agree = float("nan")
            if recorded is not None:
                wanted = recorded.head(SAMPLE_ROWS).to_numpy(dtype=object)[usable]
                known = pd.notna(wanted)
                if known.any():
                    agree = float(np.mean(located[known] == wanted[known]))
            results[(pair, system)] = (share, agree)
            trials.append((share, agree, -rank, pair, system))
    if not trials:
        return Placement()
    best = max(t[0] for t in trials)
    outside_best = min((1 - t[0]) * usable_rows[t[3]] for t in trials if t[0] == best)
    tied = [t for t in trials if t[0] >= best - TIE
            and (1 - t[0]) * usable_rows[t[3]] <= TIE_OUTSIDE * outside_best + 3]
    chosen = tied[0]
    reason = ""
    if len({t[4] for t in tied}) > 1:
        if recorded is not None and any(not math.isnan(t[1]) for t in tied):
            chosen = max(tied, key=lambda t: (-1 if math.isnan(t[1]) else t[1], t[0]))
            systems = len({t[4] for t in tied})
            reason = (f"; {systems} systems place about as many points inside, so the one agreeing best with the "
                      f"recorded grid ({chosen[1]:.1%}) wins")
        else:
            preferred = [t for t in tied if t[4] == (declared or "wgs84")]
            chosen = preferred[0] if preferred else max(tied, key=lambda t: (t[0], t[2]))
            reason = f"; {len({t[4] for t in tied})} systems tie and no grid column settles it, so {chosen[4]} is kept"
            report.ask(f"{subject}: coordinates fit {', '.join(sorted({t[4] for t in tied}))} about equally well; "
                       f"{chosen[4]} was kept: confirm [coordinates] system")
    else:
        chosen = max(tied, key=lambda t: (t[0], t[2]))
    pair, system = chosen[3], chosen[4]
    shares = {s: results[(pair, s)][0] for (p, s) in results if p == pair}
    agreement = {s: results[(pair, s)][1] for (p, s) in results if p == pair and not math.isnan(results[(p, s)][1])}
    listed = ", ".join(f"{s} {v:.1%}" for s, v in sorted(shares.items(), key=lambda kv: -kv[1])[:6])
    report.decide(subject, "coordinates", f"{pair[0]} / {pair[1]} in {system}",
                  f"share of points inside a grid: {listed}{reason}")
    placement = Placement(pair=pair, system=system, shares=shares, agreement=agreement)
    _placeholders(frame, placement, decimal, index, subject, report)
    return placement


def candidate_systems(x: np.ndarray, y: np.ndarray, centre: tuple[float, float], grid_systems: list[str],
                      declared: str | None) -> list[str]:
    """The systems worth trying for these values near these grids: geographic ones for degrees; the declared
    system, the grids' own, UTM, Web Mercator and (in China) the CGCS2000 Gauss-Krüger zones for metres."""
    lon, lat = centre
    degrees = float(np.mean((np.abs(x) <= 180) & (np.abs(y) <= 180))) >= 0.9
    if degrees:
        systems = ["wgs84"] + (["gcj02", "bd09"] if bool(in_china(np.array(lon), np.array(lat))) else [])
        return [s for s in dict.fromkeys([*(d for d in [declared] if d and _geographic(d)), *systems])]
    zone = int((lon + 180) // 6) + 1
    systems = [declared or "", *grid_systems, f"EPSG:{(32600 if lat >= 0 else 32700) + zone}", "EPSG:3857"]
    if bool(in_china(np.array(lon), np.array(lat))):
        cm3 = int(round(lon / 3) * 3)
        cm6 = int(lon // 6) * 6 + 3
        systems += [f"EPSG:{4534 + (cm3 - 75) // 3}", f"EPSG:{4513 + cm3 // 3 - 25}",
                    f"EPSG:{4502 + (cm6 - 75) // 6}", f"EPSG:{4491 + (cm6 + 3) // 6 - 13}"]
    return [s for s in dict.fromkeys(systems) if s and not _geographic(s) and crs_problem(s) is None]


def _geographic(system: str) -> bool:
    if system.lower() in GEOGRAPHIC or system.lower() in ("cgcs2000", "epsg:4326", "epsg:4490"):
        return True
    try:
        return pyproj.CRS.from_user_input(system).is_geographic
    except pyproj.exceptions.CRSError:
        return False


def _locate(x: np.ndarray, y: np.ndarray, system: str, index: GridIndex) -> np.ndarray:
    """Small-grid codes of the points read in `system`, as the loader reads them (swapped lat/lon put right)."""
    if system in GEOGRAPHIC:
        swapped = (np.abs(x) <= 90) & (np.abs(y) > 90)
        x, y = np.where(swapped, y, x), np.where(swapped, x, y)
    with np.errstate(all="ignore"):
        lon, lat = to_wgs84(x, y, system)
    return index.locate(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))


def _centre(index: GridIndex) -> tuple[float, float]:
    import shapely

    bounds = shapely.total_bounds(index.small_polygons)
    return float((bounds[0] + bounds[2]) / 2), float((bounds[1] + bounds[3]) / 2)


def _placeholders(frame: pd.DataFrame, placement: Placement, decimal: str, index: GridIndex, subject: str,
                  report: InitReport) -> None:
    """Count 0/0 rows, and declare an x/y pair repeated far from every grid (e.g. 999/999) as a stand-in."""
    x, y = points(frame, placement.pair, decimal)
    zero = (x == 0) & (y == 0)
    placement.zero_zero = int(zero.sum())
    if placement.zero_zero:
        report.decide(subject, "placeholder coordinates", "0/0 (always)", f"{placement.zero_zero:,} rows give 0/0: "
                      "treated as no location, so they fall back to their grid code or name")
    given = np.isfinite(x) & np.isfinite(y) & ~zero
    if not given.any():
        return
    pairs = pd.Series(list(zip(x[given], y[given])))
    counts = pairs.value_counts()
    repeated = counts[counts >= max(3, int(0.001 * len(frame)))]
    import shapely

    west, south, east, north = shapely.total_bounds(index.small_polygons)
    for (px, py), count in repeated.items():
        with np.errstate(all="ignore"):
            lon, lat = to_wgs84(np.array([px]), np.array([py]), placement.system)
        lon, lat = float(lon[0]), float(lat[0])
        near = np.isfinite(lon) and np.isfinite(lat) and west - FAR_DEGREES <= lon <= east + FAR_DEGREES \
            and south - FAR_DEGREES <= lat <= north + FAR_DEGREES
        if near:
            continue
        placement.placeholders.append((float(px), float(py)))
        report.decide(subject, "placeholder coordinates", f"{px:g}/{py:g}", f"{count:,} rows give this same point, "
                      "about 100 km or more outside the grids: a stand-in for a withheld location")
