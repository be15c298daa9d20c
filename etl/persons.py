"""People named in a record (petitioners, parties, callers): pure helpers to clean and validate their data.

Resident identity card numbers follow GB 11643-1999: 6 digits of the issuing county, the birth date
(YYYYMMDD), a 3-digit sequence (odd for men, even for women) and a check character computed from the
first 17 digits (ISO 7064 MOD 11-2; 10 is written X). Nothing here masks or prints personal data; see
layers/personal.py for masking.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # 2^(17-i) mod 11
ID_CHECK_CHARS = "10X98765432"  # check character for (sum of weighted digits) mod 11 = 0..10
MOBILE_PREFIXES: frozenset[str] = frozenset(
    [f"13{d}" for d in range(10)]
    + ["145", "147", "149", "150", "151", "152", "153", "155", "156", "157", "158", "159"]
    + ["162", "165", "166", "167"]
    + ["170", "171", "172", "173", "175", "176", "177", "178"]
    + [f"18{d}" for d in range(10)]
    + ["190", "191", "192", "193", "195", "196", "197", "198", "199"]
)
EARLIEST_BIRTH = dt.date(1800, 1, 1)  # the century digits of GB 11643 start at 18
_ID_SHAPE = re.compile(r"[1-9]\d{16}[\dX]")
_SPACES = re.compile(r"\s+")


def id_check_char(first17: str) -> str:
    """The GB 11643 check character of the first 17 digits of an ID number; ValueError unless 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"the first 17 characters of an ID number must be 17 digits, got {len(first17)} characters")
    total = sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS))
    return ID_CHECK_CHARS[total % 11]


def clean_id(value: object) -> str:
    """An ID number as text: full-width characters folded (NFKC), spaces removed, a lower-case x made X."""
    if value is None:
        return ""
    text = unicodedata.normalize("NFKC", str(value))
    return _SPACES.sub("", text).upper()


def id_birth_date(number: str) -> dt.date | None:
    """The birth date written in an 18-character ID number (None when it is no real date)."""
    if len(number) != 18 or not number[6:14].isascii() or not number[6:14].isdigit():
        return None
    try:
        return dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def is_valid_id(value: object, *, today: dt.date | None = None) -> bool:
    """True for a well-formed 18-character ID number: digits (last may be X), a real birth date between
    1800 and `today`, and the right check character. 15-digit numbers (before 1999) count as invalid."""
    number = clean_id(value)
    if not _ID_SHAPE.fullmatch(number):
        return False
    born = id_birth_date(number)
    if born is None or not EARLIEST_BIRTH <= born <= (today or dt.date.today()):
        return False
    return id_check_char(number[:17]) == number[17]


def clean_phone(value: object) -> str:
    """A phone number as text: full-width characters folded (NFKC), surrounding spaces removed."""
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def is_mobile(value: object) -> bool:
    """True for an 11-digit mainland mobile number with an issued prefix (13x, 15x, 18x, 19x, ...)."""
    digits = _SPACES.sub("", clean_phone(value)).replace("-", "")
    if digits.startswith("+86"):
        digits = digits[3:]
    return len(digits) == 11 and digits.isascii() and digits.isdigit() and digits[:3] in MOBILE_PREFIXES
