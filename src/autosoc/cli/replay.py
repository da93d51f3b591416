"""``autosoc replay``: recorded logs -> a live feed in a folder, in event-time order, at a rate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from autosoc.errors import InputError
from autosoc.runtime.replay import Replayer, ReplayItem, plan


def replay_command(
    source: Annotated[Path, typer.Argument(help="Folder (or file) of recorded logs, e.g. an `autosoc simulate` "
                                           "output.")],
    spool: Annotated[Path, typer.Argument(help="Folder to write the live feed into (point `autosoc run` at it).")],
    rate: Annotated[float, typer.Option(min=0, help="Records per second; 0 writes as fast as possible.")] = 10000.0,
    include: Annotated[list[str] | None, typer.Option(help="Only files matching this glob; repeatable.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Skip files matching this glob; repeatable.")] = None,
) -> None:
    """Append every record of SOURCE to the same relative path under SPOOL, in event-time order.

    Line numbers are kept, so the provenance of replayed events is that of the recorded files.
    """
    if not source.exists():
        raise InputError(f"{source} does not exist; pass a folder of log files", code="missing_path")
    if spool.resolve() == source.resolve() or source.resolve() in spool.resolve().parents:
        raise InputError("the spool folder must not be inside the source folder", code="bad_spool")
    err = Console(stderr=True)
    with err.status("Ordering records by event time...", spinner="dots"):
        items = plan(source, include=include or (), exclude=exclude or ())
    total = sum(i.records for i in items)
    progress = Progress(TextColumn("Replaying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=err, transient=True, disable=not err.is_terminal)
    with progress:
        task = progress.add_task("replay", total=total)

        def advance(item: ReplayItem, _at: float) -> None:
            progress.advance(task, item.records)

        written = Replayer(source, spool, rate=rate, on_write=advance if err.is_terminal else None).run(items)
    err.print(f"Replayed {written:,} records from {len(items):,} writes into {spool}.")
