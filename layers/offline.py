"""Offline maps: folium maps that load the vendored Leaflet from Streamlit static serving, and the basemap setting.

Every script and stylesheet comes from dashboard/static/vendor/ (served at /app/static/vendor/ with
`--server.enableStaticServing true`); the only outside address a page may name is a basemap tile URL
that an administrator configured. The default basemap is none: a neutral background, no tiles.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import folium
from branca.element import Element

# Files vendored under dashboard/static/vendor/leaflet/ (see SOURCE.txt there), served by
# Streamlit static serving (`--server.enableStaticServing true`) under /app/static/.
VENDOR_URL_PREFIX = "/app/static/vendor"
LEAFLET_VERSION = "1.9.4"
LEAFLET_URL_PREFIX = f"{VENDOR_URL_PREFIX}/leaflet"
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
# Leaflet.heat (folium's patched copy), vendored under dashboard/static/vendor/leaflet-heat/.
LEAFLET_HEAT_JS_URL = f"{VENDOR_URL_PREFIX}/leaflet-heat/leaflet-heat.min.js"

NEUTRAL_BACKGROUND = "#f3f4f6"  # map background when there is no basemap

BasemapKind = Literal["none", "xyz", "tianditu"]
BASEMAP_KINDS: tuple[str, ...] = ("none", "xyz", "tianditu")
BASEMAP_FORMS = (
    '"none" (no tiles, neutral background; the default), '
    '"xyz:<url with {z} {x} {y}>" (e.g. "xyz:http://127.0.0.1:8080/{z}/{x}/{y}.png", a tile server in your network), '
    '"tianditu:<key>" or "tianditu:<key>:img" (天地图 vector or imagery with labels; needs internet and a browser key)'
)

# 天地图 web-Mercator ("_w") tiles through its WMTS KVP interface. Tianditu is CGCS2000 ≈ WGS84 with
# no GCJ-02 offset, so grids and events (stored in WGS84) line up without any shifting.
TIANDITU_LAYERS: dict[str, tuple[str, str, str]] = {  # layer: (base layer, annotation layer, Chinese name)
    "vec": ("vec", "cva", "天地图矢量"),
    "img": ("img", "cia", "天地图影像"),
}
TIANDITU_SUBDOMAINS = "01234567"
TIANDITU_ATTRIBUTION = "© 天地图 (国家地理信息公共服务平台)"
TIANDITU_MAX_ZOOM = 18
_TIANDITU_KEY = re.compile(r"[0-9A-Za-z]{8,64}")
_XYZ_URL = re.compile(r"(https?://[^\s\"'<>\\]+|/[^\s\"'<>\\]*)")


@dataclass(frozen=True)
class TileSource:
    """One tile layer of a basemap."""

    url_template: str
    attribution: str
    name: str
    subdomains: str = "abc"
    max_zoom: int = 18
    overlay: bool = False


@dataclass(frozen=True)
class Basemap:
    """The basemap setting: "none" (default), "xyz" (a tile URL template) or "tianditu" (key + vec/img).

    Build with Basemap.none(), Basemap.xyz(url), Basemap.tianditu(key) or Basemap.from_setting(text).
    """

    kind: BasemapKind = "none"
    url_template: str | None = None
    attribution: str = ""
    key: str | None = field(default=None, repr=False)  # 天地图 browser key: shown in tile URLs, not in logs
    layer: Literal["vec", "img"] = "vec"

    def __post_init__(self) -> None:
        if self.kind not in BASEMAP_KINDS:
            raise ValueError(f'Basemap `kind` was "{self.kind}" but is expected to be one of {list(BASEMAP_KINDS)}')
        if self.kind == "xyz":
            _check_xyz_url(self.url_template)
        elif self.url_template:
            raise ValueError(f'Basemap kind "{self.kind}" takes no `url_template`; use Basemap.xyz(url) for tiles')
        if self.kind == "tianditu":
            if not self.key or not _TIANDITU_KEY.fullmatch(self.key):
                raise ValueError(
                    "天地图 `key` must be the browser key from console.tianditu.gov.cn (8-64 letters and digits)"
                )
            if self.layer not in TIANDITU_LAYERS:
                raise ValueError(f'天地图 `layer` was "{self.layer}" but is expected to be one of {list(TIANDITU_LAYERS)}')
        elif self.key:
            raise ValueError(f'Basemap kind "{self.kind}" takes no `key`; use Basemap.tianditu(key)')

    @classmethod
    def none(cls) -> Basemap:
        """No tiles: a neutral background (works with no network at all)."""
        return cls()

    @classmethod
    def xyz(cls, url_template: str, attribution: str = "本地底图") -> Basemap:
        """Tiles from `url_template` with {z} {x} {y} (and optional {s}), e.g. a tile server in your network."""
        return cls(kind="xyz", url_template=url_template, attribution=attribution)

    @classmethod
    def tianditu(cls, key: str, layer: Literal["vec", "img"] = "vec") -> Basemap:
        """天地图 vector ("vec") or imagery ("img") tiles plus its annotation layer; needs internet."""
        return cls(kind="tianditu", key=key, layer=layer)

    @classmethod
    def from_setting(cls, text: str | None) -> Basemap:
        """Parse "none", "xyz:<url>", "tianditu:<key>" or "tianditu:<key>:img"; empty means none."""
        raw = (text or "").strip()
        kind, _, rest = raw.partition(":")
        kind = kind.strip().lower()
        try:
            if kind in ("", "none") and not rest:
                return cls.none()
            if kind == "xyz":
                return cls.xyz(rest.strip())
            if kind == "tianditu":
                key, _, layer = rest.strip().partition(":")
                return cls.tianditu(key.strip(), layer.strip().lower() or "vec")  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"basemap setting {_redact(raw)!r} is not usable: {exc}. Valid forms: {BASEMAP_FORMS}") from None
        raise ValueError(f"basemap setting {_redact(raw)!r} is not recognised. Valid forms: {BASEMAP_FORMS}")

    @property
    def setting(self) -> str:
        """The setting text that from_setting turns back into this basemap (attribution aside)."""
        if self.kind == "xyz":
            return f"xyz:{self.url_template}"
        if self.kind == "tianditu":
            return f"tianditu:{self.key}" + (":img" if self.layer == "img" else "")
        return "none"

    def tile_sources(self) -> tuple[TileSource, ...]:
        """The tile layers to draw, bottom first (none for "none")."""
        if self.kind == "xyz":
            assert self.url_template is not None
            return (TileSource(self.url_template, self.attribution or "底图", "底图"),)
        if self.kind == "tianditu":
            base, labels, name = TIANDITU_LAYERS[self.layer]
            common = {"attribution": TIANDITU_ATTRIBUTION, "subdomains": TIANDITU_SUBDOMAINS, "max_zoom": TIANDITU_MAX_ZOOM}
            return (
                TileSource(_tianditu_url(base, self.key or ""), name=name, **common),  # type: ignore[arg-type]
                TileSource(_tianditu_url(labels, self.key or ""), name=f"{name}注记", overlay=True, **common),  # type: ignore[arg-type]
            )
        return ()


def use_offline_assets(m: folium.Map) -> folium.Map:
    """Point `m` at the vendored Leaflet only (drops folium's CDN jQuery/Bootstrap/awesome-markers)."""
    m.default_js = [("leaflet", LEAFLET_JS_URL)]
    m.default_css = [("leaflet_css", LEAFLET_CSS_URL)]
    return m


def offline_map(basemap: Basemap = Basemap(), **map_options: Any) -> folium.Map:
    """A folium.Map using the vendored Leaflet, with the basemap's tile layers or a neutral background."""
    m = use_offline_assets(folium.Map(tiles=None, **map_options))
    sources = basemap.tile_sources()
    for source in sources:
        folium.TileLayer(
            tiles=source.url_template,
            attr=html.escape(source.attribution),
            name=source.name,
            subdomains=source.subdomains,
            max_zoom=source.max_zoom,
            max_native_zoom=source.max_zoom,
            overlay=source.overlay,
            control=False,
        ).add_to(m)
    if not sources:
        style = f"<style>.leaflet-container {{ background: {NEUTRAL_BACKGROUND} !important; }}</style>"
        m.get_root().header.add_child(Element(style), name="minqing_neutral_background")
    return m


def script_json(obj: Any) -> str:
    """JSON text that is safe inside an inline <script>: no "<", ">", "&" or line separators appear raw.

    Chinese stays as UTF-8 (3 bytes a character instead of 6 for \\uXXXX escapes).
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in _SCRIPT_ESCAPES:
        text = text.replace(raw, escaped)
    return text


_SCRIPT_ESCAPES = (
    ("&", "\\u0026"),
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def _check_xyz_url(url: str | None) -> None:
    if not url:
        raise ValueError(
            'Basemap kind "xyz" needs `url_template`, e.g. "http://127.0.0.1:8080/{z}/{x}/{y}.png" '
            'served inside your network; or use Basemap.none()'
        )
    missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
    if missing:
        raise ValueError(f"xyz `url_template` {url!r} lacks {' '.join(missing)}; e.g. http://127.0.0.1:8080/{{z}}/{{x}}/{{y}}.png")
    if not _XYZ_URL.fullmatch(url):
        raise ValueError(
            f"xyz `url_template` {url!r} must start with http://, https:// or / and contain no spaces, quotes, < > or \\"
        )


def _tianditu_url(layer: str, key: str) -> str:
    """A 天地图 tile URL template; `layer` comes from TIANDITU_LAYERS and `key` is checked to be alphanumeric."""
    return (
        f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
        f"&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
    )


def _redact(text: str) -> str:
    """A setting for an error message: a 天地图 key shows only its first four characters."""
    kind, sep, rest = text.partition(":")
    if kind.strip().lower() == "tianditu" and rest:
        key, sep2, layer = rest.partition(":")
        return f"{kind}:{key.strip()[:4]}…{sep2}{layer}"
    return text
