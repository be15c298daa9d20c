"""Writers of the seven departments' exports: one function per department, each in its own format.

Every writer gets the rows in file order (`ExportRows`, built by minqing.demo.events) and writes
them the way that department's system exports them: encodings, headers, time formats, coordinate
systems. Bad rows arrive marked with their kind; the writer renders the kinds that depend on the
format (missing, unparseable or impossible report times, non-numeric coordinates). Everything is
vectorised (numpy StringDType) except the XLSX rows, which openpyxl writes one by one in
write-only mode. Output is byte-for-byte deterministic (XLSX zip entries get fixed timestamps,
the GeoPackage a fixed OGR_CURRENT_DATE).
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from etl.coords import gcj02_to_bd09, wgs84_to_gcj02
from minqing.demo import rowkinds as kinds

_S = np.dtypes.StringDType()
MISSING = kinds.MISSING
FIXED_STAMP = (2026, 1, 1, 0, 0, 0)  # zip entry times and document dates of the written files
FIXED_ISO = "2026-01-01T00:00:00Z"
_CHUNK = 200_000


@dataclass(frozen=True)
class People:
    """The person of one role on each row (text arrays in file order; "" where the export leaves it empty)."""

    name: np.ndarray
    phone: np.ndarray
    id_number: np.ndarray


@dataclass(frozen=True)
class ExportRows:
    """One department's rows in file order; repeated rows appear twice with the same row_key."""

    dept: str
    source_id: np.ndarray  # "" for a bad row without id
    category: np.ndarray  # the department's own text
    code: np.ndarray  # canonical code of the intended category (object)
    status: np.ndarray  # the department's own text
    reported: np.ndarray  # int64 seconds, naive local time; MISSING when none
    dispatched: np.ndarray
    closed: np.ndarray
    due: np.ndarray
    bad: np.ndarray  # 0 valid, else a rowkinds.BAD_* kind
    lon: np.ndarray  # WGS84
    lat: np.ndarray
    grid_code: np.ndarray  # small-grid code ("" when none or address only)
    town: np.ndarray  # names of the row's town and village ("" outside the city)
    village: np.ndarray
    grid_index: np.ndarray  # index of the small grid, -1 outside
    link_dept: np.ndarray  # department of the earlier report this one names ("" when none)
    link_id: np.ndarray  # its source id
    unparseable_time: np.ndarray  # text used when bad == BAD_UNPARSEABLE_TIME
    impossible_date: np.ndarray  # (n, 6) Y M D h m s used when bad == BAD_IMPOSSIBLE_DATE
    bad_coordinate: np.ndarray  # text used when bad == BAD_COORDINATES
    row_key: np.ndarray  # index of the distinct row (a repeat shares its original's key)
    persons: dict[str, People] = field(default_factory=dict)  # role -> people (recipe [persons.parties])

    def __len__(self) -> int:
        return len(self.source_id)


# --------------------------------------------------------------------------- strings


def _cat(*parts: Any) -> np.ndarray:
    out = np.asarray(parts[0], dtype=_S) if not isinstance(parts[0], str) else parts[0]
    for part in parts[1:]:
        out = np.strings.add(out, part)
    return np.asarray(out, dtype=_S)


def _person(rows: ExportRows, role: str) -> People:
    """The people of `role`, or empty cells when the recipe names nobody in that role."""
    if role in rows.persons:
        return rows.persons[role]
    empty = np.full(len(rows), "", dtype=_S)
    return People(name=empty, phone=empty, id_number=empty)


def _int(a: np.ndarray, width: int = 0) -> np.ndarray:
    text = np.asarray(a, dtype=np.int64).astype(_S)
    return np.strings.zfill(text, width) if width else text


