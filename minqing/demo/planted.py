"""Patterns planted in the demo's events so the analysis (layers/warnings.py, hotspots.py, repeats.py) can be measured.

Planting never adds rows: it *re-places* existing plain background reports (no link, not linked to, valid, inside the
city) in time and space, drawn from a random stream of its own, so every file keeps its size, bad rows, repeats and
links, and the calibrated dispute figures stay exactly as they were (moved rows are non-disputes, or disputes whose
time and status stay put). What is planted (the truth, written to demo.json):

- spikes: in one small grid, one category, one 7-day window, max(SPIKE_MIN, ⌈3 × the expected weekly count⌉) reports
  of that category (the expected count: the grid's mean weekly count of the category over the 52 weeks before);
- emerging hotspots: a medium grid and its neighbours get reports rising linearly over the last 52 weeks to
  INTENSIFYING_PEAK a week ("intensifying"; taken from the nearest towns, enough for the whole rise), or
  appearing only in the last 4 weeks ("new"); "planted" vs "intended" in the truth shows a shortfall (tiny demos);
- repeat places: SPOT_DISPUTES dispute reports of the last 90 days moved to within SPOT_RADIUS_M of a fixed anchor;
- repeat petitioners: one person (same ID number) named by petitions and mediation cases of the last year.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import shapely

from etl.persons import ID_CHECK_CHARS, ID_WEIGHTS
from minqing.demo.sampling import DAY, draw, workflow

_Context = Any  # minqing.demo.events._Context: recipe, depts, clock, geo, table (events imports this module)

SPIKES = 40  # planted spikes, in distinct weeks of the last two years (two in the final 7 days)
SPIKE_MIN = 6  # reports of a spike at least
SPIKE_FACTOR = 3.0  # times the expected weekly count
EMERGING_WEEKS = 52
INTENSIFYING_PEAK = 3.0  # reports per medium grid in the last week of the rising cluster (mean; linear from ~0)
NEW_WEEKS = 4
NEW_RATE = 3.0  # reports per medium grid and week of the new cluster
SPOTS = 5  # repeat places
SPOT_DISPUTES = 5  # dispute reports moved to each
SPOT_RADIUS_M = 20.0  # around the anchor: every pair within 40 m, so one 50 m disc holds them all
SPOT_DAYS = 90
PERSONS = 6  # repeat petitioners
PERSON_ROWS = {"petition": 2, "mediation": 2}  # records naming each planted person
PERSON_ROLES = {"petition": "petitioner", "mediation": "applicant"}
PERSON_DAYS = 330
MOVABLE_DEPTS = ("grid_app",)  # emerging clusters take grid_app reports (the largest share, no seasonal test on it)
POINT_DISPUTE_DEPTS = ("police110", "hotline12345", "grid_app")
M_PER_DEG_LAT = 110_574.0


@dataclass
class Plan:
    """The re-placed rows and what they form; `truth()` is what demo.json records."""

    spikes: list[dict[str, Any]] = field(default_factory=list)
    emerging: list[dict[str, Any]] = field(default_factory=list)
    spots: list[dict[str, Any]] = field(default_factory=list)
    persons: list[dict[str, Any]] = field(default_factory=list)
    spot_rows: dict[int, tuple[float, float]] = field(default_factory=dict)  # table row -> anchor (lon, lat)
    person_rows: dict[int, tuple[str, str]] = field(default_factory=dict)  # table row -> (name, id_number)
    moved: list[int] = field(default_factory=list)  # rows whose grid changed (their points are drawn again)

    def truth(self, event_id: Callable[[int], str]) -> dict[str, Any]:
        """The planted patterns with the event ids of their reports (`event_id`: table row -> 'dept:source_id')."""
        def ids(rows: list[int]) -> list[str]:
            return sorted(event_id(r) for r in rows)

        return {
            "spikes": [{k: v for k, v in s.items() if k != "rows"} | {"events": ids(s["rows"])} for s in self.spikes],
            "emerging": [{k: v for k, v in e.items() if k != "rows"} for e in self.emerging],
            "repeat_places": [{k: v for k, v in s.items() if k != "rows"} | {"events": ids(s["rows"])}
                              for s in self.spots],
            "repeat_persons": [{k: v for k, v in p.items() if k not in ("rows", "id_number", "name")}
                               | {"events": ids(p["rows"])} for p in self.persons],
        }


def plant(ctx: _Context, rng: np.random.Generator) -> Plan:
    """Re-place background reports into the planted patterns (module docstring); the table is changed in place."""
    plan = Plan()
    free = _free_rows(ctx)
    end_day = ctx.clock.now // DAY + 1  # the first midnight after the data
    _spikes(ctx, rng, plan, free, end_day)
    _emerging(ctx, rng, plan, free, end_day)
    _spots(ctx, rng, plan, end_day)
    _persons(ctx, rng, plan, end_day)
    return plan


# --------------------------------------------------------------------------- helpers


def _per_row(ctx: _Context, attribute: str, dtype: type | str) -> np.ndarray:
    """For every row, its department's per-category-text `attribute` (e.g. `codes`, `is_dispute`) at its text."""
    t = ctx.table
    out = np.zeros(len(t), dtype=dtype)
    for dept in ctx.depts.values():
        rows = t["dept"] == dept.index
        out[rows] = getattr(dept, attribute)[t["cat"][rows]]
    return out


