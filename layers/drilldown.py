"""One grid up close (网格详情): its profile and parents, figures, children, timeline, category mix and events.

Every function takes the connection first (for `Store.query` / `Store.resource`) and a grid code of any
level; `CITY_CODE` ("city") stands for the whole city (全市), whose children are the large grids. Windows are
[start, end) on `reported_at` (None = open), filters are `EventFilter`s, and every input reaches SQL as a
named parameter of one EventQuery (the queries live in layers/drilldown_queries.py). Figures per grid come from
layers/stats.py and "overdue" is the one OVERDUE_AT of layers/event_query.py, so this page and the others agree.

The map part draws the grids one level below a grid (a small grid: its siblings, the grid outlined) with
tooltips whose text names the grid's code, which is how a click comes back from streamlit-folium:
`clicked_grid(tooltip_text, codes)`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import duckdb
import folium
import geopandas as gpd
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template

from layers import drilldown_queries as q
from layers.choropleth import GridChoropleth, choropleth
from layers.event_query import EventFilter, EventQuery, check_statuses, checked_filter
from layers.geometry import PreparedGrids, prepare_grids, prepare_level
from layers.lookups import STATUS_NAMES
from layers.offline import Basemap, script_json
from layers.stats import CITY_CODE, CITY_NAME, choose_source, find_grid, grid_stats, grid_table, period_start
from store.schema import LEVELS
from store.timewindow import QueryError, TimeLike, checked_window

__all__ = [
    "CITY_CODE", "CITY_NAME", "LEVEL_NAMES", "CHILD_LEVEL", "HISTORY_SORTS", "PAGE_SIZE", "TIMELINE_PERIODS",
    "GridProfile", "EventPage", "grid_profile", "child_grids", "search_grids", "grid_figures", "children_ranked",
    "timeline", "auto_period", "category_mix", "event_history", "map_grids", "drill_map", "clicked_grid",
]

LEVEL_NAMES: dict[str, str] = {"city": "全市", "large": "大网格", "medium": "中网格", "small": "小网格"}
CHILD_LEVEL: dict[str, str | None] = {"city": "large", "large": "medium", "medium": "small", "small": None}
HISTORY_SORTS: tuple[str, ...] = tuple(q.DRILL_HISTORY_SORT)
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
TIMELINE_PERIODS: tuple[str, ...] = ("day", "week", "month")
SEARCH_LIMIT = 20
FIGURE_COLUMNS: tuple[str, ...] = (
    "events", "closed", "disputes_received", "disputes_resolved", "open_now", "overdue_now", "on_time_rate",
    "events_per_10k", "median_handling_hours",
)
CHILD_COLUMNS: tuple[str, ...] = (
    "rank", "grid_code", "name", "population", "events", "disputes_received", "open_now", "overdue_now",
    "on_time_rate", "events_per_10k",
)


# --------------------------------------------------------------------------- the grid and its family


@dataclass(frozen=True)
class GridProfile:
    """A grid (or the city) with its parents: what the breadcrumb, the selectors and the profile card show.

    `ancestors` runs from the city down to the parent as (code, name) pairs (empty for the city).
    `population` and `area_km2` are None when unknown (the city's when any large grid lacks them).
    """

    code: str
    name: str
    level: str  # city | large | medium | small
    population: int | None
    area_km2: float | None
    ancestors: tuple[tuple[str, str], ...]
    child_count: int

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level]

    @property
    def child_level(self) -> str | None:
        return CHILD_LEVEL[self.level]

    @property
    def trail(self) -> tuple[tuple[str, str], ...]:
        """(code, name) from the city down to this grid: the breadcrumb."""
        return (*self.ancestors, (self.code, self.name))

    @property
    def parent_code(self) -> str | None:
        return self.ancestors[-1][0] if self.ancestors else None

    def code_at(self, level: str) -> str | None:
        """The code of this grid's ancestor (or itself) at `level`: what the cascading selectors show."""
        levels = ["city", *LEVELS]
        if level not in levels:
            raise QueryError(f"`level` was {level!r} but is expected to be one of {levels}")
        depth, own = levels.index(level), levels.index(self.level)
        return self.trail[depth][0] if depth <= own else None

    @property
    def map_scope(self) -> str:
        """The grid whose children the map shows: this grid, or for a small grid its parent."""
        return self.code if self.child_count else (self.parent_code or CITY_CODE)


def grid_profile(con: duckdb.DuckDBPyConnection, code: str) -> GridProfile | None:
    """The grid `code` (or CITY_CODE) with its parents' names; None when the store has no such grid."""
    code = str(code)
    if code == CITY_CODE:
        city = grid_table(con, "city").iloc[0]
        children = len(child_grids(con, CITY_CODE))
        return GridProfile(CITY_CODE, CITY_NAME, "city", _value(city["population"]), _value(city["area_km2"]),
                           ancestors=(), child_count=children)
    row = con.execute(q.DRILL_GRID, {"code": code}).fetchone()
    if row is None:
        return None
    grid_code, name, level, population, area, parent, parent_name, grandparent, grandparent_name, children = row
    ancestors = [(CITY_CODE, CITY_NAME)]
    if grandparent is not None:
        ancestors.append((grandparent, grandparent_name))
    if parent is not None:
        ancestors.append((parent, parent_name))
    return GridProfile(code=grid_code, name=name, level=level, population=_value(population), area_km2=_value(area),
                       ancestors=tuple(ancestors), child_count=int(children))


def _value(v: object) -> Any:
    """A plain Python number, or None for a missing one (NA, NaN, None)."""
    if v is None or pd.isna(v):
        return None
    return v.item() if hasattr(v, "item") else v


def child_grids(con: duckdb.DuckDBPyConnection, code: str) -> pd.DataFrame:
    """grid_code, name of the grids one level below `code` (CITY_CODE: the large grids), in code order."""
    return con.execute(q.DRILL_CHILDREN, {"code": str(code)}).df().astype({"grid_code": "str", "name": "str"})


def search_grids(con: duckdb.DuckDBPyConnection, text: str, *, limit: int = SEARCH_LIMIT) -> pd.DataFrame:
    """Grids whose code, or whose names from the large grid down (e.g. "黄岗社区第1网格"), contain `text`.

    Columns grid_code, name, level, path ("香洲街道 › 黄岗社区 › 第1网格"), matches (all matches, before
    `limit`). Whitespace in `text` is ignored; an empty text finds nothing. The text is a bound parameter.
    """
    needle = "".join(str(text).split())
    columns = ["grid_code", "name", "level", "path", "matches"]
    if not needle:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "matches" else "str") for c in columns})
    if not 1 <= int(limit) <= 1000:
        raise QueryError(f"`limit` was {limit} but is expected to be between 1 and 1000")
    df = con.execute(q.DRILL_GRID_SEARCH, {"text": needle, "limit": int(limit)}).df()
    parts = df[["grandparent_name", "parent_name", "name"]].astype(object)
    df["path"] = [" › ".join(p for p in row if isinstance(p, str)) for row in parts.itertuples(index=False)]
    return df[columns].astype({"grid_code": "str", "name": "str", "level": "str", "matches": "int64"})


