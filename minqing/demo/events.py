"""The demo city's event "truth": reports of seven departments, 2019-2025, calibrated dispute counts.

`write_events` draws every report with numpy (no per-row Python loops), then hands each department's
rows to its writer in `minqing.demo.exports`. The recipe (data/demo/recipe.toml) holds the shares,
category texts and weights, rhythms, timing and calibration targets; the time limits come from the
department mappings (data/demo/mappings), so due times agree with what the loader computes.
Petitions, mediation cases and hotline calls also name synthetic people (recipe [persons]): names,
mobile numbers and checksum-correct ID numbers, drawn from a stream of their own so that nothing
else in the files depends on them.

Calibration: an incident is one report, or a report plus the reports that name it through their
mapping's [link]. An incident counts as a dispute resolved in year Y when it has a valid report with
a dispute category, status closed and a place inside the city grids, and the earliest closure among
such reports falls in Y. Dispute incidents are drawn in surplus and then selected so that these
counts equal the recipe's targets exactly.
"""

from __future__ import annotations

import math
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from etl.mapping import DueRule, load_mapping
from etl.persons import ID_CHECK_CHARS, ID_WEIGHTS
from minqing.demo import exports, planted
from minqing.demo.rowkinds import (  # noqa: F401  (also read as events.BAD_* / events.MISSING)
    BAD_CLOSED_BEFORE_REPORTED, BAD_COORDINATES, BAD_GRID_CODE, BAD_IMPOSSIBLE_DATE, BAD_KIND_NAMES, BAD_MISSING_ID,
    BAD_MISSING_TIME, BAD_UNKNOWN_CATEGORY, BAD_UNKNOWN_STATUS, BAD_UNPARSEABLE_TIME, MISSING,
)
from minqing.demo.sampling import CLOSED, DAY, draw, office, workflow

if TYPE_CHECKING:
    from minqing.demo.city import City

__all__ = ["EventRefs", "EventsTruth", "write_events", "load_recipe", "DEPARTMENTS", "FILES", "RECIPE_PATH", "MAPPINGS_DIR"]

REPO = Path(__file__).resolve().parents[2]
RECIPE_PATH = REPO / "data" / "demo" / "recipe.toml"
MAPPINGS_DIR = REPO / "data" / "demo" / "mappings"
CATEGORIES_PATH = REPO / "data" / "categories.toml"

DEPARTMENTS: tuple[str, ...] = (
    "grid_app", "police110", "petition", "mediation", "hotline12345", "natural_resources", "urban_mgmt",
)
FILES: dict[str, str] = {
    "grid_app": "grid_app_events.jsonl",
    "police110": "police110_calls.csv",
    "petition": "petitions.xlsx",
    "mediation": "mediation.xlsx",
    "hotline12345": "hotline12345.csv",
    "natural_resources": "natural_resources.gpkg",
    "urban_mgmt": "urban_mgmt.csv",
}
POINT_DEPARTMENTS = frozenset({"grid_app", "police110", "hotline12345", "natural_resources", "urban_mgmt"})
TEXT_POINT_DEPARTMENTS = frozenset({"grid_app", "police110", "hotline12345", "urban_mgmt"})
CODE_DEPARTMENTS = frozenset({"petition", "mediation"})

STATUSES: tuple[str, ...] = ("reported", "dispatched", "in_progress", "closed")
INNER_MARGIN_DEG = 0.0001  # points stay ~10 m inside their grid, safe against coordinate round trips
OUTSIDE_GAP_DEG = 0.01  # outside points are at least ~1 km from the city

_IMPOSSIBLE_MONTH_DAYS = ((2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (13, 5), (0, 12))

_S = np.dtypes.StringDType()


@dataclass(frozen=True, eq=False)
class EventRefs:
    """One department's valid reports inside the city, in file order: what later records can name."""

    source_id: np.ndarray  # StringDType
    grid: np.ndarray  # small-grid index (int32)
    reported: np.ndarray  # int64 seconds, naive local time

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EventRefs) and all(
            np.array_equal(a, b) for a, b in zip((self.source_id, self.grid, self.reported),
                                                 (other.source_id, other.grid, other.reported)))


@dataclass(frozen=True)
class EventsTruth:
    """What write_events wrote, for checking a load against."""

    files: dict[str, Path]  # department code -> the file written
    rows_by_dept: dict[str, int]  # data rows per file (bad rows and repeats included)
    bad_rows_by_dept: dict[str, int]  # rows the loader must reject
    repeated_rows_by_dept: dict[str, int]  # exact repeats of an earlier row in the same file
    outside_city_by_dept: dict[str, int]  # valid rows whose point lies outside the city outline
    resolved_disputes_by_year: dict[int, int]  # 2019..2025, see the module docstring
    refs_by_dept: dict[str, EventRefs] = field(default_factory=dict)  # e.g. the grid_app events check-ins follow up
    planted: dict[str, Any] = field(default_factory=dict)  # patterns for the analysis to find (minqing.demo.planted)


