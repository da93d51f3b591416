"""Peer group: a user does something new to them that their department (almost) never does.

The department comes from ``actor.user.department`` (the identity enricher or the log).  For a
feature (the application signed in to, the sign-in country, a process image run by the user) the
detector keeps, per user, the values they used and, per department, its active members and which
members used each value (last-seen times, aged out after ``retention_days``).  A user's first use
of a value alerts when the department has at least ``min_peers`` other active members and at most
``max_peer_share`` of them used the value in the retention window: new to the user *and* rare for
their peers.  Values common in the department are ordinary novelty and stay silent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from pydantic import Field

from autosoc.detect.baselines import _columns as C
from autosoc.detect.baselines import _views as V
from autosoc.detect.baselines._query import grouped
from autosoc.detect.baselines.base import (
    DAY,
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

PeerFeatureName = Literal["user_app", "user_country", "user_process"]
ALL_PEER_FEATURES: tuple[PeerFeatureName, ...] = ("user_app", "user_country", "user_process")
#: users remembered per value in a department: beyond this a value is common anyway
USERS_PER_VALUE = 64


@dataclass(frozen=True, slots=True)
class PeerFeature:
    name: str
    #: events -> the slice the feature reads (a view of :mod:`~autosoc.detect.baselines._views`)
    view: Callable[[pl.DataFrame], pl.DataFrame]
    #: over the view: the canonical user, the value, and the value as a signal shows it
    entity: pl.Expr
    value: pl.Expr
    detail: pl.Expr
    noun: str  # "application"
    verb: str  # "signed in to"
    tags: tuple[str, ...]


_COUNTRY = C.text(F.SRC_COUNTRY).str.to_uppercase()

PEER_FEATURES: dict[str, PeerFeature] = {f.name: f for f in (
    PeerFeature("user_app", V.signins, pl.col(V.USER_KEY), C.text(F.APP_NAME).str.to_lowercase(), C.text(F.APP_NAME),
                "application", "signed in to", ("attack.initial-access", "attack.t1078")),
    PeerFeature("user_country", V.signins, pl.col(V.USER_KEY), _COUNTRY, _COUNTRY, "country", "signed in from",
                ("attack.initial-access", "attack.t1078")),
    PeerFeature("user_process", V.processes, C.canonical_user(), pl.col(V.IMAGE), C.text(F.PROCESS_PATH),
                "process image", "ran", ("attack.execution",)),
)}
_DEPARTMENT = C.text(F.USER_DEPARTMENT)


@baselines.register("peer_group")
class PeerGroupConfig(BaselineConfig):
    """A value new to the user and rare in the user's department."""

    type: Literal["peer_group"] = "peer_group"
    features: list[PeerFeatureName] = Field(
        default_factory=lambda: list(ALL_PEER_FEATURES), description="Which features to watch (one detector each).")
    min_active_days: int = Field(3, ge=1, description="Distinct days a user must have been seen on before alerting.")
    min_peers: int = Field(8, ge=1, description="Other active members a department needs before it can judge.")
    max_peer_share: float = Field(
        0.05, ge=0, lt=1, description="A value is rare when at most this share of the department's other members "
        "used it in the retention window.")
    retention_days: float = Field(90.0, gt=0, description="Uses and memberships older than this are forgotten.")
    max_values: int = Field(256, ge=1, description="Values kept per user (least recently used go first).")
    max_department_values: int = Field(4096, ge=1, description="Values kept per department.")
    max_members: int = Field(20_000, ge=1, description="Members kept per department.")
    max_signals_per_day: int = Field(2, ge=1, description="Signals per user and day at most.")

    def build(self) -> list[BaselineDetector]:
        return [PeerGroupDetector(PEER_FEATURES[name], self) for name in dict.fromkeys(self.features)]


def _trim(mapping: dict[str, Any], cap: int, last: Callable[[Any], int]) -> None:
    """Keep the ``cap`` most recent entries (ties by key)."""
    if len(mapping) > cap:
        for victim in sorted(mapping, key=lambda k: (last(mapping[k]), k))[: len(mapping) - cap]:
            del mapping[victim]


def _itself(last: int) -> int:
    return last


def _latest(users: dict[str, int]) -> int:
    return max(users.values())


