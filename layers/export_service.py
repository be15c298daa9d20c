"""The one export service: every statistics or events file that leaves the system, for the CLI and the dashboard.

    result = run_export(ExportRequest("events", "csv", {"start": ..., "grid": ...}), query=store.query, record=log)

The sequence is the same for every caller: check the request → compute its frames through `query` (a runner
that calls a layers function with a cursor scoped to the requester's jurisdiction: access.scope.ScopedStore.query
for the CLI, dashboard.published.Store.query for the pages) → record the export and its row count through `record`
(the audit log; when recording fails the file is not made) → write the bytes through the writers of layers.export,
whose every text cell passes the one neutraliser (layers.cells) → the bytes, the rows and the notes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

import pandas as pd

from layers.disputes import city_dispute_totals, dispute_statistics
from layers.alerts import place_text
from layers.event_detail import events_by_id
from layers.export import (write_disputes_csv, write_disputes_xlsx, write_events_csv, write_events_xlsx,
                           write_review_csv, write_review_xlsx, write_supervision_csv, write_supervision_xlsx)
from layers.lookups import STATUS_NAMES
from layers.review import REVIEW_PERIODS, review_report
from layers.stats import data_clock, event_rows
from layers.trends import data_years
from store.errors import UserError
from store.schema import LEVELS

KINDS: tuple[str, ...] = ("disputes", "events", "review", "supervision", "warnings", "hotspots", "emerging", "brief")
FORMATS: tuple[str, ...] = ("csv", "xlsx")
DOCUMENT_FORMATS: tuple[str, ...] = ("pdf", "docx")  # the briefing's
DISPUTE_LEVELS: tuple[str, ...] = (*LEVELS, "all")
LAYOUTS: tuple[str, ...] = ("rows", "yearly")  # disputes: one row per grid and year, or one row per grid
MIME: dict[str, str] = {"csv": "text/csv",
                        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        "pdf": "application/pdf",
                        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


class Query(Protocol):
    """Runs `fn(scoped_cursor, *args, **kwargs)` for the requester (their jurisdiction only)."""

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any: ...


class Recorder(Protocol):
    """Writes the export's audit entry (who is asking is the recorder's business); raises to refuse the file."""

    def __call__(self, kind: str, *, rows: int, detail: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class ExportRequest:
    """What to export: `kind` (KINDS), `fmt` (csv | xlsx; pdf | docx for brief) and the kind's options.

    disputes: level (large | medium | small | all), year_from, year_to (None: the data's first / last year), grid,
        layout (rows | yearly: one row per grid, years as columns, 合计 row, title and definitions; as_of).
    events: start, end (the [start, end) window), where (layers.event_query.EventFilter), level, grid.
    review: period (day | week | month), as_of (None: the latest report).
    supervision: items (access.actions.supervision_items: one row per 督办 event, read from the action log by the
        caller), as_of; only the items whose event the requester's cursor sees are written (jurisdiction by the
        event's current grid).
    warnings: level, as_of (None: the latest report), kinds, by (category | dept).
    hotspots: level, start, end, measure (rate | count). emerging: level, as_of, weeks, measure.
    brief (fmt pdf | docx): period (day | week | month), as_of, grid, supervision (a function giving the open 督办
        items at the briefing's moment: access.actions.open_items_source, read by the caller; None without an action
        log); the items are scoped as a supervision export's are, and to `grid`.
    """

    kind: str
    fmt: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise UserError(f"export kind was {self.kind!r}; expected one of {', '.join(KINDS)}")
        allowed = DOCUMENT_FORMATS if self.kind == "brief" else FORMATS
        if self.fmt not in allowed:
            raise UserError(f"format was {self.fmt!r}; pass {' or '.join(allowed)}")


@dataclass(frozen=True)
class ExportResult:
    """The file's bytes, the rows it holds, notes for the person exporting, and the options as resolved."""

    data: bytes
    rows: int
    notes: tuple[str, ...]
    options: dict[str, Any]
    sheet: str | None = None


@dataclass(frozen=True)
class _Built:
    rows: int
    write: Callable[[io.BytesIO], list[str]]
    notes: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    sheet: str | None = None


def run_export(request: ExportRequest, *, query: Query, record: Recorder) -> ExportResult:
    """Compute, record, then write one export (see the module docstring); an unrecordable export makes no file."""
    built = _BUILDERS[request.kind](request, query)
    record(request.kind, rows=built.rows, detail={"format": request.fmt, "options": jsonable(built.options)})
    buffer = io.BytesIO()
    cleaning_notes = built.write(buffer)
    return ExportResult(data=buffer.getvalue(), rows=built.rows, notes=(*built.notes, *cleaning_notes),
                        options=built.options, sheet=built.sheet)


def jsonable(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options as the audit log stores them: dataclasses as dicts, times as ISO text, tuples as lists, no Nones."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if value is None or value == ():
            continue
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        elif isinstance(value, (dt.datetime, dt.date, pd.Timestamp)):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def _disputes(request: ExportRequest, query: Query) -> _Built:
    options = dict(request.options)
    level = options.get("level", "all")
    if level not in DISPUTE_LEVELS:
        raise UserError(f"level was {level!r}; pass one of {', '.join(DISPUTE_LEVELS)}")
    if request.fmt == "csv" and level == "all":
        raise UserError("level all writes one sheet per level and needs xlsx; for CSV pick large, medium or small")
    year_from, year_to, grid = options.get("year_from"), options.get("year_to"), options.get("grid")
    if options.get("layout") == "yearly" and level == "all":
        raise UserError("the yearly layout lists one level; pick large, medium or small")
    if year_from is None or year_to is None:
        first, last = query(data_years)
        if first is None:
            raise UserError("the store has no events; give the first and last year or load events first")
        year_from = first if year_from is None else year_from
        year_to = last if year_to is None else year_to
    layout = options.get("layout", "rows")
    if layout not in LAYOUTS:
        raise UserError(f"layout was {layout!r}; pass one of {', '.join(LAYOUTS)}")
    if layout == "yearly":
        return _yearly(request, query, level, year_from, year_to, grid, options.get("as_of"))
    levels = tuple(LEVELS) if level == "all" else (level,)
    frames = {lv: query(dispute_statistics, lv, year_from=year_from, year_to=year_to, grid=grid) for lv in levels}
    totals = query(city_dispute_totals, year_from=year_from, year_to=year_to, grid=grid)
    notes = []
    for lv, frame in frames.items():
        gap = int(totals["resolved"].sum() - frame["resolved"].sum())
        if gap:
            notes.append(f"{gap} 件已化解纠纷只按地址定位到更高层级，计入合计但不在{lv}网格行中 / {gap} resolved "
                         f"incident(s) have no {lv} grid (placed by address only): in the total, in no {lv} row")

    def write(buffer: io.BytesIO) -> list[str]:
        if request.fmt == "csv":
            return write_disputes_csv(frames[level], buffer)
        return write_disputes_xlsx(frames, totals, buffer)

    resolved = dict(level=level, year_from=int(year_from), year_to=int(year_to), grid=grid)
    return _Built(rows=sum(len(f) for f in frames.values()), write=write, notes=tuple(notes), options=resolved)


def _events(request: ExportRequest, query: Query) -> _Built:
    options = {k: request.options.get(k) for k in ("start", "end", "where", "level", "grid")}
    rows = query(event_rows, **options)

    def write(buffer: io.BytesIO) -> list[str]:
        return (write_events_csv if request.fmt == "csv" else write_events_xlsx)(rows, buffer)

    return _Built(rows=len(rows), write=write, options=options)


def _review(request: ExportRequest, query: Query) -> _Built:
    period, as_of = request.options.get("period"), request.options.get("as_of")
    if period not in REVIEW_PERIODS:
        raise UserError(f"period was {period!r}; pass one of {', '.join(REVIEW_PERIODS)}")
    notes = ()
    if as_of is None:
        as_of = query(data_clock)
        notes = (f"截至 / as of {as_of:%Y-%m-%d %H:%M} (the latest report)",)
    report = query(review_report, period, as_of=as_of)
    sheet = REVIEW_PERIODS[period][0]

    def write(buffer: io.BytesIO) -> list[str]:
        if request.fmt == "csv":
            return write_review_csv(report, buffer)
        return write_review_xlsx(report, buffer, sheet=sheet)

    return _Built(rows=len(report), write=write, notes=notes, options=dict(period=period, as_of=as_of), sheet=sheet)


SUPERVISION_STEPS = {"supervise": "督办", "feedback": "反馈", "confirm": "核查通过", "send_back": "退回"}


def _supervision(request: ExportRequest, query: Query) -> _Built:
    items = request.options.get("items")
    as_of = request.options.get("as_of")
    if not isinstance(items, pd.DataFrame) or as_of is None:
        raise UserError("a supervision export needs the 督办 items and the moment (as_of)")
    rows = seen_supervision(items, query, as_of)

    def write(buffer: io.BytesIO) -> list[str]:
        return (write_supervision_csv if request.fmt == "csv" else write_supervision_xlsx)(rows, buffer)

    return _Built(rows=len(rows), write=write, options=dict(as_of=as_of, items=len(items)))


def seen_supervision(items: pd.DataFrame, query: Query, as_of: Any, grid: str | None = None) -> pd.DataFrame:
    """supervision_rows of the items whose events the requester's cursor sees (inside `grid` when given)."""
    events = query(events_by_id, [str(i) for i in items["event_id"]], as_of=as_of) if len(items) else None
    if events is not None and grid is not None:
        events = events[(events[["grid_small", "grid_medium", "grid_large"]] == grid).any(axis=1)]
    return supervision_rows(items, events)


def supervision_rows(items: pd.DataFrame, events: pd.DataFrame | None) -> pd.DataFrame:
    """督办 items joined to the events the requester sees (an item of an unseen event is left out), in the items'
    order, with the event's place, department, category and status (pure)."""
    columns = ["event_id", "dept_name", "source_id", "category_name", "place", "event_status", "status_label",
               "overdue", "supervised_at", "supervised_by", "supervise_note", "deadline", "last_at", "last_by",
               "last_action", "last_note"]
    if events is None or events.empty:
        return pd.DataFrame(columns=columns)
    seen = events.assign(
        place=[place_text(r.grid_large_name, r.grid_medium_name, r.grid_small_name) for r in events.itertuples()],
        event_status=events["status"].map(lambda s: STATUS_NAMES.get(s, s)),
    )[["event_id", "dept_name", "source_id", "category_name", "place", "event_status"]]
    out = items.merge(seen, on="event_id", how="inner")
    out["overdue"] = out["overdue"].map({True: "是", False: "否"})
    out["last_action"] = out["last_action"].map(lambda a: SUPERVISION_STEPS.get(a, a))
    return out[columns]


def _as_of(query: Query, as_of: Any) -> tuple[Any, tuple[str, ...]]:
    if as_of is not None:
        return as_of, ()
    moment = query(data_clock) + dt.timedelta(minutes=1)
    return moment, (f"截至 / as of {moment:%Y-%m-%d %H:%M} (just after the latest report)",)


def _findings(frame: pd.DataFrame, headers: dict[str, str], fmt: str, options: dict[str, Any],
              notes: tuple[str, ...] = (), sheet: str = "研判结果") -> _Built:
    from layers.analysis_export import write_findings

    return _Built(rows=len(frame), write=lambda buffer: write_findings(frame, headers, fmt, buffer, sheet=sheet),
                  notes=notes, options=options, sheet=sheet)


def _warnings(request: ExportRequest, query: Query) -> _Built:
    from layers.analysis_export import WARNING_HEADERS
    from layers.warnings import all_warnings

    o = request.options
    level = o.get("level") or "small"
    as_of, notes = _as_of(query, o.get("as_of"))
    frame = query(all_warnings, level, as_of=as_of, kinds=o.get("kinds"), by=o.get("by") or "category")
    return _findings(frame, WARNING_HEADERS, request.fmt, dict(level=level, as_of=as_of, kinds=o.get("kinds"),
                                                                  by=o.get("by") or "category"), notes, "预警")


def _hotspots(request: ExportRequest, query: Query) -> _Built:
    from layers.analysis_export import HOTSPOT_HEADERS
    from layers.hotspots import hotspots

    o = request.options
    level, measure = o.get("level") or "medium", o.get("measure") or "rate"
    frame = query(hotspots, level, start=o.get("start"), end=o.get("end"), measure=measure)
    return _findings(frame, HOTSPOT_HEADERS, request.fmt,
                     dict(level=level, start=o.get("start"), end=o.get("end"), measure=measure), sheet="热点分析")


def _emerging(request: ExportRequest, query: Query) -> _Built:
    from layers.analysis_export import EMERGING_HEADERS
    from layers.hotspots import emerging_hotspots

    o = request.options
    level, measure, weeks = o.get("level") or "medium", o.get("measure") or "rate", int(o.get("weeks") or 52)
    as_of, notes = _as_of(query, o.get("as_of"))
    frame = query(emerging_hotspots, level, as_of=as_of, weeks=weeks, measure=measure)
    return _findings(frame, EMERGING_HEADERS, request.fmt, dict(level=level, as_of=as_of, weeks=weeks,
                                                                   measure=measure), notes, "时空热点")


def _yearly(request: ExportRequest, query: Query, level: str, year_from: int, year_to: int, grid: str | None,
            as_of: Any) -> _Built:
    from layers.yearly import write_yearly_csv, write_yearly_xlsx, yearly_statistics

    if level == "all":
        raise UserError("the yearly layout lists one level; pick large, medium or small")
    as_of, notes = _as_of(query, as_of)
    table = query(yearly_statistics, level, year_from=year_from, year_to=year_to, as_of=as_of, grid=grid)

    def write(buffer: io.BytesIO) -> list[str]:
        return (write_yearly_csv if request.fmt == "csv" else write_yearly_xlsx)(table, buffer)

    options = dict(level=level, year_from=int(year_from), year_to=int(year_to), grid=grid, layout="yearly",
                   as_of=as_of)
    return _Built(rows=len(table.rows), write=write, notes=notes, options=options, sheet="年度统计")


def _brief(request: ExportRequest, query: Query) -> _Built:
    from layers.briefing import briefing_content, with_supervision
    from layers.briefing_docx import render_docx
    from layers.briefing_pdf import render_pdf

    o = request.options
    period = o.get("period") or "week"
    as_of, notes = _as_of(query, o.get("as_of"))
    content = query(briefing_content, period, as_of=as_of, grid=o.get("grid"))
    open_items = o.get("supervision")
    items = None if open_items is None else open_items(content.as_of)
    if items is not None:
        content = with_supervision(content, seen_supervision(items, query, content.as_of, o.get("grid")))

    def write(buffer: io.BytesIO) -> list[str]:
        buffer.write((render_pdf if request.fmt == "pdf" else render_docx)(content))
        return []

    return _Built(rows=content.rows, write=write, notes=notes, options=dict(
        period=period, as_of=as_of, grid=o.get("grid"), supervision=None if items is None else len(items)))


_BUILDERS: dict[str, Callable[[ExportRequest, Query], _Built]] = {
    "disputes": _disputes, "events": _events, "review": _review, "supervision": _supervision, "warnings": _warnings,
    "hotspots": _hotspots, "emerging": _emerging, "brief": _brief,
}
