"""Text encodings of department files: detect UTF-8 (with or without BOM) or GBK/GB18030, and decode strictly."""

from __future__ import annotations

import codecs
from pathlib import Path

from store.errors import UserError

_SAMPLE_BYTES = 4 * 1024 * 1024


def detect_encoding(data: bytes, path: Path) -> str:
    """Return 'utf-8-sig', 'utf-8' or 'gb18030' for the bytes of `path`; raise UserError when none fits."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    _refuse_utf16(data, path)
    sample = _trim_to_line(data[:_SAMPLE_BYTES])
    for candidate in ("utf-8", "gb18030"):
        try:
            sample.decode(candidate)
        except UnicodeDecodeError as exc:
            if candidate == "utf-8" and exc.end == len(sample) and exc.reason == "unexpected end of data":
                return candidate  # valid UTF-8 cut off mid-character: a truncated file, not GBK
            continue
        return candidate
    raise UserError(
        f"{path}: the text is neither UTF-8 nor GBK/GB18030; "
        "set read.encoding in the department's mapping or re-export the file as UTF-8"
    )


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
            "set read.encoding in the mapping to the file's real encoding (utf-8, utf-8-sig, gbk, gb18030)"
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


def looks_garbled(texts: list[str]) -> bool:
    """True when texts look like GBK bytes decoded as Latin-1/CP1252 (mojibake such as 'Ãû³Æ')."""
    suspicious = 0
    for text in texts:
        if not text or text.isascii():
            continue
        high = [c for c in text if ord(c) > 127]
        if high and all(0xA0 <= ord(c) <= 0xFF for c in high):
            suspicious += 1
    return suspicious > 0


def _trim_to_line(sample: bytes) -> bytes:
    """Cut a sample at its last newline so a multi-byte character is never split."""
    if len(sample) < _SAMPLE_BYTES:
        return sample
    cut = sample.rfind(b"\n")
    return sample[:cut] if cut > 0 else sample
