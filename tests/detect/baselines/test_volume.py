"""Volume: hourly counts far above the entity's robust baseline."""

from __future__ import annotations

from autosoc.detect.baselines import VolumeConfig, VolumeDetector
from autosoc.detect.baselines.volume import METRICS, robust_stats
from autosoc.normalize import fields as F
from tests.detect.baselines.events import at, batch, by_day, dicts, event, run, run_with_checkpoints, signin


def _failed(**overrides: object) -> VolumeDetector:
    return VolumeDetector(METRICS["failed_logons"], VolumeConfig(metrics=["failed_logons"], **overrides))


def _normal_days(days: int = 10, user: str = "alice") -> list[dict]:
    rows = []
    for d in range(days):
        rows += [signin(at(d, 9 + h), user) for h in range(8)]
        rows.append(signin(at(d, 9.5), user, status="Failure"))  # a typo a day
    return rows


def _burst(day: int, hour: float, count: int, user: str = "alice") -> list[dict]:
    return [signin(at(day, hour + i / (count * 2)), user, status="Failure", **{F.SRC_IP: "203.0.113.7"})
            for i in range(count)]


def test_robust_stats_with_implicit_zeros() -> None:
    assert robust_stats([5.0, 1.0], 3) == (0.0, 0.0)
    assert robust_stats([4.0, 2.0, 6.0], 0) == (4.0, 2.0)


def test_failed_logon_burst_fires_with_explanation() -> None:
    rows = [*_normal_days(), *_burst(10, 14, 50)]
    signals = run(_failed(), by_day(rows))
    assert len(signals) == 1
    signal = signals[0]
    assert signal.rule_id == "baseline.volume.failed_logons"
    assert signal.explanation == ("50 failed sign-ins for alice between 14:00 and 15:00 UTC, against a median of 0 per "
                                  "hour (highest 1) over 10 days (robust z 50.0)")
    assert signal.user == "alice" and "attack.t1110" in signal.tags
    assert len(signal.event_ids) == 20  # evidence is capped
    assert [str(e) for e in signal.all_entities()] == ["user:alice", "ip:203.0.113.7"]


def test_no_signal_for_small_counts_learning_or_recurring_peaks() -> None:
    assert run(_failed(), by_day([*_normal_days(), *_burst(10, 14, 15)])) == []  # under min_value 20
    assert run(_failed(), by_day([*_normal_days(3), *_burst(3, 14, 80)])) == []  # 3 days < 7 days learning
    assert run(_failed(), by_day(_normal_days(20))) == []


def test_nightly_backup_is_not_news_but_a_big_spike_is() -> None:
    def sent(day: int, amount: float) -> dict:
        return event(at(day, 2), 4001, **{F.SRC_IP: "10.0.0.9", F.HOST: "db1", F.DST_IP: "10.0.9.9",
                                          F.BYTES_OUT: int(amount)})

    detector = lambda: VolumeDetector(METRICS["bytes_out"], VolumeConfig(metrics=["bytes_out"]))  # noqa: E731
    nightly = [sent(d, 2e9 * (1 + 0.1 * (d % 3))) for d in range(14)]
    assert run(detector(), by_day(nightly)) == []
    signals = run(detector(), by_day([*nightly, sent(14, 10e9)]))
    assert [s.explanation for s in signals] == [
        "10.0 GB sent by 10.0.0.9 (db1) between 02:00 and 03:00 UTC, against a median of 0 B per hour "
        "(highest 2.4 GB) over 14 days (robust z 10,000.0)"]
    assert signals[0].host == "db1"


def test_signal_once_per_hour_even_across_batches() -> None:
    rows = _normal_days()
    batches = [*by_day(rows), batch(_burst(10, 14, 30)), batch(_burst(10, 14.6, 30))]
    assert len(run(_failed(), batches)) == 1


def test_api_calls_and_files_touched() -> None:
    def call(day: int, hour: float) -> dict:
        return event(at(day, hour), 6003, **{F.USER_UID: "arn:aws:iam::1:user/ci", F.API_OPERATION: "ListBuckets"})

    rows = [call(d, 10 + i / 10) for d in range(8) for i in range(10)] + [call(8, 3 + i / 1000) for i in range(400)]
    api = VolumeDetector(METRICS["api_calls"], VolumeConfig(metrics=["api_calls"]))
    signals = run(api, by_day(rows))
    assert [str(e) for e in signals[0].all_entities()] == ["cloud_principal:arn:aws:iam::1:user/ci"]

    def touch(day: int, n: int) -> list[dict]:
        return [event(at(day, 11 + i / (2 * n)), 1001, **{F.HOST: "ws7", F.FILE_PATH: f"C:\\data\\{i}.docx"})
                for i in range(n)]

    rows = [r for d in range(8) for r in touch(d, 20)] + touch(8, 600)
    files = VolumeDetector(METRICS["files_touched"], VolumeConfig(metrics=["files_touched"]))
    assert [s.host for s in run(files, by_day(rows))] == ["ws7"]


def test_checkpoint_restore_and_dirty_keys() -> None:
    rows = [*_normal_days(), *_normal_days(user="bob"), *_burst(10, 14, 50), *_burst(11, 3, 70, user="bob")]
    batches = by_day(rows)
    expected = dicts(run(_failed(), batches))
    assert [s["user"] for s in expected] == ["alice", "bob"]
    for crash in (1, 5, 10, 11):
        assert dicts(run_with_checkpoints(_failed, batches, crash)) == expected
    detector = _failed()
    run(detector, batches)
    detector.mark_clean()
    detector.process(batch([signin(at(12, 9), "bob")]))
    assert list(detector.snapshot(dirty_only=True)) == ["bob"]
