"""The `minqing` command line: demo, load, serve and export; user mistakes end in one clear message, never a traceback."""

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
        _serve(database, port, {"MINQING_CLOCK": "data"})  # the demo's data stop at 2025-12-31


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
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Interface to listen on; 0.0.0.0 serves the command center's LAN.")
@click.option("--clock", type=click.Choice(["now", "data"]), default="now", show_default=True,
              help="What 'now' means: the wall clock, or the latest report in the data (replays, demos).")
@click.option("--basemap", default="none", show_default=True,
              help="none | xyz:http://tiles.local/{z}/{x}/{y}.png | tianditu:KEY[:img]")
@click.option("--refresh", type=click.IntRange(min=5), default=30, show_default=True,
              help="Seconds between the live page's data refreshes.")
def serve(database: Path, port: int, address: str, clock: str, basemap: str, refresh: int) -> None:
    """Serve the dashboard for a database."""
    from layers.offline import Basemap

    if not database.exists():
        raise UserError(f"{database}: no such database; build one with `minqing demo` or `minqing load --config FILE`")
    try:
        Basemap.from_setting(basemap)
    except ValueError as exc:
        raise UserError(f"--basemap {basemap!r}: {exc}") from None
    settings = {"MINQING_CLOCK": clock, "MINQING_BASEMAP": basemap, "MINQING_REFRESH_SECONDS": str(refresh)}
    _serve(database, port, settings, address=address)


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



# --------------------------------------------------------------------------- export

EXPORT_FORMATS = ("csv", "xlsx")
EXPORT_LEVELS = ("large", "medium", "small", "all")


@main.group()
def export() -> None:
    """Write dispute statistics, event rows or meeting reports to CSV (UTF-8 with BOM) or XLSX."""


def _export_format(fmt: str | None, output: Path) -> str:
    chosen = fmt or output.suffix.lower().lstrip(".")
    if chosen not in EXPORT_FORMATS:
        raise UserError(f"--format was {chosen!r}; pass --format csv or --format xlsx (or an -o file ending .csv/.xlsx)")
    return chosen


def _open_store(database: Path):  # -> duckdb.DuckDBPyConnection
    import duckdb

    if not database.exists():
        raise UserError(f"{database}: no such database; build one with `minqing demo` or `minqing load --config FILE`")
    try:
        con = duckdb.connect(str(database), read_only=True)
    except duckdb.Error as exc:
        raise UserError(f"{database}: cannot open it read-only ({exc}); wait for a running `minqing load` to finish") from None
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if not {"events", "grids", "categories"} <= tables:
        con.close()
        raise UserError(f"{database}: not a Minqing store (no events/grids tables); pass the file `minqing load` wrote")
    return con


def _warn_unknown(con, column: str, values: tuple[str, ...], option: str) -> None:
    from layers import queries

    if not values:
        return
    known = {r[0] for r in con.execute(queries.DEPTS_SEEN).fetchall()} if column == "dept" else \
        {r[0] for r in con.execute(queries.CATEGORY_NAMES).fetchall()}
    unknown = [v for v in values if v not in known]
    if unknown:
        click.echo(f"注意 / note: {option} {', '.join(map(repr, unknown))} matches nothing in the store; "
                   f"known: {', '.join(sorted(known))}", err=True)


