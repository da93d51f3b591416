"""The correlation engine: every type and operator, windows on event time, lateness, chaining, state."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from autosoc.schema import Entity
from tests.detect.correlation_helpers import (
    BASE_RULES,
    EXPLICIT_ID,
    FAILED_ID,
    T0,
    batch,
    correlated,
    correlation,
    detector,
    event,
    run,
    summary,
)

CID = "9c0f0000-0000-4000-8000-00000000c001"


def failed(n: int, start: float = 0.0, step: float = 10.0, user: str = "alice", first: int = 1, **kw: str) -> list:
    return [event(first + i, 4625, start + i * step, user=user, **kw) for i in range(n)]


# -- event_count ----------------------------------------------------------------------------------

def test_event_count_fires_once_at_the_completing_event(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         condition={"gte": 3}, title="Brute force"))
    signals = correlated(run(det, [failed(5) + failed(2, user="bob", first=50)]))
    (signal,) = signals  # five failures in one window: one signal; bob has only two
    assert signal.time == T0 + timedelta(seconds=20)  # the third failure completed it
    assert signal.matched == {"TargetUserName": "alice"}
    assert signal.user == "alice" and signal.host == "DC01"
    assert signal.level == "high" and signal.status == "experimental" and signal.rule_id == CID
    assert signal.tags == ["attack.credential-access", "attack.t1110"]
    assert len(signal.event_ids) == 3 and [o.record for o in signal.origins] == [1, 2, 3]
    assert signal.explanation == ("3 events (rule 'Failed Logon') for TargetUserName=alice within 5m0s, "
                                  "condition gte 3")


def test_a_new_window_after_the_fired_one_fires_again(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         timespan="1m", condition={"gte": 3}))
    # 0, 10, 20 fire; 30..60 fall in the fired window [0, 60] and are absorbed; 70, 80, 90 fire again
    times = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    signals = correlated(run(det, [[event(i + 1, 4625, t) for i, t in enumerate(times)]]))
    assert [s.time for s in signals] == [T0 + timedelta(seconds=20), T0 + timedelta(seconds=90)]


def test_sliding_window_finds_bursts_across_fixed_boundaries(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         timespan="1m", condition={"gte": 3}))
    # a lone failure at 0, then three between 50 s and 100 s: no window from the first event holds
    # three, the window [40 s, 100 s] does
    signals = correlated(run(det, [[event(1, 4625, 0), event(2, 4625, 50), event(3, 4625, 75),
                                    event(4, 4625, 100)]]))
    assert [s.time for s in signals] == [T0 + timedelta(seconds=100)]
    assert [o.record for o in signals[0].origins] == [2, 3, 4]


@pytest.mark.parametrize("gap, fires", [(300, True), (301, False)])
def test_window_edges_are_inclusive(tmp_path: Path, gap: int, fires: bool) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         timespan="5m", condition={"gte": 2}))
    signals = correlated(run(det, [[event(1, 4625, 0), event(2, 4625, gap)]]))
    assert bool(signals) is fires


@pytest.mark.parametrize("op, count, events, fires", [
    ("gt", 2, 3, True), ("gt", 3, 3, False),
    ("gte", 3, 3, True), ("gte", 4, 3, False),
    ("lt", 4, 3, True), ("lt", 3, 3, False),
    ("lte", 3, 3, True), ("lte", 2, 3, False),
    ("eq", 3, 3, True), ("eq", 2, 3, False), ("eq", 4, 3, False),
    ("neq", 2, 3, True), ("neq", 3, 3, False),
])
def test_every_condition_operator(tmp_path: Path, op: str, count: int, events: int, fires: bool) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         timespan="5m", condition={op: count}))
    signals = correlated(run(det, [failed(events)]))
    assert len(signals) == int(fires)
    if fires and op in ("lt", "lte", "eq", "neq"):  # decided when the window closed: its end
        assert signals[0].time == T0 + timedelta(minutes=5)
        assert "in the 5m0s window from 2024-05-01 10:00:00 UTC" in signals[0].explanation
    elif fires:
        assert signals[0].time == T0 + timedelta(seconds=10 * (count if op == "gt" else count - 1))


def test_lt_is_decided_when_the_watermark_passes_the_window_end(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         timespan="5m", condition={"lt": 3}), lateness=timedelta(minutes=1))
    assert correlated(run(det, [failed(2)], flush=False)) == []
    # 5m window end + 1m lateness: an event at 6m01s (any rule, any group) closes it
    assert correlated(run(det, [[event(90, 4624, 6 * 60, user="zed")]], flush=False)) == []  # W == end: open
    early = correlated(run(det, [[event(91, 4624, 6 * 60 + 1, user="zed")]], flush=False))
    assert [(s.time, s.matched) for s in early] == [(T0 + timedelta(minutes=5), {"TargetUserName": "alice"})]
    assert early[0].explanation.startswith("2 events (rule 'Failed Logon') for TargetUserName=alice in the 5m0s")
    assert correlated(det.flush()) == []  # decided once


def test_lt_window_closed_by_a_later_hit_of_the_same_group(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         timespan="5m", condition={"lte": 1}), lateness=None)
    signals = correlated(run(det, [[event(1, 4625, 0), event(2, 4625, 400), event(3, 4625, 420)]]))
    assert [s.time for s in signals] == [T0 + timedelta(minutes=5)]  # the second window holds two


# -- value_count, temporal, temporal_ordered ------------------------------------------------------

def test_value_count_counts_distinct_values(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("value_count", ["failed_logon"], group_by=["IpAddress"],
                                         condition={"gte": 3, "field": "TargetUserName"}, title="Spray"))
    records = [event(1, 4625, 0, user="alice"), event(2, 4625, 5, user="alice"), event(3, 4625, 10, user="bob"),
               event(4, 4625, 15, user="alice"), event(5, 4625, 20, user="carol"),
               event(6, 4625, 25, user="dave", ip="10.9.9.9")]
    (signal,) = correlated(run(det, [records]))
    assert signal.time == T0 + timedelta(seconds=20)
    assert signal.matched == {"IpAddress": "10.0.0.5"}
    assert Entity("ip", "10.0.0.5") in signal.entities and signal.user is None
    assert signal.explanation.startswith("3 distinct TargetUserName values [alice, bob, carol] in 5 events")


def test_value_count_lt(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("value_count", ["failed_logon"], group_by=["IpAddress"],
                                         condition={"lt": 2, "field": "TargetUserName"}))
    signals = correlated(run(det, [[event(1, 4625, 0, user="alice"), event(2, 4625, 5, user="alice"),
                                    event(3, 4625, 1, user="x", ip="10.1.1.1"),
                                    event(4, 4625, 2, user="y", ip="10.1.1.1")]]))
    assert [s.matched for s in signals] == [{"IpAddress": "10.0.0.5"}]


@pytest.mark.parametrize("order", [(4625, 4648), (4648, 4625)])
def test_temporal_in_any_order(tmp_path: Path, order: tuple[int, int]) -> None:
    det = detector(tmp_path, correlation("temporal", ["failed_logon", "explicit_creds"],
                                         group_by=["TargetUserName"], timespan="2m"))
    signals = correlated(run(det, [[event(1, order[0], 0), event(2, order[1], 60), event(3, order[0], 70)]]))
    (signal,) = signals
    assert signal.time == T0 + timedelta(seconds=60)
    assert signal.explanation.startswith("2 of 2 rules matched (rules 'Failed Logon', 'Explicit Credentials')")


def test_temporal_needs_every_rule_within_the_timespan(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("temporal", ["failed_logon", "explicit_creds"],
                                         group_by=["TargetUserName"], timespan="2m"))
    records = [event(1, 4625, 0), event(2, 4625, 30), event(3, 4648, 200),  # 170 s apart: too far
               event(4, 4648, 0, user="bob")]  # bob: one rule only
    assert correlated(run(det, [records])) == []


def test_temporal_with_a_count_condition(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("temporal", ["failed_logon", "explicit_creds", "successful_logon"],
                                         group_by=["TargetUserName"], timespan="2m", condition={"gte": 2}))
    (signal,) = correlated(run(det, [[event(1, 4625, 0), event(2, 4624, 30)]]))
    assert signal.explanation.startswith("2 of 3 rules matched")


def test_temporal_ordered(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("temporal_ordered", ["failed_logon", "successful_logon"],
                                         group_by=["TargetUserName"], timespan="5m"))
    records = [event(1, 4625, 0), event(2, 4624, 60),  # alice: in order
               event(3, 4624, 0, user="bob"), event(4, 4625, 60, user="bob")]  # bob: reversed
    (signal,) = correlated(run(det, [records]))
    assert signal.matched == {"TargetUserName": "alice"} and signal.time == T0 + timedelta(seconds=60)
    assert signal.explanation.startswith("'Failed Logon' then 'Successful Logon' matched in order")


def test_temporal_ordered_keeps_the_latest_start(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("temporal_ordered", ["failed_logon", "explicit_creds", "successful_logon"],
                                         group_by=["TargetUserName"], timespan="2m"))
    # A(0) B(10) ... A(100) B(110) C(200): only the second A-B is within 2m of C
    records = [event(1, 4625, 0), event(2, 4648, 10), event(3, 4625, 100), event(4, 4648, 110),
               event(5, 4624, 200)]
    (signal,) = correlated(run(det, [records]))
    assert [o.record for o in signal.origins] == [3, 4, 5]


def test_temporal_ordered_lt_decides_at_close(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("temporal_ordered", ["failed_logon", "successful_logon"],
                                         group_by=["TargetUserName"], timespan="5m", condition={"lt": 2}))
    records = [event(1, 4624, 0), event(2, 4625, 60),  # alice: wrong order: 1 of 2 -> fires
               event(3, 4625, 0, user="bob"), event(4, 4624, 60, user="bob")]  # bob: in order
    assert [s.matched for s in correlated(run(det, [records]))] == [{"TargetUserName": "alice"}]


def test_one_event_counts_once_for_temporal_ordered(tmp_path: Path) -> None:
    both = ["""
