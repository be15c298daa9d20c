"""Readers per file format: each returns the rows of a department file as a raw DataFrame of source values."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np
import orjson
import pandas as pd

if TYPE_CHECKING:
    import geopandas as gpd
    import pyarrow as pa

from etl.encoding import decode_text, detect_encoding, plausible_encoding
from etl.readoptions import ReadOptions, sniff_delimiter
from store.errors import UserError

X_COLUMN = "__x"  # point coordinates taken from a geometry column, in the file's own CRS
Y_COLUMN = "__y"
ROW_COLUMN = "__row"  # 1-based data row number in the source file
ERROR_COLUMN = "__error"  # a row the reader could not parse (e.g. a malformed JSON line)
_CHECK_BYTES = 1 << 20
# A compressed file (.gz, or a part of an .xlsx) may inflate to this many times its size before it is
# refused as damaged or hostile: real exports compress 5-15-fold, a "zip bomb" a thousandfold.
_MAX_INFLATION = 100
_INFLATION_FLOOR = 32 << 20  # smaller inflated sizes are always fine
_NEWLINE = re.compile(rb"\r\n|\r|\n")
_MAX_XLSX_COLUMNS = 1024  # a header reaching column XFD (16,384) would make every row that wide


@dataclass
class RawTable:
    """What a reader produced: the rows, and facts about the file that the normaliser needs.

    Small formats hold a DataFrame; CSV/TSV keep the compact Arrow table and hand out DataFrames
    chunk by chunk, so a 5M-row file never sits in memory as Python objects all at once.
    """

    table: pd.DataFrame | None = None
    encoding: str | None = None
    crs: str | None = None
    arrow: "pa.Table | None" = None
    row_numbers: np.ndarray | None = None  # data row number of each Arrow row
    errors: pd.DataFrame | None = None  # rows the parser could not split, with their row numbers
    notes: list[str] = field(default_factory=list)  # what the reader had to guess, for the load report
    has_geometry: bool = False  # a vector file whose features have a geometry column (X_COLUMN/Y_COLUMN hold it)

    @property
    def rows(self) -> int:
        """Data rows in the file, unparseable ones included."""
        if self.arrow is None:
            return len(self.table) if self.table is not None else 0
        return self.arrow.num_rows + (len(self.errors) if self.errors is not None else 0)

    @property
    def frame(self) -> pd.DataFrame:
        """All rows as one DataFrame in file order."""
        return pd.concat(list(self.chunks(None)), ignore_index=True) if self.arrow is not None else self.table

    def chunks(self, size: int | None) -> Iterator[pd.DataFrame]:
        """DataFrames of at most `size` rows (None: one frame), unparseable rows in a frame of their own."""
        if self.arrow is None:
            yield self.table
            return
        step = size or max(self.arrow.num_rows, 1)
        for start in range(0, max(self.arrow.num_rows, 1), step):
            frame = self.arrow.slice(start, step).to_pandas()
            frame.insert(0, ROW_COLUMN, self.row_numbers[start:start + len(frame)])
            if size is None and self.errors is not None:
                frame = pd.concat([frame, self.errors]).sort_values(ROW_COLUMN, kind="stable").reset_index(drop=True)
            yield frame
        if size is not None and self.errors is not None:
            yield self.errors.reindex(columns=[ROW_COLUMN, *self.arrow.column_names, ERROR_COLUMN, "__line"])


def format_of(path: Path, declared: str | None) -> str:
    """The format of a file: the mapping's declaration, else the suffix (a trailing .gz ignored)."""
    if declared:
        return declared
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    suffix = suffixes[-1].lstrip(".") if suffixes else ""
    aliases = {"ndjson": "jsonl", "txt": "csv", "tab": "tsv", "xls": "xlsx"}
    return aliases.get(suffix, suffix)


