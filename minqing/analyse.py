"""`minqing analyse warnings|hotspots|emerging` and `minqing brief`: findings and briefings as files, scoped by --user
and audited through the one export service like `minqing export` (the export helpers are handed in by minqing.cli,
which registers these commands: `register(main, helpers)`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import click

from store.errors import UserError

LEVEL_HELP = "small | medium | large"


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


def register(main: click.Group, helpers: SimpleNamespace) -> None:
    """Add `analyse` and `brief` to the command line; `helpers` carries minqing.cli's who_options, principal,
    run_export and export_format."""
    who = helpers.who_options

    @main.group()
    def analyse() -> None:
        """分析研判: early warnings, hotspots and emerging hotspots as CSV or XLSX (one row per finding)."""

    def run(database: Path, request, output: Path, username, users_file, scopes, options: dict):
        principal = helpers.principal(username, users_file, scopes)
        return helpers.run_export(database, principal, request, output, cli_options={**options, "scope": scopes},
                                  command=f"minqing analyse {request.kind}")

    @analyse.command("warnings")
    @click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True)
    @click.option("--as-of", "as_of", default=None, help="End of the look-back (default: just after the latest report).")
    @click.option("--level", default="small", show_default=True, help=LEVEL_HELP)
    @click.option("--by", default="category", show_default=True, help="category | dept: what a spike is counted by.")
    @click.option("--format", "fmt", default=None, help="csv | xlsx (default: from the -o file's ending).")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
    @who
    def warnings(database, as_of, level, by, fmt, output, username, users_file, scopes) -> None:
        """Spikes (last 7 days and today), overdue build-ups, repeat places and people, patrol gaps."""
        from layers.export_service import ExportRequest

        if by not in ("category", "dept"):
            raise UserError(f"--by was {by!r}; pass category or dept")
        chosen = helpers.export_format(fmt, output)
        request = ExportRequest("warnings", chosen, dict(level=_level(level), as_of=_moment(as_of, "--as-of"), by=by))
        result = run(database, request, output, username, users_file, scopes,
                     dict(as_of=as_of, level=level, by=by, format=chosen, output=output))
        click.echo(f"写出 / wrote {output}: {result.rows} warnings")

    @analyse.command("hotspots")
    @click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True)
    @click.option("--from", "date_from", required=True, help="First day, e.g. 2025-10-01.")
    @click.option("--to", "date_to", required=True, help="Last day (a bare date includes that whole day).")
    @click.option("--level", default="medium", show_default=True, help=LEVEL_HELP)
    @click.option("--measure", default="rate", show_default=True, help="rate (per 10,000 residents, smoothed) | count")
    @click.option("--format", "fmt", default=None, help="csv | xlsx (default: from the -o file's ending).")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
    @who
    def hotspots(database, date_from, date_to, level, measure, fmt, output, username, users_file, scopes) -> None:
        """Getis-Ord Gi* per grid for the window: 热点/冷点 99 / 95 / 90 % (999 permutations, FDR-corrected)."""
        import pandas as pd

        from layers.export_service import ExportRequest

        start, end = _moment(date_from, "--from"), _moment(date_to, "--to")
        if len(date_to.strip()) <= 10:
            end = end + pd.Timedelta(days=1)
        if start >= end:
            raise UserError(f"--from {date_from} is after --to {date_to}; swap them")
        if measure not in ("rate", "count"):
            raise UserError(f"--measure was {measure!r}; pass rate or count")
        chosen = helpers.export_format(fmt, output)
        request = ExportRequest("hotspots", chosen, dict(level=_level(level), start=start, end=end, measure=measure))
        result = run(database, request, output, username, users_file, scopes,
                     dict(date_from=date_from, date_to=date_to, level=level, measure=measure, format=chosen,
                          output=output))
        click.echo(f"写出 / wrote {output}: {result.rows} grids")

    @analyse.command("emerging")
    @click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True)
    @click.option("--as-of", "as_of", default=None, help="End of the last week (default: just after the latest report).")
    @click.option("--weeks", type=click.IntRange(8, 260), default=52, show_default=True)
    @click.option("--level", default="medium", show_default=True, help=LEVEL_HELP)
    @click.option("--measure", default="rate", show_default=True, help="rate | count")
    @click.option("--format", "fmt", default=None, help="csv | xlsx (default: from the -o file's ending).")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
    @who
    def emerging(database, as_of, weeks, level, measure, fmt, output, username, users_file, scopes) -> None:
        """Emerging hotspots over the last N weeks: 新增 / 加剧 / 持续 / 消退 / 散发 热点."""
        from layers.export_service import ExportRequest

        chosen = helpers.export_format(fmt, output)
        request = ExportRequest("emerging", chosen, dict(level=_level(level), as_of=_moment(as_of, "--as-of"),
                                                         weeks=weeks, measure=measure))
        result = run(database, request, output, username, users_file, scopes,
                     dict(as_of=as_of, weeks=weeks, level=level, measure=measure, format=chosen, output=output))
        click.echo(f"写出 / wrote {output}: {result.rows} grids")

    @main.command("brief")
    @click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True)
    @click.option("--period", required=True, help="day (日碰头) | week (周会商) | month (月调度).")
    @click.option("--date", "date", default=None, help="The meeting's moment (default: just after the latest report).")
    @click.option("--grid", default=None, help="Only this grid (and the grids inside it).")
    @click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
                  help="FILE.pdf or FILE.docx")
    @who
    def brief(database, period, date, grid, output, username, users_file, scopes) -> None:
        """The briefing for the meeting: headline figures, maps, hotspots, charts, tables, definitions."""
        from layers.export_service import ExportRequest
        from layers.review import REVIEW_PERIODS

        if period not in REVIEW_PERIODS:
            raise UserError(f"--period was {period!r}; pass one of {', '.join(REVIEW_PERIODS)}")
        fmt = output.suffix.lower().lstrip(".")
        if fmt not in ("pdf", "docx"):
            raise UserError(f"-o {output}: end the file name in .pdf or .docx")
        request = ExportRequest("brief", fmt, dict(period=period, as_of=_moment(date, "--date"), grid=grid))
        principal = helpers.principal(username, users_file, scopes)
        helpers.run_export(database, principal, request, output, grid=grid, command="minqing brief",
                           cli_options=dict(period=period, date=date, grid=grid, output=output, scope=scopes))
        click.echo(f"写出 / wrote {output}")
