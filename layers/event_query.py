"""The one event query of layers/: window, filter and as_of as named SQL parameters, and the one open / overdue rule.

An EventQuery (a window, an EventFilter, an as_of) is compiled once to SQL with named parameters: every query of the
topic modules (layers/<topic>_queries.py) reads the events (or the facts and reports built from them) under the alias
`e` and takes its inputs as DuckDB named parameters:

- `$start`, `$end`: the window [start, end) on a time column, NULL for an open end (`in_window`);
- `$depts`, `$categories`, `$dispute_classes`, `$statuses`: the filter's lists, NULL for no restriction
  (`EVENT_FILTER`); `EVENT_CONDITION` is the window on `e.reported_at` AND the filter;
- `$as_of`: the moment of `OPEN_AT` and `OVERDUE_AT`.

The SQL text never depends on the values (so a filter value can never become SQL); `EventQuery.bind(sql)` gives the
parameters a query names. Column names come only from the whitelists here (GRID_KEY, FILTER_FIELDS).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from store.schema import STATUSES
from store.timewindow import QueryError, TimeLike, checked_window, local_time

__all__ = [
    "FILTER_FIELDS", "FILTER_LISTS", "GRID_KEY", "EventFilter", "NO_FILTER", "EventQuery", "AS_OF", "in_window",
    "passes_filter", "EVENT_FILTER", "EVENT_CONDITION", "OPEN_AT", "OVERDUE_AT", "checked_filter", "check_statuses",
    "compile_filter", "filter_params", "pick", "bind",
]

FILTER_FIELDS: dict[str, str] = {  # EventFilter field -> column (same name in events, the facts and the rollups)
    "depts": "dept",
    "categories": "category",
    "dispute_classes": "dispute_class",
    "statuses": "status",
}
FILTER_LISTS: tuple[str, ...] = tuple(FILTER_FIELDS)
# Grid column of each level; `city` is every located event (grid_large set).
GRID_KEY: dict[str, str] = {
    "large": "grid_large",
    "medium": "grid_medium",
    "small": "grid_small",
    "city": "CASE WHEN grid_large IS NOT NULL THEN 'city' END",
}
_PREFIXES: tuple[str, ...] = ("", "also_")  # a second filter (the drill-down page's own) binds $also_depts, ...


@dataclass(frozen=True)
class EventFilter:
    """Which events count: each non-empty tuple keeps rows whose column is one of its values (AND across fields).

    Empty means no restriction. Values are always bound as parameters, never formatted into SQL.
    `statuses` is the current status as stored (`reported`, `dispatched`, `in_progress`, `closed`).
    """

    depts: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    dispute_classes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in FILTER_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):  # a lone string would otherwise become a tuple of characters
                value = (value,)
            object.__setattr__(self, name, tuple(str(v) for v in value))

    @property
    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in FILTER_FIELDS)


NO_FILTER = EventFilter()


def checked_filter(where: object | None) -> EventFilter:
    """`where` as an EventFilter: None is no restriction; an object with the four tuple fields is copied."""
    if where is None:
        return NO_FILTER
    if isinstance(where, EventFilter):
        return where
    if all(hasattr(where, name) for name in FILTER_FIELDS):
        return EventFilter(**{name: getattr(where, name) or () for name in FILTER_FIELDS})
    raise QueryError(f"`where` was a {type(where).__name__}; pass an EventFilter(depts=..., categories=..., ...)")


def check_statuses(where: EventFilter) -> EventFilter:
    """`where`, after checking that every status it names is a stored status (else QueryError naming them)."""
    bad = sorted(set(where.statuses) - set(STATUSES))
    if bad:
        raise QueryError(f"`statuses` had {bad} but every status is expected to be one of {list(STATUSES)}")
    return where


# --------------------------------------------------------------------------- SQL fragments

AS_OF = "CAST($as_of AS TIMESTAMP)"
_START, _END = "CAST($start AS TIMESTAMP)", "CAST($end AS TIMESTAMP)"


def in_window(column: str) -> str:
    """`column` (fixed SQL text) has a time in [$start, $end); a NULL bound is an open end."""
    return f"({column} IS NOT NULL AND ({_START} IS NULL OR {column} >= {_START}) AND ({_END} IS NULL OR {column} < {_END}))"


def passes_filter(prefix: str = "") -> str:
    """Rows of `e` whose columns are in the bound lists $<prefix>depts, ... (a NULL list: no restriction)."""
    if prefix not in _PREFIXES:
        raise ValueError(f"`prefix` was {prefix!r} but is expected to be one of {list(_PREFIXES)}")
    parts = [
        f"(CAST(${prefix}{name} AS VARCHAR[]) IS NULL OR list_contains(CAST(${prefix}{name} AS VARCHAR[]), e.{column}))"
        for name, column in FILTER_FIELDS.items()
    ]
    return "(" + "\n  AND ".join(parts) + ")"


EVENT_FILTER = passes_filter()
EVENT_CONDITION = f"{in_window('e.reported_at')}\n  AND {EVENT_FILTER}"  # reported in the window, passing the filter

# The one definition (docs/analytics.md): an event is open at as_of when it was reported by then and is not closed
# by then (no closure time yet, closed after as_of, or not closed as stored); it is overdue at as_of when it is open
# then and its due time lies before as_of. Used by open_now / overdue_now, the markers, the live feed and the
# drill-down history alike.
OPEN_AT = (
    f"(e.reported_at <= {AS_OF} AND (e.closed_at IS NULL OR e.closed_at > {AS_OF} OR e.status <> 'closed'))"
)
OVERDUE_AT = f"({OPEN_AT} AND coalesce(e.due_at < {AS_OF}, FALSE))"


def pick(table: Mapping[str, str], key: str, what: str) -> str:
    """The SQL text a whitelist holds for `key`; an unknown key is an error naming the choices."""
    if key not in table:
        raise ValueError(f"`{what}` was {key!r} but is expected to be one of {list(table)}")
    return table[key]


_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def bind(sql: str, params: Mapping[str, object]) -> dict[str, object]:
    """The named parameters `sql` uses, taken from `params` (DuckDB refuses parameters a query does not name)."""
    names = dict.fromkeys(_PARAMETER.findall(sql))
    missing = [n for n in names if n not in params]
    if missing:
        raise KeyError(f"the query names parameters {missing} that were not given")
    return {name: params[name] for name in names}


# --------------------------------------------------------------------------- the query


@dataclass(frozen=True)
class EventQuery:
    """Which events a figure reads and when: reported in [start, end) (None: an open end), passing `where`, seen at
    `as_of` (None when no figure "now" is asked for). Build it with `EventQuery.of(...)`, which parses and checks."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None
    where: EventFilter = NO_FILTER
    as_of: dt.datetime | None = None

    @classmethod
    def of(cls, *, start: TimeLike | None = None, end: TimeLike | None = None, where: object | None = None,
           as_of: TimeLike | None = None) -> EventQuery:
        """Times parsed to naive local time (store.timewindow), the window checked, `where` an EventFilter."""
        s, e = checked_window(start, end)
        return cls(start=s, end=e, where=checked_filter(where), as_of=local_time(as_of, "as_of"))

    def filter_params(self, prefix: str = "") -> dict[str, object]:
        """The filter's lists as $<prefix>depts, ... (VARCHAR[] or None for no restriction)."""
        if prefix not in _PREFIXES:
            raise ValueError(f"`prefix` was {prefix!r} but is expected to be one of {list(_PREFIXES)}")
        return {f"{prefix}{name}": (list(getattr(self.where, name)) or None) for name in FILTER_FIELDS}

    @property
    def params(self) -> dict[str, object]:
        """Every named parameter of the condition and the fragments: $start, $end, $as_of and the filter's lists."""
        return {"start": self.start, "end": self.end, "as_of": self.as_of, **self.filter_params()}

    def bind(self, sql: str, **extra: object) -> dict[str, object]:
        """The parameters `sql` names: this query's, and `extra` ones (e.g. level=..., code=..., limit=...)."""
        return bind(sql, {**self.params, **extra})


# --------------------------------------------------------------------------- older spellings, kept for callers


def compile_filter(where: EventFilter) -> tuple[str, list[str]]:
    """The filter as SQL with positional `?` placeholders and its parameter list, for SQL written outside layers/
    (layers itself binds EventQuery's named parameters), e.g. ("dept IN (?, ?) AND status IN (?)", ["a", "b", "closed"])."""
    parts: list[str] = []
    params: list[str] = []
    for name, column in FILTER_FIELDS.items():
        values = getattr(where, name)
        if values:
            parts.append(f"{column} IN ({', '.join('?' for _ in values)})")
            params.extend(values)
    return (" AND ".join(parts) or "TRUE"), params


def filter_params(where: object | None = None, *, start: TimeLike | None = None,
                  end: TimeLike | None = None) -> dict[str, object]:
    """The bound parameters of EVENT_CONDITION: $start, $end and `where`'s lists, with its statuses checked.

    `where` is an EventFilter (or anything with its tuple fields depts, categories, dispute_classes, statuses);
    None or empty fields mean no restriction.
    """
    query = EventQuery.of(start=start, end=end, where=where)
    check_statuses(query.where)
    return {"start": query.start, "end": query.end, **query.filter_params()}
