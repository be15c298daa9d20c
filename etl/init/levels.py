"""Grid levels from 1-3 boundary files: which file is which level, each level's parent, codes folded consistently,
and a trial load of the result through the loader's own grid code (so init's decisions are what `load` does)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from etl.assign import GridIndex
from etl.config import DEFAULT_AREA, GridSource
from etl.grids import GridReport, code_text, fold_leading_zeros, largest_overlap, load_grids
from etl.init.decisions import InitReport
from etl.init.gridfiles import GridFile
from store.errors import UserError
from store.schema import connect

LEVELS_FROM_THE_TOP: dict[int, tuple[str, ...]] = {1: ("small",), 2: ("medium", "small"),
                                                   3: ("large", "medium", "small")}
UPPER: dict[str, str] = {"small": "medium", "medium": "large"}
PARENT_COLUMN_AGREEMENT = 0.9  # a column is the parent code when it names the overlapping upper grid this often


@dataclass
class GridPlan:
    """The grids part of minqing.toml."""

    levels: dict[str, GridFile]
    parents: dict[str, str | None] = field(default_factory=dict)  # column name, "spatial" or None (the top)
    fold_zeros: bool = False
    repeated: dict[str, bool] = field(default_factory=dict)  # level -> its codes repeat (unioned)
    area: tuple[str, str] = DEFAULT_AREA

    def sources(self) -> dict[str, GridSource]:
        """The GridSource of each level, as load_config would build it from the drafted minqing.toml."""
        out = {}
        for level, grid in self.levels.items():
            parent = self.parents.get(level)
            out[level] = GridSource(
                level=level, path=grid.path, code=grid.code, name=grid.name,
                parent=parent if parent not in (None, "spatial") else None, population=grid.population,
                grandparent=None, encoding="auto", coordinates=grid.system.lower(),
                parent_rule=None if parent is None else "spatial" if parent == "spatial" else "column",
                repeated="union" if self.repeated.get(level) else "refuse",
                leading_zeros="drop" if self.fold_zeros else "keep")
        return out


def plan_grids(files: list[GridFile], report: InitReport, events: list[pd.DataFrame]) -> GridPlan:
    """Order the files into levels (the largest polygons on top), fold codes when the events or the parent columns
    write them without leading zeros, and find each level's parent."""
    if not 1 <= len(files) <= 3:
        raise UserError(f"give one to three grid files (--grids), not {len(files)}")
    ordered = sorted(files, key=lambda f: -f.median_km2)
    names = LEVELS_FROM_THE_TOP[len(files)]
    levels = dict(zip(names, ordered))
    for level, grid in levels.items():
        report.decide(grid.path.name, "level", level, f"median polygon {grid.median_km2:,.2f} km²; "
                      f"{len(files)} file(s) fill the levels from the bottom (small"
                      + (", medium" if len(files) > 1 else "") + (", large" if len(files) > 2 else "") + ")")
    plan = GridPlan(levels=levels)
    plan.fold_zeros = _fold_zeros(levels, events, report)
    for level, grid in levels.items():
        codes = grid.codes(plan.fold_zeros)
        repeated = codes[codes.duplicated(keep=False)]
        plan.repeated[level] = bool(len(repeated))
        if len(repeated):
            report.decide(grid.path.name, "repeated codes", "union",
                          f"{repeated.nunique()} code(s) appear in several rows ({', '.join(repeated.unique()[:4])}): "
                          "parts of one area, unioned into one grid each")
            spellings = grid.frame.loc[repeated.index, grid.name].astype(str).groupby(repeated).nunique()
            if (spellings > 1).any():
                report.ask(f"{grid.path.name}: rows sharing code(s) {', '.join(spellings[spellings > 1].index[:4])} have "
                           "different names; check they are one grid before loading")
    for level in names:
        upper = UPPER.get(level)
        if upper in levels:
            plan.parents[level] = _parent(levels[level], levels[upper], plan.fold_zeros, report)
    top = names[0]
    if top != "large":
        missing = [lvl for lvl in ("medium", "large") if lvl not in levels]
        report.decide("grids", "missing levels", ", ".join(missing),
                      f"no file for them: one grid of the whole area ({plan.area[0]} {plan.area[1]}) stands for "
                      f"{'each' if len(missing) > 1 else 'it'}, built from the {top} grids")
    return plan


