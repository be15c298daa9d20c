"""Personal data (names, phones, ID numbers): GB 11643 checks, masking, the demo's people, the persons
table, and that nothing personal reaches the events table or a rendered map.

The ID checksum is recomputed here independently of etl.persons (ISO 7064 MOD 11-2 from its definition).
"""

from __future__ import annotations

import json
import datetime as dt
import re
import shutil
import textwrap
import warnings
from pathlib import Path

import duckdb
import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from projects import write_config
from etl.config import load_config
from store.errors import ConfigError
from etl.load import load_project
from etl.mapping import parse_mapping
from etl.persons import clean_id, id_birth_date, id_check_char, is_mobile, is_valid_id
from store.schema import connect
from layers.choropleth import choropleth
from layers.drilldown import event_history
from layers.geometry import prepare_level
from layers.grids import event_counts
from layers.heatmap import heat_bins, heatmap
from layers.markers import MAX_LIMIT, latest_events, markers_map
from layers.offline import Basemap
from layers.personal import (
    COMPOUND_SURNAMES,
    PERSON_COLUMNS,
    mask_id,
    mask_name,
    mask_phone,
    masked,
    persons_for_event,
)
from layers.event_query import EventFilter
from minqing.cli import main

REPO = Path(__file__).resolve().parents[2]
SHANWEI_COUNTIES = {"441502", "441521", "441523", "441581"}
MOBILE = re.compile(r"1(3\d|5[0-35-9]|8\d|9[0-35-9])\d{8}")
CJK_NAME = re.compile(r"[\u4e00-\u9fff]{2,4}")
AS_OF = "2026-01-10 00:00"
PERSON_DEPTS = {"petition": ("petitioner",), "mediation": ("applicant", "respondent"), "hotline12345": ("caller",)}


def reference_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 as written in GB 11643: weights 2^(17-i) mod 11, check = (12 - sum mod 11) mod 11."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


# --------------------------------------------------------------------------- ID numbers (GB 11643)


@pytest.mark.parametrize("number", [
    "11010519491231002X",   # the standard's example (Beijing, 1949-12-31, woman)
    "440524188001010014",   # the standard's example (Shantou, 1880)
    "11010519491231002x",   # lower-case x
    "１１０１０５１９４９１２３１００２Ｘ",  # full-width characters
    " 110105 1949 1231 002X ",  # spaces
])
def test_known_valid_id_numbers(number: str) -> None:
    assert is_valid_id(number)
    assert id_check_char(clean_id(number)[:17]) == reference_check_char(clean_id(number)[:17])


@pytest.mark.parametrize("number", [
    "110105194912310029",   # wrong check character
    "441502199001011234",   # the masking example: check character should be 2
    "441502199002301231",   # 30 February (check character right for the digits)
    "441502299001011230",   # born in 2990 (check character right)
    "041502199001011238",   # a region code cannot start with 0 (check character right)
    "44150219900101123",    # 17 characters
    "4415021990010112345",  # 19 characters
    "441502900101123",      # 15-digit number (before 1999): not a valid 18-character number
    "44150219900101123Y",
    "X41502199001011230",
    "",
    None,
    "身份证号",
])
def test_known_invalid_id_numbers(number: str | None) -> None:
    assert not is_valid_id(number)


def test_the_invalid_examples_fail_for_the_reason_given() -> None:
    for number in ("441502199002301231", "441502299001011230", "041502199001011238"):
        assert reference_check_char(number[:17]) == number[17]  # so only the date or the region is wrong
    assert id_birth_date("441502199002301231") is None
    assert id_birth_date("441502199001011234") == dt.date(1990, 1, 1)
    assert reference_check_char("44150219900101123") == "2"
    assert is_valid_id("441502199001011232")
    assert not is_valid_id("441502202601011235", today=dt.date(2025, 12, 31))  # born after `today`


