"""``autosoc simulate``: write a synthetic scenario (telemetry + attack stories + ground truth)."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from autosoc.errors import ConfigError
from autosoc.simulate import generate


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ConfigError(f"--start must be a date like 2026-11-02, got {text!r}", code="bad_option") from exc


def simulate_command(
    days: Annotated[int, typer.Option(help="Days of telemetry to generate.")] = 14,
    users: Annotated[int, typer.Option(help="People in the organisation (each has a workstation).")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed: the same arguments give byte-identical output.")] = 1,
    out: Annotated[Path, typer.Option(help="Output directory (new, empty, or an earlier scenario to replace).")] = Path(
        "scenario"),
    start: Annotated[str, typer.Option(help="First day (UTC date), e.g. 2026-11-02.")] = "2026-11-02",
) -> None:
    """Generate realistic Windows, Entra ID, CloudTrail and Zeek logs with five injected attack stories."""
    first = _date(start)
    err = Console(stderr=True)
    began = time.perf_counter()
    with err.status("Generating...") as status:
        summary = generate(days=days, users=users, seed=seed, out=out, start=first,
                           progress=lambda day: status.update(f"Generating {day}..."))
    seconds = time.perf_counter() - began
    table = Table(title=f"Scenario written to {summary.out}", show_header=True)
    table.add_column("source")
    table.add_column("records", justify="right")
    for source, n in sorted(summary.counts.items()):
        table.add_row(source, f"{n:,}")
    table.add_row("total", f"{sum(summary.counts.values()):,}")
    table.add_row("files", f"{summary.files:,}")
    err.print(table)
    for story in summary.stories:
        err.print(f"story {story.type} {story.id}: {len(story.events):,} records, {story.title}",
                  markup=False, highlight=False)
    err.print(f"done in {seconds:.1f} s; ground truth in {summary.out / 'truth.json'}", markup=False, highlight=False)
