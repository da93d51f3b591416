"""Impossible travel between consecutive successful sign-ins."""

from __future__ import annotations

import pytest

from autosoc.detect.baselines import ImpossibleTravelConfig, ImpossibleTravelDetector, great_circle_km
from autosoc.normalize import fields as F
from tests.detect.baselines.events import at, batch, by_day, dicts, run, run_with_checkpoints, signin

LONDON = {F.SRC_LAT: "51.5074", F.SRC_LONG: "-0.1278", F.SRC_COUNTRY: "GB", F.SRC_CITY: "London",
          F.SRC_IP: "81.2.69.142"}
PARIS = {F.SRC_LAT: "48.8566", F.SRC_LONG: "2.3522", F.SRC_COUNTRY: "FR", F.SRC_CITY: "Paris", F.SRC_IP: "2.2.2.2"}
NEW_YORK = {F.SRC_LAT: "40.7128", F.SRC_LONG: "-74.0060", F.SRC_COUNTRY: "US", F.SRC_CITY: "New York",
            F.SRC_IP: "3.3.3.3"}
SYDNEY = {F.SRC_LAT: "-33.8688", F.SRC_LONG: "151.2093", F.SRC_COUNTRY: "AU", F.SRC_CITY: "Sydney",
          F.SRC_IP: "1.128.0.1", F.SRC_ASN_ORG: "Telstra"}


def _detector(**overrides: object) -> ImpossibleTravelDetector:
    return ImpossibleTravelDetector(ImpossibleTravelConfig(**overrides))


def test_great_circle() -> None:
    assert great_circle_km(51.5074, -0.1278, 40.7128, -74.0060) == pytest.approx(5570, abs=10)
    assert great_circle_km(10, 20, 10, 20) == 0


def test_london_then_sydney_two_hours_later_fires() -> None:
    rows = [signin(at(0, 8), "alice", **LONDON), signin(at(0, 8.5), "alice", **LONDON),
            signin(at(0, 10.5), "alice@corp.example", **SYDNEY)]
    signals = run(_detector(), [batch(rows)])
    assert len(signals) == 1
    signal = signals[0]
    assert signal.rule_id == "baseline.impossible_travel" and signal.level == "medium"
    assert signal.explanation == (
        "alice signed in from Sydney, AU (1.128.0.1, Telstra) 2.0 h after signing in from London, GB (81.2.69.142): "
        "16,994 km, 8,447 km/h (limit 900 km/h)")
    # both sign-ins are cited: the departure (the *last* London one) and the arrival
    assert len(signal.event_ids) == 2 and [o.record for o in signal.origins] == [2, 3]
    assert [str(e) for e in signal.all_entities()] == ["user:alice", "ip:81.2.69.142", "ip:1.128.0.1"]
    assert 30 <= signal.risk_score <= 60


def test_possible_journeys_do_not_fire() -> None:
    rows = [signin(at(0, 8), "alice", **LONDON), signin(at(0, 9), "alice", **PARIS),  # 344 km: under the minimum
            signin(at(1, 8), "alice", **LONDON), signin(at(1, 16), "alice", **NEW_YORK)]  # 5,570 km in 8 h
    assert run(_detector(), by_day(rows)) == []


def test_country_only_sign_ins_are_skipped() -> None:
    rows = [signin(at(0, 8), "alice", **LONDON), signin(at(0, 9), "alice", **{F.SRC_COUNTRY: "AU"}),
            signin(at(0, 9.5), "alice", **{**SYDNEY, F.SRC_LAT: None})]
    assert run(_detector(), [batch(rows)]) == []


def test_vpn_ranges_and_asns_are_ignored() -> None:
    rows = [signin(at(0, 8), "alice", **LONDON), signin(at(0, 9), "alice", **SYDNEY)]
    assert run(_detector(ignore_cidrs=["1.128.0.0/11"]), [batch(rows)]) == []
    rows = [signin(at(0, 8), "alice", **LONDON), signin(at(0, 9), "alice", **{**SYDNEY, F.SRC_ASN: "AS1221"})]
    assert run(_detector(ignore_asns=["1221"]), [batch(rows)]) == []
    assert len(run(_detector(ignore_cidrs=["10.0.0.0/8", "2001:db8::/32"]), [batch(rows)])) == 1


def test_an_ignored_range_is_ignored_in_every_batch() -> None:
    # the range test is remembered per address: the second batch must not read a stale answer
    detector = _detector(ignore_cidrs=["1.128.0.0/11"])
    first = [signin(at(0, 8), "alice", **LONDON), signin(at(0, 10), "alice", **SYDNEY)]
    second = [signin(at(1, 8), "bob", **LONDON), signin(at(1, 10), "bob", **SYDNEY),
              signin(at(1, 11), "carol", **LONDON), signin(at(1, 12), "carol", **{**SYDNEY, F.SRC_IP: "9.9.9.9"})]
    assert [s.user for s in run(detector, [batch(first), batch(second)])] == ["carol"]  # from outside the range


def test_flip_flopping_pair_is_reported_once() -> None:
    rows = [signin(at(0, 8 + i * 0.5), "alice", **(LONDON if i % 2 == 0 else SYDNEY)) for i in range(6)]
    assert len(run(_detector(), [batch(rows)])) == 1
    assert len(run(_detector(repeat_after_days=0), [batch(rows)])) == 5


def test_failures_and_learning_period() -> None:
    rows = [signin(at(0, 8), "alice", **LONDON), signin(at(0, 9), "alice", status="Failure", **SYDNEY)]
    assert run(_detector(), [batch(rows)]) == []
    rows = [signin(at(0, 8), "alice", **LONDON), signin(at(0, 9), "alice", **SYDNEY)]
    assert run(_detector(learning_days=1), [batch(rows)]) == []


def test_bad_cidr_is_a_config_error() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not a CIDR range"):
        ImpossibleTravelConfig(ignore_cidrs=["10.0.0.0/33"])


def test_checkpoint_restore_and_dirty_keys() -> None:
    rows = []
    for day in range(6):
        rows += [signin(at(day, 8), "alice", **LONDON), signin(at(day, 9), "bob", **PARIS)]
    rows += [signin(at(2, 9.5), "alice", **SYDNEY), signin(at(4, 10), "bob", **NEW_YORK)]
    batches = by_day(rows)
    factory = _detector
    expected = dicts(run(factory(), batches))
    # Sydney 1.5 h after London, New York 1 h after Paris; the journeys home (22 h later) are possible
    assert [s["user"] for s in expected] == ["alice", "bob"]
    for crash in range(1, len(batches)):
        assert dicts(run_with_checkpoints(factory, batches, crash)) == expected
    detector = factory()
    run(detector, batches)
    detector.mark_clean()
    detector.process(batch([signin(at(7, 8), "alice", **LONDON)]))
    assert list(detector.snapshot(dirty_only=True)) == ["alice"]
