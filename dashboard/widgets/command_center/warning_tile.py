"""The 预警 tile of the command center's tile row (tiles.TILE_SOURCES): the small grids' spike warnings (事件异常增多)
of this hour, with all warnings as the second figure; red on the wall when there are spikes (tiles.ALARM_LABELS).

The tile only reads the counts the analysis keeps per store version, hour and jurisdiction
(dashboard/widgets/analysis/warnings.py); tiles.LATE_WORK, run after the map and the feed, starts their computation
on a thread of its own, so no page run waits for the warnings. Until the first counts of a store version are in, the tile shows
"—"; in a new hour it shows the last hour's until this hour's are computed.
"""

from __future__ import annotations

from dashboard.frame import PageContext
from dashboard.widgets.analysis.warnings import latest_counts, warning_moment
from dashboard.widgets.command_center.kpis import Tile
from dashboard.widgets.common import MISSING, count_text

LABEL = "预警"
ABOUT = ("事件异常增多：小网格某类事件近7日或今日高于按往年同期与近8周推算的上限。"
         "下方为各类预警合计（另含超期积压、重复发生地点、重复来访当事人、巡查薄弱）；详见“分析研判”页。")


def warning_tiles(ctx: PageContext) -> list[Tile]:
    """预警: spike warnings of the small grids at the top of the hour, and all warnings (computes nothing)."""
    counts = latest_counts(ctx)
    if counts is None:
        return [Tile(LABEL, MISSING, None, "off", "", "正在计算本小时的预警，稍后刷新时显示。" + ABOUT)]
    hour = f"统计时点 {counts.moment:%Y-%m-%d %H:%M}"
    if counts.moment != warning_moment(ctx.as_of):
        hour += "（本小时的预警计算中）"
    return [Tile(LABEL, count_text(counts.spikes), f"共 {counts.total:,} 条", "off", "各类预警", f"{hour}。{ABOUT}",
                 delta_arrow="off")]
