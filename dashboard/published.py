"""Cached read access to the published store (named so it never shadows the `store` package when Streamlit puts dashboard/ on sys.path): one read-only connection per file version, TTL-cached query results.

Every query runs on a cursor scoped to the Store's principal (access.scope.scoped_cursor): a user with a
jurisdiction sees only their grids' rows in every table, whatever layers/ function a page calls. Cached results
and resources are keyed on the principal's (role, scope), so two users never share an entry they should not.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, TypeVar

import duckdb
import streamlit as st

from access.principal import SYSTEM, Principal
from store.schema import connect
from access.scope import scoped_cursor

QUERY_TTL_S = 300
FileSignature = tuple[int, int, int]  # inode, size, mtime_ns: a newly published store gets a new connection
Jurisdiction = tuple[str, tuple[str, ...]]  # a principal's (role, scope): what a cached entry was computed for
T = TypeVar("T")


_LOCK = threading.Lock()
_OPEN: dict[str, tuple[FileSignature, duckdb.DuckDBPyConnection]] = {}


def _connection(path: str, signature: FileSignature) -> duckdb.DuckDBPyConnection:
    """The read-only connection to this version of the file, shared by all sessions (take a cursor per query).

    A newly published file replaces the old one under the same path. DuckDB hands back its cached instance
    for a path while a connection to it is open, so the old version's connection is closed first.
    """
    with _LOCK:
        current = _OPEN.get(path)
        if current is not None and current[0] == signature:
            return current[1]
        if current is not None:
            current[1].close()
        con = connect(path, read_only=True)
        _OPEN[path] = (signature, con)
        return con


def _function_name(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


_REGISTRY: dict[str, Callable[..., Any]] = {}


def _run(path: str, signature: FileSignature, name: str, args: tuple[Any, ...],
         kwargs: tuple[tuple[str, Any], ...], jurisdiction: Jurisdiction, fn: Callable[..., Any] | None = None) -> Any:
    """`name`(cursor, *args, **kwargs) on a cursor scoped to the jurisdiction, closed afterwards."""
    role, scope = jurisdiction
    principal = Principal(username=f"({role})", role=role, scope=scope)
    cursor = scoped_cursor(_connection(path, signature), principal)
    try:
        return (fn or _REGISTRY[name])(cursor, *args, **dict(kwargs))
    finally:
        cursor.close()


@st.cache_data(ttl=QUERY_TTL_S, show_spinner=False, max_entries=512)
def _cached(path: str, signature: FileSignature, name: str, args: tuple[Any, ...],
            kwargs: tuple[tuple[str, Any], ...], jurisdiction: Jurisdiction) -> Any:
    return _run(path, signature, name, args, kwargs, jurisdiction)


@st.cache_resource(max_entries=16, show_spinner=False)
def _resource(path: str, signature: FileSignature, name: str, args: tuple[Any, ...],
              kwargs: tuple[tuple[str, Any], ...], jurisdiction: Jurisdiction) -> Any:
    return _run(path, signature, name, args, kwargs, jurisdiction)


@dataclass(frozen=True)
class Store:
    """One version of the published store. Pages call layers/ functions through it and never hold SQL.

    `query(fn, ...)` runs `fn(cursor, ...)` and caches the (picklable) result for QUERY_TTL_S seconds;
    `resource(fn, ...)` caches an object that must not be copied (prepared geometry). Both are keyed on
    the file's signature, so a newly published load is picked up on the next rerun, and on the principal's
    (role, scope): `fn` runs on `access.scope.scoped_cursor(connection, principal)`, so a user with a
    jurisdiction gets only their grids' rows from any function. The default principal is SYSTEM (whole city);
    `as_principal(user)` gives the same store seen by a signed-in user.
    """

    path: Path
    signature: FileSignature
    principal: Principal = SYSTEM

    def as_principal(self, principal: Principal) -> Store:
        """This version of the store as `principal` sees it (their jurisdiction, their cache entries)."""
        if not isinstance(principal, Principal):
            raise TypeError(f"expected an access.principal.Principal, got a {type(principal).__name__}")
        return replace(self, principal=principal)

    @property
    def jurisdiction(self) -> Jurisdiction:
        """What cached entries are keyed on: the principal's role and scope (not the username)."""
        return self.principal.role, tuple(self.principal.scope)

    def query(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        name = _function_name(fn)
        _REGISTRY.setdefault(name, fn)
        return _cached(str(self.path), self.signature, name, args, tuple(sorted(kwargs.items())), self.jurisdiction)

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(cursor, ...)` on this version as the principal sees it, not cached: for work off the script's thread
        (no Streamlit call is made), such as the 预警 tile's counts."""
        return _run(str(self.path), self.signature, _function_name(fn), args, tuple(sorted(kwargs.items())),
                    self.jurisdiction, fn)

    def resource(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        name = _function_name(fn)
        _REGISTRY.setdefault(name, fn)
        return _resource(str(self.path), self.signature, name, args, tuple(sorted(kwargs.items())),
                         self.jurisdiction)

    @property
    def loaded_at(self) -> dt.datetime:
        """When this version of the file was published."""
        return dt.datetime.fromtimestamp(self.signature[2] / 1e9)


def open_store(path: Path, principal: Principal = SYSTEM) -> Store | None:
    """The current version of the store at `path` as `principal` sees it, or None when there is no file."""
    if not path.is_file():
        return None
    stat = path.stat()
    return Store(path, (stat.st_ino, stat.st_size, stat.st_mtime_ns)).as_principal(principal)