def read_raw(path: Path, *, fmt: str, encoding: str = "auto", sheet: str | None = None,
             layer: str | None = None, options: ReadOptions | None = None) -> RawTable:
    """Read one department file; raise UserError naming the file and the fix when it cannot be read.
    `options` (the mapping's [read] table) say how delimited text and sheets are laid out."""
    options = options or ReadOptions()
    readers = {
        "csv": lambda: _read_delimited(path, _delimiter(path, fmt, options), encoding, options),
        "tsv": lambda: _read_delimited(path, _delimiter(path, fmt, options), encoding, options),
        "jsonl": lambda: _read_json_lines(path),
        "json": lambda: _read_json(path),
        "xlsx": lambda: _read_xlsx(path, sheet, options.header_row),
        "geojson": lambda: _read_geo(path, layer, encoding),
        "gpkg": lambda: _read_geo(path, layer, encoding),
        "shp": lambda: _read_geo(path, layer, encoding),
    }
    if fmt not in readers:
        raise UserError(f"{path}: unknown format '{fmt}'; set read.format in the mapping to one of {', '.join(readers)}")
    if not path.exists():
        raise UserError(f"{path}: file not found; check the path in minqing.toml")
    table = readers[fmt]()
    if table.table is not None and ROW_COLUMN not in table.table.columns:
        table.table.insert(0, ROW_COLUMN, range(1, len(table.table) + 1))
    if options.null_values and table.table is not None:
        table.table = _blank_nulls(table.table, options.null_values)
    return table


def _delimiter(path: Path, fmt: str, options: ReadOptions) -> str | None:
    """The declared delimiter, else the format's; None (sniff) for "auto" and for a .txt file, whose suffix says
    nothing about it."""
    plain = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    if options.delimiter is None and Path(plain).suffix.lower() == ".txt":
        return None
    return options.delimiter_for(fmt)


def _blank_nulls(frame: pd.DataFrame, nulls: tuple[str, ...]) -> pd.DataFrame:
    """Cells whose trimmed text is one of `nulls` become empty (None); numbers and dates are left as they are."""
    wanted = set(nulls)
    for column in frame.columns:
        if str(column).startswith("__") or frame[column].dtype != object:
            continue
        hit = frame[column].map(lambda v: isinstance(v, str) and v.strip() in wanted)
        if hit.any():
            frame.loc[hit, column] = None
    return frame


def _open_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix.lower() != ".gz":
        return data
    compressed = io.BytesIO(data)
    inflated = bytearray()
    try:
        with gzip.GzipFile(fileobj=compressed) as stream:
            while block := stream.read(8 << 20):
                inflated += block
                # compared with the compressed bytes read so far, so a bomb stops early whatever its size
                if len(inflated) > _INFLATION_FLOOR and len(inflated) > _MAX_INFLATION * compressed.tell():
                    raise UserError(f"{path}: inflates over {_MAX_INFLATION} times ({compressed.tell():,} bytes to "
                                    f"more than {len(inflated):,}); a damaged or hostile archive. "
                                    "Re-compress the original export")
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{path}: not a readable gzip file ({exc}); re-export or re-compress it") from None
    return bytes(inflated)


def open_bytes(path: Path) -> bytes:
    """The bytes of a file, a .gz unwrapped (a damaged archive, or one that inflates like a bomb, refused)."""
    return _open_bytes(path)


