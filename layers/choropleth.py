"""Choropleth of a value per grid: quantile or natural-breaks classes, escaped Chinese tooltips with rank,
a plain-HTML legend, the level's prepared (coverage-simplified, packed) geometry, offline Leaflet.

The geometry goes into the page once as a packed topology (see layers/geometry.py) and is decoded by a
few lines of inline JavaScript; values, classes and labels travel as short columns beside it. No
folium.GeoJson (it repeats every shared edge and writes Chinese as \\uXXXX), no branca colormap (it makes
streamlit-folium load d3 from a CDN), no plugin files.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement
from folium.template import Template

from layers.display_text import display_text
from layers.geometry import PreparedGrids, prepared_from_frame
from layers.offline import Basemap, offline_map, script_json

PALETTE: tuple[str, ...] = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")  # ColorBrewer YlOrRd 5
NO_DATA_COLOUR = "#d1d5db"
NO_DATA_LABEL = "无数据"
NO_RANK = "—"
N_CLASSES = 5
BreakMethod = Literal["quantile", "jenks"]
BREAK_METHODS: tuple[str, ...] = ("quantile", "jenks")
JENKS_MAX_UNITS = 1000  # above this many distinct values, natural breaks fall between runs of sorted values
TOOLTIP_FIELDS: tuple[str, ...] = ("name", "code", "value", "rank")
OUTLINE = {"color": "#4b5563", "weight": 1, "opacity": 1, "fillOpacity": 0.75}
HIGHLIGHT = {"color": "#111827", "weight": 3}
LEGEND_BOX = (
    "background:#fff;padding:6px 10px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);"
    "font-size:12px;line-height:1.5;color:#111827"
)
LEGEND_SWATCH = "display:inline-block;width:14px;height:10px;margin-right:6px;border:1px solid #6b7280;background:"
RING_SWATCH = "display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:50%;border:"


def choropleth(
    grids: gpd.GeoDataFrame | PreparedGrids,
    values: pd.Series,
    *,
    title: str,
    basemap: Basemap = Basemap(),
    value_label: str = "事件数",
    method: BreakMethod = "quantile",
    k: int = N_CLASSES,
    value_format: Callable[[float], str] | None = None,
    edges: Sequence[float] | None = None,
    labels: Sequence[str] | None = None,
    colours: Sequence[str] | None = None,
) -> folium.Map:
    """A map of the grids filled by `values` (a Series indexed by grid_code), fitted to the grids.

    `edges` fixes the classes (else `method` computes them) and `labels` names them in the legend.

    `grids` is best a PreparedGrids from layers.geometry.prepare_level (cached per level); a
    GeoDataFrame (grid_code, name, geometry) is prepared here, cached on its content.
    """
    prepared = grids if isinstance(grids, PreparedGrids) else prepared_from_frame(grids)
    layer = GridChoropleth(prepared, values, value_label=value_label, method=method, k=k, value_format=value_format,
                           edges=edges, labels=labels, colours=colours)
    minx, miny, maxx, maxy = prepared.bounds
    m = offline_map(basemap, location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=12, control_scale=True)
    layer.add_to(m)
    Legend(title, layer.legend_rows()).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


class GridChoropleth(MacroElement):
    """The filled grids of one level with a tooltip per grid (名称, 编码, value, 排名); a Leaflet featureGroup.

    `properties()` gives what each grid's tooltip and fill will show (for tests and for a table).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function (topo, d) {
            var q = topo.quantum, ox = topo.origin[0], oy = topo.origin[1];
            var steps = topo.arcs, lens = topo.arc_lengths, arcs = new Array(lens.length);
            var x = 0, y = 0, k = 0;
            for (var a = 0; a < lens.length; a++) {
                var arc = new Array(lens[a]);
                for (var j = 0; j < lens[a]; j++) {
                    x += steps[k++]; y += steps[k++];
                    arc[j] = [oy + y * q, ox + x * q];
                }
                arcs[a] = arc;
            }
            function ring(ids) {
                var out = [];
                for (var r = 0; r < ids.length; r++) {
                    var id = ids[r], arc = id < 0 ? arcs[~id].slice().reverse() : arcs[id];
                    for (var j = r ? 1 : 0; j < arc.length; j++) out.push(arc[j]);
                }
                return out;
            }
            function style(i) {
                var s = Object.assign({}, d.outline);
                s.fillColor = d.classes[i] < 0 ? d.no_data_colour : d.colours[d.classes[i]];
                return s;
            }
            function tip(i) {
                var rank = d.ranks[i] === null ? d.no_rank : d.ranks[i] + " / " + d.n_ranked;
                var cells = [d.names[i], d.codes[i], d.values[i], rank], rows = "";
                for (var f = 0; f < cells.length; f++) {
                    rows += "<tr><th style=\\"text-align:left;padding-right:8px\\">" + d.aliases[f]
                        + "</th><td>" + cells[f] + "</td></tr>";
                }
                return "<table class=\\"minqing-tip\\">" + rows + "</table>";
            }
            var group = L.featureGroup(), byCode = {};
            topo.grids.forEach(function (polys, i) {
                if (!polys.length) return;
                var latlngs = polys.map(function (rings) { return rings.map(ring); });
                var layer = L.polygon(latlngs.length === 1 ? latlngs[0] : latlngs, style(i));
                byCode[d.codes[i]] = layer;
                layer.bindTooltip(function () { return tip(i); }, {sticky: true});
                layer.on("mouseover", function () { this.setStyle(d.highlight); this.bringToFront(); });
                layer.on("mouseout", function () { this.setStyle(style(i)); });
                group.addLayer(layer);
            });
            window.minqingGridLayers = byCode;  // the grids by code, for the command center's pulse
            return group;
        })({{ this.prepared.topology_json }}, {{ this.payload_json }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        prepared: PreparedGrids,
        values: pd.Series,
        *,
        value_label: str = "事件数",
        method: BreakMethod = "quantile",
        k: int = N_CLASSES,
        value_format: Callable[[float], str] | None = None,
        edges: Sequence[float] | None = None,
        labels: Sequence[str] | None = None,
        colours: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self._name = "GridChoropleth"
        self.prepared = prepared
        self.value_label = value_label
        self.aligned = align_values(prepared.codes, values)
        self.edges = list(edges) if edges is not None else class_breaks(self.aligned, method=method, k=k)
        if labels is not None and len(labels) != len(self.edges) - 1:
            raise ValueError(f"{len(labels)} labels for {len(self.edges) - 1} classes")
        self.labels = list(labels) if labels is not None else None
        self.colours = list(colours) if colours is not None else class_colours(max(len(self.edges) - 1, 0))
        if len(self.colours) != max(len(self.edges) - 1, 0):
            raise ValueError(f"{len(self.colours)} colours for {len(self.edges) - 1} classes")
        classes = classify(self.aligned, self.edges)
        self.classes = [-1 if pd.isna(c) else int(c) for c in classes]
        ranks = self.aligned.rank(ascending=False, method="min")
        self.ranks = [None if pd.isna(r) else int(r) for r in ranks]
        self.n_ranked = int(self.aligned.notna().sum())
        fmt = value_format or format_number
        self.value_texts = [NO_DATA_LABEL if pd.isna(v) else html.escape(fmt(float(v))) for v in self.aligned]
        self.whole = _is_whole(self.aligned)
        self.payload_json = script_json(
            {
                "names": [_tip_text(n) for n in prepared.names],
                "codes": [_tip_text(c) for c in prepared.codes],
                "values": self.value_texts,
                "ranks": self.ranks,
                "n_ranked": self.n_ranked,
                "classes": self.classes,
                "colours": [_colour(c) for c in self.colours],
                "no_data_colour": NO_DATA_COLOUR,
                "no_rank": NO_RANK,
                "aliases": [html.escape(a) for a in ("名称", "编码", value_label, "排名")],
                "outline": OUTLINE,
                "highlight": HIGHLIGHT,
            }
        )

    def properties(self) -> list[dict[str, object]]:
        """Per grid, in the level's order: name, code (display text, escaped), value text, rank text, fill colour."""
        out = []
        for i, (name, code) in enumerate(zip(self.prepared.names, self.prepared.codes)):
            rank = self.ranks[i]
            out.append(
                {
                    "name": _tip_text(name),
                    "code": _tip_text(code),
                    "value": self.value_texts[i],
                    "rank": NO_RANK if rank is None else f"{rank} / {self.n_ranked}",
                    "fill": NO_DATA_COLOUR if self.classes[i] < 0 else self.colours[self.classes[i]],
                }
            )
        return out

    def legend_rows(self) -> list[tuple[str, str]]:
        """(colour, label) per class, plus 无数据 when some grid has no value."""
        rows = list(zip(self.colours, self.labels or legend_labels(self.edges, whole=self.whole)))
        if self.aligned.isna().any():
            rows.append((NO_DATA_COLOUR, NO_DATA_LABEL))
        return rows


# --- values and classes -------------------------------------------------------------------


def align_values(codes: Sequence[str], values: pd.Series) -> pd.Series:
    """`values` (indexed by grid_code) in the order of `codes`, NaN where a grid has no value."""
    if not values.index.is_unique:
        raise ValueError("`values` index has duplicate grid codes; aggregate to one value per grid_code first")
    numeric = pd.to_numeric(values, errors="coerce")
    numeric.index = numeric.index.map(str)
    aligned = numeric.reindex(list(codes))
    if len(values) and aligned.isna().all():
        raise ValueError(
            f"none of the `values` index labels match the grids' codes (e.g. {values.index[0]!r}); "
            "index `values` by grid_code"
        )
    return aligned


def class_breaks(values: pd.Series, *, method: BreakMethod = "quantile", k: int = N_CLASSES) -> list[float]:
    """Class edges [min, ..., max] by `method` ("quantile" or "jenks"); equal edges merge classes."""
    if method not in BREAK_METHODS:
        raise ValueError(f'`method` was "{method}" but is expected to be one of {list(BREAK_METHODS)}')
    if not 1 <= k <= len(PALETTE):
        raise ValueError(f"`k` was {k} but is expected to be between 1 and {len(PALETTE)}")
    return quantile_breaks(values, k) if method == "quantile" else jenks_breaks(values, k)


def quantile_breaks(values: pd.Series, k: int = N_CLASSES) -> list[float]:
    """Class edges at the quantiles of `values` (NaN ignored, whole numbers for counts); ties merge classes."""
    v = values.dropna().to_numpy(dtype="float64")
    if v.size == 0:
        return []
    q = np.quantile(v, np.linspace(0.0, 1.0, k + 1))
    if np.array_equal(v, np.round(v)):  # counts: whole-number edges, a readable legend
        q = np.round(q)
    edges = np.unique(q)
    return [float(edges[0])] * 2 if edges.size == 1 else [float(e) for e in edges]


def jenks_breaks(values: pd.Series, k: int = N_CLASSES) -> list[float]:
    """Natural breaks (Fisher-Jenks): edges that minimise the squared deviations within the k classes.

    Exact dynamic programme over the distinct values weighted by their counts; with more than
    JENKS_MAX_UNITS distinct values, breaks may fall only between runs of neighbouring sorted values
    (the deviations themselves stay exact). Every edge after the first is a data value: the largest
    of its class, so classify() puts it in the class it closes.
    """
    v = values.dropna().to_numpy(dtype="float64")
    if v.size == 0:
        return []
    u, w = np.unique(v, return_counts=True)
    if u.size == 1:
        return [float(u[0])] * 2
    if u.size <= k:
        return [float(x) for x in u]
    cut = np.unique(np.round(np.linspace(0, u.size, min(u.size, JENKS_MAX_UNITS) + 1)).astype(int))
    wf = w.astype("float64")
    prefix = [np.concatenate([[0.0], np.cumsum(x)])[cut] for x in (wf, wf * u, wf * u * u)]
    n = cut.size - 1  # units

    def ssd(i: np.ndarray, j: np.ndarray) -> np.ndarray:  # squared deviations of units i..j-1
        pw, ps, ps2 = (p[j] - p[i] for p in prefix)
        return ps2 - ps * ps / pw

    cost = np.full((k + 1, n + 1), np.inf)
    back = np.zeros((k + 1, n + 1), dtype=int)
    ends = np.arange(1, n + 1)
    cost[1, 1:] = ssd(np.zeros_like(ends), ends)
    for c in range(2, k + 1):
        for j in range(c, n + 1):
            starts = np.arange(c - 1, j)
            total = cost[c - 1, starts] + ssd(starts, np.full_like(starts, j))
            best = int(np.argmin(total))
            cost[c, j], back[c, j] = total[best], starts[best]
    bounds, j = [n], n
    for c in range(k, 1, -1):
        j = back[c, j]
        bounds.append(j)
    uppers = [float(u[cut[b] - 1]) for b in reversed(bounds)]
    return [float(u[0]), *uppers]


def classify(values: pd.Series, edges: Sequence[float]) -> pd.Series:
    """Class index per value: class i holds (edges[i], edges[i+1]], the first also edges[0]; NaN stays NaN."""
    if len(edges) < 2:
        return pd.Series(np.nan, index=values.index)
    idx = np.searchsorted(np.asarray(edges[1:-1]), values.to_numpy(dtype="float64"), side="left")
    return pd.Series(idx, index=values.index, dtype="float64").where(values.notna())


def class_colours(n: int) -> list[str]:
    """`n` colours (n <= 5) from the fixed palette, spread from light to dark."""
    if not 0 <= n <= len(PALETTE):
        raise ValueError(f"`n` was {n} but is expected to be between 0 and {len(PALETTE)}")
    if n <= 1:
        return list(PALETTE[len(PALETTE) // 2 : len(PALETTE) // 2 + n])
    return [PALETTE[int(round(i))] for i in np.linspace(0, len(PALETTE) - 1, n)]


def legend_labels(edges: Sequence[float], *, whole: bool = False) -> list[str]:
    """One label per class, e.g. "0 – 3"; a single class of equal values shows just the value.

    With `whole` (the values are counts) a class after the first starts one above the previous
    class's top, so the labels do not overlap: "0 – 3", "4 – 9", and "7" when a class is one number.
    """
    if len(edges) < 2:
        return []
    if edges[0] == edges[-1]:
        return [format_number(edges[0])]
    labels = []
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        if whole and i > 0:
            lo = np.floor(lo) + 1
        labels.append(format_number(hi) if lo == hi else f"{format_number(lo)} – {format_number(hi)}")
    return labels


def format_number(x: float) -> str:
    """Whole numbers with thousands separators ("1,234"), others with two decimals ("0.35")."""
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


# --- legend -------------------------------------------------------------------------------


class Legend(MacroElement):
    """A Leaflet control (bottom right) whose content is escaped, fixed-structure HTML; no d3, no CDN."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var legend = L.control({position: "bottomright"});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "minqing-legend");
                div.innerHTML = {{ this.html_json }};
                return div;
            };
            legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, title: str, rows: Sequence[tuple[str, str]], *, rings: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__()
        self._name = "Legend"
        self.html = legend_html(title, rows, rings=rings)
        self.html_json = script_json(self.html)


def legend_html(title: str, rows: Sequence[tuple[str, str]], *, rings: Sequence[tuple[str, str]] = ()) -> str:
    """The legend's HTML: filled swatches (`rows`) then ring swatches (`rings`); text escaped, colours #rrggbb."""
    items = "".join(
        f'<div><span style="{LEGEND_SWATCH}{_colour(c)}"></span>{html.escape(label)}</div>' for c, label in rows
    )
    items += "".join(
        f'<div><span style="{RING_SWATCH}2px solid {_colour(c)}"></span>{html.escape(label)}</div>'
        for c, label in rings
    )
    heading = f'<div style="font-weight:600;margin-bottom:2px">{html.escape(title)}</div>'
    return f'<div style="{LEGEND_BOX}">{heading}{items}</div>'


def _tip_text(text: object) -> str:
    """A grid's name or code in its tooltip: display text (bidi controls as tokens, cut with "…"), escaped."""
    return html.escape(display_text(text))


def _is_whole(values: pd.Series) -> bool:
    v = values.dropna().to_numpy(dtype="float64")
    return bool(v.size) and bool(np.array_equal(v, np.round(v)))


def _colour(c: str) -> str:
    if not (len(c) == 7 and c.startswith("#") and all(ch in "0123456789abcdefABCDEF" for ch in c[1:])):
        raise ValueError(f"legend colour was {c!r} but is expected to be #rrggbb")
    return c


__all__ = [
    "BREAK_METHODS",
    "GridChoropleth",
    "Legend",
    "PALETTE",
    "align_values",
    "choropleth",
    "class_breaks",
    "class_colours",
    "classify",
    "format_number",
    "jenks_breaks",
    "legend_html",
    "legend_labels",
    "quantile_breaks",
]
