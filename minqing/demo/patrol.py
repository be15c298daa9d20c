"""The demo city's grid workers: the civil-affairs roster (XLSX) and the grid-worker app's monthly check-in files."""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from etl.coords import wgs84_to_gcj02
from minqing.demo import events as ev
from minqing.demo import exports as ex
from minqing.demo.city import KM_PER_DEG_LAT, KM_PER_DEG_LON, City
from minqing.demo.sampling import draw

__all__ = ["GridWorkersTruth", "PatrolTruth", "RosterTruth", "write_grid_workers", "ROSTER_FILE", "ROSTER_HEADER",
           "ROSTER_SHEET", "PATROL_DIR", "PATROL_GLOB"]

ROSTER_FILE = "roster.xlsx"
ROSTER_SHEET = "网格人员花名册"
ROSTER_HEADER = ["序号", "人员编号", "姓名", "性别", "联系电话", "岗位", "所属网格编码", "所属网格名称", "联系户数", "入职日期",
                 "离岗日期", "备注"]
PATROL_DIR = "patrol"
PATROL_GLOB = "checkins_*.jsonl"
LEADER, FULL_TIME, PART_TIME, HOUSEHOLD_HEAD = "网格长", "专职网格员", "兼职网格员", "联户长"
ROLE_CODES = {LEADER: "grid_leader", FULL_TIME: "grid_worker", PART_TIME: "grid_worker",
              HOUSEHOLD_HEAD: "household_head"}  # what mappings/roster.toml must map the 岗位 texts to
SEPARATOR = "、"  # between the codes (and names) of a person's grids, as mappings/roster.toml says
NO_END = 1 << 40  # the leaving day of someone still employed (days since 1970-01-01)
DAY = ev.DAY
WORKING, WEEKEND, HOLIDAY = 0, 1, 2  # kinds of days

# Bad roster rows and bad check-ins (0 = valid), with their names in the truth.
BAD_ROLE, BAD_GRID, BAD_ID = 1, 2, 3
BAD_ROSTER_NAMES = {BAD_ROLE: "unknown_role", BAD_GRID: "unknown_grid_code", BAD_ID: "missing_worker_id"}
BAD_TYPE, BAD_TIME, BAD_COORDINATE, BAD_WORKER = 1, 2, 3, 4
BAD_CHECKIN_NAMES = {BAD_TYPE: "unknown_type", BAD_TIME: "unparseable_time", BAD_COORDINATE: "non_numeric_lng",
                     BAD_WORKER: "missing_worker_no"}

_STREAM = 3000  # own random streams [seed, _STREAM, ...]; the event exports use other seeds
_OFF_BEAT_MARGIN_KM = 0.1  # safety over the recipe's minimum distance (the km plane is approximate)
_OFF_BEAT_TRIES = 200
_LAND_MARGIN_DEG = 0.002  # an off-beat point counts as outside the city this far from its outline
_S = np.dtypes.StringDType()


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RosterTruth:
    """What the roster file holds."""

    path: Path
    rows: int  # data rows, bad rows and repeats included
    bad_rows_by_kind: dict[str, int]  # unknown_role, unknown_grid_code, missing_worker_id
    repeated_rows: int  # exact repeats of a valid row (the same person twice)
    persons_by_role: dict[str, int]  # valid distinct persons per 岗位 text
    two_grid_workers: int  # grid workers covering two small grids
    left: int  # persons with a 离岗日期 (each has a successor)

    def summary(self) -> dict[str, Any]:
        return {"rows": self.rows, "bad_rows": sum(self.bad_rows_by_kind.values()),
                "bad_rows_by_kind": self.bad_rows_by_kind, "repeated_rows": self.repeated_rows,
                "persons": sum(self.persons_by_role.values()), "persons_by_role": self.persons_by_role,
                "two_grid_workers": self.two_grid_workers, "left": self.left}


@dataclass(frozen=True)
class PatrolTruth:
    """What the check-in files hold."""

    files: list[Path]
    first_day: dt.date
    last_day: dt.date
    rows: int  # lines, bad rows and repeats included
    bad_rows_by_kind: dict[str, int]  # unknown_type, unparseable_time, non_numeric_lng, missing_worker_no
    repeated_rows: int  # exact repeats of a valid line
    off_beat: int  # valid check-ins 3-30 km from all of the worker's grids
    outside_city: int  # of them, those outside every small grid (at sea or in a neighbour)
    unknown_worker: int  # valid check-ins by a workerNo that is not on the roster
    by_type: dict[str, int]  # valid check-ins (repeats not counted) per checkinType text
    neglected: list[dict[str, Any]]  # small grids nobody visits at the end: code, neglected_from, last_visit
    past_neglect: list[dict[str, Any]]  # earlier stretches without visits: code, first, last

    def summary(self) -> dict[str, Any]:
        return {"first_day": self.first_day.isoformat(), "last_day": self.last_day.isoformat(),
                "files": len(self.files), "rows": self.rows, "bad_rows": sum(self.bad_rows_by_kind.values()),
                "bad_rows_by_kind": self.bad_rows_by_kind, "repeated_rows": self.repeated_rows,
                "off_beat": self.off_beat, "outside_city": self.outside_city, "unknown_worker": self.unknown_worker,
                "by_type": self.by_type, "neglected": self.neglected, "past_neglect": self.past_neglect}


@dataclass(frozen=True)
class GridWorkersTruth:
    roster: RosterTruth
    patrol: PatrolTruth


# --------------------------------------------------------------------------- small helpers


