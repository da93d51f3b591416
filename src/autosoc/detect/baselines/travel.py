"""Impossible travel: two consecutive successful sign-ins of a user too far apart for the time between.

Only sign-ins with coordinates count (from the log, or GeoIP city data); a sign-in with only a
country is skipped, never placed at an invented point.  Sign-ins from configured VPN / cloud
egress ranges (and ASNs) are ignored: their location is the exit's, not the user's.  GeoIP
coordinates are approximate, so ``accuracy_km`` is taken off every distance before the speed
is computed; pairs closer than ``min_distance_km`` never alert.

Per user the detector keeps the last location (departure = the *last* sign-in there) and the
location pairs it already reported, so a user whose phone and laptop egress in two countries
is reported once per pair and ``repeat_after_days``, not on every flip.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from typing import Any, Literal

import polars as pl
from pydantic import Field, field_validator

from autosoc.detect.baselines import _columns as C
from autosoc.detect.baselines import _views as V
from autosoc.detect.baselines._query import collect
from autosoc.detect.baselines.base import (
    DAY,
    BaselineConfig,
    BaselineDetector,
    Drafts,
    EntityStore,
    StatefulBase,
    baselines,
    history_days,
    make_signal,
    rows_of,
)
from autosoc.errors import ConfigError
from autosoc.normalize import fields as F
from autosoc.schema import Entity, EventBatch, Signal

EARTH_RADIUS_KM = 6371.0088
#: reported pairs kept per user at most
MAX_PAIRS = 32
#: source addresses whose range test is remembered at most (the memo is cleared when it outgrows it)
_MEMO_SIZE = 65_536
_LAT = pl.col(F.SRC_LAT).str.strip_chars().cast(pl.Float64, strict=False)
_LON = pl.col(F.SRC_LONG).str.strip_chars().cast(pl.Float64, strict=False)
_ASN = C.text(F.SRC_ASN).str.to_uppercase().str.replace("^AS", "")
_PLACED = (pl.col(V.USER_KEY).is_not_null() & _LAT.is_between(-90, 90) & _LON.is_between(-180, 180)
           & ~((_LAT == 0) & (_LON == 0)))  # 0,0 is "unknown", not the Gulf of Guinea
_RUN_ORDER = [V.USER_KEY, V.SECONDS, F.EVENT_ID]
#: the run of sign-ins at one place a sign-in is in, in a frame in :data:`_RUN_ORDER`: a run starts
#: at each user's first sign-in and where the place changes (numbered over all users: a run is
#: keyed by user and number, so the numbers need not restart for each user)
_RUN_NUMBER = ((pl.col(V.USER_KEY).shift(1) != pl.col(V.USER_KEY)) | (_LAT.shift(1) != _LAT)
               | (_LON.shift(1) != _LON)).fill_null(True).cum_sum().alias("_run")
#: the keys of a run in the frame of :meth:`ImpossibleTravelDetector._signins`
_RUN = (pl.col(V.USER_KEY), pl.col("_run"))
_RUN_KEYS = (pl.col(V.USER_KEY).alias("_entity"), pl.col("_run"))
#: a run's arrival (first) and departure (last) time and place
_RUN_AGGS = (pl.col(V.SECONDS).first().alias("t0"), pl.col(V.SECONDS).last().alias("t1"),
             _LAT.first().alias("_lat"), _LON.first().alias("_lon"), pl.col(F.USER).first().alias("_user"),
             C.text(F.SRC_COUNTRY).first().str.to_uppercase().alias("_country"),
             C.text(F.SRC_CITY).first().alias("_city"), C.text(F.SRC_IP).first().alias("_ip"),
             C.text(F.SRC_ASN_ORG).first().alias("_org"),
             pl.col(F.EVENT_ID).last().alias("_lid"), pl.col(F.ORIGIN_SOURCE).last().alias("_lsrc"),
             pl.col(F.ORIGIN_PATH).last().alias("_lpath"), pl.col(F.ORIGIN_RECORD).last().alias("_lrec"))


@baselines.register("impossible_travel")
class ImpossibleTravelConfig(BaselineConfig):
    """Consecutive successful sign-ins of a user faster apart than an airliner flies."""

    type: Literal["impossible_travel"] = "impossible_travel"
    learning_days: float = Field(
        0.0, ge=0, description="Days of history a user needs before alerting (speed needs no profile).")
    max_speed_kmh: float = Field(900.0, gt=0, description="Speeds above this (km/h) are impossible.")
    min_distance_km: float = Field(
        500.0, ge=0, description="Sign-ins closer than this (after the accuracy allowance) never alert.")
    accuracy_km: float = Field(
        100.0, ge=0, description="Allowance taken off each distance for the imprecision of IP geolocation.")
    ignore_cidrs: list[str] = Field(
        default_factory=list, description="VPN / cloud egress ranges (CIDR, IPv4 or IPv6) whose sign-ins are "
        "ignored.")
    ignore_asns: list[str] = Field(
        default_factory=list, description="Autonomous system numbers (\"AS13335\" or \"13335\") whose sign-ins "
        "are ignored (VPN providers, cloud egress).")
    repeat_after_days: float = Field(
        30.0, ge=0, description="The same pair of countries is reported again for a user only after this long.")
    retention_days: float = Field(30.0, gt=0, description="A user's last location is forgotten after this long.")

    @field_validator("ignore_cidrs")
    @classmethod
    def _valid_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(f"not a CIDR range: {cidr!r}") from exc
        return value

    def build(self) -> list[BaselineDetector]:
        return [ImpossibleTravelDetector(self)]


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


class ImpossibleTravelDetector(StatefulBase):
    """State per user: ``{"t": last sign-in time, "f": first seen, "loc": [lat, lon, country, city, ip, asn
    org], "ev": [event id, origin source, path, record] of that sign-in, "p": {"A|B": day reported}}``."""

    def __init__(self, config: ImpossibleTravelConfig) -> None:
        self.config = config
        self.name = "impossible_travel"
        self.rule_id = "baseline.impossible_travel"
        self.store = EntityStore(config.max_entities)
        try:
            self._networks = [ipaddress.ip_network(c.strip(), strict=False) for c in config.ignore_cidrs]
        except ValueError as exc:  # pragma: no cover - the validator already checked
            raise ConfigError(str(exc), code="bad_cidr") from exc
        self._asns = {a.strip().upper().removeprefix("AS") for a in config.ignore_asns}
        #: source address -> whether it is in an ignored range (derived, not state)
        self._memo: dict[str, bool] = {}
        self._wanted = _PLACED
        if self._asns:
            self._wanted = self._wanted & ~_ASN.is_in(sorted(self._asns)).fill_null(False)

    def _ignored(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip.strip())
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr.version == net.version and addr in net for net in self._networks)

    def _ignored_addresses(self, frame: pl.DataFrame) -> list[str]:
        """The source addresses of ``frame`` in an ignored range (as the log has them; :meth:`_ignored`
        strips them).  Sign-ins come from few addresses, again and again: each is looked up once."""
        memo = self._memo
        if len(memo) > _MEMO_SIZE:
            memo.clear()
        skip = []
        for ip in frame.get_column(F.SRC_IP).unique().to_list():
            if ip is None:
                continue
            ignored = memo.get(ip)
            if ignored is None:
                ignored = memo[ip] = self._ignored(ip)
            if ignored:
                skip.append(ip)
        return sorted(skip)

    def _signins(self, events: pl.DataFrame) -> pl.DataFrame:
        """The user's sign-ins with a place, in the order runs are read: by user, then time (in
        seconds; ties by event id), with ``_run``: the run of sign-ins at one place it is in
        (:data:`_RUN_NUMBER`)."""
        frame = V.signins(events)
        wanted = [self._wanted]
        if self._networks and frame.height:
            skip = self._ignored_addresses(frame)
            if skip:
                wanted.append(~pl.col(F.SRC_IP).is_in(skip).fill_null(False))
        return collect(frame.lazy().filter(*wanted).sort(_RUN_ORDER, maintain_order=True).with_columns(_RUN_NUMBER))

    def process(self, batch: EventBatch) -> list[Signal]:
        if batch.events.height == 0:
            return []
        frame = self._signins(batch.events)
        if frame.height == 0:
            return []
        # a run's arrival (first) and departure (last) time and place; the frame is in (user, run)
        # order, so the runs are too
        runs = frame.group_by(_RUN_KEYS, maintain_order=True).agg(_RUN_AGGS)
        drafts = Drafts(_RUN, ())
        for values in rows_of(runs, *_SCALARS):
            self._update(dict(zip(_SCALARS, values, strict=True)), drafts)
        signals = drafts.signals(frame)
        signals.sort(key=lambda s: (s.time, s.user or "", s.signal_id))
        self.store.prune(int(runs["t1"].max()) - int(self.config.retention_days * DAY))  # type: ignore[arg-type]
        return signals

    def _update(self, row: dict[str, Any], drafts: Drafts) -> None:
        """``row``: the :data:`_SCALARS` of a run."""
        key, t0, t1 = row["_entity"], row["t0"], row["t1"]
        here = [row["_lat"], row["_lon"], row["_country"], row["_city"], row["_ip"], row["_org"]]
        state = self.store.get(key)
        if state is None:
            self.store.put(key, {"t": t1, "f": t0, "loc": here, "p": {}, "ev": _departure(row)})
            return
        self.store.touch(key)
        if t0 >= state["t"]:
            self._judge(state, row, here, drafts)
            state["loc"], state["t"], state["ev"] = here, t1, _departure(row)
        state["f"] = min(state["f"], t0)

    def _judge(self, state: dict[str, Any], row: dict[str, Any], here: list[Any], drafts: Drafts) -> None:
        cfg = self.config
        t0 = row["t0"]
        if history_days(state["f"], t0) < cfg.learning_days:
            return
        before = state["loc"]
        distance = great_circle_km(before[0], before[1], here[0], here[1])
        effective = distance - cfg.accuracy_km
        if effective < cfg.min_distance_km:
            return
        hours = (t0 - state["t"]) / 3600
        speed = effective / hours if hours > 0 else math.inf
        if speed <= cfg.max_speed_kmh:
            return
        pair = "|".join(sorted((_place(before), _place(here))))
        pairs: dict[str, int] = state["p"]
        today = t0 // DAY
        if pair in pairs and today - pairs[pair] < cfg.repeat_after_days:
            return
        pairs[pair] = today
        if len(pairs) > MAX_PAIRS:
            for old in sorted(pairs, key=lambda p: (pairs[p], p))[: len(pairs) - MAX_PAIRS]:
                del pairs[old]
        ratio = speed / cfg.max_speed_kmh
        risk = min(60, round(30 + 10 * math.log2(min(ratio, 64.0))))
        user = row["_entity"]
        gap = _duration(t0 - state["t"])
        speed_text = "at once" if math.isinf(speed) else f"{speed:,.0f} km/h"
        explanation = (f"{user} signed in from {_describe(here)} {gap} after signing in from {_describe(before)}: "
                       f"{distance:,.0f} km, {speed_text} (limit {cfg.max_speed_kmh:,.0f} km/h)")
        entities = [Entity("ip", ip) for ip in dict.fromkeys((before[4], here[4])) if ip]
        signal = {
            "rule_id": self.rule_id, "title": "Impossible travel between sign-ins", "level": "medium", "risk": risk,
            "tags": ["attack.initial-access", "attack.t1078"], "row": None, "time": t0, "explanation": explanation,
            "user": row["_user"] or user, "entities": entities,
            "matched": {"from": _describe(before), "to": _describe(here), "distance_km": f"{distance:.0f}",
                        "speed_kmh": "inf" if math.isinf(speed) else f"{speed:.0f}"},
            "description": "Baseline: consecutive sign-ins farther apart than travel allows.",
        }
        # the departure's event is in the state (it may be of an earlier batch), the arrival's run in the batch
        drafts.add((user, row["_run"]), functools.partial(_cite, signal, _evidence(state["ev"])))


#: the columns of a run that every update reads (the evidence lists are read only for a signal)
_SCALARS = ("_entity", "_run", "t0", "t1", "_lat", "_lon", "_country", "_city", "_ip", "_org", "_user",
            "_lid", "_lsrc", "_lpath", "_lrec")


def _cite(signal: dict[str, Any], departure: dict[str, Any], arrival: dict[str, Any]) -> Signal:
    return make_signal(**signal, evidence_rows=[departure, arrival])


def _departure(row: dict[str, Any]) -> list[Any]:
    """The last event of a run: the departure the next location is compared with."""
    return [row["_lid"], row["_lsrc"], row["_lpath"], row["_lrec"]]


def _evidence(event: list[Any]) -> dict[str, Any]:
    return {"_ids": [event[0]], "_osrc": [event[1]], "_opath": [event[2]], "_orec": [event[3]]}


def _place(loc: list[Any]) -> str:
    return loc[2] or f"{loc[0]:.1f},{loc[1]:.1f}"


def _describe(loc: list[Any]) -> str:
    where = ", ".join(x for x in (loc[3], loc[2]) if x) or f"{loc[0]:.2f},{loc[1]:.2f}"
    extra = ", ".join(x for x in (loc[4], loc[5]) if x)
    return f"{where} ({extra})" if extra else where


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
