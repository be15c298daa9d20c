"""The load report printed by `minqing load`: grids, a table per department, the top reject reasons."""

from __future__ import annotations

import io
from collections import Counter
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from rich import box
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # only for the annotations: `minqing users list` need not import the loader
    from etl.load import LoadReport

_HEADERS = ("department", "files", "in", "loaded", "updated", "duplicate", "rejected", "outside grids")
_WIDTH = 10_000  # render at full width: a narrow or absent terminal must not wrap the rows


def load_table(report: LoadReport) -> list[tuple[object, ...]]:
    """One row per department with the summed accounting of the files it read, plus a total row (failed files
    read nothing: they are listed apart, see print_load_report)."""
    rows: dict[str, list[int]] = {}
    for result in report.files:
        if result.error is not None:
            continue
        row = rows.setdefault(result.dept, [0] * 7)
        for i, value in enumerate((1, result.rows_in, result.loaded, result.updated, result.duplicate,
                                   result.rejected, result.outside_grid)):
            row[i] += value
    table = [(dept, *values) for dept, values in rows.items()]
    if table:
        totals = [sum(r[i] for r in table) for i in range(1, 8)]
        table.append(("total", *totals))
    return table


def table_lines(headers: Sequence[str], rows: Iterable[Sequence[object]], *, numeric: Sequence[bool] | None = None,
                total: bool = False, header: bool = True, indent: int = 0) -> list[str]:
    """Rows as plain-text table lines (rich measures East Asian wide characters, so Chinese text lines up).

    `numeric` right-aligns those columns (default: every column but the first); `total` rules off the last
    row; `header=False` leaves the header out. The first column starts at `indent`; cells are plain text (no
    colours, and no rich markup or emoji codes are interpreted)."""
    rows = [[str(x) for x in row] for row in rows]
    right = list(numeric) if numeric is not None else [i > 0 for i in range(len(headers))]
    table = Table(box=box.SIMPLE, show_edge=False, show_header=header, show_footer=total, pad_edge=False,
                  header_style="", footer_style="", expand=False)
    footer = rows.pop() if total and rows else [""] * len(headers)
    for name, is_number, last in zip(headers, right, footer):
        table.add_column(name, footer=last, justify="right" if is_number else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    buffer = io.StringIO()
    console = Console(file=buffer, width=_WIDTH, color_system=None, force_terminal=False, force_jupyter=False,
                      markup=False, emoji=False, highlight=False, soft_wrap=False, legacy_windows=False)
    console.print(table)
    return [" " * indent + line.rstrip() for line in buffer.getvalue().splitlines() if line.strip()]


def print_load_report(report: LoadReport, *, echo: Callable[[str], None]) -> None:
    """Print the report as aligned text."""
    if report.grids is not None:
        counts = ", ".join(f"{level} {n}" for level, n in report.grids.counts.items())
        state = "updated" if report.grids.changed else "unchanged"
        echo(f"grids ({state}, version {report.grids.version}): {counts}")
        for note in report.grids.notes:
            echo(f"  note: {note}")
    table = load_table(report)
    if not table and not report.files:
        echo("no department files found")
        return
    if table:
        for line in table_lines(_HEADERS, table, total=True):
            echo(line)
    for result in report.files:
        for note in result.notes:
            echo(f"  note: {note}")
    for result in report.files:
        if result.error is not None:  # the message names the file already (a UserError always does)
            where = "" if result.error.startswith(str(result.path)) else f" {result.path}"
            echo(f"failed: {result.dept}{where}: {result.error}")
        elif result.problem is not None:
            echo(f"all rows rejected: {result.dept} {result.path}: {result.problem}")
    skipped = [r for r in report.files if r.skipped]
    if skipped:
        echo(f"{len(skipped)} file(s) unchanged since their last load: counted as duplicates")
    reasons: Counter[str] = Counter()
    for result in report.files:
        for reason, count in result.top_reasons:
            reasons[f"{result.dept}: {reason}"] += count
    if reasons:
        echo("top reject reasons (see `minqing rejects`):")
        top = [(count, reason) for reason, count in reasons.most_common(8)]
        for line in table_lines(("rows", "reason"), top, numeric=(True, False), header=False, indent=2):
            echo(line)
