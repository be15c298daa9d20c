"""Latest events as circle markers: coloured by status, overdue ringed in red, escaped Chinese tooltip and popup.

Circle markers only (icon markers need Font Awesome / Bootstrap from a CDN). The markers travel as one
JSON array drawn by a few lines of inline JavaScript, not as one folium object each: folium.Popup
needs jQuery (dropped offline) and folium.Tooltip puts its text in a JS template literal, where a
backtick or "${" in a description would break out. Every text is made display text here in Python
(layers.display_text: bidi controls shown as tokens, cut at 200 characters with "…") and HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping

import duckdb
import folium
import pandas as pd
from branca.element import MacroElement
from folium.template import Template

from layers import markers_queries as q
from layers.choropleth import Legend
from layers.display_text import display_text
from layers.event_query import EventQuery, check_statuses
from layers.lookups import STATUS_NAMES
from layers.offline import Basemap, offline_map, script_json
from store.timewindow import TimeLike

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000  # markers are drawn one by one in the browser; more belongs in the heatmap
STATUS_LABELS = STATUS_NAMES
STATUS_COLOURS: dict[str, str] = {
    "reported": "#2563eb", "dispatched": "#f59e0b", "in_progress": "#7c3aed", "closed": "#16a34a",
}  # fmt: skip
UNKNOWN_COLOUR = "#6b7280"
OVERDUE_COLOUR = "#dc2626"
OVERDUE_LABEL = "超期"
MISSING = "—"
TIME_FORMAT = "%Y-%m-%d %H:%M"
MARKER_STYLE = {"radius": 6, "color": "#ffffff", "weight": 1, "fillOpacity": 0.85}
OVERDUE_STYLE = {"radius": 8, "color": OVERDUE_COLOUR, "weight": 3, "fillOpacity": 0.85}
POPUP_FIELDS: tuple[str, ...] = (
    "类别", "状态", "部门", "上报时间", "派遣时间", "办结时间", "办理期限", "网格", "地址", "描述", "编号",
)  # fmt: skip


def latest_events(
    con: duckdb.DuckDBPyConnection,
    *,
    as_of: TimeLike,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    where: object | None = None,
    limit: int = DEFAULT_LIMIT,
) -> pd.DataFrame:
    """The newest `limit` located events reported up to `as_of`, in [start, end) and matching `where`
    (a layers.event_query.EventFilter), newest first.

    Columns: event_id, dept, category, category_name, status, reported_at, dispatched_at, closed_at,
    due_at, overdue (open at `as_of` and due before it: OVERDUE_AT), lon, lat, grid codes and names per level, address,
    description. `as_of` is passed in (never "now" read here) so pages and tests agree on it.
    """
    if not 1 <= int(limit) <= MAX_LIMIT:
        raise ValueError(f"`limit` was {limit} but is expected to be between 1 and {MAX_LIMIT}; use the heatmap for more")
    query = EventQuery.of(start=start, end=end, where=where, as_of=as_of)
    check_statuses(query.where)
    df = con.execute(q.LATEST_EVENTS, query.bind(q.LATEST_EVENTS, limit=int(limit))).df()
    df["overdue"] = df["overdue"].astype(bool)
    return df


def event_markers(
    events: pd.DataFrame,
    *,
    dept_names: Mapping[str, str] | None = None,
) -> EventMarkers:
    """A layer of circle markers for `events` (from latest_events); department codes shown via `dept_names`."""
    if len(events) > MAX_LIMIT:
        raise ValueError(f"{len(events)} events given but at most {MAX_LIMIT} markers are drawn; pass fewer (latest_events limit)")
    return EventMarkers(events, dept_names=dept_names or {})


def markers_map(
    events: pd.DataFrame,
    *,
    basemap: Basemap = Basemap(),
    dept_names: Mapping[str, str] | None = None,
    title: str = "最新事件",
    bounds: tuple[float, float, float, float] | None = None,
) -> folium.Map:
    """An offline map of the markers with a status legend, fitted to `bounds` (minx, miny, maxx, maxy) or the events."""
    if bounds is None and len(events):
        bounds = (events["lon"].min(), events["lat"].min(), events["lon"].max(), events["lat"].max())
    minx, miny, maxx, maxy = bounds if bounds is not None else (0.0, 0.0, 0.0, 0.0)
    m = offline_map(basemap, location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=12, control_scale=True)
    event_markers(events, dept_names=dept_names).add_to(m)
    marker_legend(title).add_to(m)
    if bounds is not None:
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def marker_legend(title: str = "最新事件") -> Legend:
    """The status colours and the overdue ring."""
    rows = [(STATUS_COLOURS[s], STATUS_LABELS[s]) for s in STATUS_LABELS]
    return Legend(title, rows, rings=[(OVERDUE_COLOUR, OVERDUE_LABEL)])


class EventMarkers(MacroElement):
    """Circle markers in a Leaflet featureGroup. Each row: lat, lon, fill colour, overdue (0/1), the
    tooltip's escaped parts and the popup's escaped values (labels in POPUP_FIELDS order)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function (d) {
            var th = "<tr><th style=\\"text-align:left;padding-right:8px;white-space:nowrap;vertical-align:top\\">";
            var badge = " <b style=\\"color:" + d.overdue.color + "\\">" + d.overdue_label + "</b>";
            var group = L.featureGroup();
            d.rows.forEach(function (r) {
                var style = Object.assign({}, r[3] ? d.overdue : d.normal, {fillColor: r[2]});
                var tip = r[4].join(" · ") + (r[3] ? badge : "");
                var rows = "";
                for (var f = 0; f < d.labels.length; f++) {
                    rows += th + d.labels[f] + "</th><td>" + r[5][f] + (r[3] && f === d.due_field ? badge : "") + "</td></tr>";
                }
                L.circleMarker([r[0], r[1]], style)
                    .bindTooltip(tip)
                    .bindPopup("<table class=\\"minqing-event\\">" + rows + "</table>", {maxWidth: 360})
                    .addTo(group);
            });
            return group;
        })({{ this.payload_json }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, events: pd.DataFrame, *, dept_names: Mapping[str, str]) -> None:
        super().__init__()
        self._name = "EventMarkers"
        ordered = events.sort_values("overdue", kind="stable") if "overdue" in events else events  # overdue on top
        self.rows = [marker_row(r, dept_names) for r in ordered.itertuples(index=False)]
        self.payload_json = script_json(
            {
                "rows": self.rows,
                "labels": [html.escape(f) for f in POPUP_FIELDS],
                "due_field": POPUP_FIELDS.index("办理期限"),
                "overdue_label": html.escape(OVERDUE_LABEL),
                "normal": MARKER_STYLE,
                "overdue": OVERDUE_STYLE,
            }
        )


def marker_row(e: object, dept_names: Mapping[str, str]) -> list[object]:
    """[lat, lon, fill colour, overdue 0/1, tooltip parts, popup values]; all text display text, escaped."""
    status = str(getattr(e, "status"))
    return [
        round(float(getattr(e, "lat")), 6),
        round(float(getattr(e, "lon")), 6),
        STATUS_COLOURS.get(status, UNKNOWN_COLOUR),
        1 if bool(getattr(e, "overdue", False)) else 0,
        tooltip_parts(e),
        popup_values(e, dept_names),
    ]


def tooltip_parts(e: object) -> list[str]:
    """Category, status and report time, escaped (the page joins them with " · ")."""
    return [_text(_category(e)), _text(_status(e)), _time(getattr(e, "reported_at"))]


def popup_values(e: object, dept_names: Mapping[str, str]) -> list[str]:
    """The popup's values in POPUP_FIELDS order, escaped; missing values show as "—"."""
    dept = str(getattr(e, "dept"))
    grids = [getattr(e, f"grid_{lv}_name", None) for lv in ("large", "medium", "small")]
    values = {
        "类别": _text(_category(e)),
        "状态": _text(_status(e)),
        "部门": _text(dept_names.get(dept, dept)),
        "上报时间": _time(getattr(e, "reported_at")),
        "派遣时间": _time(getattr(e, "dispatched_at", None)),
        "办结时间": _time(getattr(e, "closed_at", None)),
        "办理期限": _time(getattr(e, "due_at", None)),
        "网格": _text(" / ".join(str(g) for g in grids if _present(g)) or None),
        "地址": _text(getattr(e, "address", None)),
        "描述": _text(getattr(e, "description", None)),
        "编号": _text(getattr(e, "event_id")),
    }
    return [values[k] for k in POPUP_FIELDS]


def _category(e: object) -> object:
    name = getattr(e, "category_name", None)
    return name if _present(name) else getattr(e, "category", None)


def _status(e: object) -> str:
    status = str(getattr(e, "status"))
    return STATUS_LABELS.get(status, status)


def _present(value: object) -> bool:
    if value is None:
        return False
    try:
        if pd.isna(value):  # type: ignore[arg-type]
            return False
    except (TypeError, ValueError):
        pass
    return str(value) != ""


def _text(value: object) -> str:
    return html.escape(display_text(value)) if _present(value) else MISSING


def _time(value: object) -> str:
    if not _present(value):
        return MISSING
    ts = value if isinstance(value, dt.datetime) else pd.Timestamp(value)  # type: ignore[arg-type]
    return ts.strftime(TIME_FORMAT)
