"""Offline maps: folium maps that load the vendored Leaflet from Streamlit static serving, and the basemap setting."""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Literal

import folium
from branca.element import Element

# Files vendored under dashboard/static/vendor/leaflet/ (see SOURCE.txt there), served by
# Streamlit static serving (`--server.enableStaticServing true`) under /app/static/.
LEAFLET_VERSION = "1.9.4"
LEAFLET_URL_PREFIX = "/app/static/vendor/leaflet"
LEAFLET_JS_URL = f"{LEAFLET_URL_PREFIX}/leaflet.js"
LEAFLET_CSS_URL = f"{LEAFLET_URL_PREFIX}/leaflet.css"
VENDORED_FILES: tuple[str, ...] = (
    "leaflet.js",
    "leaflet.css",
    "images/layers.png",
    "images/layers-2x.png",
    "images/marker-icon.png",
    "images/marker-icon-2x.png",
    "images/marker-shadow.png",
)

NEUTRAL_BACKGROUND = "#f3f4f6"  # map background when there is no basemap

BasemapKind = Literal["none", "xyz"]


@dataclass(frozen=True)
class Basemap:
    """The basemap setting: "none" (no tile layer, neutral background) or an "xyz" tile URL template."""

    kind: BasemapKind = "none"
    url_template: str | None = None
    attribution: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("none", "xyz"):
            raise ValueError(f'Basemap `kind` was "{self.kind}" but is expected to be "none" or "xyz"')
        if self.kind == "xyz" and not self.url_template:
            raise ValueError(
                'Basemap kind "xyz" needs `url_template`, e.g. "http://tiles.local/{z}/{x}/{y}.png" '
                'served inside your network; or use kind="none"'
            )
        if self.kind == "none" and self.url_template:
            raise ValueError('Basemap kind "none" takes no `url_template`; set kind="xyz" to use tiles')


def use_offline_assets(m: folium.Map) -> folium.Map:
    """Point `m` at the vendored Leaflet only (drops folium's CDN jQuery/Bootstrap/awesome-markers)."""
    m.default_js = [("leaflet", LEAFLET_JS_URL)]
    m.default_css = [("leaflet_css", LEAFLET_CSS_URL)]
    return m


def offline_map(basemap: Basemap = Basemap(), **map_options: Any) -> folium.Map:
    """A folium.Map using the vendored Leaflet, with the basemap's tile layer or a neutral background."""
    m = use_offline_assets(folium.Map(tiles=None, **map_options))
    if basemap.kind == "xyz":
        folium.TileLayer(
            tiles=basemap.url_template,
            attr=html.escape(basemap.attribution) or "底图",
            name="底图",
            control=False,
        ).add_to(m)
    else:
        style = f"<style>.leaflet-container {{ background: {NEUTRAL_BACKGROUND}; }}</style>"
        m.get_root().header.add_child(Element(style), name="minqing_neutral_background")
    return m
