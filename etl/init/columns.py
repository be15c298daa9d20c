"""Which columns of an events file hold the id, times, coordinates, category, status, address and description: by
their names (English and Chinese) and by their values."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl.init.decisions import InitReport
from etl.init.times import TimeColumn, inspect_time
from etl.readers import X_COLUMN, Y_COLUMN

HINTS: dict[str, re.Pattern[str]] = {name: re.compile(pattern, re.I) for name, pattern in {
    "source_id": r"(^|[ _])(id|key|no|number|uid|n[uú]mero|protocolo)$|^id|编号|单号|案件号|流水号|unique.?key|incident.?key|case.?n",
    "category": r"categor|type|class|kind|offen[cs]e|crime|complaint|类别|类型|分类|事项|案由|事件类|警情类|种类|大类|tipo|categoria|clase|natureza",
    "status": r"status|state|estado|situa[cç]|状态|进度|办理情况|处理情况|办结情况|处置结果",
    "address": r"address|addr|street|^block$|location$|endere[cç]o|direcci[oó]n|logradouro|地址|地点|位置|发生地|事发地|属地",
    "description": r"descri|detail|content|remark|note|summary|narrative|observa|描述|内容|摘要|简要|备注|诉求|简述",
    "reported_at": r"creat|report|occur|receiv|^date$|^time$|datetime|^when|^data|^fecha|registro|发生|上报|报警|受理|登记|创建|接警|时间|日期",
    "closed_at": r"clos|resol|finish|complet|^end|encerra|fechamento|cierre|办结|结案|完成|关闭|结束|结警|办毕",
    "dispatched_at": r"dispatch|assign|派遣|派单|派警|转办|分派|交办",
    "due_at": r"due|deadline|时限|期限|到期",
    "time_of_day": r"time|hour|clock|hora|时间|时刻|时分",
    "lon": r"^(lon|lng|long|longitude|x|经度|东经)$|lon|lng|经度|^x[_ ]?coord|^point_?x|^x$|^x坐标|横坐标|东坐标",
    "lat": r"^(lat|latitude|y|纬度|北纬)$|lat|纬度|^y[_ ]?coord|^point_?y|^y$|^y坐标|纵坐标|北坐标",
}.items()}
CAMEL_ID = re.compile(r"[a-z](Id|ID|No|Key|Code)$")  # eventNo, caseId: an id column named in camelCase
MONTH_FIRST_ZONES = ("America/",)


@dataclass
class Roles:
    """The column of each canonical field (time fields may be two columns: date, time of day)."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    time_formats: dict[str, tuple[str, ...]] = field(default_factory=dict)
    coordinate_pairs: list[tuple[str, str]] = field(default_factory=list)  # (x, y) candidates, best named first
    hash_columns: list[str] = field(default_factory=list)  # when no column is an id


def text_values(values: pd.Series) -> pd.Series:
    """Cells as trimmed text ('' for empty), integers without '.0'."""
    def one(v: object) -> str:
        if v is None or (isinstance(v, float) and v != v):
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()
    return values.map(one) if values.dtype == object else values.astype("string").fillna("").str.strip().astype(object)


def source_columns(frame: pd.DataFrame) -> list[str]:
    """The file's own columns (not the reader's __row, __x, ...)."""
    return [str(c) for c in frame.columns if not str(c).startswith("__")]


def find_times(frame: pd.DataFrame, subject: str, report: InitReport, zone: str) -> tuple[dict[str, TimeColumn], Roles]:
    """Every column that holds times, and the time fields: reported, dispatched, closed and due."""
    roles = Roles()
    month_first = zone.startswith(MONTH_FIRST_ZONES)
    times: dict[str, TimeColumn] = {}
    for column in source_columns(frame):
        values = frame[column]
        numeric = pd.to_numeric(text_values(values).replace("", np.nan), errors="coerce")
        if numeric.notna().mean() > 0.95 and not HINTS["reported_at"].search(column):
            continue  # numbers (ids, coordinates, counts) are not times unless named so (Excel serial days)
        found = inspect_time(values, month_first_region=month_first, excel_allowed=True)
        if found.kind:
            times[column] = found
    free = [c for c, t in times.items() if t.kind in ("datetime", "date")]
    for name in ("closed_at", "dispatched_at", "due_at", "reported_at"):
        others = [HINTS[o] for o in ("closed_at", "dispatched_at", "due_at") if o != name]
        hinted = [c for c in free if HINTS[name].search(c) and not any(o.search(c) for o in others)]
        if name == "reported_at" and not hinted:
            hinted = [c for c in free if not any(o.search(c) for o in others)]
        if not hinted:
            continue
        column = hinted[0]
        free.remove(column)
        columns = [column]
        formats = times[column].formats
        clock = [c for c, t in times.items() if t.kind == "time" and HINTS["time_of_day"].search(c)]
        if times[column].kind == "date" and clock and name == "reported_at":
            columns.append(clock[0])
            joined = text_values(frame[column]) + " " + text_values(frame[clock[0]])
            combined = inspect_time(joined.str.strip(), month_first_region=month_first, excel_allowed=False)
            formats = tuple(dict.fromkeys((*combined.formats, *formats)))
            report.decide(subject, name, f"{column} + {clock[0]}", f"{column!r} holds dates and {clock[0]!r} times "
                          f"of day: joined with a space and read as {', '.join(formats)}")
        else:
            how = f"read as {', '.join(formats)} ({times[column].parsed:.0%} of the values)"
            if times[column].note:
                how += f"; {times[column].note}"
            report.decide(subject, name, column, f"named like it and {how}")
            if "ambiguous" in times[column].note:
                report.ask(f"{subject}: {column!r} could be day-first or month-first; check [time] formats")
        roles.fields[name] = columns
        roles.time_formats[name] = formats
    return times, roles


