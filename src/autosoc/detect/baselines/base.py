"""The baseline detector interface, its registry, and the state and evidence helpers they share.

A baseline detector learns what is normal for each entity (a user's countries, a host's
processes, a server's destinations, hourly counts) and emits a :class:`~autosoc.schema.Signal`
when an entity departs from it.  It is *stateful*: the runtime checkpoints it with
:meth:`BaselineDetector.snapshot` and resumes it with :meth:`BaselineDetector.restore`, and a
crash + restart gives exactly the signals of an uninterrupted run.  So every detector:

- uses event time only (never the wall clock) and no randomness;
- emits signals in a deterministic order (sorted by time, then entity, then value);
- keeps its state as plain data (ints, floats, strings, lists, dicts with string keys) in an
  :class:`EntityStore`, one key per entity, serialized with orjson.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from autosoc.errors import Origin, StoreError
from autosoc.keyed_state import KeyedState
from autosoc.normalize import fields as F
from autosoc.registry import Registry
from autosoc.schema import Entity, EventBatch, Signal

DAY = 86_400
HOUR = 3_600
#: at most this many event ids (and origins) cite the events behind one signal
MAX_EVIDENCE = 20
#: a signal's ``status``: the models are new and their thresholds are tuned on simulated data
STATUS = "experimental"
DETECTOR = "baseline"


@runtime_checkable
class BaselineDetector(Protocol):
    """A stateful detector that learns per-entity behaviour from OCSF columns."""

    name: str

    def process(self, batch: EventBatch) -> list[Signal]:
        """Update the baselines with ``batch`` and return the signals it caused, in a stable order."""
        ...

    def flush(self) -> list[Signal]:
        """Signals still held back at the end of a stream (none for detectors that decide at once)."""
        ...

    def snapshot(self, *, dirty_only: bool = False) -> dict[str, bytes]:
        """State by key (one key per entity); with ``dirty_only`` only keys changed since
        :meth:`mark_clean`, deleted keys as ``b""``."""
        ...

    def restore(self, state: dict[str, bytes]) -> None:
        """Load a full snapshot into a fresh detector."""
        ...

    def mark_clean(self) -> None:
        """The last snapshot was committed: forget which keys changed."""
        ...


class BaselineConfig(BaseModel):
    """Settings every baseline detector has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the registry key; subclasses narrow it to a Literal
    type: str
    enabled: bool = Field(True, description="Run this detector.")
    learning_days: float = Field(
        14.0, ge=0, description="Days of history an entity needs before it can alert (its learning period).")
    max_entities: int = Field(
        200_000, ge=1, description="Entities kept at most; beyond it the longest-idle entities are forgotten.")

    def build(self) -> list[BaselineDetector]:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError


#: config model classes by ``type``
baselines: Registry[type[BaselineConfig]] = Registry("baselines")


class EntityStore(KeyedState):
    """Per-entity state (:class:`~autosoc.keyed_state.KeyedState`) with idle eviction.

    Each value is a dict holding at least ``"t"``: the last event time (epoch seconds) the key was
    touched, which a detector only ever moves forward; eviction drops the keys idle longest when
    more than ``max_keys`` are held, and :meth:`expire` drops keys idle longer than a retention.
    """

    __slots__ = ("_idlest", "max_keys")

    def __init__(self, max_keys: int) -> None:
        super().__init__(label="baseline")
        self.max_keys = max_keys
        #: no value's "t" is below this (None: not known); while the retention horizon has not
        #: passed it, :meth:`expire` has nothing to drop and need not read every key
        self._idlest: int | None = None

    def put(self, key: str, value: Any) -> None:
        super().put(key, value)
        if self._idlest is not None and value["t"] < self._idlest:
            self._idlest = value["t"]

    def expire(self, before: int) -> None:
        """Drop keys whose last activity is before ``before`` (epoch seconds)."""
        if self._idlest is not None and self._idlest >= before:
            return
        for key in [k for k, v in self.data.items() if v["t"] < before]:
            self.delete(key)
        self._idlest = min((v["t"] for v in self.data.values()), default=None)

    def restore(self, state: dict[str, bytes]) -> None:
        super().restore(state)
        self._idlest = None

    def evict(self) -> None:
        """Keep at most ``max_keys``: drop the idlest (ties by key, so the choice is deterministic)."""
        excess = len(self.data) - self.max_keys
        if excess <= 0:
            return
        for key in sorted(self.data, key=lambda k: (self.data[k]["t"], k))[:excess]:
            self.delete(key)

    def snapshot(self, *, dirty_only: bool = False) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        self.snapshot_into(out, dirty_only=dirty_only)
        return out

    def check(self, key: str, value: Any) -> None:
        if not isinstance(value, dict) or "t" not in value:
            raise StoreError(f"baseline state {key!r} has an unexpected shape", code="bad_state")


