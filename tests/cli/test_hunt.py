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
