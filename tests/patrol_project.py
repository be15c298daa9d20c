"""A tiny project with grid people and patrol check-ins: 2 large / 4 medium / 8 small grids, a roster, check-ins
and a few events (the latest reported 2023-08-31 11:59, so MINQING_CLOCK=data makes "now" 2023-08-31 12:00)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import geopandas as gpd

from projects import STREET_MAPPING, square, write_project_config

AS_OF = dt.datetime(2023, 8, 31, 12, 0)
ROSTER_MAPPING = """
kind = "roster"
department = "roster"
name = "花名册"
[fields]
worker_id = "编号"
name = "姓名"
phone = "电话"
role = "岗位"
grid_code = "网格"
households = "户数"
start_date = "入职"
end_date = "离岗"
[roster]
separator = "、"
[role.map]
"网格长" = "grid_leader"
"网格员" = "grid_worker"
"联户长" = "household_head"
[time]
formats = ["%Y-%m-%d"]
"""
ROSTER_HEADER = "编号,姓名,电话,岗位,网格,户数,入职,离岗\n"
ROSTER = [
    "W1,张三,13800001111,网格员,S1,,2018-01-01,",
    "W2,李四,13900002222,网格员,S2、S3,,2018-01-01,",   # covers two grids
    "Z1,王五,13700003333,网格长,M1,,2018-01-01,",        # a leader looks after a village (medium grid)
    "H1,赵六,13600004444,联户长,S1,25,2018-01-01,",
    "W9,钱七,13500005555,网格员,S4,,2018-01-01,2023-06-30",  # left before the figures' moment
    "W8,孙九,13100008888,网格员,S5,,2019-03-01,",        # the second town (L2)
    "Z2,周十,13200009999,网格长,M3,,2019-03-01,",
]
VISITS_MAPPING = """
kind = "visits"
department = "patrol"
name = "巡查走访"
[fields]
source_id = "id"
worker_id = "worker"
visited_at = "time"
visit_type = "type"
event_ref = "event"
lon = "lng"
lat = "lat"
address = "addr"
description = "note"
[visits]
event_dept = "street"
off_beat_km = 1.0
[visit_type.map]
"入户走访" = "household"
"日常巡查" = "patrol"
"事件跟进" = "follow_up"
[time]
formats = ["iso"]
"""
EVENTS_MAPPING = STREET_MAPPING
EVENTS_HEADER = "编号,类别,状态,上报时间,办结时间,经度,纬度\n"
EVENTS = [
    "A1,邻里纠纷,已办结,2023/6/10 9:00,2023/6/11 9:00,115.05,22.95",   # S1
    "A2,占道经营,处理中,2023/7/5 10:00,,115.05,23.05",                 # S2
    "A3,邻里纠纷,处理中,2023/8/15 10:00,,115.25,22.95",                # S5
    "A4,占道经营,已办结,2023/8/20 8:00,2023/8/20 18:00,115.15,22.95",  # S3
    "A5,邻里纠纷,处理中,2023/8/31 11:59,,115.25,23.05",                # S6: the latest report
]


def visit(i: str, worker: str, time: str, kind: str, lng: object, lat: object, event: str | None = None,
           note: str = "") -> dict:
    return {"id": i, "worker": worker, "time": time, "type": kind, "event": event, "lng": lng, "lat": lat,
            "addr": f"地址{i}", "note": note}



VISITS = [
    visit("V1", "W1", "2023-08-30T09:00:00+08:00", "入户走访", 115.05, 22.95),            # S1, within 7 days
    visit("V2", "W1", "2023-08-10T09:00:00+08:00", "事件跟进", 115.05, 22.95, "A1"),      # S1, within 30 days
    visit("V3", "W2", "2023-08-29T10:00:00+08:00", "日常巡查", 115.05, 23.05),            # S2
    visit("V4", "W2", "2023-07-01T10:00:00+08:00", "日常巡查", 115.15, 22.95),            # S3, 61 days before
    visit("V5", "W1", "2023-08-30T11:00:00+08:00", "日常巡查", 115.15, 23.05),            # S4: off-beat
    visit("V6", "W1", "2023-08-30T11:30:00+08:00", "日常巡查", 115.05, 23.003),           # S2, 0.33 km from S1
    visit("V7", "NOBODY", "2023-08-30T12:00:00+08:00", "日常巡查", 115.05, 22.95),        # not on the roster
    visit("V8", "Z1", "2023-08-25T12:00:00+08:00", "事件跟进", 115.05, 23.05, "A2"),      # leader, in M1
    visit("V9", "W1", "2023-08-31T13:00:00+08:00", "入户走访", 115.05, 22.95),            # after as_of
    visit("V10", "W8", "2023-08-28T08:00:00+08:00", "入户走访", 115.25, 22.95, note="<b>备注</b>"),  # S5
    visit("V11", "W8", "2023-06-15T08:00:00+08:00", "日常巡查", 115.25, 23.05),           # S6
    visit("V12", "Z2", "2023-08-20T15:00:00+08:00", "事件跟进", 115.25, 22.95, "A3"),     # S5
] + [  # 55 more patrols in S1 over August: the check-ins of S1 in the last 30 days fill two pages
    visit(f"P{i:02d}", "W1", (dt.datetime(2023, 8, 2, 8, 0) + dt.timedelta(hours=11 * i)).isoformat() + "+08:00",
           "日常巡查", 115.04, 22.94)
    for i in range(55)
]


def _grids(folder: Path) -> None:
    large = gpd.GeoDataFrame({"code": ["L1", "L2"], "name": ["甲镇", "乙镇"]},
                             geometry=[square(115.0, 22.9, 0.2), square(115.2, 22.9, 0.2)], crs=4326)
    columns = [square(115.0 + 0.1 * i, 22.9, 0.1).union(square(115.0 + 0.1 * i, 23.0, 0.1)) for i in range(4)]
    medium = gpd.GeoDataFrame({"code": ["M1", "M2", "M3", "M4"], "name": ["东村", "西村", "南村", "北村"],
                               "parent": ["L1", "L1", "L2", "L2"]}, geometry=columns, crs=4326)
    small_boxes = [square(115.0 + 0.1 * i, 22.9 + 0.1 * j, 0.1) for i in range(4) for j in range(2)]
    small = gpd.GeoDataFrame({"code": [f"S{k + 1}" for k in range(8)],
                              "name": ["东一", "东二", "西一", "西二", "南一", "南二", "北一", "北二"],
                              "parent": ["M1", "M1", "M2", "M2", "M3", "M3", "M4", "M4"],
                              "pop": [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000]},
                             geometry=small_boxes, crs=4326)
    for name, frame in (("large", large), ("medium", medium), ("small", small)):
        frame.to_file(folder / f"{name}.geojson", driver="GeoJSON")


def write_patrol_project(folder: Path) -> Path:
    """Write the project's grids, roster, check-ins and events into `folder`; return its minqing.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    _grids(folder)
    (folder / "roster.toml").write_text(ROSTER_MAPPING, encoding="utf-8")
    (folder / "patrol.toml").write_text(VISITS_MAPPING, encoding="utf-8")
    (folder / "street.toml").write_text(EVENTS_MAPPING, encoding="utf-8")
    (folder / "roster.csv").write_text(ROSTER_HEADER + "\n".join(ROSTER) + "\n", encoding="utf-8")
    (folder / "street.csv").write_text(EVENTS_HEADER + "\n".join(EVENTS) + "\n", encoding="utf-8")
    (folder / "patrol").mkdir(exist_ok=True)
    (folder / "patrol" / "2023-08.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in VISITS), encoding="utf-8")
    return write_project_config(folder, [("street.csv", "street.toml"), ("roster.csv", "roster.toml"),
                                         ("patrol/*.jsonl", "patrol.toml")])
