"""Rule loading: errors are collected per file, filters apply, the cache round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from autosoc.detect.sigma.engine import SigmaEngine
from autosoc.detect.sigma.loader import load_rules
from autosoc.normalize import normalize
from autosoc.schema import RawBatch

GOOD = """
title: Whoami
id: 5b1f2c3d-0000-4000-8000-000000000001
status: test
level: high
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\\whoami.exe'
  condition: selection
"""
BROKEN_YAML = "title: [unclosed\n"
BAD_MODIFIER = GOOD.replace("endswith", "endswiht").replace("000000000001", "000000000002")
BAD_CONDITION = GOOD.replace("condition: selection", "condition: selection and nothing").replace(
    "000000000001", "000000000003")
CORRELATION = """
title: Many whoami
id: 5b1f2c3d-0000-4000-8000-000000000009
correlation:
  type: event_count
  rules: [5b1f2c3d-0000-4000-8000-000000000001]
  group-by: [Computer]
  timespan: 5m
  condition: {gte: 3}
"""
FILTER = """
title: Not on the admin box
id: 5b1f2c3d-0000-4000-8000-00000000000f
logsource: {product: windows, category: process_creation}
filter:
  rules: [5b1f2c3d-0000-4000-8000-000000000001]
  selection:
    Computer: ADMIN01
  condition: not selection
"""


def _event(computer: str) -> dict[str, object]:
    return {"Event": {"System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational",
                                 "Computer": computer},
                      "EventData": {"Image": "C:\\Windows\\System32\\WHOAMI.EXE"}}}


def _write(folder: Path, **files: str) -> Path:
    for name, text in files.items():
        (folder / f"{name}.yml").write_text(text)
    return folder


def test_bad_files_are_reported_and_the_rest_load(tmp_path: Path) -> None:
    rules = _write(tmp_path, good=GOOD, broken=BROKEN_YAML, modifier=BAD_MODIFIER, cond=BAD_CONDITION,
                   corr=CORRELATION)
    ruleset = load_rules([rules], use_cache=False)
    assert [r.title for r in ruleset.rules] == ["Whoami"]
    assert [c.title for c in ruleset.correlations] == ["Many whoami"]  # its base rule is in good.yml
    reasons = {Path(s.path).stem: s for s in ruleset.skipped}
    assert set(reasons) == {"broken", "modifier", "cond"}
    assert reasons["modifier"].code == "invalid_rule" and "endswiht" in reasons["modifier"].reason
    assert reasons["cond"].code == "invalid_condition"
    assert reasons["broken"].code in ("invalid_yaml", "invalid_rule_file")


def test_unmapped_logsource_is_skipped_with_reason(tmp_path: Path) -> None:
    rules = _write(tmp_path, mac=GOOD.replace("product: windows", "product: macos"))
    ruleset = load_rules([rules], use_cache=False)
    assert not ruleset.rules
    assert ruleset.skipped[0].code == "unmapped_logsource" and "macos" in ruleset.skipped[0].reason


def test_filter_rule_applies_to_named_rule(tmp_path: Path) -> None:
    rules = _write(tmp_path, good=GOOD, filt=FILTER)
    engine = SigmaEngine(load_rules([rules], use_cache=False).rules)
    batch = normalize(RawBatch("test", "mem", "json", [_event("WS01"), _event("ADMIN01")], [1, 2]))[0]
    hosts = [s.host for s in engine.detect(batch)]
    assert hosts == ["WS01"]


def test_cache_round_trip(tmp_path: Path) -> None:
    rules = _write(tmp_path / "r" if (tmp_path / "r").mkdir() is None else tmp_path, good=GOOD)
    cold = load_rules([rules], cache_dir=tmp_path / "cache")
    warm = load_rules([rules], cache_dir=tmp_path / "cache")
    assert not cold.from_cache and warm.from_cache
    assert warm.rules == cold.rules
    assert all(rule.program is not None for rule in warm.rules)  # the C matcher's programs too
    (rules / "good.yml").write_text(GOOD.replace("whoami.exe", "hostname.exe"))
    assert not load_rules([rules], cache_dir=tmp_path / "cache").from_cache


def test_the_cache_is_keyed_by_the_code_that_made_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from autosoc.detect.sigma import loader

    rules = _write(tmp_path / "r" if (tmp_path / "r").mkdir() is None else tmp_path, good=GOOD)
    assert not load_rules([rules], cache_dir=tmp_path / "cache").from_cache
    assert load_rules([rules], cache_dir=tmp_path / "cache").from_cache
    monkeypatch.setattr(loader, "_code_digest", lambda: b"another compiler")
    assert not load_rules([rules], cache_dir=tmp_path / "cache").from_cache


def test_signal_carries_rule_metadata_and_origin(tmp_path: Path) -> None:
    engine = SigmaEngine(load_rules([_write(tmp_path, good=GOOD)], use_cache=False).rules)
    batch = normalize(RawBatch("jsonl", "/logs/a.jsonl", "json", [_event("WS01")], [7]))[0]
    (signal,) = engine.detect(batch)
    assert signal.rule_id == "5b1f2c3d-0000-4000-8000-000000000001"
    assert signal.level == "high" and signal.status == "test"
    assert signal.tags == ["attack.discovery", "attack.t1033"]
    assert signal.attack_tactics == ["discovery"] and signal.attack_techniques == ["T1033"]
    assert (signal.origins[0].path, signal.origins[0].record) == ("/logs/a.jsonl", 7)
    assert signal.matched == {"Image": "C:\\Windows\\System32\\WHOAMI.EXE"}
    assert signal.event_ids == batch.events["event_id"].to_list()


SPEC_EXAMPLE = """
title: Failed logons followed by a success
id: 5b1f2c3d-0000-4000-8000-0000000000c1
level: high
correlation:
  type: temporal_ordered
  rules: [many_failed, success]
  group-by: [TargetUserName]
  timespan: 10m
