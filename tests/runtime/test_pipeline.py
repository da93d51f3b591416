"""The continuous pipeline in-process: the same detections as hunt, state kept, nothing read twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from autosoc.errors import ConfigError, StoreError
from autosoc.ingest.files import read_files
from autosoc.runtime.hunt import HuntOptions, hunt
from autosoc.runtime.pipeline import Pipeline
from autosoc.settings import load_settings
from autosoc.store import EventLake
from tests.store.conftest import pg_database, pg_url  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def cases(regression_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cases")
    for i, case in enumerate(sorted({p.parent for p in regression_dir.rglob("*.evtx")})[:12]):
        shutil.copytree(case, out / f"case{i:02d}", ignore=shutil.ignore_patterns("info.yml"))
    return out


@pytest.fixture(scope="module")
def rules(sigma_dir: Path) -> list[Path]:
    return [sigma_dir / "rules" / "windows"]


def _settings(tmp_path: Path, sources: Path, rules: list[Path], **extra: object):  # type: ignore[no-untyped-def]
    return load_settings(None, data_dir=tmp_path / "state", rules=rules,
                         sources=[{"paths": [sources], "settle_seconds": 0}],
                         lake={"retention_days": None}, **extra)


def _run_once(settings) -> tuple[Pipeline, object]:  # type: ignore[no-untyped-def]
    pipeline = Pipeline(settings)
    stats = pipeline.run(once=True)
    return pipeline, stats


@pytest.mark.parametrize("front_process", [False, True], ids=["in_process", "front_process"])
def test_run_once_gives_hunts_detections_with_provenance_and_keeps_every_event(
        cases: Path, rules: list[Path], tmp_path: Path, front_process: bool) -> None:
    hunted: list = []
    hunt([cases], HuntOptions(rules=rules), hunted.extend)
    pipeline, stats = _run_once(_settings(tmp_path, cases, rules, pipeline={"front_process": front_process}))
    try:
        stored = {s["signal_id"]: s for s in pipeline.store.signals(limit=100_000)}
        sigma = {sid for sid, s in stored.items() if s["detector"] == "sigma"}
        assert sigma == {s.signal_id for s in hunted}
        first = stored[hunted[0].signal_id]
        assert first["origins"][0]["path"].startswith(str(cases)) and first["origins"][0]["record"] >= 1
        incidents = pipeline.store.incidents(limit=1000)
        assert incidents and all(i.signal_ids for i in incidents)
        assert {sid for i in incidents for sid in i.signal_ids} <= set(stored)
    finally:
        pipeline.close()
    lake = EventLake(tmp_path / "state" / "lake")
    assert lake.stats().rows == stats.events  # type: ignore[attr-defined]
    assert lake.query('select count(distinct event_id) as n from events')["n"][0] >= 12


def test_a_second_run_reads_nothing_new_and_changes_nothing(cases: Path, rules: list[Path], tmp_path: Path) -> None:
    settings = _settings(tmp_path, cases, rules)
    first, _ = _run_once(settings)
    before = (first.store.counts(), [i.as_dict() for i in first.store.incidents(limit=1000)])
    first.close()
    again, stats = _run_once(settings)
    try:
        assert stats.events == 0  # type: ignore[attr-defined]
        counts = again.store.counts()
        assert counts["signals"] == before[0]["signals"] and counts["incidents"] == before[0]["incidents"]
    finally:
        again.close()


@pytest.mark.parametrize("front_process", [False, True], ids=["in_process", "front_process"])
def test_lines_appended_between_polls_are_read_once_with_their_line_numbers(
        cases: Path, rules: list[Path], tmp_path: Path, front_process: bool) -> None:
    records = [r for b in read_files(sorted(cases.rglob("*.evtx"))[:4]) for r in b.records]
    lines = [orjson.dumps(record) + b"\n" for record in records]
    assert len(lines) >= 3
    live = tmp_path / "live"
    live.mkdir()
    target = live / "events.jsonl"
    target.write_bytes(lines[0])
    pipeline = Pipeline(_settings(tmp_path, live, rules, pipeline={"front_process": front_process}))
    pipeline.open()
    try:
        assert pipeline.step() == 1
        with target.open("ab") as handle:
            handle.write(b"".join(lines[1:]) + b'{"half": "a line still being writ')
        assert pipeline.step() == len(lines) - 1
        assert pipeline.step() == 0
        pipeline.finish()
        records = EventLake(tmp_path / "state" / "lake").query('select "origin.record" as r from events order by r')
        assert records["r"].to_list() == list(range(1, len(lines) + 1))
    finally:
        pipeline.close()


def test_postgresql_state_store(cases: Path, rules: list[Path], tmp_path: Path, pg_url: str) -> None:  # noqa: F811
    hunted: list = []
    hunt([cases], HuntOptions(rules=rules), hunted.extend)
    pipeline, _ = _run_once(_settings(tmp_path, cases, rules, state_url=pg_url))
    try:
        assert {s["signal_id"] for s in pipeline.store.signals(limit=100_000)} == {s.signal_id for s in hunted}
        assert pipeline.store.incidents(limit=10)
    finally:
        pipeline.close()


def test_missing_sources_or_rules_is_a_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no sources configured"):
        Pipeline(load_settings(None, data_dir=tmp_path, rules=[tmp_path]))
    with pytest.raises(ConfigError, match="no Sigma rules"):
        Pipeline(load_settings(None, data_dir=tmp_path, sources=[{"paths": [tmp_path]}]))
    with pytest.raises(ConfigError, match=r"pipeline\.batch_size"):
        load_settings(None, pipeline={"batch_size": 0})


def test_a_malformed_record_becomes_a_stored_dead_letter_and_the_run_goes_on(
        cases: Path, rules: list[Path], tmp_path: Path) -> None:
    records = [r for b in read_files(sorted(cases.rglob("*.evtx"))[:2]) for r in b.records]
    live = tmp_path / "live"
    live.mkdir()
    (live / "events.jsonl").write_bytes(orjson.dumps(records[0]) + b"\n" + b'{"broken": \n'
                                        + b"\xff\xfe not utf-8\n" + orjson.dumps(records[1]) + b"\n")
    pipeline, stats = _run_once(_settings(tmp_path, live, rules))
    try:
        assert stats.events == 2  # type: ignore[attr-defined]
        letters = pipeline.store.dead_letters(limit=10)
        assert [(d["record"], d["stage"]) for d in letters] == [(2, "ingest"), (3, "ingest")]
        assert all(d["path"].endswith("events.jsonl") and d["code"] and d["message"] for d in letters)
    finally:
        pipeline.close()


@pytest.mark.parametrize("on_incident", [True, False])
def test_a_step_that_changes_an_incident_commits_it_at_once(
        cases: Path, rules: list[Path], tmp_path: Path, on_incident: bool) -> None:
    # however long checkpoint_seconds is, an incident opened by a step is in the store after it
    settings = _settings(tmp_path, cases, rules,
                         pipeline={"checkpoint_seconds": 3600, "checkpoint_on_incident": on_incident})
    pipeline = Pipeline(settings)
    pipeline.open()
    try:
        assert pipeline.step() > 0
        stored = pipeline.store.incidents(limit=1000)
        assert bool(stored) == on_incident
        assert pipeline.stats.checkpoints == (1 if on_incident else 0)
    finally:
        pipeline.close()


def test_a_failed_commit_stops_the_pipeline_and_a_restart_loses_nothing(
        cases: Path, rules: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected, _ = _run_once(_settings(tmp_path / "whole", cases, rules))
    want = expected.store.counts()
    expected.close()
    want_rows = EventLake(tmp_path / "whole" / "state" / "lake").stats().rows
    settings = _settings(tmp_path, cases, rules, pipeline={"batch_size": 5, "checkpoint_seconds": 0})
    pipeline = Pipeline(settings)
    pipeline.open()
    real = pipeline.store.transaction
    calls: list[int] = []

    def failing():  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:
            raise StoreError("the database went away", code="store_unavailable")
        return real()

    monkeypatch.setattr(pipeline.store, "transaction", failing)
    with pytest.raises(StoreError, match="went away"):
        for _ in range(1000):
            pipeline.step()
    assert pipeline.store.last_checkpoint() == 1  # the first checkpoint only; its lake files were staged
    assert list((tmp_path / "state" / "lake").rglob("*.parquet"))
    monkeypatch.undo()
    pipeline.close()
    again, _ = _run_once(settings)
    try:
        counts = again.store.counts()
        assert counts["signals"] == want["signals"] and counts["incidents"] == want["incidents"]
        assert EventLake(tmp_path / "state" / "lake").stats().rows == want_rows  # every record once
        assert not list((tmp_path / "state" / "lake").rglob("*.tmp"))
    finally:
        again.close()
