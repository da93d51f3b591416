"""Shared builders for the correlation tests: Windows Security events and rule documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from autosoc.detect.correlation import SigmaCorrelationDetector
from autosoc.detect.sigma.loader import load_rules
from autosoc.normalize import normalize
from autosoc.schema import EventBatch, RawBatch, Signal

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
FAILED_ID = "7a1e0b8c-0000-4000-8000-000000000001"
SUCCESS_ID = "7a1e0b8c-0000-4000-8000-000000000002"
EXPLICIT_ID = "7a1e0b8c-0000-4000-8000-000000000003"

BASE_RULES = [f"""
title: Failed Logon
id: {FAILED_ID}
name: failed_logon
status: test
level: low
logsource: {{product: windows, service: security}}
detection:
  selection: {{EventID: 4625}}
  condition: selection
""", f"""
title: Successful Logon
id: {SUCCESS_ID}
name: successful_logon
status: test
level: informational
logsource: {{product: windows, service: security}}
detection:
  selection: {{EventID: 4624}}
  condition: selection
""", f"""
title: Explicit Credentials
id: {EXPLICIT_ID}
name: explicit_creds
status: test
level: low
logsource: {{product: windows, service: security}}
detection:
  selection: {{EventID: 4648}}
  condition: selection
"""]


def correlation(kind: str, rules: list[str], *, group_by: list[str] | None = None, timespan: str = "5m",
                condition: dict[str, Any] | None = None, rule_id: str = "9c0f0000-0000-4000-8000-00000000c001",
                title: str = "Correlation", name: str | None = None, extra: str = "", generate: bool | None = None,
                level: str = "high") -> str:
    lines = [f"title: {title}", f"id: {rule_id}", f"level: {level}", "status: experimental",
             "tags: [attack.credential-access, attack.t1110]"]
    if name:
        lines.append(f"name: {name}")
    lines += ["correlation:", f"  type: {kind}", f"  rules: [{', '.join(rules)}]", f"  timespan: {timespan}"]
    if group_by is not None:
        lines.append(f"  group-by: [{', '.join(group_by)}]")
    if condition is not None:
        lines.append("  condition: {" + ", ".join(f"{k}: {v}" for k, v in condition.items()) + "}")
    if generate is not None:
        lines.append(f"  generate: {str(generate).lower()}")
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def detector(folder: Path, *documents: str, lateness: timedelta | None = timedelta(minutes=5),
             base: list[str] | None = None) -> SigmaCorrelationDetector:
    path = folder / "rules.yml"
    path.write_text("\n---\n".join([*(BASE_RULES if base is None else base), *documents]))
    ruleset = load_rules([path], use_cache=False)
    assert not ruleset.skipped, ruleset.skipped
    return SigmaCorrelationDetector(ruleset.rules, ruleset.correlations, lateness=lateness)


def event(record: int, event_id: int, seconds: float, *, user: str = "alice", ip: str = "10.0.0.5",
          computer: str = "DC01", **data: str) -> dict[str, Any]:
    when = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"Event": {"System": {"EventID": event_id, "Channel": "Security", "Computer": computer,
                                 "EventRecordID": record, "TimeCreated": {"#attributes": {"SystemTime": when}}},
                      "EventData": {"TargetUserName": user, "IpAddress": ip, **data}}}


def batch(records: list[dict[str, Any]], path: str = "/logs/security.jsonl") -> EventBatch:
    positions = [int(r["Event"]["System"]["EventRecordID"]) for r in records]
    (out,) = normalize(RawBatch("jsonl", path, "json", records, positions))
    return out


def run(det: SigmaCorrelationDetector, batches: list[list[dict[str, Any]]], *, flush: bool = True) -> list[Signal]:
    signals: list[Signal] = []
    for records in batches:
        signals += det.detect(batch(records))
    if flush:
        signals += det.flush()
    return signals


def correlated(signals: list[Signal]) -> list[Signal]:
    return [s for s in signals if s.detector == "sigma_correlation"]


def summary(signals: list[Signal]) -> list[tuple[str, datetime | None, dict[str, str], int]]:
    return [(s.rule_id, s.time, s.matched, len(s.event_ids)) for s in correlated(signals)]
