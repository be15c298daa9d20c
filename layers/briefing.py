"""The briefing for the daily, weekly and monthly meeting (日碰头 / 周会商 / 月调度): what it says, as data.

`briefing_content(con, period, as_of=..., grid=None)` gathers the figures from the statistics functions (headline
figures with 较上期 and 较去年同期, TOP-10 grids, the most overdue cases, warnings, the category mix, the trend) and
the map images; `with_supervision` adds the open 督办 items where the deployment keeps an action log (the export
service joins them to the events the requester sees); layers/briefing_pdf.py and layers/briefing_docx.py lay the
same content out, in the order of `sections`. Every number in a briefing is one of these values, so a test can
compare what the rendered file says with the functions. Times are the store's local time (its zone is printed with
the 统计时点).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import duckdb
import pandas as pd

from layers.review import REVIEW_PERIODS, review_window
from layers.stats import QueryError, counts_by, find_grid, grid_stats, open_now, period_changes
from layers.lookups import category_names
from store.schema import LEVELS
from store.timewindow import TimeLike, store_time, store_zone

__all__ = ["Headline", "BriefingContent", "briefing_content", "with_supervision", "sections", "period_line",
           "HEADLINE_FIGURES", "change_text", "DEFINITIONS"]

HEADLINE_FIGURES: dict[str, str] = {"events": "新增事件", "closed": "办结事件", "disputes_received": "受理纠纷",
                                    "disputes_resolved": "化解纠纷"}
LEVEL_NAMES = {"large": "大网格", "medium": "中网格", "small": "小网格"}
TOP_N = 10
SUPERVISION_ROWS = 15
NUMERALS = "一二三四五六七八九十"
SUPERVISION_DEFINITION = ("督办", "指挥中心对事件发起督办并设办理期限；表中为截至统计时点尚未核查办结的督办事项（督办超期在前），"
                                  "督办超期：期限已过且督办后未收到反馈。仅列本辖区内的事件。")
DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("统计时段", "统计时点前的一天、一周或一个自然月，含起点不含终点。"),
    ("较上期", "与紧邻的前一个等长时段相比的增减；较去年同期：与去年同日期范围相比。基数为0时不计算百分比。"),
    ("在办、超期", "截至统计时点尚未办结的事件；其中已过办理时限的为超期。"),
    ("纠纷", "多个部门上报的同一纠纷只计一次；受理以首次上报时间、化解以首次办结时间计。"),
    ("预警", "近7日某类事件数高于按往年同期与近8周水平推算的上限（误报率0.1%）且至少3起；另有超期积压、重复发生地点、重复来访当事人、巡查薄弱。"),
    ("热点", "Getis-Ord Gi*（每万人事件数，经验贝叶斯平滑，999次置换，错误发现率校正）。"),
)


@dataclass(frozen=True)
class Headline:
    """One headline figure: value, previous period and its change, same period last year and its change."""

    label: str
    value: int
    previous: int
    change_prev: int
    change_prev_pct: float | None
    last_year: int
    change_yoy: int
    change_yoy_pct: float | None


@dataclass(frozen=True)
class BriefingContent:
    """Everything a briefing shows (see the module doc); tables are display-ready frames with Chinese headers."""

    title: str
    period: str
    period_name: str
    start: dt.datetime
    end: dt.datetime
    as_of: dt.datetime
    scope_name: str
    headlines: tuple[Headline, ...]
    open_now: int
    overdue_now: int
    top_grids: pd.DataFrame
    overdue_cases: pd.DataFrame
    warnings: pd.DataFrame
    categories: pd.DataFrame
    trend: pd.DataFrame  # period_start, events
    images: dict[str, bytes] = field(default_factory=dict)  # caption -> PNG
    definitions: tuple[tuple[str, str], ...] = DEFINITIONS
    zone: str = "Asia/Shanghai"  # the store's: every time above is its naive local time
    supervision: pd.DataFrame | None = None  # the open 督办 items (with_supervision); None: no action log
    supervision_note: str = ""

    @property
    def rows(self) -> int:
        """Table rows in the briefing (what an audit entry counts)."""
        extra = 0 if self.supervision is None else len(self.supervision)
        return len(self.top_grids) + len(self.overdue_cases) + len(self.warnings) + len(self.categories) + extra


def period_line(content: BriefingContent) -> str:
    """The line under the title: 统计时段 and 统计时点, in the store's zone."""
    return (f"统计时段：{content.start:%Y-%m-%d %H:%M} 至 {content.end:%Y-%m-%d %H:%M}　"
            f"统计时点：{content.as_of:%Y-%m-%d %H:%M}（{content.zone}）")