def _disputes(ctx: _Context) -> np.ndarray:
    """Which rows have a dispute category."""
    return _per_row(ctx, "is_dispute", bool)


def _free_rows(ctx: _Context) -> np.ndarray:
    """Plain background reports that may move: valid, inside the city, no link either way, not a dispute."""
    t = ctx.table
    return (t["bad"] == 0) & (t["grid"] >= 0) & (t["link"] < 0) & ~t["target"] & ~t["addr_only"] & ~_disputes(ctx)


def _take(rng: np.random.Generator, free: np.ndarray, candidates: np.ndarray, n: int) -> np.ndarray:
    """n rows of `candidates` that are still free (marked taken), or fewer when there are not enough."""
    pool = candidates[free[candidates]]
    chosen = rng.choice(pool, size=min(n, len(pool)), replace=False) if len(pool) else pool
    free[chosen] = False
    return np.sort(chosen)


def _move(ctx: _Context, rng: np.random.Generator, rows: np.ndarray, grids: np.ndarray, day0: np.ndarray,
          days: np.ndarray) -> None:
    """Give `rows` new grids and report times (uniform day in [day0, day0 + days), the department's hours), and a
    workflow drawn afresh for the new time."""
    t = ctx.table
    t.cols["grid"][rows] = grids
    for code, dept in ctx.depts.items():
        mine = np.flatnonzero(t["dept"][rows] == dept.index)
        if not len(mine):
            continue
        r = rows[mine]
        day = day0[mine] + (rng.random(len(r)) * days[mine]).astype(np.int64)
        hour = draw(rng, np.asarray(dept.spec["hours"], dtype=float), len(r))
        stamp = day * DAY + hour * 3600 + rng.integers(0, 3600, len(r))
        stamp = np.minimum(stamp - stamp % dept.precision, ctx.clock.now - ctx.clock.now % dept.precision)
        flow = workflow(rng, dept, t["cat"][r], stamp, ctx.clock.now)
        t.cols["t_rep"][r] = stamp
        for key in ("t_disp", "t_close", "t_due", "status"):
            t.cols[key][r] = flow[key]


def _codes(ctx: _Context) -> np.ndarray:
    """The canonical category code of every row."""
    return _per_row(ctx, "codes", object)


def _same_town(ctx: _Context, grid: int) -> np.ndarray:
    """Rows whose small grid lies in the same large grid (town) as `grid`: moves stay inside a town."""
    towns = ctx.geo.town
    return (ctx.table["grid"] >= 0) & (towns[np.maximum(ctx.table["grid"], 0)] == towns[grid])


