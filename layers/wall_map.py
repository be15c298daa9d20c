"""The wall's dark map style on top of a command-center map: a dark background, the large grids' outlines and their
names at each grid's inside point (escaped, as one JSON array drawn by a few lines of inline JavaScript)."""

from __future__ import annotations

import html

import folium
import shapely
from branca.element import Element, MacroElement
from folium.template import Template

from layers.display_text import display_text
from layers.geometry import PreparedGrids
from layers.offline import script_json

DARK_STYLE = """<style>
.leaflet-container {background: #0b1220 !important;}
.leaflet-interactive {stroke: #0b1220;}
.minqing-wall-label {color: #f8fafc; font-size: 13px; font-weight: 700; white-space: nowrap;
  text-shadow: 0 0 3px #000, 0 0 6px #000; pointer-events: none; transform: translate(-50%, -50%);}
</style>"""  # constant CSS, no data in it


class LargeGridLabels(MacroElement):
    """The large grids' outlines (non-interactive) and names."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (d, map) {
            d.outlines.forEach(function (rings) {
                L.polygon(rings, {interactive: false, fill: false, color: "#e2e8f0", weight: 1.6, opacity: 0.8})
                    .addTo(map);
            });
            d.labels.forEach(function (label) {
                L.marker([label[0], label[1]], {interactive: false, icon: L.divIcon({className: "",
                    html: '<div class="minqing-wall-label">' + label[2] + "</div>", iconSize: null})}).addTo(map);
            });
        })({{ this.payload_json }}, {{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, large: PreparedGrids) -> None:
        super().__init__()
        self._name = "LargeGridLabels"
        outlines, labels = [], []
        for geometry, name in zip(large.geometry, large.names):
            if geometry is None or geometry.is_empty:
                continue
            for polygon in shapely.get_parts(geometry):
                outlines.append([[round(y, 5), round(x, 5)] for x, y in polygon.exterior.coords[:-1]])
            point = geometry.representative_point()
            labels.append([round(point.y, 5), round(point.x, 5), html.escape(display_text(name, 20))])
        self.payload_json = script_json({"outlines": outlines, "labels": labels})


def dark_wall_style(m: folium.Map, large: PreparedGrids) -> folium.Map:
    """`m` on a dark background with the large grids outlined and named."""
    m.get_root().header.add_child(Element(DARK_STYLE), name="minqing_wall_dark")
    LargeGridLabels(large).add_to(m)
    return m
