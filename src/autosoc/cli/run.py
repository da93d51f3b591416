"""``autosoc run``: the continuous pipeline (tail sources, detect, correlate, keep state)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from autosoc.errors import ConfigError, InputError
from autosoc.settings import TailSourceSettings, load_settings

if TYPE_CHECKING:
    from autosoc.runtime.pipeline import Pipeline, RunStats


def run_command(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file (see README).")] = None,
    source: Annotated[list[Path] | None, typer.Option(
        "--source", "-s", help="File or folder to tail; repeatable; adds to the config's sources.")] = None,
    rules: Annotated[list[Path] | None, typer.Option("--rules", "-r", help="Sigma rule file or folder; repeatable."
                                                     )] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Where state DB, lake and dead letters live.")] = None,
    state_url: Annotated[str | None, typer.Option(
        help="State DB URL (default: SQLite in the data dir); e.g. postgresql+psycopg://user@host/db.")] = None,
    once: Annotated[bool, typer.Option("--once", help="Read what is there, finish every window, stop.")] = False,
    replay: Annotated[Path | None, typer.Option(
        help="Replay this folder of recorded logs through the pipeline in event-time order (into "
             "DATA_DIR/replay, tailed like live logs), then stop.")] = None,
    rate: Annotated[float, typer.Option(min=0, help="With --replay: records per second (0: unthrottled).")] = 0.0,
    exclude: Annotated[list[str] | None, typer.Option(
        help="With --replay: skip files matching this glob (e.g. truth.json); repeatable.")] = None,
) -> None:
    """Run sources -> normalize -> detect -> correlate continuously, with state kept across restarts.

    Stop with Ctrl-C (or SIGTERM): the current batch is finished and committed. A killed run resumes
    from its last checkpoint without losing or repeating events.
    """
    overrides: dict[str, object] = {"data_dir": data_dir, "state_url": state_url}
    settings = load_settings(config, **overrides)
    if source:
        settings.sources.append(TailSourceSettings(paths=list(source)))
    if rules:
        settings.rules = [*settings.rules, *rules]
    spool = settings.data_dir / "replay"
    if replay is not None:
        if not replay.is_dir():
            raise InputError(f"--replay {replay}: not a folder of log files", code="missing_path")
        if spool.exists() and any(spool.iterdir()):
            raise ConfigError(f"{spool} holds an earlier replay: use a new --data-dir (a replay appends)",
                              code="replayed_before")
        spool.mkdir(parents=True, exist_ok=True)
        settings.sources = [TailSourceSettings(paths=[spool], settle_seconds=0.2)]
    err = Console(stderr=True)
    stop = {"now": False}

    def request_stop(signum: int, frame: object) -> None:
        if stop["now"]:
            raise KeyboardInterrupt
        stop["now"] = True
        err.print("Stopping after the current batch (again to abort)...")

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    from autosoc.runtime.pipeline import Pipeline  # the whole pipeline: imported only for this command

    with err.status("Loading rules and state...", spinner="dots"):
        pipeline = Pipeline(settings)
    err.print(f"Loaded {len(pipeline.ruleset.rules):,} rules, {len(pipeline.ruleset.correlations):,} correlation "
              f"rules ({len(pipeline.ruleset.skipped):,} skipped); state in {_safe_url(settings.state_database)}.")
    try:
        if replay is not None:
            from autosoc.runtime.replay import Replayer, plan, run_replayed

            with err.status("Ordering the recorded records by event time...", spinner="dots"):
                items = plan(replay, exclude=exclude or ())
            err.print(f"Replaying {sum(i.records for i in items):,} records from {replay}"
                      + (f" at {rate:,.0f}/s." if rate else "."))
            run_replayed(pipeline, Replayer(replay, spool, rate=rate), items, should_stop=lambda: stop["now"])
            stats = pipeline.stats
        else:
            stats = pipeline.run(once=once, should_stop=lambda: stop["now"])
        _summary(err, stats, pipeline)
    finally:
        pipeline.close()


def _safe_url(url: str) -> str:
    """The URL without its password."""
    head, sep, tail = url.partition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, userinfo = head.partition("//")
    return f"{scheme}//{userinfo.split(':', 1)[0]}:***@{tail}"


def _summary(console: Console, stats: RunStats, pipeline: Pipeline) -> None:
    table = Table(title="Run summary", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("events", f"{stats.events:,}")
    table.add_row("events/s", f"{stats.events_per_second:,.0f}")
    table.add_row("signals", f"{stats.signals:,}")
    for detector, count in sorted(stats.signals_by_detector.items()):
        table.add_row(f"  {detector}", f"{count:,}")
    table.add_row("incidents changed", f"{stats.incidents_changed:,}")
    table.add_row("checkpoints", f"{stats.checkpoints:,}")
    table.add_row("dead letters", f"{sum(stats.dead_letters.values()):,}")
    console.print(table)
    open_incidents = pipeline.store.incidents(status="open", limit=20)
    if open_incidents:
        top = Table(title="Open incidents (most recently active first)")
        top.add_column("severity")
        top.add_column("risk", justify="right")
        top.add_column("signals", justify="right")
        top.add_column("last seen", no_wrap=True)
        top.add_column("incident", overflow="fold", ratio=1)
        for incident in open_incidents:
            top.add_row(incident.severity, f"{incident.risk:,.0f}", f"{len(incident.signal_ids):,}",
                        incident.last_seen.strftime("%Y-%m-%d %H:%M"), incident.title)
        console.print(top)
        console.print("Each incident's signals, entities and reason: `autosoc query` over the lake, or the "
                      f"state DB ({_safe_url(pipeline.settings.state_database)}).", markup=False, highlight=False)