title: Any logon event
id: 7a1e0b8c-0000-4000-8000-0000000000aa
name: any_logon
logsource: {product: windows, service: security}
detection:
  selection: {EventID: [4624, 4625]}
  condition: selection
"""]
    det = detector(tmp_path, correlation("temporal_ordered", ["failed_logon", "any_logon"],
                                         group_by=["TargetUserName"]), base=[*BASE_RULES, *both])
    assert correlated(run(det, [[event(1, 4625, 0)]])) == []  # the same event cannot be first and second
    assert len(correlated(run(det, [[event(2, 4625, 10), event(3, 4624, 20)]]))) == 1


# -- group-by, aliases, entities ------------------------------------------------------------------

def test_group_by_with_aliases_across_rules(tmp_path: Path) -> None:
    aliases = ("  aliases:\n    account:\n      failed_logon: TargetUserName\n      explicit_creds: SubjectUserName\n"
               "    source:\n      failed_logon: IpAddress\n      explicit_creds: SourceAddress")
    det = detector(tmp_path, correlation("temporal", ["failed_logon", "explicit_creds"],
                                         group_by=["account", "source"], timespan="5m", extra=aliases))
    records = [event(1, 4625, 0, user="alice", ip="10.0.0.7"),
               event(2, 4648, 30, user="someone", ip="-", SubjectUserName="alice", SourceAddress="10.0.0.7"),
               event(3, 4648, 40, user="alice", ip="10.0.0.7", SubjectUserName="mallory", SourceAddress="1.1.1.1")]
    (signal,) = correlated(run(det, [records]))
    assert signal.matched == {"account": "alice", "source": "10.0.0.7"}
    assert [o.record for o in signal.origins] == [1, 2]
    assert signal.user == "alice" and Entity("ip", "10.0.0.7") in signal.entities


def test_events_without_the_group_by_field_are_not_counted(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["WorkstationName"],
                                         condition={"gte": 2}))
    assert correlated(run(det, [failed(3)])) == []
    assert det.correlation.stats["missing_group_by"] == 3


def test_no_group_by_is_one_group(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], condition={"gte": 3}))
    (signal,) = correlated(run(det, [[event(1, 4625, 0, user="a"), event(2, 4625, 1, user="b"),
                                      event(3, 4625, 2, user="c")]]))
    assert signal.matched == {} and signal.user is None and signal.host == "DC01"


def test_host_group_by_names_the_host(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["Computer"],
                                         condition={"gte": 2}))
    (signal,) = correlated(run(det, [[event(1, 4625, 0, user="a"), event(2, 4625, 1, user="b")]]))
    assert signal.host == "DC01" and signal.user is None and signal.matched == {"Computer": "DC01"}


def test_evidence_lists_are_capped_but_counted(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         timespan="1h", condition={"gte": 150}))
    (signal,) = correlated(run(det, [failed(150, step=1)]))
    assert len(signal.event_ids) == 100 and len(signal.origins) == 100
    assert "150 events contributed, the first 100 are listed" in signal.explanation


def test_the_same_event_read_twice_counts_once(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         condition={"gte": 3}))
    records = failed(2)
    assert correlated(run(det, [records, records])) == []  # e.g. the EVTX file and its JSON export
    assert det.correlation.stats["duplicate"] == 2


# -- batches, order, lateness ---------------------------------------------------------------------

def _many(tmp_path: Path, lateness: timedelta | None = timedelta(minutes=5)):
    return detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                          timespan="1m", condition={"gte": 3}),
                    correlation("value_count", ["failed_logon"], group_by=["IpAddress"], timespan="2m",
                                condition={"lte": 2, "field": "TargetUserName"},
                                rule_id="9c0f0000-0000-4000-8000-00000000c002"),
                    correlation("temporal_ordered", ["failed_logon", "successful_logon"],
                                group_by=["TargetUserName"], timespan="3m",
                                rule_id="9c0f0000-0000-4000-8000-00000000c003"),
                    lateness=lateness)


def _stream(n: int = 120, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    users, ips = ["alice", "bob", "carol", "dave"], ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    return [event(i + 1, rng.choice([4625, 4625, 4625, 4624]), i * 7 + rng.random(), user=rng.choice(users),
                  ip=rng.choice(ips)) for i in range(n)]


def test_batch_boundaries_do_not_change_the_result(tmp_path: Path) -> None:
    stream = _stream()
    (tmp_path / "a").mkdir()
    whole = summary(run(_many(tmp_path / "a"), [stream]))
    assert len(whole) > 5
    (tmp_path / "b").mkdir()
    split = summary(run(_many(tmp_path / "b"), [stream[:1], stream[1:37], stream[37:38], stream[38:]]))
    assert split == whole


def test_across_two_batches(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         condition={"gte": 3}))
    signals = correlated(run(det, [failed(2), failed(1, start=100, first=3)]))
    assert [s.time for s in signals] == [T0 + timedelta(seconds=100)]


def test_out_of_order_within_lateness_is_counted_as_in_order(tmp_path: Path) -> None:
    stream = _stream()
    (tmp_path / "sorted").mkdir()
    (tmp_path / "shuffled").mkdir()
    expected = summary(run(_many(tmp_path / "sorted"), [stream]))
    rng = random.Random(3)
    # displace events by up to 2 minutes of event time (lateness is 5 minutes)
    shuffled = sorted(stream, key=lambda e: e["Event"]["System"]["EventRecordID"] * 7 + rng.uniform(0, 120))
    assert shuffled != stream
    det = _many(tmp_path / "shuffled")
    assert summary(run(det, [shuffled[i:i + 10] for i in range(0, len(shuffled), 10)])) == expected
    assert det.correlation.stats["late"] == 0


def test_too_late_events_are_counted_and_ignored(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         timespan="1h", condition={"gte": 3}), lateness=timedelta(minutes=5))
    records = [event(1, 4625, 600), event(2, 4625, 610), event(3, 4625, 0)]  # 10 min older than the newest
    assert correlated(run(det, [records])) == []
    assert det.correlation.stats["late"] == 1
    det.flush()
    fresh = correlated(run(det, [[event(4, 4625, 620)]]))  # the flush kept max_seen: 0s is late forever
    assert fresh == []


def test_unbounded_lateness_waits_for_flush(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         condition={"gte": 3}), lateness=None)
    signals = run(det, [failed(3, start=86400), failed(3, start=0, first=10)], flush=False)
    assert correlated(signals) == []
    assert [s.time for s in correlated(det.flush())] == [T0 + timedelta(seconds=20),
                                                         T0 + timedelta(seconds=86420)]


def test_state_expires_by_event_time(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         timespan="1m", condition={"gte": 3}), lateness=timedelta(seconds=30))
    run(det, [[event(i, 4625, i, user=f"user{i}") for i in range(1, 50)]], flush=False)
    assert len(det.correlation.snapshot()) > 40
    run(det, [[event(100, 4624, 3600)]], flush=False)  # an hour later: every window is over
    assert set(det.correlation.snapshot()) == {"_meta"}


# -- generate and chaining -----------------------------------------------------------------------

@pytest.mark.parametrize("generate", [None, False, True])
def test_generate_decides_whether_base_rules_emit(tmp_path: Path, generate: bool | None) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         condition={"gte": 3}, generate=generate))
    signals = run(det, [[*failed(3), event(9, 4648, 5)]])
    base = sorted({s.rule_id for s in signals if s.detector == "sigma"})
    assert len(correlated(signals)) == 1
    # the specification's default is false: referenced rules are not converted on their own
    assert base == (sorted([EXPLICIT_ID, FAILED_ID]) if generate else [EXPLICIT_ID])
    assert (FAILED_ID in det.suppressed) is not bool(generate)


def test_a_rule_emits_when_any_referencing_correlation_generates(tmp_path: Path) -> None:
    det = detector(tmp_path,
                   correlation("event_count", ["failed_logon"], group_by=["TargetUserName"], condition={"gte": 3}),
                   correlation("event_count", ["failed_logon"], group_by=["IpAddress"], condition={"gte": 3},
                               rule_id="9c0f0000-0000-4000-8000-00000000c002", generate=True))
    signals = run(det, [failed(3)])
    assert sum(s.rule_id == FAILED_ID for s in signals) == 3 and len(correlated(signals)) == 2


SPEC_CHAIN = [
    correlation("temporal_ordered", ["multiple_failed_logons", "successful_logon"], group_by=["TargetUserName"],
                timespan="10m", title="Failed logons followed by a success"),
    correlation("event_count", ["failed_logon"], group_by=["TargetUserName"], timespan="10m",
                condition={"gte": 3}, title="Multiple failed logons", name="multiple_failed_logons",
                rule_id="9c0f0000-0000-4000-8000-00000000c00a", level="medium"),
]


def test_chained_correlations(tmp_path: Path) -> None:
    det = detector(tmp_path, *SPEC_CHAIN)
    records = [*failed(4), event(10, 4624, 100), event(11, 4624, 100, user="bob"),
               *failed(2, user="carol", first=20), event(30, 4624, 100, user="carol")]
    signals = run(det, [records])
    (signal,) = signals  # the inner correlation and both base rules are not generated on their own
    assert signal.rule_id == CID and signal.matched == {"TargetUserName": "alice"}
    assert signal.time == T0 + timedelta(seconds=100)
    assert [o.record for o in signal.origins] == [1, 2, 3, 10]
    assert signal.explanation.startswith("'Multiple failed logons' then 'Successful Logon' matched in order")


def test_chained_correlation_carries_fields_its_parent_groups_by(tmp_path: Path) -> None:
    # the inner correlation groups by IpAddress; the parent by TargetUserName, which the inner's
    # events agree on for alice's burst and not for the mixed one
    inner = correlation("event_count", ["failed_logon"], group_by=["IpAddress"], timespan="10m",
                        condition={"gte": 3}, name="burst", rule_id="9c0f0000-0000-4000-8000-00000000c00b")
    outer = correlation("temporal_ordered", ["burst", "successful_logon"], group_by=["TargetUserName"],
                        timespan="10m")
    det = detector(tmp_path, inner, outer)
    records = [*failed(3, ip="10.0.0.1"), event(10, 4624, 60),
               event(20, 4625, 0, user="x", ip="10.0.0.2"), event(21, 4625, 1, user="y", ip="10.0.0.2"),
               event(22, 4625, 2, user="x", ip="10.0.0.2"), event(23, 4624, 60, user="x")]
    assert [s.matched for s in run(det, [records])] == [{"TargetUserName": "alice"}]


# -- snapshot / restore ---------------------------------------------------------------------------

def test_snapshot_restore_mid_stream_gives_the_same_results(tmp_path: Path) -> None:
    stream = _stream(200, seed=11)
    chunks = [stream[i:i + 15] for i in range(0, len(stream), 15)]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    expected = summary(run(_many(tmp_path / "a"), chunks))

    first = _many(tmp_path / "b")
    before = run(first, chunks[:6], flush=False)
    state = first.correlation.snapshot()
    second = _many(tmp_path / "b")
    second.correlation.restore(state)
    assert summary(before + run(second, chunks[6:])) == expected

    # incremental checkpoints: dirty snapshots applied to a store, deletions as b""
    store: dict[str, bytes] = {}
    signals = []
    current = _many(tmp_path / "c")
    for i, chunk in enumerate(chunks):
        signals += current.detect(batch(chunk))
        for key, value in current.correlation.snapshot(dirty_only=True).items():
            if value:
                store[key] = value
            else:
                store.pop(key, None)
        current.correlation.mark_clean()
        if i % 4 == 3:  # "crash" and restart from the store
            current = _many(tmp_path / "c")
            current.correlation.restore(dict(store))
    signals += current.flush()
    assert summary(signals) == expected


def test_dirty_snapshot_is_empty_after_mark_clean(tmp_path: Path) -> None:
    det = detector(tmp_path, correlation("event_count", ["failed_logon"], group_by=["TargetUserName"],
                                         condition={"gte": 3}))
    run(det, [failed(2)], flush=False)
    assert len(det.correlation.snapshot(dirty_only=True)) == 2  # alice's group and the meta state
    det.correlation.mark_clean()
    assert det.correlation.snapshot(dirty_only=True) == {}