@pytest.mark.parametrize("bad", ["", "1234", "1101051949123100X", "11010519491231002X"])
def test_check_char_wants_17_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="17 digits"):
        id_check_char(bad)


@settings(max_examples=300, deadline=None)
@given(region=st.integers(110000, 829999), born=st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)),
       seq=st.integers(0, 999))
def test_exactly_one_check_character_makes_a_number_valid(region: int, born: dt.date, seq: int) -> None:
    first17 = f"{region:06d}{born:%Y%m%d}{seq:03d}"
    right = reference_check_char(first17)
    assert id_check_char(first17) == right
    assert [c for c in "0123456789X" if is_valid_id(first17 + c)] == [right]


def test_mobile_numbers() -> None:
    assert is_mobile("13812341234") and is_mobile("+86 138 1234 1234") and is_mobile("199-1234-1234")
    assert not is_mobile("12812341234") and not is_mobile("1381234123") and not is_mobile("0660-3381234")
    assert not is_mobile(None) and not is_mobile("")


# --------------------------------------------------------------------------- masking


@pytest.mark.parametrize(("value", "expected"), [
    ("张三丰", "张**"), ("王五", "王*"), ("欧阳修", "欧阳*"), ("司马相如", "司马**"), ("诸葛亮", "诸葛*"),
    ("欧阳", "欧*"),  # two characters: 欧 + 阳, never shown whole
    ("张", "*"), (" 李四 ", "李*"), ("陈先生", "陈**"), ("", ""), ("   ", ""), (None, ""), (float("nan"), ""),
    ("John Smith", "J*********"),
])
def test_mask_name(value: object, expected: str) -> None:
    assert mask_name(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("13812341234", "138****1234"), ("+8613812341234", "+86*******1234"), ("0660-3381234", "066*****1234"),
    ("3381234", "****234"), ("12345678", "****5678"), ("1234", "****"), ("12", "**"), ("", ""), (None, ""),
    (13812341234, "138****1234"),
])
def test_mask_phone(value: object, expected: str) -> None:
    assert mask_phone(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("441502199001011234", "4415**********1234"), ("11010519491231002X", "1101**********002X"),
    ("441502900101123", "4415*******1123"), ("12345678901", "*******8901"), ("1234567", "******7"),
    ("123456", "******"), ("1", "*"), ("", ""), (None, ""),
])
def test_mask_id(value: object, expected: str) -> None:
    assert mask_id(value) == expected


def visible_positions(original: str, out: str) -> set[int]:
    return {i for i, c in enumerate(out) if c != "*"}


def check_mask(original: object, out: str, allowed: set[int], min_hidden: int) -> None:
    text = "" if original is None else str(original).strip()
    assert isinstance(out, str) and len(out) == len(text)
    for i, c in enumerate(out):
        assert c == "*" or (c == text[i] and i in allowed), (text, out)
    assert sum(c == "*" for c in out) >= min(min_hidden, len(text))


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.none(), st.text(), st.text(alphabet="张王欧阳司马诸葛李四三丰 *", max_size=6)))
def test_mask_name_never_shows_more_than_the_surname(value: str | None) -> None:
    out = mask_name(value)
    text = "" if value is None else value.strip()
    allowed = {0, 1} if text[:2] in COMPOUND_SURNAMES and len(text) > 2 else {0}
    check_mask(value, out, allowed if len(text) > 1 else set(), 1)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.none(), st.text(), st.text(alphabet="0123456789+- ", max_size=20)))
def test_mask_phone_never_shows_more_than_3_and_4(value: str | None) -> None:
    out = mask_phone(value)
    n = len("" if value is None else value.strip())
    check_mask(value, out, {0, 1, 2} | set(range(n - 4, n)) if n >= 11 else set(range(n - 4, n)), 4)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.none(), st.text(), st.text(alphabet="0123456789X ", max_size=24)))