---
title: Many failed logons
id: 5b1f2c3d-0000-4000-8000-0000000000c2
name: many_failed
correlation:
  type: event_count
  rules: [failed]
  group-by: [TargetUserName]
  timespan: 10m
  condition: {gte: 10}
---
title: Failed logon
id: 5b1f2c3d-0000-4000-8000-0000000000c3
name: failed
logsource: {product: windows, service: security}
detection:
  selection: {EventID: [529, 4625]}
  condition: selection
---
title: Successful logon
id: 5b1f2c3d-0000-4000-8000-0000000000c4
name: success
logsource: {product: windows, service: security}
detection:
  selection: {EventID: [528, 4624]}
  condition: selection
"""


def test_multi_document_correlation_file_loads_with_its_rules(tmp_path: Path) -> None:
    ruleset = load_rules([_write(tmp_path, mr=SPEC_EXAMPLE)], use_cache=False)
    assert not ruleset.skipped
    assert sorted(r.name for r in ruleset.rules) == ["failed", "success"]
    assert [c.name or c.title for c in ruleset.correlations] == ["many_failed", "Failed logons followed by a success"]


def test_correlation_whose_base_rule_is_skipped_is_reported(tmp_path: Path) -> None:
    rules = _write(tmp_path, mac=GOOD.replace("product: windows", "product: macos"), corr=CORRELATION)
    ruleset = load_rules([rules], use_cache=False)
    codes = {Path(s.path).stem: s.code for s in ruleset.skipped}
    assert codes == {"mac": "unmapped_logsource", "corr": "correlation_rule_skipped"}
    assert not ruleset.correlations


def test_a_cache_file_holding_something_else_is_rebuilt_and_the_gc_left_as_it_was(tmp_path: Path) -> None:
    import gc
    import pickle

    rules = _write(tmp_path / "r" if (tmp_path / "r").mkdir() is None else tmp_path, good=GOOD)
    cold = load_rules([rules], cache_dir=tmp_path / "cache")
    (cached,) = (tmp_path / "cache").glob("*.pickle")
    assert gc.isenabled()
    assert load_rules([rules], cache_dir=tmp_path / "cache").from_cache and gc.isenabled()
    for junk in (pickle.dumps({"rules": []}), b"\x80\x05torn"):
        cached.write_bytes(junk)
        again = load_rules([rules], cache_dir=tmp_path / "cache")
        assert not again.from_cache and again.rules == cold.rules and gc.isenabled()
    gc.disable()
    try:
        assert load_rules([rules], cache_dir=tmp_path / "cache").from_cache and not gc.isenabled()
    finally:
        gc.enable()