def _components(t: np.ndarray) -> tuple[np.ndarray, ...]:
    d = np.where(t == MISSING, 0, t).astype("datetime64[s]")
    month_start = d.astype("datetime64[M]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    day = (d.astype("datetime64[D]") - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    sod = (d - d.astype("datetime64[D]")).astype(np.int64)
    return year, month, day, sod // 3600, sod // 60 % 60, sod % 60


def _format(style: str, y: np.ndarray, mo: np.ndarray, d: np.ndarray, h: np.ndarray, mi: np.ndarray,
            s: np.ndarray) -> np.ndarray:
    if style == "iso":  # 2023-08-21T14:05:33+08:00
        return _cat(_int(y, 4), "-", _int(mo, 2), "-", _int(d, 2), "T", _int(h, 2), ":", _int(mi, 2), ":",
                    _int(s, 2), "+08:00")
    if style == "slash":  # 2023/8/21 14:05
        return _cat(_int(y), "/", _int(mo), "/", _int(d), " ", _int(h), ":", _int(mi, 2))
    if style == "dash":  # 2023-08-21 14:05:33
        return _cat(_int(y, 4), "-", _int(mo, 2), "-", _int(d, 2), " ", _int(h, 2), ":", _int(mi, 2), ":", _int(s, 2))
    if style == "chinese":  # 2023年8月21日 14时05分
        return _cat(_int(y), "年", _int(mo), "月", _int(d), "日 ", _int(h, 2), "时", _int(mi, 2), "分")
    raise ValueError(style)


def time_texts(t: np.ndarray, style: str) -> np.ndarray:
    """Times as text in one of the export styles; "" where missing."""
    out = _format(style, *_components(t))
    out[t == MISSING] = ""
    return out


def reported_texts(rows: ExportRows, style: str) -> np.ndarray:
    """The report-time column with the bad rows' missing, unparseable and impossible values."""
    out = time_texts(rows.reported, style)
    out[rows.bad == kinds.BAD_MISSING_TIME] = ""
    garbled = rows.bad == kinds.BAD_UNPARSEABLE_TIME
    out[garbled] = rows.unparseable_time[garbled]
    impossible = rows.bad == kinds.BAD_IMPOSSIBLE_DATE
    if impossible.any():
        parts = rows.impossible_date[impossible].T
        out[impossible] = _format(style, *parts)
    return out


def coordinate_texts(x: np.ndarray, decimals: int = 6) -> np.ndarray:
    """Fixed-decimal text of positive coordinates, vectorised; "" for NaN."""
    finite = np.isfinite(x)
    scale = 10 ** decimals
    v = np.round(np.where(finite, x, 0.0) * scale).astype(np.int64)
    sign = np.where(v < 0, "-", "").astype(_S)
    v = np.abs(v)
    out = _cat(sign, _int(v // scale), ".", _int(v % scale, decimals))
    out[~finite] = ""
    return out


def _choice(rng: np.random.Generator, options: dict[str, float] | list[str], rows: ExportRows) -> np.ndarray:
    """One draw per distinct row (repeats keep their original's value)."""
    names = list(options)
    p = np.array([float(options[n]) for n in names]) if isinstance(options, dict) else np.ones(len(names))
    k = int(rows.row_key.max()) + 1 if len(rows) else 0
    draw = np.searchsorted(np.cumsum(p), rng.random(k) * p.sum(), side="right").clip(0, len(names) - 1)
    return np.array(names, dtype=_S)[draw][rows.row_key]


def _integers(rng: np.random.Generator, lo: int, hi: int, rows: ExportRows) -> np.ndarray:
    k = int(rows.row_key.max()) + 1 if len(rows) else 0
    return rng.integers(lo, hi, k)[rows.row_key]


def _place_suffix(rng: np.random.Generator, rows: ExportRows) -> np.ndarray:
    """ "委会附近"-style endings: a 村 takes 村委会, a 社区 its 居委会."""
    generic = _choice(rng, ["附近", "大道旁", "菜市场附近", "小学对面", "文化广场旁"], rows)
    committee = np.where(np.strings.endswith(rows.village, "社区"), "居委会附近", "委会附近").astype(_S)
    use_committee = _integers(rng, 0, 2, rows) == 0
    return np.where(use_committee, committee, generic).astype(_S)


def address_texts(rng: np.random.Generator, rows: ExportRows) -> np.ndarray:
    """Town + village + a landmark, e.g. 东湖镇新厝村委会附近; "" outside the city."""
    out = _cat(rows.town, rows.village, _place_suffix(rng, rows))
    out[rows.village == ""] = ""
    return out


def _bad_coordinates(text: np.ndarray, rows: ExportRows) -> np.ndarray:
    wrong = rows.bad == kinds.BAD_COORDINATES
    text[wrong] = rows.bad_coordinate[wrong]
    return text


def _datetimes(t: np.ndarray) -> np.ndarray:
    """Python datetimes (None where missing) for XLSX date cells."""
    d = t.astype("datetime64[s]")
    d[t == MISSING] = np.datetime64("NaT")
    return d.astype(object)


# --------------------------------------------------------------------------- file formats


def _csv_field(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=_S)
    special = np.zeros(len(values), dtype=bool)
    for ch in (",", '"', "\n", "\r"):
        special |= np.strings.find(values, ch) >= 0
    if special.any():
        values = values.copy()
        values[special] = _cat('"', np.strings.replace(values[special], '"', '""'), '"')
    return values


def write_csv(path: Path, header: list[str], columns: list[np.ndarray], *, encoding: str,
              newline: str = "\n") -> None:
    """A CSV file, written in chunks; encoding 'utf-8-sig' writes the BOM once at the start."""
    fields = [_csv_field(c) for c in columns]
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    n = len(fields[0]) if fields else 0
    with open(path, "wb") as handle:
        if encoding == "utf-8-sig":
            handle.write(codecs.BOM_UTF8)
        handle.write((",".join(header) + newline).encode(codec))
        for start in range(0, n, _CHUNK):
            part = [f[start:start + _CHUNK] for f in fields]
            line = part[0]
            for column in part[1:]:
                line = np.strings.add(np.strings.add(line, ","), column)
            handle.write((newline.join(line.tolist()) + newline).encode(codec, errors="strict"))


def _json_string(values: np.ndarray) -> np.ndarray:
    escaped = np.strings.replace(np.strings.replace(np.asarray(values, dtype=_S), "\\", "\\\\"), '"', '\\"')
    return _cat('"', escaped, '"')


def write_jsonl(path: Path, fields: list[tuple[str, np.ndarray, np.ndarray | None]]) -> None:
    """JSON Lines from (key, json-encoded values, null mask) triples, UTF-8 without escaping CJK."""
    n = len(fields[0][1]) if fields else 0
    with open(path, "wb") as handle:
        for start in range(0, n, _CHUNK):
            line = None
            for i, (key, values, null) in enumerate(fields):
                v = np.asarray(values[start:start + _CHUNK], dtype=_S)
                if null is not None:
                    v = v.copy()
                    v[null[start:start + _CHUNK]] = "null"
                piece = np.strings.add(("{" if i == 0 else ",") + f'"{key}":', v)
                line = piece if line is None else np.strings.add(line, piece)
            assert line is not None
            handle.write(("}\n".join(line.tolist()) + "}\n").encode("utf-8"))


def write_xlsx(path: Path, sheet: str, header: list[str], columns: list[list[Any]]) -> None:
    """An XLSX workbook with one sheet (openpyxl write-only), with fixed zip and document timestamps."""
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    book.properties.creator = "民情地图 demo"
    book.properties.created = dt.datetime(*FIXED_STAMP)
    book.properties.modified = dt.datetime(*FIXED_STAMP)
    ws = book.create_sheet(sheet)
    ws.append(header)
    for row in zip(*columns):
        ws.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    _write_fixed_zip(path, buffer.getvalue())


def _write_fixed_zip(path: Path, data: bytes) -> None:
    stamp = FIXED_ISO.encode()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)", rb"\g<1>" + stamp + rb"\g<2>",
                                 content)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_STAMP)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, content)


