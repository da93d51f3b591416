"""Rare time: a user is active at an hour of the week they are not active at.

Per user an hour-of-week profile (168 cells, UTC) counts *active hours* (an hour with any
activity counts once, however many events it holds), decayed with a half-life so old habits
fade.  An hour is judged by its *support*: its own cell and its neighbours up to three hours
away (weights 1, ½, ¼, ⅛), plus half the mean support of the same hour on the other days of the
same kind (weekday / weekend) and a tenth of it on the other kind.  The hour is rare when its
support is below ``max_share`` of the profile's total; so working an hour late, or one Saturday
morning of a weekday worker, is not noise, while 03:00 on a Sunday is.

An hour is judged once (the first batch that shows it); at most one signal per user and day.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import polars as pl
from pydantic import Field

from autosoc.detect.baselines import _columns as C
from autosoc.detect.baselines import _views as V
from autosoc.detect.baselines._query import grouped
from autosoc.detect.baselines.base import (
    DAY,
    HOUR,
    BaselineConfig,
    BaselineDetector,
    Drafts,
    EntityStore,
    StatefulBase,
    baselines,
    day_of,
    history_days,
    make_signal,
    rows_of,
)
from autosoc.normalize import fields as F
from autosoc.schema import Entity, EventBatch, Signal

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEIGHTS = ((0, 1.0), (1, 0.5), (-1, 0.5), (2, 0.25), (-2, 0.25), (3, 0.125), (-3, 0.125))

Activity = Literal["signin", "api"]
#: a group of a user's activity: the user (by name, else by id) and the hour
_KEYS = (pl.coalesce(pl.col(V.USER_KEY), C.canonical_user(F.USER_UID)).alias("_entity"),
         (pl.col(V.SECONDS) // HOUR).alias("_hour"))
#: what a signal reads of its group's first event
_CITED = (pl.col(F.USER).alias("_user"), C.text(F.SRC_IP).alias("_ip"))


@baselines.register("rare_time")
class RareTimeConfig(BaselineConfig):
    """Activity of a user outside their hour-of-week profile."""

    type: Literal["rare_time"] = "rare_time"
    learning_days: float = Field(
        21.0, ge=0, description="Days of history a user needs before their profile can alert.")
    activity: list[Activity] = Field(
        default_factory=lambda: ["signin"],
        description="What counts as activity: successful sign-ins (class 3002) and/or API calls (6003).")
    min_active_hours: int = Field(
        40, ge=1, description="Distinct active hours a user needs in the profile before it can alert.")
    min_active_days: int = Field(10, ge=1, description="Distinct active days a user needs before it can alert.")
    max_share: float = Field(
        0.001, gt=0, lt=1, description="An hour is rare when its smoothed support is below this share of the "
        "profile (uniform activity would give 1/168 ≈ 0.006 to every hour).")
    half_life_days: float = Field(30.0, gt=0, description="Half-life of the profile's memory.")
    retention_days: float = Field(60.0, gt=0, description="A user idle this long is forgotten.")

    def build(self) -> list[BaselineDetector]:
        return [RareTimeDetector(self)]


def hour_of_week(hour_bucket: int) -> int:
    """Monday 00:00 UTC is 0 (1970-01-01 was a Thursday)."""
    day = hour_bucket // 24
    return ((day + 3) % 7) * 24 + hour_bucket % 24


def support(cells: list[float], how: int) -> float:
    """Smoothed support of hour-of-week ``how`` (see the module docstring)."""
    day, hour = divmod(how, 24)

    def around(d: int) -> float:
        return sum(w * cells[(d * 24 + hour + k) % 168] for k, w in _WEIGHTS)

    weekend = day >= 5
    same = [d for d in range(7) if d != day and (d >= 5) == weekend]
    other = [d for d in range(7) if (d >= 5) != weekend]
    return (around(day) + 0.5 * sum(map(around, same)) / len(same)
            + 0.1 * sum(map(around, other)) / len(other))


def usual_hours(cells: list[float]) -> str:
    """A short description of where the profile's mass is: "09–16 UTC on Mon–Fri"."""
    total = sum(cells) or 1.0
    by_hour = [sum(cells[d * 24 + h] for d in range(7)) for h in range(24)]
    by_day = [sum(cells[d * 24:(d + 1) * 24]) for d in range(7)]
    hours = [h for h in range(24) if by_hour[h] >= 0.02 * total]
    days = [DAYS[d][:3] for d in range(7) if by_day[d] >= 0.05 * total]
    if not hours:
        return "no settled hours"
    return f"{hours[0]:02d}–{hours[-1]:02d} UTC on {', '.join(days)}"