def coordinate_pairs(frame: pd.DataFrame, decimal: str, taken: set[str]) -> list[tuple[str, str]]:
    """Pairs of numeric columns named like x/lon and y/lat, the closest names first."""
    numeric = []
    for column in source_columns(frame):
        if column in taken:
            continue
        text = text_values(frame[column])
        if decimal == ",":
            text = text.str.replace(",", ".", regex=False)
        given = text[text != ""]
        if len(given) and pd.to_numeric(given, errors="coerce").notna().mean() >= 0.95:
            numeric.append(column)
    xs = [c for c in numeric if HINTS["lon"].search(c)]
    ys = [c for c in numeric if HINTS["lat"].search(c)]
    pairs = sorted([(x, y) for x in xs for y in ys if x != y], key=lambda p: -_shared_affix(*p))
    # reversed pairs last: Chinese surveying calls the northing X (degrees are put right by the loader anyway)
    return pairs + [(y, x) for x, y in pairs]


def _shared_affix(a: str, b: str) -> int:
    prefix = len(next(iter([a[:i] for i in range(min(len(a), len(b)), 0, -1) if a[:i] == b[:i]]), ""))
    suffix = len(next(iter([a[-i:] for i in range(min(len(a), len(b)), 0, -1) if a[-i:] == b[-i:]]), ""))
    return prefix + suffix


def points(frame: pd.DataFrame, pair: tuple[str, str], decimal: str) -> tuple[np.ndarray, np.ndarray]:
    """The x and y values of a pair of columns (the geometry's for (X_COLUMN, Y_COLUMN)) as floats."""
    out = []
    for column in pair:
        text = text_values(frame[column]) if column not in (X_COLUMN, Y_COLUMN) else frame[column].astype(str)
        if decimal == ",":
            text = text.str.replace(",", ".", regex=False)
        out.append(pd.to_numeric(text.replace("", np.nan), errors="coerce").to_numpy(dtype=float))
    return out[0], out[1]


def find_text_roles(frame: pd.DataFrame, subject: str, report: InitReport, roles: Roles, taken: set[str],
                    statuses: dict[str, float]) -> None:
    """The id, category, status, address and description columns (`statuses`: column -> share of its values that
    are known status words)."""
    columns = [c for c in source_columns(frame) if c not in taken]
    rows = max(len(frame), 1)
    profile = {c: _profile(frame[c]) for c in columns}
    ids = [c for c in columns if profile[c]["filled"] == 1.0 and profile[c]["unique"] == 1.0 and len(frame) > 1]
    # named like an id: a few repeats are the same record exported twice or updated (the merge counts them)
    hinted_ids = [c for c in columns if (HINTS["source_id"].search(c) or CAMEL_ID.search(c))
                  and profile[c]["filled"] >= 0.99
                  and profile[c]["unique"] >= 0.95 and profile[c]["token"] and len(frame) > 1]
    token_ids = [c for c in ids if profile[c]["token"]]  # unnamed: only codes such as A-2024-0001, not texts
    if hinted_ids or token_ids:
        column = (hinted_ids or token_ids)[0]
        roles.fields["source_id"] = [column]
        repeats = int(frame[column].duplicated().sum())
        report.decide(subject, "source_id", column, (f"named like an id, with {repeats:,} repeated value(s) (the same "
                      "record again: counted as duplicates or updates)" if repeats else
                      f"every one of the {rows:,} rows has its own value"
                      + (" and it is named like an id" if hinted_ids else "")))
        taken.add(column)
    status = max((c for c in columns if c not in taken and statuses.get(c, 0) >= 0.5
                  and profile[c]["distinct"] <= 30), key=lambda c: (statuses[c], bool(HINTS["status"].search(c))),
                 default=None)
    if status is None:
        status = next((c for c in columns if c not in taken and HINTS["status"].search(c)
                       and 1 <= profile[c]["distinct"] <= 30), None)
    if status:
        roles.fields["status"] = [status]
        taken.add(status)
        report.decide(subject, "status", status, f"{profile[status]['distinct']} distinct values, "
                      f"{statuses.get(status, 0):.0%} of them known status words")
    category = _best(columns, taken, profile, "category", lambda p: 1 <= p["distinct"] <= 1000
                     and p["distinct"] <= max(0.2 * rows, 2) and not p["numeric"])
    if category:
        roles.fields["category"] = [category]
        taken.add(category)
        report.decide(subject, "category", category, f"named like a category, {profile[category]['distinct']:,} "
                      "distinct texts")
    for name in ("address", "description"):
        column = _best(columns, taken, profile, name, lambda p: not p["numeric"] and p["filled"] > 0)
        if column:
            roles.fields[name] = [column]
            taken.add(column)
            report.decide(subject, name, column, f"named like it; {profile[column]['distinct']:,} distinct texts")


def _best(columns: list[str], taken: set[str], profile: dict[str, dict[str, float]], role: str, fits) -> str | None:
    hinted = [c for c in columns if c not in taken and HINTS[role].search(c) and fits(profile[c])]
    return hinted[0] if hinted else None


def _profile(values: pd.Series) -> dict[str, float]:
    text = text_values(values)
    given = text[text != ""]
    numeric = bool(len(given)) and pd.to_numeric(given.head(500), errors="coerce").notna().mean() > 0.95
    token = bool(len(given)) and given.str.fullmatch(r"[\w\-/.:#]{1,40}").mean() >= 0.99
    return {"filled": len(given) / max(len(text), 1), "distinct": given.nunique(),
            "unique": given.nunique() / max(len(given), 1), "numeric": numeric, "token": token}