# --- evidence -----------------------------------------------------------------------------------

#: aggregation expressions that collect the first events of a group (frame pre-sorted by time, id)
EVIDENCE_AGGS = (
    pl.col(F.EVENT_ID).head(MAX_EVIDENCE).alias("_ids"),
    pl.col(F.ORIGIN_SOURCE).head(MAX_EVIDENCE).alias("_osrc"),
    pl.col(F.ORIGIN_PATH).head(MAX_EVIDENCE).alias("_opath"),
    pl.col(F.ORIGIN_RECORD).head(MAX_EVIDENCE).alias("_orec"),
)


def sort_events(events: pl.DataFrame) -> pl.DataFrame:
    """Events in time order (ties by event id): the order every detector reads them in.

    The detectors of one batch all ask for the same frame: it is sorted once (the last answer is
    kept, with the frame it was for, so an id is never mistaken for another frame's)."""
    if _SORTED and _SORTED[0] is events:
        return _SORTED[1]
    ordered = events.sort([F.TIME, F.EVENT_ID], nulls_last=True, maintain_order=True)
    _SORTED[:] = [events, ordered]
    return ordered


_SORTED: list[pl.DataFrame] = []


def rows_of(frame: pl.DataFrame, *names: str) -> Iterator[tuple[Any, ...]]:
    """The values of the columns ``names``, row by row.

    The state update of every group reads a few scalar columns; the evidence lists and texts are
    read only for the groups that make a signal (``frame.row(index, named=True)``).  Reading every
    column of every group with ``iter_rows`` cost more than the updates themselves."""
    return zip(*(frame.get_column(name).to_list() for name in names), strict=True)


def evidence(row: dict[str, Any]) -> tuple[list[str], list[Origin]]:
    """Event ids and origins from a row aggregated with :data:`EVIDENCE_AGGS`."""
    ids = [str(i) for i in row["_ids"] or () if i is not None]
    origins = [
        Origin(str(src or ""), str(path or ""), rec if isinstance(rec, int) else None)
        for src, path, rec in zip(row["_osrc"] or (), row["_opath"] or (), row["_orec"] or (), strict=False)
    ]
    return ids, origins


def merge_evidence(rows: Iterable[dict[str, Any]]) -> tuple[list[str], list[Origin]]:
    ids: list[str] = []
    origins: list[Origin] = []
    for row in rows:
        more_ids, more_origins = evidence(row)
        ids.extend(more_ids)
        origins.extend(more_origins)
    return ids[:MAX_EVIDENCE], origins[:MAX_EVIDENCE]


def to_time(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def day_of(epoch: int) -> int:
    return epoch // DAY


def history_days(first: int, now: int) -> float:
    return (now - first) / DAY


def make_signal(*, rule_id: str, title: str, level: str, risk: int, tags: list[str], row: dict[str, Any] | None,
                time: int, explanation: str, user: str | None = None, host: str | None = None,
                entities: list[Entity] | None = None, matched: dict[str, str] | None = None,
                description: str = "", evidence_rows: Iterable[dict[str, Any]] | None = None) -> Signal:
    """One baseline signal, citing the events of ``row`` (or of ``evidence_rows``)."""
    if evidence_rows is not None:
        ids, origins = merge_evidence(evidence_rows)
    elif row is not None:
        ids, origins = evidence(row)
    else:
        ids, origins = [], []
    return Signal(
        rule_id=rule_id, title=title, level=level, status=STATUS, tags=tags, event_ids=ids, origins=origins,
        time=to_time(time), host=host, user=user, matched=matched or {}, detector=DETECTOR,
        description=description, entities=entities or [], explanation=explanation, risk=risk,
    )


class StatefulBase:
    """The snapshot / restore / mark_clean trio over one :class:`EntityStore` named ``store``."""

    name: str
    stateful: ClassVar[bool] = True
    store: EntityStore

    def flush(self) -> list[Signal]:
        return []

    def snapshot(self, *, dirty_only: bool = False) -> dict[str, bytes]:
        return self.store.snapshot(dirty_only=dirty_only)

    def restore(self, state: dict[str, bytes]) -> None:
        self.store.restore(state)

    def mark_clean(self) -> None:
        self.store.mark_clean()
