"""Personal data of the people a record names: masking, and the persons of one event.

Names keep the surname (one character; a two-character compound surname such as 欧阳 or 司马 keeps
two), phones the first 3 and last 4 characters, ID numbers the first 4 and last 4; everything else
becomes "*". Every mask is total: None, empty and short strings are handled, and a mask never shows
more than it allows (a string too short to keep its head and tail shows less, never the whole of it).

`persons_for_event` returns masked rows unless `reveal=True`. Whether a user may reveal
(access.principal.Principal.may_reveal_personal_data) and the audit record of a reveal are the caller's
business: this module neither checks roles nor logs.
"""

from __future__ import annotations

import duckdb
import pandas as pd

MASK = "*"
# Two-character (复姓) surnames; a name starting with one keeps both characters.
COMPOUND_SURNAMES: frozenset[str] = frozenset({
    "欧阳", "司马", "司徒", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "令狐",
    "夏侯", "端木", "独孤", "南宫", "西门", "轩辕", "万俟", "闻人", "赫连", "澹台", "公冶", "宗政", "濮阳",
    "太叔", "申屠", "钟离", "呼延", "百里", "东郭", "第五", "左丘", "公羊", "谷梁", "拓跋", "单于", "淳于",
    "仲孙", "叔孙", "漆雕", "乐正", "壤驷", "公良", "巫马", "子车", "颛孙", "段干", "司空", "司寇", "亓官",
})
ROLE_NAMES: dict[str, str] = {
    "petitioner": "信访人",
    "applicant": "申请人",
    "respondent": "被申请人",
    "caller": "来电人",
    "party": "当事人",
    "reporter": "报告人",
}
PERSON_COLUMNS: tuple[str, ...] = ("role", "role_name", "name", "phone", "id_number", "id_valid")


def _text(value: object) -> str:
    if value is None:
        return ""
    try:
        if pd.isna(value):  # NaN, NA, NaT
            return ""
    except (TypeError, ValueError):
        pass
    return str(value).strip()


def _keep(text: str, head: int, tail: int) -> str:
    """`text` with all but its first `head` and last `tail` characters replaced by MASK."""
    hidden = len(text) - head - tail
    return text[:head] + MASK * hidden + (text[len(text) - tail:] if tail else "")


def mask_name(value: object) -> str:
    """张三丰 -> 张**, 欧阳修 -> 欧阳*, 王五 -> 王*; one character -> *; None/empty -> ""."""
    text = _text(value)
    if len(text) <= 1:
        return MASK * len(text)
    head = 2 if text[:2] in COMPOUND_SURNAMES and len(text) > 2 else 1
    return _keep(text, head, 0)


def mask_phone(value: object) -> str:
    """13812341234 -> 138****1234. At least 4 characters are always hidden: a number shorter than 11
    keeps only its tail (1234567 -> ****567), one of 4 or fewer characters is all masks."""
    text = _text(value)
    head = 3 if len(text) >= 11 else 0
    tail = min(4, max(0, len(text) - head - 4))
    return _keep(text, head, tail)


def mask_id(value: object) -> str:
    """441502199001011234 -> 4415**********1234 (also 15-character numbers). At least 6 characters are
    always hidden: a shorter text keeps only its tail, one of 6 or fewer characters is all masks."""
    text = _text(value)
    if len(text) >= 15:
        return _keep(text, 4, 4)
    return _keep(text, 0, min(4, max(0, len(text) - 6)))


def masked(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a persons frame with name, phone and id_number masked (other columns unchanged)."""
    out = frame.copy()
    for column, mask in (("name", mask_name), ("phone", mask_phone), ("id_number", mask_id)):
        if column in out.columns:
            out[column] = pd.Series([mask(v) if _text(v) else None for v in out[column]], index=out.index,
                                    dtype=object)
    return out


_PERSONS_OF_EVENT = """
    SELECT role, name, phone, id_number, id_valid
    FROM persons WHERE event_id = ?
    ORDER BY seq, role
"""


def persons_for_event(con: duckdb.DuckDBPyConnection, event_id: str, *, reveal: bool) -> pd.DataFrame:
    """The people an event names (role, role_name, name, phone, id_number, id_valid), in mapping order.

    Masked unless `reveal` is True; the caller decides who may reveal and records the reveal in the
    audit log. A store without a persons table (made before personal data was loaded) gives no rows.
    """
    has_table = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'", ["persons"]
    ).fetchone()[0]
    if not has_table:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PERSON_COLUMNS})
    frame = con.execute(_PERSONS_OF_EVENT, [str(event_id)]).df()
    frame.insert(1, "role_name", frame["role"].map(lambda r: ROLE_NAMES.get(r, r)).astype(object))
    frame["id_valid"] = frame["id_valid"].astype("boolean")
    frame = frame[list(PERSON_COLUMNS)]
    return frame if reveal else masked(frame)
