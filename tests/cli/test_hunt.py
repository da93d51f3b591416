"""``autosoc hunt`` end to end: real samples in, signals out in every format, clear errors."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autosoc.cli.app import app
from autosoc.cli.hunt import EXIT_HITS

runner = CliRunner()
CASE = "proc_creation_win_bitsadmin_download"


@pytest.fixture(scope="module")
def case_dir(regression_dir: Path) -> Path:
    found = next(regression_dir.rglob(CASE), None)
    if found is None:
        pytest.skip(f"regression case {CASE} missing from shared data")
    return found


@pytest.fixture(scope="module")
def rules_dir(sigma_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real rule set: the Windows process_creation rules."""
    return sigma_dir / "rules" / "windows" / "process_creation"


def _hunt(*args: str, cache: Path) -> tuple[int, str, str]:
    result = runner.invoke(app, ["hunt", *args], env={"AUTOSOC_CACHE_DIR": str(cache)})
    return result.exit_code, result.stdout, result.stderr


def test_jsonl_signals_carry_rule_and_origin(case_dir: Path, rules_dir: Path, tmp_path: Path) -> None:
    code, out, err = _hunt(str(case_dir), "--rules", str(rules_dir), "--format", "jsonl",
                           "--dead-letters", str(tmp_path / "dl.jsonl"), cache=tmp_path)
    assert code == 0, err
    signals = [json.loads(line) for line in out.splitlines()]
    assert signals, err
    by_rule = {s["rule_id"] for s in signals}
    info = (case_dir / "info.yml").read_text()
    assert any(rule_id in info for rule_id in by_rule)
    for s in signals:
        assert s["title"] and s["level"] in ("informational", "low", "medium", "high", "critical")
        assert isinstance(s["tags"], list)
        (origin,) = s["origins"]
        assert origin["path"].startswith(str(case_dir)) and origin["record"] >= 1
        assert len(s["event_ids"][0]) == 32
    assert "Hunt summary" in err and "rules loaded" in err
    sources = {s["origins"][0]["source"] for s in signals}
    assert sources == {"evtx", "jsonl"}  # the same events, read from both files


