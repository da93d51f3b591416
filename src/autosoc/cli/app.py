"""The ``autosoc`` command line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from autosoc import __version__
from autosoc.cli.errors import DEBUG, friendly_errors
from autosoc.cli.hunt import hunt_command
from autosoc.cli.query import query_command
from autosoc.cli.replay import replay_command
from autosoc.cli.run import run_command
from autosoc.cli.simulate import simulate_command

app = typer.Typer(help="autosoc: an autonomous SOC engine. Logs in, Sigma detections out.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
rules_app = typer.Typer(help="Work with Sigma rule sets.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.command("hunt")(friendly_errors(hunt_command))
app.command("run")(friendly_errors(run_command))
app.command("replay")(friendly_errors(replay_command))
app.command("query")(friendly_errors(query_command))
app.command("simulate")(friendly_errors(simulate_command))


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")] = False) -> None:
    DEBUG["on"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


@rules_app.command("check")
@friendly_errors
def rules_check(
    rules: Annotated[list[Path], typer.Argument(help="Sigma rule files or folders.")],
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Recompile instead of using the cache.")] = False,
) -> None:
    """Load rules and list every one that cannot run, with the reason. Exit 1 if any was skipped."""
    from autosoc.detect.sigma.loader import load_rules

    ruleset = load_rules(rules, use_cache=not no_cache)
    console = Console()
    for skipped in ruleset.skipped:
        console.print(f"{skipped.path}: [{skipped.code}] {skipped.reason}",
                      markup=False, highlight=False, soft_wrap=True)
    console.print(f"{len(ruleset.rules):,} rules and {len(ruleset.correlations):,} correlation rules loaded, "
                  f"{len(ruleset.skipped):,} skipped, from {ruleset.files:,} files.")
    if ruleset.skipped:
        raise typer.Exit(1)


def main() -> None:
    app()
