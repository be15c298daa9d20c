"""The briefing's pictures (PNG bytes, matplotlib Agg): choropleths and the hotspot map drawn from the same prepared
geometry and the same classes as the dashboard's maps (layers.geometry, layers.choropleth), the trend and the
category chart. Chinese labels use the installed CJK TrueType font (layers.fonts)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from layers.choropleth import NO_DATA_COLOUR, class_breaks, class_colours, classify, legend_labels
from layers.fonts import cjk_font_path
from layers.geometry import prepare_level

__all__ = ["briefing_images", "choropleth_png", "hotspot_png", "trend_png", "categories_png"]

DPI = 150


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    path = str(cjk_font_path())
    font_manager.fontManager.addfont(path)
    name = font_manager.FontProperties(fname=path).get_name()
    plt.rcParams["font.family"] = [name]
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def _map(geometry: np.ndarray, colours: list[str], legend: list[tuple[str, str]], title: str) -> bytes:
    import geopandas as gpd
    from matplotlib.patches import Patch

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 5.0))
    gpd.GeoSeries(list(geometry), crs="EPSG:4326").plot(ax=ax, color=colours, edgecolor="#4b5563", linewidth=0.2)
    ax.set_axis_off()
    ax.set_aspect(1 / np.cos(np.radians(np.nanmean([g.centroid.y for g in geometry if not g.is_empty]))))
    ax.set_title(title, fontsize=12)
    ax.legend(handles=[Patch(facecolor=c, edgecolor="#6b7280", label=l) for c, l in legend], loc="lower right",
              fontsize=8, frameon=True)
    return _png(fig)


def choropleth_png(con: duckdb.DuckDBPyConnection, level: str, values: pd.Series, title: str,
                   codes: set[str] | None = None) -> bytes:
    """The level's grids filled by `values` (indexed by grid_code) in the dashboard's quantile classes and palette;
    only `codes` when given."""
    prepared = prepare_level(con, level)
    keep = np.array([codes is None or c in codes for c in prepared.codes])
    aligned = values.reindex(list(prepared.codes)).astype(float)[keep]
    edges = class_breaks(aligned)
    palette = class_colours(max(len(edges) - 1, 0))
    classes = classify(aligned, edges)
    colours = [NO_DATA_COLOUR if pd.isna(k) else palette[int(k)] for k in classes]
    whole = bool(np.all(np.isclose(aligned.dropna(), np.round(aligned.dropna()))))
    legend = list(zip(palette, legend_labels(edges, whole=whole)))
    return _map(prepared.geometry[keep], colours, legend, title)


def hotspot_png(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, level: str, title: str,
                codes: set[str] | None = None) -> bytes:
    """Gi* classes (layers.hotspots.hotspots' frame) in the red/blue palette, with a legend of the classes present."""
    from layers.hotspots import HOT_CLASSES, HOT_COLOURS

    prepared = prepare_level(con, level)
    keep = np.array([codes is None or c in codes for c in prepared.codes])
    classes = frame.set_index("grid_code")["gi_class"].reindex(list(prepared.codes)).fillna("不显著")[keep]
    colours = [HOT_COLOURS[c] for c in classes]
    legend = [(HOT_COLOURS[c], c) for c in HOT_CLASSES if (classes == c).any()]
    return _map(prepared.geometry[keep], colours, legend, title)


def trend_png(trend: pd.DataFrame, title: str) -> bytes:
    """New events per period: a line with whole-number ticks from 0 (no '0.000000' axis)."""
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 2.8))
    ax.plot(trend["period_start"], trend["events"], marker="o", markersize=3, color="#4e79a7")
    ax.set_ylim(bottom=0, top=max(1, int(trend["events"].max() if len(trend) else 1) * 1.15))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_title(title, fontsize=11)
    ax.set_ylabel("件")
    ax.grid(axis="y", alpha=0.3)
    fig.autofmt_xdate()
    return _png(fig)


def categories_png(categories: pd.DataFrame, title: str) -> bytes:
    """The commonest categories as horizontal bars with their counts."""
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 3.0))
    data = categories.iloc[::-1]
    ax.barh(data["类别"], data["件数"], color="#f28e2b")
    for y, v in enumerate(data["件数"]):
        ax.text(v, y, f" {v:,}", va="center", fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title, fontsize=11)
    return _png(fig)


def briefing_images(con: duckdb.DuckDBPyConnection, content: Any, *, grid: str | None,
                    child_level: str) -> dict[str, bytes]:
    """Caption -> PNG: events per grid of the level below the scope, the hotspot map (medium grids), trend, mix.
    `content` is a layers.briefing.BriefingContent (not imported: briefing imports this module)."""
    from layers.hotspots import hotspots
    from layers.stats import grid_table, window_totals

    images: dict[str, bytes] = {}
    codes = None
    if grid is not None:
        grids = grid_table(con, child_level)
        codes = set(grids.loc[(grids["parent_code"] == grid) | (grids["grandparent_code"] == grid) |
                              (grids["grid_code"] == grid), "grid_code"])
    totals = window_totals(con, child_level, start=content.start, end=content.end).set_index("grid_code")["events"]
    caption = f"{content.period_name}新增事件（按{ {'large': '大网格', 'medium': '中网格', 'small': '小网格'}[child_level]}）"
    images[caption] = choropleth_png(con, child_level, totals, caption, codes)
    window = content.end - dt.timedelta(weeks=13), content.end
    hot = hotspots(con, "medium", start=window[0], end=window[1])
    medium_codes = None if grid is None else set(grid_table(con, "medium").loc[
        lambda g: (g["parent_code"] == grid) | (g["grid_code"] == grid) | (g["grandparent_code"] == grid), "grid_code"])
    caption = "近13周热点分析（中网格，Gi*）"
    images[caption] = hotspot_png(con, hot, "medium", caption, medium_codes)
    if len(content.trend):
        images["新增事件趋势"] = trend_png(content.trend, "新增事件趋势")
    if len(content.categories):
        images["事件类别构成"] = categories_png(content.categories, f"{content.period_name}事件类别构成（前{len(content.categories)}）")
    return images
