"""Crash safety: ``autosoc run`` killed with SIGKILL at random points resumes without loss or repeats.

An uninterrupted ``autosoc run --once`` and one killed again and again (at seeded random
checkpoints) over the same input must end with the same signals, the same incidents (ids,
members, severity, status) and the same lake: every input record exactly once.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from autosoc.store import EventLake, StateStore

KILLS = 4


def _config(tmp: Path, inputs: Path, rules: list[Path], name: str, front_process: bool = False) -> Path:
    config = {
        "data_dir": str(tmp / name),
        "sources": [{"paths": [str(inputs)], "settle_seconds": 0}],
        "rules": [str(r) for r in rules],
        "pipeline": {"batch_size": 5, "checkpoint_seconds": 0, "front_process": front_process},
        "lake": {"retention_days": None},  # the samples are years old
    }
    path = tmp / f"{name}.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def _start(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with (config.parent / f"{config.stem}.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "autosoc", "run", "--once", "-c", str(config)],
                                stdout=subprocess.DEVNULL, stderr=log, env=env)


def _log(config: Path) -> str:
    return (config.parent / f"{config.stem}.log").read_text(errors="replace")[-3000:]


def _checkpoints(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("select max(seq) from checkpoints").fetchone()
        return int(row[0] or 0)
    except sqlite3.Error:
        return 0


def _outcome(data_dir: Path) -> dict[str, Any]:
    with StateStore(f"sqlite:///{data_dir / 'state.db'}") as store:
        signals = sorted(s["signal_id"] for s in store.signals(limit=1_000_000))
        incidents = sorted((i.incident_id, i.status, i.severity, tuple(sorted(i.signal_ids)), i.merged_into)
                           for i in store.incidents(limit=1_000_000))
    lake = EventLake(data_dir / "lake").query(
        'select "origin.path" as path, "origin.record" as record, event_id from events', limit=10_000_000)
    rows = sorted(lake.iter_rows())
    return {"signals": signals, "incidents": incidents, "lake": rows}


@pytest.fixture(scope="module")
def inputs(regression_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few dozen real regression cases (EVTX and JSON) copied to a folder of their own."""
    out = tmp_path_factory.mktemp("inputs")
    cases = sorted({p.parent for p in regression_dir.rglob("*.evtx")})[:40]
    for i, case in enumerate(cases):
        shutil.copytree(case, out / f"case{i:03d}", ignore=shutil.ignore_patterns("info.yml"))
    return out


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("front_process", [False, True], ids=["in_process", "front_process"])
def test_sigkill_at_random_points_loses_and_repeats_nothing(inputs: Path, sigma_dir: Path, tmp_path: Path,
                                                             front_process: bool) -> None:
    """With ``front_process`` the reading half runs ahead in a child process: killing the pipeline
    kills it too, and what it had read but the pipeline had not committed is read again."""
    rules = [sigma_dir / "rules" / "windows"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src"),
           "AUTOSOC_CACHE_DIR": str(tmp_path / "cache")}
    reference_config = _config(tmp_path, inputs, rules, "reference")
    reference = _start(reference_config, env)
    assert reference.wait(timeout=300) == 0, _log(reference_config)
    expected = _outcome(tmp_path / "reference")
    records = sum(1 for _ in expected["lake"])
    assert records >= 40 and expected["signals"] and expected["incidents"]
    total = _checkpoints(tmp_path / "reference" / "state.db")
    assert total >= 2 * KILLS, "too few checkpoints to kill in between"

    rng = random.Random(20261201)
    config = _config(tmp_path, inputs, rules, "crashed", front_process)
    db = tmp_path / "crashed" / "state.db"
    kills = 0
    targets = sorted(rng.sample(range(1, total), KILLS))
    while True:
        process = _start(config, env)
        target = targets[kills] if kills < len(targets) else None
        deadline = time.monotonic() + 300
        while process.poll() is None and time.monotonic() < deadline:
            # a run that starts past its target (the last one committed more before it died) is
            # killed once its front process is up, not while it still loads the rules
            if (target is not None and _checkpoints(db) >= target
                    and (not front_process or _children(process.pid))):
                time.sleep(rng.uniform(0, 0.05))  # somewhere inside the next batch or commit
                children = _children(process.pid)
                process.kill()
                process.wait()
                kills += 1
                if front_process:
                    assert children, "no front process"
                    assert all(_gone(child) for child in children), "the front process outlived the pipeline"
                break
            time.sleep(0.005)
        if process.returncode == 0:
            break
        assert process.returncode == -9, _log(config)
    assert kills == KILLS
    got = _outcome(tmp_path / "crashed")
    assert len(got["lake"]) == records, "events lost or repeated in the lake"
    assert len({(p, r) for p, r, _ in got["lake"]}) == records
    assert got == expected
