"""Status words (Chinese and English) to the four workflow states, and category texts to drafted category codes."""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

from etl.gridnames import fold_name

STATUS_WORDS: dict[str, tuple[str, ...]] = {
    "closed": ("已办结", "办结", "已结案", "结案", "已完成", "完成", "已关闭", "关闭", "已处理", "已解决", "已结警", "结警",
               "已归档", "归档", "调解成功", "调解不成功", "已化解", "化解", "已处置", "已核查结案", "核查结案", "closed", "close", "resolved", "completed",
               "complete", "done", "finished", "solved", "cleared"),
    "in_progress": ("处理中", "办理中", "在办", "进行中", "处置中", "调解中", "跟进中", "处警中", "inprogress", "started",
                    "processing", "working", "underway", "active", "ongoing", "查处中", "核查中", "办理中"),
    "dispatched": ("已派单", "已派遣", "派遣", "已分派", "已转办", "转办", "已交办", "交办", "已派警", "派警", "已指派", "已立案",
                   "assigned", "dispatched", "referred", "forwarded"),
    "reported": ("已受理", "受理", "已上报", "上报", "待处理", "未处理", "新建", "待受理", "已接警", "接警", "已登记", "待派单",
                 "待派遣", "已发现", "待审核",
                 "open", "new", "pending", "received", "reported", "submitted", "unassigned", "unspecified"),
}
_LOOKUP = {fold_name(word): status for status, words in STATUS_WORDS.items() for word in words}


def status_of(text: str) -> str | None:
    """The workflow state a status text means, or None when it is not a known word."""
    return _LOOKUP.get(fold_name(text))


def status_share(values: pd.Series) -> float:
    """Share of the distinct non-empty texts that are known status words."""
    distinct = pd.Series(values.dropna().astype(str).str.strip().unique())
    distinct = distinct[distinct != ""]
    return float(distinct.map(lambda t: status_of(t) is not None).mean()) if len(distinct) else 0.0


def category_codes(texts: list[str], department: str) -> dict[str, str]:
    """A category code per source text: `<department>_<ascii words>` (Chinese texts: `<department>_<n>`), unique."""
    codes: dict[str, str] = {}
    used: set[str] = set()
    for number, text in enumerate(texts, start=1):
        ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:40]
        code = f"{department}_{slug}" if slug and not slug[0].isdigit() else f"{department}_{number:03d}"
        while code in used:
            code = f"{department}_{number:03d}" if not code.endswith(f"{number:03d}") else code + "_"
        used.add(code)
        codes[text] = code
    return codes