def _profile(con: duckdb.DuckDBPyConnection, code: str) -> GridProfile:
    profile = grid_profile(con, code)
    if profile is None:
        find_grid(con, code)  # raises, naming the closest codes
    return profile  # type: ignore[return-value]


# --------------------------------------------------------------------------- figures


def grid_figures(con: duckdb.DuckDBPyConnection, code: str, *, start: TimeLike | None, end: TimeLike | None,
                 as_of: TimeLike, where: EventFilter | None = None) -> dict[str, object]:
    """The grid's figures for the window and at as_of, as defined in docs/analytics.md (from grid_stats):
    events, closed, disputes_received, disputes_resolved, open_now, overdue_now, on_time_rate (0–1),
    events_per_10k, median_handling_hours; rates are None when their base is 0 or unknown."""
    profile = _profile(con, code)
    stats = grid_stats(con, profile.level, start=start, end=end, as_of=as_of, where=where)
    row = stats.loc[stats["grid_code"] == profile.code].iloc[0]
    return {column: _value(row[column]) for column in FIGURE_COLUMNS}


def children_ranked(con: duckdb.DuckDBPyConnection, code: str, *, start: TimeLike | None, end: TimeLike | None,
                    as_of: TimeLike, where: EventFilter | None = None) -> pd.DataFrame:
    """The grids one level below `code` ranked by events in the window (ties: same rank, then code order).

    Columns: rank, grid_code, name, population, events, disputes_received, open_now, overdue_now,
    on_time_rate, events_per_10k. A small grid has no children: an empty frame with those columns.
    """
    profile = _profile(con, code)
    if profile.child_level is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in CHILD_COLUMNS})
    stats = grid_stats(con, profile.child_level, start=start, end=end, as_of=as_of, where=where)
    if profile.level != "city":
        stats = stats[stats["parent_code"] == profile.code]
    stats = stats.sort_values(["events", "grid_code"], ascending=[False, True], kind="stable")
    stats.insert(0, "rank", stats["events"].rank(ascending=False, method="min").astype("int64"))
    return stats[list(CHILD_COLUMNS)].reset_index(drop=True)


