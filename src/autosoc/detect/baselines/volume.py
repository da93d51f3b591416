"""Volume: an entity's count in an hour far above its own history.

Per entity and metric the detector keeps the hourly values of the last ``window_days`` (sparse:
hours without activity are implicit zeros) and judges each hour as it fills against a robust
baseline: the median and the median absolute deviation (MAD) of the past hours.  An hour alerts
when all hold:

- its value is at least the metric's ``min_value`` (tiny counts never alert),
- its robust z-score ``(value - median) / max(1.4826·MAD, floor)`` reaches ``z_threshold``,
- it exceeds ``peak_ratio`` × the highest hour of the window (so a nightly backup or a weekly
  scan that already happened in the window is not news).

Metrics: failed sign-ins per user (3002 with status Failure), bytes out per source address
(4001), API calls per cloud principal (6003), distinct files touched per host (1001; distinct
within each batch, summed over batches).  Every event of the class makes its entity known, so
history starts with the entity's first event of any outcome (a user who never failed still has
a baseline of zero failures).
"""

from __future__ import annotations

import bisect
import functools
import math
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
    HOUR,
    BaselineConfig,
    BaselineDetector,
    Drafts,
    EntityStore,
    StatefulBase,
    baselines,
    day_of,
    make_signal,
    rows_of,
)
from autosoc.normalize import fields as F
from autosoc.schema import Entity, EventBatch, Signal

MetricName = Literal["failed_logons", "bytes_out", "api_calls", "files_touched"]
ALL_METRICS: tuple[MetricName, ...] = ("failed_logons", "bytes_out", "api_calls", "files_touched")


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    entity_kind: str  # user | ip | cloud_principal | host
    #: events -> the slice the metric counts (a view of :mod:`~autosoc.detect.baselines._views`)
    view: Callable[[pl.DataFrame], pl.DataFrame]
    #: over the view: the entity, and (for a signal) the user, host and source address
    entity: pl.Expr
    user: pl.Expr
    host: pl.Expr
    ip: pl.Expr
    aggregate: pl.Expr  # over a group of the view -> the hour's contribution
    min_value: float
    scale_floor: float
    title: str
    what: str  # "failed sign-ins for {entity}"
    unit: str  # "" or "bytes"
    tags: tuple[str, ...]


_NONE = pl.lit(None, pl.String)
_PRINCIPAL = pl.coalesce(C.text(F.USER_UID), C.text(F.USER)).str.to_lowercase()
_SENT = pl.col(F.BYTES_OUT).str.strip_chars().cast(pl.Float64, strict=False).fill_null(0).clip(lower_bound=0)

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("failed_logons", "user", V.authentications, pl.col(V.USER_KEY), pl.col(F.USER), _NONE, C.text(F.SRC_IP),
           C.is_failure().fill_null(False).cast(pl.Float64).sum(), 20, 1.0,
           "Burst of failed sign-ins for a user", "failed sign-ins for {entity}", "",
           ("attack.credential-access", "attack.t1110")),
    Metric("bytes_out", "ip", V.network, pl.col(V.SOURCE), pl.col(F.USER), pl.col(F.HOST), pl.col(V.SOURCE),
           _SENT.sum(), 500e6, 1e6,
           "Unusual volume of data sent by a host", "sent by {entity}", "bytes", ("attack.exfiltration",)),
    Metric("api_calls", "cloud_principal", V.api_calls, _PRINCIPAL, pl.col(F.USER), _NONE, C.text(F.SRC_IP),
           pl.len().cast(pl.Float64), 300, 1.0,
           "Burst of cloud API calls by a principal", "API calls by {entity}", "", ("attack.discovery",)),
    Metric("files_touched", "host", V.file_activity, pl.col(V.HOST_KEY), pl.col(F.USER), pl.col(F.HOST), _NONE,
           C.text(F.FILE_PATH).str.to_lowercase().drop_nulls().n_unique().cast(pl.Float64), 500,
           1.0, "Burst of file activity on a host", "files touched on {entity}", "",
           ("attack.collection", "attack.impact")),
)}


