"""``autosoc hunt``: run Sigma rules over log files and print what fired."""

from __future__ import annotations

import re
import sys
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from autosoc.cli.output import CsvWriter, JsonlWriter, SignalWriter, TableWriter, summary
from autosoc.errors import ConfigError
from autosoc.runtime.hunt import HUNT_BATCH_SIZE, HuntOptions, hunt, load
from autosoc.runtime.memory import keep_freed_memory
from autosoc.schema import LEVELS, RawBatch

EXIT_HITS = 10  # with --fail-on-hits: at least one detection
_DURATION = re.compile(r"(?P<count>[0-9]+)(?P<unit>[smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class OutputFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


def _placeholders(path: Path | None) -> dict[str, list[str]] | None:
    if path is None:
        return None
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read placeholders file {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, list | str) for v in data.values()):
        raise ConfigError(f"{path}: expected a mapping of placeholder name -> list of values")
    return {str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in data.items()}


def _lateness(text: str | None) -> timedelta | None:
    if text is None:
        return None
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ConfigError(f"--lateness must be a number and a unit (s, m, h, d), such as 5m, not {text!r}")
    return timedelta(seconds=int(match["count"]) * _UNIT_SECONDS[match["unit"]])


def hunt_command(
    paths: Annotated[list[Path], typer.Argument(help="Log files or folders (searched recursively).")],
    rules: Annotated[list[Path], typer.Option("--rules", "-r", help="Sigma rule file or folder; repeatable.")],
    min_level: Annotated[str, typer.Option(help=f"Lowest level to report: {', '.join(LEVELS)}.")] = "informational",
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write detections here (default stdout).")] = None,
    input_format: Annotated[str | None, typer.Option(
        "--input-format", help="Force a reader (evtx, jsonl, cloudtrail, syslog, csv) instead of detecting it.",
    )] = None,
    include: Annotated[list[str] | None, typer.Option(help="Only files matching this glob; repeatable.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Skip files matching this glob; repeatable.")] = None,
    dead_letters: Annotated[Path | None, typer.Option(
        help="Where records that cannot be read go (JSON lines).")] = Path("autosoc-deadletters.jsonl"),
    placeholders: Annotated[Path | None, typer.Option(
        help="YAML mapping of placeholder name -> values, for rules using |expand.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1_000_000, help="Records per batch.")] = HUNT_BATCH_SIZE,
    lateness: Annotated[str | None, typer.Option(
        help="Correlation rules: how far (5m, 1h) events may arrive out of time order; older ones are "
             "counted as late and ignored.  Default: no limit, windows are decided at the end of the run.",
    )] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompile rules instead of using the cache.")] = False,
    show_skipped: Annotated[bool, typer.Option(help="List every rule that was not loaded, with the reason.")] = False,
    fail_on_hits: Annotated[bool, typer.Option(help=f"Exit with {EXIT_HITS} when anything fired.")] = False,
) -> None:
    """Run Sigma rules (and Sigma correlation rules) over EVTX, JSON lines, CloudTrail, syslog or CSV files
    and report detections.

    Exit codes: 0 done; 1 an error stopped the run; 2 bad arguments; 10 detections with --fail-on-hits.
    """
    if min_level not in LEVELS:
        raise ConfigError(f"--min-level must be one of {', '.join(LEVELS)}, not {min_level!r}")
    err = Console(stderr=True)
    options = HuntOptions(
        rules=rules, input_format=input_format, include=include or (), exclude=exclude or (),
        min_level=min_level, batch_size=batch_size, placeholders=_placeholders(placeholders),
        use_cache=not no_cache, dead_letters=dead_letters, lateness=_lateness(lateness),
    )
    with err.status("Loading Sigma rules...", spinner="dots"):
        ruleset, engine = load(options)
    correlations = f", {len(ruleset.correlations):,} correlation rules" if ruleset.correlations else ""
    err.print(f"Loaded {len(ruleset.rules):,} rules{correlations} ({len(ruleset.skipped):,} skipped)"
              + (" from cache." if ruleset.from_cache else "."))
    stdout_console = Console()
    handle = None
    writer: SignalWriter
    if output_format is OutputFormat.table:
        writer = TableWriter(Console(file=output.open("w")) if output else stdout_console)
    elif output_format is OutputFormat.jsonl:
        handle = output.open("wb") if output else sys.stdout.buffer
        writer = JsonlWriter(handle)
    else:
        handle = output.open("w", newline="") if output else sys.stdout
        writer = CsvWriter(handle)
    progress = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), DownloadColumn(),
                        TextColumn("{task.fields[events]:,} events"), TimeRemainingColumn(),
                        console=err, transient=True, disable=not err.is_terminal)
    totals: dict[str, int] = {}
    with progress:
        task = progress.add_task("Hunting", total=None, events=0)
        events = 0

        def advance(batch: RawBatch) -> None:
            nonlocal events
            events += len(batch)
            totals[batch.path] = batch.bytes_read
            progress.update(task, completed=sum(totals.values()), events=events)

        keep_freed_memory()  # batch after batch the same large buffers: kept, not faulted in anew
        stats = hunt(paths, options, writer.write, engine=engine, on_batch=advance)
        progress.update(task, total=stats.bytes_total)
    writer.close()
    if handle is not None and output:
        handle.close()
    summary(err, stats, ruleset, show_skipped)
    if stats.dead_letters and dead_letters:
        err.print(f"Records that could not be read were written to {dead_letters}.")
    if fail_on_hits and stats.signals:
        raise typer.Exit(EXIT_HITS)
