"""First-seen baselines: new sign-in network, process image, destination network."""

from __future__ import annotations

from autosoc.detect.baselines import FirstSeenConfig, FirstSeenDetector, build_baselines
from autosoc.detect.baselines.first_seen import FEATURES
from autosoc.normalize import fields as F
from tests.detect.baselines.events import at, batch, by_day, dicts, event, run, run_with_checkpoints, signin

HOME = {F.SRC_ASN: "100", F.SRC_ASN_ORG: "ISP A", F.SRC_COUNTRY: "RO", F.SRC_IP: "81.0.0.1"}
AWAY = {F.SRC_ASN: "12345", F.SRC_ASN_ORG: "ISP X", F.SRC_COUNTRY: "RO", F.SRC_IP: "5.5.5.5"}


def _asn(**overrides: object) -> FirstSeenDetector:
    return FirstSeenDetector(FEATURES["user_asn"], FirstSeenConfig(features=["user_asn"], **overrides))


def _history(days: int = 30) -> list[dict]:
    rows = [signin(at(d, 9), "alice", **HOME) for d in range(days)]
    rows += [signin(at(d, 10), "CORP\\Bob", **HOME) for d in range(days)]
    return rows


def test_new_asn_after_learning_fires_with_explanation() -> None:
    rows = [*_history(), signin(at(30, 11), "alice@corp.example", **AWAY)]
    signals = run(_asn(), by_day(rows))
    assert len(signals) == 1
    signal = signals[0]
    assert signal.rule_id == "baseline.first_seen.user_asn"
    assert signal.detector == "baseline"
    assert signal.explanation == ("first successful sign-in of alice from AS12345 (ISP X, RO) in 30 days of history "
                                  "(networks known: 1)")
    assert signal.level in ("low", "medium") and 8 <= signal.risk_score <= 30
    assert signal.user == "alice@corp.example"
    assert [str(e) for e in signal.all_entities()] == ["user:alice", "ip:5.5.5.5"]
    assert len(signal.event_ids) == 1 and signal.origins[0].path == "day30.jsonl"
    assert "attack.t1078" in signal.tags


def test_silent_during_learning_and_on_repeated_behaviour() -> None:
    early = [*_history(5), signin(at(5, 11), "alice", **AWAY)]  # new, but only 5 days of history
    assert run(_asn(), by_day(early)) == []
    repeated = [*_history(40)]
    assert run(_asn(), by_day(repeated)) == []
    again = [*_history(), signin(at(30, 11), "alice", **AWAY), signin(at(31, 11), "alice", **AWAY)]
    assert len(run(_asn(), by_day(again))) == 1  # the second time it is known


def test_values_age_out_after_retention() -> None:
    rows = [signin(at(0, 11), "alice", **AWAY), *_history(30), signin(at(29, 12), "alice", **AWAY)]
    assert run(_asn(retention_days=90), by_day(rows)) == []
    assert len(run(_asn(retention_days=20), by_day(rows))) == 1  # seen once, 29 days ago: new again


def test_asn_name_only_when_the_number_is_unknown() -> None:
    # geoip2fast gives an AS name but no number: the name is the value then
    home = {F.SRC_ASN_ORG: "ISP A", F.SRC_COUNTRY: "RO"}
    rows = [signin(at(d, 9), "alice", **home) for d in range(20)]
    rows.append(signin(at(20, 9), "alice", **{F.SRC_ASN_ORG: "Hosting Z", F.SRC_COUNTRY: "NL"}))
    signals = run(_asn(), by_day(rows))
    assert [s.explanation for s in signals] == [
        "first successful sign-in of alice from Hosting Z (NL) in 20 days of history (networks known: 1)"]


def test_failed_signins_do_not_teach_or_alert() -> None:
    rows = [*_history(), signin(at(30, 11), "alice", status="Failure", **AWAY)]
    assert run(_asn(), by_day(rows)) == []


def test_signals_per_day_are_capped() -> None:
    rows = _history()
    rows += [signin(at(30, 11, ), "alice", **{**AWAY, F.SRC_ASN: str(200 + i)}) for i in range(6)]
    assert len(run(_asn(max_signals_per_day=2), by_day(rows))) == 2


def test_values_per_entity_are_capped() -> None:
    rows = [signin(at(d, 9), "alice", **{**HOME, F.SRC_ASN: str(d)}) for d in range(20)]
    detector = _asn(max_values=5)
    run(detector, by_day(rows))
    import orjson

    state = orjson.loads(detector.snapshot()["alice"])
    assert sorted(state["v"]) == ["AS15", "AS16", "AS17", "AS18", "AS19"]