def _cells(values: np.ndarray) -> list[Any]:
    """Text cells: "" becomes an empty cell."""
    return [v if v != "" else None for v in np.asarray(values, dtype=_S).tolist()]


def _reported_cells(rows: ExportRows) -> list[Any]:
    """Report times as date cells; bad rows get an empty cell or a text that is no date."""
    cells = _datetimes(rows.reported)
    cells[rows.bad == kinds.BAD_MISSING_TIME] = None
    text = reported_texts(rows, "dash")
    for kind in (kinds.BAD_UNPARSEABLE_TIME, kinds.BAD_IMPOSSIBLE_DATE):
        mask = rows.bad == kind
        cells[mask] = np.asarray(text[mask], dtype=object)
    return cells.tolist()


# --------------------------------------------------------------------------- departments


def _description(*parts: Any) -> np.ndarray:
    return _cat(*parts)


def write_grid_app(path: Path, rows: ExportRows, spec: dict[str, Any], rng: np.random.Generator) -> None:
    """网格员上报: JSON Lines, GCJ-02 coordinates, ISO-8601 times with +08:00."""
    glon, glat = wgs84_to_gcj02(rows.lon, rows.lat)
    lng = _bad_coordinates(coordinate_texts(glon), rows)
    lat = coordinate_texts(glat)
    wrong = rows.bad == kinds.BAD_COORDINATES
    lng[wrong] = _json_string(lng[wrong])  # a bad coordinate is a JSON string, valid ones are numbers
    reported = reported_texts(rows, "iso")
    address = address_texts(rng, rows)
    worker_grid = np.where(rows.grid_index >= 0, rows.grid_index, _integers(rng, 0, 99_999, rows))
    reporter = _cat("WGY", _int(worker_grid, 5), _int(_integers(rng, 1, 5, rows)))
    content = _description("巡查发现", rows.village, "存在", rows.category, "情况")
    write_jsonl(path, [
        ("eventNo", _json_string(rows.source_id), rows.source_id == ""),
        ("eventType", _json_string(rows.category), None),
        ("status", _json_string(rows.status), None),
        ("reportTime", _json_string(reported), reported == ""),
        ("dispatchTime", _json_string(time_texts(rows.dispatched, "iso")), rows.dispatched == MISSING),
        ("finishTime", _json_string(time_texts(rows.closed, "iso")), rows.closed == MISSING),
        ("lng", lng, None),
        ("lat", lat, None),
        ("address", _json_string(address), address == ""),
        ("reporter", _json_string(reporter), None),
        ("content", _json_string(content), None),
    ])


