"""Where the real public data is (<repo>/../shared/data/real, else $MINQING_REAL_DATA) and how its recorded codes
read: shared by the tests that load it (they skip when it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

NYC_BOROUGHS = {"MANHATTAN": 1, "BRONX": 2, "BROOKLYN": 3, "QUEENS": 4, "STATEN ISLAND": 5}


def real_data_dir() -> Path | None:
    """The folder holding MANIFEST.csv, or None."""
    default = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
    candidates = [default]
    if os.environ.get("MINQING_REAL_DATA"):
        candidates.append(Path(os.environ["MINQING_REAL_DATA"]))
    for candidate in candidates:
        if (candidate / "MANIFEST.csv").is_file():
            return candidate.resolve()
    return None


REAL = real_data_dir()
needs_real_data = pytest.mark.skipif(
    REAL is None,
    reason="real data not found: expected <repo>/../shared/data/real (with MANIFEST.csv) or $MINQING_REAL_DATA",
)


def code(values: pd.Series) -> pd.Series:
    """A recorded code as the unpadded text the grids use ('01' -> '1', '0215' -> '215')."""
    return pd.to_numeric(values, errors="coerce").astype("Int64").astype(str)


def recorded_boro_cd(community_board: pd.Series) -> pd.Series:
    """'12 MANHATTAN' -> '112'; 'Unspecified BRONX', '0 Unspecified' -> NA."""
    parts = community_board.str.extract(r"^(\d{1,2}) (.+)$")
    number = pd.to_numeric(parts[0], errors="coerce")
    borough = parts[1].map(NYC_BOROUGHS)
    boro_cd = (borough * 100 + number).where((number > 0) & borough.notna())
    return boro_cd.astype("Int64").astype(str).where(boro_cd.notna())