def test_process_image_and_parent_child_on_a_host() -> None:
    def proc(day: int, image: str, parent: str = "C:\\Windows\\explorer.exe") -> dict:
        return event(at(day, 10), 1007, **{F.HOST: "WS1.corp.example", F.USER: "alice", F.PROCESS_PATH: image,
                                           F.PARENT_PATH: parent})

    rows = [proc(d, f"C:\\Users\\alice\\AppData\\Local\\App\\{d}.0.1\\app.exe") for d in range(20)]
    rows += [proc(d, "C:\\Windows\\System32\\notepad.exe") for d in range(20)]
    rows.append(proc(20, "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                     "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE"))
    config = FirstSeenConfig(features=["host_process", "host_parent_child"])
    image, pair = (FirstSeenDetector(FEATURES[n], config) for n in ("host_process", "host_parent_child"))
    batches = by_day(rows)
    assert [s.explanation for s in run(image, batches)] == [
        "first run of process image 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe' on host ws1 "
        "in 20 days of history (process images known: 2)"]  # the versioned app folder is one image
    pair_signals = run(pair, batches)
    assert len(pair_signals) == 1 and pair_signals[0].host == "WS1.corp.example"
    assert "WINWORD.EXE' started '" in pair_signals[0].explanation


def test_destination_network_and_port_of_a_server() -> None:
    def conn(day: int, dst: str, port: int) -> dict:
        return event(at(day, 3), 4001, **{F.SRC_IP: "10.0.0.5", F.HOST: "srv1", F.DST_IP: dst, F.DST_PORT: port})

    rows = [conn(d, f"198.51.100.{d}", 443) for d in range(20)]
    rows += [conn(20, "203.0.113.9", 443), conn(20, "2001:db8:1:2::9", 4444)]
    config = FirstSeenConfig(features=["server_dst_network", "server_dst_port"])
    net, port = (FirstSeenDetector(FEATURES[n], config) for n in ("server_dst_network", "server_dst_port"))
    batches = by_day(rows)
    assert sorted(s.explanation for s in run(net, batches)) == [
        "first outbound connection from 10.0.0.5 to network 2001:db8:1::/48 ([2001:db8:1:2::9]:4444) in 20 days of "
        "history (destination networks known: 1)",
        "first outbound connection from 10.0.0.5 to network 203.0.113.0/24 (203.0.113.9:443) in 20 days of history "
        "(destination networks known: 2)",
    ]
    port_signals = run(port, batches)
    assert [s.matched["value"] for s in port_signals] == ["4444"]
    assert "attack.t1571" in port_signals[0].tags
    assert [str(e) for e in port_signals[0].all_entities()] == ["host:srv1", "ip:10.0.0.5"]


def test_checkpoint_restore_gives_the_same_signals() -> None:
    rows = [*_history(), signin(at(30, 11), "alice", **AWAY), signin(at(31, 11), "bob", **AWAY),
            signin(at(32, 8), "bob", **{**AWAY, F.SRC_ASN: "777"})]
    batches = by_day(rows)
    expected = dicts(run(_asn(), batches))
    assert len(expected) == 3
    for crash in (1, 15, 30, 31):
        assert dicts(run_with_checkpoints(_asn, batches, crash)) == expected
    assert dicts(run(_asn(), batches)) == expected  # deterministic
    assert [s["time"] for s in expected] == sorted(s["time"] for s in expected)


def test_dirty_snapshot_holds_only_changed_entities() -> None:
    detector = _asn(retention_days=5)
    run(detector, by_day(_history(3)))
    assert sorted(detector.snapshot()) == ["alice", "bob"]
    detector.mark_clean()
    assert detector.snapshot(dirty_only=True) == {}
    detector.process(batch([signin(at(3, 9), "alice", **HOME)]))
    assert list(detector.snapshot(dirty_only=True)) == ["alice"]
    detector.mark_clean()
    detector.process(batch([signin(at(9, 9), "alice", **HOME)]))  # bob idle > retention: forgotten
    assert detector.snapshot(dirty_only=True) == {"alice": detector.snapshot()["alice"], "bob": b""}


def test_build_baselines_names_and_unknown_types() -> None:
    import pytest

    from autosoc.errors import ConfigError

    names = [d.name for d in build_baselines({"detectors": [{"type": "first_seen", "features": ["user_country"]},
                                                            {"type": "volume", "metrics": ["bytes_out"]}]})]
    assert names == ["first_seen.user_country", "volume.bytes_out"]
    with pytest.raises(ConfigError, match="unknown baselines 'nope'; known: first_seen, impossible_travel"):
        build_baselines({"detectors": [{"type": "nope"}]})
    with pytest.raises(ConfigError, match="invalid baselines configuration"):
        build_baselines({"detectors": [{"type": "first_seen", "learning_dayz": 3}]})
    assert build_baselines([FirstSeenConfig(enabled=False)]) == []


def test_corrupt_state_is_a_store_error() -> None:
    import pytest

    from autosoc.errors import StoreError

    with pytest.raises(StoreError, match="not valid JSON") as info:
        _asn().restore({"alice": b"{nope"})
    assert info.value.code == "bad_state"
    with pytest.raises(StoreError, match="unexpected shape"):
        _asn().restore({"alice": b"[1, 2]"})


def test_restore_forgets_what_was_derived_from_the_replaced_state() -> None:
    # X is seen on days 0-3; the detector runs on from HOME until X has aged out, and is then
    # restored to the day-3 checkpoint: X is in the state again, and ages out again at day 30
    early = by_day([signin(at(d, 11), "alice", **AWAY) for d in range(4)])
    later = by_day([signin(at(d, 9), "alice", **HOME) for d in range(4, 30)])
    last = by_day([signin(at(30, 9), "alice", **HOME), signin(at(30, 12), "alice", **AWAY)])
    ran_on = _asn(retention_days=20)
    run(ran_on, early)
    checkpoint = ran_on.snapshot()
    run(ran_on, later)
    ran_on.restore(checkpoint)
    fresh = _asn(retention_days=20)
    fresh.restore(checkpoint)
    expected = dicts(run(fresh, last))
    assert [s["matched"]["value"] for s in expected] == ["AS12345"]  # X had aged out: new again
    assert dicts(run(ran_on, last)) == expected
    assert ran_on.snapshot() == fresh.snapshot()
