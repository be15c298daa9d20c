"""The deployment settings, declared once: for each its `minqing serve` option, environment variable, default,
parser and help text.

Everything else is generated from SETTINGS or reads through it:

* `minqing serve` and `minqing demo` build their click options from it (minqing/cli.py) and hand the values to
  the Streamlit process as environment variables (`child_environment`, checked by dashboard/serve.py);
* the app reads them back once per run (`read`, in dashboard/app.py) and passes the values down: the pages get
  them in the PageContext, access/ and layers/ get plain paths and a Basemap, never the environment;
* README.md's settings table is `settings_table()` (tests/dashboard/test_settings.py checks it;
  `python -m dashboard.settings README.md` rewrites it).

A bad value is a SettingError naming the setting, the value and what is allowed: on the command line one line
and exit code 2 (it is a UserError), on the page a Chinese message (`SettingError.zh`). Never a silent default.

Why here: these are the dashboard's serving settings, and their parsers need layers/ (the basemap); dashboard/
may import layers/, access/ and store/, and minqing/ (the composition root) may import dashboard/, while store/,
layers/ and access/ import nothing above them. The module itself imports only the standard library and
store.errors (layers.offline only when a basemap is parsed), so `minqing --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from store.errors import UserError

Source = Literal["option", "env", "default"]  # where a value came from, for the message


# --------------------------------------------------------------------------- parsers: text -> value, ValueError(why)

def _whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            number = int(text)
        except ValueError:
            raise ValueError("not a whole number") from None
        if number < low or (high is not None and number > high):
            raise ValueError("out of range")
        return number

    return parse


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise ValueError("not one of the choices")
        return text.lower()

    return parse


def _switch(text: str) -> bool:
    if text.lower() not in ("on", "off"):
        raise ValueError("not on or off")
    return text.lower() == "on"


def _off_or_at_least(low: int) -> Callable[[str], int]:
    whole = _whole_number(0)

    def parse(text: str) -> int:
        number = whole(text)
        if 0 < number < low:
            raise ValueError("out of range")
        return number

    return parse


def _file(text: str) -> Path:
    path = Path(text).expanduser().resolve()
    if path.is_dir():
        raise ValueError("is a folder, not a file")
    return path


def _address(text: str) -> str:
    if any(ch.isspace() for ch in text):
        raise ValueError("contains spaces")
    return text


def _basemap(text: str) -> Any:  # -> layers.offline.Basemap
    from layers.offline import Basemap  # folium: imported only when a basemap is parsed

    try:
        return Basemap.from_setting(text)
    except ValueError as exc:  # its message lists the valid forms, which the SettingError says anyway
        raise ValueError(str(exc).split(". Valid forms:")[0]) from None


def _basemap_shown(text: str) -> str:
    from layers.offline import _redact  # a 天地图 key shows only its first four characters

    return _redact(text)


def _text(text: str) -> str:
    return text


# --------------------------------------------------------------------------- the declaration

@dataclass(frozen=True)
class Setting:
    """One deployment setting. `default` is text parsed like any value ("": unset, the value is None)."""

    name: str  # the Settings attribute and the click parameter
    label: str  # what it is, for the README table
    option: str | None  # the `minqing serve` option; None: environment only
    env: str | None  # the environment variable; None: an option of `minqing serve` only (not read by the app)
    default: str
    parse: Callable[[str], Any]
    allowed: str  # what is allowed, in English (help, command-line messages)
    allowed_zh: str  # the same in Chinese (the page's message)
    help: str
    metavar: str | None = None
    default_doc: str = ""  # the README table's default cell (Markdown); else `default`
    required: bool = False  # `minqing serve` needs it (the app alone falls back to `default`)
    format: Callable[[Any], str] = str  # value -> the text handed to the Streamlit process
    shown: Callable[[str], str] = _text  # a value as error messages may show it (secrets redacted)

    def value(self, text: str | None, source: Source = "env") -> Any:
        """The parsed value of `text`; None or blank means the default (None when there is none)."""
        raw = "" if text is None else str(text).strip()
        if not raw:
            if not self.default:
                return None
            raw, source = self.default, "default"
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise SettingError(self, raw, str(exc), source) from None

    def read(self, environ: Mapping[str, str] | None = None) -> Any:
        """The value set in `environ` (default: this process's environment)."""
        if self.env is None:
            raise ValueError(f"{self.name} is not an environment setting")
        env = os.environ if environ is None else environ
        return self.value(env.get(self.env), "env")

    def text(self, value: Any) -> str:
        """The environment text of a parsed value (checked by parsing it back)."""
        text = self.format(value)
        self.value(text, "option")
        return text


class SettingError(UserError):
    """A setting's value is not allowed: names the setting, the (redacted) value and what is allowed."""

    def __init__(self, setting: Setting, value: str, why: str, source: Source = "env") -> None:
        self.setting, self.value, self.why, self.source = setting, value, why, source
        shown = setting.shown(value)
        if source == "option" or setting.env is None:
            where = f"{setting.option} {shown!r}"
        elif setting.option is None:
            where = f"${setting.env}={shown!r}"
        else:
            where = f"${setting.env}={shown!r} (the {setting.option} setting)"
            if source == "default":
                where = f"the default of {setting.option} {shown!r}"
        super().__init__(f"{where}: {why}; allowed: {setting.allowed}")

    def zh(self) -> str:
        """The message for the page (Markdown): the variable, the value and the allowed values, in Chinese."""
        shown = self.setting.shown(self.value).replace("`", "'").replace("\n", " ")
        if len(shown) > 120:
            shown = shown[:120] + "…"
        name = f"环境变量 `{self.setting.env}`" if self.setting.env else f"选项 `{self.setting.option}`"
        fix = f"（对应 `minqing serve {self.setting.option}`）" if self.setting.option and self.setting.env else ""
        return f"{name}{fix}的值 `{shown}` 无效。允许的值：{self.setting.allowed_zh}。"


class SettingsError(UserError):
    """Every bad setting found at once."""

    def __init__(self, problems: list[SettingError]) -> None:
        self.problems = tuple(problems)
        if len(problems) == 1:
            super().__init__(str(problems[0]))
        else:
            super().__init__(f"{len(problems)} bad settings:\n" + "\n".join(f"  - {p}" for p in problems))

    def zh(self) -> str:
        """The page's message: what is wrong and how to fix it."""
        lines = "\n".join(f"- {p.zh()}" for p in self.problems)
        return f"部署设置有误，仪表盘无法启动：\n\n{lines}\n\n请管理员修正后重新启动（见 README 的设置表）。"


DB = Setting(
    "db", "database", "--db", "MINQING_DB", "demo/minqing.duckdb", _file,
    "the path of a DuckDB file (not a folder)", "DuckDB 数据库文件的路径（不能是文件夹）",
    "The DuckDB file written by `minqing load`.", metavar="FILE", required=True,
    default_doc="`demo/minqing.duckdb` (the app alone; `minqing serve` needs `--db`)",
)
CLOCK = Setting(
    "clock", 'what "now" is', "--clock", "MINQING_CLOCK", "now", _choice("now", "data"),
    "now or data", "`now`（系统时钟）或 `data`（数据中最新一条上报的时间）",
    "What 'now' means: the wall clock, or the latest report in the data (replays, demos).", metavar="now|data",
    default_doc="`now` (the demo uses `data`: its records end 2025-12-31)",
)
BASEMAP = Setting(
    "basemap", "basemap", "--basemap", "MINQING_BASEMAP", "none", _basemap,
    "none, xyz:URL with {z} {x} {y} (e.g. xyz:http://tiles.local/{z}/{x}/{y}.png), tianditu:KEY or tianditu:KEY:img",
    "`none`（无底图）、`xyz:瓦片地址`（含 {z} {x} {y}）、`tianditu:密钥` 或 `tianditu:密钥:img`",
    "The map's tiles: none (a neutral background, no network), a tile server in your network, or 天地图 (needs "
    "internet and a browser key).",
    metavar="none|xyz:URL|tianditu:KEY[:img]", default_doc="`none` (no tiles)",
    format=lambda basemap: basemap.setting, shown=_basemap_shown,
)
REFRESH = Setting(
    "refresh_seconds", "live refresh", "--refresh", "MINQING_REFRESH_SECONDS", "30", _whole_number(5),
    "a whole number of seconds, 5 or more", "不小于 5 的整数（秒）",
    "Seconds between the live page's data refreshes.", metavar="SECONDS",
)
NEGLECT_DAYS = Setting(  # the range of layers.patrol.patrol_windows (DEFAULT_NEGLECT_DAYS, MAX_NEGLECT_DAYS)
    "neglect_days", "neglected grid alert (失管)", "--neglect-days", "MINQING_NEGLECT_DAYS", "7",
    _whole_number(1, 365), "a whole number of days from 1 to 365", "1 到 365 之间的整数（天）",
    "A small grid with no patrol check-in for this many days or more is an alert (失管网格).", metavar="N",
    default_doc="7: a small grid with no patrol check-in for 7 days or more",
)
POPUP_SECONDS = Setting(
    "popup_seconds", "pop-up time", "--popup-seconds", "MINQING_POPUP_SECONDS", "15", _whole_number(3, 600),
    "a whole number of seconds from 3 to 600", "3 到 600 之间的整数（秒）",
    "Seconds a pop-up card (new report, overdue event, 失管 grid) stays on the command center's screens.",
    metavar="SECONDS",
)
SOUND = Setting(
    "sound", "pop-up sound", "--sound", "MINQING_SOUND", "off", _switch, "on or off", "`on`（开）或 `off`（关）",
    "Play the bundled chime with each pop-up (browsers need one click first: the wall shows 启用提示音).",
    metavar="on|off", format=lambda on: "on" if on else "off",
    default_doc="`off` (browsers play sound only after a click, or with the kiosk flag in docs/security.md)",
)
ROTATE_SECONDS = Setting(
    "rotate_seconds", "wall map rotation", "--rotate-seconds", "MINQING_ROTATE_SECONDS", "0", _off_or_at_least(10),
    "0 (off) or a whole number of seconds, 10 or more", "0（不轮播）或不小于 10 的整数（秒）",
    "The wall display switches its map between 事件数, 超期 and 巡查覆盖 every this many seconds (0: it does not).",
    metavar="SECONDS", default_doc="`0` (no rotation)",
)
SESSION_IDLE_HOURS = Setting(
    "session_idle_hours", "sign-in idle expiry", "--session-idle-hours", "MINQING_SESSION_IDLE_HOURS", "12",
    _whole_number(1, 8760), "a whole number of hours from 1 to 8760", "1 到 8760 之间的整数（小时）",
    "A person's sign-in ends after this many hours without use (a reload keeps it; wall links have their own rule).",
    metavar="HOURS", default_doc="`12`: a person's session ends after 12 hours unused",
)
ADDRESS = Setting(
    "address", "listen address", "--address", None, "127.0.0.1", _address,
    "an IP address or host name", "IP 地址或主机名",
    "Interface to listen on; 0.0.0.0 serves the command center's LAN.", metavar="HOST",
    default_doc="`127.0.0.1` (`0.0.0.0` for the LAN)",
)
PORT = Setting(
    "port", "listen port", "--port", None, "8501", _whole_number(1, 65535),
    "a whole number from 1 to 65535", "1 到 65535 之间的整数", "Port to listen on.", metavar="PORT",
)
USERS = Setting(
    "users", "accounts", "--users", "MINQING_USERS", "", _file,
    "the path of a users file (not a folder)", "用户文件的路径（不能是文件夹）",
    "Users file (`minqing users add`): sign-in required. Without it the dashboard runs open, everyone as "
    "administrator.", metavar="FILE", default_doc="none: open mode",
)
AUDIT = Setting(
    "audit", "audit log", "--audit", "MINQING_AUDIT", "", _file,
    "the path of an SQLite file (not a folder)", "SQLite 文件的路径（不能是文件夹）",
    "Audit log (SQLite). Default: DB.audit.sqlite next to the database.", metavar="FILE",
    default_doc="`<db>.audit.sqlite`",
)
EXPORT_PASSWORD = Setting(
    "password", "the `--user`'s password for unattended `minqing export`", None, "MINQING_PASSWORD", "", _text,
    "any text", "任意文本", "The --user's password for unattended exports; asked for when unset.",
    default_doc="asked for", shown=lambda text: "***",
)

SERVE_SETTINGS: tuple[Setting, ...] = (DB, CLOCK, BASEMAP, REFRESH, NEGLECT_DAYS, POPUP_SECONDS, SOUND, ROTATE_SECONDS,
                                       SESSION_IDLE_HOURS, ADDRESS, PORT, USERS, AUDIT)
OTHER_SETTINGS: tuple[Setting, ...] = (EXPORT_PASSWORD,)  # read by other commands, not by the dashboard
SETTINGS: tuple[Setting, ...] = SERVE_SETTINGS + OTHER_SETTINGS
APP_SETTINGS: tuple[Setting, ...] = tuple(s for s in SERVE_SETTINGS if s.env)  # what the app reads
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
BY_ENV: dict[str, Setting] = {s.env: s for s in SETTINGS if s.env}


@dataclass(frozen=True)
class Settings:
    """The app's settings for one run (`read`)."""

    db: Path
    clock: str  # "now" | "data"
    basemap: Any  # layers.offline.Basemap
    refresh_seconds: int
    neglect_days: int
    popup_seconds: int
    sound: bool
    rotate_seconds: int  # 0: the wall's map does not rotate
    session_idle_hours: int
    users: Path | None  # None: open mode
    audit: Path | None  # None: <db>.audit.sqlite


def read(environ: Mapping[str, str] | None = None) -> Settings:
    """The app's settings from `environ` (default: this process's environment); SettingsError lists every bad one."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[SettingError] = []
    for setting in APP_SETTINGS:
        try:
            values[setting.name] = setting.read(env)
        except SettingError as exc:
            problems.append(exc)
    if problems:
        raise SettingsError(problems)
    return Settings(**values)


def child_environment(values: Mapping[str, Any]) -> dict[str, str]:
    """The environment variables that hand `values` (setting name -> parsed value) to the Streamlit process.

    Settings without a variable (port, address) and the database (dashboard.serve's `db_path`) are left out,
    and so are None values (not set: the app uses the default)."""
    out: dict[str, str] = {}
    for name, value in values.items():
        setting = BY_NAME.get(name)
        if setting is None:
            raise ValueError(f"{name!r} is not a declared setting (dashboard/settings.py)")
        if setting.env and setting is not DB and value is not None:
            out[setting.env] = setting.text(value)
    return out


def check_environment(environ: Mapping[str, str]) -> None:
    """Raise SettingsError for any bad app setting in `environ` (before a Streamlit process is started)."""
    read(environ)


# --------------------------------------------------------------------------- the README table

def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def settings_table() -> str:
    """README.md's settings table (Markdown), from the declaration."""
    rows = ["| setting | `minqing serve` option | environment | default |", "|---|---|---|---|"]
    for s in SERVE_SETTINGS:
        option = f"`{s.option} {s.metavar}`" if s.metavar else f"`{s.option}`"
        env = f"`{s.env}`" if s.env else ""
        default = s.default_doc or (f"`{s.default}`" if s.default else "none")
        rows.append(f"| {_cell(s.label)} | {_cell(option)} | {env} | {_cell(default)} |")
    rows.append("")
    rows.append("`minqing serve` reads each environment variable when its option is not given. A bad value, from "
                "either, is an error naming the setting and what is allowed: `minqing serve` stops with exit code 2, "
                "the dashboard shows the message instead of the pages.")
    for s in OTHER_SETTINGS:
        rows.append("")
        rows.append(f"Also read from the environment: `{s.env}`, {s.label} (default: {s.default_doc or s.default}).")
    return "\n".join(rows)


README_BEGIN = "<!-- settings table: generated by `python -m dashboard.settings README.md` from dashboard/settings.py -->"
README_END = "<!-- end of settings table -->"


def readme_with_table(readme: str) -> str:
    """`readme` with the text between README_BEGIN and README_END replaced by `settings_table()`."""
    head, begin, rest = readme.partition(README_BEGIN)
    _, end, tail = rest.partition(README_END)
    if not begin or not end:
        raise ValueError(f"the README has no {README_BEGIN!r} ... {README_END!r} block")
    return f"{head}{README_BEGIN}\n{settings_table()}\n{README_END}{tail}"


if __name__ == "__main__":  # python -m dashboard.settings [README.md]: print the table, or rewrite it in place
    if len(sys.argv) > 1:
        target = Path(sys.argv[1])
        target.write_text(readme_with_table(target.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(settings_table())