def sections(content: BriefingContent) -> list[tuple[str, str, pd.DataFrame | None]]:
    """The numbered parts after 一、总体情况 and 二、分布与热点: (heading, a sentence before the table or "", the table);
    the last, 口径说明, has no table."""
    parts: list[tuple[str, str, pd.DataFrame | None]] = [
        ("事件最多的网格（前10）", "", content.top_grids), ("预警", "", content.warnings),
        ("超期最久的事件", "", content.overdue_cases),
    ]
    if content.supervision is not None:
        parts.append(("督办事项", content.supervision_note, content.supervision))
    parts += [("事件类别（前10）", "", content.categories), ("口径说明", "", None)]
    return [(f"{NUMERALS[i + 2]}、{heading}", note, frame) for i, (heading, note, frame) in enumerate(parts)]


def with_supervision(content: BriefingContent, rows: pd.DataFrame) -> BriefingContent:
    """`content` with its 督办 part: `rows` are the open items the requester sees, as the supervision export writes
    them (layers.export_service.supervision_rows: overdue first); the first SUPERVISION_ROWS are listed."""
    overdue = rows["overdue"].eq("是")
    table = pd.DataFrame({
        "事件编号": rows["event_id"], "网格": rows["place"].fillna("—"), "类别": rows["category_name"].fillna("—"),
        "督办状态": rows["status_label"], "督办期限": rows["deadline"].map(_time_text),
        "督办超期": rows["overdue"], "最近": [f"{_time_text(at)} {what}" for at, what in zip(rows["last_at"],
                                                                                    rows["last_action"])],
    }).head(SUPERVISION_ROWS).reset_index(drop=True)
    note = f"截至统计时点，未办结的督办事项 {len(rows):,} 项，其中督办超期 {int(overdue.sum()):,} 项。"
    if len(rows) > SUPERVISION_ROWS:
        note += f"下表列出前 {SUPERVISION_ROWS} 项。"
    return replace(content, supervision=table, supervision_note=note,
                   definitions=(*content.definitions, SUPERVISION_DEFINITION))


def _time_text(value: object) -> str:
    return "—" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M}"


def change_text(change: int, pct: float | None) -> str:
    """'+12（+8.5%）', '-3（-2.0%）', '0（0.0%）', or '+5（—）' when the base was 0."""
    sign = "+" if change > 0 else ""
    return f"{sign}{change:,}（{'—' if pct is None else f'{sign}{pct:.1f}%'}）"


def headline_table(content: BriefingContent) -> pd.DataFrame:
    """The headline figures as the briefing's first table (本期, 上期, 较上期, 去年同期, 较去年同期)."""
    heads = content.headlines
    return pd.DataFrame({
        "指标": [h.label for h in heads], "本期": [f"{h.value:,}" for h in heads],
        "上期": [f"{h.previous:,}" for h in heads],
        "较上期": [change_text(h.change_prev, h.change_prev_pct) for h in heads],
        "去年同期": [f"{h.last_year:,}" for h in heads],
        "较去年同期": [change_text(h.change_yoy, h.change_yoy_pct) for h in heads],
    })