def test_min_level_and_csv_output_file(case_dir: Path, rules_dir: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "hits.csv"
    code, _, err = _hunt(str(case_dir), "--rules", str(rules_dir), "--format", "csv", "--output", str(out_file),
                         "--min-level", "critical", cache=tmp_path)
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert all(r["level"] == "critical" for r in rows)
    code, _, _ = _hunt(str(case_dir), "--rules", str(rules_dir), "--format", "csv", "--output", str(out_file),
                       "--min-level", "low", cache=tmp_path)
    assert len(list(csv.DictReader(io.StringIO(out_file.read_text())))) > len(rows)


def test_table_output_and_fail_on_hits(case_dir: Path, rules_dir: Path, tmp_path: Path) -> None:
    code, out, _ = _hunt(str(case_dir), "--rules", str(rules_dir), "--fail-on-hits", cache=tmp_path)
    assert code == EXIT_HITS
    assert "Detections" in out


def test_bad_input_is_dead_lettered_and_run_goes_on(case_dir: Path, rules_dir: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    sample = next(case_dir.glob("*.json"))
    good = json.dumps(json.loads(sample.read_text()))
    (logs / "mixed.jsonl").write_text(f"{good}\n{{not json\n{good}\n")
    dead = tmp_path / "dl.jsonl"
    code, out, err = _hunt(str(logs), "--rules", str(rules_dir), "--format", "jsonl", "--dead-letters", str(dead),
                           cache=tmp_path)
    assert code == 0, err
    records = {json.loads(line)["origins"][0]["record"] for line in out.splitlines()}
    assert records == {1, 3}
    (letter,) = [json.loads(line) for line in dead.read_text().splitlines()]
    assert letter["record"] == 2 and letter["code"] == "invalid_json" and letter["path"].endswith("mixed.jsonl")
    assert "dead letters" in err


def test_broken_rule_file_is_reported_and_others_load(case_dir: Path, rules_dir: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(rules_dir, rules)
    (rules / "zz_broken.yml").write_text("title: [oops\n")
    code, out, err = _hunt(str(case_dir), "--rules", str(rules), "--format", "jsonl", "--show-skipped",
                           cache=tmp_path)
    assert code == 0
    assert out.strip()
    assert "zz_broken.yml" in err and "invalid_yaml" in err


def test_missing_path_is_a_clear_error(rules_dir: Path, tmp_path: Path) -> None:
    code, _, err = _hunt(str(tmp_path / "nope"), "--rules", str(rules_dir), cache=tmp_path)
    assert code == 1
    assert "nope" in err and "error:" in err


def test_bad_min_level_is_rejected(case_dir: Path, rules_dir: Path, tmp_path: Path) -> None:
    code, _, err = _hunt(str(case_dir), "--rules", str(rules_dir), "--min-level", "urgent", cache=tmp_path)
    assert code == 1 and "--min-level" in err


def test_rules_check_lists_skipped(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("title: x\nlogsource: {product: windows}\ndetection: {condition: nope}\n")
    result = runner.invoke(app, ["rules", "check", str(tmp_path), "--no-cache"])
    assert result.exit_code == 1
    assert "bad.yml" in result.stdout


# -- Sigma correlation rules ----------------------------------------------------------------------

REAL_BASE = "windows/builtin/security/win_security_susp_failed_logon_reasons.yml"
REAL_BASE_ID = "9eb99343-d336-4020-a3cd-67f3819e68ee"
CORRELATION_ID = "3f5d2a10-0000-4000-8000-00000000c0de"


def _correlation(generate: str = "") -> str:
    return f"""
title: Repeated logons to a disabled account
id: {CORRELATION_ID}
status: experimental
level: high
tags: [attack.credential-access, attack.t1110]
correlation:
  type: event_count
  rules: [{REAL_BASE_ID}]
  group-by: [TargetUserName]
  timespan: 10m
  condition: {{gte: 3}}
{generate}"""


def _failed_logon(record: int, minute: int, user: str = "alice") -> str:
    return json.dumps({"Event": {
        "System": {"EventID": 4625, "Channel": "Security", "Computer": "DC01.corp.example", "EventRecordID": record,
                   "TimeCreated": {"#attributes": {"SystemTime": f"2024-05-01T10:{minute:02d}:00.000Z"}}},
        "EventData": {"TargetUserName": user, "Status": "0xC0000072", "SubStatus": "0x0",
                      "SubjectUserSid": "S-1-5-18", "IpAddress": "10.0.0.5"}}})


@pytest.fixture()
def correlation_case(sigma_dir: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    base = sigma_dir / "rules" / REAL_BASE
    if not base.exists():
        pytest.skip(f"{base} missing from the SigmaHQ data")
    rules = tmp_path / "corr_rules"
    rules.mkdir()
    (rules / "mr_disabled_account.yml").write_text(_correlation())
    logs = tmp_path / "logs"
    logs.mkdir()
    # two files, read one after the other, whose events interleave in time
    (logs / "a.jsonl").write_text("\n".join(_failed_logon(i, m) for i, m in ((1, 0), (2, 4), (3, 8))) + "\n")
    (logs / "b.jsonl").write_text("\n".join(_failed_logon(i, m, u) for i, m, u in (
        (10, 2, "alice"), (11, 3, "bob"), (12, 30, "alice"))) + "\n")
    return base, rules, logs


def test_correlation_fires_in_hunt_over_a_real_sigmahq_rule(correlation_case: tuple[Path, Path, Path],
                                                            tmp_path: Path) -> None:
    base, rules, logs = correlation_case
    code, out, err = _hunt(str(logs), "--rules", str(base), "--rules", str(rules), "--format", "jsonl",
                           "--dead-letters", str(tmp_path / "dl.jsonl"), cache=tmp_path)
    assert code == 0, err
    signals = [json.loads(line) for line in out.splitlines()]
    (signal,) = signals  # the base rule is referenced with generate false (the default): no signals of its own
    assert signal["detector"] == "sigma_correlation" and signal["rule_id"] == CORRELATION_ID
    assert signal["level"] == "high" and signal["attack_techniques"] == ["T1110"]
    assert signal["time"] == "2024-05-01T10:04:00+00:00"  # 0, 2 (other file), 4: the third completes it
    assert signal["user"] == "alice" and signal["host"] == "DC01.corp.example"
    assert signal["matched"] == {"TargetUserName": "alice"}
    assert sorted((Path(o["path"]).name, o["record"]) for o in signal["origins"]) == [
        ("a.jsonl", 1), ("a.jsonl", 2), ("b.jsonl", 1)]  # JSON lines records are line numbers
    assert signal["explanation"] == ("3 events (rule 'Account Tampering - Suspicious Failed Logon Reasons') "
                                     "for TargetUserName=alice within 10m0s, condition gte 3")
    assert "1 correlation rules" in err and "from correlation rules" in err


def test_correlation_signals_in_csv_and_table(correlation_case: tuple[Path, Path, Path], tmp_path: Path) -> None:
    base, rules, logs = correlation_case
    out_file = tmp_path / "hits.csv"
    code, _, err = _hunt(str(logs), "--rules", str(base), "--rules", str(rules), "--format", "csv",
                         "--output", str(out_file), cache=tmp_path)
    assert code == 0, err
    (row,) = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert row["detector"] == "sigma_correlation" and row["explanation"].startswith("3 events")
    assert len(row["event_id"].split()) == 3
    result = runner.invoke(app, ["hunt", str(logs), "--rules", str(base), "--rules", str(rules)],
                           env={"AUTOSOC_CACHE_DIR": str(tmp_path), "COLUMNS": "300"})
    assert "Repeated logons to a disabled account" in result.stdout
    assert "for TargetUserName=alice within 10m0s" in result.stdout  # the explanation under the title


def test_generate_true_keeps_the_base_rule_signals(correlation_case: tuple[Path, Path, Path], tmp_path: Path) -> None:
    base, rules, logs = correlation_case
    (rules / "mr_disabled_account.yml").write_text(_correlation("  generate: true\n").replace(
        "condition: {gte: 3}\n", "condition: {gte: 3}\n  generate: true\n"))
    code, out, err = _hunt(str(logs), "--rules", str(base), "--rules", str(rules), "--format", "jsonl",
                           cache=tmp_path)
    assert code == 0, err
    detectors = sorted(json.loads(line)["detector"] for line in out.splitlines())
    assert detectors == ["sigma"] * 6 + ["sigma_correlation"]


def test_lateness_drops_events_older_than_the_watermark(correlation_case: tuple[Path, Path, Path],
                                                        tmp_path: Path) -> None:
    base, rules, logs = correlation_case
    code, out, err = _hunt(str(logs), "--rules", str(base), "--rules", str(rules), "--format", "jsonl",
                           "--lateness", "1m", cache=tmp_path)
    assert code == 0, err
    # a.jsonl brings alice to 10:08; b.jsonl's 10:02 and 10:03 are then late: 10:00, 10:04, 10:08 span 8 minutes
    signals = [json.loads(line) for line in out.splitlines()]
    assert [s["time"] for s in signals] == ["2024-05-01T10:08:00+00:00"]
    assert "late events (correlation)" in err


def test_bad_lateness_is_rejected(correlation_case: tuple[Path, Path, Path], tmp_path: Path) -> None:
    base, _rules, logs = correlation_case
    code, _, err = _hunt(str(logs), "--rules", str(base), "--lateness", "soon", cache=tmp_path)
    assert code == 1 and "--lateness" in err


def test_correlation_with_a_missing_base_rule_is_reported(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mr_orphan.yml").write_text(_correlation())
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_text(_failed_logon(1, 0) + "\n")
    code, _, err = _hunt(str(logs), "--rules", str(rules), "--show-skipped", cache=tmp_path)
    assert code == 0
    assert "correlation_missing_rule" in err and "mr_orphan.yml" in err


def test_the_c_paths_change_no_signal(regression_dir: Path, rules_dir: Path, tmp_path: Path) -> None:
    """`autosoc hunt --format jsonl` over every regression sample (EVTX files and the JSON ones as
    JSON lines): the same signals, byte for byte, with the C extensions (the decoder, the matcher,
    the prefilter) and with ``AUTOSOC_PURE_PYTHON=1`` (orjson, the Python flattening, Polars and
    pyeval only)."""
    import os
    import subprocess
    import sys

    import orjson

    from autosoc.detect.sigma import native
    from autosoc.ingest.jsonl import JsonReader
    from autosoc.normalize import decode

    if not (decode.NATIVE and native.NATIVE):
        pytest.skip("the C extensions are not built (or AUTOSOC_PURE_PYTHON=1 is set): nothing to compare")
    samples = tmp_path / "samples"
    samples.mkdir()
    with (samples / "all.jsonl").open("wb") as out:
        for path in sorted(regression_dir.rglob("*.json")):
            out.writelines(orjson.dumps(r) + b"\n" for batch in JsonReader().read(path) for r in batch.records)
    for i, path in enumerate(sorted(regression_dir.rglob("*.evtx"))):
        shutil.copy(path, samples / f"{i:03}.evtx")

    def hunt(pure: str) -> list[str]:
        env = {**os.environ, "AUTOSOC_PURE_PYTHON": pure, "AUTOSOC_CACHE_DIR": str(tmp_path / "cache")}
        run = subprocess.run([sys.executable, "-m", "autosoc", "hunt", str(samples), "--rules", str(rules_dir),
                              "--format", "jsonl", "--dead-letters", str(tmp_path / f"dl{pure}.jsonl")],
                             env=env, capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stderr
        return sorted(run.stdout.splitlines())

    with_c, without = hunt("0"), hunt("1")
    assert len(with_c) > 200 and with_c == without
