"""The `minqing` command line: demo, load, serve and export; user mistakes end in one clear message, never a traceback."""

from __future__ import annotations

import datetime as dt
import io
import sys
from pathlib import Path
from types import SimpleNamespace

import click

from store.errors import UserError


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


def _setting_option(name: str):
    """The click option of a declared setting (dashboard/settings.py): its option, variable, default and help.
    The declaration parses the value; a bad one, given or from the environment, is a UserError (exit code 2)."""
    from click.core import ParameterSource

    from dashboard.settings import BY_NAME

    setting = BY_NAME[name]
    sources = {ParameterSource.COMMANDLINE: "option", ParameterSource.ENVIRONMENT: "env"}

    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> object:
        return setting.value(value, sources.get(ctx.get_parameter_source(param.name), "default"))

    default = {} if setting.required or not setting.default else {"default": setting.default}  # --db: no fallback
    return click.option(setting.option, setting.name, envvar=setting.env, required=setting.required,
                        metavar=setting.metavar, show_default=bool(default), show_envvar=setting.env is not None,
                        callback=parse, help=f"{setting.help} Allowed: {setting.allowed}.", **default)


def _serve_options(command):
    """Every option of `minqing serve`, in the declaration's order (dashboard/settings.py SERVE_SETTINGS)."""
    from dashboard.settings import SERVE_SETTINGS

    for setting in reversed(SERVE_SETTINGS):
        command = _setting_option(setting.name)(command)
    return command


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"),
              show_default=True, help="Folder for the demo city's raw files, config and database.")
@click.option("--events", type=click.IntRange(min=1000), default=200_000, show_default=True,
              help="Number of events to generate.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed; the same seed gives the same city.")
@click.option("--patrol-since", type=click.DateTime(formats=["%Y-%m-%d"]), default="2025-07-01", show_default=True,
              help="Start the grid workers' patrol check-ins at this date: 2-3 per worker and working day, about "
                   "1.8 million for the default half year; 2019-01-01 gives the whole period (about 25 million, "
                   "a much longer build).")
@click.option("--serve/--no-serve", default=True, show_default=True, help="Serve the dashboard after loading.")
@_setting_option("port")
def demo(directory: Path, events: int, seed: int, patrol_since: dt.datetime | None, serve: bool, port: int) -> None:
    """Build the demo city (if missing), load it into DuckDB and serve the dashboard."""
    from dashboard.settings import child_environment
    from etl.config import load_config
    from minqing.demo.build import build_demo

    since = patrol_since.date() if patrol_since is not None else None
    config = load_config(build_demo(directory, events=events, seed=seed, patrol_since=since, echo=click.echo))
    _run_load(config)
    database = config.database
    click.echo(f"数据库 / database: {database}")
    settings: dict[str, object] = {"clock": "data"}  # the demo's data stop at 2025-12-31
    users = config.users
    if users is not None:
        settings["users"] = users
        click.echo(f"账号 / accounts: {users} (sign in with the passwords printed when it was created; "
                   f"reset one with `minqing users passwd NAME --users {users}`)")
    if serve:
        _serve(database, port, child_environment(settings))


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The project config (minqing.toml).")
@click.option("--watch", "inbox", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="After loading, keep watching this folder and load new or changed files as they arrive.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=1.0, show_default=True,
              help="Seconds between two looks at the watched folder.")
def load(config_path: Path, inbox: Path | None, interval: float) -> None:
    """Load grids and every department file named in the config."""
    if inbox is not None and not inbox.is_dir():
        raise UserError(f"--watch {inbox}: no such folder; create it (mkdir -p {inbox}) or name the inbox folder "
                        "the departments drop their files into")
    from etl.config import load_config

    config = load_config(config_path)  # read and checked once, for the load and the watch
    report = _run_load(config)
    if inbox is not None:
        from etl.watch import watch
        from minqing.report import print_load_report

        click.echo(f"监视 / watching {inbox} (Ctrl-C to stop)")
        try:
            watch(config, inbox, interval=interval,
                  on_report=lambda report: print_load_report(report, echo=click.echo),
                  on_problem=lambda path, why: click.echo(f"错误 / error: {path}: {why}", err=True))
        except KeyboardInterrupt:
            click.echo("stopped")
    problems = report.problems  # type: ignore[attr-defined]
    if problems:  # reported above with the load report; the other files were loaded and published
        names = ", ".join(f"{r.dept} {r.path.name}" for r in problems)
        raise UserError(f"{len(problems)} file(s) failed or had every row rejected: {names}; see the load report "
                        "above (the other files were loaded)")


