"""A hand-made store with known edge cases (linked incidents, year edges, open and overdue events, an event
outside every grid, hostile text), written straight into the schema."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import shapely

from store.schema import connect

T = dt.datetime


GRIDS = [  # code, name, level, parent, population, area
    ("LA", "甲街道", "large", None, 10000, 10.0),
    ("LB", "乙镇", "large", None, 0, 5.0),  # zero population
    ("LC", "丙镇", "large", None, 500, 2.0),  # no events anywhere below it
    ("MA1", "甲一社区", "medium", "LA", 6000, 6.0),
    ("MA2", "甲二社区", "medium", "LA", 4000, 4.0),
    ("MB1", "乙一村", "medium", "LB", 0, 5.0),
    ("MC1", "丙一村", "medium", "LC", 500, 2.0),
    ("SA11", "第1网格", "small", "MA1", 4000, 3.0),
    ("SA12", "第2网格", "small", "MA1", 2000, 3.0),
    ("SA21", "第1网格", "small", "MA2", 4000, 4.0),
    ("SB11", "第1网格", "small", "MB1", 0, 5.0),
    ("SC11", "第1网格", "small", "MC1", 500, 2.0),
]
PARENT = {code: parent for code, _, _, parent, _, _ in GRIDS}
CATEGORIES = [
    ("dispute_neighbour", "邻里纠纷", "dispute", "邻里"),
    ("dispute_labour", "劳动争议纠纷", "dispute", "劳动争议"),
    ("urban_environment", "市容环境", "urban", None),
    ("police_public_order", "治安警情", "police", None),
]
DISPUTE_CLASS = {c[0]: c[3] for c in CATEGORIES}
INJECTION = '=HYPERLINK("http://evil.example","点我")'
AS_OF = T(2022, 12, 31, 12, 0)


def _event(event_id, category, status, reported, closed=None, due=None, small=None, *, medium=None, large=None,
           incident=None, address=None, description=None) -> dict:
    if small is not None:
        medium = PARENT[small]
    if medium is not None:
        large = PARENT[medium]
    dept, source_id = event_id.split(":")
    return {
        "event_id": event_id, "dept": dept, "source_id": source_id, "category": category,
        "dispute_class": DISPUTE_CLASS[category], "is_dispute": DISPUTE_CLASS[category] is not None,
        "status": status, "reported_at": reported, "dispatched_at": None, "closed_at": closed, "due_at": due,
        "lon": None, "lat": None, "location_from": "grid_code" if small else ("address" if medium else "none"),
        "outside_grid": large is None, "grid_small": small, "grid_medium": medium, "grid_large": large,
        "grid_version": 1, "incident_id": incident or event_id, "address": address, "description": description,
        "row_hash": event_id, "batch_id": 1, "updated_batch": None,
    }


EVENTS = [
    # Incident pol:1, reported by police first, closed first by mediation on 31 Dec 2021, by police in 2022:
    # resolved in 2021 in mediation's grid SA11 (not in SA21, not in 2022).
    _event("pol:1", "dispute_neighbour", "closed", T(2021, 12, 1, 10), T(2022, 1, 2, 9), T(2021, 12, 10), "SA21"),
    _event("med:1", "dispute_neighbour", "closed", T(2021, 12, 5), T(2021, 12, 31, 23), T(2022, 1, 5), "SA11",
           incident="pol:1"),
    # Incident med:2: first closed by the hotline's report in LB's SB11 (class 邻里), mediation closes in 2022.
    _event("med:2", "dispute_labour", "closed", T(2021, 6, 1, 8), T(2022, 3, 1, 12), T(2021, 6, 20), "SA12"),
    _event("hot:2", "dispute_neighbour", "closed", T(2021, 6, 2), T(2021, 12, 15), T(2021, 12, 31), "SB11",
           incident="med:2"),
    _event("med:3", "dispute_labour", "in_progress", T(2021, 3, 3), None, T(2021, 4, 1), "SA11"),  # open, overdue
    _event("hot:4", "urban_environment", "closed", T(2022, 1, 1), T(2022, 1, 1, 5), T(2022, 1, 1, 4), "SA12"),  # edge
    _event("hot:5", "urban_environment", "closed", T(2021, 12, 31, 20), T(2022, 1, 1), T(2022, 1, 2), "SA21"),  # edge
    _event("pol:6", "police_public_order", "closed", T(2022, 2, 10, 10), T(2022, 2, 10, 12, 30), None, "SB11"),
    _event("pol:7", "police_public_order", "dispatched", T(2022, 6, 1), None, T(2022, 6, 3), "SB11"),
    _event("med:8", "dispute_neighbour", "closed", T(2022, 4, 1), T(2022, 4, 5), T(2022, 4, 10), medium="MA2"),
    _event("hot:9", "urban_environment", "reported", T(2022, 5, 5), None, None),  # outside every grid
    _event("hot:10", "dispute_neighbour", "closed", T(2022, 12, 30), T(2023, 1, 3), T(2023, 1, 2), "SA11"),
    _event("pol:11", "police_public_order", "reported", AS_OF, None, T(2023, 1, 1), "SA21"),  # reported at as_of
    _event("med:12", "dispute_neighbour", "closed", T(2020, 5, 1), T(2020, 5, 2), T(2020, 5, 10), "SA21"),
    _event("med:13", "dispute_labour", "closed", T(2022, 7, 7), T(2022, 7, 8), T(2022, 7, 9), "SA12",
           address="+86 755 1234", description=INJECTION),
    _event("pol:14", "police_public_order", "closed", T(2021, 1, 1), T(2021, 1, 1, 2), T(2021, 1, 1, 1), "SA11"),
    _event("hot:15", "urban_environment", "closed", T(2022, 3, 1, 8), T(2022, 3, 2, 8), T(2022, 3, 2, 8), "SA21"),
    _event("hot:16", "urban_environment", "closed", T(2022, 12, 20), AS_OF, T(2022, 12, 25), "SB11"),  # closed at as_of
]


def build_tiny_store(path: Path) -> Path:
    con = connect(str(path))
    try:
        box = shapely.to_wkb(shapely.box(0, 0, 1, 1))
        con.executemany(
            "INSERT INTO grids (grid_code, name, level, parent_code, geometry, area_km2, population) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(code, name, level, parent, box, area, pop) for code, name, level, parent, pop, area in GRIDS])
        con.executemany("INSERT INTO categories VALUES (?, ?, ?, ?)", CATEGORIES)
        columns = list(EVENTS[0])
        con.executemany(f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                        [[e[c] for c in columns] for e in EVENTS])
    finally:
        con.close()
    return path