def load_recipe(path: Path | None = None) -> dict[str, Any]:
    """The recipe as parsed TOML."""
    return tomllib.loads((path or RECIPE_PATH).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- departments


@dataclass
class _Dept:
    code: str
    index: int
    spec: dict[str, Any]
    texts: np.ndarray  # category texts (StringDType)
    codes: np.ndarray  # canonical codes (object)
    weights: np.ndarray
    is_dispute: np.ndarray  # per text
    status_texts: list[tuple[np.ndarray, np.ndarray]]  # per status: texts, probabilities
    due_rules: dict[str, DueRule]
    due_default: DueRule | None
    precision: int  # seconds: 60 for minute-precision exports
    close_sigma: float = 0.0

    def text_index(self, codes: np.ndarray, fallback: str = "dispute_other") -> np.ndarray:
        """For each canonical code, this department's heaviest text with that code (else the fallback's)."""
        best: dict[str, int] = {}
        for i in np.argsort(-self.weights, kind="stable"):
            best.setdefault(str(self.codes[i]), int(i))
        if fallback not in best:
            raise ValueError(f"{self.code}: no category text maps to {fallback}")
        return np.array([best.get(str(c), best[fallback]) for c in codes], dtype=np.int32)


def _departments(recipe: dict[str, Any], categories: dict[str, Any]) -> dict[str, _Dept]:
    known = frozenset(categories)
    out: dict[str, _Dept] = {}
    for index, code in enumerate(DEPARTMENTS):
        spec = recipe["departments"][code]
        mapping = load_mapping(MAPPINGS_DIR / f"{code}.toml", known_categories=known)
        rows = spec["categories"]
        texts = np.array([r[0] for r in rows], dtype=_S)
        codes = np.array([r[1] for r in rows], dtype=object)
        for text, canonical in zip(texts, codes):
            if mapping.category_map.get(str(text)) != canonical:
                raise ValueError(f"recipe {code}: category text {text!r} must map to {canonical} in {mapping.path.name}")
        weights = np.array([float(r[2]) for r in rows])
        is_dispute = np.array([bool(categories[c].get("dispute_class")) for c in codes])
        status_texts = []
        for status in STATUSES:
            table = spec["status"][status]
            names = list(table)
            for name in names:
                if mapping.status_map.get(name) != status:
                    raise ValueError(f"recipe {code}: status text {name!r} must map to {status} in {mapping.path.name}")
            p = np.array([float(table[n]) for n in names])
            status_texts.append((np.array(names, dtype=_S), p / p.sum()))
        timing = spec["timing"]
        z = NormalDist().inv_cdf(float(timing["on_time"]))
        dept = _Dept(
            code=code, index=index, spec=spec, texts=texts, codes=codes, weights=weights, is_dispute=is_dispute,
            status_texts=status_texts, due_rules=dict(mapping.due_rules), due_default=mapping.due_default,
            precision=60 if spec.get("precision") == "minute" else 1,
            close_sigma=-math.log(float(timing["close_median"])) / z,
        )
        out[code] = dept
    return out


# --------------------------------------------------------------------------- calendar


class _Clock:
    """Days of the demo period with their year, month and weekday; samples report times."""

    def __init__(self, recipe: dict[str, Any]) -> None:
        period = recipe["period"]
        start = np.datetime64(period["start"], "D")
        now = period["now"]
        self.now = int(np.datetime64(now.replace(tzinfo=None), "s").astype(np.int64))
        end = np.datetime64(now.date(), "D")
        self.days = np.arange(start, end + 1, dtype="datetime64[D]")
        self.base = int(start.astype("datetime64[s]").astype(np.int64))
        self.year = self.days.astype("datetime64[Y]").astype(np.int64) + 1970
        self.years = np.unique(self.year)
        self.month = self.days.astype("datetime64[M]").astype(np.int64) % 12
        self.weekday = (self.days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        self.spring_festival = np.array([np.datetime64(d, "D") for d in period["spring_festival"]])

    def day_weights(self, years: list[float], months: list[float], weekdays: list[float]) -> np.ndarray:
        w = np.asarray(years, dtype=float)[self.year - self.years[0]]
        return w * np.asarray(months, dtype=float)[self.month] * np.asarray(weekdays, dtype=float)[self.weekday]

    def spring_bump(self, boost: float, peak_days: float, width_days: float) -> np.ndarray:
        bump = np.zeros(len(self.days))
        for sf in self.spring_festival:
            offset = (self.days - sf).astype(np.int64) + peak_days
            bump += np.exp(-0.5 * (offset / width_days) ** 2)
        return 1.0 + boost * bump

    def sample(self, rng: np.random.Generator, n: int, day_weights: np.ndarray, hours: list[float],
               precision: int) -> np.ndarray:
        day = draw(rng, day_weights, n)
        hour = draw(rng, np.asarray(hours, dtype=float), n)
        t = self.base + day * DAY + hour * 3600 + rng.integers(0, 3600, n)
        return t - t % precision

    def years_of(self, t: np.ndarray) -> np.ndarray:
        return t.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970


# --------------------------------------------------------------------------- geography


class _Geo:
    """Small grids, their names, per-department placement weights and point sampling."""

    def __init__(self, city: Any, depts: dict[str, _Dept]) -> None:
        small = city.small.reset_index(drop=True)
        medium = city.medium.set_index("grid_code")
        large = city.large.set_index("grid_code")
        self.n = len(small)
        self.codes = small["grid_code"].astype(str).to_numpy(dtype=object)
        self.code_set = frozenset(self.codes)
        parent = small["parent_code"].astype(str)
        self.parent = parent.to_numpy(dtype=object)  # the medium grid of each small grid
        self.village = parent.map(medium["name"]).fillna("").astype(str).to_numpy(dtype=object)
        self.town = parent.map(medium["parent_code"]).map(large["name"]).fillna("").astype(str).to_numpy(dtype=object)
        polys = np.asarray(small.geometry.values, dtype=object)
        inner = shapely.buffer(polys, -INNER_MARGIN_DEG)
        thin = shapely.is_empty(inner)
        if thin.any():
            inner[thin] = shapely.buffer(polys[thin], -INNER_MARGIN_DEG / 4)
            thin = shapely.is_empty(inner)
            inner[thin] = polys[thin]
        shapely.prepare(inner)
        self.inner = inner
        self.bounds = shapely.bounds(inner)
        rep = shapely.point_on_surface(polys)
        self.x, self.y = shapely.get_x(rep), shapely.get_y(rep)
        coslat = np.cos(np.radians(self.y))
        self.population = np.maximum(small["population"].to_numpy(dtype=float), 1.0)
        self.area = np.maximum(shapely.area(polys) * coslat, 1e-12)
        self.centres = city.centres
        self.outline = city.outline
        self._cdf: dict[str, np.ndarray] = {}
        for code, dept in depts.items():
            place = dept.spec["place"]
            base = self.population if place["by"] == "population" else self.area
            kernel = np.zeros(self.n)
            sigma = float(place["centre_km"])
            for c in self.centres.itertuples():
                d = np.hypot((self.x - c.lon) * 111.32 * coslat, (self.y - c.lat) * 110.57)
                kernel += float(c.weight) * np.exp(-0.5 * (d / sigma) ** 2)
            kernel /= max(kernel.max(), 1e-12)
            w = base * np.maximum(0.05, 1.0 + float(place["centre_boost"]) * kernel)
            self._cdf[code] = np.cumsum(w)

    def grids(self, rng: np.random.Generator, dept: str, n: int) -> np.ndarray:
        cdf = self._cdf[dept]
        return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), self.n - 1).astype(np.int32)

    def points(self, rng: np.random.Generator, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A uniform point inside each row's (slightly shrunk) small grid, by rejection in bulk."""
        n = len(grid)
        x, y = np.empty(n), np.empty(n)
        todo = np.arange(n)
        for _ in range(200):
            if not len(todo):
                break
            g = grid[todo]
            b = self.bounds[g]
            cx = b[:, 0] + rng.random(len(todo)) * (b[:, 2] - b[:, 0])
            cy = b[:, 1] + rng.random(len(todo)) * (b[:, 3] - b[:, 1])
            ok = shapely.contains_xy(self.inner[g], cx, cy)
            x[todo[ok]], y[todo[ok]] = cx[ok], cy[ok]
            todo = todo[~ok]
        if len(todo):  # degenerate grids: fall back to their representative point
            rep = shapely.point_on_surface(self.inner[grid[todo]])
            x[todo], y[todo] = shapely.get_x(rep), shapely.get_y(rep)
        return x, y

    def outside_points(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Points at sea or in the neighbouring cities: near the city but clear of its outline."""
        if n == 0:
            return np.empty(0), np.empty(0)
        far = shapely.buffer(self.outline, OUTSIDE_GAP_DEG)
        shapely.prepare(far)
        x0, y0, x1, y1 = self.outline.bounds
        pad = 0.12
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        have = 0
        while have < n:
            cx = rng.uniform(x0 - pad, x1 + pad, 2 * n + 16)
            cy = rng.uniform(y0 - pad, y1 + pad, 2 * n + 16)
            ok = ~shapely.contains_xy(far, cx, cy)
            xs.append(cx[ok])
            ys.append(cy[ok])
            have += int(ok.sum())
        return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


# --------------------------------------------------------------------------- the table of reports


_COLUMNS: dict[str, Any] = {
    "dept": np.int8, "cat": np.int32, "status": np.int8, "t_rep": np.int64, "t_disp": np.int64,
    "t_close": np.int64, "t_due": np.int64, "grid": np.int32, "link": np.int64, "bad": np.int8,
    "addr_only": bool, "target": bool,
}


class _Table:
    """Columns of all reports; rows are appended in blocks, joined when the columns are read."""

    _DEFAULTS: dict[str, Any] = {"link": -1, "bad": 0, "addr_only": False, "target": False, "t_disp": MISSING,
                                 "t_close": MISSING, "t_due": MISSING, "status": 0}

    def __init__(self) -> None:
        self._cols: dict[str, np.ndarray] = {k: np.empty(0, dtype=t) for k, t in _COLUMNS.items()}
        self._pending: list[dict[str, np.ndarray]] = []
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, **values: Any) -> np.ndarray:
        """Add a block of rows (missing columns take their defaults); return their row numbers."""
        n = len(values["t_rep"])
        block = {}
        for key, dtype in _COLUMNS.items():
            value = values.get(key, self._DEFAULTS.get(key))
            block[key] = np.broadcast_to(np.asarray(value, dtype=dtype), (n,))
        self._pending.append(block)
        start = self._size
        self._size += n
        return np.arange(start, start + n)

    @property
    def cols(self) -> dict[str, np.ndarray]:
        if self._pending:
            self._cols = {k: np.concatenate([self._cols[k], *(b[k] for b in self._pending)]) for k in _COLUMNS}
            self._pending = []
        return self._cols

    def __getitem__(self, key: str) -> np.ndarray:
        return self.cols[key]


def _log_uniform_hours(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return (np.exp(rng.uniform(math.log(lo), math.log(hi), n)) * 3600).astype(np.int64)


# --------------------------------------------------------------------------- generation stages


@dataclass
class _Context:
    recipe: dict[str, Any]
    depts: dict[str, _Dept]
    clock: _Clock
    geo: _Geo
    table: _Table = field(default_factory=_Table)


def _draw_category(rng: np.random.Generator, dept: _Dept, n: int, *, dispute: bool | None,
                   codes: list[str] | None = None) -> np.ndarray:
    w = dept.weights.copy()
    if dispute is not None:
        w = np.where(dept.is_dispute == dispute, w, 0.0)
    if codes is not None:
        w = np.where(np.isin(dept.codes, codes), w, 0.0)
    if w.sum() <= 0:
        raise ValueError(f"{dept.code}: no category text fits (dispute={dispute}, codes={codes})")
    return draw(rng, w, n).astype(np.int32)


def _estimated_dispute_rows(recipe: dict[str, Any], targets: dict[int, int]) -> float:
    structures = recipe["disputes"]["structures"]
    total = sum(float(s[2]) for s in structures)
    linked = sum(float(s[2]) for s in structures if s[1]) / total
    return sum(targets.values()) * (1.0 + linked) * 1.06


def _dispute_incidents(ctx: _Context, rng: np.random.Generator, targets: dict[int, int]) -> None:
    """Append dispute incidents so that resolved incidents per year equal `targets` exactly."""
    recipe, clock, depts = ctx.recipe, ctx.clock, ctx.depts
    spec = recipe["disputes"]
    structures = [(s[0], s[1], float(s[2])) for s in spec["structures"]]
    weights = np.array([s[2] for s in structures])
    # Base intensity: each year's share follows its target; months, Spring Festival on top.
    season = np.asarray(spec["months"], dtype=float)[clock.month] * clock.spring_bump(
        float(spec["spring_festival_boost"]), float(spec["spring_festival_peak_days"]),
        float(spec["spring_festival_width_days"]))
    factor = float(recipe["calibration"]["oversample"])
    total = sum(targets.values())
    if total == 0:
        return
    for _attempt in range(8):
        n = int(math.ceil(total * factor)) + 50
        kind = draw(rng, weights, n)
        parts: list[dict[str, np.ndarray]] = []
        for s, (root_code, link_code, _w) in enumerate(structures):
            idx = np.flatnonzero(kind == s)
            if not len(idx):
                continue
            root = depts[root_code]
            year_w = np.array([targets.get(int(y), 0) for y in clock.years], dtype=float)
            day_w = season * np.asarray(root.spec["weekdays"], dtype=float)[clock.weekday]
            per_year = np.bincount(clock.year - clock.years[0], weights=day_w)
            day_w = day_w * (year_w / np.maximum(per_year, 1e-12))[clock.year - clock.years[0]]
            m = len(idx)
            t0 = clock.sample(rng, m, day_w, root.spec["hours"], root.precision)
            cat0 = _draw_category(rng, root, m, dispute=True)
            grid = ctx.geo.grids(rng, root_code, m)
            w0 = workflow(rng, root, cat0, t0, clock.now)
            part = {"s": np.full(m, s), "t0": t0, "cat0": cat0, "grid": grid, **{k + "0": v for k, v in w0.items()}}
            if link_code:
                link = depts[link_code]
                lo, hi = spec["link_delay_hours"][link_code]
                t1 = office(rng, t0 + _log_uniform_hours(rng, float(lo), float(hi), m), link, t0 + 60)
                t1 -= t1 % link.precision
                has_link = t1 <= clock.now
                cat1 = link.text_index(root.codes[cat0])
                w1 = workflow(rng, link, cat1, np.minimum(t1, clock.now), clock.now)
                part.update({"has1": has_link, "t1": t1, "cat1": cat1, **{k + "1": v for k, v in w1.items()}})
            parts.append(part)
        # Resolution time of each incident: the earliest closure among its reports.
        resolved: list[np.ndarray] = []
        for part in parts:
            r = np.where(part["status0"] == CLOSED, part["t_close0"], np.iinfo(np.int64).max)
            if "has1" in part:
                r1 = np.where(part["has1"] & (part["status1"] == CLOSED), part["t_close1"], np.iinfo(np.int64).max)
                r = np.minimum(r, r1)
            resolved.append(r)
        res = np.concatenate(resolved)
        is_resolved = res != np.iinfo(np.int64).max
        year = np.where(is_resolved, clock.years_of(np.where(is_resolved, res, 0)), 0)
        short = [y for y, t in targets.items() if int(np.sum(year == y)) < t]
        if not short:
            break
        factor *= 1.4
    else:
        raise RuntimeError(f"could not draw enough dispute incidents for years {short}")
    keep = np.zeros(len(res), dtype=bool)
    for y, t in targets.items():
        pool = np.flatnonzero(year == y)
        keep[rng.choice(pool, size=t, replace=False)] = True
    open_pool = np.flatnonzero(~is_resolved)
    keep[open_pool[rng.random(len(open_pool)) < 1.0 / factor]] = True
    offset = 0
    table = ctx.table
    for part in parts:
        m = len(part["t0"])
        sel = keep[offset:offset + m]
        offset += m
        root_code, link_code, _ = structures[int(part["s"][0])]
        roots = table.append(dept=depts[root_code].index, cat=part["cat0"][sel], t_rep=part["t0"][sel],
                             t_disp=part["t_disp0"][sel], t_close=part["t_close0"][sel], t_due=part["t_due0"][sel],
                             status=part["status0"][sel], grid=part["grid"][sel])
        if link_code:
            has = part["has1"][sel]
            table.cols["target"][roots[has]] = True
            pick = np.flatnonzero(sel)[has]
            table.append(dept=depts[link_code].index, cat=part["cat1"][pick], t_rep=part["t1"][pick],
                         t_disp=part["t_disp1"][pick], t_close=part["t_close1"][pick], t_due=part["t_due1"][pick],
                         status=part["status1"][pick], grid=part["grid"][pick], link=roots[has])


def _regular_reports(ctx: _Context, rng: np.random.Generator, budget: int) -> dict[str, int]:
    """Non-dispute reports (links included) split by department share; returns each department's count."""
    depts, clock = ctx.depts, ctx.clock
    shares = np.array([float(depts[c].spec["share"]) for c in DEPARTMENTS])
    exact = budget * shares / shares.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(-(exact - counts), kind="stable")[: budget - counts.sum()]] += 1
    count = dict(zip(DEPARTMENTS, (int(c) for c in counts)))
    links = ctx.recipe.get("links", [])
    plain = dict(count)
    link_n: list[int] = []
    for spec in links:
        k = int(round(count[spec["dept"]] * float(spec["share"])))
        link_n.append(k)
        plain[spec["dept"]] -= k
    outside_share = float(ctx.recipe["outside"]["share"])
    for code in DEPARTMENTS:
        dept, n = depts[code], plain[code]
        if n <= 0:
            continue
        day_w = clock.day_weights(dept.spec["years"], dept.spec["months"], dept.spec["weekdays"])
        t = clock.sample(rng, n, day_w, dept.spec["hours"], dept.precision)
        cat = _draw_category(rng, dept, n, dispute=False)
        grid = ctx.geo.grids(rng, code, n)
        if code in POINT_DEPARTMENTS:
            grid[rng.random(n) < outside_share] = -1
        addr_only = np.zeros(n, dtype=bool)
        if "address_only" in dept.spec:
            addr_only = rng.random(n) < float(dept.spec["address_only"])
        ctx.table.append(dept=dept.index, cat=cat, t_rep=t, grid=grid, addr_only=addr_only,
                         **workflow(rng, dept, cat, t, clock.now))
    table = ctx.table
    for spec, k in zip(links, link_n):
        dept, target = depts[spec["dept"]], depts[spec["target"]]
        candidates = np.flatnonzero(
            (table["dept"] == target.index) & (table["bad"] == 0) & (table["link"] < 0) & ~table["target"]
            & (table["grid"] >= 0))
        candidates = candidates[np.isin(target.codes[table["cat"][candidates]], spec["target_codes"])]
        roots = np.sort(rng.choice(candidates, size=min(k, len(candidates)), replace=False))
        lo, hi = spec["delay_hours"]
        t = office(rng, table["t_rep"][roots] + _log_uniform_hours(rng, float(lo), float(hi), len(roots)), dept,
                    table["t_rep"][roots] + 60)
        t -= t % dept.precision
        ok = t <= clock.now
        roots, t = roots[ok], t[ok]
        table.cols["target"][roots] = True
        cat = _draw_category(rng, dept, len(roots), dispute=False, codes=list(spec["codes"]))
        table.append(dept=dept.index, cat=cat, t_rep=t, grid=table["grid"][roots], link=roots,
                     **workflow(rng, dept, cat, t, clock.now))
        # Links dropped because they would fall after "now" are made up as plain reports.
        missing = k - len(roots)
        if missing > 0:
            day_w = clock.day_weights(dept.spec["years"], dept.spec["months"], dept.spec["weekdays"])
            t = clock.sample(rng, missing, day_w, dept.spec["hours"], dept.precision)
            cat = _draw_category(rng, dept, missing, dispute=False)
            table.append(dept=dept.index, cat=cat, t_rep=t, grid=ctx.geo.grids(rng, dept.code, missing),
                         **workflow(rng, dept, cat, t, clock.now))
    return count


def _applicable_bad_kinds(code: str) -> list[int]:
    kinds = [BAD_MISSING_ID, BAD_MISSING_TIME, BAD_UNPARSEABLE_TIME, BAD_IMPOSSIBLE_DATE,
             BAD_CLOSED_BEFORE_REPORTED, BAD_UNKNOWN_CATEGORY, BAD_UNKNOWN_STATUS]
    if code in TEXT_POINT_DEPARTMENTS:
        kinds.append(BAD_COORDINATES)
    if code in CODE_DEPARTMENTS:
        kinds.append(BAD_GRID_CODE)
    return kinds


def _bad_rows(ctx: _Context, rng: np.random.Generator) -> None:
    """Extra rows the loader must reject, ~bad_rows.share of each file's valid rows, kinds mixed."""
    table, clock = ctx.table, ctx.clock
    share = float(ctx.recipe["bad_rows"]["share"])
    valid = np.bincount(table["dept"], minlength=len(DEPARTMENTS))
    for code in DEPARTMENTS:
        dept = ctx.depts[code]
        n_valid = int(valid[dept.index])
        if n_valid == 0:
            continue
        n = max(1, int(round(n_valid * share)))
        kinds = _applicable_bad_kinds(code)
        kind = np.resize(rng.permutation(kinds), n)
        rng.shuffle(kind)
        day_w = clock.day_weights(dept.spec["years"], dept.spec["months"], dept.spec["weekdays"])
        t = clock.sample(rng, n, day_w, dept.spec["hours"], dept.precision)
        cat = _draw_category(rng, dept, n, dispute=None)
        flow = workflow(rng, dept, cat, t, clock.now)
        before = kind == BAD_CLOSED_BEFORE_REPORTED
        early = t - _log_uniform_hours(rng, 1.0, 96.0, n)
        flow["t_close"] = np.where(before, early - early % dept.precision, flow["t_close"])
        flow["t_disp"] = np.where(before, MISSING, flow["t_disp"])
        flow["status"] = np.where(before, CLOSED, flow["status"]).astype(np.int8)
        table.append(dept=dept.index, cat=cat, t_rep=t, grid=ctx.geo.grids(rng, code, n), bad=kind, **flow)


def _resolved_by_year(ctx: _Context) -> dict[int, int]:
    """Recount resolved disputes from the table (the definition in the module docstring)."""
    table, depts = ctx.table, ctx.depts
    dispute_by_dept = [depts[c].is_dispute for c in DEPARTMENTS]
    is_dispute = np.zeros(len(table), dtype=bool)
    for i, flags in enumerate(dispute_by_dept):
        rows = table["dept"] == i
        is_dispute[rows] = flags[table["cat"][rows]]
    ok = is_dispute & (table["bad"] == 0) & (table["status"] == CLOSED) & (table["grid"] >= 0)
    incident = np.where(table["link"] >= 0, table["link"], np.arange(len(table)))[ok]
    closed = table["t_close"][ok]
    order = np.lexsort((closed, incident))
    first = np.unique(incident[order], return_index=True)[1]
    years = ctx.clock.years_of(closed[order][first])
    return {int(y): int(np.sum(years == y)) for y in ctx.clock.years}


# --------------------------------------------------------------------------- ids and export rows


def _ids(spec: dict[str, Any], t: np.ndarray) -> np.ndarray:
    """Source ids for rows already in time order: prefix + date or year + per-day/-year sequence."""
    d = t.astype("datetime64[s]")
    if spec["by"] == "day":
        key = t // DAY
        date = np.strings.replace(np.datetime_as_string(d.astype("datetime64[D]")).astype(_S), "-", "")
    else:
        key = d.astype("datetime64[Y]").astype(np.int64)
        date = (key + 1970).astype(_S)
    seq = np.arange(len(t)) - np.searchsorted(key, key, side="left") + 1
    out = np.strings.add(np.strings.add(str(spec["prefix"]), date), str(spec.get("sep", "")))
    return np.strings.add(out, np.strings.zfill(seq.astype(_S), int(spec["width"])))


def _bad_grid_codes(rng: np.random.Generator, codes: np.ndarray, known: frozenset[str]) -> np.ndarray:
    out = []
    for code in codes:
        code = str(code)
        for tail in ("99", "98", "97", "00", "999"):
            candidate = code[: -len(tail)] + tail
            if candidate not in known:
                break
        else:
            candidate = code + "9"
        out.append(candidate)
    return np.array(out, dtype=_S)


def _people(rng: np.random.Generator, spec: dict[str, Any], party: dict[str, Any], home_county: np.ndarray,
            t_rep: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic (name, phone, ID number) per distinct row; "" where the party leaves a field empty.

    Names: a weighted surname and one or two given-name characters (or 陈先生 / 林女士 for the
    `honorific` share). Phones: 11-digit mobiles with issued prefixes. ID numbers (GB 11643): the
    row's county (`home_county`, 0 when unknown) or another of `counties`, a birth date for an age in
    `age` at the report, a sequence odd for men and even for women, and the check character.
    """
    k = len(t_rep)
    surnames = np.array([str(s) for s, _w in spec["surnames"]], dtype=_S)
    surname = surnames[draw(rng, np.array([float(w) for _s, w in spec["surnames"]]), k)]
    male = rng.random(k) < float(spec["male"])
    chars_m = np.array(list(spec["given_male"]), dtype=_S)
    chars_f = np.array(list(spec["given_female"]), dtype=_S)
    given = [np.where(male, chars_m[rng.integers(0, len(chars_m), k)], chars_f[rng.integers(0, len(chars_f), k)]).astype(_S)
             for _ in range(2)]
    second = np.where(rng.random(k) < float(spec["two_character_given"]), given[1], "").astype(_S)
    full = np.strings.add(np.strings.add(surname, given[0]), second)
    honorific = np.strings.add(surname, np.where(male, "先生", "女士").astype(_S))
    u = rng.random(k)
    name_share, honorific_share = float(party.get("name", 0.0)), float(party.get("honorific", 0.0))
    name = np.where(u < name_share, full, np.where(u < name_share + honorific_share, honorific, "")).astype(_S)

    prefixes = np.array(spec["mobile_prefixes"], dtype=_S)
    phone = np.strings.add(prefixes[rng.integers(0, len(prefixes), k)],
                           np.strings.zfill(rng.integers(0, 10**8, k).astype(_S), 8))
    phone[rng.random(k) >= float(party.get("phone", 0.0))] = ""

    counties = np.array([int(c) for c in spec["counties"]], dtype=np.int64)
    stay = (rng.random(k) < float(spec["home_county"])) & np.isin(home_county, counties)
    county = np.where(stay, home_county, counties[rng.integers(0, len(counties), k)])
    lo, hi = (float(a) for a in spec["age"])
    born = (t_rep // DAY - (rng.uniform(lo, hi, k) * 365.2425).astype(np.int64)).astype("datetime64[D]")
    month_start = born.astype("datetime64[M]")
    ymd = ((born.astype("datetime64[Y]").astype(np.int64) + 1970) * 10_000 + (month_start.astype(np.int64) % 12 + 1) * 100
           + (born - month_start.astype("datetime64[D]")).astype(np.int64) + 1)
    sequence = rng.integers(0, 500, k) * 2 + male  # odd for men, even for women
    first17 = county * 10**11 + ymd * 1000 + sequence
    total = sum((first17 // 10 ** (16 - i) % 10) * w for i, w in enumerate(ID_WEIGHTS))
    check = np.array(list(ID_CHECK_CHARS), dtype=_S)[total % 11]
    id_number = np.strings.add(np.strings.zfill(first17.astype(_S), 17), check)
    id_number[rng.random(k) >= float(party.get("id_number", 0.0))] = ""
    return name, phone, id_number


def write_events(city: City, raw_dir: Path, *, events: int = 200_000, seed: int = 7) -> EventsTruth:
    """Write the seven departments' exports into raw_dir and return what they hold.

    `events` counts valid reports over all files; ~0.7 % bad rows and ~0.2 % exact repeats come on
    top. Deterministic for a seed.
    """
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    recipe = load_recipe()
    categories = tomllib.loads(CATEGORIES_PATH.read_text(encoding="utf-8"))
    depts = _departments(recipe, categories)
    streams = np.random.SeedSequence(seed).spawn(8)
    rng_disputes, rng_regular, rng_bad, rng_points, rng_ids, rng_write, rng_outside, rng_repeat = (
        np.random.default_rng(s) for s in streams)
    ctx = _Context(recipe=recipe, depts=depts, clock=_Clock(recipe), geo=_Geo(city, depts))

    targets = {int(y): int(v) for y, v in recipe["calibration"]["resolved_disputes"].items()}
    cap = float(recipe["calibration"]["max_dispute_share"]) * events
    needed = _estimated_dispute_rows(recipe, targets)
    if needed > cap:
        scale = cap / needed
        targets = {y: int(round(v * scale)) for y, v in targets.items()}
        warnings.warn(
            f"events={events:,} cannot hold the calibrated disputes (about {needed:,.0f} dispute reports, at most "
            f"{cap:,.0f} allowed): every resolved-dispute target is scaled by {scale:.3f}, calibration is off "
            f"(2019-2021 now {targets.get(2019)}, {targets.get(2020)}, {targets.get(2021)})",
            stacklevel=2,
        )
    _dispute_incidents(ctx, rng_disputes, targets)
    _regular_reports(ctx, rng_regular, max(0, events - len(ctx.table)))
    _bad_rows(ctx, rng_bad)
    table = ctx.table
    drawn_grid = table["grid"].copy()  # points are drawn for these grids, as before planting
    rng_plant = np.random.default_rng([seed, 4000])
    plan = planted.plant(ctx, rng_plant)

    resolved = _resolved_by_year(ctx)
    if resolved != targets:
        raise RuntimeError(f"internal error: resolved disputes {resolved} differ from the targets {targets}")

    # Places: a point inside each row's small grid; outside rows somewhere near but clear of the city.
    n = len(table)
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    inside = table["grid"] >= 0
    lon[inside], lat[inside] = ctx.geo.points(rng_points, drawn_grid[inside])
    moved = np.array(sorted(set(plan.moved) - set(plan.spot_rows)), dtype=np.int64)
    lon[moved], lat[moved] = ctx.geo.points(rng_plant, table["grid"][moved])
    spots = np.array(sorted(plan.spot_rows), dtype=np.int64)
    lon[spots], lat[spots] = planted.spot_points(plan, rng_plant, spots)
    outside = np.flatnonzero(~inside)
    lon[outside], lat[outside] = ctx.geo.outside_points(rng_outside, len(outside))

    # Ids per department in time order (bad rows included), then the link ids they point at.
    ids = np.empty(n, dtype=_S)
    for code in DEPARTMENTS:
        rows = np.flatnonzero(table["dept"] == depts[code].index)
        rows = rows[np.lexsort((rows, table["t_rep"][rows]))]
        ids[rows] = _ids(depts[code].spec["id"], table["t_rep"][rows])
    link = table["link"]
    linked = link >= 0
    link_id = np.full(n, "", dtype=_S)
    link_id[linked] = ids[link[linked]]
    link_dept = np.full(n, "", dtype=object)
    link_dept[linked] = np.array(DEPARTMENTS, dtype=object)[table["dept"][link[linked]]]

    bad_spec = recipe["bad_rows"]
    repeat_share = float(recipe["repeats"]["share"])
    files: dict[str, Path] = {}
    rows_by: dict[str, int] = {}
    bad_by: dict[str, int] = {}
    repeated_by: dict[str, int] = {}
    outside_by: dict[str, int] = {}
    refs: dict[str, EventRefs] = {}
    grid_codes = np.array(ctx.geo.codes, dtype=_S)
    grid_county = np.array([int(c[:6]) if c[:6].isdigit() else 0 for c in ctx.geo.codes], dtype=np.int64)
    people_spec = recipe.get("persons", {})
    towns = np.array(ctx.geo.town, dtype=_S)
    villages = np.array(ctx.geo.village, dtype=_S)
    for code in DEPARTMENTS:
        dept = depts[code]
        rows = np.flatnonzero(table["dept"] == dept.index)
        rows = rows[np.lexsort((rows, table["t_rep"][rows]))]
        bad = table["bad"][rows]
        valid = bad == 0
        # Exact repeats of valid rows inside the city, written a little later in the file.
        pool = np.flatnonzero(valid & (table["grid"][rows] >= 0))
        n_rep = min(len(pool), int(round(len(pool) * repeat_share)) if len(pool) >= 100 else min(len(pool), 1))
        repeat_of = np.sort(rng_repeat.choice(pool, size=n_rep, replace=False))
        order_key = np.concatenate([table["t_rep"][rows],
                                    table["t_rep"][rows][repeat_of] + rng_repeat.integers(60, 30 * DAY, n_rep)])
        position = np.concatenate([np.arange(len(rows)), repeat_of])
        position = position[np.lexsort((np.arange(len(position)), order_key))]
        out = rows[position]
        kind = table["bad"][out]
        g = table["grid"][out]
        has_grid = g >= 0
        gi = np.where(has_grid, g, 0)

        category = dept.texts[table["cat"][out]]
        unknown_cat = kind == BAD_UNKNOWN_CATEGORY
        category[unknown_cat] = rng_ids.choice(np.array(bad_spec["unknown_categories"], dtype=_S), unknown_cat.sum())
        status_idx = table["status"][out]
        status = np.empty(len(out), dtype=_S)
        for s, (texts, p) in enumerate(dept.status_texts):
            mask = status_idx == s
            # One draw per distinct source row, so a repeated row keeps its text.
            picked = draw(np.random.default_rng([seed, dept.index, s]), p, len(rows))
            status[mask] = texts[picked[position[mask]]]
        unknown_status = kind == BAD_UNKNOWN_STATUS
        status[unknown_status] = rng_ids.choice(np.array(bad_spec["unknown_statuses"], dtype=_S), unknown_status.sum())
        source_id = ids[out].copy()
        source_id[kind == BAD_MISSING_ID] = ""
        code_col = np.where(has_grid, grid_codes[gi], "").astype(_S)
        if code in CODE_DEPARTMENTS:
            code_col[table["addr_only"][out]] = ""
            wrong = kind == BAD_GRID_CODE
            code_col[wrong] = _bad_grid_codes(rng_ids, code_col[wrong], ctx.geo.code_set)

        # Per-row noise for the writers, drawn once per distinct row so repeats stay identical.
        k = len(rows)
        unparseable = np.array(bad_spec["unparseable_times"], dtype=_S)[rng_ids.integers(0, len(bad_spec["unparseable_times"]), k)]
        impossible = np.column_stack([
            rng_ids.integers(2019, 2026, k),
            np.array(_IMPOSSIBLE_MONTH_DAYS)[rng_ids.integers(0, len(_IMPOSSIBLE_MONTH_DAYS), k)],
            rng_ids.integers(0, 24, k), rng_ids.integers(0, 60, k), rng_ids.integers(0, 60, k),
        ])
        bad_coord = np.array(bad_spec["bad_coordinates"], dtype=_S)[rng_ids.integers(0, len(bad_spec["bad_coordinates"]), k)]
        # People named by the row (own stream: the other columns do not change with them).
        persons: dict[str, exports.People] = {}
        parties = people_spec.get("parties", {}).get(code, [])
        if parties:
            rng_people = np.random.default_rng([seed, 2000 + dept.index])
            row_grid = table["grid"][rows]
            home = np.where(row_grid >= 0, grid_county[np.maximum(row_grid, 0)], 0)
            for party in parties:
                name, phone, id_number = _people(rng_people, people_spec, party, home, table["t_rep"][rows])
                if planted.PERSON_ROLES.get(code) == party["role"]:
                    for i in np.flatnonzero(np.isin(rows, list(plan.person_rows))):
                        name[i], id_number[i] = plan.person_rows[int(rows[i])]
                persons[str(party["role"])] = exports.People(
                    name=name[position], phone=phone[position], id_number=id_number[position])

        export = exports.ExportRows(
            dept=code,
            source_id=source_id,
            category=category,
            code=dept.codes[table["cat"][out]],
            status=status,
            reported=table["t_rep"][out],
            dispatched=table["t_disp"][out],
            closed=table["t_close"][out],
            due=table["t_due"][out],
            bad=kind,
            lon=lon[out],
            lat=lat[out],
            grid_code=code_col,
            town=np.where(has_grid, towns[gi], "").astype(_S),
            village=np.where(has_grid, villages[gi], "").astype(_S),
            grid_index=g,
            link_dept=link_dept[out],
            link_id=link_id[out],
            unparseable_time=unparseable[position],
            impossible_date=impossible[position],
            bad_coordinate=bad_coord[position],
            row_key=position,
            persons=persons,
        )
        path = raw_dir / FILES[code]
        writer_spec = dict(dept.spec)
        if code == "urban_mgmt":
            writer_spec["linked_sources"] = {
                str(link["target"]): str(link["source"]) for link in recipe.get("links", []) if link["dept"] == code}
        exports.WRITERS[code](path, export, writer_spec, np.random.default_rng([seed, 1000 + dept.index]))
        files[code] = path
        rows_by[code] = len(out)
        bad_by[code] = int(np.sum(bad != 0))
        repeated_by[code] = n_rep
        outside_by[code] = int(np.sum(valid & (table["grid"][rows] < 0)))
        named = valid & (table["grid"][rows] >= 0)
        refs[code] = EventRefs(source_id=ids[rows][named], grid=table["grid"][rows][named],
                               reported=table["t_rep"][rows][named])
    def event_id(row: int) -> str:
        return f"{DEPARTMENTS[table['dept'][row]]}:{ids[row]}"

    return EventsTruth(files=files, rows_by_dept=rows_by, bad_rows_by_dept=bad_by,
                       repeated_rows_by_dept=repeated_by, outside_city_by_dept=outside_by,
                       resolved_disputes_by_year=resolved, refs_by_dept=refs, planted=plan.truth(event_id))