def _day(d: dt.date) -> int:
    """Days since 1970-01-01."""
    return int(np.datetime64(d, "D").astype(np.int64))


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def _sequence(keys: np.ndarray) -> np.ndarray:
    """1, 2, ... within each key, in array order."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    seq = np.empty(len(keys), dtype=np.int64)
    seq[order] = np.arange(len(keys)) - np.searchsorted(ordered, ordered, side="left") + 1
    return seq


def _pick(options: list[str], draw: np.ndarray) -> np.ndarray:
    """options[draw % len(options)] as text."""
    return np.array(options, dtype=_S)[draw % len(options)]


def _check_texts(recipe: dict[str, Any]) -> None:
    """The texts written must be the ones the mappings know, and the bad rows' texts ones they do not."""
    spec = recipe["patrol"]
    roster = tomllib.loads((ev.MAPPINGS_DIR / "roster.toml").read_text(encoding="utf-8"))
    patrol = tomllib.loads((ev.MAPPINGS_DIR / "patrol.toml").read_text(encoding="utf-8"))
    roles, types = roster["role"]["map"], patrol["visit_type"]["map"]
    problems = [f"role {text!r} must map to {code} in roster.toml" for text, code in ROLE_CODES.items()
                if roles.get(text) != code]
    problems += [f"checkinType {text!r} is missing in patrol.toml" for text in spec["types"] if text not in types]
    problems += [f"unknown role {text!r} is known to roster.toml" for text in spec["roster"]["unknown_roles"]
                 if text in roles]
    problems += [f"unknown type {text!r} is known to patrol.toml" for text in spec["unknown_types"] if text in types]
    if roster["roster"]["separator"] != SEPARATOR:
        problems.append(f"roster.toml separates grid codes by {roster['roster']['separator']!r}, not {SEPARATOR!r}")
    if problems:
        raise ValueError("recipe [patrol] and the mappings disagree: " + "; ".join(problems))


# --------------------------------------------------------------------------- the roster


@dataclass(frozen=True)
class Staff:
    """The valid persons of the roster, in roster order."""

    worker_id: np.ndarray  # 人员编号
    name: np.ndarray
    sex: np.ndarray  # 男 / 女
    phone: np.ndarray
    role: np.ndarray  # 岗位 text
    grids: np.ndarray  # (n, 2) small-grid indices; the second is -1 unless the person covers two; leaders -1, -1
    medium: np.ndarray  # medium-grid index of a leader, else -1
    households: np.ndarray  # 联系户数 of a 联户长, else 0
    start: np.ndarray  # 入职日期 (days since 1970-01-01)
    end: np.ndarray  # 离岗日期: no work from that day on; NO_END while employed
    predecessor: np.ndarray  # the person this one replaced, else -1

    def __len__(self) -> int:
        return len(self.worker_id)

    @property
    def is_worker(self) -> np.ndarray:
        return (self.role == FULL_TIME) | (self.role == PART_TIME)


def _adjacent_pairs(city: City) -> np.ndarray:
    """(k, 2) indices i < j of small grids in the same village that share an edge."""
    polys = np.asarray(city.small.geometry.values, dtype=object)
    i, j = shapely.STRtree(polys).query(polys, predicate="touches")
    parent = city.small["parent_code"].to_numpy(dtype=object)
    keep = (i < j) & (parent[i] == parent[j])
    i, j = i[keep], j[keep]
    shared = shapely.length(shapely.intersection(shapely.boundary(polys[i]), shapely.boundary(polys[j])))
    return np.column_stack([i, j])[shared > 0]


def _matching(rng: np.random.Generator, pairs: np.ndarray, n_nodes: int, wanted: int) -> np.ndarray:
    """Up to `wanted` disjoint pairs at random: rounds keep each pair whose random priority is lowest at both ends."""
    chosen: list[np.ndarray] = []
    free = np.ones(n_nodes, dtype=bool)
    left = pairs
    while len(left) and sum(len(c) for c in chosen) < wanted:
        priority = rng.random(len(left))
        lowest = np.full(n_nodes, np.inf)
        np.minimum.at(lowest, left[:, 0], priority)
        np.minimum.at(lowest, left[:, 1], priority)
        win = (lowest[left[:, 0]] == priority) & (lowest[left[:, 1]] == priority)
        chosen.append(left[win])
        free[left[win].ravel()] = False
        left = left[free[left[:, 0]] & free[left[:, 1]]]
    found = np.concatenate(chosen) if chosen else np.empty((0, 2), dtype=np.int64)
    pick = np.sort(rng.permutation(len(found))[:wanted])
    return found[pick]