@baselines.register("volume")
class VolumeConfig(BaselineConfig):
    """Hourly counts per entity far above the entity's own robust baseline."""

    type: Literal["volume"] = "volume"
    learning_days: float = Field(7.0, ge=0, description="Days of history an entity needs before alerting.")
    metrics: list[MetricName] = Field(
        default_factory=lambda: list(ALL_METRICS), description="Which metrics to watch (one detector each).")
    window_days: float = Field(14.0, gt=0, description="How many days of hourly values the baseline holds.")
    z_threshold: float = Field(6.0, gt=0, description="Robust z-score an hour must reach.")
    peak_ratio: float = Field(
        1.5, ge=1, description="An hour must also exceed this multiple of the window's highest hour.")
    min_values: dict[MetricName, float] = Field(
        default_factory=dict, description="Minimum hourly value per metric, replacing the defaults "
        "(failed_logons 20, bytes_out 500e6, api_calls 300, files_touched 500).")
    max_signals_per_day: int = Field(2, ge=1, description="Signals per entity and day at most.")

    def build(self) -> list[BaselineDetector]:
        return [VolumeDetector(METRICS[name], self) for name in dict.fromkeys(self.metrics)]


def robust_stats(nonzero: list[float], zeros: int) -> tuple[float, float]:
    """Median and MAD of ``nonzero`` plus ``zeros`` implicit zeros."""
    values = [0.0] * zeros + sorted(nonzero)  # values are positive, so the zeros come first
    median = _median(values)
    return median, _median(sorted(abs(v - median) for v in values))


def _median(values: list[float]) -> float:
    n = len(values)
    if n == 0:
        return 0.0
    mid = n // 2
    return values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2


