"""Prevalence: behaviour common across the organisation weighs less; rare behaviour keeps its risk."""

from __future__ import annotations

from dataclasses import replace

from autosoc.correlate import CorrelateConfig, IncidentEngine, Prevalence, PrevalenceConfig
from autosoc.correlate.prevalence import behaviour
from autosoc.schema import LEVEL_RISK
from tests.correlate._signals import sig


def _with(signal, **matched):  # type: ignore[no-untyped-def]
    return replace(signal, matched=matched)


def test_the_same_behaviour_on_many_hosts_is_scaled_down_and_says_why() -> None:
    prevalence = Prevalence(PrevalenceConfig(common=3, learning_hours=0))
    out = prevalence.weigh([_with(sig("ps", "medium", i * 0.1, host=f"WS-{i:03d}"),
                                  CommandLine=f"powershell -ExecutionPolicy Bypass -File C:\\Users\\u{i}\\agent.ps1")
                            for i in range(12)])
    assert [s.risk for s in out[:3]] == [None, None, None]  # up to `common` hosts: full risk
    assert out[3].risk == round(LEVEL_RISK["medium"] * 3 / 4)
    assert out[-1].risk == round(LEVEL_RISK["medium"] * 3 / 12)
    assert "same behaviour on 12 entities" in out[-1].explanation


def test_a_different_command_line_under_the_same_rule_is_another_behaviour() -> None:
    prevalence = Prevalence(PrevalenceConfig(common=3, learning_hours=0))
    common = [_with(sig("ps", "medium", i * 0.1, host=f"WS-{i:03d}"), CommandLine="agent.exe -enc AAAA")
              for i in range(10)]
    attacker = _with(sig("ps", "medium", 2.0, host="WS-042"), CommandLine="powershell -enc SQBFAFgA")
    out = prevalence.weigh([*common, attacker])
    assert out[-2].risk is not None and out[-1].risk is None
    # digits, GUIDs and profile folders are masked: the same tool on every machine is one behaviour
    a = _with(sig("x", host="a"),
              Image="C:\\Users\\alice\\AppData\\Tool-1.2.3\\t.exe {0f9e4a2c-1b2c-4d5e-8f90-1234567890ab}")
    b = _with(sig("x", host="b"),
              Image="C:\\Users\\bob\\AppData\\Tool-1.2.4\\t.exe {aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee}")
    assert behaviour(a) == behaviour(b)


def test_repeats_on_one_host_and_baselines_are_not_weighted_and_old_entities_age_out() -> None:
    prevalence = Prevalence(PrevalenceConfig(common=2, window_hours=24, learning_hours=0))
    same_host = prevalence.weigh([sig("r", hours=i, host="ws-1") for i in range(10)])
    assert all(s.risk is None for s in same_host)
    base = prevalence.weigh([sig("b", hours=i, host=f"h{i}", detector="baseline") for i in range(10)])
    assert all(s.risk is None for s in base)
    spread = prevalence.weigh([sig("s", hours=i * 30, host=f"h{i}") for i in range(5)])  # 30 h apart
    assert all(s.risk is None for s in spread)


def test_the_same_behaviour_on_the_same_entity_on_later_days_is_a_habit() -> None:
    prevalence = Prevalence(PrevalenceConfig(learning_hours=0))
    daily = prevalence.weigh([sig("remote-ps", "high", 24 * day + 9, host="admin-ws", user="it.admin")
                              for day in range(4)])
    assert [s.risk for s in daily] == [None, round(50 / 3), round(50 / 5), round(50 / 7)]
    assert "admin-ws showed the same behaviour on 1 earlier day(s)" in daily[1].explanation
    # a different behaviour on that host is new: full risk
    assert prevalence.weigh([sig("lsass-dump", "high", 24 * 4 + 9, host="admin-ws")])[0].risk is None


def test_during_the_learning_period_only_critical_signals_keep_their_risk() -> None:
    prevalence = Prevalence(PrevalenceConfig(learning_hours=24))
    out = prevalence.weigh([sig("a", "high", 0, host="h1"), sig("b", "critical", 5, host="h2"),
                            sig("c", "high", 23.9, host="h3"), sig("d", "high", 24.1, host="h4")])
    assert [s.risk for s in out] == [round(50 * 0.05), None, round(50 * 0.05), None]
    assert "learning period" in out[0].explanation


def test_a_scaled_high_signal_does_not_open_an_incident_by_its_level() -> None:
    engine = IncidentEngine(CorrelateConfig())
    prevalence = Prevalence(PrevalenceConfig(common=2, learning_hours=0))
    highs = prevalence.weigh([_with(sig("noncompliant", "high", i * 0.2, user=f"user{i}"), isCompliant="false")
                              for i in range(8)])
    opened = engine.process(highs)
    # users 0-1 at full risk, 2-3 scaled to 2/3 and 1/2 (still at least half): they open; 4-7 do not
    assert [i.entities[0].value for i in opened] == ["user0", "user1", "user2", "user3"]
    assert [s.risk for s in highs[4:]] == [20, 17, 14, 12]


def test_snapshot_restore_gives_the_same_weights() -> None:
    signals = [_with(sig("ps", hours=i * 0.1, host=f"h{i % 7}"), CommandLine=f"c {i % 3}") for i in range(40)]
    whole = Prevalence().weigh(signals)
    assert any(s.risk is not None for s in whole)
    first = Prevalence()
    head = first.weigh(signals[:17])
    second = Prevalence()
    second.restore(first.snapshot())
    assert [s.risk for s in head + second.weigh(signals[17:])] == [s.risk for s in whole]
    dirty = second.snapshot(dirty_only=True)
    assert dirty and set(dirty) <= set(second.snapshot())