@export.command("disputes")
@click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The DuckDB file written by `minqing load`.")
@click.option("--level", default="all", show_default=True, help="large | medium | small | all (all needs xlsx).")
@click.option("--from", "year_from", type=int, default=None, help="First year (default: the first year with reports).")
@click.option("--to", "year_to", type=int, default=None, help="Last year (default: the last year with reports).")
@click.option("--grid", default=None, help="Only grids inside this grid code (the grid itself or its children).")
@click.option("--format", "fmt", default=None, help="csv | xlsx (default: from the -o file's ending).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_disputes(database: Path, level: str, year_from: int | None, year_to: int | None, grid: str | None,
                    fmt: str | None, output: Path) -> None:
    """Yearly dispute statistics (received, resolved, rate, change, per class) per grid."""
    from layers import queries
    from layers.disputes import city_dispute_totals, dispute_statistics
    from layers.export import write_disputes_csv, write_disputes_xlsx

    if level not in EXPORT_LEVELS:
        raise UserError(f"--level was {level!r}; pass one of {', '.join(EXPORT_LEVELS)}")
    chosen = _export_format(fmt, output)
    if chosen == "csv" and level == "all":
        raise UserError("--level all writes one sheet per level and needs --format xlsx; for CSV pick --level large, medium or small")
    con = _open_store(database)
    try:
        first, last = con.execute(queries.DATA_YEARS).fetchall()[0]
        if first is None and (year_from is None or year_to is None):
            raise UserError(f"{database}: the store has no events; pass --from and --to or load events first")
        year_from = first if year_from is None else year_from
        year_to = last if year_to is None else year_to
        levels = ("large", "medium", "small") if level == "all" else (level,)
        frames = {lv: dispute_statistics(con, lv, year_from=year_from, year_to=year_to, grid=grid) for lv in levels}
        totals = city_dispute_totals(con, year_from=year_from, year_to=year_to, grid=grid)
    finally:
        con.close()
    for lv, frame in frames.items():
        gap = int(totals["resolved"].sum() - frame["resolved"].sum())
        if gap:
            click.echo(f"注意 / note: {gap} resolved incident(s) have no {lv} grid (placed by address only); "
                       f"they count in the total but in no {lv} row", err=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    if chosen == "csv":
        write_disputes_csv(frames[level], output)
    else:
        write_disputes_xlsx(frames, totals, output)
    rows = sum(len(f) for f in frames.values())
    click.echo(f"写出 / wrote {output}: {rows} rows, {year_from}-{year_to}, resolved in all: {int(totals['resolved'].sum())}")


def _date_window(date_from: str | None, date_to: str | None):
    """[from, to] as a half-open window: a bare date in --to includes that whole day."""
    import pandas as pd

    def parse(text: str | None, option: str):
        if text is None:
            return None
        try:
            return pd.Timestamp(text)
        except (TypeError, ValueError):
            raise UserError(f"{option} was {text!r}; give a date like 2024-01-31 or a time like '2024-01-31 08:00'") from None

    start, end = parse(date_from, "--from"), parse(date_to, "--to")
    if end is not None and len(date_to.strip()) <= 10:
        end = end + pd.Timedelta(days=1)
    if start is not None and end is not None and start >= end:
        raise UserError(f"--from {date_from} is after --to {date_to}; swap them")
    return start, end


@export.command("events")
@click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--from", "date_from", default=None, help="First day (or time) reported, e.g. 2024-01-01.")
@click.option("--to", "date_to", default=None, help="Last day reported (a bare date includes the whole day).")
@click.option("--dept", "depts", multiple=True, help="Department code; repeat for several.")
@click.option("--category", "categories", multiple=True, help="Category code (categories.toml); repeat for several.")
@click.option("--dispute-class", "dispute_classes", multiple=True, help="Dispute class, e.g. 邻里; repeat for several.")
@click.option("--status", "statuses", multiple=True, help="reported | dispatched | in_progress | closed; repeatable.")
@click.option("--level", default=None, help="Level of --grid (large | medium | small); optional.")
@click.option("--grid", default=None, help="Only events inside this grid code.")
@click.option("--format", "fmt", default=None, help="csv | xlsx (default: from the -o file's ending).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_events(database: Path, date_from: str | None, date_to: str | None, depts: tuple[str, ...],
                  categories: tuple[str, ...], dispute_classes: tuple[str, ...], statuses: tuple[str, ...],
                  level: str | None, grid: str | None, fmt: str | None, output: Path) -> None:
    """Event rows that pass the filters, ordered by report time."""
    from etl.schema import LEVELS, STATUSES
    from layers.export import write_events_csv, write_events_xlsx
    from layers.stats import EventFilter, event_rows

    chosen = _export_format(fmt, output)
    if level is not None and level not in LEVELS:
        raise UserError(f"--level was {level!r}; pass one of {', '.join(LEVELS)} (with --grid)")
    if level is not None and grid is None:
        raise UserError("--level needs --grid CODE: the level says which grid column the code is matched against")
    bad_status = [s for s in statuses if s not in STATUSES]
    if bad_status:
        raise UserError(f"--status {bad_status[0]!r} is not a status; pass one of {', '.join(STATUSES)}")
    start, end = _date_window(date_from, date_to)
    where = EventFilter(depts=depts, categories=categories, dispute_classes=dispute_classes, statuses=statuses)
    con = _open_store(database)
    try:
        _warn_unknown(con, "dept", depts, "--dept")
        _warn_unknown(con, "category", categories, "--category")
        rows = event_rows(con, start=start, end=end, where=where, level=level, grid=grid)
    finally:
        con.close()
    output.parent.mkdir(parents=True, exist_ok=True)
    (write_events_csv if chosen == "csv" else write_events_xlsx)(rows, output)
    click.echo(f"写出 / wrote {output}: {len(rows)} events")


@export.command("review")
@click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--period", required=True, help="day (日碰头) | week (周会商) | month (月调度).")
@click.option("--as-of", "as_of", default=None,
              help="The moment the meeting looks back from (ISO, e.g. 2025-12-31T08:00); default: the latest report.")
@click.option("--format", "fmt", default=None, help="csv | xlsx (default: from the -o file's ending).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_review(database: Path, period: str, as_of: str | None, fmt: str | None, output: Path) -> None:
    """Per large grid: new, closed and overdue events and the top 3 categories for the last day/week/month."""
    import pandas as pd

    from layers.export import write_review_csv, write_review_xlsx
    from layers.review import REVIEW_PERIODS, review_report
    from layers.stats import data_clock

    if period not in REVIEW_PERIODS:
        raise UserError(f"--period was {period!r}; pass one of {', '.join(REVIEW_PERIODS)}")
    chosen = _export_format(fmt, output)
    moment = None
    if as_of is not None:
        try:
            moment = pd.Timestamp(as_of).to_pydatetime()
        except (TypeError, ValueError):
            raise UserError(f"--as-of was {as_of!r}; give an ISO time like 2025-12-31T08:00") from None
    con = _open_store(database)
    try:
        if moment is None:
            moment = data_clock(con)
            click.echo(f"截至 / as of {moment:%Y-%m-%d %H:%M} (the latest report; pass --as-of to choose)", err=True)
        report = review_report(con, period, as_of=moment)
    finally:
        con.close()
    output.parent.mkdir(parents=True, exist_ok=True)
    if chosen == "csv":
        write_review_csv(report, output)
    else:
        write_review_xlsx(report, output, sheet=REVIEW_PERIODS[period][0])
    click.echo(f"写出 / wrote {output}: {REVIEW_PERIODS[period][0]}, {len(report)} large grids")


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


def _serve(database: Path, port: int, settings: dict[str, str], *, address: str = "127.0.0.1") -> None:
    from dashboard.serve import serve as serve_dashboard

    host = "localhost" if address in ("127.0.0.1", "0.0.0.0") else address
    click.echo(f"仪表盘 / dashboard: http://{host}:{port}  (大屏 / big screen: http://{host}:{port}/?screen=big)")
    sys.exit(serve_dashboard(database.resolve(), port=port, address=address, settings=settings))


if __name__ == "__main__":
    main()