def _read_delimited(path: Path, sep: str | None, encoding: str, options: ReadOptions = ReadOptions()) -> RawTable:
    """CSV/TSV with pyarrow's multi-threaded parser, every column as text; ragged rows become row errors.
    `sep` None: sniffed from the first lines; options give the quote, the header row and the null texts."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    data = _open_bytes(path)
    chosen = detect_encoding(data, path) if encoding == "auto" else encoding
    if chosen not in ("utf-8", "utf-8-sig"):
        data = decode_text(data, chosen, path).encode("utf-8")
    else:
        head = data if len(data) <= _CHECK_BYTES else data[: max(data.rfind(b"\n", 0, _CHECK_BYTES), 1)]
        decode_text(head, "utf-8-sig", path)  # a clear message for a mislabelled file
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    notes: list[str] = []
    if options.header_row > 1:
        data = _skip_lines(data, options.header_row - 1, path)
    head_lines = _NEWLINE.split(data[:_CHECK_BYTES], maxsplit=50)[:50]
    first_line = head_lines[0].decode("utf-8", errors="replace").strip() if head_lines else ""
    if not first_line:
        raise UserError(f"{path}: the file is empty or starts with a blank line; export it again with a header row")
    if sep is None:
        sniffed = sniff_delimiter([line.decode("utf-8", errors="replace") for line in head_lines[:-1] or head_lines],
                                  quote=options.quote)
        sep = sniffed or ","
        shown = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}[sep]
        notes.append(f"{path.name}: delimiter sniffed as {shown} ({sep!r})" if sniffed else
                     f"{path.name}: no delimiter splits the first lines evenly; read as comma-separated")
    quote_kwargs = {"quotechar": options.quote} if options.quote else {"quoting": csv.QUOTE_NONE}
    try:
        names = next(csv.reader([first_line], delimiter=sep, **quote_kwargs))
    except (csv.Error, StopIteration) as exc:
        raise UserError(f"{path}: cannot read the header row ({exc}); export it again with one header line") from None
    names = [n.strip() or f"column_{i + 1}" for i, n in enumerate(names)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UserError(f"{path}: the header repeats column(s) {', '.join(repeated)}; rename them so each is unique")
    ragged: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        ragged.append(row.text)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(delimiter=sep, invalid_row_handler=on_invalid,
                                             newlines_in_values=bool(options.quote),
                                             quote_char=options.quote or False),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        raise UserError(f"{path}: cannot split into columns ({exc}); check the delimiter and quoting") from None
    if options.quote == '"' and data.count(b'"') % 2:
        _check_unclosed_quote(table, ragged, data, path)
    if options.null_values:
        nulls = pa.array(sorted(set(options.null_values)), pa.string())
        table = pa.table({name: pc.if_else(pc.is_in(pc.utf8_trim(column, " \t"), value_set=nulls), "", column)
                          for name, column in zip(table.column_names, table.columns)})
    numbers = np.arange(1, table.num_rows + 1)
    errors = None
    if ragged:
        numbers, errors = _ragged_rows(table.num_rows, ragged, data, len(names))
    return RawTable(arrow=table, row_numbers=numbers, errors=errors, encoding=chosen, notes=notes)


def _skip_lines(data: bytes, count: int, path: Path) -> bytes:
    """The bytes after the first `count` lines (titles above the header row)."""
    parts = _NEWLINE.split(data, maxsplit=count)
    if len(parts) <= count:
        raise UserError(f"{path}: read.header_row is {count + 1} but the file has only {len(parts)} line(s); "
                        "give the line the header is on")
    return parts[count]


def _check_unclosed_quote(table: "pa.Table", ragged: list[str], data: bytes, path: Path) -> None:
    """A quoted field that never closes swallows the rest of the file into one value: refuse it, naming its line.

    Called only when the file has an odd number of double quotes; it then looks for a last record that
    spans several lines and runs to the end of the file.
    """
    tails = []
    if ragged:
        tails.append(ragged[-1].rstrip("\r\n"))
    if table.num_rows:
        row = table.slice(table.num_rows - 1).to_pylist()[0]
        tails.extend(v for v in row.values() if v)
    end = data.rstrip(b"\r\n")
    for tail in tails:
        raw = tail.rstrip("\r\n").encode("utf-8")
        if ("\n" in tail or "\r" in tail) and raw and end.endswith(raw):
            line = data.count(b"\n", 0, len(end) - len(raw)) + 1
            raise UserError(f"{path}: line {line}: a quoted field opens with \" and never closes, so the rest of the "
                            "file would be read as one value; fix the quoting (a quote inside a value is written \"\")")


def _ragged_rows(parsed: int, ragged: list[str], data: bytes, width: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Row numbers of the parsed rows, and the rows with the wrong number of fields as errors."""
    positions = []
    start = 0
    line, counted = 0, 0  # newlines counted so far, up to byte `counted` (counting from 0 each time is quadratic)
    for text in ragged:
        at = data.find(text.encode("utf-8"), start)
        if at >= 0:  # line breaks are \n, \r\n or a lone \r, as pyarrow splits them
            line += data.count(b"\n", counted, at) + data.count(b"\r", counted, at) - data.count(b"\r\n", counted, at)
            counted = at
        positions.append(line if at >= 0 else 0)  # line index = data row number
        start = at + 1 if at >= 0 else start
    taken = set(positions)
    numbers = np.array([n for n in range(1, parsed + len(ragged) + 1) if n not in taken][:parsed])
    errors = pd.DataFrame({
        ROW_COLUMN: positions,
        ERROR_COLUMN: [f"the row has {len(next(csv.reader([t])))} fields but the header has {width}" for t in ragged],
        "__line": [t[:2000] for t in ragged],
    })
    return numbers, errors


