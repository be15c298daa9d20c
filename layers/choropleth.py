"""Choropleth of a value per grid: quantile classes, escaped Chinese tooltips, a plain-HTML legend, offline Leaflet."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import MacroElement
from folium.template import Template

from layers.offline import Basemap, offline_map

PALETTE: tuple[str, ...] = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")  # ColorBrewer YlOrRd 5
NO_DATA_COLOUR = "#d1d5db"
NO_DATA_LABEL = "无数据"
N_CLASSES = 5
COORD_DECIMALS = 5  # 1e-5 degrees is about 1 m: enough for grids, smaller payload
TOOLTIP_FIELDS: tuple[str, ...] = ("name", "code", "value", "rank")
OUTLINE = {"color": "#4b5563", "weight": 1, "fillOpacity": 0.75}
HIGHLIGHT = {"color": "#111827", "weight": 3}
LEGEND_BOX = (
    "background:#fff;padding:6px 10px;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.3);"
    "font-size:12px;line-height:1.5;color:#111827"
)
LEGEND_SWATCH = "display:inline-block;width:14px;height:10px;margin-right:6px;border:1px solid #6b7280;background:"


def choropleth(
    grids: gpd.GeoDataFrame,
    values: pd.Series,
    *,
    title: str,
    basemap: Basemap = Basemap(),
    value_label: str = "事件数",
) -> folium.Map:
    """A map of `grids` filled by `values` (indexed by grid_code), fitted to the grids' bounds."""
    aligned = _align(grids, values)
    edges = quantile_breaks(aligned)
    classes = classify(aligned, edges)
    colours = class_colours(max(len(edges) - 1, 0))
    fills = [NO_DATA_COLOUR if pd.isna(c) else colours[int(c)] for c in classes]

    minx, miny, maxx, maxy = grids.total_bounds
    centre = [(miny + maxy) / 2, (minx + maxx) / 2]
    m = offline_map(basemap, location=centre, zoom_start=12, control_scale=True)
    aliases = ["名称", "编码", html.escape(value_label), "排名"]
    folium.GeoJson(
        _feature_collection(grids, aligned),
        style_function=lambda f: {**OUTLINE, "fillColor": fills[f["id"]]},
        highlight_function=lambda f: HIGHLIGHT,
        tooltip=folium.GeoJsonTooltip(fields=list(TOOLTIP_FIELDS), aliases=aliases, sticky=True),
    ).add_to(m)
    legend_rows = list(zip(colours, legend_labels(edges)))
    if aligned.isna().any():
        legend_rows.append((NO_DATA_COLOUR, NO_DATA_LABEL))
    Legend(title, legend_rows).add_to(m)
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


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


def legend_labels(edges: Sequence[float]) -> list[str]:
    """One label per class, e.g. "0 – 3"; a single class of equal values shows just the value."""
    if len(edges) < 2:
        return []
    if edges[0] == edges[-1]:
        return [_number(edges[0])]
    return [f"{_number(lo)} – {_number(hi)}" for lo, hi in zip(edges[:-1], edges[1:])]


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

    def __init__(self, title: str, rows: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self._name = "Legend"
        self.html = legend_html(title, rows)
        # JSON string literal, safe inside <script>: "</" cannot close the tag
        self.html_json = json.dumps(self.html, ensure_ascii=False).replace("</", "<\\/")


def legend_html(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """The legend's HTML; the title and labels are escaped, colours must be #rrggbb."""
    items = "".join(
        f'<div><span style="{LEGEND_SWATCH}{_colour(c)}"></span>{html.escape(label)}</div>' for c, label in rows
    )
    heading = f'<div style="font-weight:600;margin-bottom:2px">{html.escape(title)}</div>'
    return f'<div style="{LEGEND_BOX}">{heading}{items}</div>'


def _align(grids: gpd.GeoDataFrame, values: pd.Series) -> pd.Series:
    if grids.empty:
        raise ValueError("`grids` is empty: there is nothing to map; load grids first (make demo or minqing load)")
    if grids.crs is None or grids.crs.to_epsg() != 4326:
        raise ValueError(f"`grids` CRS was {grids.crs} but is expected to be EPSG:4326; call grids.to_crs(4326)")
    if not values.index.is_unique:
        raise ValueError("`values` index has duplicate grid codes; aggregate to one value per grid_code first")
    aligned = pd.to_numeric(values, errors="coerce").reindex(grids["grid_code"].to_numpy())
    if len(values) and aligned.isna().all():
        raise ValueError(
            f"none of the `values` index labels match grids.grid_code (e.g. {values.index[0]!r}); "
            "index `values` by grid_code"
        )
    return aligned


def _feature_collection(grids: gpd.GeoDataFrame, aligned: pd.Series) -> dict:
    geoms = shapely.transform(grids.geometry.to_numpy(), lambda c: np.round(c, COORD_DECIMALS))
    ranks = aligned.rank(ascending=False, method="min")
    n_ranked = int(aligned.notna().sum())
    features = []
    for i, (code, name, value, rank, geom) in enumerate(
        zip(grids["grid_code"], grids["name"], aligned, ranks, geoms)
    ):
        props = {
            "name": html.escape(str(name)),
            "code": html.escape(str(code)),
            "value": NO_DATA_LABEL if pd.isna(value) else _number(value),
            "rank": "—" if pd.isna(rank) else f"{int(rank)} / {n_ranked}",
        }
        features.append({"type": "Feature", "id": i, "properties": props, "geometry": geom.__geo_interface__})
    return {"type": "FeatureCollection", "features": features}


def _number(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def _colour(c: str) -> str:
    if not (len(c) == 7 and c.startswith("#") and all(ch in "0123456789abcdefABCDEF" for ch in c[1:])):
        raise ValueError(f"legend colour was {c!r} but is expected to be #rrggbb")
    return c
