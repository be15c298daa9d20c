"""User-facing errors: each names the file, the key or row, the value and the fix."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One problem in a user's file: where it is, what was found, what would fix it."""

    file: str
    key: str
    value: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        found = f" = {self.value}" if self.value else ""
        return f"{where}{found}: {self.fix}"


class UserError(Exception):
    """A mistake in the user's input or command; shown without a traceback."""


class ConfigError(UserError):
    """Every problem found in a config or mapping file, reported at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) found:\n{lines}")


def read_toml(path: Path, *, missing: str) -> dict[str, Any]:
    """Parse a UTF-8 TOML file; a missing or malformed file is a ConfigError saying `missing` or what is wrong."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "", "", missing)]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(str(path), "", "", f"not valid UTF-8 TOML: {exc}")]) from None
