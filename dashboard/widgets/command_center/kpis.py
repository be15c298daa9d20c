"""The command center's event KPI tiles: five figures with their change and what it is compared with (drawn by
dashboard/widgets/command_center/tiles.py)."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.widgets.common import count_text, rate_text
from layers.kpis import CommandKpis, Figure


@dataclass(frozen=True)
class TileSpec:
    """One tile: its label, the CommandKpis field, what the change is against, and whether a rise is good."""

    label: str
    field: str
    compared_with: str
    delta_color: str  # "normal": a rise is good; "inverse": a rise is bad; "off": neither
    rate: bool = False
    help: str = ""


TILES: tuple[TileSpec, ...] = (
    TileSpec("今日新增", "new_today", "较昨日同时段", "off",
             help="今天零点至统计时点上报的事件（位于网格内），与昨天同一时段相比。"),
    TileSpec("未办结", "open_now", "较昨日此时", "inverse",
             help="统计时点尚未办结的事件，与 24 小时前相比。"),
    TileSpec("超期", "overdue_now", "较昨日此时", "inverse",
             help="未办结且已过办理期限的事件，与 24 小时前相比；增加为坏。"),
    TileSpec("本月办结", "closed_this_month", "较上月同期", "normal",
             help="本月 1 日至统计时点办结的事件，与上月同一时段相比。"),
    TileSpec("按期办结率", "on_time_rate", "较上月同期", "normal", rate=True,
             help="本月办结且有办理期限的事件中，在期限内办结的比例；与上月同一时段相比。"),
)  # fmt: skip


@dataclass(frozen=True)
class Tile:
    """What one st.metric shows."""

    label: str
    value: str
    delta: str | int | None  # int 0 shows a grey "no change"; a text starting with "-" points down
    delta_color: str
    delta_description: str
    help: str
    delta_arrow: str = "auto"  # st.metric's; "off" when the delta is a second figure, not a change


def tiles(kpis: CommandKpis) -> list[Tile]:
    """The five tiles' texts (pure)."""
    out = []
    for spec in TILES:
        figure: Figure = getattr(kpis, spec.field)
        out.append(Tile(
            label=spec.label,
            value=rate_text(figure.value) if spec.rate else count_text(figure.value),
            delta=rate_change(figure.change) if spec.rate else count_change(figure.change),
            delta_color=spec.delta_color,
            delta_description=spec.compared_with,
            help=spec.help,
        ))  # fmt: skip
    return out


def count_change(change: float | None) -> str | int | None:
    """A count's change for st.metric: +3 / -2, 0 for none (shown grey), None when unknown."""
    if change is None:
        return None
    return 0 if change == 0 else f"{int(change):+,}"


def rate_change(change: float | None) -> str | int | None:
    """A rate's change in percentage points for st.metric, 0 for none, None when unknown."""
    if change is None:
        return None
    points = round(change * 100, 1)
    return 0 if points == 0 else f"{points:+.1f} 个百分点"