@main.command()
@_serve_options
def serve(**values: object) -> None:
    """Serve the dashboard for a database. Every option is a setting declared in dashboard/settings.py; its
    environment variable, if it has one, is read when the option is not given."""
    from access.accounts import read_users
    from dashboard.settings import child_environment

    database, users_file = values.pop("db"), values["users"]
    port, address = values.pop("port"), values.pop("address")
    if not database.exists():
        raise UserError(f"{database}: no such database; build one with `minqing demo` or `minqing load --config FILE`")
    if users_file is not None:
        users = read_users(users_file)
        if not users.accounts:
            raise UserError(f"{users_file}: no accounts yet; add one with `minqing users add NAME --role admin "
                            f"--users {users_file}`")
    else:
        click.echo("注意 / note: no --users file: sign-in is off and everyone who can open the page is an "
                   "administrator (未启用登录)", err=True)
    _serve(database, port, child_environment(values), address=address)


@main.command()
@click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--dept", default=None, help="Only this department's rejected rows.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
def rejects(database: Path, dept: str | None, limit: int) -> None:
    """List quarantined rows with their reasons."""
    from etl.rejects import list_rejects, reason_counts
    from store.schema import open_published

    with open_published(database) as con:
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

@main.group()
def export() -> None:
    """Write dispute statistics, event rows or meeting reports to CSV (UTF-8 with BOM) or XLSX."""


def _export_format(fmt: str | None, output: Path) -> str:
    from layers.export_service import FORMATS

    chosen = fmt or output.suffix.lower().lstrip(".")
    if chosen not in FORMATS:
        raise UserError(f"--format was {chosen!r}; pass --format csv or --format xlsx (or an -o file ending .csv/.xlsx)")
    return chosen