def _station(rows: ExportRows) -> np.ndarray:
    base = np.strings.replace(np.strings.replace(rows.town, "街道", ""), "镇", "")
    out = _cat(base, "派出所")
    out[rows.town == ""] = "待核实"
    return out


def write_police110(path: Path, rows: ExportRows, spec: dict[str, Any], rng: np.random.Generator) -> None:
    """公安110警情: CSV in GBK with Chinese headers, times like 2023/8/21 14:05, WGS84."""
    place = np.where(rows.village == "", "", np.strings.add(rows.village, "附近")).astype(_S)
    write_csv(path, ["警情编号", "报警时间", "派警时间", "结警时间", "警情类别", "处警状态", "经度", "纬度", "管辖单位", "简要警情"], [
        rows.source_id,
        reported_texts(rows, "slash"),
        time_texts(rows.dispatched, "slash"),
        time_texts(rows.closed, "slash"),
        rows.category,
        rows.status,
        _bad_coordinates(coordinate_texts(rows.lon), rows),
        coordinate_texts(rows.lat),
        _station(rows),
        _description("报警人称", place, "：", rows.category),
    ], encoding="gbk", newline="\r\n")


def write_petition(path: Path, rows: ExportRows, spec: dict[str, Any], rng: np.random.Generator) -> None:
    """信访: XLSX, a small-grid code or (code empty) only an address naming town and village."""
    address = address_texts(rng, rows)
    address[rows.bad == kinds.BAD_GRID_CODE] = ""
    channel = _choice(rng, spec["channels"], rows)
    summary = _description("信访人反映", rows.village, rows.category, "问题")
    petitioner = _person(rows, "petitioner")
    write_xlsx(path, "信访件", ["信访编号", "登记时间", "交办时间", "办结时间", "信访事项分类", "办理状态", "网格编码", "问题属地", "信访形式",
                              "信访人姓名", "联系电话", "身份证号", "诉求摘要"], [
        _cells(rows.source_id),
        _reported_cells(rows),
        _datetimes(rows.dispatched).tolist(),
        _datetimes(rows.closed).tolist(),
        _cells(rows.category),
        _cells(rows.status),
        _cells(rows.grid_code),
        _cells(address),
        _cells(channel),
        _cells(petitioner.name),
        _cells(petitioner.phone),
        _cells(petitioner.id_number),
        _cells(summary),
    ])


