"""``autosoc simulate`` as a command: options, output, and a clear error for a bad date."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from autosoc.cli.errors import friendly_errors
from autosoc.cli.simulate import simulate_command

app = typer.Typer()
app.command("simulate")(friendly_errors(simulate_command))
app.command("noop")(lambda: None)  # two commands, so "simulate" stays a subcommand
runner = CliRunner()


def test_simulate_writes_a_scenario(tmp_path: Path) -> None:
    out = tmp_path / "s"
    result = runner.invoke(app, ["simulate", "--days", "1", "--users", "6", "--seed", "5", "--out", str(out),
                                 "--start", "2026-11-04"])
    assert result.exit_code == 0, result.output
    scenario = json.loads((out / "scenario.json").read_text())
    assert scenario["parameters"] == {"seed": 5, "start": "2026-11-04", "days": 1, "users": 6}
    assert (out / "truth.json").is_file() and (out / "identities.csv").is_file()
    assert "story c" in result.stderr


def test_bad_start_date_is_one_clear_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path / "x"), "--start", "next monday"])
    assert result.exit_code == 1
    assert "--start must be a date" in result.stderr
