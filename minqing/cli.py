"""The `minqing` command line: demo, load and serve; user mistakes end in one clear message, never a traceback."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from etl.errors import UserError


class _Group(click.Group):
    """Turns a UserError anywhere below into a one-line message and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            click.echo(f"错误 / error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """民情地图 (Minqing Map): load department exports into DuckDB and serve the grid map."""


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"),
              show_default=True, help="Folder for the demo city's raw files, config and database.")
@click.option("--events", type=click.IntRange(min=1000), default=200_000, show_default=True,
              help="Number of events to generate.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed; the same seed gives the same city.")
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve the dashboard after loading.")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
def demo(directory: Path, events: int, seed: int, serve: bool, port: int) -> None:
    """Build the demo city (if missing), load it into DuckDB and serve the dashboard."""
    from minqing.demo.build import build_demo

    config_path = build_demo(directory, events=events, seed=seed, echo=click.echo)
    report = _run_load(config_path)
    database = report_database(config_path)
    click.echo(f"数据库 / database: {database}")
    if serve:
        _serve(database, port)


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The project config (minqing.toml).")
@click.option("--watch", "inbox", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="After loading, keep watching this folder and load new or changed files as they arrive.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Seconds between two looks at the watched folder.")
def load(config_path: Path, inbox: Path | None, interval: float) -> None:
    """Load grids and every department file named in the config."""
    _run_load(config_path)
    if inbox is not None:
        from etl.config import load_config
        from etl.watch import watch
        from minqing.report import print_load_report

        click.echo(f"监视 / watching {inbox} (Ctrl-C to stop)")
        try:
            watch(load_config(config_path), inbox, interval=interval,
                  on_report=lambda report: print_load_report(report, echo=click.echo),
                  on_problem=lambda path, why: click.echo(f"错误 / error: {path}: {why}", err=True))
        except KeyboardInterrupt:
            click.echo("stopped")


@main.command()
@click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The DuckDB file written by `minqing load`.")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
def serve(database: Path, port: int) -> None:
    """Serve the dashboard for a database."""
    if not database.exists():
        raise UserError(f"{database}: no such database; build one with `minqing demo` or `minqing load --config FILE`")
    _serve(database, port)


@main.command()
@click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--dept", default=None, help="Only this department's rejected rows.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def rejects(database: Path, dept: str | None, limit: int) -> None:
    """List quarantined rows with their reasons."""
    import duckdb

    from etl.rejects import list_rejects, reason_counts

    if not database.exists():
        raise UserError(f"{database}: no such database; build one with `minqing demo` or `minqing load --config FILE`")
    with duckdb.connect(str(database), read_only=True) as con:
        counts = reason_counts(con, dept=dept)
        rows = list_rejects(con, dept=dept, limit=limit)
    if counts.empty:
        click.echo("no rejected rows")
        return
    click.echo("reasons:")
    for record in counts.itertuples(index=False):
        click.echo(f"  {record.rows:>7}  {record.dept}: {record.reason}")
    click.echo(f"first {len(rows)} rows:")
    for record in rows.itertuples(index=False):
        value = "" if record.value is None else f" = {record.value!r}"
        click.echo(f"  {record.file_path}: row {record.row_number}: {record.field}{value}: {record.reason}")


def _run_load(config_path: Path) -> object:
    from etl.config import load_config
    from etl.load import load_project
    from minqing.report import print_load_report

    from tqdm import tqdm

    config = load_config(config_path)
    click.echo(f"加载 / loading {config.path}")
    with tqdm(unit="file", file=sys.stderr, disable=None, leave=False) as bar:
        def progress(done: int, total: int, what: str) -> None:
            bar.total = total
            bar.n = done
            bar.set_description(what)
            bar.refresh()

        report = load_project(config, progress=progress)
    print_load_report(report, echo=click.echo)
    return report


def report_database(config_path: Path) -> Path:
    """The database a config points at."""
    from etl.config import load_config

    return load_config(config_path).database


def _serve(database: Path, port: int) -> None:
    from dashboard.serve import serve as serve_dashboard

    click.echo(f"仪表盘 / dashboard: http://localhost:{port}")
    sys.exit(serve_dashboard(database.resolve(), port=port))


if __name__ == "__main__":
    main()
