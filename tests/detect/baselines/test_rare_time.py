"""Rare time: activity outside the user's hour-of-week profile."""

from __future__ import annotations

from autosoc.detect.baselines import RareTimeConfig, RareTimeDetector
from autosoc.detect.baselines.rare_time import hour_of_week, support
from tests.detect.baselines.events import START, at, by_day, dicts, run, run_with_checkpoints, signin


def _office_weeks(weeks: int = 5, user: str = "alice") -> list[dict]:
    """Mon-Fri, sign-ins every hour from 09:00 to 16:00 (two per hour)."""
    return [signin(at(w * 7 + d, h + m), user) for w in range(weeks) for d in range(5) for h in range(9, 17)
            for m in (0.1, 0.5)]


def test_hour_of_week_starts_on_monday() -> None:
    assert START.weekday() == 0
    assert hour_of_week(int(START.timestamp()) // 3600 + 27) == 27  # Tuesday 03:00


def test_sunday_night_fires_with_explanation() -> None:
    rows = [*_office_weeks(), signin(at(34, 3.2), "alice")]  # day 34 = a Sunday
    signals = run(RareTimeDetector(RareTimeConfig()), by_day(rows))
    assert len(signals) == 1
    signal = signals[0]
    assert signal.rule_id == "baseline.rare_time.user_activity"
    assert signal.explanation == ("alice was active on Sunday at 03:00 UTC, an hour holding 0.00% of their activity "
                                  "in 34 days of history (usually 09–16 UTC on Mon, Tue, Wed, Thu, Fri)")
    assert signal.level == "low" and 8 <= signal.risk_score <= 20


def test_neighbouring_hours_and_a_saturday_morning_are_not_noise() -> None:
    late = [*_office_weeks(), signin(at(35, 18.5), "alice"), signin(at(36, 19.2), "alice"),
            signin(at(33, 10.5), "alice")]  # Monday 18:xx, Tuesday 19:xx, Saturday 10:xx
    assert run(RareTimeDetector(RareTimeConfig()), by_day(late)) == []


def test_silent_during_learning() -> None:
    rows = [*_office_weeks(2), signin(at(13, 3.2), "alice")]  # 13 days of history < 21
    assert run(RareTimeDetector(RareTimeConfig()), by_day(rows)) == []
    rows = [*_office_weeks(2), signin(at(13, 3.2), "alice")]
    assert len(run(RareTimeDetector(RareTimeConfig(learning_days=7, min_active_days=5)), by_day(rows))) == 1


def test_many_events_in_one_hour_count_once() -> None:
    detector = RareTimeDetector(RareTimeConfig())
    run(detector, by_day([signin(at(0, 9, ), "alice")] * 1 + [signin(at(0, 9.01 + i / 1000), "alice")
                                                              for i in range(50)]))
    import orjson

    state = orjson.loads(detector.snapshot()["alice"])
    assert state["n"] == 1 and abs(sum(state["h"]) - 1.0) < 1e-9


def test_support_weights_neighbours_and_similar_days() -> None:
    cells = [0.0] * 168
    cells[10] = 4.0  # Monday 10:00
    assert support(cells, 10) > support(cells, 11) > support(cells, 13) > 0
    assert support(cells, 24 + 10) > 0  # Tuesday 10:00 borrows from Monday
    assert support(cells, 5 * 24 + 10) > 0  # Saturday borrows a little
    assert support(cells, 5 * 24 + 3) == 0


def test_checkpoint_restore_and_dirty_keys() -> None:
    rows = [*_office_weeks(), *_office_weeks(user="bob"), signin(at(34, 3.2), "alice"), signin(at(34, 4.5), "bob"),
            signin(at(35, 23.5), "alice")]
    batches = by_day(rows)
    factory = lambda: RareTimeDetector(RareTimeConfig())  # noqa: E731
    expected = dicts(run(factory(), batches))
    assert [s["user"] for s in expected] == ["alice", "bob", "alice"]
    for crash in (3, 20, len(batches) - 1):
        assert dicts(run_with_checkpoints(factory, batches, crash)) == expected
    detector = factory()
    run(detector, batches)
    detector.mark_clean()
    detector.process(by_day([signin(at(36, 10), "bob")])[0])
    assert list(detector.snapshot(dirty_only=True)) == ["bob"]