def _pct(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _scope(con: duckdb.DuckDBPyConnection, grid: str | None) -> tuple[str, str, str]:
    """(level of the scope's own row, the level of its children, the scope's name): the city or a grid."""
    if grid is None:
        return "city", "large", "全市"
    level, name = find_grid(con, grid)
    if level == "small":
        return level, "small", name
    return level, LEVELS[LEVELS.index(level) + 1], name


def _inside(frame: pd.DataFrame, con: duckdb.DuckDBPyConnection, level: str, grid: str | None) -> pd.DataFrame:
    if grid is None:
        return frame
    from layers.stats import grid_table

    grids = grid_table(con, level)
    mine = grids[(grids["grid_code"] == grid) | (grids["parent_code"] == grid) | (grids["grandparent_code"] == grid)]
    return frame[frame["grid_code"].isin(mine["grid_code"])]


def _overdue_cases(con: duckdb.DuckDBPyConnection, as_of: dt.datetime, grid: str | None) -> pd.DataFrame:
    from layers.event_query import EventQuery, OVERDUE_AT

    names = category_names(con)
    sql = f"""
SELECT e.event_id, e.category, e.grid_small, e.grid_medium, e.grid_large, e.reported_at, e.due_at,
       g.name AS grid_name
FROM events AS e
LEFT JOIN grids AS g ON g.grid_code = coalesce(e.grid_small, e.grid_medium)
WHERE e.grid_large IS NOT NULL AND {OVERDUE_AT}
  AND ($grid IS NULL OR $grid IN (e.grid_small, e.grid_medium, e.grid_large))
ORDER BY e.due_at, e.event_id
LIMIT {TOP_N}
"""
    rows = con.execute(sql, EventQuery.of(as_of=as_of).bind(sql, grid=grid)).df()
    return pd.DataFrame({
        "事件编号": rows["event_id"], "类别": rows["category"].map(lambda c: names.get(c, c)),
        "网格": rows["grid_name"].fillna("—"), "上报时间": rows["reported_at"].dt.strftime("%Y-%m-%d %H:%M"),
        "超期天数": ((as_of - rows["due_at"]).dt.total_seconds() // 86_400).astype("int64"),
    })


def briefing_content(con: duckdb.DuckDBPyConnection, period: str, *, as_of: TimeLike, grid: str | None = None,
                     with_images: bool = True) -> BriefingContent:
    """The briefing of `period` (day | week | month) ending at as_of, for the city or one grid (module doc)."""
    from layers.warnings import all_warnings

    if period not in REVIEW_PERIODS:
        raise QueryError(f"`period` was {period!r} but is expected to be one of {list(REVIEW_PERIODS)}")
    moment = store_time(con, as_of, "as_of")
    start, end = review_window(period, moment)
    own_level, child_level, scope_name = _scope(con, grid)
    changes = period_changes(con, "city" if grid is None else own_level, start=start, end=end)
    row = changes.iloc[0] if grid is None else changes.set_index("grid_code").loc[grid]
    headlines = tuple(Headline(
        label=label, value=int(row[f]), previous=int(row[f"{f}_prev"]), change_prev=int(row[f"{f}_change_prev"]),
        change_prev_pct=_pct(row[f"{f}_change_prev_pct"]), last_year=int(row[f"{f}_last_year"]),
        change_yoy=int(row[f"{f}_change_yoy"]), change_yoy_pct=_pct(row[f"{f}_change_yoy_pct"]),
    ) for f, label in HEADLINE_FIGURES.items())
    now = open_now(con, "city" if grid is None else own_level, as_of=moment)
    now_row = now.iloc[0] if grid is None else now.set_index("grid_code").loc[grid]
    top_level = "medium" if grid is None else child_level
    stats = _inside(grid_stats(con, top_level, start=start, end=end, as_of=moment), con, top_level, grid)
    top = stats.sort_values(["events", "grid_code"], ascending=[False, True], kind="stable").head(TOP_N)
    top_grids = pd.DataFrame({"网格": top["name"], "上级": top["parent_name"].fillna("—"),
                              "新增事件": top["events"], "受理纠纷": top["disputes_received"],
                              "在办": top["open_now"], "超期": top["overdue_now"]}).reset_index(drop=True)
    level = "small"
    warnings = all_warnings(con, level, as_of=moment)
    if grid is not None:
        warnings = _inside(warnings, con, level, grid)
    place = [" · ".join(str(x) for x in (n, p) if isinstance(x, str) and x)
             for n, p in zip(warnings["grid_name"], warnings["parent_name"])]
    warning_table = pd.DataFrame({"网格": place, "类型": warnings["kind_name"],
                                  "说明": warnings["sentence"]}).head(15).reset_index(drop=True)
    names = category_names(con)
    by_category = counts_by(con, "city" if grid is None else own_level, "category", start=start, end=end)
    by_category = by_category if grid is None else by_category[by_category["grid_code"] == grid]
    totals = by_category.drop(columns=["grid_code", "name"]).sum().sort_values(ascending=False, kind="stable")
    totals = totals[totals > 0].head(TOP_N)
    categories = pd.DataFrame({"类别": [names.get(c, c) for c in totals.index], "件数": totals.astype("int64").to_numpy()})
    trend = _trend(con, period, moment, grid, own_level)
    title = f"{scope_name}{REVIEW_PERIODS[period][0]}研判简报"
    content = BriefingContent(
        title=title, period=period, period_name=REVIEW_PERIODS[period][0], start=start, end=end, as_of=moment,
        scope_name=scope_name, headlines=headlines, open_now=int(now_row["open_now"]),
        overdue_now=int(now_row["overdue_now"]), top_grids=top_grids, overdue_cases=_overdue_cases(con, moment, grid),
        warnings=warning_table, categories=categories, trend=trend, zone=store_zone(con),
    )
    if not with_images:
        return content
    from layers.briefing_images import briefing_images

    return replace(content, images=briefing_images(con, content, grid=grid, child_level=child_level))


TREND_STEPS = {"day": ("day", 30), "week": ("week", 26), "month": ("month", 24)}


def _trend(con: duckdb.DuckDBPyConnection, period: str, as_of: dt.datetime, grid: str | None,
           own_level: str) -> pd.DataFrame:
    """New events per day (last 30 days), week (26 weeks) or month (24 months) up to the period's end."""
    unit, steps = TREND_STEPS[period]
    span = {"day": pd.DateOffset(days=steps), "week": pd.DateOffset(weeks=steps), "month": pd.DateOffset(months=steps)}
    start = (pd.Timestamp(as_of) - span[unit]).normalize().to_pydatetime()
    wide = counts_by(con, "city" if grid is None else own_level, unit, start=start, end=as_of)
    if grid is not None:
        wide = wide[wide["grid_code"] == grid]
    values = wide.drop(columns=["grid_code", "name"]).sum()
    return pd.DataFrame({"period_start": pd.to_datetime(values.index), "events": values.astype("int64").to_numpy()})
