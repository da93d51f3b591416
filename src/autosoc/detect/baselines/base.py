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

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from autosoc.detect.baselines._query import collect
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

    def prune(self, before: int) -> None:
        """After a batch: :meth:`expire` what was last active before ``before``, then :meth:`evict`."""
        self.expire(before)
        self.evict()

    def snapshot(self, *, dirty_only: bool = False) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        self.snapshot_into(out, dirty_only=dirty_only)
        return out

    def check(self, key: str, value: Any) -> None:
        if not isinstance(value, dict) or "t" not in value:
            raise StoreError(f"baseline state {key!r} has an unexpected shape", code="bad_state")


# --- evidence -----------------------------------------------------------------------------------

#: the first events of a group, as :func:`evidence` reads them
_CITED = (
    pl.col(F.EVENT_ID).head(MAX_EVIDENCE).alias("_ids"),
    pl.col(F.ORIGIN_SOURCE).head(MAX_EVIDENCE).alias("_osrc"),
    pl.col(F.ORIGIN_PATH).head(MAX_EVIDENCE).alias("_opath"),
    pl.col(F.ORIGIN_RECORD).head(MAX_EVIDENCE).alias("_orec"),
)
_WANTED = "_wanted"


def group_rows(frame: pl.DataFrame, keys: Sequence[pl.Expr], values: Sequence[tuple[Any, ...]],
               columns: Sequence[pl.Expr]) -> list[dict[str, Any]]:
    """Groups of ``frame`` as their signals cite them, in one query: for each of ``values`` (the
    ``keys`` of a group, in order), ``columns`` on the group's first event (with the keys as columns
    under their names) and the event ids and origins of its first :data:`MAX_EVIDENCE` events.

    A group is the rows whose ``keys`` equal its values, in the order of ``frame``.  A detector's
    aggregation of a batch reads only what its state update needs (times, counts); the rest is read
    here, for the few groups that make a signal."""
    names = [key.meta.output_name() for key in keys]
    wanted = pl.DataFrame(list(values), schema=frame.lazy().select(keys).collect_schema(), orient="row")
    query = (frame.lazy().with_columns(keys)
             .join(wanted.with_row_index(_WANTED).lazy(), on=names, how="inner", maintain_order="left")
             .group_by(_WANTED).agg(*(column.first() for column in columns), *_CITED)
             .sort(_WANTED))
    return collect(query).rows(named=True)


class Drafts:
    """A batch's signals before what they cite is read.

    A detector's update loop decides to alert and changes its state there and then; it adds the
    group's key values and a function that makes the signal of the group's row (of
    :func:`group_rows`), computed from what the state held at that moment.  :meth:`signals` reads
    the rows of all of them in one query, however many the batch made."""

    __slots__ = ("_columns", "_keys", "_makers", "_values")

    def __init__(self, keys: Sequence[pl.Expr], columns: Sequence[pl.Expr]) -> None:
        self._keys, self._columns = keys, columns
        self._values: list[tuple[Any, ...]] = []
        self._makers: list[Callable[[dict[str, Any]], Signal]] = []

    def add(self, values: tuple[Any, ...], make: Callable[[dict[str, Any]], Signal]) -> None:
        self._values.append(values)
        self._makers.append(make)

    def signals(self, frame: pl.DataFrame) -> list[Signal]:
        """The signals, in the order they were added, citing their groups of ``frame``."""
        if not self._values:
            return []
        rows = group_rows(frame, self._keys, self._values, self._columns)
        return [make(row) for make, row in zip(self._makers, rows, strict=True)]


def rows_of(frame: pl.DataFrame, *names: str) -> Iterator[tuple[Any, ...]]:
    """The values of the columns ``names``, row by row.

    The state update of every group reads a few scalar columns; the evidence and texts are read
    only for the groups that make a signal (:func:`group_rows`).  A column's ``to_list`` is cheaper
    than ``rows`` or ``iter_rows`` over the same columns."""
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
