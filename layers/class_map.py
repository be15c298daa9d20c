"""A map of classes (hotspot classes, emerging-hotspot classes) on the level's grids: the choropleth layer with one
fixed colour per class and a legend of the classes present; offline like every map (layers/offline.py)."""

from __future__ import annotations

from collections.abc import Sequence

import folium
import pandas as pd

from layers.choropleth import choropleth
from layers.geometry import PreparedGrids
from layers.offline import Basemap

__all__ = ["class_map"]


def class_map(prepared: PreparedGrids, classes: pd.Series, order: Sequence[str], colours: dict[str, str], *,
              title: str, value_label: str = "分类", basemap: Basemap = Basemap()) -> folium.Map:
    """Grids filled by their class (`classes`: grid_code -> one of `order`), colours from `colours`."""
    present = [c for c in order if (classes == c).any()] or [order[-1]]
    index = {c: i for i, c in enumerate(present)}
    values = classes.map(index).astype("float64")
    edges = [-1.0, *[float(i) for i in range(len(present))]]
    return choropleth(prepared, values, title=title, basemap=basemap, value_label=value_label, edges=edges,
                      labels=list(present), colours=[colours[c] for c in present],
                      value_format=lambda v: present[int(v)])