def _worker_posts(rng: np.random.Generator, city: City, spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Home small grid and second grid (-1) of every grid-worker post.

    Each small grid has one or two posts; for a share of disjoint adjacent pairs of one village, the last
    post of the first grid also covers the second grid, whose last post goes.
    """
    n = len(city.small)
    count = 1 + (rng.random(n) < float(spec["two_workers"])).astype(np.int64)
    share = float(spec["shared_workers"])
    pairs = _matching(rng, _adjacent_pairs(city), n, int(round(share * count.sum() / (1.0 + share))))
    partner = np.full(n, -1)
    partner[pairs[:, 0]] = pairs[:, 1]
    covered = np.zeros(n, dtype=bool)
    covered[pairs[:, 1]] = True
    home = np.repeat(np.arange(n), count)
    last = np.r_[home[1:] != home[:-1], True]
    second = np.where(last, partner[home], -1)
    keep = ~(last & covered[home])
    return home[keep], second[keep]


def _posts(rng: np.random.Generator, city: City,
           spec: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Role, grids (n, 2), medium index and 联系户数 of every post: leaders, grid workers, 联户长."""
    n_small, n_medium = len(city.small), len(city.medium)
    home, second = _worker_posts(rng, city, spec)
    full = rng.random(len(home)) < float(spec["full_time"])
    lo, hi = spec["household_heads"]
    heads = np.repeat(np.arange(n_small), rng.integers(int(lo), int(hi) + 1, n_small))
    lo, hi = spec["households"]
    role = np.concatenate([np.full(n_medium, LEADER, dtype=_S), np.where(full, FULL_TIME, PART_TIME).astype(_S),
                           np.full(len(heads), HOUSEHOLD_HEAD, dtype=_S)])
    grids = np.concatenate([np.full((n_medium, 2), -1), np.column_stack([home, second]),
                            np.column_stack([heads, np.full(len(heads), -1)])]).astype(np.int64)
    medium = np.concatenate([np.arange(n_medium), np.full(len(home) + len(heads), -1)])
    households = np.concatenate([np.zeros(n_medium + len(home), dtype=np.int64),
                                 rng.integers(int(lo), int(hi) + 1, len(heads))])
    return role, grids, medium, households


def _hire_days(rng: np.random.Generator, spec: dict[str, Any], n: int) -> np.ndarray:
    first, split, last = (_day(d) for d in spec["hired"])
    early = rng.random(n) < float(spec["hired_early"])
    return np.where(early, rng.integers(first, split + 1, n), rng.integers(split + 1, last + 1, n))


def _leave_days(rng: np.random.Generator, spec: dict[str, Any], start: np.ndarray, may_leave: np.ndarray) -> np.ndarray:
    lo, hi = (_day(d) for d in spec["left_between"])
    earliest = np.maximum(start + int(spec["min_tenure_days"]), lo)
    leaves = may_leave & (rng.random(len(start)) < float(spec["left"])) & (earliest <= hi)
    day = earliest + (rng.random(len(start)) * (hi - earliest + 1)).astype(np.int64)
    return np.where(leaves, day, NO_END)


def _worker_ids(role: np.ndarray, grids: np.ndarray, medium: np.ndarray) -> np.ndarray:
    """WGZ + medium index for leaders, WGY + small index + 1 digit for grid workers (the grid_app `reporter`
    format), LHZ + small index + 2 digits for 联户长; the digits count the people of the home grid."""
    ids = np.empty(len(role), dtype=_S)
    leader = role == LEADER
    ids[leader] = ex._cat("WGZ", ex._int(medium[leader], 5))
    workers, heads = (role == FULL_TIME) | (role == PART_TIME), role == HOUSEHOLD_HEAD
    for kind, prefix, width in ((workers, "WGY", 1), (heads, "LHZ", 2)):
        home = grids[kind, 0]
        seq = _sequence(home)
        if len(seq) and seq.max() >= 10**width:
            raise RuntimeError(f"too many {prefix} people in one grid for {width} digit(s)")
        ids[kind] = ex._cat(prefix, ex._int(home, 5), ex._int(seq, width))
    return ids


def _persons(rng: np.random.Generator, recipe: dict[str, Any], county: np.ndarray,
             start: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Name, sex and mobile per person, from the events' people generator (sex from the ID number's sequence)."""
    name, phone, id_number = ev._people(rng, recipe["persons"], {"name": 1.0, "phone": 1.0, "id_number": 1.0}, county,
                                        start * DAY)
    male = np.strings.slice(id_number, 16, 17).astype(np.int64) % 2 == 1
    return name, np.where(male, "男", "女").astype(_S), phone


def _staff(rng: np.random.Generator, rng_people: np.random.Generator, city: City, recipe: dict[str, Any],
           grid_codes: np.ndarray, medium_codes: np.ndarray) -> Staff:
    """Everyone on the roster: the posts' first holders, and a successor (same post) for each who left."""
    spec = recipe["patrol"]["roster"]
    role, grids, medium, households = _posts(rng, city, spec)
    start = _hire_days(rng, spec, len(role))
    end = _leave_days(rng, spec, start, role != LEADER)
    left = np.flatnonzero(end != NO_END)
    successor_role = role[left].copy()
    workers = (successor_role == FULL_TIME) | (successor_role == PART_TIME)
    successor_role[workers] = np.where(rng.random(int(workers.sum())) < float(spec["full_time"]), FULL_TIME, PART_TIME)
    role = np.concatenate([role, successor_role])
    grids = np.concatenate([grids, grids[left]])
    medium = np.concatenate([medium, medium[left]])
    households = np.concatenate([households, households[left]])
    start = np.concatenate([start, end[left]])
    end = np.concatenate([end, np.full(len(left), NO_END)])
    predecessor = np.concatenate([np.full(len(end) - len(left), -1), left])
    ids = _worker_ids(role, grids, medium)

    code = np.where(medium >= 0, medium_codes[np.maximum(medium, 0)], grid_codes[np.maximum(grids[:, 0], 0)]).astype(_S)
    rank = np.where(role == LEADER, "0", np.where(role == HOUSEHOLD_HEAD, "2", "1")).astype(_S)
    order = np.argsort(ex._cat(code, rank, ids), kind="stable")
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    predecessor = predecessor[order]
    predecessor[predecessor >= 0] = position[predecessor[predecessor >= 0]]
    county = np.strings.slice(code[order], 0, 6).astype(np.int64)
    name, sex, phone = _persons(rng_people, recipe, county, start[order])
    return Staff(worker_id=ids[order], name=name, sex=sex, phone=phone, role=role[order], grids=grids[order],
                 medium=medium[order], households=households[order], start=start[order], end=end[order],
                 predecessor=predecessor)


def _roster_table(staff: Staff, geo: ev._Geo, city: City, grid_codes: np.ndarray,
                  medium_codes: np.ndarray) -> dict[str, np.ndarray]:
    """The roster's columns for the valid persons (texts; households, start and end as numbers)."""
    labels = ex._cat(np.array(geo.village, dtype=_S), city.small["name"].astype(str).to_numpy(dtype=_S))
    medium_names = city.medium["name"].astype(str).to_numpy(dtype=_S)
    leader = staff.medium >= 0
    first, second = np.maximum(staff.grids[:, 0], 0), staff.grids[:, 1]
    code = np.where(leader, medium_codes[np.maximum(staff.medium, 0)], grid_codes[first]).astype(_S)
    label = np.where(leader, medium_names[np.maximum(staff.medium, 0)], labels[first]).astype(_S)
    two = second >= 0
    code[two] = ex._cat(code[two], SEPARATOR, grid_codes[second[two]])
    label[two] = ex._cat(label[two], SEPARATOR, labels[second[two]])
    remark = np.where(staff.end != NO_END, "离岗", "").astype(_S)
    replaced = staff.predecessor >= 0
    remark[replaced] = ex._cat("接替", staff.name[staff.predecessor[replaced]])
    return {"id": staff.worker_id, "name": staff.name, "sex": staff.sex, "phone": staff.phone, "role": staff.role,
            "code": code, "label": label, "households": staff.households, "start": staff.start, "end": staff.end,
            "remark": remark}


def _bad_roster_rows(rng: np.random.Generator, rng_people: np.random.Generator, recipe: dict[str, Any], staff: Staff,
                     table: dict[str, np.ndarray], known: frozenset[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Extra rows the loader must reject, made from random single-grid people with new names: an unknown 岗位, a
    grid code that does not exist, a missing 人员编号 (at least one of each)."""
    spec = recipe["patrol"]["roster"]
    n = max(3, int(round(float(spec["bad_rows"]) * len(staff))))
    kind = np.resize(np.array([BAD_ROLE, BAD_GRID, BAD_ID]), n)
    rng.shuffle(kind)
    pool = np.flatnonzero((staff.role != LEADER) & (staff.grids[:, 1] < 0))
    template = np.sort(rng.choice(pool, n, replace=False))
    rows = {key: values[template].copy() for key, values in table.items()}
    rows["name"], rows["sex"], rows["phone"] = _persons(rng_people, recipe, np.zeros(n, dtype=np.int64),
                                                        staff.start[template])
    rows["end"][:] = NO_END
    rows["remark"][:] = ""
    role = kind == BAD_ROLE
    rows["role"][role] = rng.choice(np.array(spec["unknown_roles"], dtype=_S), int(role.sum()))
    rows["id"][role] = ex._cat("ZYZ", ex._int(np.arange(1, int(role.sum()) + 1), 5))
    grid = kind == BAD_GRID
    rows["role"][grid] = FULL_TIME
    rows["id"][grid] = ex._cat("WGY", ex._int(staff.grids[template[grid], 0], 5), "0")  # digit 0: never a real one
    rows["code"][grid] = ev._bad_grid_codes(rng, rows["code"][grid], known)
    rows["households"][role | grid] = 0
    rows["id"][kind == BAD_ID] = ""
    return rows, kind


def _roster_lines(rng: np.random.Generator, n_valid: int, n_bad: int, repeats: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the file (indices into valid + bad rows) and their 序号: bad rows at random places, each
    repeated row right after its original with the same 序号."""
    m = n_valid + n_bad
    place = np.concatenate([np.arange(n_valid, dtype=float), rng.uniform(0, n_valid, n_bad)])
    order = np.argsort(place, kind="stable")
    serial = np.empty(m, dtype=np.int64)
    serial[order] = np.arange(1, m + 1)
    again = rng.choice(n_valid, repeats, replace=False)
    lines = np.concatenate([order, again])
    lines = lines[np.argsort(np.concatenate([np.arange(m), serial[again] - 1]), kind="stable")]
    return lines, serial[lines]


def _date_cells(days: np.ndarray) -> list[Any]:
    d = days.astype("datetime64[D]")
    d[days == NO_END] = np.datetime64("NaT")
    return d.astype(object).tolist()


def _write_roster(path: Path, table: dict[str, np.ndarray], lines: np.ndarray, serial: np.ndarray) -> None:
    """The roster XLSX: text cells, 联系户数 as numbers, 入职/离岗日期 as Excel dates."""
    column = {key: values[lines] for key, values in table.items()}
    ex.write_xlsx(path, ROSTER_SHEET, ROSTER_HEADER, [
        serial.tolist(),
        *(ex._cells(column[key]) for key in ("id", "name", "sex", "phone", "role", "code", "label")),
        [int(h) if h else None for h in column["households"].tolist()],
        _date_cells(column["start"]),
        _date_cells(column["end"]),
        ex._cells(column["remark"]),
    ])


def _roster(path: Path, city: City, geo: ev._Geo, recipe: dict[str, Any], seed: int) -> tuple[Staff, RosterTruth]:
    rng, rng_people = (np.random.default_rng([seed, _STREAM, k]) for k in (0, 1))
    grid_codes = np.array(geo.codes, dtype=_S)
    medium_codes = city.medium["grid_code"].astype(str).to_numpy(dtype=_S)
    staff = _staff(rng, rng_people, city, recipe, grid_codes, medium_codes)
    table = _roster_table(staff, geo, city, grid_codes, medium_codes)
    known = geo.code_set | frozenset(medium_codes.tolist())
    bad, kind = _bad_roster_rows(rng, rng_people, recipe, staff, table, known)
    repeats = int(recipe["patrol"]["roster"]["repeats"])
    lines, serial = _roster_lines(rng, len(staff), len(kind), repeats)
    _write_roster(path, {key: np.concatenate([table[key], bad[key]]) for key in table}, lines, serial)
    roles, counts = np.unique(staff.role, return_counts=True)
    truth = RosterTruth(
        path=path, rows=len(lines),
        bad_rows_by_kind={name: int(np.sum(kind == k)) for k, name in BAD_ROSTER_NAMES.items()},
        repeated_rows=repeats, persons_by_role={str(r): int(c) for r, c in zip(roles.tolist(), counts)},
        two_grid_workers=int(np.sum(staff.grids[:, 1] >= 0)), left=int(np.sum(staff.end != NO_END)))
    return staff, truth


# --------------------------------------------------------------------------- who checks in, when and where


@dataclass(frozen=True)
class _Crew:
    """Who checks in: the roster's grid workers, then workerNo values that are not on the roster."""

    worker_id: np.ndarray
    grids: np.ndarray  # (n, 2) as Staff.grids
    start: np.ndarray
    end: np.ndarray
    listed: np.ndarray  # on the roster

    def __len__(self) -> int:
        return len(self.worker_id)


@dataclass(frozen=True)
class _Spans:
    """Day spans [first, stop) per owner (a worker's absences, a grid's neglect)."""

    owner: np.ndarray
    first: np.ndarray
    stop: np.ndarray

    def matrix(self, n_owners: int, d0: int, d1: int) -> np.ndarray:
        """(n_owners, d1 - d0): inside a span on that day."""
        first = np.clip(self.first, d0, d1) - d0
        stop = np.clip(self.stop, d0, d1) - d0
        use = stop > first
        diff = np.zeros((n_owners, d1 - d0 + 1), dtype=np.int32)
        np.add.at(diff, (self.owner[use], first[use]), 1)
        np.add.at(diff, (self.owner[use], stop[use]), -1)
        return np.cumsum(diff, axis=1)[:, :-1] > 0


@dataclass(frozen=True)
class _EventIndex:
    """grid_app events by (small grid, report time), for follow-up check-ins."""

    key: np.ndarray  # grid << 32 | report time, sorted
    source_id: np.ndarray

    @classmethod
    def of(cls, refs: ev.EventRefs) -> _EventIndex:
        key = (refs.grid.astype(np.int64) << 32) + refs.reported
        order = np.argsort(key, kind="stable")
        return cls(key=key[order], source_id=refs.source_id[order])

    def recent(self, rng: np.random.Generator, grid: np.ndarray, t: np.ndarray, window: int) -> np.ndarray:
        """Per check-in, a random event of its grid reported in [t - window, t); -1 when there is none."""
        base = grid.astype(np.int64) << 32
        lo = np.searchsorted(self.key, base + np.maximum(t - window, 0), side="left")
        hi = np.searchsorted(self.key, base + t, side="left")
        pick = lo + (rng.random(len(t)) * (hi - lo)).astype(np.int64)
        return np.where(hi > lo, pick, -1)


@dataclass(frozen=True)
class _Places:
    """Addresses of the small grids and what off-beat points need."""

    address: np.ndarray  # town + village + grid name
    km: np.ndarray  # small grids in a local km plane
    inner: shapely.STRtree  # over the slightly shrunk small grids (events._Geo.inner)
    land: shapely.Geometry  # the city outline, a little widened
    avoid: np.ndarray  # small grids never used for off-beat points or unknown workers (neglected at some time)


@dataclass(frozen=True)
class _Plan:
    """Everything the months share: who, absences, neglect, the calendar, places and events."""

    spec: dict[str, Any]
    recipe: dict[str, Any]
    crew: _Crew
    absences: _Spans
    neglect: _Spans
    neglected_now: int  # the first spans of `neglect` last until now
    first_day: int
    last_day: int
    day_kind: np.ndarray  # per day of the period
    geo: ev._Geo
    places: _Places
    events: _EventIndex | None


def _holidays(recipe: dict[str, Any], days: np.ndarray) -> np.ndarray:
    """Public holidays (recipe [patrol.holidays]) among `days` (datetime64[D])."""
    years = np.unique(days.astype("datetime64[Y]").astype(np.int64) + 1970)
    out = np.zeros(len(days), dtype=bool)
    for rule in recipe["patrol"]["holidays"].values():
        if "month_day" in rule:
            anchors = [np.datetime64(f"{y}-{rule['month_day']}") for y in years]
        elif "from_period" in rule:
            anchors = [np.datetime64(d, "D") for d in recipe["period"][rule["from_period"]]]
        else:
            anchors = [np.datetime64(d, "D") for d in rule["dates"]]
        first, last = (int(v) for v in rule["days"])
        for anchor in anchors:
            out |= (days >= anchor + first) & (days <= anchor + last)
    return out


def _day_kinds(recipe: dict[str, Any], clock: ev._Clock) -> np.ndarray:
    holiday = _holidays(recipe, clock.days)
    return np.where(holiday, HOLIDAY, np.where(clock.weekday >= 5, WEEKEND, WORKING)).astype(np.int8)


def _absences(rng: np.random.Generator, n: int, first_day: int, last_day: int, spec: dict[str, Any]) -> _Spans:
    years = (last_day - first_day + 1) / 365.25
    owner = np.repeat(np.arange(n), rng.poisson(float(spec["absences_per_year"]) * years, n))
    first = rng.integers(first_day, last_day + 1, len(owner))
    lo, hi = spec["absence_days"]
    return _Spans(owner=owner, first=first, stop=first + rng.integers(int(lo), int(hi) + 1, len(owner)))


def _neglect(rng: np.random.Generator, n_grids: int, first_day: int, last_day: int,
             spec: dict[str, Any]) -> tuple[_Spans, int]:
    """Spans without visits: grids neglected until now (first), then earlier stretches of other grids."""
    now = np.sort(rng.choice(n_grids, int(round(float(spec["neglected"]) * n_grids)), replace=False))
    lo, hi = spec["neglected_days"]
    now_first = last_day + 1 - rng.integers(int(lo), int(hi) + 1, len(now))
    past = np.sort(rng.choice(n_grids, int(round(float(spec["past_neglect"]) * n_grids)), replace=False))
    lo, hi = spec["past_neglect_days"]
    length = rng.integers(int(lo), int(hi) + 1, len(past))
    room = last_day - int(spec["past_neglect_gap_days"]) - length - first_day
    past_first = first_day + (rng.random(len(past)) * room).astype(np.int64)
    spans = _Spans(owner=np.concatenate([now, past]), first=np.concatenate([now_first, past_first]),
                   stop=np.concatenate([np.full(len(now), last_day + 1), past_first + length]))
    return spans, len(now)


def _places(city: City, geo: ev._Geo, avoid: np.ndarray) -> _Places:
    names = city.small["name"].astype(str).to_numpy(dtype=_S)
    address = ex._cat(np.array(geo.town, dtype=_S), np.array(geo.village, dtype=_S), names)
    polys = np.asarray(city.small.geometry.values, dtype=object)
    km = shapely.transform(polys, lambda c: c * np.array([KM_PER_DEG_LON, KM_PER_DEG_LAT]))
    land = shapely.buffer(geo.outline, _LAND_MARGIN_DEG)
    shapely.prepare(land)
    return _Places(address=address, km=km, inner=shapely.STRtree(geo.inner), land=land, avoid=avoid)


def _plan(city: City, geo: ev._Geo, recipe: dict[str, Any], staff: Staff, seed: int,
          events: ev.EventRefs | None) -> _Plan:
    spec = recipe["patrol"]
    rng = np.random.default_rng([seed, _STREAM, 2])
    clock = ev._Clock(recipe)
    first_day, last_day = int(clock.days[0].astype(np.int64)), int(clock.days[-1].astype(np.int64))
    neglect, neglected_now = _neglect(rng, geo.n, first_day, last_day, spec)
    avoid = np.zeros(geo.n, dtype=bool)
    avoid[neglect.owner] = True
    known = np.flatnonzero(staff.is_worker)
    k = int(spec["unknown_workers"])
    unknown = np.sort(rng.choice(np.flatnonzero(~avoid), k, replace=False))
    unknown_ids = ex._cat("WGY", ex._int(unknown, 5), "9")
    if np.isin(unknown_ids, staff.worker_id).any():
        raise RuntimeError("an unknown workerNo is on the roster")
    crew = _Crew(
        worker_id=np.concatenate([staff.worker_id[known], unknown_ids]),
        grids=np.concatenate([staff.grids[known], np.column_stack([unknown, np.full(k, -1)])]),
        start=np.concatenate([staff.start[known], np.full(k, first_day)]),
        end=np.concatenate([staff.end[known], np.full(k, NO_END)]),
        listed=np.r_[np.ones(len(known), dtype=bool), np.zeros(k, dtype=bool)],
    )
    return _Plan(spec=spec, recipe=recipe, crew=crew, absences=_absences(rng, len(crew), first_day, last_day, spec),
                 neglect=neglect, neglected_now=neglected_now, first_day=first_day, last_day=last_day,
                 day_kind=_day_kinds(recipe, clock), geo=geo, places=_places(city, geo, avoid),
                 events=_EventIndex.of(events) if events is not None else None)


# --------------------------------------------------------------------------- one month of check-ins


def _visits(plan: _Plan, rng: np.random.Generator, d0: int, d1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Worker, small grid and time of every check-in on days [d0, d1), neglected grids left out."""
    spec, crew = plan.spec, plan.crew
    days = np.arange(d0, d1)
    kind = plan.day_kind[days - plan.first_day]
    employed = (crew.start[:, None] <= days) & (days < crew.end[:, None]) & crew.listed[:, None]
    shape = employed.shape
    duty = (kind == WORKING) | ((kind == WEEKEND) & (rng.random(shape) < float(spec["weekend_duty"])))
    at_work = employed & duty & ~plan.absences.matrix(len(crew), d0, d1)
    lo, hi = spec["visits_per_working_day"]
    count = np.where(at_work, rng.integers(int(lo), int(hi) + 1, shape), 0)
    cell = np.repeat(np.arange(count.size), count.ravel())
    worker, day = cell // len(days), days[cell % len(days)]
    k, working = int(spec["unknown_checkins_per_month"]), days[kind == WORKING]
    if k and len(working):
        worker = np.concatenate([worker, rng.choice(np.flatnonzero(~crew.listed), k)])
        day = np.concatenate([day, rng.choice(working, k)])
    grid = _visited_grid(plan, rng, worker, day, d0, d1)
    worker, day, grid = worker[grid >= 0], day[grid >= 0], grid[grid >= 0]
    hour = draw(rng, np.asarray(spec["hours"], dtype=float), len(day))
    t = day * DAY + hour * 3600 + rng.integers(0, 3600, len(day))
    order = np.lexsort((worker, t))
    return worker[order], grid[order], t[order]


def _visited_grid(plan: _Plan, rng: np.random.Generator, worker: np.ndarray, day: np.ndarray, d0: int,
                  d1: int) -> np.ndarray:
    """The small grid of each visit: a two-grid worker splits visits between them; a neglected grid is not
    visited (its partner is, if any; else -1)."""
    grids = plan.crew.grids[worker]
    swap = (grids[:, 1] >= 0) & (rng.random(len(worker)) < 0.5)
    grid = np.where(swap, grids[:, 1], grids[:, 0])
    other = np.where(swap, grids[:, 0], grids[:, 1])
    neglected = plan.neglect.matrix(plan.geo.n, d0, d1)
    column = day - d0
    grid = np.where(neglected[grid, column] & (other >= 0), other, grid)
    return np.where(neglected[grid, column], -1, grid)


def _types(plan: _Plan, rng: np.random.Generator, grid: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """checkinType index per check-in and the event a follow-up names (index into plan.events, else -1)."""
    spec = plan.spec
    texts = list(spec["types"])
    kind = draw(rng, np.array([float(spec["types"][x]) for x in texts]), len(t))
    follow, fallback = texts.index(spec["follow_up_type"]), texts.index(spec["fallback_type"])
    event = np.full(len(t), -1, dtype=np.int64)
    asks = np.flatnonzero(kind == follow)
    if plan.events is not None:
        event[asks] = plan.events.recent(rng, grid[asks], t[asks], int(spec["follow_up_days"]) * DAY)
    kind[(kind == follow) & (event < 0)] = fallback
    return kind, event


def _grid_at(places: _Places, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The small grid whose shrunk polygon holds each point, else -1."""
    point, grid = places.inner.query(shapely.points(x, y), predicate="within")
    out = np.full(len(x), -1, dtype=np.int64)
    out[point] = grid
    return out


def _off_beat_points(plan: _Plan, rng: np.random.Generator,
                     own: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points `off_beat_km` from both own grids (rows of `own`): in a grid that is never neglected, or (for the
    `off_beat_outside` share) outside the city. Returns lon, lat, the grid holding the point (-1 outside) and
    whether one was found."""
    lo, hi = (float(v) for v in plan.spec["off_beat_km"])
    geo, places = plan.geo, plan.places
    first = own[:, 0]
    second = np.where(own[:, 1] >= 0, own[:, 1], first)
    n = len(own)
    x, y, where, found = np.full(n, np.nan), np.full(n, np.nan), np.full(n, -1), np.zeros(n, dtype=bool)
    may_leave = rng.random(n) < float(plan.spec["off_beat_outside"])
    todo = np.arange(n)
    for _ in range(_OFF_BEAT_TRIES):
        if not len(todo):
            break
        r = rng.uniform(lo + _OFF_BEAT_MARGIN_KM, hi, len(todo))
        angle = rng.uniform(0.0, 2.0 * math.pi, len(todo))
        cx = geo.x[first[todo]] + r * np.cos(angle) / KM_PER_DEG_LON
        cy = geo.y[first[todo]] + r * np.sin(angle) / KM_PER_DEG_LAT
        plane = shapely.points(cx * KM_PER_DEG_LON, cy * KM_PER_DEG_LAT)
        gap = np.minimum(shapely.distance(plane, places.km[first[todo]]),
                         shapely.distance(plane, places.km[second[todo]]))
        hit = _grid_at(places, cx, cy)
        at_sea = ~shapely.contains_xy(places.land, cx, cy)
        ok = (gap >= lo + _OFF_BEAT_MARGIN_KM) & (gap <= hi)
        ok &= np.where(hit >= 0, ~places.avoid[np.maximum(hit, 0)], at_sea & may_leave[todo])
        done = todo[ok]
        x[done], y[done], where[done], found[done] = cx[ok], cy[ok], hit[ok], True
        todo = todo[~ok]
    return x, y, where, found


def _month(plan: _Plan, rng: np.random.Generator, d0: int, d1: int) -> dict[str, np.ndarray]:
    """All check-ins of days [d0, d1) in time order, with their noise; every draw is made for the whole month."""
    spec = plan.spec
    worker, grid, t = _visits(plan, rng, d0, d1)
    n = len(t)
    kind, event = _types(plan, rng, grid, t)
    lon, lat = plan.geo.points(rng, grid)
    place = grid.copy()
    listed = plan.crew.listed[worker]
    off = np.flatnonzero(listed & (rng.random(n) < float(spec["off_beat"])))
    x, y, where, found = _off_beat_points(plan, rng, plan.crew.grids[worker[off]])
    off = off[found]
    lon[off], lat[off], place[off] = x[found], y[found], where[found]
    off_beat = np.zeros(n, dtype=bool)
    off_beat[off] = True
    plain = listed & ~off_beat
    bad = np.where(plain & (rng.random(n) < float(spec["bad_rows"])), rng.integers(1, 5, n), 0)
    return {
        "worker": worker, "grid": grid, "t": t, "type": kind, "event": event, "lon": lon, "lat": lat, "place": place,
        "off_beat": off_beat, "bad": bad,
        "repeat": plain & (bad == 0) & (rng.random(n) < float(spec["repeats"])),
        "id": ev._ids(spec["id"], t),
        "noise": rng.integers(0, 1 << 30, n),
        "address": rng.random(n) < float(spec["address"]),
        "remark": rng.random(n) < float(spec["remark"]),
    }


def _write_month(path: Path, plan: _Plan, m: dict[str, np.ndarray]) -> None:
    """One month's JSON Lines: valid check-ins, their bad-row variants and repeated lines (already in `m`)."""
    spec, bad_spec = plan.spec, plan.recipe["bad_rows"]
    bad, noise = m["bad"], m["noise"]
    worker = plan.crew.worker_id[m["worker"]]
    time = ex.time_texts(m["t"], "iso")
    garbled = bad == BAD_TIME
    time[garbled] = _pick(bad_spec["unparseable_times"], noise[garbled])
    texts = list(spec["types"])
    kind = np.array(texts, dtype=_S)[m["type"]]
    unknown = bad == BAD_TYPE
    kind[unknown] = _pick(spec["unknown_types"], noise[unknown])
    event = np.full(len(bad), "", dtype=_S)
    named = m["event"] >= 0
    if plan.events is not None:
        event[named] = plan.events.source_id[m["event"][named]]
    glon, glat = wgs84_to_gcj02(m["lon"], m["lat"])
    lng = ex.coordinate_texts(glon)
    wrong = bad == BAD_COORDINATE
    lng[wrong] = ex._json_string(_pick(bad_spec["bad_coordinates"], noise[wrong]))
    address = np.where(m["address"] & (m["place"] >= 0), plan.places.address[np.maximum(m["place"], 0)], "").astype(_S)
    remark = np.full(len(bad), "", dtype=_S)
    for i, text in enumerate(texts):
        rows = m["remark"] & (m["type"] == i)
        remark[rows] = _pick(spec["remarks"][text], noise[rows] // 7)
    ex.write_jsonl(path, [
        ("checkinId", ex._json_string(m["id"]), None),
        ("workerNo", ex._json_string(worker), bad == BAD_WORKER),
        ("checkinTime", ex._json_string(time), None),
        ("checkinType", ex._json_string(kind), None),
        ("eventNo", ex._json_string(event), event == ""),
        ("lng", lng, None),
        ("lat", ex.coordinate_texts(glat), None),
        ("address", ex._json_string(address), address == ""),
        ("remark", ex._json_string(remark), remark == ""),
    ])


@dataclass
class _Tally:
    """Running counts over the written months."""

    n_grids: int
    rows: int = 0
    bad: np.ndarray = field(default_factory=lambda: np.zeros(5, dtype=np.int64))
    repeated: int = 0
    off_beat: int = 0
    outside_city: int = 0
    unknown_worker: int = 0
    by_type: np.ndarray | None = None
    last_visit: np.ndarray | None = None

    def add(self, plan: _Plan, m: dict[str, np.ndarray], lines: int) -> None:
        valid = m["bad"] == 0
        listed = plan.crew.listed[m["worker"]]
        self.rows += lines
        self.bad += np.bincount(m["bad"], minlength=5)
        self.repeated += int(m["repeat"].sum())
        self.off_beat += int(m["off_beat"].sum())
        self.outside_city += int(np.sum(valid & (m["place"] < 0)))
        self.unknown_worker += int(np.sum(valid & ~listed))
        types = np.bincount(m["type"][valid], minlength=len(plan.spec["types"]))
        self.by_type = types if self.by_type is None else self.by_type + types
        if self.last_visit is None:
            self.last_visit = np.full(self.n_grids, -1, dtype=np.int64)
        visit = valid & listed & ~m["off_beat"]
        np.maximum.at(self.last_visit, m["grid"][visit], m["t"][visit] // DAY)


def _months(first_day: int, last_day: int) -> list[tuple[str, int, int]]:
    """(YYYY-MM, first day, end day) of every month touching [first_day, last_day]."""
    start = np.datetime64(first_day, "D").astype("datetime64[M]")
    end = np.datetime64(last_day, "D").astype("datetime64[M]")
    months = np.arange(start, end + 2)  # one more: where the last month ends
    days = months.astype("datetime64[D]").astype(np.int64)
    return [(str(m), int(d0), int(d1)) for m, d0, d1 in zip(months[:-1], days[:-1], days[1:])]


def _checkins(directory: Path, plan: _Plan, seed: int, first_day: int, last_day: int) -> PatrolTruth:
    """One file per month; every month is drawn whole (from its own stream) and then cut to [first_day, last_day],
    so a later `since` only drops lines."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(PATROL_GLOB):
        old.unlink()
    tally = _Tally(n_grids=plan.geo.n)
    files: list[Path] = []
    for month, d0, d1 in _months(first_day, last_day):
        rng = np.random.default_rng([seed, _STREAM, 10, d0])
        m = _month(plan, rng, max(d0, plan.first_day), min(d1, plan.last_day + 1))
        keep = (m["t"] >= first_day * DAY) & (m["t"] < (last_day + 1) * DAY)
        m = {key: values[keep] for key, values in m.items()}
        lines = np.sort(np.concatenate([np.arange(len(m["t"])), np.flatnonzero(m["repeat"])]))
        path = directory / f"checkins_{month}.jsonl"
        _write_month(path, plan, {key: values[lines] for key, values in m.items()})
        tally.add(plan, m, len(lines))
        files.append(path)
    return _patrol_truth(plan, tally, files, first_day, last_day)


def _patrol_truth(plan: _Plan, tally: _Tally, files: list[Path], first_day: int, last_day: int) -> PatrolTruth:
    codes, spans = plan.geo.codes, plan.neglect
    last_visit = tally.last_visit if tally.last_visit is not None else np.full(plan.geo.n, -1)
    now = slice(0, plan.neglected_now)
    neglected = [{"code": str(codes[g]), "neglected_from": _date(f).isoformat(),
                  "last_visit": _date(last_visit[g]).isoformat() if last_visit[g] >= 0 else None}
                 for g, f in zip(spans.owner[now].tolist(), spans.first[now].tolist())]
    past = slice(plan.neglected_now, len(spans.owner))
    past_neglect = [{"code": str(codes[g]), "first": _date(f).isoformat(), "last": _date(s - 1).isoformat()}
                    for g, f, s in zip(*(a[past].tolist() for a in (spans.owner, spans.first, spans.stop)))]
    by_type = tally.by_type if tally.by_type is not None else np.zeros(len(plan.spec["types"]), dtype=np.int64)
    return PatrolTruth(
        files=files, first_day=_date(first_day), last_day=_date(last_day), rows=tally.rows,
        bad_rows_by_kind={name: int(tally.bad[k]) for k, name in BAD_CHECKIN_NAMES.items()},
        repeated_rows=tally.repeated, off_beat=tally.off_beat, outside_city=tally.outside_city,
        unknown_worker=tally.unknown_worker,
        by_type={text: int(c) for text, c in zip(plan.spec["types"], by_type.tolist())},
        neglected=neglected, past_neglect=past_neglect)


# --------------------------------------------------------------------------- entry point


def write_grid_workers(city: City, raw_dir: Path, *, seed: int = 7, events: ev.EventRefs | None = None,
                       since: dt.date | None = None, until: dt.date | None = None) -> GridWorkersTruth:
    """Write raw_dir/roster.xlsx (always complete) and raw_dir/patrol/checkins_YYYY-MM.jsonl for the days from
    `since` (None: the recipe's period start) to `until` (None: its `now`).

    `events` are the grid_app reports that follow-up check-ins name (write_events(...).refs_by_dept["grid_app"]);
    without them there are no follow-ups. Deterministic for a seed; the event exports do not change.
    """
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    recipe = ev.load_recipe()
    _check_texts(recipe)
    geo = ev._Geo(city, {})
    staff, roster = _roster(raw_dir / ROSTER_FILE, city, geo, recipe, seed)
    plan = _plan(city, geo, recipe, staff, seed, events)
    first_day = max(_day(since), plan.first_day) if since is not None else plan.first_day
    last_day = min(_day(until), plan.last_day) if until is not None else plan.last_day
    if first_day > last_day:
        raise ValueError(f"no check-in days between {_date(first_day)} and {_date(last_day)}")
    patrol = _checkins(raw_dir / PATROL_DIR, plan, seed, first_day, last_day)
    return GridWorkersTruth(roster=roster, patrol=patrol)
