"""Correlation rules load across files, resolve by id and name, and are skipped with a reason when they cannot run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from autosoc.detect.correlation.rules import format_span
from autosoc.detect.sigma.loader import load_rules
from tests.detect.correlation_helpers import BASE_RULES, FAILED_ID, SUCCESS_ID, correlation

C1 = "9c0f0000-0000-4000-8000-00000000c001"
C2 = "9c0f0000-0000-4000-8000-00000000c002"
MAC_RULE = """
title: Mac thing
id: 7a1e0b8c-0000-4000-8000-0000000000ff
name: mac_thing
logsource: {product: macos, category: process_creation}
detection:
  selection: {Image|endswith: /osascript}
  condition: selection
"""


def _write(folder: Path, **files: str) -> Path:
    for name, text in files.items():
        (folder / f"{name}.yml").write_text(text)
    return folder


def _load(folder: Path):
    return load_rules([folder], use_cache=False)


def test_references_resolve_across_files_by_id_and_name(tmp_path: Path) -> None:
    rules = _write(tmp_path, base="\n---\n".join(BASE_RULES),
                   by_id=correlation("event_count", [FAILED_ID], group_by=["TargetUserName"], condition={"gte": 5}),
                   by_name=correlation("temporal", ["failed_logon", "successful_logon"], group_by=["User"],
                                       rule_id=C2))
    ruleset = _load(rules)
    assert not ruleset.skipped
    by_id = {c.id: c for c in ruleset.correlations}
    assert [r.id for r in by_id[C1].refs] == [FAILED_ID]
    assert [(r.reference, r.id, r.kind) for r in by_id[C2].refs] == [
        ("failed_logon", FAILED_ID, "sigma"), ("successful_logon", SUCCESS_ID, "sigma")]
    first = by_id[C1]
    assert (first.type, first.op, first.count, first.timespan_seconds, first.group_by) == (
        "event_count", "gte", 5, 300, ("TargetUserName",))
    assert first.level == "high" and first.tags == ("attack.credential-access", "attack.t1110")
    assert first.generate is False  # the specification's default


def test_uppercase_uuid_reference_resolves(tmp_path: Path) -> None:
    rules = _write(tmp_path, base=BASE_RULES[0],
                   corr=correlation("event_count", [FAILED_ID.upper()], group_by=["User"], condition={"gte": 2}))
    assert [r.id for r in _load(rules).correlations[0].refs] == [FAILED_ID]


def test_aliases_resolve_per_rule(tmp_path: Path) -> None:
    aliases = "  aliases:\n    account:\n      failed_logon: TargetUserName\n      successful_logon: SubjectUserName"
    rules = _write(tmp_path, base="\n---\n".join(BASE_RULES),
                   corr=correlation("temporal", ["failed_logon", "successful_logon"], group_by=["account", "Computer"],
                                    extra=aliases))
    (rule,) = _load(rules).correlations
    assert [r.group_fields for r in rule.refs] == [("TargetUserName", "Computer"), ("SubjectUserName", "Computer")]


def test_value_count_field(tmp_path: Path) -> None:
    rules = _write(tmp_path, base=BASE_RULES[0],
                   corr=correlation("value_count", ["failed_logon"], group_by=["IpAddress"],
                                    condition={"gt": 10, "field": "TargetUserName"}))
    (rule,) = _load(rules).correlations
    assert rule.value_fields == ("TargetUserName",) and rule.refs[0].value_fields == ("TargetUserName",)


@pytest.mark.parametrize("text, code, words", [
    (correlation("event_count", ["no_such_rule"], group_by=["User"], condition={"gte": 2}),
     "correlation_missing_rule", "no_such_rule"),
    (correlation("event_count", ["mac_thing"], group_by=["User"], condition={"gte": 2}),
     "correlation_rule_skipped", "unmapped_logsource"),
    (correlation("value_sum", ["failed_logon"], group_by=["User"], condition={"gte": 2, "field": "Bytes"}),
     "unsupported_correlation_type", "value_sum"),
    (correlation("temporal", ["failed_logon", "successful_logon"], group_by=["User"]).replace(
        "  timespan: 5m", "  timespan: 5m\n  condition: failed_logon and not successful_logon"),
     "unsupported_correlation_condition", "expression"),
])
def test_unusable_correlations_are_skipped_with_a_reason(tmp_path: Path, text: str, code: str, words: str) -> None:
    rules = _write(tmp_path, base="\n---\n".join([*BASE_RULES, MAC_RULE]), corr=text)
    ruleset = _load(rules)
    assert ruleset.correlations == []
    (skipped,) = [s for s in ruleset.skipped if s.rule_id == C1]
    assert skipped.code == code and words in skipped.reason and skipped.path.endswith("corr.yml")
    assert skipped.title == "Correlation"


def test_skips_propagate_up_a_chain_and_cycles_are_reported(tmp_path: Path) -> None:
    inner = correlation("event_count", ["nothing_here"], group_by=["User"], condition={"gte": 2}, name="inner",
                        rule_id=C2)
    outer = correlation("temporal", ["inner", "failed_logon"], group_by=["User"])
    loop_a = correlation("temporal", ["loop_b", "failed_logon"], group_by=["User"], name="loop_a",
                         rule_id="9c0f0000-0000-4000-8000-00000000c0a1")
    loop_b = correlation("temporal", ["loop_a", "failed_logon"], group_by=["User"], name="loop_b",
                         rule_id="9c0f0000-0000-4000-8000-00000000c0b1")
    rules = _write(tmp_path, base="\n---\n".join(BASE_RULES), inner=inner, outer=outer, a=loop_a, b=loop_b)
    ruleset = _load(rules)
    codes = {Path(s.path).stem: s.code for s in ruleset.skipped}
    assert codes == {"inner": "correlation_missing_rule", "outer": "correlation_rule_skipped",
                     "a": "correlation_cycle", "b": "correlation_cycle"}
    assert ruleset.correlations == []


def test_chain_is_ordered_children_first_and_carries_parent_fields(tmp_path: Path) -> None:
    outer = correlation("temporal_ordered", ["burst", "successful_logon"], group_by=["TargetUserName"])
    inner = correlation("event_count", ["failed_logon"], group_by=["IpAddress"], condition={"gte": 3},
                        name="burst", rule_id=C2)
    rules = _write(tmp_path, base="\n---\n".join(BASE_RULES), a_outer=outer, b_inner=inner)
    first, second = _load(rules).correlations
    assert (first.id, second.id) == (C2, C1)
    assert first.carry == ("TargetUserName",) and first.refs[0].carry_fields == ("TargetUserName",)


def test_correlations_survive_the_cache(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    _write(rules, base="\n---\n".join(BASE_RULES),
           corr=correlation("event_count", ["failed_logon"], group_by=["User"], condition={"gte": 2}))
    cold = load_rules([rules], cache_dir=tmp_path / "cache")
    warm = load_rules([rules], cache_dir=tmp_path / "cache")
    assert warm.from_cache and warm.correlations == cold.correlations and len(warm.correlations) == 1


def test_format_span() -> None:
    assert [format_span(s) for s in (45, 300, 5400, 86400)] == ["45s", "5m0s", "1h30m0s", "24h0m0s"]


def test_sigmahq_correlation_rules_load(sigma_dir: Path) -> None:
    """Every correlation rule shipped with the SigmaHQ data loads, with its base rules, unskipped."""
    found = [p for p in sorted(sigma_dir.rglob("*.yml")) if _has_correlation(p)]
    if not found:
        pytest.skip(f"no correlation rules in {sigma_dir} (this SigmaHQ snapshot ships none)")
    ruleset = load_rules([sigma_dir / "rules", *found], use_cache=False)
    ids = {c.id for c in ruleset.correlations}
    skipped = [s for s in ruleset.skipped if s.code.startswith(("correlation", "unsupported_correlation"))]
    assert not skipped
    assert ids


def test_a_correlation_over_a_real_sigmahq_rule_loads(sigma_dir: Path, tmp_path: Path) -> None:
    real = sigma_dir / "rules" / "windows" / "builtin" / "security" / "win_security_susp_failed_logon_reasons.yml"
    if not real.exists():
        pytest.skip(f"{real} missing from the SigmaHQ data")
    rule_id = yaml.safe_load(real.read_text())["id"]
    corr = _write(tmp_path, corr=correlation("event_count", [rule_id], group_by=["TargetUserName"],
                                             condition={"gte": 3}))
    ruleset = load_rules([real, corr / "corr.yml"], use_cache=False)
    assert not ruleset.skipped
    assert ruleset.correlations[0].refs[0].title == "Account Tampering - Suspicious Failed Logon Reasons"


def _has_correlation(path: Path) -> bool:
    text = path.read_text(errors="replace")
    if not re.search(r"^\s*correlation:", text, re.M):
        return False
    try:
        return any(isinstance(d, dict) and "correlation" in d for d in yaml.safe_load_all(text))
    except (yaml.YAMLError, UnicodeDecodeError):
        return False
