"""First-seen: an entity does something it has not done in its remembered history.

One detector per *feature* (a user's sign-in country, ASN, device, user agent; a host's process
image and parent→child pair; a server's outbound destination network and port).  Per entity it
keeps each value's last-seen time and count; values not seen for ``retention_days`` age out, at
most ``max_values`` are kept (the least recently seen go first), so a value seen once long ago
is new again and state stays bounded.

An entity alerts only after its learning period (``learning_days`` since first seen, on at least
``min_active_days`` distinct days) and at most ``max_signals_per_day`` times a day.  Ordinary
novelty is low-risk: the risk grows when the entity's history is narrow (one country in months
is more telling than the tenth).
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

FeatureName = Literal[
    "user_country", "user_asn", "user_device", "user_agent",
    "host_process", "host_parent_child", "server_dst_network", "server_dst_port",
]
ALL_FEATURES: tuple[FeatureName, ...] = (
    "user_country", "user_asn", "user_device", "user_agent",
    "host_process", "host_parent_child", "server_dst_network", "server_dst_port",
)

_INITIAL_ACCESS = ("attack.initial-access", "attack.t1078")


@dataclass(frozen=True, slots=True)
class Feature:
    """What a first-seen detector keys on and how it speaks."""

    name: str
    entity_kind: str  # user | host | ip
    #: events -> the slice the feature reads (a view of :mod:`~autosoc.detect.baselines._views`)
    view: Callable[[pl.DataFrame], pl.DataFrame]
    #: over the view: the entity, the value, and (for a signal) the user, host and source address
    entity: pl.Expr
    value: pl.Expr
    user: pl.Expr
    host: pl.Expr
    ip: pl.Expr
    #: the value as the explanation shows it, from ``_value`` and the columns of the first event of
    #: an (entity, value) group: it is computed for a signal, not per event
    detail: pl.Expr
    #: "first sign-in of {entity} from {detail}" (the history clause is appended)
    phrase: str
    title: str
    noun: str  # plural noun for the known-values clause: "countries"
    base_risk: int
    tags: tuple[str, ...]


_NONE = pl.lit(None, pl.String)
#: entity, user, host and address of the features of each view
_SIGNIN = (pl.col(V.USER_KEY), pl.col(F.USER), _NONE, C.text(F.SRC_IP))
_PROCESS = (pl.col(V.HOST_KEY), pl.col(F.USER), pl.col(F.HOST), _NONE)
_CONNECTION = (pl.col(V.SOURCE), pl.col(F.USER), pl.col(F.HOST), pl.col(V.SOURCE))
#: column of the view of ``server_dst_network``: the destination's network
_NETWORK = "_network"


def _asn_detail() -> pl.Expr:
    asn = C.text(F.SRC_ASN).str.replace(r"^(?i:as)", "")
    org, country = C.text(F.SRC_ASN_ORG), C.text(F.SRC_COUNTRY).str.to_uppercase()
    head = pl.when(asn.is_not_null()).then(pl.lit("AS") + asn).otherwise(org)
    inner = pl.concat_str([pl.when(asn.is_not_null()).then(org), country], separator=", ", ignore_nulls=True)
    return pl.when(inner.str.len_chars() > 0).then(head + pl.lit(" (") + inner + pl.lit(")")).otherwise(head)


def _asn() -> pl.Expr:
    asn = C.text(F.SRC_ASN).str.replace(r"^(?i:as)", "")
    return pl.when(asn.is_not_null()).then(pl.lit("AS") + asn).otherwise(
        pl.lit("org:") + C.text(F.SRC_ASN_ORG).str.to_lowercase())


def _destinations(events: pl.DataFrame) -> pl.DataFrame:
    frame = V.connections(events)
    # a Python function of the address (see network_of): once per distinct address, not per event
    return frame.with_columns(C.map_distinct(F.DST_IP, frame[F.DST_IP], C.network_of).alias(_NETWORK))


def _endpoint() -> pl.Expr:
    dst = C.text(F.DST_IP)
    return pl.when(dst.str.contains(":", literal=True)).then(pl.lit("[") + dst + pl.lit("]")).otherwise(dst)


FEATURES: dict[str, Feature] = {f.name: f for f in (
    Feature("user_country", "user", V.signins, _SIGNIN[0], C.text(F.SRC_COUNTRY).str.to_uppercase(), *_SIGNIN[1:],
            pl.col("_value"), "first successful sign-in of {entity} from country {detail}",
            "First sign-in from a new country", "countries", 12, _INITIAL_ACCESS),
    Feature("user_asn", "user", V.signins, _SIGNIN[0], _asn(), *_SIGNIN[1:], _asn_detail(),
            "first successful sign-in of {entity} from {detail}",
            "First sign-in from a new network (ASN)", "networks", 8, _INITIAL_ACCESS),
    Feature("user_device", "user", V.signins, _SIGNIN[0], C.text(F.DEVICE_UID).str.to_lowercase(), *_SIGNIN[1:],
            C.text(F.DEVICE_UID), "first successful sign-in of {entity} from device {detail}",
            "First sign-in from a new device", "devices", 8, _INITIAL_ACCESS),
    Feature("user_agent", "user", V.signins, _SIGNIN[0], C.user_agent_shape(), *_SIGNIN[1:],
            C.text(F.USER_AGENT).str.slice(0, 200), "first successful sign-in of {entity} with user agent '{detail}'",
            "First sign-in with a new user agent", "user agents", 4, _INITIAL_ACCESS),
    Feature("host_process", "host", V.processes, _PROCESS[0], pl.col(V.IMAGE), *_PROCESS[1:],
            C.text(F.PROCESS_PATH), "first run of process image '{detail}' on host {entity}",
            "New process image on a host", "process images", 6, ("attack.execution",)),
    Feature("host_parent_child", "host", V.processes, _PROCESS[0],
            C.path_shape(F.PARENT_PATH) + pl.lit(" -> ") + pl.col(V.IMAGE), *_PROCESS[1:],
            pl.lit("'") + C.text(F.PARENT_PATH) + pl.lit("' started '") + C.text(F.PROCESS_PATH) + pl.lit("'"),
            "first time {detail} on host {entity}",
            "New parent-child process pair on a host", "parent-child pairs", 8, ("attack.execution",)),
    Feature("server_dst_network", "ip", _destinations, _CONNECTION[0], pl.col(_NETWORK), *_CONNECTION[1:],
            pl.lit("network ") + pl.col("_value") + pl.lit(" (") + _endpoint() + pl.lit(":")
            + pl.col(F.DST_PORT).fill_null("?") + pl.lit(")"),
            "first outbound connection from {entity} to {detail}",
            "New outbound destination network", "destination networks", 6, ("attack.command-and-control",)),
    Feature("server_dst_port", "ip", V.connections, _CONNECTION[0], C.text(F.DST_PORT), *_CONNECTION[1:],
            pl.lit("port ") + pl.col("_value") + pl.lit(" (") + C.text(F.DST_IP) + pl.lit(")"),
            "first outbound connection from {entity} to {detail}",
            "New outbound destination port", "destination ports", 8,
            ("attack.command-and-control", "attack.t1571")),
)}


def _trim(values: dict[str, list[int]], cap: int) -> None:
    """Keep the ``cap`` most recently seen values (ties by value)."""
    excess = len(values) - cap
    if excess == 1:  # the usual case: one value over
        del values[min(values, key=lambda v: (values[v][0], v))]
    else:
        for victim in sorted(values, key=lambda v: (values[v][0], v))[:excess]:
            del values[victim]


@baselines.register("first_seen")
class FirstSeenConfig(BaselineConfig):
    """First-seen values per entity: new sign-in country/ASN/device/user agent, new process
    image or parent-child pair on a host, new outbound destination network or port."""

    type: Literal["first_seen"] = "first_seen"
    features: list[FeatureName] = Field(
        default_factory=lambda: list(ALL_FEATURES), description="Which features to watch (one detector each).")
    min_active_days: int = Field(
        3, ge=1, description="Distinct days an entity must have been seen on before it can alert.")
    retention_days: float = Field(
        90.0, gt=0, description="A value not seen for this many days is forgotten (and new again).")
    max_values: int = Field(
        256, ge=1, description="Values kept per entity; beyond it the least recently seen is forgotten.")
    max_signals_per_day: int = Field(
        3, ge=1, description="Signals per entity and day at most; further new values are learned silently.")

    def build(self) -> list[BaselineDetector]:
        return [FirstSeenDetector(FEATURES[name], self) for name in dict.fromkeys(self.features)]


class FirstSeenDetector(StatefulBase):
    """First-seen values of one feature; state per entity:
    ``{"t": last seen, "f": first seen, "d": [active days, last active day], "v": {value: [last seen, count]},
    "a": [day, signals that day]}``."""

    def __init__(self, feature: Feature, config: FirstSeenConfig) -> None:
        self.feature = feature
        self.config = config
        self.name = f"first_seen.{feature.name}"
        self.rule_id = f"baseline.first_seen.{feature.name}"
        self.store = EntityStore(config.max_entities)
        self.retention = int(config.retention_days * DAY)
        self._keys = (feature.entity.alias("_entity"), feature.value.alias("_value"))
        #: what a signal reads of its group's first event
        self._cited = (feature.detail.alias("_detail"), feature.user.alias("_user"), feature.host.alias("_host"),
                       feature.ip.alias("_ip"))
        #: per entity, a lower bound of its values' last-seen times (derived, not state): while it is
        #: within the retention no value can have aged out, and the values need not be scanned
        self._oldest: dict[str, int] = {}

    def process(self, batch: EventBatch) -> list[Signal]:
        events = batch.events
        if events.height == 0:
            return []
        frame = self.feature.view(events)
        if frame.height == 0:
            return []
        # groups with a null entity or value are skipped below, not filtered out here: one query less
        groups = grouped(frame, self._keys, (V.FIRST, V.LAST, V.COUNT), ["t0", "_entity", "_value"])
        signals, latest = self._learn(groups, frame)
        if latest is None:
            return signals
        self.store.prune(latest - self.retention)
        if len(self._oldest) > 2 * len(self.store) + 1024:
            self._oldest = {k: v for k, v in self._oldest.items() if k in self.store}
        return signals

    def restore(self, state: dict[str, bytes]) -> None:
        super().restore(state)
        self._oldest.clear()

    def _learn(self, groups: pl.DataFrame, frame: pl.DataFrame) -> tuple[list[Signal], int | None]:
        """Update the state with each (entity, value) group in turn; the signals and the last time seen.

        The loop runs once per group of every batch: what it reads is bound to locals."""
        store, oldest_of = self.store, self._oldest
        entities, touch = store.data, store.touch
        retention, cap = self.retention, self.config.max_values
        drafts = Drafts(self._keys, self._cited)
        latest = None
        for key, value, t0, t1, n in rows_of(groups, "_entity", "_value", "t0", "t1", "n"):
            if key is None or value is None:
                continue
            if latest is None or t1 > latest:
                latest = t1
            state = entities.get(key)
            if state is None:
                state = {"t": t1, "f": t0, "d": [1, day_of(t0)], "v": {}, "a": [0, 0]}
                store.put(key, state)
                oldest = None
            else:
                oldest = oldest_of.get(key)
            values: dict[str, list[int]] = state["v"]
            horizon = t0 - retention
            if oldest is None or oldest < horizon:  # some value may have aged out
                for stale in [v for v, (last, _) in values.items() if last < horizon]:
                    del values[stale]
                oldest = oldest_of[key] = min((last for last, _ in values.values()), default=t1)
            known = values.get(value)
            if known is not None:
                if t1 > known[0]:
                    known[0] = t1
                known[1] += n
            else:
                if values:
                    self._maybe_alert(state, key, value, t0, drafts)
                values[value] = [t1, n]
                if t1 < oldest:
                    oldest_of[key] = t1
            if len(values) > cap:
                _trim(values, cap)
            if t1 > state["t"]:
                state["t"] = t1
            if t0 < state["f"]:
                state["f"] = t0
            days, last_day = state["d"]
            if t1 // DAY > last_day:
                state["d"] = [days + 1, t1 // DAY]
            touch(key)
        return drafts.signals(frame), latest

    def _maybe_alert(self, state: dict[str, Any], key: str, value: str, t0: int, drafts: Drafts) -> None:
        cfg = self.config
        days = history_days(state["f"], t0)
        if days < cfg.learning_days or state["d"][0] < cfg.min_active_days:
            return
        today = day_of(t0)
        sent_day, sent = state["a"]
        if sent_day == today and sent >= cfg.max_signals_per_day:
            return
        state["a"] = [today, sent + 1 if sent_day == today else 1]
        drafts.add((key, value), functools.partial(self._signal, key, value, t0, days, len(state["v"])))

    def _signal(self, entity: str, value: str, t0: int, days: float, known: int, row: dict[str, Any]) -> Signal:
        feature = self.feature
        risk = min(30, round(feature.base_risk * (1 + 2 / (1 + known))))
        detail = row["_detail"] or value
        explanation = (feature.phrase.format(entity=entity, detail=detail)
                       + f" in {days:.0f} days of history ({feature.noun} known: {known})")
        entities = [Entity("ip", entity)] if feature.entity_kind == "ip" else []
        if row["_ip"] and feature.entity_kind != "ip":
            entities.append(Entity("ip", row["_ip"]))
        return make_signal(
            rule_id=self.rule_id, title=feature.title, level="medium" if risk >= 25 else "low", risk=risk,
            tags=list(feature.tags), row=row, time=t0, explanation=explanation,
            user=row["_user"] or None, host=row["_host"] or None, entities=entities,
            matched={"feature": feature.name, "value": str(value), "detail": str(detail)},
            description=f"Baseline: first-seen {feature.name.replace('_', ' ')}.",
        )
