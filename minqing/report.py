"""The load report printed by `minqing load`: grids, a table per department, the top reject reasons."""

from __future__ import annotations

from collections import Counter
from typing import Callable

from etl.load import LoadReport

_HEADERS = ("department", "files", "in", "loaded", "updated", "duplicate", "rejected", "outside grids")


def load_table(report: LoadReport) -> list[tuple[object, ...]]:
    """One row per department with the summed accounting, plus a total row."""
    rows: dict[str, list[int]] = {}
    for result in report.files:
        row = rows.setdefault(result.dept, [0] * 7)
        for i, value in enumerate((1, result.rows_in, result.loaded, result.updated, result.duplicate,
                                   result.rejected, result.outside_grid)):
            row[i] += value
    table = [(dept, *values) for dept, values in rows.items()]
    if table:
        totals = [sum(r[i] for r in table) for i in range(1, 8)]
        table.append(("total", *totals))
    return table


def print_load_report(report: LoadReport, *, echo: Callable[[str], None]) -> None:
    """Print the report as aligned text."""
    if report.grids is not None:
        counts = ", ".join(f"{level} {n}" for level, n in report.grids.counts.items())
        state = "updated" if report.grids.changed else "unchanged"
        echo(f"grids ({state}, version {report.grids.version}): {counts}")
        for note in report.grids.notes:
            echo(f"  note: {note}")
    table = load_table(report)
    if not table:
        echo("no department files found")
        return
    widths = [max(len(str(x)) for x in column) for column in zip(_HEADERS, *table)]
    for row in (_HEADERS, *table):
        echo("  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(row, widths))))
    for result in report.files:
        for note in result.notes:
            echo(f"  note: {note}")
    skipped = [r for r in report.files if r.skipped]
    if skipped:
        echo(f"{len(skipped)} file(s) unchanged since their last load: counted as duplicates")
    reasons: Counter[str] = Counter()
    for result in report.files:
        for reason, count in result.top_reasons:
            reasons[f"{result.dept}: {reason}"] += count
    if reasons:
        echo("top reject reasons (see `minqing rejects`):")
        for reason, count in reasons.most_common(8):
            echo(f"  {count:>7}  {reason}")
