"""A mapping's [read] options for delimited text and workbooks: delimiter, decimal mark, quote, header row, nulls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

AUTO = "auto"
DELIMITER_NAMES: dict[str, str] = {"comma": ",", "semicolon": ";", "tab": "\t", "bar": "|", "pipe": "|"}
SNIFFED_DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
DECIMAL_MARKS: tuple[str, ...] = (".", ",")
SUFFIX_DELIMITERS: dict[str, str] = {"csv": ",", "tsv": "\t"}  # a format's delimiter when none is declared
READ_KEYS: tuple[str, ...] = ("format", "encoding", "sheet", "layer", "delimiter", "decimal", "quote", "header_row",
                              "null_values")


@dataclass(frozen=True)
class ReadOptions:
    """How to split a delimited file or read a sheet; the defaults read a plain CSV/TSV/XLSX as before."""

    delimiter: str | None = None  # None: the format's own (csv ",", tsv tab); "auto": sniffed from the first lines
    decimal: str = "."  # the decimal mark of numbers (coordinates): "." or ","
    quote: str | None = '"'  # the quote character; None: fields are never quoted
    header_row: int = 1  # 1-based line (sheet row) of the header; the lines above it are skipped
    null_values: tuple[str, ...] = ()  # texts that stand for an empty cell in every column, e.g. "NULL", "-"

    def delimiter_for(self, fmt: str) -> str | None:
        """The delimiter to split by (None: sniff it)."""
        if self.delimiter == AUTO:
            return None
        return self.delimiter or SUFFIX_DELIMITERS.get(fmt, ",")


def parse_read_options(read: dict[str, Any], problem: Callable[[str, object, str], None]) -> ReadOptions:
    """The [read] table's splitting options, every wrong value reported through `problem`."""
    delimiter = read.get("delimiter")
    if delimiter is not None:
        delimiter = DELIMITER_NAMES.get(str(delimiter).lower(), delimiter)
        if not isinstance(delimiter, str) or (delimiter != AUTO and len(delimiter) != 1) or delimiter in ('"', "\n"):
            problem("read.delimiter", read.get("delimiter"), 'give one character, e.g. delimiter = ";" (or "tab", '
                    '"comma", "semicolon", "bar"), or "auto" to sniff it from the first lines')
            delimiter = None
    decimal = read.get("decimal", ".")
    if decimal not in DECIMAL_MARKS:
        problem("read.decimal", decimal, 'give the decimal mark of the numbers: "." (22.95) or "," (22,95)')
        decimal = "."
    if decimal == "," and delimiter == ",":
        problem("read.decimal", decimal, 'a file split by commas cannot write decimal commas unquoted; set the '
                'delimiter the file really uses (e.g. delimiter = ";")')
    quote = read.get("quote", '"')
    if not isinstance(quote, str) or len(quote) > 1 or (quote and quote == delimiter):
        problem("read.quote", quote, "give the one quote character (default '\"'), or \"\" when fields are never quoted")
        quote = '"'
    header_row = read.get("header_row", 1)
    if isinstance(header_row, bool) or not isinstance(header_row, int) or not 1 <= header_row <= 1000:
        problem("read.header_row", header_row, "give the line (or sheet row) of the header, counted from 1; the "
                "lines above it (titles, export notes) are skipped")
        header_row = 1
    nulls = read.get("null_values", [])
    if not isinstance(nulls, list) or not all(isinstance(v, str) for v in nulls):
        problem("read.null_values", nulls, 'give a list of texts that mean "no value", e.g. ["NULL", "-", "N/A"]')
        nulls = []
    return ReadOptions(delimiter=delimiter, decimal=decimal, quote=quote or None, header_row=header_row,
                       null_values=tuple(nulls))


def sniff_delimiter(lines: list[str], *, quote: str | None = '"') -> str | None:
    """The delimiter that splits the header and the next lines into the same number (>1) of fields, the most
    fields winning; None when no candidate does."""
    import csv

    scored: list[tuple[int, int, int, str]] = []
    sample = [line for line in lines if line.strip()][:50]
    for rank, candidate in enumerate(SNIFFED_DELIMITERS):
        kwargs: dict[str, Any] = {"delimiter": candidate}
        kwargs.update({"quotechar": quote} if quote else {"quoting": csv.QUOTE_NONE})
        try:
            widths = [len(fields) for fields in csv.reader(sample, **kwargs)]
        except csv.Error:
            continue
        if not widths or widths[0] < 2:
            continue
        agreeing = sum(w == widths[0] for w in widths)
        if agreeing >= max(1, int(0.9 * len(widths))):
            scored.append((agreeing, widths[0], -rank, candidate))
    return max(scored)[3] if scored else None
