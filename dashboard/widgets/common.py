"""What several pages share: the "—" mark and value texts, markdown-plain text, the pager, and the audited reveal.

Value texts for people to read (`cell_text`) follow layers/display_text.py: bidi controls shown as tokens, long
text cut with "…"; `raw_text` is the whole value, for comparing.

The audited reveal is the one way a page shows personal data unmasked: `audited_reveal` writes the audit entry
first and answers True only when the entry was written (no entry, no data); the page then asks the store for
the unmasked rows. It draws nothing but its button and, when the log cannot be written, an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from dashboard.frame import PageContext
from layers.display_text import display_text

MISSING = "—"  # a value that is not known: a table cell, a metric, a profile field
NO_PATROL_DATA = "未加载网格人员与巡查走访数据"  # a store loaded without a roster and check-ins
MARKDOWN_SPECIALS = "\\`*_{}[]()<>#+-.!|~$:"  # ":" too: Streamlit's :material/…: icons and :red[…] colours
REVEAL_HELP = "每次查看都会记入审计日志"


# --------------------------------------------------------------------------- value texts


def is_missing(value: object) -> bool:
    """None, NaN, NaT or pd.NA (a text is never missing, an empty one neither)."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def raw_text(value: object) -> str:
    """The value as text, "" when missing (whole and unchanged: for comparing, not for showing)."""
    return "" if is_missing(value) else str(value)


def cell_text(value: object) -> str:
    """The value as a person may read it in a table cell, "" when missing: layers.display_text's rule (bidi controls
    shown as tokens such as ⟨RLO⟩, cut at 200 characters with "…"); escape it where it goes into HTML."""
    return display_text(raw_text(value))


def count_text(value: object) -> str:
    """A count with thousands separators: 1,234; MISSING when missing."""
    return MISSING if is_missing(value) else f"{int(value):,}"  # type: ignore[call-overload]


def rate_text(value: object) -> str:
    """A share as a percentage with one decimal: 0.1234 → 12.3%; MISSING when missing."""
    return MISSING if is_missing(value) else f"{float(value):.1%}"  # type: ignore[arg-type]


def plain(text: object) -> str:
    """Text shown as is inside Streamlit markdown (labels, captions): markdown and HTML characters escaped."""
    return "".join("\\" + ch if ch in MARKDOWN_SPECIALS else ch for ch in str(text))


# --------------------------------------------------------------------------- the pager


@dataclass(frozen=True)
class Pager:
    """上一页 / 页码 / 下一页 under one key prefix: the page number in `{prefix}_page` (the number input's key),
    the buttons `{prefix}_prev` and `{prefix}_next`."""

    prefix: str
    unit: str  # what the rows are counted in: 件 (events), 次 (check-ins)
    label: str = "页码"

    @property
    def key(self) -> str:
        """The session-state key of the page number."""
        return f"{self.prefix}_page"

    def page(self) -> int:
        """The page asked for: 1 when none yet."""
        return max(1, int(st.session_state.get(self.key, 1)))

    def first(self) -> None:
        """Back to page 1 (a callback: a new filter, another grid)."""
        st.session_state[self.key] = 1

    def step(self, delta: int) -> None:
        """`delta` pages on (a button's callback), never before page 1."""
        st.session_state[self.key] = max(1, int(st.session_state.get(self.key, 1)) + delta)

    def draw(self, page: int, pages: int, page_size: int) -> None:
        """The pager under the table; `page` (the one shown, clamped by the query) is kept as the number first."""
        st.session_state[self.key] = page  # before the number input is drawn
        back, number, forward, position = st.columns([1, 1, 1, 3], vertical_alignment="bottom")
        back.button("上一页", key=f"{self.prefix}_prev", on_click=self.step, args=(-1,), disabled=page <= 1)
        number.number_input(self.label, min_value=1, max_value=pages, step=1, key=self.key)
        forward.button("下一页", key=f"{self.prefix}_next", on_click=self.step, args=(1,), disabled=page >= pages)
        position.caption(f"第 {page} / {pages} 页，每页 {page_size} {self.unit}")


# --------------------------------------------------------------------------- the audited reveal


@dataclass(frozen=True)
class Reveal:
    """One kind of audited reveal: its button, what it shows (named in the errors), the audit entry's detail, and
    the session-state key remembering the (username, target) whose reveal was recorded in this session."""

    button: str  # 显示完整信息, 显示联系电话
    button_key: str
    state_key: str
    shows: str  # 完整信息, 联系电话
    detail: Mapping[str, str] = field(default_factory=dict)


def audited_reveal(ctx: PageContext, target: str, reveal: Reveal, *, allowed: bool) -> bool:
    """Whether `target`'s data may be shown unmasked: only for an `allowed` user, and only once a reveal of
    `target` by this user was written to the audit log (by a click on the button now, or earlier this session).

    The entry is written before anything is revealed; when it cannot be written (no log, or any error) an error
    is shown and the answer is False, so the data stays masked."""
    if not allowed:
        return False
    if st.session_state.get(reveal.state_key) == (ctx.principal.username, target):
        return True
    if not st.button(reveal.button, key=reveal.button_key, help=REVEAL_HELP):
        return False
    if ctx.audit is None:
        st.error(f"审计日志不可用，不能显示{reveal.shows}。")
        return False
    try:
        ctx.audit.record(ctx.principal, "reveal", target=target, detail=dict(reveal.detail))
    except Exception as exc:  # AuditError, or anything else: no record, no reveal
        st.error(f"无法写入审计日志，不能显示{reveal.shows}：{exc}")
        return False
    st.session_state[reveal.state_key] = (ctx.principal.username, target)
    return True
