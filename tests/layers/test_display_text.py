"""Text shown to people (layers.display_text): bidi controls as visible tokens, long text cut with "…", and the map
layers (choropleth tooltip, marker tooltip and popup) using it. The loaded-store side (values kept whole, exports
whole, the feed) is in tests/etl/test_hostile_input.py."""

from __future__ import annotations

import datetime as dt
import html
import json
import sys
import unicodedata

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.choropleth import GridChoropleth, choropleth
from layers.display_text import BIDI_CONTROLS, BIDI_TOKENS, DISPLAY_LIMIT, ELLIPSIS, display_text, has_bidi_controls
from layers.geometry import prepared_from_frame
from layers.markers import POPUP_FIELDS, event_markers, markers_map
from layers.offline import Basemap

EXPLICIT_CLASSES = {"LRE", "RLE", "PDF", "LRO", "RLO", "LRI", "RLI", "FSI", "PDI"}  # Unicode bidi classes
MARKS = {"\u061c", "\u200e", "\u200f"}  # ALM, LRM, RLM (classes AL, L, R: found by name, not by class)
bidi_heavy = st.text(alphabet=st.sampled_from([*BIDI_TOKENS, "a", "网", " ", "⟨", "⟩", "&", "<", "ع", "א"]),
                     max_size=300)
any_text = st.one_of(bidi_heavy, st.text(max_size=300))


def test_every_bidi_control_is_a_token() -> None:
    found = {chr(c) for c in range(sys.maxunicode + 1) if unicodedata.bidirectional(chr(c)) in EXPLICIT_CLASSES}
    assert found | MARKS == set(BIDI_TOKENS)
    for ch, token in BIDI_TOKENS.items():
        assert display_text(f"a{ch}b") == f"a{token}b"
        assert token == f"⟨{token[1:-1]}⟩" and token[1:-1].isupper() and not has_bidi_controls(token)
    assert display_text("\u202eexe.txt") == "⟨RLO⟩exe.txt"
    assert display_text("第2\u2066网格\u2069") == "第2⟨LRI⟩网格⟨PDI⟩"


def test_plain_and_right_to_left_letters_are_left_alone() -> None:
    for text in ("", "马墩社区·第1网格", "مرحبا", "שלום", "<b>&</b>", "a" * DISPLAY_LIMIT):
        assert display_text(text) == text
    assert display_text(None) == "" and display_text(12) == "12"


def test_long_text_is_cut_with_a_visible_ellipsis() -> None:
    assert display_text("网" * (DISPLAY_LIMIT + 1)) == "网" * (DISPLAY_LIMIT - 1) + ELLIPSIS
    assert len(display_text("x" * (10 << 20))) == DISPLAY_LIMIT  # 10 MB in, 200 characters out
    assert display_text("abcdef", limit=4) == "abc…" and display_text("abcd", limit=4) == "abcd"
    assert display_text("x" * 1000, limit=None) == "x" * 1000


def test_a_token_is_never_cut_in_half() -> None:
    text = "a" * (DISPLAY_LIMIT - 3) + "\u202e" + "b"  # the token ⟨RLO⟩ would straddle the limit
    assert display_text(text) == "a" * (DISPLAY_LIMIT - 3) + ELLIPSIS
    assert display_text("\u202e" * (1 << 20)) == "⟨RLO⟩" * ((DISPLAY_LIMIT - 1) // 5) + ELLIPSIS
    fits = "a" * (DISPLAY_LIMIT - 5) + "\u202e"  # 195 + 5 characters: fits exactly
    assert display_text(fits) == "a" * (DISPLAY_LIMIT - 5) + "⟨RLO⟩"


@settings(max_examples=300, deadline=None)
@given(any_text, st.integers(min_value=1, max_value=250))
def test_display_text_properties(text: str, limit: int) -> None:
    shown = display_text(text, limit)
    whole = BIDI_CONTROLS.sub(lambda m: BIDI_TOKENS[m.group()], text)
    assert not has_bidi_controls(shown) and len(shown) <= limit
    if len(whole) <= limit:
        assert shown == whole
    else:
        assert shown.endswith(ELLIPSIS) and whole.startswith(shown[: -len(ELLIPSIS)])
    assert display_text(text, None) == whole


# --- the map layers use it ----------------------------------------------------------------


def _events(description: str, address: str, small: str) -> pd.DataFrame:
    return pd.DataFrame([{
        "event_id": "x:1", "dept": "d", "category": "c", "category_name": "市容\u202e环境", "status": "in_progress",
        "reported_at": dt.datetime(2024, 3, 1, 10), "dispatched_at": None, "closed_at": None, "due_at": None,
        "overdue": False, "lon": 115.05, "lat": 22.95, "grid_small": "S1", "grid_small_name": small,
        "grid_medium": "M1", "grid_medium_name": "东村", "grid_large": "L1", "grid_large_name": "甲镇",
        "address": address, "description": description,
    }])  # fmt: skip


def test_marker_tooltip_and_popup_show_display_text() -> None:
    events = _events("述" * (1 << 20) + "<", "\u202eexe.txt", "第1\u2067网格")
    layer = event_markers(events, dept_names={"d": "城管\u202d局"})
    (row,) = layer.rows
    popup = dict(zip(POPUP_FIELDS, row[5]))
    assert popup["描述"] == "述" * (DISPLAY_LIMIT - 1) + ELLIPSIS
    assert popup["地址"] == "⟨RLO⟩exe.txt" and popup["部门"] == "城管⟨LRO⟩局"
    assert popup["网格"] == "甲镇 / 东村 / 第1⟨RLI⟩网格" and row[4][0] == "市容⟨RLO⟩环境"
    assert len(json.dumps(row, ensure_ascii=False).encode("utf-8")) < 2 * 1024
    out = markers_map(events, dept_names={"d": "城管\u202d局"}, basemap=Basemap.none()).get_root().render()
    assert not has_bidi_controls(out) and "述" * DISPLAY_LIMIT not in out


def test_marker_popup_escapes_after_cutting() -> None:
    (row,) = event_markers(_events("<" * 500, "a&b", "S"), dept_names={}).rows
    popup = dict(zip(POPUP_FIELDS, row[5]))
    assert popup["描述"] == html.escape("<" * (DISPLAY_LIMIT - 1)) + ELLIPSIS and popup["地址"] == "a&amp;b"


@pytest.mark.parametrize("name", ["\u202e第1网格", "网" * (1 << 20)])
def test_choropleth_tooltip_shows_display_text(name: str) -> None:
    frame = gpd.GeoDataFrame({"grid_code": ["S1\u2066", "S2"], "name": [name, "第2网格"]},
                             geometry=[shapely.box(115.0, 22.9, 115.1, 23.0), shapely.box(115.1, 22.9, 115.2, 23.0)],
                             crs=4326)
    prepared = prepared_from_frame(frame, level="small")
    counts = pd.Series([3, 1], index=["S1\u2066", "S2"])
    props = GridChoropleth(prepared, counts).properties()
    assert props[0]["name"] == html.escape(display_text(name)) and props[0]["code"] == "S1⟨LRI⟩"
    assert props[0]["value"] == "3"  # the value still found by the stored code
    out = choropleth(prepared, counts, title="网格", basemap=Basemap.none()).get_root().render()
    assert not has_bidi_controls(out) and "网" * DISPLAY_LIMIT not in out and len(out.encode("utf-8")) < 16 * 1024