class PeerGroupDetector(StatefulBase):
    """State: ``"u:<user>"`` -> ``{"t", "f", "d": [active days, last day], "v": {value: last seen},
    "a": [day, signals]}``; ``"g:<department>"`` -> ``{"t", "f", "m": {user: last seen},
    "v": {value: {user: last seen}}, "p": last full prune day}``."""

    def __init__(self, feature: PeerFeature, config: PeerGroupConfig) -> None:
        self.feature = feature
        self.config = config
        self.name = f"peer_group.{feature.name}"
        self.rule_id = f"baseline.peer_group.{feature.name}"
        self.store = EntityStore(config.max_entities)
        self.retention = int(config.retention_days * DAY)
        self._keys = (feature.entity.alias("_entity"), _DEPARTMENT.str.to_lowercase().alias("_dept"),
                      feature.value.alias("_value"))
        #: what a signal reads of its group's first event
        self._cited = (feature.detail.alias("_detail"), pl.col(F.USER).alias("_user"), pl.col(F.HOST).alias("_host"),
                       C.text(F.SRC_IP).alias("_ip"), _DEPARTMENT.alias("_dept_name"))

    def process(self, batch: EventBatch) -> list[Signal]:
        if batch.events.height == 0:
            return []
        frame = self.feature.view(batch.events)
        if frame.height == 0:
            return []
        # groups with a null key are skipped below, not filtered out here: one query less
        groups = grouped(frame, self._keys, (V.FIRST, V.LAST), ["t0", "_entity", "_dept", "_value"])
        drafts = Drafts(self._keys, self._cited)
        latest = None
        for user, dept, value, t0, t1 in rows_of(groups, "_entity", "_dept", "_value", "t0", "t1"):
            if user is None or dept is None or value is None:
                continue
            self._update(user, dept, value, t0, t1, drafts)
            if latest is None or t1 > latest:
                latest = t1
        signals = drafts.signals(frame)
        if latest is None:
            return signals
        self.store.prune(latest - self.retention)
        return signals

    def _update(self, user: str, dept: str, value: str, t0: int, t1: int, drafts: Drafts) -> None:
        ukey, gkey = f"u:{user}", f"g:{dept}"
        person = self.store.get(ukey)
        if person is None:
            person = {"t": t1, "f": t0, "d": [1, day_of(t0)], "v": {}, "a": [0, 0]}
            self.store.put(ukey, person)
        group = self.store.get(gkey)
        if group is None:
            group = {"t": t1, "f": t0, "m": {}, "v": {}, "p": day_of(t0)}
            self.store.put(gkey, group)
        horizon = t0 - self.retention
        if day_of(t0) > group["p"]:  # a full prune of the department once a day
            group["m"] = {u: last for u, last in group["m"].items() if last >= horizon}
            for v in list(group["v"]):
                users = {u: last for u, last in group["v"][v].items() if last >= horizon}
                if users:
                    group["v"][v] = users
                else:
                    del group["v"][v]
            group["p"] = day_of(t0)
        mine: dict[str, int] = person["v"]
        known = mine.get(value)
        if known is None or known < horizon:
            self._judge(person, group, user, dept, value, t0, horizon, drafts)
        cfg = self.config
        mine[value] = max(known or 0, t1)
        if len(mine) > cfg.max_values:
            _trim(mine, cfg.max_values, _itself)
        members = group["m"]
        members[user] = max(members.get(user, 0), t1)
        if len(members) > cfg.max_members:
            _trim(members, cfg.max_members, _itself)
        users = group["v"].setdefault(value, {})
        users[user] = max(users.get(user, 0), t1)
        if len(users) > USERS_PER_VALUE:
            _trim(users, USERS_PER_VALUE, _itself)
        if len(group["v"]) > cfg.max_department_values:
            _trim(group["v"], cfg.max_department_values, _latest)
        for state, key in ((person, ukey), (group, gkey)):
            state["t"] = max(state["t"], t1)
            state["f"] = min(state["f"], t0)
            self.store.touch(key)
        days, last_day = person["d"]
        if day_of(t1) > last_day:
            person["d"] = [days + 1, day_of(t1)]

    def _judge(self, person: dict[str, Any], group: dict[str, Any], user: str, dept_key: str, value: str, t0: int,
               horizon: int, drafts: Drafts) -> None:
        cfg = self.config
        days = history_days(person["f"], t0)
        if (days < cfg.learning_days or person["d"][0] < cfg.min_active_days
                or history_days(group["f"], t0) < cfg.learning_days):
            return
        members = sum(1 for u, last in group["m"].items() if u != user and last >= horizon)
        if members < cfg.min_peers:
            return
        peers = sum(1 for u, last in group["v"].get(value, {}).items() if u != user and last >= horizon)
        share = peers / members
        if share > cfg.max_peer_share:
            return
        today = day_of(t0)
        sent_day, sent = person["a"]
        if sent_day == today and sent >= cfg.max_signals_per_day:
            return
        person["a"] = [today, sent + 1 if sent_day == today else 1]
        drafts.add((user, dept_key, value),
                   functools.partial(self._signal, user, dept_key, value, t0, share, peers, members))

    def _signal(self, user: str, dept_key: str, value: str, t0: int, share: float, peers: int, members: int,
                row: dict[str, Any]) -> Signal:
        cfg, feature = self.config, self.feature
        rarity = 1 - share / cfg.max_peer_share if cfg.max_peer_share else 1.0
        risk = round(10 + 10 * rarity)
        dept = row["_dept_name"] or dept_key
        detail = row["_detail"] or value
        explanation = (f"{user} ({dept}) {feature.verb} {feature.noun} '{detail}' for the first time; "
                       f"{peers} of {members} {dept} peers did in the last {cfg.retention_days:.0f} days")
        return make_signal(
            rule_id=self.rule_id, title=f"Rare {feature.noun} for the user's peer group", level="low", risk=risk,
            tags=list(feature.tags), row=row, time=t0, explanation=explanation, user=row["_user"] or user,
            host=row["_host"] or None, entities=[Entity("ip", row["_ip"])] if row["_ip"] else [],
            matched={"feature": feature.name, "value": str(value), "department": str(dept),
                     "peers": str(peers), "members": str(members)},
            description=f"Baseline: {feature.noun} rare in the user's department.",
        )
