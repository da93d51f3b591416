"""The incident engine: opening, joining, merging, hubs, tactics, titles and severity."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from autosoc.correlate import CorrelateConfig, IncidentEngine
from autosoc.schema import Entity, Incident, Signal

from ._signals import at, sig


def run(signals: list[Signal], **config: object) -> tuple[IncidentEngine, list[Incident]]:
    engine = IncidentEngine(CorrelateConfig(**config))
    return engine, engine.process(signals)


def latest(incidents: list[Incident]) -> dict[str, Incident]:
    """The last state of each incident id in a list of updates."""
    return {inc.incident_id: inc for inc in incidents}


def test_a_high_signal_opens_an_incident() -> None:
    s = sig("mimikatz", "high", user="CORP\\alice", host="WS-042.corp.example",
            tags=("attack.credential-access", "attack.t1003.001"))
    engine, out = run([s])
    assert len(out) == 1
    inc = out[0]
    assert inc.signal_ids == [s.signal_id]
    assert inc.status == "open" and inc.severity == "high"
    assert inc.reason == "high signal: Rule mimikatz"
    assert inc.title == "Credential access on WS-042 (alice)"
    assert inc.entities == [Entity("user", "alice"), Entity("host", "ws-042")]
    assert inc.tactics == ["credential-access"] and inc.techniques == ["T1003.001"]
    assert inc.first_seen == inc.last_seen == at(0)
    assert engine.incident_of(s.signal_id) == inc.incident_id
    # the id derives from the opening signal: another engine (a replay) gives the same id
    assert run([s])[1][0].incident_id == inc.incident_id


def test_a_critical_signal_says_so() -> None:
    _, out = run([sig("lsass-dump", "critical", host="srv-01")])
    assert out[0].reason == "critical signal: Rule lsass-dump" and out[0].severity == "critical"
    assert out[0].title == "Rule lsass-dump on srv-01"


def test_open_level_is_configurable() -> None:
    assert run([sig("a", "high", user="alice")], open_level="critical")[1] == []
    assert len(run([sig("a", "medium", user="alice")], open_level="medium")[1]) == 1


def test_repeated_same_rule_does_not_open_an_incident() -> None:
    signals = [sig("noisy", "medium", hours=i / 10, user="alice", host="ws-1", tags=("attack.discovery",))
               for i in range(300)]
    engine, out = run(signals)
    assert out == []
    assert engine.risk_of("user:alice", at(30)) < 2 * 25
    # the same volume spread over distinct rules does open one (so the check above can fail)
    _, out = run([sig(f"r{i}", "medium", hours=i / 10, user="alice", host="ws-1") for i in range(6)])
    assert len(out) == 1


def test_a_duplicate_signal_is_ignored() -> None:
    s = sig("a", "high", user="alice")
    engine, out = run([s, s])
    assert len(out) == 1 and out[0].signal_ids == [s.signal_id]
    assert engine.process([s]) == []


def _weak_story() -> list[Signal]:
    return [
        # a baseline anomaly on the user (no host): a sign-in from a new network
        sig("new_asn", "medium", 0, user="alice", ips=("203.0.113.7",), detector="baseline", risk=40),
        # Sigma on the host, run as SYSTEM (a hub, so the host is the only entity that counts)
        sig("encoded_ps", "medium", 1, user="NT AUTHORITY\\SYSTEM", host="WS-042", tags=("attack.execution",)),
        # a low signal that ties alice to WS-042
        sig("net_view", "low", 2, user="alice", host="WS-042", tags=("attack.discovery",)),
    ]


def test_weak_signals_across_sources_add_up_to_one_incident() -> None:
    story = _weak_story()
    engine, out = run(story)
    assert len(out) == 1
    inc = out[0]
    assert inc.signal_ids == [s.signal_id for s in story]  # in time order, the weak ones pulled in
    assert inc.reason.startswith("risk of user:alice reached 126 (threshold 100) from 3 signals of 3 rules, "
                                 "2 detectors, 2 tactics")
    assert inc.first_seen == at(0) and inc.last_seen == at(2)
    assert set(inc.entities) == {Entity("user", "alice"), Entity("ip", "203.0.113.7"), Entity("host", "ws-042")}
    assert inc.tactics == ["execution", "discovery"]
    assert inc.title == "Execution and discovery on WS-042 (alice)"
    assert inc.severity == "medium"
    assert {engine.incident_of(s.signal_id) for s in story} == {inc.incident_id}
    # the reason: 40, 25 and 10 decayed by 2 h, 1 h and 0 h, times 1 + 0.5 (2 detectors) + 0.25 (2 tactics);
    # the incident's risk is the story's total, not decayed
    assert inc.risk == pytest.approx((40 + 25 + 10) * 1.75, abs=0.1)
    # without the signal that links alice to WS-042 the two weak signals stay apart
    assert run(story[:2])[1] == []


def test_weak_signals_outside_the_window_do_not_add_up() -> None:
    story = _weak_story()
    story[0] = sig("new_asn", "medium", -60, user="alice", ips=("203.0.113.7",), detector="baseline", risk=40)
    assert run(story)[1] == []


def test_a_busy_server_does_not_lend_its_users_risk() -> None:
    signals = [sig(f"r{i}", "medium", i, user=f"u{i}", host="fs-1", tags=("attack.discovery",)) for i in range(3)]
    signals.append(sig("new_asn", "medium", 4, user="eve", detector="baseline", risk=40))
    signals.append(sig("smb", "low", 5, user="eve", host="fs-1"))
    assert run(signals)[1] == []
    # were fs-1 eve's own workstation, her risk would count its signals (so this test can fail)
    assert len(run(signals, share_max_degree=10)[1]) == 1


def test_a_high_signal_on_a_busy_server_does_not_pull_other_users_weak_signals() -> None:
    others = [sig(f"r{i}", "medium", i, user=f"u{i}", host="fs-1") for i in range(4)]
    own = sig("new_asn", "low", 4, user="eve", detector="baseline")
    system = sig("svc", "low", 4.5, user="SYSTEM", host="fs-1")  # only the server itself: part of any story on it
    high = sig("dump", "high", 5, user="eve", host="fs-1")
    (inc,) = run([*others, own, system, high])[1]
    assert inc.signal_ids == [own.signal_id, system.signal_id, high.signal_id]


def test_a_signal_bringing_a_new_entity_pulls_its_weak_signals() -> None:
    first = sig("mimikatz", "high", 0, user="alice", host="ws-1")
    weak = sig("svc", "low", 1, user="SYSTEM", host="ws-042")
    link = sig("psexec", "medium", 2, user="alice", host="ws-042")
    engine, _ = run([first, weak])
    (inc,) = engine.process([link])
    assert inc.signal_ids == [first.signal_id, weak.signal_id, link.signal_id]
    assert engine.incident_of(weak.signal_id) == inc.incident_id


def test_a_signal_joins_within_the_window_and_opens_anew_after_it() -> None:
    first = sig("mimikatz", "high", 0, user="alice", host="ws-1", tags=("attack.credential-access",))
    joins = sig("psexec", "medium", 5, user="alice", host="srv-9", tags=("attack.lateral-movement",))
    late = sig("whoami", "medium", 5 + 30, user="alice", host="ws-1")
    again = sig("mimikatz", "high", 5 + 31, user="alice", host="ws-1")
    engine = IncidentEngine(CorrelateConfig())
    (a,) = engine.process([first])
    (a2,) = engine.process([joins])
    assert a2.incident_id == a.incident_id
    assert a2.signal_ids == [first.signal_id, joins.signal_id] and a2.last_seen == at(5)
    assert a2.tactics == ["credential-access", "lateral-movement"]
    assert a2.entities[-1] == Entity("host", "srv-9")
    out = engine.process([late])  # 30 h after the incident's last signal: it closed
    assert [(i.incident_id, i.status) for i in out] == [(a.incident_id, "open")]
    assert engine.incident_of(late.signal_id) is None
    (b,) = engine.process([again])
    assert b.incident_id != a.incident_id and b.status == "open"
    assert b.signal_ids == [late.signal_id, again.signal_id]  # the weak one before it is pulled in


def test_incident_of_answers_for_an_incident_closed_in_the_same_batch() -> None:
    first = sig("mimikatz", "high", 0, user="alice")
    joins = sig("psexec", "medium", 1, user="alice")
    much_later = sig("x", "low", 24 * 5, user="bob")
    engine = IncidentEngine(CorrelateConfig())
    out = engine.process([first, joins, much_later])
    assert [(i.status, i.signal_ids) for i in out] == [("open", [first.signal_id, joins.signal_id])]
    assert engine.incident_of(joins.signal_id) == out[0].incident_id
    engine.process([])
    assert engine.incident_of(joins.signal_id) is None  # forgotten with the next call


def test_a_linking_signal_merges_two_incidents_into_the_older() -> None:
    a1 = sig("mimikatz", "high", 0, user="alice", host="ws-1", tags=("attack.credential-access",))
    b1 = sig("beacon", "high", 1, user="bob", host="ws-2", tags=("attack.command-and-control",))
    link = sig("psexec", "medium", 2, user="alice", host="ws-2", tags=("attack.lateral-movement",))
    engine = IncidentEngine(CorrelateConfig())
    (a,) = engine.process([a1])
    (b,) = engine.process([b1])
    assert a.incident_id != b.incident_id
    out = latest(engine.process([link]))
    merged, survivor = out[b.incident_id], out[a.incident_id]
    assert merged.status == "merged" and merged.merged_into == a.incident_id
    assert survivor.status == "open"
    assert survivor.signal_ids == [a1.signal_id, b1.signal_id, link.signal_id]
    assert survivor.tactics == ["credential-access", "lateral-movement", "command-and-control"]
    assert survivor.severity == "critical"  # high, raised: three tactics
    assert {engine.incident_of(s.signal_id) for s in (a1, b1, link)} == {a.incident_id}
    # later signals on bob's side land in the survivor
    (after,) = engine.process([sig("x", "low", 3, user="bob")])
    assert after.incident_id == a.incident_id


def test_default_hubs_do_not_glue_incidents() -> None:
    one = sig("a", "high", 0, user="NT AUTHORITY\\SYSTEM", host="ws-1", ips=("127.0.0.1",))
    two = sig("b", "high", 1, user="NT AUTHORITY\\SYSTEM", host="ws-2", ips=("127.0.0.1",))
    engine, out = run([one, two])
    assert len(latest(out)) == 2
    assert engine.risk_of("ip:127.0.0.1", at(1)) == 0 and engine.risk_of("user:system", at(1)) == 0
    assert Entity("user", "system") not in out[0].entities


def test_configured_hubs_do_not_glue_incidents() -> None:
    one = sig("a", "high", 0, user="alice", host="ws-1", ips=("10.0.0.53",))
    two = sig("b", "high", 1, user="bob", host="ws-2", ips=("10.0.0.53",))
    assert len(latest(run([one, two])[1])) == 1  # the DNS server glues them by default ...
    assert len(latest(run([one, two], deny_extra=["ip:10.0.0.53"])[1])) == 2  # ... unless it is denied


def test_hubs_found_by_degree_do_not_glue_incidents() -> None:
    noise = [sig("dns", "low", i / 10, host=f"h{i}", ips=("10.0.0.53",)) for i in range(6)]
    one = sig("a", "high", 1, user="alice", host="ws-1", ips=("10.0.0.53",))
    two = sig("b", "high", 2, user="bob", host="ws-2", ips=("10.0.0.53",))
    _, out = run([*noise, one, two], hub_degree=5)
    assert len(latest(out)) == 2
    assert Entity("ip", "10.0.0.53") in out[-1].entities  # shown, but not linking
    assert len(latest(run([*noise, one, two], hub_degree=50)[1])) == 1


def test_private_server_addresses_still_link() -> None:
    one = sig("a", "high", 0, user="alice", host="10.1.2.3")
    two = sig("b", "medium", 1, user="bob", ips=("10.1.2.3",))
    (inc,) = latest(run([one, two])[1]).values()
    assert inc.signal_ids == [one.signal_id, two.signal_id]
    assert Entity("ip", "10.1.2.3") in inc.entities


def test_tactics_follow_the_kill_chain() -> None:
    signals = [
        sig("a", "high", 0, user="alice", host="ws-042", tags=("attack.exfiltration", "attack.t1041")),
        sig("b", "low", 1, user="alice", tags=("attack.lateral-movement", "attack.credential_access")),
        sig("c", "low", 2, user="alice", tags=("attack.initial-access", "attack.g0016", "attack.s0002")),
    ]
    (inc,) = latest(run(signals)[1]).values()
    assert inc.tactics == ["initial-access", "credential-access", "lateral-movement", "exfiltration"]
    assert inc.title == "Initial access, credential access, lateral movement and 1 more tactic on ws-042 (alice)"
    assert inc.severity == "critical"


def test_severity_is_raised_by_high_risk() -> None:
    signals = [sig(f"r{i}", "medium", i / 10, user="alice", tags=("attack.discovery",)) for i in range(12)]
    (inc,) = latest(run(signals)[1]).values()
    assert inc.risk >= 250 and inc.severity == "high"
    assert inc.title == "Discovery for alice"


def test_a_signal_without_time_or_entities() -> None:
    _, out = run([sig("a", "high", no_time=True), sig("b", "medium", 0, user="alice", no_time=True)])
    assert len(out) == 1 and out[0].entities == []
    assert out[0].title == "Rule a"


def test_state_is_bounded_by_event_time() -> None:
    engine = IncidentEngine(CorrelateConfig())
    engine.process([sig(f"r{i}", "low", i, user=f"u{i}", host=f"h{i}") for i in range(50)])
    engine.process([sig("a", "high", 0, user="alice", host="ws-1")])
    assert len(engine.snapshot()) > 100
    later = sig("later", "low", 24 * 30, user="zed")
    out = engine.process([later])
    assert [i.status for i in out] == ["open"]
    assert sorted(engine.snapshot()) == ["m/user:zed", "meta", "r/user:zed", f"s/{later.signal_id}"]


def test_remembered_signals_per_entity_are_bounded() -> None:
    engine, _ = run([sig(f"r{i}", "low", i / 100, user="alice") for i in range(200)], max_signals_per_entity=10,
                    min_rules=10**6)
    assert len(engine.memory.lists.get("user:alice")) == 10


def test_config_is_strict() -> None:
    with pytest.raises(ValidationError):
        CorrelateConfig(treshold=10)
    with pytest.raises(ValidationError, match="unknown level"):
        CorrelateConfig(open_level="severe")
    with pytest.raises(ValidationError, match="kind:value"):
        CorrelateConfig(deny_extra=["10.0.0.53"])
    assert CorrelateConfig(half_life="PT12H", join_window=3600).join_window.total_seconds() == 3600
    assert all(field.description for field in CorrelateConfig.model_fields.values())


def test_public_names() -> None:
    import autosoc.correlate as correlate

    assert sorted(correlate.__all__) == ["CorrelateConfig", "DEFAULT_DENY", "EntityGraph", "IncidentEngine",
                                         "Prevalence", "PrevalenceConfig", "RiskLedger", "diversity_multiplier",
                                         "entity_key"]
    assert IncidentEngine.name == "incidents" and IncidentEngine.stateful


def test_an_ip_that_turns_hub_after_an_incident_took_it_in_still_leads_there() -> None:
    engine = IncidentEngine(CorrelateConfig())
    spray = [sig("spray", "high", i / 60, user=f"user{i}", ips=("197.210.167.184",)) for i in range(30)]
    opened = engine.process(spray)
    first = opened[0].incident_id
    takeover = sig("consent", "high", 0.6, user="victim", ips=("197.210.167.184",))
    out = engine.process([takeover])
    assert [i.incident_id for i in out] == [first]
    assert engine.incident_of(takeover.signal_id) == first
    # every spray signal is in that one incident, also those after the IP became a hub
    assert {engine.incident_of(s.signal_id) for s in spray} == {first}