def test_mask_id_never_shows_more_than_4_and_4(value: str | None) -> None:
    out = mask_id(value)
    n = len("" if value is None else value.strip())
    check_mask(value, out, {0, 1, 2, 3} | set(range(n - 4, n)) if n >= 15 else set(range(n - 4, n)), 6)


def test_masked_frame_keeps_missing_values_missing() -> None:
    frame = pd.DataFrame({"role": ["caller", "caller"], "name": ["林女士", None], "phone": [None, "13812341234"],
                          "id_number": [None, "11010519491231002X"], "id_valid": [None, True]})
    out = masked(frame)
    assert out["name"].tolist() == ["林**", None]
    assert out["phone"].tolist() == [None, "138****1234"]
    assert out["id_number"].tolist() == [None, "1101**********002X"]
    assert frame["name"].iloc[0] == "林女士" and pd.isna(frame["name"].iloc[1])  # the input is not changed


# --------------------------------------------------------------------------- mappings


def _mapping(extra: str) -> dict:
    import tomllib

    base = """
        department = "hall"
        [fields]
        source_id = "编号"
        category = "类别"
        status = "状态"
        reported_at = "时间"
        grid_code = "网格"
    """
    return tomllib.loads(textwrap.dedent(base) + textwrap.dedent(extra))


def test_persons_section_parses_in_order() -> None:
    mapping = parse_mapping(_mapping("""
        [[persons]]
        role = "applicant"
        name = "申请人"
        phone = "申请人电话"
        id_number = "申请人身份证号"
        [[persons]]
        role = "respondent"
        name = "被申请人"
    """), path=Path("hall.toml"), known_categories=frozenset())
    assert [p.role for p in mapping.persons] == ["applicant", "respondent"]
    assert mapping.persons[0].columns() == ["申请人", "申请人电话", "申请人身份证号"]
    assert mapping.persons[1].phone is None and mapping.persons[1].columns() == ["被申请人"]


def test_persons_section_problems_are_listed_together() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mapping(_mapping("""
            [fields2]
            [[persons]]
            name = "姓名"
            [[persons]]
            role = "caller"
            [[persons]]
            role = "party"
            name = "姓名"
            mobile = "手机"
            [[persons]]
            role = "party2"
            phone = 12
            [[persons]]
            role = "witness"
            name = "证人"
            [[persons]]
            role = "witness"
            name = "证人2"
        """), path=Path("hall.toml"), known_categories=frozenset())
    keys = [p.key for p in caught.value.problems]
    # [fields2] is an unknown top-level key, reported with the rest
    assert keys == ["unknown keys", "persons[0].role", "persons[1]", "persons[2]", "persons[3].phone",
                    "persons[5].role"], keys


def test_person_fields_are_refused_in_fields() -> None:
    raw = _mapping("")
    raw["fields"]["phone"] = "电话"
    with pytest.raises(ConfigError, match=r"\[\[persons\]\]"):
        parse_mapping(raw, path=Path("hall.toml"), known_categories=frozenset())


# --------------------------------------------------------------------------- loading a small project

