"""The command center's pop-up candidates at a moment: the newest reports, the open events that just crossed their
deadline, and the neglected (失管) small grids; each as an Alert with its place (grid names with their parents),
category, department and status as display text, and the grid codes to pulse on the map.

Which candidates are new since the previous refresh is the page's business (it remembers what it has shown).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from layers import alerts_queries as q
from layers.display_text import display_text
from layers.lookups import STATUS_NAMES
from layers.patrol import has_patrol_data, neglected_grids
from store.timewindow import TimeLike, local_time

KINDS: dict[str, str] = {"report": "新上报", "overdue": "事件超期", "neglect": "网格失管"}
REPORT_CANDIDATES = 30  # the newest reports looked at each refresh (more than a refresh ever brings)
OVERDUE_LOOKBACK = dt.timedelta(days=1)  # deadlines crossed within this window before now are candidates
PLACE_JOIN = " › "
OUTSIDE_GRIDS = "网格外"


@dataclass(frozen=True)
class Alert:
    """One pop-up: `key` is unique per kind and subject (the page shows each key once)."""

    key: str
    kind: str  # report | overdue | neglect
    title: str
    place: str
    category: str
    dept: str
    status: str
    at: str  # when it happened, "MM-DD HH:MM"
    grids: tuple[str, ...]  # the subject's grid codes, finest first, for the map's pulse
    event_id: str | None = None

    def as_data(self) -> dict[str, object]:
        """JSON-able, for the browser (its script writes the texts as text, never as HTML)."""
        return {"key": self.key, "kind": self.kind, "title": self.title, "place": self.place,
                "category": self.category, "dept": self.dept, "status": self.status, "at": self.at,
                "grids": list(self.grids), "event_id": self.event_id}


def place_text(large: object, medium: object, small: object) -> str:
    """"城东街道 › 马墩社区 › 第1网格" (display text); 网格外 for an event outside every grid."""
    names = [display_text(n, 60) for n in (large, medium, small) if n is not None and not pd.isna(n) and str(n)]
    return PLACE_JOIN.join(names) if names else OUTSIDE_GRIDS


def _codes(row: object) -> tuple[str, ...]:
    return tuple(str(c) for c in (row.grid_small, row.grid_medium, row.grid_large)  # type: ignore[attr-defined]
                 if c is not None and not pd.isna(c))


def event_alert(row: object, kind: str) -> Alert:
    """An event row (the columns of alerts_queries.EVENT_COLUMNS) as an Alert of `kind` (report | overdue)."""
    moment = row.reported_at if kind == "report" else row.due_at  # type: ignore[attr-defined]
    return Alert(
        key=f"{kind}:{row.event_id}",  # type: ignore[attr-defined]
        kind=kind, title=KINDS[kind],
        place=place_text(row.grid_large_name, row.grid_medium_name, row.grid_small_name),  # type: ignore[attr-defined]
        category=display_text(row.category_name or row.category, 40),  # type: ignore[attr-defined]
        dept=display_text(row.dept_name or row.dept, 40),  # type: ignore[attr-defined]
        status=STATUS_NAMES.get(str(row.status), display_text(row.status, 20)),  # type: ignore[attr-defined]
        at=pd.Timestamp(moment).strftime("%m-%d %H:%M") if pd.notna(moment) else "",
        grids=_codes(row), event_id=str(row.event_id),  # type: ignore[attr-defined]
    )


def alert_candidates(con: duckdb.DuckDBPyConnection, *, as_of: TimeLike, neglect_days: int,
                     with_neglect: bool = True) -> list[Alert]:
    """Every pop-up candidate at `as_of`, newest reports first, then just-overdue events, then neglected grids."""
    moment = local_time(as_of, "as_of")
    reports = con.execute(q.NEWEST_REPORTS, {"as_of": moment, "limit": REPORT_CANDIDATES}).df()
    overdue = con.execute(q.JUST_OVERDUE, {"as_of": moment, "since": moment - OVERDUE_LOOKBACK,
                                           "limit": REPORT_CANDIDATES}).df()
    out = [event_alert(r, "report") for r in reports.itertuples(index=False)]
    out += [event_alert(r, "overdue") for r in overdue.itertuples(index=False)]
    if with_neglect and has_patrol_data(con):
        out += neglect_alerts(con, as_of=moment, neglect_days=neglect_days)
    return out


def neglect_alerts(con: duckdb.DuckDBPyConnection, *, as_of: TimeLike, neglect_days: int) -> list[Alert]:
    """The neglected small grids as Alerts (place with parents; the days since the last check-in as status)."""
    neglected = neglected_grids(con, as_of=as_of, neglect_days=neglect_days)
    if neglected.empty:
        return []
    places = con.execute(q.GRID_PLACES, {"codes": [str(c) for c in neglected["grid_code"]]}).df()
    days = dict(zip(neglected["grid_code"].astype(str), neglected.get("days_since_visit", pd.Series(dtype=object))))
    out = []
    for row in places.itertuples(index=False):
        since = days.get(str(row.grid_small))
        status = f"{int(since)} 天未走访" if since is not None and pd.notna(since) else "从未走访"
        out.append(Alert(key=f"neglect:{row.grid_small}", kind="neglect", title=KINDS["neglect"],
                         place=place_text(row.grid_large_name, row.grid_medium_name, row.grid_small_name),
                         category=f"≥{neglect_days} 天无巡查走访", dept="网格员巡查", status=status, at="",
                         grids=_codes(row)))
    return out