def write_mediation(path: Path, rows: ExportRows, spec: dict[str, Any], rng: np.random.Generator) -> None:
    """人民调解: XLSX with dispute class, mediation result, small-grid code and the source of transferred cases."""
    source = _choice(rng, spec["sources"], rows)
    for dept, text in spec["linked_sources"].items():
        source[rows.link_dept == dept] = text
    org_level = np.where(_integers(rng, 0, 10, rows) < 7, rows.village, rows.town).astype(_S)
    organisation = _cat(org_level, "人民调解委员会")
    organisation[org_level == ""] = "人民调解委员会"
    summary = _description(rows.village, rows.category, "纠纷")
    applicant, respondent = _person(rows, "applicant"), _person(rows, "respondent")
    write_xlsx(path, "调解案件", ["案件编号", "受理时间", "指派时间", "结案时间", "纠纷类型", "调解结果", "网格编码", "案件来源", "来源编号", "调解组织", "当事人数",
                                "申请人", "申请人电话", "申请人身份证号", "被申请人", "被申请人电话", "被申请人身份证号", "纠纷简况"], [
        _cells(rows.source_id),
        _reported_cells(rows),
        _datetimes(rows.dispatched).tolist(),
        _datetimes(rows.closed).tolist(),
        _cells(rows.category),
        _cells(rows.status),
        _cells(rows.grid_code),
        _cells(source),
        _cells(rows.link_id),
        _cells(organisation),
        _integers(rng, 2, 7, rows).tolist(),
        _cells(applicant.name),
        _cells(applicant.phone),
        _cells(applicant.id_number),
        _cells(respondent.name),
        _cells(respondent.phone),
        _cells(respondent.id_number),
        _cells(summary),
    ])


def write_hotline12345(path: Path, rows: ExportRows, spec: dict[str, Any], rng: np.random.Generator) -> None:
    """12345热线: CSV UTF-8 with BOM, BD-09 coordinates, a due-time column (办理时限)."""
    blon, blat = _wgs84_to_bd09(rows.lon, rows.lat)
    address = address_texts(rng, rows)
    unit = _choice(rng, spec["units"], rows)
    local = unit == "镇街人民政府"
    unit[local] = _cat(rows.town[local], "人民政府")
    unit[local & (rows.town == "")] = "市政府办公室"
    content = _description("市民来电反映", address, "：", rows.category)
    caller = _person(rows, "caller")
    write_csv(path, ["工单编号", "受理时间", "来电人", "来电号码", "派单时间", "办结时间", "办理时限", "诉求分类", "工单状态", "经度", "纬度", "诉求地址", "诉求内容",
                     "承办单位", "关联网格事件编号"], [
        rows.source_id,
        reported_texts(rows, "dash"),
        caller.name,
        caller.phone,
        time_texts(rows.dispatched, "dash"),
        time_texts(rows.closed, "dash"),
        time_texts(rows.due, "dash"),
        rows.category,
        rows.status,
        _bad_coordinates(coordinate_texts(blon), rows),
        coordinate_texts(blat),
        address,
        content,
        unit,
        rows.link_id,
    ], encoding="utf-8-sig")


