"""Text encodings of department files: detect UTF-8 (with or without BOM), GBK/GB18030 or cp1252 by the
plausibility of the decoded script, and decode strictly."""

from __future__ import annotations

import codecs
import unicodedata
from pathlib import Path

from store.errors import UserError

_SAMPLE_BYTES = 4 * 1024 * 1024


def detect_encoding(data: bytes, path: Path) -> str:
    """Return 'utf-8-sig', 'utf-8', 'gb18030' or 'cp1252' for the bytes of `path`; raise UserError when none fits.
    Valid UTF-8 always wins; between GBK and cp1252 the more plausible decoded script wins (Chinese on a tie)."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    _refuse_utf16(data, path)
    sample = _trim_to_line(data[:_SAMPLE_BYTES])
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.end == len(sample) and exc.reason == "unexpected end of data":
            return "utf-8"  # valid UTF-8 cut off mid-character: a truncated file, not GBK
    chosen, _ = plausible_encoding([sample])
    if chosen is not None:
        return chosen
    raise UserError(
        f"{path}: the text is neither UTF-8 nor GBK/GB18030 nor cp1252 (Western European); "
        "set read.encoding in the department's mapping or re-export the file as UTF-8"
    )


# Texts of either script, decoded with each candidate: the higher share of plausible characters wins.
LEGACY_CANDIDATES: tuple[str, ...] = ("gb18030", "cp1252")


def plausible_encoding(samples: list[bytes]) -> tuple[str | None, str]:
    """The codec that makes `samples` (raw bytes of names or lines) read as real text, and why: valid UTF-8 wins;
    otherwise GB18030 and cp1252 are compared by the share of their non-ASCII characters that are common Chinese
    characters (GB2312 level 1, CJK punctuation) or Latin letters inside words. None when no candidate decodes."""
    joined = b"\n".join(samples)
    if joined.isascii():
        return "utf-8", "the text is plain ASCII"
    try:
        joined.decode("utf-8")
        return "utf-8", "the bytes are valid UTF-8"
    except UnicodeDecodeError:
        pass
    scores: dict[str, float] = {}
    for codec in LEGACY_CANDIDATES:
        try:
            text = joined.decode(codec)
        except UnicodeDecodeError:
            continue
        scores[codec] = chinese_share(text) if codec == "gb18030" else latin_share(text)
    if not scores:
        return None, "the bytes are neither UTF-8, GB18030 nor cp1252"
    best = max(scores, key=lambda c: (scores[c], c == "gb18030"))
    shares = ", ".join(f"{c} {s:.0%}" for c, s in scores.items())
    script = "Chinese characters" if best == "gb18030" else "Latin letters inside words"
    return best, f"not valid UTF-8; plausible text read as {script} ({shares} of the non-ASCII characters)"


def chinese_share(text: str) -> float:
    """Share of non-ASCII characters that are common Chinese (GB2312 level 1 hanzi, CJK or full-width punctuation)."""
    high = [c for c in text if ord(c) > 127]
    if not high:
        return 0.0
    return sum(_common_chinese(c) for c in high) / len(high)


def latin_share(text: str) -> float:
    """Share of non-ASCII characters that are Latin letters next to an ASCII letter (é in "café", ç in "Araçá")."""
    high = [i for i, c in enumerate(text) if ord(c) > 127]
    if not high:
        return 0.0
    good = 0
    for i in high:
        char = text[i]
        if not unicodedata.name(char, "").startswith("LATIN"):
            continue
        neighbours = text[max(i - 1, 0):i] + text[i + 1:i + 2]
        good += any(n.isascii() and n.isalpha() for n in neighbours) or any(
            ord(n) > 127 and unicodedata.name(n, "").startswith("LATIN") for n in neighbours if n != char)
    return good / len(high)


def _common_chinese(char: str) -> bool:
    if 0x3000 <= ord(char) <= 0x303F or 0xFF00 <= ord(char) <= 0xFFEF:
        return True
    try:
        encoded = char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(encoded) == 2 and 0xB0 <= encoded[0] <= 0xD7  # level 1: the 3,755 most used hanzi


def decode_text(data: bytes, encoding: str, path: Path) -> str:
    """Decode strictly; a byte that does not fit names its line and the fix."""
    codec = "gb18030" if encoding == "gbk" else encoding
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        _refuse_utf16(data, path)
        line = data[: exc.start].count(b"\n") + 1
        if exc.end == len(data) and exc.reason in ("unexpected end of data", "incomplete multibyte sequence"):
            raise UserError(f"{path}: line {line}: the file ends in the middle of a character, so it is truncated; "
                            "copy or export it again") from None
        raise UserError(
            f"{path}: line {line}: byte {data[exc.start:exc.start + 1]!r} is not valid {encoding}; "
            "set read.encoding in the mapping to the file's real encoding (utf-8, utf-8-sig, gbk, gb18030, cp1252)"
        ) from None


MAGIC_NUMBERS: tuple[tuple[bytes, str], ...] = (
    (b"\x7fELF", "an ELF program"), (b"MZ", "a Windows program"), (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (an XLSX or DOCX file is one: name it .xlsx)"),
    (b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"SQLite format 3\x00", "an SQLite database"),
    (b"\xd0\xcf\x11\xe0", "an old Office file (.xls/.doc: save it as .xlsx or CSV)"),
)


def _refuse_utf16(data: bytes, path: Path) -> None:
    """Refuse UTF-16 (Excel's "Unicode text": a BOM, or NUL in every other byte) and binary files that start with a
    known magic number, naming what the file looks like (a NUL inside a text field is data, not a refusal)."""
    head = data[:512]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _alternate_nuls(head):
        raise UserError(f"{path}: the file is in the UTF-16 encoding (Excel's \"Unicode text\"); "
                        "save or export it as CSV UTF-8 instead")
    kind = next((what for magic, what in MAGIC_NUMBERS if head.startswith(magic)), None)
    if kind is None and len(head) > 8 and head[8:12] == b"DUCK":
        kind = "a DuckDB database"
    if kind is not None:
        raise UserError(f"{path}: this is {kind}, not a text export; point the mapping's path at the department's "
                        "CSV, TSV or JSON file")


def _alternate_nuls(head: bytes) -> bool:
    """UTF-16 text has NUL in many odd (LE) or even (BE) bytes (every ASCII character: digits, tabs, commas) and
    almost none in the others; binary files have NULs in both."""
    if len(head) < 4:
        return False
    even, odd = head[0::2], head[1::2]
    for nuls, others in ((odd, even), (even, odd)):
        if nuls.count(0) >= 0.3 * len(nuls) and others.count(0) <= 0.05 * len(others):
            return True
    return False


def _trim_to_line(sample: bytes) -> bytes:
    """Cut a sample at its last newline so a multi-byte character is never split."""
    if len(sample) < _SAMPLE_BYTES:
        return sample
    cut = sample.rfind(b"\n")
    return sample[:cut] if cut > 0 else sample
