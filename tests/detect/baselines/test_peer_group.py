"""Peer group: a value new to the user and rare in their department."""

from __future__ import annotations

from autosoc.detect.baselines import PeerGroupConfig, PeerGroupDetector
from autosoc.detect.baselines.peer_group import PEER_FEATURES
from autosoc.normalize import fields as F
from tests.detect.baselines.events import at, batch, by_day, dicts, run, run_with_checkpoints, signin

FINANCE = [f"fin{i}" for i in range(10)]


def _app(**overrides: object) -> PeerGroupDetector:
    return PeerGroupDetector(PEER_FEATURES["user_app"], PeerGroupConfig(features=["user_app"], **overrides))


def _use(day: int, user: str, app: str, dept: str = "Finance") -> dict:
    return signin(at(day, 9 + FINANCE.index(user) / 10 if user in FINANCE else 9), user,
                  **{F.APP_NAME: app, F.USER_DEPARTMENT: dept})


def _office(days: int = 20) -> list[dict]:
    return [_use(d, u, "Outlook") for d in range(days) for u in FINANCE]


def test_rare_app_for_the_department_fires() -> None:
    rows = [*_office(), _use(20, "fin3", "AWS Console")]
    signals = run(_app(), by_day(rows))
    assert [s.explanation for s in signals] == [
        "fin3 (Finance) signed in to application 'AWS Console' for the first time; 0 of 9 Finance peers did in the "
        "last 90 days"]
    assert signals[0].rule_id == "baseline.peer_group.user_app" and signals[0].risk_score == 20


def test_common_in_the_department_or_known_to_the_user_is_silent() -> None:
    rows = [*_office(), *[_use(d, u, "AWS Console") for d in range(15, 20) for u in FINANCE[:3]],
            _use(20, "fin5", "AWS Console")]
    # the first user of the department to use it is reported; once 3 of 9 peers use it, it is not rare
    assert [s.user for s in run(_app(), by_day(rows))] == ["fin0"]
    rows = [*_office(), _use(2, "fin3", "AWS Console"), _use(20, "fin3", "AWS Console")]  # known to fin3
    assert run(_app(), by_day(rows)) == []


def test_learning_and_small_departments() -> None:
    assert run(_app(), by_day([*_office(5), _use(5, "fin3", "AWS Console")])) == []
    small = [_use(d, u, "Outlook", "Legal") for d in range(20) for u in FINANCE[:4]]
    assert run(_app(), by_day([*small, _use(20, "fin1", "AWS Console", "Legal")])) == []  # 3 peers < 8


def test_checkpoint_restore_and_dirty_keys() -> None:
    rows = [*_office(), _use(20, "fin3", "AWS Console"), _use(21, "fin4", "Salesforce"),
            _use(22, "fin3", "Tableau"), _use(22, "fin5", "Salesforce")]
    batches = by_day(rows)
    expected = dicts(run(_app(), batches))
    assert [s["user"] for s in expected] == ["fin3", "fin4", "fin3"]
    for crash in (1, 10, 20, 21, 22):
        assert dicts(run_with_checkpoints(_app, batches, crash)) == expected
    detector = _app()
    run(detector, batches)
    detector.mark_clean()
    detector.process(batch([_use(23, "fin1", "Outlook")]))
    assert sorted(detector.snapshot(dirty_only=True)) == ["g:finance", "u:fin1"]
