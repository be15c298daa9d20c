"""Pure chart builders: a frame from layers/trends.py in, an altair chart out (Chinese titles, fixed colours).

Nothing here reads a store or draws on a page: `st.altair_chart(class_trend_chart(series, period="year"))`.
Field names inside the charts are ASCII (Vega-Lite treats dots and brackets in names as paths); every title,
legend entry and tooltip a person sees is Chinese.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

__all__ = ["class_trend_chart", "received_resolved_chart", "CLASS_COLOURS", "PERIOD_TITLES", "MEASURE_TITLES"]

PERIOD_TITLES: dict[str, str] = {"year": "年份", "month": "月份"}
MEASURE_TITLES: dict[str, str] = {"received": "受理纠纷数", "resolved": "化解纠纷数"}
# 14 mediation classes + 未分类: Tableau 20 without the greys, then grey for the rest.
CLASS_COLOURS: tuple[str, ...] = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#a0cbe8", "#ffbe7d", "#8cd17d", "#86bcb6", "#d37295", "#bab0ac",
)
SERIES_COLOURS: dict[str, str] = {"受理": "#4e79a7", "化解": "#59a14f", "化解率": "#f28e2b"}
HEIGHT = 320


def _labels(periods: pd.Series, period: str) -> list[str]:
    if period not in PERIOD_TITLES:
        raise ValueError(f"`period` was {period!r} but is expected to be one of {list(PERIOD_TITLES)}")
    fmt = "%Y" if period == "year" else "%Y-%m"
    return [pd.Timestamp(p).strftime(fmt) for p in periods]


def _x(period: str) -> alt.X:
    axis = alt.Axis(labelAngle=0) if period == "year" else alt.Axis(labelAngle=-45, labelOverlap=True)
    return alt.X("label:O", title=PERIOD_TITLES[period], axis=axis, sort=None)


def class_trend_chart(series: pd.DataFrame, *, period: str, measure: str = "resolved") -> alt.Chart:
    """Stacked bars: `measure` (received | resolved) per period, split by dispute class in the series' order.

    `series` has the columns of layers.trends.dispute_series (period, dispute_class, received, resolved);
    classes with nothing in the whole range are left out of the legend.
    """
    if measure not in MEASURE_TITLES:
        raise ValueError(f"`measure` was {measure!r} but is expected to be one of {list(MEASURE_TITLES)}")
    data = pd.DataFrame({
        "label": _labels(series["period"], period),
        "dispute_class": series["dispute_class"].astype(str).to_numpy(),
        "value": series[measure].astype("int64").to_numpy(),
    })
    present = data.groupby("dispute_class", sort=False)["value"].sum()
    classes = [c for c in dict.fromkeys(data["dispute_class"]) if present.get(c, 0) > 0]
    data = data[data["dispute_class"].isin(classes)]
    data["order"] = data["dispute_class"].map({c: i for i, c in enumerate(classes)})
    colours = [CLASS_COLOURS[min(i, len(CLASS_COLOURS) - 1)] for i in range(len(classes))]
    title = MEASURE_TITLES[measure]
    return (
        alt.Chart(data, height=HEIGHT, title=f"按纠纷类型的{title}")
        .mark_bar()
        .encode(
            x=_x(period),
            y=alt.Y("sum(value):Q", title=title, stack="zero"),
            color=alt.Color("dispute_class:N", title="纠纷类型", sort=classes,
                            scale=alt.Scale(domain=classes, range=colours)),
            order=alt.Order("order:Q"),
            tooltip=[alt.Tooltip("label:O", title=PERIOD_TITLES[period]),
                     alt.Tooltip("dispute_class:N", title="纠纷类型"),
                     alt.Tooltip("sum(value):Q", title=title, format=",")],
        )
    )


def received_resolved_chart(totals: pd.DataFrame, *, period: str) -> alt.LayerChart:
    """Lines of received and resolved incidents per period (left axis) and the resolution rate (right axis, %).

    `totals` has the columns of layers.trends.dispute_totals (period, received, resolved, resolution_rate, ...).
    """
    labels = _labels(totals["period"], period)
    counts = pd.DataFrame({
        "label": labels * 2,
        "figure": ["受理"] * len(labels) + ["化解"] * len(labels),
        "value": [*totals["received"].astype("int64"), *totals["resolved"].astype("int64")],
    })
    rate = pd.DataFrame({
        "label": labels,
        "figure": "化解率",
        "rate": (totals["resolution_rate"].astype("Float64") * 100).round(1).astype("float64").to_numpy(),
    })
    colour = alt.Color("figure:N", title="指标", scale=alt.Scale(domain=list(SERIES_COLOURS),
                                                                 range=list(SERIES_COLOURS.values())))
    lines = (
        alt.Chart(counts)
        .mark_line(point=True)
        .encode(
            x=_x(period),
            y=alt.Y("value:Q", title="纠纷数"),
            color=colour,
            tooltip=[alt.Tooltip("label:O", title=PERIOD_TITLES[period]), alt.Tooltip("figure:N", title="指标"),
                     alt.Tooltip("value:Q", title="件数", format=",")],
        )
    )
    rates = (
        alt.Chart(rate)
        .mark_line(point=True, strokeDash=[4, 3])
        .encode(
            x=_x(period),
            y=alt.Y("rate:Q", title="化解率(%)", scale=alt.Scale(zero=False)),
            color=colour,
            tooltip=[alt.Tooltip("label:O", title=PERIOD_TITLES[period]),
                     alt.Tooltip("rate:Q", title="化解率(%)", format=".1f")],
        )
    )
    return alt.layer(lines, rates, height=HEIGHT, title="受理与化解").resolve_scale(y="independent")
