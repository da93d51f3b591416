"""The Windows stories trip the SigmaHQ rules real intrusions trip, through the real engine."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from autosoc.runtime.hunt import HuntOptions, hunt
from autosoc.schema import Signal

RULE_DIRS = ("process_creation", "process_access", "network_connection", "file/file_event",
             "builtin/system/service_control_manager")
EXPECTED = {
    "c-ransomware": {
        "438025f9-5856-4663-83f7-52f878a70a50",  # Suspicious Microsoft Office Child Process
        "ca2092a1-c273-4878-9b4b-0d60115bf5ea",  # Suspicious Encoded PowerShell Command Line
        "646ea171-dded-4578-8a4d-65e9822892e3",  # Process Memory Dump Via Comsvcs.DLL
        "a49fa4d5-11db-418c-8473-1e014a8dd462",  # Lsass Memory Dump via Comsvcs DLL (Sysmon 10)
        "85ff530b-261d-48c6-a441-facaa2e81e48",  # New Service Creation Using Sc.EXE
        "42c575ea-e41e-41f1-b248-8093c3e82a28",  # PsExec Service Installation (System 7045)
        "c947b146-0abc-4c87-9c64-b17e9d7274a2",  # Shadow Copies Deletion Using Operating Systems Utilities
        "0e29e3a7-1ad8-40aa-b691-9f82ecd33d66",  # Office Macro File Download
    },
    "e-web-beacon": {
        "8202070f-edeb-4d31-a010-a26c72ac5600",  # Suspicious Process By Web Server Process
        "19b08b1c-861d-4e75-a1ef-ea0c1baf202b",  # Suspicious Download Via Certutil.EXE
        "cdc8da7d-c303-42f8-b08c-b4ab47230263",  # Rundll32 Internet Connection
    },
}


@pytest.fixture(scope="module")
def signals_by_story(scenario_dir: Path, sigma_dir: Path, tmp_path_factory: pytest.TempPathFactory
                     ) -> dict[str | None, set[str]]:
    rules = [sigma_dir / "rules" / "windows" / d for d in RULE_DIRS]
    missing = [r for r in rules if not r.exists()]
    if missing:
        pytest.skip(f"SigmaHQ rule folders missing: {missing}")
    truth = json.loads((scenario_dir / "truth.json").read_text())
    story_of = {(e["path"], e["record"]): s["id"] for s in truth["stories"] for e in s["events"]}
    found: dict[str | None, set[str]] = defaultdict(set)

    def take(signals: list[Signal]) -> None:
        for signal in signals:
            for origin in signal.origins:
                rel = Path(origin.path).resolve().relative_to(scenario_dir.resolve()).as_posix()
                found[story_of.get((rel, origin.record or 0))].add(signal.rule_id)

    hunt([scenario_dir / "windows"], HuntOptions(rules=rules, dead_letters=tmp_path_factory.mktemp("dl") / "d.jsonl"),
         take)
    return found


@pytest.mark.parametrize("story", sorted(EXPECTED))
def test_windows_story_trips_the_rules(signals_by_story: dict[str | None, set[str]], story: str) -> None:
    missing = EXPECTED[story] - signals_by_story.get(story, set())
    assert not missing, f"{story}: rules that did not fire: {sorted(missing)}"


def test_story_rules_are_not_what_benign_activity_trips(signals_by_story: dict[str | None, set[str]]) -> None:
    benign = signals_by_story.get(None, set())
    # the high-fidelity story detections do not fire on benign activity
    for rule in ("646ea171-dded-4578-8a4d-65e9822892e3", "a49fa4d5-11db-418c-8473-1e014a8dd462",
                 "c947b146-0abc-4c87-9c64-b17e9d7274a2", "8202070f-edeb-4d31-a010-a26c72ac5600"):
        assert rule not in benign
    # and, as in real networks, benign tools trip some noisy rules (encoded monitoring PowerShell)
    assert "fb843269-508c-4b76-8b8d-88679db22ce7" in benign