def _read_json_lines(path: Path) -> RawTable:
    text = decode_text(_open_bytes(path), "utf-8-sig", path)
    long_digits = _has_long_digits(text)
    records: list[dict[str, object]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        value = _json_line(line, long_digits=long_digits)
        value[ROW_COLUMN] = number
        records.append(value)
    return RawTable(table=pd.DataFrame.from_records(records) if records else pd.DataFrame())


# Integers of 19 digits or more: orjson gives a float for those beyond 64 bits where Python's json gives an int.
_LONG_DIGITS = re.compile(r"[0-9]{19}")
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0000000000")


def _has_long_digits(text: str) -> bool:
    """Whether the text holds a run of 19 digits anywhere (one pass in C, not a regular expression per line)."""
    return b"0" * 19 in text.encode("utf-8", "surrogatepass").translate(_DIGITS_AS_ZERO)


def _json_line(line: str, *, long_digits: bool = True) -> dict[str, object]:
    """One JSON Lines line as a dict, or a row error (ERROR_COLUMN, __line). orjson parses the plain lines (2-3 times
    quicker); every line it refuses or might read otherwise (NaN, huge numbers, deep nesting, surrogate escapes) goes
    through Python's json, so the values and the messages are json's. `long_digits` False: the file has no run of
    19 digits, so no line needs looking for one."""
    if not (long_digits and _LONG_DIGITS.search(line)):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
        else:
            if isinstance(value, dict):
                return value
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return {ERROR_COLUMN: f"malformed JSON ({exc.msg} at column {exc.colno})", "__line": line[:2000]}
    except (RecursionError, ValueError) as exc:  # nested too deeply; an integer of thousands of digits
        return {ERROR_COLUMN: f"unreadable JSON ({_json_problem(exc)})", "__line": line[:2000]}
    if not isinstance(value, dict):
        return {ERROR_COLUMN: "a JSON line must be an object", "__line": line[:2000]}
    if "\\u" in line and (surrogate := _lone_surrogate(line)) is not None:
        return {ERROR_COLUMN: f"the text escape {surrogate} is half of a UTF-16 pair, not a character; export the "
                              "line again as UTF-8", "__line": line[:2000]}
    return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _lone_surrogate(line: str) -> str | None:
    """The first \\uD800-\\uDFFF escape of a JSON line that is not half of a high + low pair (such a value cannot be
    stored as text), or None."""
    escapes = list(_SURROGATE_ESCAPE.finditer(line))
    i = 0
    while i < len(escapes):
        code = int(escapes[i].group()[2:], 16)
        after = escapes[i + 1] if i + 1 < len(escapes) else None
        # an escaped backslash before the escape ("\\\\ud800") makes it plain text, not an escape
        if (len(line[:escapes[i].start()]) - len(line[:escapes[i].start()].rstrip("\\"))) % 2:
            i += 1
            continue
        if code < 0xDC00 and after is not None and after.start() == escapes[i].end() and int(after.group()[2:], 16) >= 0xDC00:
            i += 2  # a high surrogate followed by a low one: one character
            continue
        return escapes[i].group()
    return None


def _read_json(path: Path) -> RawTable:
    text = decode_text(_open_bytes(path), "utf-8-sig", path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except (RecursionError, ValueError) as exc:
        raise UserError(f"{path}: unreadable JSON ({_json_problem(exc)}); export it again") from None
    if isinstance(value, dict) and value.get("type") == "FeatureCollection":
        return _read_geo(path, None, "utf-8")
    if isinstance(value, dict):
        value = next((v for v in value.values() if isinstance(v, list)), None)
    if not isinstance(value, list):
        raise UserError(f"{path}: expected a JSON array of objects (or an object holding one)")
    records = [v if isinstance(v, dict) else {ERROR_COLUMN: "an item of the JSON array must be an object",
                                              "__line": json.dumps(v, ensure_ascii=False)[:2000]} for v in value]
    return RawTable(table=pd.DataFrame.from_records(records) if records else pd.DataFrame())


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "arrays or objects nested too deeply"
    return str(exc).split(";")[0]


def _read_xlsx(path: Path, sheet: str | None, header_row: int = 1) -> RawTable:
    import openpyxl

    content = io.BytesIO(_open_bytes(path))
    _check_inflation(content, path)
    try:
        book = openpyxl.load_workbook(content, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise UserError(f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc}); re-save it from Excel as .xlsx") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise UserError(f"{path}: no sheet named '{sheet}'; the workbook has {', '.join(book.sheetnames)}")
        rows = book[sheet] if sheet else book.worksheets[0]
        if hasattr(rows, "reset_dimensions"):
            rows.reset_dimensions()  # a declared size (up to XFD1048576) would be padded out cell by cell
        header = list(next(rows.iter_rows(min_row=header_row, max_row=header_row, values_only=True), ()))
        while header and (header[-1] is None or str(header[-1]).strip() == ""):
            header.pop()
        if not header:
            raise UserError(f"{path}: row {header_row} of the sheet is empty; put the header row there, or set "
                            "read.header_row to the row the header is on" if header_row > 1 else
                            f"{path}: the first row of the sheet is empty; put the header row in row 1")
        if len(header) > _MAX_XLSX_COLUMNS:
            raise UserError(f"{path}: the header row reaches column {len(header):,}; a department export has at most "
                            f"{_MAX_XLSX_COLUMNS:,}. Delete the stray cells right of the data and save it again")
        names = [(str(h).strip() if h is not None else "") or f"column_{i + 1}" for i, h in enumerate(header)]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise UserError(f"{path}: the header repeats column(s) {', '.join(repeated)}; rename them so each is unique")
        # Cells right of the header have no column name and are not read: a row is never wider than the header.
        data = []
        blank = None
        for values in rows.iter_rows(min_row=header_row + 1, max_col=len(names), values_only=True):
            if values is blank:
                continue  # openpyxl hands out one shared tuple for every row the sheet skips (up to a million)
            if values.count(None) + values.count("") == len(values):
                blank = values
                continue
            data.append(list(values))
    finally:
        book.close()
    frame = pd.DataFrame(data, columns=names, dtype=object) if data else pd.DataFrame(columns=names)
    return RawTable(table=frame)


def _check_inflation(content: io.BytesIO, path: Path) -> None:
    """Refuse a workbook whose parts inflate far beyond any real export (a "zip bomb"), before reading them."""
    try:
        with zipfile.ZipFile(content) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a zip at all: openpyxl's own error names the problem
    finally:
        content.seek(0)
    for part in parts:
        if part.file_size > _INFLATION_FLOOR and part.file_size > _MAX_INFLATION * max(part.compress_size, 1):
            raise UserError(f"{path}: its part {part.filename} inflates from {part.compress_size:,} to "
                            f"{part.file_size:,} bytes, over {_MAX_INFLATION} times; a damaged or hostile workbook. "
                            "Open and re-save it in Excel, or export CSV")


def read_geo_frame(path: Path, *, layer: str | None = None, encoding: str = "auto",
                   require_geometry: bool = True) -> tuple["gpd.GeoDataFrame", str | None]:
    """Read a vector file with GDAL; with encoding auto, garbled GBK text (no .cpg) is detected and re-read.

    Returns the frame and a note when the encoding had to be guessed, so the caller can report it. A file (or
    layer) of attributes only is a UserError, unless `require_geometry` is false: then it is a plain DataFrame.
    """
    import pyogrio

    if path.suffix.lower() == ".shp":
        present = {p.name.lower() for p in path.parent.glob(f"{glob_escape(path.stem)}.*")}
        missing = [f".{part}" for part in ("shx", "dbf") if f"{path.stem}.{part}".lower() not in present]
        if missing:
            raise UserError(f"{path}: the Shapefile's {' and '.join(missing)} part is missing next to it; "
                            "copy all its files (.shp, .shx, .dbf, .prj, .cpg) together")

    def read(codec: str | None) -> "gpd.GeoDataFrame":
        kwargs: dict[str, object] = {"layer": layer} if layer else {}
        if codec:
            kwargs["encoding"] = codec
        try:
            return pyogrio.read_dataframe(path, **kwargs)
        except Exception as exc:  # pyogrio wraps GDAL errors in several types
            raise UserError(f"{path}: GDAL cannot read it ({exc}); check that the file (and its .shx/.dbf) is complete") from None

    def checked(frame: "pd.DataFrame") -> "gpd.GeoDataFrame":
        if require_geometry and not has_geometry(frame):
            raise UserError(no_geometry_message(path, frame, layer))
        return frame

    if encoding not in ("auto", None):
        return checked(read("gb18030" if encoding == "gbk" else encoding)), None
    gdf = checked(read(None))
    attributes = gdf.drop(columns=gdf.geometry.name) if has_geometry(gdf) else gdf
    texts = [str(c) for c in gdf.columns] + [v for v in attributes.head(200).to_numpy().ravel() if isinstance(v, str)]
    codec, why = _undeclared_text_encoding(path, texts)
    if codec is None:
        return gdf, None
    if codec == "gb18030":
        note = (f"{path.name}: attributes looked garbled (GBK text without a .cpg file); read as GBK ({why}). "
                "Set the encoding to \"gbk\" to make this explicit")
    else:
        note = (f"{path.name}: no .cpg file or code page; text read as {codec} ({why}). Set the encoding to "
                f"\"{codec}\" to make this explicit")
    return checked(read(codec)), note


def _undeclared_text_encoding(path: Path, texts: list[str]) -> tuple[str | None, str]:
    """The encoding to re-read a vector file's text with, and why; None when GDAL's reading stands: the file
    declares its encoding (a .cpg, a DBF code page, GeoPackage's UTF-8), or its text is plain ASCII or valid."""
    suffix = path.suffix.lower()
    if suffix in (".shp", ".dbf"):
        if _declared_code_page(path):
            return None, "declared"
        try:  # GDAL read undeclared DBF text as ISO-8859-1: encoding it back gives the file's bytes
            raw = [t.encode("latin-1") for t in texts]
        except UnicodeEncodeError:
            return None, "GDAL decoded the text itself"
        codec, why = plausible_encoding(raw)
        if codec is None or codec == "utf-8" and all(r.isascii() for r in raw):
            return None, why
        return ("cp1252" if codec == "cp1252" else codec), why
    if suffix in (".geojson", ".json"):
        data = path.read_bytes()
        try:
            data.decode("utf-8")
            return None, "valid UTF-8"
        except UnicodeDecodeError:
            codec, why = plausible_encoding([data[:1 << 20]])
            return codec, why
    return None, "the format's own encoding (UTF-8)"


def _declared_code_page(path: Path) -> bool:
    """Whether a Shapefile says its text encoding: a .cpg file beside it, or a language-driver byte in its .dbf."""
    parts = {p.suffix.lower(): p for p in path.parent.glob(f"{glob_escape(path.stem)}.*")}
    if ".cpg" in parts:
        return True
    dbf = parts.get(".dbf")
    if dbf is None:
        return False
    with dbf.open("rb") as handle:
        head = handle.read(32)
    return len(head) > 29 and head[29] != 0


def has_geometry(frame: "pd.DataFrame") -> bool:
    """Whether a frame GDAL read has a geometry column (an attribute-only table or .dbf has none)."""
    import geopandas as gpd

    return isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame.columns


def no_geometry_message(path: Path, frame: "pd.DataFrame", layer: str | None) -> str:
    """What to tell the user about a vector file without geometry: the file, its columns, the fix."""
    where = f"layer '{layer}' of {path}" if layer else str(path)
    columns = ", ".join(map(str, list(frame.columns)[:12])) or "no columns"
    return (f"{where}: has no geometry, only attribute columns ({columns}); export the layer again with its "
            "points or polygons (GeoJSON, GeoPackage or a complete Shapefile: .shp, .shx, .dbf, .prj)")


def _read_geo(path: Path, layer: str | None, encoding: str) -> RawTable:
    import shapely

    gdf, note = read_geo_frame(path, layer=layer, encoding=encoding, require_geometry=False)
    notes = [note] if note else []
    if not has_geometry(gdf):  # attributes only: lon/lat columns may still locate the rows (checked against the mapping)
        return RawTable(table=pd.DataFrame(gdf), notes=notes)
    crs = gdf.crs.to_string() if gdf.crs is not None else None
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    geometry = gdf.geometry.values
    frame[X_COLUMN] = shapely.get_x(geometry)  # NaN for a missing or non-point geometry
    frame[Y_COLUMN] = shapely.get_y(geometry)
    return RawTable(table=frame, crs=crs, notes=notes, has_geometry=True)
