"""The JSON Lines reader parses plain lines with orjson and every other line with Python's json: whatever the line,
it gives exactly what json alone gives (the same values with the same types and key order, or the same row error)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import etl.readers as readers

SETTINGS = settings(max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 150)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


class _JsonOnly:
    """Stands in for orjson: refuses every line, so the reader falls back to json for all of them."""

    JSONDecodeError = orjson.JSONDecodeError

    @staticmethod
    def loads(_line: str) -> object:
        raise orjson.JSONDecodeError("refused", "", 0)


def json_only(line: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    with monkeypatch.context() as patch:
        patch.setattr(readers, "orjson", _JsonOnly)
        return readers._json_line(line)


def same(got: dict[str, object], want: dict[str, object]) -> bool:
    """Equal with types (1 is not 1.0) and key order; NaN equal to NaN."""
    return repr(got) == repr(want)


values = st.recursive(
    st.none() | st.booleans() | st.text() | st.floats() | st.integers(min_value=-10**30, max_value=10**30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8)
LINES = [
    '{"a": 1, "a": 2}',  # a repeated key: the last one
    '{"a": NaN, "b": Infinity, "c": -Infinity}',  # json's own extensions
    '{"n": 12345678901234567890123}', '{"n": 18446744073709551616}', '{"n": 9223372036854775807}',
    '{"n": 1e400}', '{"n": -0.0}', '{"n": 1.0}', '{"n": 0.1}', '{"n": 5e-324}',
    '{"s": "\\ud800"}', '{"s": "\\ud83d\\ude00"}', '{"s\\udc00": 1}', '{"s": "\\\\ud800"}',
    '{"s": "tab\there"}', '{"s": "\\u0000"}', '[1, 2]', '"text"', "7", "", "{", '{"a": 1,}', '{"a": 1} x',
    "[" * 2000 + "]" * 2000, '{"deep": ' + "[" * 1100 + "]" * 1100 + "}", '  {"a": "空格"}  ',
]


@pytest.mark.parametrize("line", LINES)
def test_a_tricky_line_reads_as_json_reads_it(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert same(readers._json_line(line), json_only(line, monkeypatch))


@SETTINGS
@given(record=st.dictionaries(st.text(), values, max_size=6), ascii_only=st.booleans())
@example(record={"id": "L1", "n": 10**25, "f": float("nan")}, ascii_only=True)
def test_any_object_reads_as_json_reads_it(record: dict[str, object], ascii_only: bool,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    line = json.dumps(record, ensure_ascii=ascii_only)
    assert same(readers._json_line(line), json_only(line, monkeypatch))


def test_a_file_with_a_long_number_checks_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "lines.jsonl"
    path.write_text('{"id": "A", "n": 1}\n{"id": "B", "n": 123456789012345678901234567890}\n', encoding="utf-8")
    frame = readers.read_raw(path, fmt="jsonl").table
    assert frame["n"].tolist() == [1, 123456789012345678901234567890]
