"""``autosoc simulate`` then ``autosoc run --replay``: the main job's path, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from autosoc.cli.app import app
from autosoc.store import StateStore

NOT_LOGS = ("truth.json", "scenario.json", "identities.csv", "README.txt")


def test_simulate_then_replay_through_run_gives_incidents_that_cite_the_attack(
        sigma_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    scenario = tmp_path / "scenario"
    made = runner.invoke(app, ["simulate", "--days", "4", "--users", "12", "--seed", "3", "--out", str(scenario)])
    assert made.exit_code == 0, made.output
    config = tmp_path / "autosoc.yml"
    config.write_text(yaml.safe_dump({
        "data_dir": "state", "rules": [str(sigma_dir / "rules" / "windows")],
        "enrich": {"identities": {"path": "scenario/identities.csv"}},
        "pipeline": {"checkpoint_seconds": 0.2, "poll_seconds": 0.05},
    }))
    args = ["run", "--config", str(config), "--replay", str(scenario)]
    for name in NOT_LOGS:
        args += ["--exclude", name]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Open incidents" in result.output and "Run summary" in result.output
    with StateStore(f"sqlite:///{tmp_path / 'state' / 'state.db'}") as store:
        incidents = store.incidents(limit=100)
        signals = {s["signal_id"]: s for s in store.signals(limit=100_000)}
    truth = json.loads((scenario / "truth.json").read_text())
    ransomware = next(s for s in truth["stories"] if s["type"] == "c")
    attack = {(e["path"], e["record"]) for e in ransomware["events"]}
    cited = {sid for sid, s in signals.items()
             if any((str(Path(o["path"]).relative_to(tmp_path / "state" / "replay")), o["record"]) in attack
                    for o in s["origins"])}
    assert cited, "no signal cites the ransomware story's events"
    holding = [i for i in incidents if cited & set(i.signal_ids)]
    assert len(holding) == 1  # the whole story in one incident
    # a second replay into the same state would append twice: refused with a clear error
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "holds an earlier replay" in again.output
