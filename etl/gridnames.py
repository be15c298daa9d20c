"""Grid names as rows write them: matched after folding case, accents, punctuation and spaces, with aliases."""

from __future__ import annotations

import unicodedata

import pandas as pd

LEVEL_ORDER: tuple[str, ...] = ("small", "medium", "large")


def fold_name(text: str) -> str:
    """A name reduced to what identifies it: compatibility forms unified (full-width to ASCII), accents dropped,
    case folded, and only letters and digits kept ("São  Paulo-Sul" and "SAO PAULO SUL" fold alike)."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", str(text)))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return "".join(c for c in text.casefold() if c.isalnum())


class GridNames:
    """Every grid's folded name, per level, to find the grid a row's name (or alias) means."""

    def __init__(self, names: dict[str, str], levels: dict[str, str]) -> None:
        self.codes: dict[str, str] = {}  # folded code -> code (an alias may name a code)
        self.by_level: dict[str, dict[str, list[str]]] = {level: {} for level in LEVEL_ORDER}
        for code, name in names.items():
            level = levels.get(code)
            if level not in self.by_level:
                continue
            self.codes[fold_name(code)] = code
            self.by_level[level].setdefault(fold_name(name), []).append(code)

    def find(self, text: str, aliases: dict[str, str], level: str | None) -> tuple[str | None, str]:
        """The code a text names (None when no grid, or several, have that name) and why."""
        aliased = text in aliases or text.strip() in aliases
        target = aliases.get(text, aliases.get(text.strip(), text))
        folded = fold_name(target)
        if not folded:
            return None, "empty"
        levels = [level] if level else list(LEVEL_ORDER)
        for candidate in levels:
            codes = self.by_level[candidate].get(folded, [])
            if len(codes) == 1:
                return codes[0], candidate
            if len(codes) > 1:
                return None, f"ambiguous: {len(codes)} {candidate} grids are named so ({', '.join(codes[:3])})"
        if aliased and folded in self.codes:  # an alias may give the code itself
            return self.codes[folded], "code"
        return None, "unknown"

    def resolve(self, texts: pd.Series, aliases: dict[str, str], level: str | None) -> tuple[pd.Series, pd.Series]:
        """Per text: the grid code it names (None when none) and the reason when none, each distinct text once."""
        found = {text: self.find(text, aliases, level) for text in texts.unique()}
        codes = texts.map(lambda t: found[t][0])
        why = texts.map(lambda t: None if found[t][0] is not None else found[t][1])
        return codes, why
