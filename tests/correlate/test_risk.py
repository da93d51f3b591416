"""Decay maths, diminishing returns and the diversity multiplier."""

from __future__ import annotations

import pytest

from autosoc.correlate import RiskLedger, diversity_multiplier
from autosoc.correlate.risk import accumulate, decayed

H = 3_600 * 1_000_000
DAY = 24 * H


def ledger(repeat_factor: float = 0.5) -> RiskLedger:
    return RiskLedger(half_life_us=DAY, repeat_factor=repeat_factor)


def test_risk_halves_per_half_life() -> None:
    risk = ledger()
    assert risk.add("user:alice", "sigma:a", 50, 0) == 50
    assert risk.score("user:alice", 0) == 50
    assert risk.score("user:alice", DAY) == pytest.approx(25)
    assert risk.score("user:alice", 2 * DAY) == pytest.approx(12.5)
    assert risk.score("user:alice", 6 * H) == pytest.approx(50 * 2 ** -0.25)
    assert risk.score("user:bob", DAY) == 0


def test_decay_never_grows_backwards() -> None:
    assert decayed(10.0, DAY, 0, DAY) == 10.0
    assert accumulate(10.0, 0, 10.0, DAY, DAY) == (pytest.approx(15.0), DAY)


def test_out_of_order_signals_give_the_in_order_sum() -> None:
    in_order, reversed_ = ledger(), ledger()
    in_order.add("host:ws-1", "sigma:a", 50, 0)
    in_order.add("host:ws-1", "sigma:b", 40, 10 * H)
    reversed_.add("host:ws-1", "sigma:b", 40, 10 * H)
    reversed_.add("host:ws-1", "sigma:a", 50, 0)  # arrives late
    expected = 50 * 2 ** (-20 / 24) + 40 * 2 ** (-10 / 24)
    assert in_order.score("host:ws-1", 20 * H) == pytest.approx(expected)
    assert reversed_.score("host:ws-1", 20 * H) == pytest.approx(expected)


def test_same_rule_on_same_entity_has_diminishing_returns() -> None:
    risk = ledger()
    contributions = [risk.add("user:alice", "sigma:noisy", 25, i) for i in range(3)]
    assert contributions == pytest.approx([25, 12.5, 6.25], rel=1e-6)
    # another rule on the same entity, and the same rule on another entity, count in full
    assert risk.add("user:alice", "sigma:other", 25, 3) == 25
    assert risk.add("user:bob", "sigma:noisy", 25, 3) == 25


def test_a_noisy_rule_is_bounded_however_often_it_fires() -> None:
    risk = ledger()
    minute = 60_000_000
    total = sum(risk.add("host:srv", "sigma:noisy", 25, i * minute) for i in range(500))  # every minute
    assert 50 <= total < 55  # 1/(1 - 0.5) times its risk, plus a little for the count's own decay
    assert risk.score("host:srv", 500 * minute) < 50
    # ten days of a hit every ten minutes: the entity's risk stays below what two hits give
    for i in range(500, 500 + 10 * 24 * 6):
        risk.add("host:srv", "sigma:noisy", 25, i * 10 * minute)
        assert risk.score("host:srv", i * 10 * minute) < 55


def test_repeat_count_decays_so_a_rule_counts_again_much_later() -> None:
    risk = ledger()
    risk.add("user:alice", "sigma:a", 25, 0)
    assert risk.repeats("user:alice", "sigma:a", DAY) == pytest.approx(0.5)
    assert risk.add("user:alice", "sigma:a", 25, DAY) == pytest.approx(25 * 0.5 ** 0.5)
    assert risk.add("user:alice", "sigma:a", 25, 30 * DAY) > 24.9


def test_repeat_factor_zero_counts_a_rule_once_per_window() -> None:
    risk = ledger(repeat_factor=0.0)
    assert risk.add("user:alice", "sigma:a", 25, 0) == 25
    assert risk.add("user:alice", "sigma:a", 25, H) == 0


def test_diversity_multiplier() -> None:
    kwargs = {"detector_bonus": 0.5, "tactic_bonus": 0.25, "cap": 2.5}
    assert diversity_multiplier(1, 0, **kwargs) == 1.0
    assert diversity_multiplier(1, 1, **kwargs) == 1.0
    assert diversity_multiplier(2, 1, **kwargs) == 1.5
    assert diversity_multiplier(2, 3, **kwargs) == 2.0
    assert diversity_multiplier(3, 9, **kwargs) == 2.5


def test_expire_forgets_faded_entities_only() -> None:
    risk = ledger()
    risk.add("user:old", "sigma:a", 50, 0)
    risk.add("user:new", "sigma:a", 50, 20 * DAY)
    risk.expire(20 * DAY)
    assert "user:old" not in risk.state
    assert "user:new" in risk.state
    assert risk.score("user:new", 20 * DAY) == 50