def trial_load(plan: GridPlan) -> tuple[GridIndex, GridReport]:
    """Load the planned grids into a throw-away in-memory store with the loader's code; its index and report."""
    con = connect(":memory:")
    try:
        grid_report = load_grids(con, plan.sources(), area=plan.area)
        return GridIndex.from_db(con), grid_report
    finally:
        con.close()


def _fold_zeros(levels: dict[str, GridFile], events: list[pd.DataFrame], report: InitReport) -> bool:
    """Drop leading zeros everywhere when some level writes them ("0111") and an events column or a parent column
    writes the same codes without them ("111"), so codes compare equal on both sides."""
    padded = [lvl for lvl, g in levels.items() if g.codes().str.match(r"^0\d+$").any()]
    if not padded:
        return False
    witnesses = []
    for level, grid in levels.items():
        plain, folded = set(grid.codes()), set(grid.codes(True))
        for frame in [*events, *(g.frame for g in levels.values() if g is not grid)]:
            for column in frame.columns:
                if str(column).startswith("__") or column == getattr(frame, "_geometry_column_name", None):
                    continue
                values = frame[column].dropna().map(code_text).drop_duplicates().head(5000)
                values = values[values != ""]
                if len(values) < 2:
                    continue
                as_written = values.isin(plain).mean()
                without = values.map(fold_leading_zeros).isin(folded).mean()
                if without >= 0.8 and without > as_written + 0.1:
                    witnesses.append(f"{column!r} matches the {level} codes {without:.0%} without leading zeros, "
                                     f"{as_written:.0%} as written")
    if not witnesses:
        return False
    report.decide("grids", "leading zeros", "drop", f"{', '.join(padded)} codes are written with leading zeros and "
                  f"{witnesses[0]}; codes are compared without them on both sides")
    return True


def _parent(child: GridFile, parent: GridFile, fold: bool, report: InitReport) -> str:
    """A column of `child` naming the parent code that agrees with the largest overlap, else "spatial"."""
    frame_child = pd.DataFrame({"grid_code": child.codes(fold)})
    child_frame = child.frame.assign(grid_code=frame_child["grid_code"]).set_geometry(child.wgs84.values)
    parent_frame = parent.frame.assign(grid_code=parent.codes(fold)).set_geometry(parent.wgs84.values)
    overlap, shares = largest_overlap(child_frame.set_crs("EPSG:4326", allow_override=True),
                                      parent_frame.set_crs("EPSG:4326", allow_override=True))
    best: tuple[float, str] | None = None
    for column in child.frame.columns:
        if column in (child.code, child.frame.geometry.name):
            continue
        values = child.frame[column].map(code_text)
        if fold:
            values = values.map(fold_leading_zeros)
        agreement = float((values == overlap).mean())
        if agreement >= PARENT_COLUMN_AGREEMENT and (best is None or agreement > best[0]):
            best = (agreement, str(column))
    inside = f"median {shares.median():.1%} of each grid's area lies in that grid, lowest {shares.min():.1%}"
    if best is not None:
        report.decide(child.path.name, "parent", best[1], f"its values name the {parent.path.name} grid each polygon "
                      f"overlaps most for {best[0]:.1%} of the rows ({inside})")
        return best[1]
    report.decide(child.path.name, "parent", "spatial", f"no column names the {parent.path.name} codes; each grid's "
                  f"parent is the one it overlaps most ({inside})")
    if shares.min() < 0.5:
        report.ask(f"{child.path.name}: {int((shares < 0.5).sum())} grid(s) lie mostly outside the {parent.path.name} "
                   "grid they were given; check that the files nest")
    return "spatial"
