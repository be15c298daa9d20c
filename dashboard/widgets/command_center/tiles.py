"""The command center's tile row, composable: each source turns the page context into tiles, and the row draws
them in the order of TILE_SOURCES (st.metric on the operator's page, one HTML strip on the wall).

To add a tile (as 预警 does: warning_tile.py), write `def my_tiles(ctx: PageContext) -> list[Tile]` in its own
widget module and append it to TILE_SOURCES: the operator's first row (st.metric) and the wall's KPI strip
(strip_html, followed there by the patrol tiles) both pick it up. A tile whose non-zero value is an alarm is drawn
in red on the wall when its label is in ALARM_LABELS.

The row is drawn before the map and the feed, so a source must be quick. A figure that takes seconds (the warnings)
is read by its source from what was computed before, and computed by a LATE_WORK entry: both pages run
`live(late_work, ctx)` last, after the map and the feed.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable

import streamlit as st

from access.actions import supervision_counts
from dashboard.frame import PageContext
from dashboard.widgets.analysis.warnings import warm_warning_counts
from dashboard.widgets.command_center.kpis import Tile, tiles as kpi_texts
from dashboard.widgets.command_center.warning_tile import warning_tiles
from dashboard.widgets.common import count_text
from dashboard.widgets.supervision import visible_items
from layers.kpis import command_kpis

TileSource = Callable[[PageContext], list[Tile]]


def event_tiles(ctx: PageContext) -> list[Tile]:
    """今日新增, 未办结, 超期, 本月办结, 按期办结率 (layers.kpis)."""
    return kpi_texts(ctx.store.query(command_kpis, as_of=ctx.as_of, where=ctx.where))


def supervision_tiles(ctx: PageContext) -> list[Tile]:
    """督办中 and 督办超期 of the user's jurisdiction (the action log, by the events' current grids)."""
    open_items, overdue = supervision_counts(visible_items(ctx))
    return [
        Tile("督办中", count_text(open_items), None, "off", "", "已督办、尚未核查办结的事件。"),
        Tile("督办超期", count_text(overdue), None, "off", "",
             "督办期限已过、仍未收到反馈的事件。"),
    ]


TILE_SOURCES: list[TileSource] = [event_tiles, supervision_tiles, warning_tiles]
LATE_WORK: list[Callable[[PageContext], None]] = [warm_warning_counts]  # slow figures a source reads, made last


def late_work(ctx: PageContext) -> None:
    """Compute what the tile sources read but do not compute themselves (the pages run it after the map and feed)."""
    for work in LATE_WORK:
        work(ctx)


def row_tiles(ctx: PageContext, sources: list[TileSource] | None = None) -> list[Tile]:
    """Every source's tiles, in order."""
    return [tile for source in (TILE_SOURCES if sources is None else sources) for tile in source(ctx)]


def tile_row(ctx: PageContext) -> None:
    """The operator's tile row: one st.metric per tile, then when it was refreshed."""
    shown = row_tiles(ctx)
    for column, tile in zip(st.columns(len(shown)), shown):
        column.metric(tile.label, tile.value, tile.delta, tile.delta_color, help=tile.help or None,
                      delta_description=tile.delta_description or None, delta_arrow=tile.delta_arrow, border=True)
    refreshed = dt.datetime.now()  # the wall clock, to show the tiles are alive even when "now" is the data clock
    st.caption(f"统计时点 {ctx.as_of:%Y-%m-%d %H:%M} · 每 {ctx.refresh_seconds} 秒刷新，最近刷新 {refreshed:%H:%M:%S}")


def strip_html(tiles: list[Tile]) -> str:
    """The wall's KPI strip: one cell per tile (value, label, change); every text escaped, the markup fixed."""
    cells = []
    for tile in tiles:
        change = ""
        if tile.delta not in (None, ""):
            text = str(tile.delta)
            direction = "up" if not text.startswith("-") and text != "0" else ("down" if text.startswith("-") else "")
            good = {"normal": "up", "inverse": "down"}.get(tile.delta_color)
            tone = "" if not direction or good is None else (" mq-good" if direction == good else " mq-bad")
            change = (f'<div class="mq-delta{tone}">{html.escape(text)} '
                      f'<span>{html.escape(tile.delta_description)}</span></div>')
        alarm = " mq-alarm" if tile.label in ALARM_LABELS and tile.value not in ("0", "—") else ""
        cells.append(f'<div class="mq-kpi{alarm}"><div class="mq-kpi-value">{html.escape(tile.value)}</div>'
                     f'<div class="mq-kpi-label">{html.escape(tile.label)}</div>{change}</div>')
    return f'<div class="mq-strip">{"".join(cells)}</div>'


ALARM_LABELS = frozenset({"超期", "督办超期", "预警"})  # shown in red on the wall when not zero (预警: spikes)