def _who_options(command):
    """--user / --users / --scope: whose jurisdiction an export is limited to (default: the whole city)."""
    command = click.option("--scope", "scopes", multiple=True, metavar="CODE",
                           help="Only this large or medium grid (repeatable); narrows an export without a sign-in.")(command)
    command = click.option("--users", "users_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                           help="The users file (default: $MINQING_USERS).")(command)
    command = click.option("--user", "username", default=None,
                           help="Export as this user, limited to their jurisdiction; password from $MINQING_PASSWORD "
                                "or asked for.")(command)
    return command


def _export_principal(username: str | None, users_file: Path | None, scopes: tuple[str, ...]):  # -> Principal
    """The signed-in user (--user), an unnamed official limited to --scope, or the operator (whole city)."""
    from access.principal import SYSTEM, Principal

    if username is not None and scopes:
        raise UserError("--user and --scope exclude each other: a user's jurisdiction comes from the users file")
    if username is None:
        if users_file is not None:
            raise UserError("--users names the users file for --user NAME; pass --user too")
        if scopes:
            return Principal(username="--scope", role="official", scope=tuple(dict.fromkeys(scopes)))
        return SYSTEM
    from access.accounts import authenticate, read_users
    from dashboard import settings

    path = users_file or settings.USERS.read()
    if path is None:
        raise UserError("--user needs the users file: pass --users FILE or set $MINQING_USERS")
    users = read_users(path)
    password = settings.EXPORT_PASSWORD.read()
    if password is None:
        password = click.prompt(f"密码 / password for {username}", hide_input=True, err=True)
    account = authenticate(users, username, password)
    if account is None:
        raise UserError(f"sign-in failed for {username!r}: unknown user or wrong password ({path})")
    return account.principal


def _checked_output(output: Path) -> None:
    """The -o file's folder must exist: a typo in a path is an error, not a new folder tree."""
    folder = output.parent
    if not folder.is_dir():
        raise UserError(f"-o {output}: the folder {folder} does not exist; create it first or pick another -o file")


def _warn_unknown(store, depts: tuple[str, ...], categories: tuple[str, ...]) -> None:
    from layers.lookups import category_names, department_names

    for option, values, known in (("--dept", depts, department_names), ("--category", categories, category_names)):
        if not values:
            continue
        names = set(store.query(known))
        unknown = [v for v in values if v not in names]
        if unknown:
            click.echo(f"注意 / note: {option} {', '.join(map(repr, unknown))} matches nothing in the store; "
                       f"known: {', '.join(sorted(names))}", err=True)


def _run_export(database: Path, principal, request, output: Path, *, cli_options: dict, grid: str | None = None,
                depts: tuple[str, ...] = (), categories: tuple[str, ...] = (), command: str | None = None):
    """The export service (layers.export_service) on the store scoped to `principal`, audited as a CLI export, then
    the file written; a --grid outside a scoped user's jurisdiction is refused."""
    import getpass

    from access.audit import AuditLog, default_audit_path
    from access.scope import ScopedStore
    from dashboard import settings
    from layers.export_service import run_export

    _checked_output(output)
    with ScopedStore(database, principal) as store:
        if grid is not None and not store.in_jurisdiction(grid) and store.grid_exists(grid):
            raise UserError(f"--grid {grid!r} is not in your jurisdiction ({', '.join(principal.scope)}); "
                            "pick a grid inside it, or leave --grid out for all of it")
        if not principal.whole_city:
            click.echo(f"范围 / jurisdiction: {', '.join(principal.scope)} (user {principal.username})", err=True)
        _warn_unknown(store, depts, categories)

        def record(kind: str, *, rows: int, detail: dict) -> None:
            """An "export" entry before the file is written: an export that cannot be recorded is refused."""
            given = {k: (list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v)
                     for k, v in cli_options.items() if v not in (None, ())}
            AuditLog(settings.AUDIT.read() or default_audit_path(database)).record(
                principal, "export", target=kind, rows=rows,
                detail={"via": "cli", "command": command or f"minqing export {kind}", "os_user": getpass.getuser(),
                        "cli_options": given, **detail})

        result = run_export(request, query=store.query, record=record)
    output.write_bytes(result.data)
    for note in result.notes:
        click.echo(f"注意 / note: {note}", err=True)
    return result


@export.command("disputes")
@click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The DuckDB file written by `minqing load`.")
@click.option("--level", default="all", show_default=True, help="large | medium | small | all (all needs xlsx).")
@click.option("--from", "year_from", type=int, default=None, help="First year (default: the first year with reports).")
@click.option("--to", "year_to", type=int, default=None, help="Last year (default: the last year with reports).")
@click.option("--grid", default=None, help="Only grids inside this grid code (the grid itself or its children).")
@click.option("--layout", default="rows", show_default=True,
              help="rows (one per grid and year) | yearly (one per grid, years as columns, 合计, title, definitions).")
@click.option("--format", "fmt", default=None, help="csv | xlsx (default: from the -o file's ending).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@_who_options
def export_disputes(database: Path, level: str, year_from: int | None, year_to: int | None, grid: str | None,
                    layout: str, fmt: str | None, output: Path, username: str | None, users_file: Path | None,
                    scopes: tuple[str, ...]) -> None:
    """Yearly dispute statistics (received, resolved, rate, change, per class) per grid."""
    from layers.export_service import DISPUTE_LEVELS, ExportRequest

    if level not in DISPUTE_LEVELS:
        raise UserError(f"--level was {level!r}; pass one of {', '.join(DISPUTE_LEVELS)}")
    chosen = _export_format(fmt, output)
    if chosen == "csv" and level == "all":
        raise UserError("--level all writes one sheet per level and needs --format xlsx; for CSV pick --level large, medium or small")
    principal = _export_principal(username, users_file, scopes)
    request = ExportRequest("disputes", chosen, dict(level=level, year_from=year_from, year_to=year_to, grid=grid,
                                                     layout=layout))
    result = _run_export(database, principal, request, output, grid=grid,
                         cli_options=dict(level=level, year_from=year_from, year_to=year_to, grid=grid, layout=layout,
                                          format=chosen, output=output, scope=scopes))
    span = f"{result.options['year_from']}-{result.options['year_to']}"
    click.echo(f"写出 / wrote {output}: {result.rows} rows, {span}")


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
@_who_options
def export_events(database: Path, date_from: str | None, date_to: str | None, depts: tuple[str, ...],
                  categories: tuple[str, ...], dispute_classes: tuple[str, ...], statuses: tuple[str, ...],
                  level: str | None, grid: str | None, fmt: str | None, output: Path, username: str | None,
                  users_file: Path | None, scopes: tuple[str, ...]) -> None:
    """Event rows that pass the filters, ordered by report time."""
    from layers.export_service import ExportRequest
    from layers.stats import EventFilter
    from store.schema import LEVELS, STATUSES

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
    principal = _export_principal(username, users_file, scopes)
    request = ExportRequest("events", chosen, dict(start=start, end=end, where=where, level=level, grid=grid))
    result = _run_export(database, principal, request, output, grid=grid, depts=depts, categories=categories,
                         cli_options=dict(date_from=date_from, date_to=date_to, depts=depts, categories=categories,
                                          dispute_classes=dispute_classes, statuses=statuses, level=level, grid=grid,
                                          format=chosen, output=output, scope=scopes))
    click.echo(f"写出 / wrote {output}: {result.rows} events")


@export.command("review")
@click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--period", required=True, help="day (日碰头) | week (周会商) | month (月调度).")
@click.option("--as-of", "as_of", default=None,
              help="The moment the meeting looks back from (ISO, e.g. 2025-12-31T08:00); default: the latest report.")
@click.option("--format", "fmt", default=None, help="csv | xlsx (default: from the -o file's ending).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@_who_options
def export_review(database: Path, period: str, as_of: str | None, fmt: str | None, output: Path,
                  username: str | None, users_file: Path | None, scopes: tuple[str, ...]) -> None:
    """Per large grid: new, closed and overdue events and the top 3 categories for the last day/week/month."""
    import pandas as pd

    from layers.export_service import ExportRequest
    from layers.review import REVIEW_PERIODS

    if period not in REVIEW_PERIODS:
        raise UserError(f"--period was {period!r}; pass one of {', '.join(REVIEW_PERIODS)}")
    chosen = _export_format(fmt, output)
    moment = None
    if as_of is not None:
        try:
            moment = pd.Timestamp(as_of).to_pydatetime()
        except (TypeError, ValueError):
            raise UserError(f"--as-of was {as_of!r}; give an ISO time like 2025-12-31T08:00") from None
    principal = _export_principal(username, users_file, scopes)
    request = ExportRequest("review", chosen, dict(period=period, as_of=moment))
    result = _run_export(database, principal, request, output,
                         cli_options=dict(period=period, as_of=as_of, format=chosen, output=output, scope=scopes))
    click.echo(f"写出 / wrote {output}: {result.sheet}, {result.rows} large grids")


# --------------------------------------------------------------------------- users

USERS_OPTION = click.option("--users", "users_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
                            envvar="MINQING_USERS", help="The users file (TOML; created by the first `users add`).")


@main.group()
def users() -> None:
    """Accounts that may sign in to the dashboard: role, jurisdiction (scope) and an argon2id password hash."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if not password:
            raise UserError("--password-stdin: stdin was empty; pipe the password in, e.g. `printf %s \"$PW\" | ...`")
        return password
    return click.prompt("密码 / password", hide_input=True, confirmation_prompt="再输入一次 / repeat")


def _check_scope(database: Path, scope: tuple[str, ...]) -> None:
    """Every scope code is a large or medium grid of the store (the rule of access.scope)."""
    from access.scope import scope_mistakes
    from store.schema import open_published

    with open_published(database) as con:
        unknown, small = scope_mistakes(con, list(scope))
    if unknown:
        raise UserError(f"--scope {', '.join(map(repr, unknown))}: no such grid in {database}; "
                        "give large or medium grid codes (see the 网格详情 page or `grids` table)")
    if small:
        raise UserError(f"--scope {', '.join(repr(code) for code, _ in small)} is a small grid; scope an official to "
                        "the large or medium grid(s) they are responsible for")


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, help="command_center (指挥中心) | official (网格负责人) | analyst (统计分析员) | "
              "admin (系统管理员).")
@click.option("--scope", "scope", multiple=True, help="Large or medium grid code an official is responsible for; "
              "repeat for several. None: the whole city.")
@click.option("--name", default="", help="Display name, e.g. 张三.")
@click.option("--email", default="", help="Email, matched against the intranet SSO identity (optional).")
@USERS_OPTION
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--no-password", is_flag=True, help="No password: the account signs in only through the SSO.")
@click.option("--db", "database", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Check the --scope codes against this store.")
def users_add(username: str, role: str, scope: tuple[str, ...], name: str, email: str, users_file: Path,
              password_stdin: bool, no_password: bool, database: Path | None) -> None:
    """Add an account; the password is asked for (twice) unless --password-stdin or --no-password."""
    from access.accounts import add_user, check_account

    username, role, codes = check_account(username, role, scope)  # before asking for a password
    if database is not None and codes:
        _check_scope(database, codes)
    if password_stdin and no_password:
        raise UserError("pass --password-stdin or --no-password, not both")
    password = None if no_password else _read_password(password_stdin)
    account = add_user(users_file, username, role=role, scope=codes, name=name, email=email, password=password)
    click.echo(f"已添加 / added {account.username}: {_role_text(account.role)}, scope {_scope_text(account.scope)} "
               f"-> {users_file}")


def _role_text(role: str) -> str:
    from access.principal import ROLES

    return f"{role} ({ROLES[role]})"


def _scope_text(scope: tuple[str, ...]) -> str:
    return ", ".join(scope) if scope else "全市 / whole city"


@users.command("list")
@USERS_OPTION
def users_list(users_file: Path) -> None:
    """List the accounts (never the hashes)."""
    import tomli_w

    from access.accounts import read_users
    from minqing.report import table_lines

    users = read_users(users_file)
    if users.auth:
        click.echo("[auth] " + ", ".join(tomli_w.dumps({k: v}).strip() for k, v in users.auth.items()))
    if not users.accounts:
        click.echo("no accounts")
        return
    rows = [(account.username, _role_text(account.role), _scope_text(account.scope),
             "password" if account.has_password else "SSO only",
             account.name + (f"  <{account.email}>" if account.email else ""))
            for account in sorted(users.accounts.values(), key=lambda a: a.username)]
    for line in table_lines(("user", "role", "scope", "sign-in", "name"), rows, numeric=(False,) * 5, header=False):
        click.echo(line)


@users.command("remove")
@click.argument("username")
@USERS_OPTION
def users_remove(username: str, users_file: Path) -> None:
    """Remove an account; its sessions and wall links end at once."""
    from access.accounts import remove_user
    from access.sessions import end_account

    account = remove_user(users_file, username)
    ended = end_account(users_file, account.username, "account_removed", links=True)
    click.echo(f"已删除 / removed {account.username} from {users_file} ({ended} session(s) ended)")


@users.command("passwd")
@click.argument("username")
@USERS_OPTION
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def users_passwd(username: str, users_file: Path, password_stdin: bool) -> None:
    """Set a new password; the user's sessions end at once."""
    from access.accounts import get_account, read_users, set_password

    get_account(read_users(users_file), username)  # an unknown user is reported before the password is asked for
    from access.sessions import end_account

    account = set_password(users_file, username, _read_password(password_stdin))
    ended = end_account(users_file, account.username, "password_changed")
    click.echo(f"已修改密码 / password changed for {account.username} ({ended} session(s) ended)")


@users.command("settings")
@USERS_OPTION
@click.option("--oidc/--no-oidc", default=None, help="Sign in through the intranet SSO (st.login) instead of passwords.")
@click.option("--provider", default=None, help="The st.login provider name ([auth.NAME] in .streamlit/secrets.toml).")
@click.option("--session-hours", type=click.FloatRange(min=0), default=None,
              help="Hours a sign-in lasts at most, however active (0: no cap; idle sessions end anyway).")
def users_settings(users_file: Path, oidc: bool | None, provider: str | None, session_hours: float | None) -> None:
    """Show or change the [auth] settings of the users file."""
    from access.accounts import DEFAULT_SESSION_HOURS, read_users, set_auth

    changes = {k: v for k, v in {"oidc": oidc, "provider": provider, "session_hours": session_hours}.items()
               if v is not None}
    users = set_auth(users_file, **changes) if changes else read_users(users_file)
    click.echo(f"oidc = {str(users.oidc).lower()}; provider = {users.provider or '(default [auth])'}; "
               f"session_hours = {users.auth.get('session_hours', DEFAULT_SESSION_HOURS):g}")


# --------------------------------------------------------------------------- audit

AUDIT_OPTION = click.option("--audit", "audit_file", type=click.Path(dir_okay=False, path_type=Path), required=True,
                            envvar="MINQING_AUDIT", help="The audit log (DB.audit.sqlite next to the database).")


def _audit_filters(func):
    for decorator in reversed([
        click.option("--from", "date_from", default=None, help="First day (or time), e.g. 2025-01-31."),
        click.option("--to", "date_to", default=None, help="Last day (a bare date includes the whole day)."),
        click.option("--user", "usernames", multiple=True, help="Only this username; repeatable."),
        click.option("--action", "actions", multiple=True,
                     help="signin | signout | export | reveal | audit_view | audit_export; repeatable."),
        click.option("--outcome", "outcomes", multiple=True, help="success | failure | refused; repeatable."),
        click.option("--text", default="", help="Only entries whose target or detail contains this text."),
    ]):
        func = decorator(func)
    return func


def _open_audit(audit_file: Path, date_from: str | None, date_to: str | None, usernames: tuple[str, ...],
                actions: tuple[str, ...], outcomes: tuple[str, ...], text: str):
    from access.audit import ACTIONS, OUTCOMES, AuditFilter, AuditLog

    if not audit_file.is_file():
        raise UserError(f"{audit_file}: no audit log there; the dashboard creates DB.audit.sqlite next to the "
                        "database on the first sign-in, export or reveal")
    for option, values, known in (("--action", actions, ACTIONS), ("--outcome", outcomes, OUTCOMES)):
        bad = [v for v in values if v not in known]
        if bad:
            raise UserError(f"{option} {bad[0]!r}; pass one of {', '.join(known)}")
    start, end = _date_window(date_from, date_to)
    filters = AuditFilter(since=None if start is None else start.to_pydatetime(),
                          until=None if end is None else end.to_pydatetime(),
                          usernames=usernames, actions=actions, outcomes=outcomes, text=text)
    return AuditLog(audit_file), filters


def _cli_principal():  # -> Principal: the operator at the server's shell
    from access.principal import SYSTEM

    return SYSTEM


def _cli_detail(filters) -> dict:
    import getpass

    return {"filters": filters.describe(), "via": "cli", "os_user": getpass.getuser()}


@main.group()
def audit() -> None:
    """Read the audit log: sign-ins, exports, reveals of personal data, views of this log."""


@audit.command("list")
@AUDIT_OPTION
@_audit_filters
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest entries shown.")
@click.option("--format", "fmt", type=click.Choice(["text", "csv"]), default="text", show_default=True)
def audit_list(audit_file: Path, date_from, date_to, usernames, actions, outcomes, text, limit: int, fmt: str) -> None:
    """Show the newest entries (this reading is itself logged as audit_view)."""
    import pandas as pd

    from layers.export import write_audit_csv

    log, filters = _open_audit(audit_file, date_from, date_to, usernames, actions, outcomes, text)
    frame = log.entries(filters, limit=limit)
    log.record(_cli_principal(), "audit_view", detail=_cli_detail(filters), rows=len(frame))
    if fmt == "csv":
        buffer = io.BytesIO()
        write_audit_csv(frame, buffer)
        click.echo(buffer.getvalue().decode("utf-8-sig"), nl=False)
        return
    if frame.empty:
        click.echo("no entries")
        return
    for e in frame.itertuples(index=False):
        rows = "" if pd.isna(e.rows) else f" rows={e.rows}"
        click.echo(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.username:<14} {e.role or '-':<14} {e.action:<12} {e.outcome:<8} "
                   f"{e.target}{rows}  {e.detail_json}")


@audit.command("export")
@AUDIT_OPTION
@_audit_filters
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=Path("-"),
              show_default=True, help="The CSV file (UTF-8 with BOM); - writes to stdout.")
def audit_export(audit_file: Path, date_from, date_to, usernames, actions, outcomes, text, fmt: str,
                 output: Path) -> None:
    """Write every entry that passes the filters as CSV (logged as audit_export)."""
    from layers.export import write_audit_csv

    log, filters = _open_audit(audit_file, date_from, date_to, usernames, actions, outcomes, text)
    frame = log.entries(filters)
    log.record(_cli_principal(), "audit_export", target=str(output), detail=_cli_detail(filters), rows=len(frame))
    buffer = io.BytesIO()
    write_audit_csv(frame, buffer)
    data = buffer.getvalue()
    if str(output) == "-":
        click.get_binary_stream("stdout").write(data)
        return
    _checked_output(output)
    output.write_bytes(data)
    click.echo(f"写出 / wrote {output}: {len(frame)} entries")


def _run_load(config):  # ProjectConfig -> LoadReport
    """Load a checked project with a progress bar, then print the load report."""
    from tqdm import tqdm

    from etl.load import load_project
    from minqing.report import print_load_report

    click.echo(f"加载 / loading {config.path}")
    with tqdm(unit="B", unit_scale=True, file=sys.stderr, disable=None, leave=False) as bar:
        def progress(done: int, total: int, what: str) -> None:  # bytes of the department files loaded
            bar.total = total
            bar.n = done
            bar.set_description(what)
            bar.refresh()

        report = load_project(config, progress=progress)
    print_load_report(report, echo=click.echo)
    return report


def _serve(database: Path, port: int, settings: dict[str, str], *, address: str = "127.0.0.1") -> None:
    from dashboard.serve import serve as serve_dashboard

    host = "localhost" if address in ("127.0.0.1", "0.0.0.0") else address
    click.echo(f"仪表盘 / dashboard: http://{host}:{port}  (大屏 / big screen: http://{host}:{port}/?screen=big)")
    sys.exit(serve_dashboard(database.resolve(), port=port, address=address, settings=settings))


from minqing import analyse as _analyse  # noqa: E402  (minqing analyse …, minqing brief)

_analyse.register(main, SimpleNamespace(who_options=_who_options, principal=_export_principal, run_export=_run_export,
                                        export_format=_export_format))

from minqing.init_command import init  # noqa: E402  (its own module: `minqing init`)
from minqing.supervision_cli import supervision_command  # noqa: E402  (own modules, registered here)
from minqing.wall_cli import wall_link  # noqa: E402

main.add_command(init)
export.add_command(supervision_command(who_options=_who_options, principal=_export_principal, run=_run_export,
                                       export_format=_export_format))
users.add_command(wall_link)

if __name__ == "__main__":
    main()
