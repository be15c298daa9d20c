"""Text shown to people (map tooltips and popups, the command center feed): bidi controls named, long text cut.

The one rule for every place a person reads a stored text on screen (docs/security.md, "Text shown to people"):

1. **Bidi controls are shown, never obeyed.** Each of Unicode's Bidi_Control characters (U+061C ALM, U+200E LRM,
   U+200F RLM, U+202A-U+202E LRE/RLE/PDF/LRO/RLO, U+2066-U+2069 LRI/RLI/FSI/PDI) is replaced by a visible token
   naming it: U+202E becomes "⟨RLO⟩", U+2066 "⟨LRI⟩". An override can no longer reverse or reorder the text around
   it ("\\u202eexe.txt" shows as "⟨RLO⟩exe.txt", not "txt.exe"), and the reader sees that the source holds one.
   Chosen over the alternatives because:
   - `<bdi>` (or `unicode-bidi: isolate`) only stops the text from reordering its neighbours: the override still
     reverses the text inside it, and it helps only where HTML is rendered (not in plain-text cells or captions);
   - stripping them would silently change what is shown, and U+FFFD says something is wrong but not what.
   Real right-to-left letters (Arabic, Hebrew) need none of these controls and are left alone.
2. **Long text is cut.** A text longer than DISPLAY_LIMIT (200) characters, counted after rule 1, is cut to
   DISPLAY_LIMIT characters ending with a visible "…" (a token is never cut in half), so a 1 MB description keeps
   a popup or a feed row within its size budget.

Display only: the store keeps every value exactly as loaded (the loader never alters it silently), and exports
(layers/export.py, through layers/cells.py) write the whole text. The result is plain text; callers still
HTML-escape it (html.escape) or pass it to a widget that escapes.
"""

from __future__ import annotations

import re

DISPLAY_LIMIT = 200  # characters of a tooltip / popup value or a feed cell
ELLIPSIS = "…"
BIDI_TOKENS: dict[str, str] = {
    "\u061c": "⟨ALM⟩", "\u200e": "⟨LRM⟩", "\u200f": "⟨RLM⟩",
    "\u202a": "⟨LRE⟩", "\u202b": "⟨RLE⟩", "\u202c": "⟨PDF⟩", "\u202d": "⟨LRO⟩", "\u202e": "⟨RLO⟩",
    "\u2066": "⟨LRI⟩", "\u2067": "⟨RLI⟩", "\u2068": "⟨FSI⟩", "\u2069": "⟨PDI⟩",
}  # fmt: skip  (Unicode's Bidi_Control property, all of it)
BIDI_CONTROLS = re.compile("([" + "".join(BIDI_TOKENS) + "])")


def display_text(text: object, limit: int | None = DISPLAY_LIMIT) -> str:
    """`text` as a person may see it: bidi controls as tokens, cut to `limit` characters with "…" (None: uncut)."""
    text = "" if text is None else str(text)
    head = text if limit is None else text[: limit + 1]  # tokens only lengthen: the rest is never shown
    shown = BIDI_CONTROLS.sub(lambda m: BIDI_TOKENS[m.group()], head)
    if limit is None or len(shown) <= limit:
        return shown
    out, room = [], max(limit - len(ELLIPSIS), 0)
    for i, part in enumerate(BIDI_CONTROLS.split(head)):  # odd parts are the controls
        piece = BIDI_TOKENS[part] if i % 2 else part
        if len(piece) > room:
            if not i % 2:
                out.append(piece[:room])
            break
        out.append(piece)
        room -= len(piece)
    return "".join(out) + ELLIPSIS


def has_bidi_controls(text: str) -> bool:
    """Whether `text` holds a character display_text would show as a token."""
    return BIDI_CONTROLS.search(text) is not None


__all__ = ["BIDI_CONTROLS", "BIDI_TOKENS", "DISPLAY_LIMIT", "ELLIPSIS", "display_text", "has_bidi_controls"]
