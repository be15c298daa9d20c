"""The patrol-coverage layer: a choropleth of the days since each grid's least-recently visited small grid, with
fixed classes ending in the neglected class (`neglect_days` days or more without a check-in, or never visited)."""

from __future__ import annotations

import folium
import pandas as pd

from layers.choropleth import choropleth
from layers.geometry import PreparedGrids
from layers.offline import Basemap

COVERAGE_COLUMN = "longest_unvisited_days"
VALUE_LABEL = "最久未走访（天）"


def coverage_classes(neglect_days: int, largest: float | None) -> tuple[list[float], list[str]]:
    """Class edges and legend labels: 0-1 day, 2-3 days, up to the day before the neglect limit, and from it on
    (失管: no check-in for `neglect_days` whole days or more, layers.patrol's rule)."""
    n = int(neglect_days)
    inner = [e for e in (1, 3) if e < n - 1]
    top = max(float(largest) if largest is not None and pd.notna(largest) else n, float(n))
    edges = [0.0, *map(float, inner), float(n - 1), top]
    labels = []
    lower = 0
    for edge in [*inner, n - 1]:
        labels.append(f"{lower} – {edge} 天" if lower < edge else f"{edge} 天")
        lower = edge + 1
    labels.append(f"{n} 天及以上（失管）")
    return edges, labels


def coverage_map(prepared: PreparedGrids, figures: pd.DataFrame, *, neglect_days: int, level_label: str,
                 basemap: Basemap = Basemap()) -> folium.Map:
    """The coverage choropleth of one level from layers.patrol.patrol_figures of that level."""
    values = figures.set_index("grid_code")[COVERAGE_COLUMN].astype(float)
    edges, labels = coverage_classes(neglect_days, values.max() if len(values) else None)
    title = f"巡查覆盖（{level_label}）：最久未走访天数，{int(neglect_days)} 天及以上为失管"
    return choropleth(prepared, values, title=title, value_label=VALUE_LABEL, edges=edges, labels=labels,
                      basemap=basemap, value_format=lambda v: f"{v:,.0f}")