def auto_period(start: TimeLike | None, end: TimeLike | None) -> str:
    """The timeline's natural period for a window: day up to 31 days, week up to 92 days, else month."""
    s, e = checked_window(start, end)
    if s is None or e is None:
        return "month"
    days = (e - s) / dt.timedelta(days=1)
    return "day" if days <= 31 else "week" if days <= 92 else "month"


def timeline(con: duckdb.DuckDBPyConnection, code: str, *, start: TimeLike | None, end: TimeLike | None,
             where: EventFilter | None = None, period: str = "month") -> pd.DataFrame:
    """Per period (`day`, `week` from Monday, `month`) of the window: `events` reported in the grid and
    `disputes` (dispute incidents first reported then, whose home report is in the grid: they add up to
    the grid's disputes_received). Columns period (datetime64, the period's first day), events, disputes;
    every period from the one containing `start` to the one containing `end` (open ends: the first and
    last period with data), zeros included."""
    if period not in TIMELINE_PERIODS:
        raise QueryError(f"`period` was {period!r} but is expected to be one of {list(TIMELINE_PERIODS)}")
    profile = _profile(con, code)
    query = EventQuery.of(start=start, end=end, where=where)
    s, e = query.start, query.end
    source = choose_source(con, "auto", where=query.where, incidents=True)  # the incident rollup when unfiltered and fresh
    sql = q.drill_timeline_sql(profile.level, period, source, query.where)
    df = con.execute(sql, query.bind(sql, code=profile.code)).df()
    df["period"] = pd.to_datetime(df["period"])
    first = s if s is not None else (df["period"].min() if len(df) else None)
    last = e if e is not None else (df["period"].max() + pd.Timedelta(microseconds=1) if len(df) else None)
    if first is None:
        return pd.DataFrame({"period": pd.Series(dtype="datetime64[us]"), "events": pd.Series(dtype="int64"),
                             "disputes": pd.Series(dtype="int64")})
    freq = {"day": "D", "week": "W-MON", "month": "MS"}[period]
    periods = [d for d in pd.date_range(period_start(first, period), last, freq=freq) if d < last]
    full = pd.DataFrame({"period": pd.to_datetime(periods)})
    out = full.merge(df, on="period", how="left").fillna({"events": 0, "disputes": 0})
    return out.astype({"events": "int64", "disputes": "int64"}).reset_index(drop=True)


def category_mix(con: duckdb.DuckDBPyConnection, code: str, *, start: TimeLike | None, end: TimeLike | None,
                 where: EventFilter | None = None) -> pd.DataFrame:
    """Events of the grid in the window per category, most first: category, category_name (Chinese; the code
    when the categories table lacks it), domain, events, share (0–1 of the grid's events)."""
    profile = _profile(con, code)
    query = EventQuery.of(start=start, end=end, where=where)
    sql = q.drill_category_sql(profile.level)
    df = con.execute(sql, query.bind(sql, code=profile.code)).df()
    df["events"] = df["events"].astype("int64")
    total = int(df["events"].sum())
    df["share"] = df["events"] / total if total else pd.Series(dtype="float64")
    return df.reset_index(drop=True)


# --------------------------------------------------------------------------- event history


@dataclass(frozen=True)
class EventPage:
    """One page of a grid's event history: `rows` (see event_history), the page shown (1-based, clamped to
    the pages there are), how many pages and events match."""

    rows: pd.DataFrame
    page: int
    page_count: int
    total: int
    page_size: int


def event_history(con: duckdb.DuckDBPyConnection, code: str, *, start: TimeLike | None, end: TimeLike | None,
                  as_of: TimeLike, where: EventFilter | None = None, also: EventFilter | None = None,
                  search: str = "", sort: str = "reported_at", descending: bool = True, page: int = 1,
                  page_size: int = PAGE_SIZE) -> EventPage:
    """The grid's events reported in the window that pass `where` (the sidebar) and `also` (the page's own
    department / category / status filter) and whose description, address or id contains `search`
    (case-insensitive, bound as a parameter), sorted by `sort` (one of HISTORY_SORTS; missing values last,
    ties by event_id), one page of `page_size`.

    Rows: event_id, reported_at, dispatched_at, closed_at, due_at, status, status_name (已上报 / 已派遣 /
    处置中 / 已办结), category, category_name, dept, dept_name, overdue (open at as_of and due before it: OVERDUE_AT),
    closed_late (closed after its due time), grid_small, grid_small_name, address, description.
    """
    if sort not in HISTORY_SORTS:
        raise QueryError(f"`sort` was {sort!r} but is expected to be one of {list(HISTORY_SORTS)}")
    if not 1 <= int(page_size) <= MAX_PAGE_SIZE:
        raise QueryError(f"`page_size` was {page_size} but is expected to be between 1 and {MAX_PAGE_SIZE}")
    if as_of is None:
        raise QueryError("`as_of` is required: overdue means 'open at as_of and due before it'")
    query = EventQuery.of(start=start, end=end, where=where, as_of=as_of)
    own = EventQuery(where=check_statuses(checked_filter(also)))
    profile = _profile(con, code)
    matched = {**own.filter_params("also_"), "code": profile.code, "search": str(search or "").strip()}
    count_sql = q.drill_history_count_sql(profile.level)
    (total,) = con.execute(count_sql, query.bind(count_sql, **matched)).fetchone()
    page_count = max(1, math.ceil(total / page_size))
    page = min(max(1, int(page)), page_count)
    sql = q.drill_history_sql(profile.level, sort, bool(descending))
    rows = con.execute(sql, query.bind(sql, **matched, limit=int(page_size), offset=(page - 1) * int(page_size))).df()
    rows.insert(rows.columns.get_loc("status") + 1, "status_name", rows["status"].map(lambda v: STATUS_NAMES.get(v, v)))
    rows = rows.astype({"overdue": "bool", "closed_late": "bool"})
    return EventPage(rows=rows, page=page, page_count=page_count, total=int(total), page_size=int(page_size))


