"""The vectorised offset test (Arrow's regex over a column) says what the Python pattern says for every text."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.timeparse import _HAS_OFFSET, _has_offset

PIECES = st.sampled_from(["0", "1", "8", "2024-03-01", "T", " ", "10:00", ":", "+", "-", "Z", "z", "08", "0800",
                          "０", "８", "+０８:００", "٣", ".5", "\n", "时"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(PIECES, max_size=8).map("".join), min_size=1, max_size=40))
def test_vectorised_offset_test_equals_the_pattern(texts: list[str]) -> None:
    column = pd.Series(texts, dtype="str")
    assert _has_offset(column).tolist() == [bool(_HAS_OFFSET.search(t)) for t in texts]
    assert _has_offset(pd.Series(texts, dtype=object)).tolist() == [bool(_HAS_OFFSET.search(t)) for t in texts]