class RareTimeDetector(StatefulBase):
    """State per user: ``{"t", "f", "r": reference hour of the weights, "lh": last hour counted,
    "n": active hours counted, "d": [active days, last day], "a": last alert day, "h": [168 floats]}``."""

    def __init__(self, config: RareTimeConfig) -> None:
        self.config = config
        self.name = "rare_time"
        self.rule_id = "baseline.rare_time.user_activity"
        self.store = EntityStore(config.max_entities)
        self._growth_per_hour = 2.0 ** (1 / (config.half_life_days * 24))
        self._signins = "signin" in config.activity
        self._api_calls = "api" in config.activity

    def process(self, batch: EventBatch) -> list[Signal]:
        if batch.events.height == 0 or not (self._signins or self._api_calls):
            return []
        frame = V.activity(batch.events, signin=self._signins, api=self._api_calls)
        if frame.height == 0:
            return []
        # groups without a user are skipped below, not filtered out here: one query less
        groups = grouped(frame, _KEYS, (V.FIRST, V.LAST, V.COUNT), ["_hour", "_entity"])
        drafts = Drafts(_KEYS, _CITED)
        latest = None
        for key, hour, t0, t1, n in rows_of(groups, "_entity", "_hour", "t0", "t1", "n"):
            if key is None:
                continue
            self._update(key, hour, t0, t1, n, drafts)
            if latest is None or t1 > latest:
                latest = t1
        signals = drafts.signals(frame)
        if latest is None:
            return signals
        self.store.prune(latest - int(self.config.retention_days * DAY))
        return signals

    def _update(self, key: str, hour: int, t0: int, t1: int, n: int, drafts: Drafts) -> None:
        state = self.store.get(key)
        if state is None:
            state = {"t": t1, "f": t0, "r": hour, "lh": hour - 1, "n": 0, "d": [0, -1], "a": -1, "h": [0.0] * 168}
            self.store.put(key, state)
        state["t"] = max(state["t"], t1)
        state["f"] = min(state["f"], t0)
        self.store.touch(key)
        if hour <= state["lh"]:
            return  # this hour (or an older one) is already in the profile
        cells: list[float] = state["h"]
        # Decay without touching every cell: newer hours weigh more (x2 per half-life) instead of
        # older ones less; shares are ratios, so only the scale differs. Rescale before it overflows.
        weight = self._growth_per_hour ** (hour - state["r"])
        if weight > 1e12:
            state["h"] = cells = [c / weight for c in cells]
            state["r"], weight = hour, 1.0
        self._judge(state, key, hour, t0, n, drafts)
        cells[hour_of_week(hour)] += weight
        state["lh"] = hour
        state["n"] += 1
        days, last_day = state["d"]
        if day_of(t0) > last_day:
            state["d"] = [days + 1, day_of(t0)]

    def _judge(self, state: dict[str, Any], user: str, hour_bucket: int, t0: int, n: int, drafts: Drafts) -> None:
        cfg = self.config
        days = history_days(state["f"], t0)
        if (days < cfg.learning_days or state["n"] < cfg.min_active_hours or state["d"][0] < cfg.min_active_days
                or state["a"] == day_of(t0)):
            return
        cells: list[float] = state["h"]
        total = sum(cells)
        how = hour_of_week(hour_bucket)
        share = support(cells, how) / total if total > 0 else 0.0
        if share >= cfg.max_share:
            return
        state["a"] = day_of(t0)
        day, hour = divmod(how, 24)
        # the profile as it is now: the batch's later hours change it before the signal is made
        explanation = (f"{user} was active on {DAYS[day]} at {hour:02d}:00 UTC, an hour holding "
                       f"{share:.2%} of their activity in {days:.0f} days of history "
                       f"(usually {usual_hours(cells)})")
        drafts.add((user, hour_bucket), functools.partial(self._signal, user, t0, n, share, how, explanation))

    def _signal(self, user: str, t0: int, n: int, share: float, how: int, explanation: str,
                row: dict[str, Any]) -> Signal:
        risk = round(8 + 12 * (1 - share / self.config.max_share))
        day, hour = divmod(how, 24)
        return make_signal(
            rule_id=self.rule_id, title="Activity at an unusual time for the user", level="low", risk=risk,
            tags=["attack.initial-access", "attack.t1078"], row=row, time=t0, explanation=explanation,
            user=row["_user"] or user, entities=[Entity("ip", row["_ip"])] if row["_ip"] else [],
            matched={"hour_of_week": f"{DAYS[day][:3]} {hour:02d}", "share": f"{share:.4f}",
                     "events": str(n)},
            description="Baseline: user activity outside their hour-of-week profile.",
        )
