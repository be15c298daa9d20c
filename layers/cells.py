"""The one neutraliser for text cells that leave the system (CSV, XLSX, downloads): no control characters, no formulas.

Order matters: control characters are removed first, then the formula check runs on what is left, so
`"\\x01=2+5"` becomes `"'=2+5"` (checking first and stripping after would hand a spreadsheet a live formula).

- Removed: the C0 control characters an XLSX cell cannot hold (U+0000-U+0008, U+000B, U+000C, U+000E-U+001F),
  the byte-order mark U+FEFF and the XML non-characters U+FFFE / U+FFFF. Tab, line feed and carriage return stay.
  Each export counts what it removed and says so in its notes.
- Prefixed with an apostrophe: text that starts with a tab or a carriage return, or whose first character after
  leading whitespace is `=`, `+`, `-` or `@` (what Excel, LibreOffice and WPS start a formula with).
- Numbers, dates and missing values pass unchanged: only text cells are touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REMOVED_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufeff\ufffe\uffff]")
FORMULA_CHARACTERS = frozenset("=+-@")
LEADING_SPECIALS = ("\t", "\r")
PREFIX = "'"


def neutralise_text(text: str) -> tuple[str, int]:
    """`text` safe for a spreadsheet cell, and how many characters were removed from it."""
    cleaned = REMOVED_CHARACTERS.sub("", text)
    removed = len(text) - len(cleaned)
    if cleaned.startswith(LEADING_SPECIALS) or cleaned.lstrip()[:1] in FORMULA_CHARACTERS:
        cleaned = PREFIX + cleaned
    return cleaned, removed


@dataclass
class CellCleaner:
    """Neutralises cells one by one and counts the characters it removed (for the export's notes)."""

    removed: int = 0

    def __call__(self, value: object) -> object:
        if not isinstance(value, str):
            return value
        cleaned, removed = neutralise_text(value)
        self.removed += removed
        return cleaned

    def notes(self) -> list[str]:
        """A Chinese note for the export when anything was removed, else nothing."""
        if not self.removed:
            return []
        return [f"已移除 {self.removed} 个表格无法容纳的控制字符 / removed {self.removed} control character(s) "
                "that a spreadsheet cell cannot hold"]


def neutralise(value: object) -> object:
    """One cell made safe (text neutralised, other values unchanged); see the module docstring for the rules."""
    return CellCleaner()(value)