def _day_text(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


# --------------------------------------------------------------------------- spikes


def _spikes(ctx: _Context, rng: np.random.Generator, plan: Plan, free: np.ndarray, end_day: int) -> None:
    t, geo = ctx.table, ctx.geo
    codes = _codes(ctx)
    last_monday = end_day - 1 - (end_day - 1 + 3) % 7  # weekday of day d is (d + 3) % 7, Monday = 0
    weeks = rng.choice(np.arange(2, 100), size=SPIKES - 2, replace=False)
    starts = sorted([int(last_monday - 7 * w) for w in weeks]) + [end_day - 7, end_day - 7]
    depts = [d for d in ctx.depts.values() if (~d.is_dispute).any()]
    for start in starts:
        for _attempt in range(20):
            dept = depts[int(rng.integers(len(depts)))]
            choices = np.flatnonzero(~dept.is_dispute)
            code = str(dept.codes[choices[int(rng.integers(len(choices)))]])
            grid = int(geo.grids(rng, dept.code, 1)[0])
            same = (codes == code) & (t["grid"] == grid) & (t["bad"] == 0)
            recent = same & (t["t_rep"] >= (start - 52 * 7) * DAY) & (t["t_rep"] < start * DAY)
            expected = float(recent.sum()) / 52.0
            n = max(SPIKE_MIN, math.ceil(SPIKE_FACTOR * expected))
            source = np.flatnonzero(free & (codes == code) & (t["dept"] == dept.index) & _same_town(ctx, grid))
            if len(source[free[source]]) < n or any(s["start"] == _day_text(start) and s["grid_index"] == grid
                                                    for s in plan.spikes):
                continue
            rows = _take(rng, free, source, n)
            _move(ctx, rng, rows, np.full(n, grid, dtype=np.int32), np.full(n, start), np.full(n, 7))
            plan.moved += rows.tolist()
            plan.spikes.append({"grid": str(geo.codes[grid]), "grid_index": grid, "category": code,
                                "dept": dept.code, "start": _day_text(start), "end": _day_text(start + 7),
                                "planted": int(n), "expected_weekly": round(expected, 3), "rows": rows.tolist()})
            break
    for spike in plan.spikes:
        spike.pop("grid_index")


# --------------------------------------------------------------------------- emerging hotspots


def _neighbours(polys: np.ndarray, i: int) -> list[int]:
    """Indices of the polygons touching polygon i (queen contiguity), nearest first."""
    tree = shapely.STRtree(polys)
    hits = [int(j) for j in tree.query(shapely.buffer(polys[i], 0.0005), predicate="intersects") if j != i]
    return sorted(hits, key=lambda j: shapely.distance(shapely.centroid(polys[i]), shapely.centroid(polys[j])))


def _nearby_rows(ctx: _Context, candidates: np.ndarray, centre: shapely.Point, wanted: float) -> np.ndarray:
    """Rows of `candidates` from the towns nearest `centre`, town by town until there are `wanted` (a town's own
    reports are too few for a year-long rise at the test demo's size; the whole city would thin the busy centre)."""
    geo, grid = ctx.geo, np.maximum(ctx.table["grid"], 0)
    towns = np.unique(geo.town)
    x, y = shapely.get_x(shapely.centroid(geo.inner)), shapely.get_y(shapely.centroid(geo.inner))
    middle = shapely.points([x[geo.town == town].mean() for town in towns],
                            [y[geo.town == town].mean() for town in towns])
    chosen = np.zeros(len(candidates), dtype=bool)
    for i in np.argsort(shapely.distance(middle, centre), kind="stable"):
        chosen |= candidates & (geo.town[grid] == towns[i])
        if chosen.sum() >= wanted:
            break
    return np.flatnonzero(chosen)


def _emerging(ctx: _Context, rng: np.random.Generator, plan: Plan, free: np.ndarray, end_day: int) -> None:
    t, geo = ctx.table, ctx.geo
    medium_of_small = geo.parent
    mediums = np.unique(medium_of_small)
    polys = np.array([shapely.union_all(geo.inner[medium_of_small == m]) for m in mediums], dtype=object)
    population = np.array([geo.population[medium_of_small == m].sum() for m in mediums])
    centre = np.zeros(len(mediums))
    for c in geo.centres.itertuples():
        pts = shapely.centroid(polys)
        d = np.hypot((shapely.get_x(pts) - c.lon) * 102.0, (shapely.get_y(pts) - c.lat) * 110.6)
        centre = np.maximum(centre, np.exp(-d / 8.0))
    # Quiet places with several neighbours: below-median population, away from the town centres.
    quiet = np.flatnonzero((population <= np.median(population)) & (centre < np.quantile(centre, 0.5)))
    rng.shuffle(quiet)
    used: set[int] = set()
    movable = free & np.isin(t["dept"], [ctx.depts[d].index for d in MOVABLE_DEPTS])
    for kind in ("intensifying", "new"):
        for core in quiet:
            ring = _neighbours(polys, int(core))[:6]
            cluster = [int(core), *ring]
            if len(ring) < 4 or used & set(cluster) or any(set(_neighbours(polys, j)) & used for j in cluster):
                continue
            used |= set(cluster)
            weeks = EMERGING_WEEKS if kind == "intensifying" else NEW_WEEKS
            rates = [INTENSIFYING_PEAK * (EMERGING_WEEKS - w) / EMERGING_WEEKS if kind == "intensifying" else NEW_RATE
                     for w in range(weeks)]
            intended = sum(rates) * len(cluster)
            source = _nearby_rows(ctx, movable & free, shapely.centroid(polys[core]), 1.5 * intended)
            rows_all: list[int] = []
            for w, rate in enumerate(rates):
                week_start = end_day - 7 * (w + 1)
                for m in cluster:
                    n = int(rng.poisson(rate))
                    smalls = np.flatnonzero(medium_of_small == mediums[m])
                    rows = _take(rng, free, source, n)
                    if not len(rows):
                        continue
                    grids = smalls[rng.integers(0, len(smalls), len(rows))].astype(np.int32)
                    _move(ctx, rng, rows, grids, np.full(len(rows), week_start), np.full(len(rows), 7))
                    rows_all += rows.tolist()
            plan.moved += rows_all
            plan.emerging.append({"kind": kind, "core": str(mediums[core]),
                                  "cluster": [str(mediums[m]) for m in cluster], "weeks": weeks,
                                  "end": _day_text(end_day),
                                  "planted": len(rows_all), "intended": round(intended, 1), "rows": rows_all})
            break


# --------------------------------------------------------------------------- repeat places and people


def _spots(ctx: _Context, rng: np.random.Generator, plan: Plan, end_day: int) -> None:
    """Dispute reports of the last SPOT_DAYS (unlinked, with a point) moved next to an anchor: time, category and
    status stay, so the dispute figures do not change."""
    t, geo = ctx.table, ctx.geo
    point_depts = [ctx.depts[d].index for d in POINT_DISPUTE_DEPTS]
    dispute = _disputes(ctx)
    since = (end_day - SPOT_DAYS) * DAY
    pool = np.flatnonzero(dispute & (t["bad"] == 0) & (t["grid"] >= 0) & (t["link"] < 0) & ~t["target"]
                          & np.isin(t["dept"], point_depts) & (t["t_rep"] >= since))
    rng.shuffle(pool)
    for s in range(SPOTS):
        rows = np.sort(pool[s * SPOT_DISPUTES:(s + 1) * SPOT_DISPUTES])
        if len(rows) < SPOT_DISPUTES:
            break
        grid = int(geo.grids(rng, "police110", 1)[0])
        anchor = shapely.point_on_surface(geo.inner[grid])
        lon, lat = float(anchor.x), float(anchor.y)
        t.cols["grid"][rows] = grid
        plan.moved += rows.tolist()
        for r in rows:
            plan.spot_rows[int(r)] = (lon, lat)
        plan.spots.append({"grid": str(geo.codes[grid]), "lon": round(lon, 6), "lat": round(lat, 6),
                           "radius_m": SPOT_RADIUS_M, "disputes": len(rows), "since": _day_text(end_day - SPOT_DAYS),
                           "rows": rows.tolist()})


def spot_points(plan: Plan, rng: np.random.Generator, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points within SPOT_RADIUS_M of each row's anchor (uniform in the disc)."""
    anchors = np.array([plan.spot_rows[int(r)] for r in rows], dtype=float).reshape(-1, 2)
    radius = SPOT_RADIUS_M * np.sqrt(rng.random(len(rows)))
    angle = rng.random(len(rows)) * 2 * np.pi
    dlat = radius * np.sin(angle) / M_PER_DEG_LAT
    dlon = radius * np.cos(angle) / (M_PER_DEG_LAT * np.cos(np.radians(anchors[:, 1])))
    return anchors[:, 0] + dlon, anchors[:, 1] + dlat


def _id_number(rng: np.random.Generator) -> str:
    """A GB 11643 ID number (a Shanwei county, a birth date 1950-1995, a sequence, the check character)."""
    born = np.datetime64("1950-01-01") + int(rng.integers(0, 45 * 365))
    first17 = f"441502{str(born).replace('-', '')}{int(rng.integers(0, 1000)):03d}"
    return first17 + ID_CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS)) % 11]


