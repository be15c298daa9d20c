"""`minqing analyse warnings|hotspots|emerging` and `minqing brief`: findings and briefings as files, scoped by --user
and audited through the one export service like `minqing export` (the export helpers are handed in by minqing.cli,
which registers these commands: `register(main, helpers)`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import click

from store.errors import UserError

LEVEL_HELP = "small | medium | large"
DB_OPTION = click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True)
FORMAT_OPTION = click.option("--format", "fmt", default=None, help="csv | xlsx (default: from the -o file's ending).")
OUTPUT_OPTION = click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)


def _moment(text: str | None, option: str):
    import pandas as pd

    if text is None:
        return None
    try:
        return pd.Timestamp(text).to_pydatetime()
    except (TypeError, ValueError):
        raise UserError(f"{option} was {text!r}; give a date like 2025-12-31 or a time like 2025-12-31T08:00") from None


def _level(level: str) -> str:
    from store.schema import LEVELS

    if level not in LEVELS:
        raise UserError(f"--level was {level!r}; pass one of {', '.join(LEVELS)}")
    return level


def _measure(measure: str) -> str:
    if measure not in ("rate", "count"):
        raise UserError(f"--measure was {measure!r}; pass rate or count")
    return measure


def register(main: click.Group, helpers: SimpleNamespace) -> None:
    """Add `analyse` and `brief` to the command line; `helpers` carries minqing.cli's who_options, principal,
    run_export and export_format."""
    who = helpers.who_options

    def file_options(command):
        """--db, --format, -o and the who options (--user, --users, --scope) of an `analyse` command."""
        for option in reversed((DB_OPTION, FORMAT_OPTION, OUTPUT_OPTION)):
            command = option(command)
        return who(command)

    @main.group()
    def analyse() -> None:
        """分析研判: early warnings, hotspots and emerging hotspots as CSV or XLSX (one row per finding)."""

    def run(kind: str, params: dict, database: Path, fmt: str | None, output: Path, who_values: tuple, options: dict,
            noun: str) -> None:
        """Export `kind` with `params` as the principal `who_values` (username, users file, scopes) names; audited
        with the command line's `options`; says how many `noun` were written."""
        from layers.export_service import ExportRequest

        chosen = helpers.export_format(fmt, output)
        principal = helpers.principal(*who_values)
        result = helpers.run_export(database, principal, ExportRequest(kind, chosen, params), output,
                                    cli_options={**options, "format": chosen, "output": output,
                                                 "scope": who_values[2]},
                                    command=f"minqing analyse {kind}")
        click.echo(f"写出 / wrote {output}: {result.rows} {noun}")

    @analyse.command("warnings")
    @file_options
    @click.option("--as-of", "as_of", default=None, help="End of the look-back (default: just after the latest report).")
    @click.option("--level", default="small", show_default=True, help=LEVEL_HELP)
    @click.option("--by", default="category", show_default=True, help="category | dept: what a spike is counted by.")
    def warnings(database, as_of, level, by, fmt, output, username, users_file, scopes) -> None:
        """Spikes (last 7 days and today), overdue build-ups, repeat places and people, patrol gaps."""
        if by not in ("category", "dept"):
            raise UserError(f"--by was {by!r}; pass category or dept")
        run("warnings", dict(level=_level(level), as_of=_moment(as_of, "--as-of"), by=by), database, fmt, output,
            (username, users_file, scopes), dict(as_of=as_of, level=level, by=by), "warnings")

    @analyse.command("hotspots")
    @file_options
    @click.option("--from", "date_from", required=True, help="First day, e.g. 2025-10-01.")
    @click.option("--to", "date_to", required=True, help="Last day (a bare date includes that whole day).")
    @click.option("--level", default="medium", show_default=True, help=LEVEL_HELP)
    @click.option("--measure", default="rate", show_default=True, help="rate (per 10,000 residents, smoothed) | count")
    def hotspots(database, date_from, date_to, level, measure, fmt, output, username, users_file, scopes) -> None:
        """Getis-Ord Gi* per grid for the window: 热点/冷点 99 / 95 / 90 % (999 permutations, FDR-corrected)."""
        import pandas as pd

        start, end = _moment(date_from, "--from"), _moment(date_to, "--to")
        if len(date_to.strip()) <= 10:
            end = end + pd.Timedelta(days=1)
        if start >= end:
            raise UserError(f"--from {date_from} is after --to {date_to}; swap them")
        run("hotspots", dict(level=_level(level), start=start, end=end, measure=_measure(measure)), database, fmt,
            output, (username, users_file, scopes),
            dict(date_from=date_from, date_to=date_to, level=level, measure=measure), "grids")

    @analyse.command("emerging")
    @file_options
    @click.option("--as-of", "as_of", default=None, help="End of the last week (default: just after the latest report).")
    @click.option("--weeks", type=click.IntRange(8, 260), default=52, show_default=True)
    @click.option("--level", default="medium", show_default=True, help=LEVEL_HELP)
    @click.option("--measure", default="rate", show_default=True, help="rate | count")
    def emerging(database, as_of, weeks, level, measure, fmt, output, username, users_file, scopes) -> None:
        """Emerging hotspots over the last N weeks: 新增 / 加剧 / 持续 / 消退 / 散发 热点."""
        run("emerging", dict(level=_level(level), as_of=_moment(as_of, "--as-of"), weeks=weeks,
                             measure=_measure(measure)), database, fmt, output, (username, users_file, scopes),
            dict(as_of=as_of, weeks=weeks, level=level, measure=measure), "grids")

    @main.command("brief")
    @DB_OPTION
    @click.option("--period", required=True, help="day (日碰头) | week (周会商) | month (月调度).")
    @click.option("--date", "date", default=None, help="The meeting's moment (default: just after the latest report).")
    @click.option("--grid", default=None, help="Only this grid (and the grids inside it).")
    @click.option("--actions", "actions_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="The 督办 action log (default: DB.actions.sqlite next to the database; none: no 督办 part).")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
                  help="FILE.pdf or FILE.docx")
    @who
    def brief(database, period, date, grid, actions_file, output, username, users_file, scopes) -> None:
        """The briefing for the meeting: headline figures, maps, hotspots, charts, tables (督办 where the action log
        exists), definitions."""
        from access.actions import ActionLog, default_actions_path, open_items_source
        from layers.export_service import ExportRequest
        from layers.review import REVIEW_PERIODS

        if period not in REVIEW_PERIODS:
            raise UserError(f"--period was {period!r}; pass one of {', '.join(REVIEW_PERIODS)}")
        fmt = output.suffix.lower().lstrip(".")
        if fmt not in ("pdf", "docx"):
            raise UserError(f"-o {output}: end the file name in .pdf or .docx")
        if actions_file is not None and not actions_file.is_file():
            raise UserError(f"--actions {actions_file}: no such file; leave the option out to use the log beside the "
                            "database (or none)")
        supervision = open_items_source(ActionLog(actions_file or default_actions_path(database)))
        request = ExportRequest("brief", fmt, dict(period=period, as_of=_moment(date, "--date"), grid=grid,
                                                   supervision=supervision))
        principal = helpers.principal(username, users_file, scopes)
        helpers.run_export(database, principal, request, output, grid=grid, command="minqing brief",
                           cli_options=dict(period=period, date=date, grid=grid, actions=actions_file, output=output,
                                            scope=scopes))
        click.echo(f"写出 / wrote {output}")