class VolumeDetector(StatefulBase):
    """State per entity: ``{"t", "f": first hour, "b": [[hour, value], ...] ascending, "al": [hours alerted],
    "a": [day, signals that day]}``."""

    def __init__(self, metric: Metric, config: VolumeConfig) -> None:
        self.metric = metric
        self.config = config
        self.name = f"volume.{metric.name}"
        self.rule_id = f"baseline.volume.{metric.name}"
        self.store = EntityStore(config.max_entities)
        self.min_value = config.min_values.get(metric.name, metric.min_value)  # type: ignore[call-overload]
        self.window = int(config.window_days * 24)
        self._keys = (metric.entity.alias("_entity"), (pl.col(V.SECONDS) // HOUR).alias("_hour"))
        self._value = metric.aggregate.alias("_value")
        #: what a signal reads of its group's first event
        self._cited = (metric.user.alias("_user"), metric.host.alias("_host"), metric.ip.alias("_ip"))

    def process(self, batch: EventBatch) -> list[Signal]:
        if batch.events.height == 0:
            return []
        frame = self.metric.view(batch.events)
        if frame.height == 0:
            return []
        # groups without an entity are skipped below, not filtered out here: one query less
        groups = grouped(frame, self._keys, (V.FIRST, V.LAST, self._value), ["_hour", "_entity"])
        signals, latest = self._learn(groups, frame)
        if latest is None:
            return signals
        self.store.prune(latest - int(self.config.window_days * DAY))
        return signals

    def _learn(self, groups: pl.DataFrame, frame: pl.DataFrame) -> tuple[list[Signal], int | None]:
        """Add each (entity, hour) group to its entity's buckets in turn and judge the hour; the
        signals and the last time seen.

        The loop runs once per group of every batch: what it reads is bound to locals."""
        store = self.store
        entities, touch = store.data, store.touch
        window = self.window
        drafts = Drafts(self._keys, self._cited)
        latest = None
        for key, hour, value, t0, t1 in rows_of(groups, "_entity", "_hour", "_value", "t0", "t1"):
            if key is None:
                continue
            if latest is None or t1 > latest:
                latest = t1
            value = float(value or 0.0)
            state = entities.get(key)
            if state is None:
                state = {"t": t1, "f": hour, "b": [], "al": [], "a": [0, 0]}
                store.put(key, state)
            touch(key)
            if t1 > state["t"]:
                state["t"] = t1
            if hour < state["f"]:
                state["f"] = hour
            buckets: list[list[float]] = state["b"]
            horizon = max(hour, int(buckets[-1][0]) if buckets else hour) - window
            while buckets and buckets[0][0] < horizon:
                buckets.pop(0)
            if state["al"] and min(state["al"]) < horizon:
                state["al"] = [h for h in state["al"] if h >= horizon]
            if hour < horizon:
                continue
            # bisect_left, but the hours are ascending and a batch's are mostly the newest, or new
            newest = int(buckets[-1][0]) if buckets else None
            if newest is None or newest < hour:
                at = len(buckets)
            elif newest == hour and (len(buckets) == 1 or int(buckets[-2][0]) < hour):
                at = len(buckets) - 1
            else:
                at = bisect.bisect_left(buckets, hour, key=_hour_of)
            if value > 0:
                if at < len(buckets) and int(buckets[at][0]) == hour:
                    buckets[at][1] += value
                else:
                    buckets.insert(at, [hour, value])
            if at < len(buckets) and int(buckets[at][0]) == hour:
                self._judge(state, key, t0, hour, buckets[at][1], buckets, at, drafts)
        return drafts.signals(frame), latest

    def _judge(self, state: dict[str, Any], entity: str, t0: int, hour: int, current: float,
               buckets: list[list[float]], at: int, drafts: Drafts) -> None:
        """Judge ``hour`` (``current``, at ``buckets[at]``) against the buckets before it."""
        cfg = self.config
        if current < self.min_value or hour in state["al"]:
            return
        start = max(state["f"], hour - self.window)
        span = hour - start
        if span < cfg.learning_days * 24 or span <= 0:
            return
        nonzero = [b[1] for b in buckets[:at] if b[0] >= start]
        median, mad = robust_stats(nonzero, max(0, span - len(nonzero)))
        peak = max(nonzero, default=0.0)
        scale = max(1.4826 * mad, self.metric.scale_floor)
        z = (current - median) / scale
        if z < cfg.z_threshold or current <= cfg.peak_ratio * peak:
            return
        today = day_of(t0)
        sent_day, sent = state["a"]
        if sent_day == today and sent >= cfg.max_signals_per_day:
            return
        state["a"] = [today, sent + 1 if sent_day == today else 1]
        state["al"].append(hour)
        drafts.add((entity, hour), functools.partial(self._signal, entity, t0, hour, current, median, mad, peak, z,
                                                     span))

    def _signal(self, entity: str, t0: int, hour: int, current: float, median: float, mad: float, peak: float,
                z: float, span: int, row: dict[str, Any]) -> Signal:
        cfg, metric = self.config, self.metric
        risk = min(45, round(15 + 6 * math.log2(max(1.0, z / cfg.z_threshold))))
        show = _bytes if metric.unit == "bytes" else _count
        start_h = hour % 24
        subject = metric.what.format(entity=entity + (f" ({row['_host']})" if row["_host"] else ""))
        explanation = (f"{show(current)} {subject} between {start_h:02d}:00 and {(start_h + 1) % 24:02d}:00 UTC, "
                       f"against a median of {show(median)} per hour (highest {show(peak)}) over "
                       f"{span / 24:.0f} days (robust z {z:,.1f})")
        user = row["_user"] if metric.entity_kind in ("user", "cloud_principal") else None
        entities = [Entity(metric.entity_kind, entity)] if metric.entity_kind in ("ip", "cloud_principal") else []
        if row["_ip"] and metric.entity_kind != "ip":
            entities.append(Entity("ip", row["_ip"]))
        return make_signal(
            rule_id=self.rule_id, title=metric.title, level="medium" if risk >= 25 else "low", risk=risk,
            tags=list(metric.tags), row=row, time=t0, explanation=explanation,
            user=user or (entity if metric.entity_kind == "user" else None),
            host=row["_host"] or (entity if metric.entity_kind == "host" else None), entities=entities,
            matched={"metric": metric.name, "value": f"{current:g}", "median": f"{median:g}", "mad": f"{mad:g}",
                     "peak": f"{peak:g}", "z": f"{z:.2f}"},
            description=f"Baseline: hourly {metric.name.replace('_', ' ')} above the entity's robust baseline.",
        )


def _hour_of(bucket: list[float]) -> int:
    return int(bucket[0])


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _bytes(value: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if value >= size:
            return f"{value / size:,.1f} {unit}"
    return f"{value:,.0f} B"
