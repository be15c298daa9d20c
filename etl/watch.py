"""Live inbox: poll a folder and load new or changed department files as soon as they stop growing."""

from __future__ import annotations

import fnmatch
import time
from pathlib import Path
from typing import Callable

from etl.config import DepartmentSource, ProjectConfig
from store.errors import UserError
from etl.load import LoadReport, load_project
from store.publish import prepare_working_copy

Signature = tuple[int, int]  # size, mtime in ns


def source_for(config: ProjectConfig, path: Path) -> DepartmentSource | None:
    """The department whose path pattern's file-name part matches this file."""
    for source in config.departments:
        if fnmatch.fnmatch(path.name, Path(source.pattern).name):
            return source
    return None


class Inbox:
    """Tracks files in a folder; a file is ready once its size and mtime held still for one poll."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.loaded: dict[Path, Signature] = {}
        self.pending: dict[Path, Signature] = {}

    def ready(self) -> list[Path]:
        """Files new or changed since they were last loaded, and no longer being written."""
        out = []
        for path in sorted(p for p in self.folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            stat = path.stat()
            signature = (stat.st_size, stat.st_mtime_ns)
            if self.loaded.get(path) == signature:
                continue
            if self.pending.get(path) == signature:
                out.append(path)
                del self.pending[path]
            else:
                self.pending[path] = signature
        return out

    def mark_loaded(self, path: Path) -> None:
        stat = path.stat()
        self.loaded[path] = (stat.st_size, stat.st_mtime_ns)


def watch(config: ProjectConfig, folder: Path, *, interval: float = 1.0,
          on_report: Callable[[LoadReport], None], on_problem: Callable[[Path, str], None],
          should_stop: Callable[[], bool] = lambda: False) -> None:
    """Poll `folder` every `interval` seconds and load each ready file until `should_stop()`.

    A file that matches no department, or that fails with a user error, is reported once and
    retried only when it changes; the watch goes on.
    """
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder to watch; create it or pass the inbox folder to --watch")
    inbox = Inbox(folder)
    prepare_working_copy(config.database)  # the next file's load starts from a copy made while waiting
    while not should_stop():
        for path in inbox.ready():
            source = source_for(config, path)
            if source is None:
                on_problem(path, "no department's path pattern matches this file name; add a [[departments]] entry")
            else:
                try:
                    report = load_project(config, files=[(source, path)])
                except UserError as exc:  # the store itself (lock, grids): nothing of this file was read
                    on_problem(path, str(exc))
                else:
                    failed = [r for r in report.files if r.error is not None]
                    for result in failed:  # the file's own mistake: its transaction rolled back
                        on_problem(result.path, result.error or "")
                    if not failed:
                        on_report(report)
                prepare_working_copy(config.database)
            inbox.mark_loaded(path)
        time.sleep(interval)
