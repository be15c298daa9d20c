"""Chart builders of 网格详情: pure functions from a layers/drilldown frame to an Altair chart (Chinese labels)."""

from __future__ import annotations

import altair as alt
import pandas as pd

EVENT_COLOUR = "#f03b20"
DISPUTE_COLOUR = "#1d4ed8"
PERIOD_FORMATS = {"day": "%m-%d", "week": "%m-%d", "month": "%Y-%m"}
PERIOD_NAMES = {"day": "日", "week": "周（周一起）", "month": "月"}
TOP_CHILDREN = 20
TOP_CATEGORIES = 15


def timeline_chart(df: pd.DataFrame, period: str) -> alt.Chart:
    """Bars of events and a line of dispute incidents per period (df: period, events, disputes)."""
    long = df.rename(columns={"period": "时段", "events": "事件数", "disputes": "矛盾纠纷"}).melt(
        id_vars="时段", var_name="指标", value_name="数量")
    colour = alt.Color("指标:N", scale=alt.Scale(domain=["事件数", "矛盾纠纷"], range=[EVENT_COLOUR, DISPUTE_COLOUR]),
                       legend=alt.Legend(orient="top", title=None))
    x = alt.X("时段:T", title=PERIOD_NAMES[period], axis=alt.Axis(format=PERIOD_FORMATS[period]))
    tooltip = [alt.Tooltip("时段:T", format="%Y-%m-%d"), "指标:N", alt.Tooltip("数量:Q", format=",")]
    base = alt.Chart(long).encode(x=x, y=alt.Y("数量:Q", title="数量"), color=colour, tooltip=tooltip)
    bars = base.transform_filter(alt.datum["指标"] == "事件数").mark_bar(opacity=0.75)
    line = base.transform_filter(alt.datum["指标"] == "矛盾纠纷").mark_line(point=True, strokeWidth=2)
    return alt.layer(bars, line).properties(height=280)


def ranking_chart(df: pd.DataFrame, *, top: int = TOP_CHILDREN) -> alt.Chart:
    """Horizontal bars of the children's events, most first (df: name, events, ...; only the first `top`)."""
    shown = df.head(top).rename(columns={"name": "网格", "events": "事件数", "grid_code": "编码"})
    return alt.Chart(shown).mark_bar(color=EVENT_COLOUR).encode(
        y=alt.Y("网格:N", sort=None, title=None),
        x=alt.X("事件数:Q", title="事件数"),
        tooltip=["网格:N", "编码:N", alt.Tooltip("事件数:Q", format=",")],
    ).properties(height=alt.Step(24))


def category_chart(df: pd.DataFrame, *, top: int = TOP_CATEGORIES) -> alt.Chart:
    """Horizontal bars of events per category by Chinese name (df: category_name, events, share)."""
    shown = df.head(top).rename(columns={"category_name": "类别", "events": "事件数", "share": "占比"})
    return alt.Chart(shown).mark_bar(color=DISPUTE_COLOUR).encode(
        y=alt.Y("类别:N", sort=None, title=None),
        x=alt.X("事件数:Q", title="事件数"),
        tooltip=["类别:N", alt.Tooltip("事件数:Q", format=","), alt.Tooltip("占比:Q", format=".1%")],
    ).properties(height=alt.Step(24))