def _persons(ctx: _Context, rng: np.random.Generator, plan: Plan, end_day: int) -> None:
    t = ctx.table
    surnames = [str(s) for s, _w in ctx.recipe["persons"]["surnames"] if len(str(s)) == 1]
    given = str(ctx.recipe["persons"]["given_male"])
    since = (end_day - PERSON_DAYS) * DAY
    pools = {}
    for dept, k in PERSON_ROWS.items():
        pool = np.flatnonzero((t["dept"] == ctx.depts[dept].index) & (t["bad"] == 0) & (t["grid"] >= 0)
                              & (t["link"] < 0) & ~t["target"] & (t["t_rep"] >= since))
        rng.shuffle(pool)
        pools[dept] = list(pool)
    taken = {dept: 0 for dept in PERSON_ROWS}
    for _p in range(PERSONS):
        if any(len(pools[d]) - taken[d] < k for d, k in PERSON_ROWS.items()):
            break
        id_number = _id_number(rng)
        name = surnames[int(rng.integers(len(surnames)))] + given[int(rng.integers(len(given)))] \
            + given[int(rng.integers(len(given)))]
        rows: list[int] = []
        for dept, k in PERSON_ROWS.items():
            for r in pools[dept][taken[dept]:taken[dept] + k]:
                plan.person_rows[int(r)] = (name, id_number)
                rows.append(int(r))
            taken[dept] += k
        plan.persons.append({"departments": sorted(PERSON_ROWS), "records": len(rows), "id_number": id_number,
                             "name": name, "rows": rows})
