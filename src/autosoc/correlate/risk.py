"""Per-entity risk: exponential decay by event time, diminishing returns for repeats, diversity weight.

Risk of an entity at time ``t`` is the sum of the contributions of its signals, each halved for
every ``half_life`` of event time since it arrived::

    risk(t) = sum_i c_i * 2 ** (-(t - t_i) / half_life)

The sum is kept as one number and the time it refers to, so adding a signal is O(1).  A signal that
arrives out of order (older than the entity's clock) is decayed to the clock instead of moving the
clock back, which gives the same sum as in-order arrival.

Diminishing returns: the contribution of a signal to an entity is its base risk (the level's or the
detector's) times ``repeat_factor ** n``, where ``n`` is the decayed count of earlier hits of the
same rule on the same entity.  With the default 0.5 a rule firing in a burst adds 1, 1/2, 1/4, ... of
its risk: about twice its risk per half-life in total, whatever the number of hits (a rule that
fires forever converges to a steady count, so its share of the entity's risk stays bounded), and
one noisy benign rule cannot accumulate enough to open an incident.  The count decays with the same half-life, so a rule
that fires again days later counts nearly in full.

:func:`diversity_multiplier` weighs risk by how many distinct detectors and ATT&CK tactics agree;
the incident engine applies it to the signals around an entity (see :mod:`.incidents`).
"""

from __future__ import annotations

from autosoc.correlate._state import KeyedState

#: repeat counts below this are forgotten (their factor is back to ~1)
_COUNT_FLOOR = 0.05
#: an entity whose risk decayed below this and whose repeat counts are forgotten is dropped
RISK_FLOOR = 0.5
#: entities idle for this many half-lives are swept by :meth:`RiskLedger.expire`
_IDLE_HALF_LIVES = 4
#: rule entries kept per entity at most (the weakest are dropped first)
MAX_RULES_PER_ENTITY = 64


def decayed(value: float, at: int, t: int, half_life: int) -> float:
    """``value`` measured at ``at`` (µs), seen from ``t``: halved per ``half_life``; never grows backwards."""
    if t <= at:
        return value
    return value * 2.0 ** (-(t - at) / half_life)


def accumulate(value: float, at: int, amount: float, t: int, half_life: int) -> tuple[float, int]:
    """Add ``amount`` (happening at ``t``) to a decaying ``value`` measured at ``at``; return the new pair."""
    if t >= at:
        return decayed(value, at, t, half_life) + amount, t
    return value + decayed(amount, t, at, half_life), at


def diversity_multiplier(detectors: int, tactics: int, *, detector_bonus: float, tactic_bonus: float,
                         cap: float) -> float:
    """``1 + detector_bonus * (detectors - 1) + tactic_bonus * (tactics - 1)``, at most ``cap``."""
    value = 1.0 + detector_bonus * max(0, detectors - 1) + tactic_bonus * max(0, tactics - 1)
    return min(cap, value)


class RiskLedger:
    """Decayed risk per entity key (``kind:value``) with per-rule repeat counts.

    State per key: ``[risk, at_us, {rule_key: [count, at_us]}]``.
    """

    __slots__ = ("half_life", "repeat_factor", "state")

    def __init__(self, *, half_life_us: int, repeat_factor: float) -> None:
        self.half_life = half_life_us
        self.repeat_factor = repeat_factor
        self.state = KeyedState("r/")

    def add(self, key: str, rule_key: str, base: float, t: int) -> float:
        """Add one signal of ``rule_key`` with risk ``base`` at ``t`` to ``key``; return what it contributed."""
        entry = self.state.get(key)
        if entry is None:
            entry = [0.0, t, {}]
        rules: dict[str, list[float | int]] = entry[2]
        hit = rules.get(rule_key)
        count = 0.0 if hit is None else decayed(float(hit[0]), int(hit[1]), t, self.half_life)
        contribution = base * self.repeat_factor ** count if count > 0 else float(base)
        if hit is None:
            rules[rule_key] = [1.0, t]
            if len(rules) > MAX_RULES_PER_ENTITY:
                self._drop_weakest(rules, t)
        else:
            hit[0], hit[1] = accumulate(float(hit[0]), int(hit[1]), 1.0, t, self.half_life)
        entry[0], entry[1] = accumulate(float(entry[0]), int(entry[1]), contribution, t, self.half_life)
        self.state.put(key, entry)
        return contribution

    def score(self, key: str, t: int) -> float:
        """Risk of ``key`` at ``t`` (0 for an entity never seen or forgotten)."""
        entry = self.state.get(key)
        return 0.0 if entry is None else decayed(float(entry[0]), int(entry[1]), t, self.half_life)

    def repeats(self, key: str, rule_key: str, t: int) -> float:
        """The decayed count of recent hits of ``rule_key`` on ``key``."""
        entry = self.state.get(key)
        hit = None if entry is None else entry[2].get(rule_key)
        return 0.0 if hit is None else decayed(float(hit[0]), int(hit[1]), t, self.half_life)

    def expire(self, now: int) -> None:
        """Forget repeat counts that decayed away and entities whose risk is negligible at ``now``.

        Only entities idle for ``_IDLE_HALF_LIVES`` half-lives are looked at (a count of 1 fades below
        the floor in about 4.3), so the sweep costs little while most entities are active."""
        idle = now - _IDLE_HALF_LIVES * self.half_life
        for key in [k for k, entry in self.state.data.items() if entry[1] < idle]:
            entry = self.state.data[key]
            rules = entry[2]
            faded = [r for r, (count, at) in rules.items() if decayed(count, at, now, self.half_life) < _COUNT_FLOOR]
            for rule in faded:
                del rules[rule]
            if not rules and decayed(entry[0], entry[1], now, self.half_life) < RISK_FLOOR:
                self.state.delete(key)
            elif faded:
                self.state.touch(key)

    def _drop_weakest(self, rules: dict[str, list[float | int]], t: int) -> None:
        weakest = min(rules, key=lambda r: (decayed(float(rules[r][0]), int(rules[r][1]), t, self.half_life), r))
        del rules[weakest]