# --------------------------------------------------------------------------- map


def map_grids(con: duckdb.DuckDBPyConnection, code: str) -> PreparedGrids:
    """The grids the drill-down map shows for `code` (the children of its map_scope), prepared for drawing
    (coverage-simplified, packed). The city's are the large level's cached preparation."""
    scope = _profile(con, code).map_scope
    if scope == CITY_CODE:
        return prepare_level(con, "large")
    df = con.execute(q.DRILL_CHILD_GEOMETRY, {"code": scope}).df()
    geometry = shapely.from_wkb([bytes(b) for b in df["geometry"]])
    frame = gpd.GeoDataFrame(df[["grid_code", "name"]].astype("str"), geometry=geometry, crs="EPSG:4326")
    level = CHILD_LEVEL[_profile(con, scope).level] or ""
    return prepare_grids(frame, level=level)


class GridOutline(MacroElement):
    """One grid's boundary drawn on top, not clickable (the selected grid among its siblings)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.polygon({{ this.latlngs_json }}, {interactive: false, fill: false, color: "#1d4ed8", weight: 4})
            .addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, geometry: shapely.Geometry) -> None:
        super().__init__()
        self._name = "GridOutline"
        polygons = [] if geometry.is_empty else list(shapely.get_parts(geometry))
        latlngs = [
            [[[round(y, 6), round(x, 6)] for x, y in ring.coords[:-1]] for ring in (p.exterior, *p.interiors)]
            for p in polygons
        ]
        self.latlngs_json = script_json(latlngs[0] if len(latlngs) == 1 else latlngs)


class ClickableTooltips(MacroElement):
    """Turns a GridChoropleth's tooltips into fixed HTML, so streamlit-folium returns their text on a click
    (it reads a tooltip's content as HTML; a tooltip function would come back as the function's source)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this.layer.get_name() }}.eachLayer(function (layer) {
            var tip = layer.getTooltip();
            if (tip && typeof tip._content === "function") { layer.setTooltipContent(tip._content(layer)); }
        });
        {% endmacro %}
        """
    )

    def __init__(self, layer: GridChoropleth) -> None:
        super().__init__()
        self._name = "ClickableTooltips"
        self.layer = layer


def drill_map(prepared: PreparedGrids, values: pd.Series, *, title: str, basemap: Basemap = Basemap(),
              selected: str | None = None, value_label: str = "事件数") -> folium.Map:
    """The choropleth of `prepared` by `values` (indexed by grid_code) whose tooltips come back on a click,
    with the `selected` grid outlined when it is one of them."""
    m = choropleth(prepared, values, title=title, basemap=basemap, value_label=value_label)
    layer = next(child for child in m._children.values() if isinstance(child, GridChoropleth))
    ClickableTooltips(layer).add_to(m)
    if selected is not None and selected in prepared.codes:
        GridOutline(prepared.geometry[prepared.codes.index(selected)]).add_to(m)
    return m


def clicked_grid(tooltip_text: str | None, codes: tuple[str, ...] | list[str], *,
                 value_label: str = "事件数") -> str | None:
    """The code of the grid whose tooltip text (as streamlit-folium returns it: "名称…编码<code><value_label>…")
    was clicked, among `codes`; None when the text names none of them."""
    if not tooltip_text:
        return None
    pieces = str(tooltip_text).split("编码")[1:]  # the text after each "编码" (a name may contain it too)
    found = [(piece, c) for piece in pieces for c in codes if piece.startswith(c)]
    exact = [c for piece, c in found if piece[len(c):].startswith(value_label)]
    best = exact or [c for _, c in found]
    return max(best, key=len) if best else None
