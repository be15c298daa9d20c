"""The wall display's HTML panels (pure: data in, one HTML string out, every text escaped, the markup fixed): the
title bar, the tickers, the TOP-10 bars, the category ring and the 24-hour trend."""

from __future__ import annotations

import datetime as dt
import html

import pandas as pd

from layers.wall import RANKINGS

WEEKDAYS = "一二三四五六日"
RING_COLOURS = ("#38bdf8", "#f59e0b", "#22c55e", "#a855f7", "#ef4444", "#14b8a6", "#64748b")


def title_bar(scope: str, today: dt.datetime, as_of: dt.datetime) -> str:
    """民情地图 · scope, the date, a live clock (ticked by alerts.js) and 统计时点."""
    date = f"{today:%Y-%m-%d} 星期{WEEKDAYS[today.weekday()]}"
    return (f'<div class="mq-title"><div class="mq-title-name">民情地图 · {html.escape(scope)}</div>'
            f'<div class="mq-title-date">{html.escape(date)}</div>'
            f'<div class="mq-clock" data-mq-clock="1">{today:%H:%M:%S}</div>'
            f'<div class="mq-title-asof">统计时点 {as_of:%Y-%m-%d %H:%M}</div></div>')


def ticker(heading: str, rows: list[tuple[str, str, str, bool, bool]], empty: str) -> str:
    """A ticker: rows of (time, what, where, new, alarm), newest on top; 新 marks new rows, ⚠ alarm ones."""
    body = []
    for time, what, where, new, alarm in rows:
        marks = ('<span class="mq-new">新</span>' if new else "") + ('<span class="mq-warn">⚠</span>' if alarm else "")
        body.append(f'<li class="{"mq-row-new" if new else ""}"><span class="mq-t">{html.escape(time)}</span>'
                    f'<span class="mq-w">{marks}{html.escape(what)}</span>'
                    f'<span class="mq-p">{html.escape(where)}</span></li>')
    items = "".join(body) or f'<li class="mq-empty">{html.escape(empty)}</li>'
    return f'<div class="mq-panel mq-ticker"><div class="mq-h">{html.escape(heading)}</div><ul>{items}</ul></div>'


def top_bars(ranked: pd.DataFrame, by: str, window: str) -> str:
    """TOP-10 large grids as horizontal bars."""
    peak = max(int(ranked["value"].max()) if len(ranked) else 0, 1)
    rows = "".join(
        f'<li><span class="mq-rank">{i + 1}</span><span class="mq-name">{html.escape(str(r.name))}</span>'
        f'<span class="mq-bar"><i style="width:{100 * int(r.value) / peak:.1f}%"></i></span>'
        f'<span class="mq-val">{int(r.value):,}</span></li>'
        for i, r in enumerate(ranked.itertuples(index=False)))
    heading = f"大网格 TOP10 · {RANKINGS[by]}"
    return (f'<div class="mq-panel mq-top"><div class="mq-h">{html.escape(heading)}<small>{html.escape(window)}</small></div>'
            f'<ol>{rows}</ol></div>')


def category_ring(mix: pd.DataFrame, window: str) -> str:
    """The category mix as an SVG ring with its legend."""
    radius, width = 15.9155, 5.5  # circumference 100: dash lengths are percentages
    arcs, offset = [], 25.0
    for i, r in enumerate(mix.itertuples(index=False)):
        share = 100 * float(r.share)
        arcs.append(f'<circle r="{radius}" cx="21" cy="21" fill="none" stroke="{RING_COLOURS[i % len(RING_COLOURS)]}"'
                    f' stroke-width="{width}" stroke-dasharray="{share:.2f} {100 - share:.2f}"'
                    f' stroke-dashoffset="{offset:.2f}"/>')
        offset -= share
    total = int(mix["events"].sum()) if len(mix) else 0
    legend = "".join(
        f'<li><i style="background:{RING_COLOURS[i % len(RING_COLOURS)]}"></i>{html.escape(str(r.category_name))}'
        f'<b>{float(r.share):.0%}</b></li>' for i, r in enumerate(mix.itertuples(index=False)))
    svg = (f'<svg viewBox="0 0 42 42" class="mq-ring-svg">{"".join(arcs)}'
           f'<text x="21" y="21.5" text-anchor="middle" font-size="7" class="mq-ring-total">{total:,}</text>'
           f'<text x="21" y="27.5" text-anchor="middle" font-size="4" class="mq-ring-unit">件</text></svg>')
    return (f'<div class="mq-panel mq-ring"><div class="mq-h">事件类别<small>{html.escape(window)}</small></div>'
            f'<div class="mq-ring-body">{svg}<ul>{legend}</ul></div></div>')


def trend_bars(hourly: pd.DataFrame) -> str:
    """Reports per hour over the last 24 hours as SVG bars, the hours marked every six."""
    peak = max(int(hourly["events"].max()) if len(hourly) else 0, 1)
    n = max(len(hourly), 1)
    step = 100 / n
    bars, ticks = [], []
    for i, r in enumerate(hourly.itertuples(index=False)):
        height = 30 * int(r.events) / peak
        bars.append(f'<rect x="{i * step + 0.4:.2f}" y="{32 - height:.2f}" width="{step - 0.8:.2f}" '
                    f'height="{height:.2f}"><title>{pd.Timestamp(r.hour):%H}时 {int(r.events)} 件</title></rect>')
        if pd.Timestamp(r.hour).hour % 6 == 0:
            ticks.append(f'<span style="left:{i * step:.2f}%">{pd.Timestamp(r.hour):%H}时</span>')
    total = int(hourly["events"].sum()) if len(hourly) else 0
    return (f'<div class="mq-panel mq-trend"><div class="mq-h">近24小时上报<small>共 {total:,} 件 · 峰值 {peak if total else 0} 件/时'
            f'</small></div><svg viewBox="0 0 100 32" preserveAspectRatio="none">{"".join(bars)}</svg>'
            f'<div class="mq-ticks">{"".join(ticks)}</div></div>')