HEADER = "编号,类别,状态,上报时间,办结时间,经度,纬度,信访人,电话,证件号,对方,对方电话\n"
ROWS = [
    "P1,邻里纠纷,处理中,2023/8/21 14:05,,115.05,22.95,张三丰,13812341234,11010519491231002X,李四,",
    "P2,邻里纠纷,处理中,2023/8/21 15:00,,115.05,22.95,欧阳修,,110105194912310029,,15912345678",  # bad checksum
    "P3,邻里纠纷,处理中,2023/8/21 16:00,,115.05,22.95,,,,,",  # names nobody
    "P4,邻里纠纷,处理中,2023/8/21 17:00,,115.05,22.95,王五,13912345678,11010519491231002x,,",
    "P5,邻里纠纷,不知道,2023/8/21 17:00,,115.05,22.95,赵六,13712345678,,,",  # rejected: unknown status
]
MAPPING = """
department = "hall"
name = "信访大厅"
[fields]
source_id = "编号"
category = "类别"
status = "状态"
reported_at = "上报时间"
closed_at = "办结时间"
lon = "经度"
lat = "纬度"
[time]
formats = ["%Y/%m/%d %H:%M"]
[category.map]
"邻里纠纷" = "dispute_neighbour"
[status.map]
"已办结" = "closed"
"处理中" = "in_progress"
[due]
default = { working_days = 3 }
"""
PERSONS = """
[[persons]]
role = "petitioner"
name = "信访人"
phone = "电话"
id_number = "证件号"

[[persons]]
role = "respondent"
name = "对方"
phone = "对方电话"
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    box = shapely.box(115.0, 22.9, 115.1, 23.0)
    for level, parent in (("large", None), ("medium", "L1"), ("small", "M1")):
        code = {"large": "L1", "medium": "M1", "small": "S1"}[level]
        frame = {"code": [code], "name": [f"{level}网格"]}
        if parent:
            frame["parent"] = [parent]
        gpd.GeoDataFrame(frame, geometry=[box], crs=4326).to_file(tmp_path / f"{level}.geojson", driver="GeoJSON")
    (tmp_path / "hall.toml").write_text(MAPPING + PERSONS, encoding="utf-8")
    (tmp_path / "hall.csv").write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    write_config(tmp_path, "hall", population=False)
    return tmp_path


def _persons(project: Path) -> pd.DataFrame:
    with duckdb.connect(str(project / "store.duckdb"), read_only=True) as con:
        return con.execute("SELECT * FROM persons ORDER BY event_id, seq").df()


def test_persons_are_loaded_apart_from_events_and_bad_ids_are_flagged(project: Path) -> None:
    report = load_project(load_config(project / "minqing.toml")).files[0]
    assert (report.rows_in, report.loaded, report.rejected) == (5, 4, 1)
    persons = _persons(project)
    got = [tuple(None if pd.isna(v) else v for v in row) for row in
           persons[["event_id", "role", "seq", "name", "phone", "id_number", "id_valid"]].itertuples(index=False)]
    assert got == [
        ("hall:P1", "petitioner", 0, "张三丰", "13812341234", "11010519491231002X", True),
        ("hall:P1", "respondent", 1, "李四", None, None, None),
        ("hall:P2", "petitioner", 0, "欧阳修", None, "110105194912310029", False),  # kept, flagged
        ("hall:P2", "respondent", 1, None, "15912345678", None, None),
        ("hall:P4", "petitioner", 0, "王五", "13912345678", "11010519491231002X", True),  # x upper-cased
    ]
    assert (persons["batch_id"] == 1).all()
    with duckdb.connect(str(project / "store.duckdb"), read_only=True) as con:
        events = con.execute("SELECT * FROM events").df()
        rejects = con.execute("SELECT reason FROM rejects").fetchall()
    assert len(events) == 4 and len(rejects) == 1  # an invalid ID never rejects a row
    assert not {"name", "phone", "id_number", "id_valid"} & set(events.columns)
    values = {str(v) for v in events.to_numpy().ravel()}
    for secret in ("张三丰", "13812341234", "11010519491231002X", "110105194912310029", "欧阳修", "15912345678"):
        assert not any(secret in v for v in values)


def test_row_hash_does_not_depend_on_persons(project: Path, tmp_path: Path) -> None:
    load_project(load_config(project / "minqing.toml"))
    plain = Path(shutil.copytree(project, tmp_path / "plain"))
    (plain / "store.duckdb").unlink()
    (plain / "hall.toml").write_text(MAPPING, encoding="utf-8")  # no [[persons]]
    load_project(load_config(plain / "minqing.toml"))
    hashes = []
    for directory in (project, plain):
        with duckdb.connect(str(directory / "store.duckdb"), read_only=True) as con:
            hashes.append(con.execute("SELECT event_id, row_hash FROM events ORDER BY event_id").fetchall())
            if directory == plain:
                assert con.execute("SELECT count(*) FROM persons").fetchone()[0] == 0
    assert hashes[0] == hashes[1]


def test_a_newer_export_replaces_persons_and_never_duplicates_them(project: Path) -> None:
    config = load_config(project / "minqing.toml")
    load_project(config)
    assert load_project(config).files[0].skipped  # the identical file: nothing read, nothing doubled
    newer = [
        ROWS[0].replace("13812341234", "13800000000"),  # only the phone changes: event unchanged
        ROWS[1].replace("处理中,2023/8/21 15:00,", "已办结,2023/8/21 15:00,2023/8/22 9:00").replace(",,15912345678", ",,"),
        ROWS[3].replace("王五", "王五一"),  # an earlier version of P4 in the same file ...
        ROWS[3].replace("王五", "王五二"),  # ... superseded by this one
        ROWS[2].replace(",,,,,", ",钱七,,,,"),  # P3 now names someone
    ]
    (project / "hall.csv").write_text(HEADER + "\n".join(newer) + "\n", encoding="utf-8")
    result = load_project(config).files[0]
    assert (result.loaded, result.updated, result.duplicate) == (0, 1, 4)  # P4 twice: an exact repeat of its events row
    persons = _persons(project)
    assert not persons.duplicated(["event_id", "role"]).any()
    by = {(r.event_id, r.role): r for r in persons.itertuples()}
    assert by[("hall:P1", "petitioner")].phone == "13800000000"
    assert ("hall:P1", "respondent") in by and by[("hall:P1", "respondent")].name == "李四"
    assert ("hall:P2", "respondent") not in by  # the newer record names no respondent
    assert by[("hall:P4", "petitioner")].name == "王五二"
    assert by[("hall:P3", "petitioner")].name == "钱七"
    assert len(persons) == 5 and (persons["batch_id"] == 2).all()


def test_a_missing_person_column_is_named_with_the_file_s_columns(project: Path) -> None:
    (project / "hall.toml").write_text(MAPPING + PERSONS.replace('"对方电话"', '"对方手机"'), encoding="utf-8")
    (result,) = load_project(load_config(project / "minqing.toml")).files  # the file fails, the load goes on
    assert result.error is not None and "对方手机" in result.error
    assert "对方电话" in result.error and "[[persons]]" in result.error


def test_persons_for_event_masks_unless_revealed(project: Path) -> None:
    load_project(load_config(project / "minqing.toml"))
    with connect(str(project / "store.duckdb"), read_only=True) as con:
        shown = persons_for_event(con, "hall:P1", reveal=False)
        revealed = persons_for_event(con, "hall:P1", reveal=True)
        nobody = persons_for_event(con, "hall:P3", reveal=False)
        hostile = persons_for_event(con, "hall:P1' OR '1'='1", reveal=True)
    assert list(shown.columns) == list(PERSON_COLUMNS)
    assert shown[["role", "role_name", "name", "phone", "id_number"]].values.tolist() == [
        ["petitioner", "信访人", "张**", "138****1234", "1101**********002X"],
        ["respondent", "被申请人", "李*", None, None],
    ]
    assert revealed["name"].tolist() == ["张三丰", "李四"] and revealed["id_number"][0] == "11010519491231002X"
    assert shown["id_valid"].tolist()[0] is True
    assert nobody.empty and hostile.empty


def test_persons_for_event_on_a_store_without_the_table(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE TABLE events (event_id VARCHAR)")
    out = persons_for_event(con, "x:1", reveal=True)
    con.close()
    assert out.empty and list(out.columns) == list(PERSON_COLUMNS)


# --------------------------------------------------------------------------- the demo


def _xlsx(path: Path, sheet: str) -> pd.DataFrame:
    book = openpyxl.load_workbook(path, read_only=True)
    rows = list(book[sheet].iter_rows(values_only=True))
    book.close()
    return pd.DataFrame(rows[1:], columns=rows[0], dtype=object).fillna("")


@pytest.fixture(scope="module")
def demo_files(demo_dir: Path) -> dict[str, pd.DataFrame]:
    raw = demo_dir / "raw"
    return {
        "petition": _xlsx(raw / "petitions.xlsx", "信访件"),
        "mediation": _xlsx(raw / "mediation.xlsx", "调解案件"),
        "hotline12345": pd.read_csv(raw / "hotline12345.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig"),
    }


FILE_PEOPLE = {  # dept -> [(name column, phone column, id column or None, time column)]
    "petition": [("信访人姓名", "联系电话", "身份证号", "登记时间")],
    "mediation": [("申请人", "申请人电话", "申请人身份证号", "受理时间"),
                  ("被申请人", "被申请人电话", "被申请人身份证号", "受理时间")],
    "hotline12345": [("来电人", "来电号码", None, "受理时间")],
}


def test_demo_files_carry_names_mobiles_and_valid_id_numbers(demo_files: dict[str, pd.DataFrame]) -> None:
    for dept, people in FILE_PEOPLE.items():
        frame = demo_files[dept]
        for name_col, phone_col, id_col, time_col in people:
            names = frame[name_col].astype(str)
            given = names[names != ""]
            assert len(given) > 0.5 * len(frame), (dept, name_col)
            assert given.map(lambda n: bool(CJK_NAME.fullmatch(n))).all(), given[~given.map(lambda n: bool(CJK_NAME.fullmatch(n)))].head()
            phones = frame[phone_col].astype(str)
            assert (phones != "").mean() > 0.75
            assert phones[phones != ""].map(lambda p: bool(MOBILE.fullmatch(p))).all()
            if id_col is None:
                continue
            ids = frame[id_col].astype(str)
            ids = ids[ids != ""]
            assert len(ids) > 0.6 * len(frame)
            assert ids.map(lambda n: len(n) == 18 and reference_check_char(n[:17]) == n[17]).all()
            assert set(ids.str[:6]) <= SHANWEI_COUNTIES and len(set(ids.str[:6])) == len(SHANWEI_COUNTIES)
            born = pd.to_datetime(ids.str[6:14], format="%Y%m%d")
            reported = pd.to_datetime(frame.loc[ids.index, time_col].map(
                lambda v: v if isinstance(v, dt.datetime) else None), errors="coerce")
            age = (reported - born).dt.days / 365.2425
            assert age.dropna().between(17.9, 85.1).all() and age.notna().mean() > 0.98
    hotline = demo_files["hotline12345"]["来电人"]
    assert hotline.str.endswith(("先生", "女士")).any() and (hotline == "").any()  # surname only, anonymous
    mediation = demo_files["mediation"]
    assert (mediation["申请人"] != mediation["被申请人"]).mean() > 0.95
    assert pd.concat([f[c] for f, c in ((mediation, "申请人"), (demo_files["petition"], "信访人姓名"))]).map(
        lambda n: n[:2] in COMPOUND_SURNAMES).any()


def test_demo_people_are_deterministic_per_seed(tmp_path: Path) -> None:
    from stand_in_city import stand_in_city
    from minqing.demo.events import write_events

    city = stand_in_city()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too few events for the calibration: scaled down, with a warning
        first = write_events(city, tmp_path / "a", events=4000, seed=3)
        again = write_events(city, tmp_path / "b", events=4000, seed=3)
        other = write_events(city, tmp_path / "c", events=4000, seed=4)
    for dept in PERSON_DEPTS:
        assert first.files[dept].read_bytes() == again.files[dept].read_bytes()
        assert first.files[dept].read_bytes() != other.files[dept].read_bytes()


@pytest.fixture(scope="module")
def demo(demo_db: Path):
    con = connect(str(demo_db), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def demo_persons(demo) -> pd.DataFrame:
    return demo.execute("SELECT p.*, e.dept FROM persons p JOIN events e USING (event_id)").df()


def test_demo_persons_cover_petitions_mediation_and_hotline(demo, demo_persons: pd.DataFrame) -> None:
    total = demo.execute("SELECT count(*) FROM persons").fetchone()[0]
    assert total == len(demo_persons), "every person belongs to a loaded event"
    assert not demo_persons.duplicated(["event_id", "role"]).any()
    roles = demo_persons.groupby("dept")["role"].unique().map(sorted).to_dict()
    assert roles == {d: sorted(r) for d, r in PERSON_DEPTS.items()}
    events = dict(demo.execute("SELECT dept, count(*) FROM events GROUP BY dept").fetchall())
    named = demo_persons.groupby("dept")["event_id"].nunique().to_dict()
    assert named == {d: events[d] for d in PERSON_DEPTS}  # every such record names someone (a phone at least)
    ids = demo_persons["id_number"].dropna()
    assert len(ids) > 0 and demo_persons.loc[ids.index, "id_valid"].all()
    assert demo_persons.loc[demo_persons["id_number"].isna(), "id_valid"].isna().all()
    assert (demo_persons.loc[demo_persons["role"] == "caller", "id_number"].isna()).all()


def occurrences(text: str, secrets: set[str]) -> set[str]:
    """The secrets that occur in `text` (every window of every secret length looked up: no regex of 100k names)."""
    found: set[str] = set()
    for n in {len(secret) for secret in secrets}:
        found |= {w for i in range(len(text) - n + 1) if (w := text[i:i + n]) in secrets}
    return found


def _secrets(demo_persons: pd.DataFrame) -> tuple[set[str], set[str]]:
    """(phones and ID numbers, names of 3+ characters): strings that must never appear elsewhere."""
    numbers = set(demo_persons["phone"].dropna()) | set(demo_persons["id_number"].dropna())
    names = {n for n in demo_persons["name"].dropna() if len(n) >= 3 and not n.endswith(("先生", "女士"))}
    return numbers, names


def test_events_table_holds_no_personal_data(demo, demo_persons: pd.DataFrame) -> None:
    numbers, names = _secrets(demo_persons)
    every_name = set(demo_persons["name"].dropna())
    columns = [c for c, t in demo.execute("SELECT column_name, data_type FROM information_schema.columns "
                                          "WHERE table_name = 'events'").fetchall() if t == "VARCHAR"]
    assert not {"name", "phone", "id_number"} & set(columns)
    for column in columns:
        values = {v for (v,) in demo.execute(f'SELECT DISTINCT "{column}" FROM events').fetchall() if v}
        assert not values & every_name and not values & numbers, column
        if column == "row_hash":  # 19 random digits: an 11-digit phone may occur in them by chance
            continue
        leaked = occurrences("\n".join(values), numbers | names)
        assert leaked == set(), (column, sorted(leaked)[:3])


def _rendered_maps(demo) -> tuple[str, pd.DataFrame]:
    counts = event_counts(demo, "small").set_index("grid_code")["event_count"]
    pages = [choropleth(prepare_level(demo, "small"), counts, title="事件数", basemap=Basemap.none())
             .get_root().render()]
    where = EventFilter(depts=tuple(PERSON_DEPTS))
    latest = latest_events(demo, as_of=AS_OF, where=where, limit=MAX_LIMIT)
    pages.append(markers_map(latest, basemap=Basemap.none()).get_root().render())
    pages.append(heatmap(heat_bins(demo, where=where), basemap=Basemap.none()).get_root().render())
    large = demo.execute("SELECT grid_code FROM grids WHERE level = 'large' ORDER BY grid_code LIMIT 1").fetchone()[0]
    history = event_history(demo, large, start=None, end=None, as_of=AS_OF, where=where, page_size=500)
    assert history.total > 0
    pages.append(history.rows.to_json(force_ascii=False, date_format="iso"))
    return "\n".join(pages), latest


def test_rendered_maps_hold_no_personal_data(demo, demo_persons: pd.DataFrame) -> None:
    html, latest = _rendered_maps(demo)
    assert len(latest) == MAX_LIMIT and set(latest["dept"]) <= set(PERSON_DEPTS)
    numbers, names = _secrets(demo_persons)
    shown = demo_persons[demo_persons["event_id"].isin(latest["event_id"])]
    names |= set(shown["name"].dropna())  # the people of the events on the map, whatever their length
    # As is, and with JSON's \\uXXXX escapes decoded (a name written as ASCII-escaped JSON).
    decoded = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), html)
    assert occurrences(html + "\n" + decoded, numbers | names) == set()
    assert latest["event_id"].str.split(":").str[1].map(lambda i: i in html).all()  # the markers are there
    planted = next(iter(names))
    assert planted in occurrences(html + planted, numbers | names)  # and the search would see a leak
    assert not set(latest.columns) & {"name", "phone", "id_number"}


def test_reloading_a_changed_demo_export_does_not_duplicate_persons(demo_dir: Path, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(demo_dir, tmp_path / "demo"))
    db = copy / "minqing.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        before = con.execute("SELECT count(*) FROM persons").fetchone()[0]
        hotline = con.execute("SELECT e.source_id, e.row_hash, e.updated_batch, p.phone FROM events e JOIN persons p USING (event_id) "
                              "WHERE e.dept = 'hotline12345' ORDER BY e.event_id").df()
    path = copy / "raw" / "hotline12345.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    once = frame["工单编号"].map(frame["工单编号"].value_counts()) == 1
    target = hotline[hotline["source_id"].isin(frame.loc[once, "工单编号"])].iloc[0]
    new_phone = "13900000000" if target["phone"] != "13900000000" else "13900000001"
    frame.loc[frame["工单编号"] == target["source_id"], "来电号码"] = new_phone
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    result = CliRunner().invoke(main, ["load", "--config", str(copy / "minqing.toml")])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        after = con.execute("SELECT count(*) FROM persons").fetchone()[0]
        doubled = con.execute("SELECT count(*) FROM (SELECT event_id, role FROM persons GROUP BY ALL "
                              "HAVING count(*) > 1)").fetchone()[0]
        phone, row_hash, updated = con.execute(
            "SELECT p.phone, e.row_hash, e.updated_batch FROM events e JOIN persons p USING (event_id) "
            "WHERE e.event_id = ?", [f"hotline12345:{target['source_id']}"]).fetchone()
        batches = con.execute("SELECT rows_loaded, rows_updated FROM load_batches ORDER BY batch_id DESC LIMIT 1").fetchone()
    assert after == before and doubled == 0
    assert phone == new_phone and row_hash == target["row_hash"]
    assert (updated is None and pd.isna(target["updated_batch"])) or updated == target["updated_batch"]
    assert batches == (0, 0)  # the events are unchanged: only the caller's phone was replaced


def test_quarantined_rows_keep_no_personal_data(demo_db) -> None:
    """rejects.raw keeps the source row for the fix, but names, phones and ID numbers are redacted there."""
    import duckdb

    with duckdb.connect(str(demo_db), read_only=True) as con:
        rows = con.execute("SELECT raw FROM rejects WHERE source IN ('petition', 'mediation', 'hotline12345')").fetchall()
    assert rows
    for (raw,) in rows:
        data = json.loads(raw)
        for column in ("信访人姓名", "联系电话", "身份证号", "申请人", "申请人电话", "被申请人身份证号", "来电人", "来电号码"):
            assert data.get(column) in (None, "", "***"), (column, data.get(column))
