"""`minqing export supervision`: the 督办 items (the action log beside the store) with their events, through the one
export service, limited to the requester's jurisdiction (the event's current grid)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def supervision_command(*, who_options: Callable, principal: Callable, run: Callable,
                        export_format: Callable) -> click.Command:
    """The command, built on minqing/cli.py's export helpers (--user/--users/--scope, the signed-in principal, the
    audited run of the export service, the format from -o), which cli.py passes in."""
    return click.command("supervision")(_options(who_options)(_body(principal, run, export_format)))


def _options(who_options: Callable) -> Callable:
    def apply(fn: Callable) -> Callable:
        for option in reversed(OPTIONS):
            fn = option(fn)
        return who_options(fn)

    return apply


OPTIONS = [
    click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True,
                 help="The DuckDB file written by `minqing load`."),
    click.option("--actions", "actions_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 help="The action log (default: DB.actions.sqlite next to the database)."),
    click.option("--as-of", "as_of", default=None, help="The moment 督办超期 is judged at (default: now)."),
    click.option("--format", "fmt", default=None, help="csv | xlsx (default: from the -o file's ending)."),
    click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True),
]


def _body(principal: Callable, run: Callable, export_format: Callable) -> Callable[..., None]:
    def export_supervision(database: Path, actions_file: Path | None, as_of: str | None, fmt: str | None,
                           output: Path, username: str | None, users_file: Path | None,
                           scopes: tuple[str, ...]) -> None:
        """督办 items: state, deadline, who supervised and the latest step, one row per event, limited to the
        requester's jurisdiction (the event's current grid)."""
        from access.actions import ActionLog, default_actions_path, supervision_items
        from layers.export_service import ExportRequest
        from store.errors import UserError

        chosen = export_format(fmt, output)
        try:
            moment = dt.datetime.fromisoformat(as_of) if as_of else dt.datetime.now().replace(microsecond=0)
        except ValueError:
            raise UserError(f"--as-of {as_of!r}: give a date or time like 2025-12-31 or 2025-12-31T18:00") from None
        items = supervision_items(ActionLog(actions_file or default_actions_path(database)).entries(), as_of=moment)
        who: Any = principal(username, users_file, scopes)
        request = ExportRequest("supervision", chosen, {"items": items, "as_of": moment})
        result = run(database, who, request, output,
                     cli_options={"actions": actions_file, "as_of": as_of, "format": chosen, "output": output})
        click.echo(f"已导出 / wrote {result.rows} 督办 item(s) to {output}")

    return export_supervision