def write_natural_resources(path: Path, rows: ExportRows, spec: dict[str, Any], rng: np.random.Generator) -> None:
    """自然资源: GeoPackage points in CGCS2000 3-degree Gauss-Krüger CM 114E (EPSG:4547)."""
    import geopandas
    import pyogrio
    import pyproj
    import shapely

    to_gk = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4547", always_xy=True)
    x, y = to_gk.transform(rows.lon, rows.lat)
    k = int(rows.row_key.max()) + 1 if len(rows) else 0
    area = np.round(np.exp(rng.normal(np.log(300.0), 1.0, k)), 1)[rows.row_key]
    town = np.where(rows.town == "", "待核实", rows.town).astype(_S)

    def column(values: np.ndarray) -> np.ndarray:
        out = np.asarray(values, dtype=_S).astype(object)
        out[out == ""] = None
        return out

    frame = geopandas.GeoDataFrame({
        "案件编号": column(rows.source_id),
        "发现时间": column(reported_texts(rows, "dash")),
        "立案时间": column(time_texts(rows.dispatched, "dash")),
        "结案时间": column(time_texts(rows.closed, "dash")),
        "违法类型": column(rows.category),
        "案件状态": column(rows.status),
        "所属镇街": column(town),
        "占地面积": area,
        "案情摘要": column(_description("巡查发现", rows.village, rows.category, "，面积约", _int(np.round(area)), "平方米")),
    }, geometry=shapely.points(np.asarray(x), np.asarray(y)), crs="EPSG:4547")
    if path.exists():
        path.unlink()
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_ISO})
    try:
        pyogrio.write_dataframe(frame, path, layer="违法用地巡查", driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def write_urban_mgmt(path: Path, rows: ExportRows, spec: dict[str, Any], rng: np.random.Generator) -> None:
    """城管: CSV UTF-8, times like 2023年8月21日 14时05分, WGS84, GB/T 30428 classes and subclasses."""
    class_of = {str(code): str(text) for text, code, _w in spec["categories"]}
    subclass = np.full(len(rows), "", dtype=_S)
    pick = _integers(rng, 0, 1_000_000, rows)
    for code, text in class_of.items():
        mask = rows.code == code
        options = np.array(spec["subclasses"][text], dtype=_S)
        subclass[mask] = options[pick[mask] % len(options)]
    source = _choice(rng, spec["sources"], rows)
    for dept, text in spec["linked_sources"].items():
        source[rows.link_dept == dept] = text
    write_csv(path, ["案卷编号", "上报时间", "派遣时间", "结案时间", "大类", "小类", "案卷状态", "经度", "纬度", "发生地址", "案件来源", "来源编号"], [
        rows.source_id,
        reported_texts(rows, "chinese"),
        time_texts(rows.dispatched, "chinese"),
        time_texts(rows.closed, "chinese"),
        rows.category,
        subclass,
        rows.status,
        _bad_coordinates(coordinate_texts(rows.lon), rows),
        coordinate_texts(rows.lat),
        address_texts(rng, rows),
        source,
        rows.link_id,
    ], encoding="utf-8")


WRITERS: dict[str, Callable[[Path, ExportRows, dict[str, Any], np.random.Generator], None]] = {
    "grid_app": write_grid_app,
    "police110": write_police110,
    "petition": write_petition,
    "mediation": write_mediation,
    "hotline12345": write_hotline12345,
    "natural_resources": write_natural_resources,
    "urban_mgmt": write_urban_mgmt,
}


def _wgs84_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 → BD-09 through GCJ-02, as Baidu-based apps record positions."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
