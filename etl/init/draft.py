"""The drafted project as commented TOML text: minqing.toml, one mapping per events file, categories.toml."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path

from etl.init.decisions import InitReport
from etl.init.levels import GridPlan
from etl.readoptions import ReadOptions

DELIMITER_WORDS = {"\t": "tab"}


def toml_string(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def toml_key(key: str) -> str:
    """A bare key when it can be one, else a quoted key."""
    return key if key.replace("_", "").replace("-", "").isascii() and key.replace("_", "").replace("-", "").isalnum() \
        else toml_string(key)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(type(value))


@dataclass
class DraftMapping:
    """What one events mapping says; `notes` become its header comments."""

    department: str
    name: str
    source: Path
    read: dict[str, object] = field(default_factory=dict)
    fields: dict[str, object] = field(default_factory=dict)  # canonical -> column, [date, time] or {hash = [...]}
    duplicates: str = "keep"
    time_formats: tuple[str, ...] = ("iso",)
    timezone: str = "Asia/Shanghai"
    coordinates: dict[str, object] = field(default_factory=dict)
    leading_zeros: bool = False
    aliases: dict[str, str] = field(default_factory=dict)
    category_map: dict[str, str] = field(default_factory=dict)
    category_default: str | None = None
    status_map: dict[str, str] = field(default_factory=dict)
    status_default: str | None = None


def read_table(fmt: str, encoding: str, sheet: str | None, layer: str | None, options: ReadOptions) -> dict[str, object]:
    """The [read] keys that differ from what the loader would do anyway (format and encoding always written)."""
    out: dict[str, object] = {"format": fmt}
    if encoding != "auto" or fmt in ("csv", "tsv"):
        out["encoding"] = encoding
    if sheet:
        out["sheet"] = sheet
    if layer:
        out["layer"] = layer
    if options.delimiter and (fmt, options.delimiter) not in (("csv", ","), ("tsv", "\t")):
        out["delimiter"] = DELIMITER_WORDS.get(options.delimiter, options.delimiter)
    if options.decimal != ".":
        out["decimal"] = options.decimal
    if options.header_row != 1:
        out["header_row"] = options.header_row
    if options.null_values:
        out["null_values"] = list(options.null_values)
    return out


def mapping_text(draft: DraftMapping, report: InitReport) -> str:
    """The commented mapping file."""
    lines = [f"# {draft.name}: drafted by `minqing init` on {dt.date.today().isoformat()} from {draft.source.name}.",
             "# Each value was decided from the file; init's reasons follow. Edit freely: `minqing load` reads the",
             "# file again whenever this mapping changes (see docs/mappings.md).", "#"]
    for decision in report.decisions:
        if decision.subject == draft.source.name:
            lines.append(f"# {decision.topic}: {decision.choice} ({decision.why})")
    lines += ["", f"department = {toml_string(draft.department)}", f"name = {toml_string(draft.name)}",
              f"duplicates = {toml_string(draft.duplicates)}  # rows identical to an earlier row: keep (own ids) | drop",
              "", "[read]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in draft.read.items()]
    lines += ["", "[fields]"]
    for name, value in draft.fields.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items())
            lines.append(f"{name} = {{ {inner} }}")
        else:
            lines.append(f"{name} = {toml_value(value)}")
    lines += ["", "[time]", f"formats = {toml_value(list(draft.time_formats))}",
              f"timezone = {toml_string(draft.timezone)}  # the zone of times written without an offset"]
    if draft.coordinates:
        lines += ["", "[coordinates]"] + [f"{k} = {toml_value(v)}" for k, v in draft.coordinates.items()]
    if draft.leading_zeros:
        lines += ["", "[grid_code]", 'leading_zeros = "drop"  # "0111" and "111" are the same grid']
    if draft.aliases:
        lines += ["", "[grid_name.aliases]  # guessed from close spellings: check them"]
        lines += [f"{toml_string(k)} = {toml_string(v)}" for k, v in draft.aliases.items()]
    if draft.category_default:
        lines += ["", "[category]", f"default = {toml_string(draft.category_default)}"]
    if draft.category_map:
        lines += ["", "[category.map]  # every text of the file; classify the codes in categories.toml"]
        lines += [f"{toml_string(k)} = {toml_string(v)}" for k, v in draft.category_map.items()]
    if draft.status_default:
        lines += ["", "[status]", f"default = {toml_string(draft.status_default)}"]
    if draft.status_map:
        lines += ["", "[status.map]  # to reported | dispatched | in_progress | closed"]
        lines += [f"{toml_string(k)} = {toml_string(v)}" for k, v in draft.status_map.items()]
    lines += ["", "# [due]                  # deadlines: a person decides them", "# default = { hours = 48 }", ""]
    return "\n".join(lines)


def config_text(plan: GridPlan, directory: Path, mappings: list[tuple[Path, str]], timezone: str, zone_why: str,
                report: InitReport) -> str:
    """The commented minqing.toml: the store, its zone, the grid levels and one [[departments]] per events file."""
    lines = [f"# Drafted by `minqing init` on {dt.date.today().isoformat()}; `minqing load --config` this file.",
             "# Every decision is explained beside it; the full report was printed by init.", "",
             'database = "minqing.duckdb"', 'categories = "categories.toml"',
             '# city = "..."  # the place\'s name for the wall display\'s title (民情地图 · city); without it: 全市',
             f"timezone = {toml_string(timezone)}  # {zone_why}", "", "[grids]",
             f"area = {{ code = {toml_string(plan.area[0])}, name = {toml_string(plan.area[1])} }}  "
             "# the one grid of a level no file gives"]
    for level in ("large", "medium", "small"):
        grid = plan.levels.get(level)
        if grid is None:
            continue
        lines += ["", f"[grids.{level}]  # {report.choice(grid.path.name, 'level') or level}: "
                      f"{len(grid.frame):,} rows, median {grid.median_km2:,.2f} km²",
                  f"path = {toml_string(relative(grid.path, directory))}",
                  f"code = {toml_string(grid.code)}", f"name = {toml_string(grid.name)}",
                  f"coordinates = {toml_string(grid.system)}"]
        parent = plan.parents.get(level)
        if parent:
            why = "largest overlap with the level above" if parent == "spatial" else "the column naming its parent"
            lines.append(f"parent = {toml_string(parent)}  # {why}")
        if grid.population:
            lines.append(f"population = {toml_string(grid.population)}")
        if plan.repeated.get(level):
            lines.append('repeated = "union"  # rows sharing a code are parts of one grid')
        if plan.fold_zeros:
            lines.append('leading_zeros = "drop"  # "0111" is stored as "111", as the events write it')
    for path, mapping in mappings:
        lines += ["", "[[departments]]", f"path = {toml_string(glob_escape(relative(path, directory)))}",
                  f"mapping = {toml_string(mapping)}"]
    return "\n".join(lines) + "\n"


def categories_text(categories: dict[str, tuple[str, str]]) -> str:
    """categories.toml: code -> (name, domain); none is a dispute until a person says so."""
    lines = [f"# Drafted by `minqing init` on {dt.date.today().isoformat()}: one category per category text of each",
             "# department. None counts as a dispute yet: give a category a dispute_class (e.g. dispute_class =",
             '# "邻里") to count it in the dispute statistics, rename the labels the dashboard shows, merge codes.', ""]
    for code, (name, domain) in categories.items():
        lines += [f"[{toml_key(code)}]", f"name = {toml_string(name)}", f"domain = {toml_string(domain)}", ""]
    return "\n".join(lines)


def relative(path: Path, directory: Path) -> str:
    """`path` relative to the project folder (forward slashes), or absolute when on another drive."""
    try:
        return Path(os.path.relpath(path.resolve(), directory.resolve())).as_posix()
    except ValueError:
        return path.resolve().as_posix()
