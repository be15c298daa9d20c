"""`minqing init`: draft a project from a city's own boundary files and event exports, and say why."""

from __future__ import annotations

from pathlib import Path

import click

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--grids", "grids", type=FILE, multiple=True, required=True,
              help="A grid boundary file (GeoJSON, GeoPackage, Shapefile); one to three, in any order.")
@click.option("--events", "events", type=FILE, multiple=True, required=True,
              help="An events export (CSV, TSV, TXT, XLSX, JSON, GeoPackage...; .gz too); repeat for several.")
@click.option("--force", is_flag=True, help="Replace minqing.toml, categories.toml and mappings/ if they exist.")
def init(directory: Path, grids: tuple[Path, ...], events: tuple[Path, ...], force: bool) -> None:
    """Inspect the files and write DIRECTORY/minqing.toml, one mapping per events file and categories.toml, so that
    `minqing load --config DIRECTORY/minqing.toml` works with no edits. Every decision is printed with its reason."""
    from etl.init.project import init_project

    directory.mkdir(parents=True, exist_ok=True)
    report = init_project(directory, list(grids), list(events), force=force)
    print_init_report(report, directory)


def print_init_report(report, directory: Path) -> None:  # report: etl.init.decisions.InitReport
    """The decisions as a table, the "needs a person" list and the next command."""
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False, width=max(Console().width, 140))
    table = Table(title="minqing init: decisions", show_lines=False, expand=True)
    for heading, ratio in (("file", 2), ("decision", 2), ("choice", 3), ("why", 6)):
        table.add_column(heading, ratio=ratio, overflow="fold")
    for decision in report.decisions:
        table.add_row(decision.subject, decision.topic, decision.choice, decision.why)
    console.print(table)
    if report.needs_person:
        console.print("[bold]needs a person[/bold]")
        for item in report.needs_person:
            console.print(f"  - {item}", markup=False)
    console.print("written: " + ", ".join(report.written), markup=False)
    console.print(f"next: minqing load --config {directory / 'minqing.toml'}", markup=False)
