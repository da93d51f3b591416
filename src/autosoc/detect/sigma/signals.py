"""A batch's Sigma signals: :class:`Signal` objects when someone iterates them, JSON lines from columns.

The engine finds (rule, rows) pairs; a signal per pair costs a dozen Python objects (the Signal,
its lists, the matched dict, its origin, its entities) -- about as much as detecting the event.
:class:`SignalBatch` keeps the pairs and builds those objects the first time it is iterated
(:func:`build_signals`); what only counts signals or writes them as JSON lines never does:
:meth:`SignalBatch.counts` reads the pairs, :meth:`SignalBatch.jsonl` builds the lines from the
batch's columns in Polars, each line parsing to the ``as_dict()`` of the signal it stands for.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import chain, repeat
from typing import overload
from zoneinfo import ZoneInfo

import orjson
import polars as pl

from autosoc.detect.sigma.rules import CompiledRule
from autosoc.errors import Origin
from autosoc.normalize import fields as F
from autosoc.schema import LEVEL_RANK, Entity, EventBatch, Signal

try:
    from autosoc.detect.sigma import _lines
except ImportError:  # built without a C compiler: the JSON lines are made in Polars
    _lines = None  # type: ignore[assignment]

#: True when the JSON lines are written in C (built, and not switched off by ``AUTOSOC_PURE_PYTHON=1``)
NATIVE: bool = _lines is not None and os.environ.get("AUTOSOC_PURE_PYTHON") != "1"

Fired = Sequence[tuple[CompiledRule, list[int]]]
#: what :meth:`SignalBatch.counts` counts by: rule id, title, level, detector, tags
CountKey = tuple[str, str, str, str, tuple[str, ...]]

DETECTOR = "sigma"
_EPOCH = datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC"))  # the tzinfo Polars gives UTC datetimes
_SIGNAL_COLUMNS = (F.EVENT_ID, F.ORIGIN_SOURCE, F.ORIGIN_PATH, F.ORIGIN_RECORD, F.TIME, F.HOST, F.USER,
                   F.FAMILY, F.USER_UID, F.SRC_IP, F.DST_IP, F.APP_NAME, F.PROCESS_CMD)
#: a remote computer named on a command line: a UNC path (\\host\share, sc \\host, psexec \\host),
#: wmic /node:host, PowerShell -ComputerName host, winrs -r:host
_REMOTE_HOST = re.compile(
    r"(?:^|[\s\"'=])\\\\([A-Za-z0-9][A-Za-z0-9.\-]{0,252})(?=[\\\s\"']|$)"
    r"|/node:[\"']?([A-Za-z0-9][A-Za-z0-9.\-]{0,252})"
    r"|-ComputerName[\s:]+[\"']?([A-Za-z0-9][A-Za-z0-9.\-]{0,252})"
    r"|-r(?:emote)?:[\"']?(?:https?://)?([A-Za-z0-9][A-Za-z0-9.\-]{0,252})", re.IGNORECASE)
_NOT_REMOTE = frozenset({"localhost", "127.0.0.1", ".", "?", "tsclient", "wsl$", "wsl.localhost"})
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
#: what every command line :data:`_REMOTE_HOST` matches holds (a Rust regex: no lookahead), so
#: only those lines go through it; first a search Rust's regex runs by its literals (two
#: backslashes and an alphanumeric, ...), then, on the lines it passes, the same with what may stand
#: before a UNC name (Python's ``\s`` also takes U+001C..U+001F, Rust's does not), which a path's
#: doubled backslashes lack: on the benchmark's process-creation rows of a batch (12,538 lines)
#: 1,075, then 580 lines are hinted and 251 name a computer (the second search over every line
#: had cost three times the first)
_REMOTE_HINT = r"(?i)\\\\[a-z0-9]|/node:|-computername|-r(?:emote)?:"
_REMOTE_HINT_EXACT = r"(?i)(?:^|[\s\x1c-\x1f\"'=])\\\\[a-z0-9]|/node:|-computername|-r(?:emote)?:"
#: the keys of ``Signal.as_dict()`` that one rule's signals share, in their order, and the ones
#: after ``matched``; :func:`sigma_jsonl` writes the rest from the event
_RULE_HEAD = ("detector", "rule_id", "title", "level", "status", "risk_score", "tags", "attack_techniques",
              "attack_tactics")
_ROW_HEAD = ("time", "host", "user", "event_ids", "origins")


class SignalBatch(Sequence[Signal]):
    """The Sigma signals of one batch (plus any others, ``extra``, such as correlation signals).

    A sequence of :class:`Signal`: indexing or iterating builds the objects, once.  ``len``,
    :meth:`counts`, :meth:`at_least` and :meth:`jsonl` work on the (rule, rows) pairs instead.
    """

    __slots__ = ("_built", "batch", "extra", "fired")

    def __init__(self, batch: EventBatch | None, fired: Fired, extra: Sequence[Signal] = ()) -> None:
        self.batch = batch
        self.fired = [(rule, rows) for rule, rows in fired if rows]
        if self.fired and batch is None:
            raise ValueError("signals of fired rules need the batch they fired on")
        self.extra = list(extra)
        self._built: list[Signal] | None = None

    def __len__(self) -> int:
        return sum(len(rows) for _, rows in self.fired) + len(self.extra)

    @overload
    def __getitem__(self, index: int) -> Signal: ...
    @overload
    def __getitem__(self, index: slice) -> list[Signal]: ...
    def __getitem__(self, index: int | slice) -> Signal | list[Signal]:
        return self.signals()[index]

    def __iter__(self) -> Iterator[Signal]:
        return iter(self.signals())

    def __repr__(self) -> str:
        return f"SignalBatch({len(self)} signals of {len(self.fired)} rules, {len(self.extra)} extra)"

    def signals(self) -> list[Signal]:
        """The signals as objects: the Sigma ones in rule order, then ``extra``."""
        if self._built is None:
            assert self.batch is not None or not self.fired
            self._built = (build_signals(self.batch, self.fired) if self.batch is not None else []) + self.extra
        return self._built

    def extend(self, signals: Sequence[Signal]) -> None:
        self.extra.extend(signals)
        if self._built is not None:
            self._built.extend(signals)

    def at_least(self, level: str) -> SignalBatch:
        """The signals of level ``level`` or above (an unknown level ranks lowest, as in ``LEVEL_RANK``)."""
        floor = LEVEL_RANK.get(level, 0)
        if floor == 0:
            return self
        return SignalBatch(self.batch, [(r, rows) for r, rows in self.fired if LEVEL_RANK.get(r.level, 0) >= floor],
                           [s for s in self.extra if LEVEL_RANK.get(s.level, 0) >= floor])

    def counts(self) -> Counter[CountKey]:
        """Signals per (rule id, title, level, detector, tags)."""
        out: Counter[CountKey] = Counter()
        for rule, rows in self.fired:
            out[(rule.id, rule.title, rule.level, DETECTOR, tuple(rule.tags))] += len(rows)
        out.update(count_key(s) for s in self.extra)
        return out

    def jsonl(self) -> bytes:
        """One JSON object per signal and line, in :meth:`signals` order: ``Signal.as_dict()``."""
        out = io.BytesIO()
        self.write_jsonl(out.write)
        return out.getvalue()

    def write_jsonl(self, write: Callable[[bytes], object]) -> int:
        """:meth:`jsonl` written with ``write`` (a stream's) in pieces, not made whole first;
        returns the bytes written."""
        written = write_sigma_jsonl(self.batch, self.fired, write) if self.fired and self.batch is not None else 0
        if self.extra:
            data = b"".join(orjson.dumps(s.as_dict()) + b"\n" for s in self.extra)
            write(data)
            written += len(data)
        return written


def count_key(signal: Signal) -> CountKey:
    """What :meth:`SignalBatch.counts` counts a signal by."""
    return signal.rule_id, signal.title, signal.level, signal.detector, tuple(signal.tags)


def build_signals(batch: EventBatch, fired: Fired) -> list[Signal]:
    """One :class:`Signal` per (rule, row) of ``fired``, in that order."""
    if not fired:
        return []
    rows = sorted({row for _, hit_rows in fired for row in hit_rows})
    position = {row: i for i, row in enumerate(rows)}
    # what every signal of a row shares is built once per row (Origin is immutable; the lists
    # are copied per signal)
    shared = _row_parts(batch.events.select(_SIGNAL_COLUMNS)[rows])
    raw = batch.raw
    raw_columns = set(raw.columns)
    signals: list[Signal] = []
    append = signals.append
    for rule, hit_rows in fired:
        # the matched fields: only this rule's columns on only its rows (without a query: a
        # select, or a Series' gather, costs one on a frame hundreds of columns wide)
        names = _matched_names(rule, raw_columns)
        picked = [raw.get_column(name) for name in names]
        taken = pl.DataFrame(picked)[hit_rows] if names else None
        texts = all(c.dtype == pl.String for c in picked)  # else values are made text below
        values = (zip(*(taken.to_series(i).to_list() for i in range(len(names))), strict=True)
                  if taken is not None else None)
        tags = list(rule.tags)
        rule_id, title, level, status, path, description = (
            rule.id, rule.title, rule.level, rule.status, rule.path, rule.description)
        for row in hit_rows:
            event_id, origin, time, host, user, entities = shared[position[row]]
            if values is None:
                matched = {}
            elif texts:
                matched = {name: v for name, v in zip(names, next(values), strict=True) if v is not None}
            else:
                matched = {name: v if type(v) is str else str(v)
                           for name, v in zip(names, next(values), strict=True) if v is not None}
            append(Signal(rule_id, title, level, status, tags.copy(), [event_id], [origin], time, host, user,
                          matched, DETECTOR, path, description, entities.copy()))
    return signals


def sigma_jsonl(batch: EventBatch, fired: Fired) -> bytes:
    """The JSON lines of ``build_signals(batch, fired)`` (see :func:`write_sigma_jsonl`)."""
    out = io.BytesIO()
    write_sigma_jsonl(batch, fired, out.write)
    return out.getvalue()


def write_sigma_jsonl(batch: EventBatch, fired: Fired, write: Callable[[bytes], object]) -> int:
    """Write the JSON lines of ``build_signals(batch, fired)`` with ``write`` (a stream's), built
    from columns: what the signals of one rule share is encoded once per rule, what the signals of
    one event share once per event, and the matched fields once per field.  In C (``_lines``, a
    megabyte or so per ``write``) where it is built and the columns have the types it writes,
    else in Polars (one ``write``).  Returns the bytes written."""
    fired = [(rule, rows) for rule, rows in fired if rows]
    if not fired:
        return 0
    rule_parts = [_rule_json(rule.id, rule.title, rule.level, rule.status, rule.tags, rule.path, rule.description)
                  for rule, _ in fired]
    if NATIVE and _native_types(batch.events):
        return _native_jsonl(write, batch, fired, rule_parts)
    every = pl.Series(list(chain.from_iterable(hit_rows for _, hit_rows in fired)), dtype=pl.UInt32)
    rows = every.unique().sort()
    hit = batch.events.select(_SIGNAL_COLUMNS)[rows]
    by_rule = pl.Series(list(chain.from_iterable(repeat(i, len(r)) for i, (_, r) in enumerate(fired))),
                        dtype=pl.UInt32)
    by_row = rows.search_sorted(every).cast(pl.UInt32)  # each signal's event among the hit ones
    data = _polars_jsonl(fired, hit, rule_parts, by_rule, by_row, _matched_pairs(batch.raw, fired))
    write(data)
    return len(data)


#: the types :func:`_native_jsonl` writes as ``as_dict()`` does: host and user as text (or all null)
_NATIVE_TEXT = (pl.String, pl.Null)


def _native_types(events: pl.DataFrame) -> bool:
    time = events.get_column(F.TIME)
    if time.dtype == pl.Datetime("us", "UTC"):
        years = time.dt.year()
        times_ok = time.null_count() == time.len() or (years.min() >= 1 and years.max() <= 9999)  # type: ignore[operator]
    else:
        times_ok = time.dtype == pl.Null
    return (times_ok and events.schema[F.HOST] in _NATIVE_TEXT and events.schema[F.USER] in _NATIVE_TEXT
            and events.get_column(F.EVENT_ID).null_count() == 0)


def _native_jsonl(write: Callable[[bytes], object], batch: EventBatch, fired: Fired,
                  rule_parts: list[tuple[str, str, str]]) -> int:
    """The C writer, on the batch's own columns: the event columns and the rules' fields are read
    at the fired rows in place (nothing gathered), the remote hosts of command lines made here."""
    events, raw = batch.events, batch.raw
    raw_columns = set(raw.columns)
    index: dict[str, int] = {}
    rule_fields = [[index.setdefault(name, len(index)) for name in _matched_names(rule, raw_columns)]
                   for rule, _ in fired]
    record = events.get_column(F.ORIGIN_RECORD)
    text = [events.get_column(name).cast(pl.String) for name in (
        F.HOST, F.USER, F.EVENT_ID, F.ORIGIN_SOURCE, F.ORIGIN_PATH, F.SRC_IP, F.DST_IP, F.APP_NAME, F.USER_UID,
        F.FAMILY)]
    return _lines.lines(  # type: ignore[no-any-return]
        write, DETECTOR, [rule.id for rule, _ in fired], [p[0] for p in rule_parts], [p[1] for p in rule_parts],
        [p[2] for p in rule_parts], [rows for _, rows in fired], rule_fields,
        events.get_column(F.TIME).cast(pl.Int64).rechunk(),
        (record.cast(pl.Int64) if record.dtype.is_integer() else pl.Series([None] * events.height, dtype=pl.Int64))
        .rechunk(),
        *text, _remote_members(events.get_column(F.PROCESS_CMD)),
        [_as_text(raw.get_column(name)) for name in index], [orjson.dumps(name).decode() + ":" for name in index])


def _as_text(column: pl.Series) -> pl.Series:
    """A raw column's values as the objects report them: text, others made text by ``str()``."""
    if column.dtype in _NATIVE_TEXT:
        return column.cast(pl.String)
    return pl.Series([v if v is None or type(v) is str else str(v) for v in column.to_list()], dtype=pl.String)


def _polars_jsonl(fired: Fired, hit: pl.DataFrame, rule_parts: list[tuple[str, str, str]], by_rule: pl.Series,
                  by_row: pl.Series, pairs: _Pairs) -> bytes:
    row_head, row_tail = _row_json(hit)
    event_ids = hit.get_column(F.EVENT_ID).cast(pl.String).gather(by_row).to_list()
    ids: list[str] = []
    start = 0
    for rule, hit_rows in fired:
        base = hashlib.blake2b(digest_size=12)  # Signal.signal_id: detector, rule id, event ids
        base.update(DETECTOR.encode())
        base.update(rule.id.encode())
        for event_id in event_ids[start:start + len(hit_rows)]:
            digest = base.copy()
            digest.update(event_id.encode())
            ids.append(digest.hexdigest())
        start += len(hit_rows)
    frame = pl.DataFrame([
        pl.Series("id", ids, dtype=pl.String),
        pl.Series("rule_head", [p[0] for p in rule_parts], dtype=pl.String).gather(by_rule),
        row_head.gather(by_row).alias("row_head"),
        _matched_json(pairs, len(ids)).alias("matched"),
        pl.Series("rule_tail", [p[1] for p in rule_parts], dtype=pl.String).gather(by_rule),
        row_tail.gather(by_row).alias("row_tail"),
        pl.Series("rule_end", [p[2] for p in rule_parts], dtype=pl.String).gather(by_rule),
    ])
    lines = frame.select(pl.concat_str([
        pl.lit('{"signal_id":"'), pl.col("id"), pl.lit('",'), pl.col("rule_head"), pl.lit(","), pl.col("row_head"),
        pl.lit(',"matched":{'), pl.col("matched"), pl.lit("},"), pl.col("rule_tail"), pl.lit(","),
        pl.col("row_tail"), pl.col("rule_end"),
    ]))
    if lines.to_series().null_count():  # every part above is set on every row
        raise AssertionError("a signal's JSON line came out null")
    out = io.BytesIO()
    lines.write_csv(out, include_header=False, quote_style="never")  # one line per row, as it is
    return out.getvalue()


def _matched_names(rule: CompiledRule, raw_columns: set[str]) -> list[str]:
    """The fields a signal of ``rule`` reports (those the batch has), in the rule's order."""
    return [f for f in dict.fromkeys(rule.fields) if f in raw_columns]


@functools.lru_cache(maxsize=16384)  # a rule fires in batch after batch
def _rule_json(rule_id: str, title: str, level: str, status: str, tags: tuple[str, ...], path: str,
               description: str) -> tuple[str, str, str]:
    """What all signals of a rule share as JSON: the members before ``time``, ``rule_path``, and
    the ``explanation`` member with the closing brace; from ``Signal.as_dict()`` itself."""
    fields = Signal(rule_id, title, level, status, list(tags), [], [], None, None, None, {}, DETECTOR, path,
                    description, []).as_dict()
    head = orjson.dumps({k: fields[k] for k in _RULE_HEAD}).decode()[1:-1]
    path = orjson.dumps(fields["rule_path"]).decode()
    explanation = orjson.dumps(fields["explanation"]).decode()
    return head, '"rule_path":' + path, ',"explanation":' + explanation + "}"


def _json(expr: pl.Expr) -> pl.Expr:
    """Each value as JSON text (a string quoted and escaped as orjson does, null as ``null``)."""
    return pl.struct(expr.alias("v")).struct.json_encode().str.strip_prefix('{"v":').str.strip_suffix("}")


def _row_json(hit: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Per hit event, the members every signal on it shares: ``time`` to ``origins``, and the
    ``entities`` member (:func:`_row_parts` in columns)."""
    time = hit.get_column(F.TIME)
    if time.dtype == pl.Datetime("us", "UTC") and time.dt.year().is_between(1, 9999).all():
        t = pl.col(F.TIME)  # as isoformat(): the fraction only when there is one
        micro = t.dt.microsecond()
        iso = pl.concat_str([
            t.dt.strftime("%Y-%m-%dT%H:%M:%S"),
            pl.when(micro != 0).then(pl.lit(".") + micro.cast(pl.String).str.zfill(6)).otherwise(pl.lit("")),
            pl.lit("+00:00"),
        ])
    else:
        iso = pl.lit(pl.Series([t.isoformat() if isinstance(t, datetime) else None for t in _datetimes(time)],
                               dtype=pl.String))
    record = pl.col(F.ORIGIN_RECORD) if hit.schema[F.ORIGIN_RECORD].is_integer() else pl.lit(None, pl.Int64)
    # one JSON object of the flat members, then nested: a key cannot occur inside an encoded
    # string (its quotes would be escaped), so the first occurrence of each is the member itself
    head = (pl.struct(iso.alias("time"), pl.col(F.HOST).alias("host"), pl.col(F.USER).alias("user"),
                      pl.col(F.EVENT_ID).cast(pl.String).alias("event_ids"),
                      pl.col(F.ORIGIN_SOURCE).cast(pl.String).alias("source"),
                      pl.col(F.ORIGIN_PATH).cast(pl.String).alias("path"), record.alias("record"))
            .struct.json_encode()
            .str.replace('"event_ids":', '"event_ids":[', literal=True)
            .str.replace(',"source":', '],"origins":[{"source":', literal=True)
            .str.slice(1, None).str.strip_suffix("}") + pl.lit("}]"))

    out = hit.select(head.alias("head"), pl.concat_str([pl.lit('"entities":['), pl.lit(_entity_members(hit)),
                                                        pl.lit("]")]).alias("entities"))
    return out.get_column("head"), out.get_column("entities")


def _entity_members(hit: pl.DataFrame) -> pl.Series:
    """Per hit event, its entities as JSON array members (no brackets; "" for none), in
    :func:`_row_parts`' order; the command lines' remote hosts (a few rows) are encoded in Python."""

    def named(column: str, kind: str, when: pl.Expr | None = None) -> pl.Expr:
        text = pl.col(column).cast(pl.String)
        present = text.is_not_null() & (text != "")
        return pl.when(present if when is None else present & when).then(_json(pl.lit(kind + ":") + text))

    return hit.select(pl.concat_str([
        named(F.SRC_IP, "ip"), named(F.DST_IP, "ip"), named(F.APP_NAME, "oauth_app"),
        pl.lit(_remote_members(hit.get_column(F.PROCESS_CMD))),
        named(F.USER_UID, "cloud_principal", pl.col(F.FAMILY) == "cloudtrail"),
    ], separator=",", ignore_nulls=True)).to_series()


#: the matched fields of a batch's signals as pairs: the JSON keys (``"name":``), and per pair its
#: signal, its position among the rule's fields, its key and its value as text (null: not reported)
_Pairs = tuple[list[str], pl.Series, pl.Series, pl.Series, pl.Series]


def _matched_pairs(raw: pl.DataFrame, fired: Fired) -> _Pairs:
    """Per signal (in ``fired`` order) and field of its rule the batch has, a pair; the values
    gathered once per field, for all the signals reading it."""
    raw_columns = set(raw.columns)
    by_field: dict[str, tuple[list[int], list[int], list[int]]] = {}
    start = 0
    for rule, hit_rows in fired:
        n = len(hit_rows)
        for k, name in enumerate(_matched_names(rule, raw_columns)):
            signals, keys, rows = by_field.setdefault(name, ([], [], []))
            signals.extend(range(start, start + n))
            keys.extend(repeat(k, n))
            rows.extend(hit_rows)
        start += n
    values = []
    for name, (_, _, rows) in by_field.items():
        column = raw.get_column(name).gather(rows)
        if column.dtype != pl.String:  # as build_signals makes them text: str() of the Python value
            column = pl.Series([v if v is None or type(v) is str else str(v) for v in column.to_list()],
                               dtype=pl.String)
        values.append(column)
    return (
        [orjson.dumps(name).decode() + ":" for name in by_field],
        pl.Series("s", list(chain.from_iterable(v[0] for v in by_field.values())), dtype=pl.UInt32),
        pl.Series("k", list(chain.from_iterable(v[1] for v in by_field.values())), dtype=pl.UInt32),
        pl.Series("f", list(chain.from_iterable(repeat(i, len(v[0])) for i, v in enumerate(by_field.values()))),
                  dtype=pl.UInt32),
        pl.concat(values).alias("v") if values else pl.Series("v", [], dtype=pl.String),
    )


def _matched_json(pairs: _Pairs, count: int) -> pl.Series:
    """Per signal, the members of its ``matched`` object (the pairs whose value is not null), in
    the rule's order: the k-th member of every signal is one column, and the columns are joined."""
    keys, signals, positions, key_index, values = pairs
    if not keys:
        return pl.Series([""] * count, dtype=pl.String)
    members = pl.DataFrame([signals, positions, pl.Series(keys, dtype=pl.String).gather(key_index).alias("f"), values])
    members = members.filter(pl.col("v").is_not_null()).select("s", "k", (pl.col("f") + _json(pl.col("v"))).alias("m"))
    columns = []
    for _, part in sorted(members.partition_by("k", as_dict=True).items()):
        columns.append(pl.Series([None] * count, dtype=pl.String).scatter(part.get_column("s"), part.get_column("m")))
    return pl.DataFrame(columns, schema=[str(i) for i in range(len(columns))]).select(
        pl.concat_str(pl.all(), separator=",", ignore_nulls=True)).to_series()


def _remote_members(command: pl.Series) -> pl.Series:
    """Per command line, the remote computers it names as JSON array members ("host:FS-01"), or null."""
    out = pl.repeat(None, command.len(), dtype=pl.String, eager=True)
    named = _remote(command)
    if named:
        out = out.scatter(list(named), [orjson.dumps([str(e) for e in found]).decode()[1:-1]
                                        for found in named.values()])
    return out


def _remote(command: pl.Series) -> dict[int, tuple[Entity, ...]]:
    """The command lines that name remote computers (:func:`remote_hosts`): row -> those computers
    (most rows name none and are not in it: nothing per row is made in Python)."""
    if command.dtype != pl.String:
        return {}
    maybe = command.str.contains(_REMOTE_HINT).fill_null(False)
    if not maybe.any():
        return {}
    rows, texts = maybe.arg_true(), command.filter(maybe)
    exact = texts.str.contains(_REMOTE_HINT_EXACT)
    out: dict[int, tuple[Entity, ...]] = {}
    for i, text in zip(rows.filter(exact).to_list(), texts.filter(exact).to_list(), strict=True):
        if found := _remote_hosts(text):
            out[i] = found
    return out


@functools.lru_cache(maxsize=8192)  # command lines repeat, within a batch and across them
def _remote_hosts(command: str) -> tuple[Entity, ...]:
    return tuple(remote_hosts(command))


def _row_parts(events: pl.DataFrame) -> list[tuple[str, Origin, datetime | None, str | None, str | None,
                                                     list[Entity]]]:
    """What every signal on one event shares, per row of ``events`` (the ``_SIGNAL_COLUMNS``):
    event id, origin, time, host, user, further entities.  Built a column at a time: only the
    command lines that may name another computer go through :func:`remote_hosts`."""
    columns = [events.get_column(name) for name in _SIGNAL_COLUMNS]
    event_ids, sources, paths, records, times, hosts, users, families, principals, src_ips, dst_ips, apps, _ = (
        c.cast(pl.String).to_list() if name in (F.EVENT_ID, F.ORIGIN_SOURCE, F.ORIGIN_PATH)
        else _datetimes(c) if name == F.TIME else c.to_list()
        for name, c in zip(_SIGNAL_COLUMNS, columns, strict=True))
    origins = Origin.many(sources, paths, (r if type(r) is int else None for r in records))
    remote = _remote(columns[-1])
    out = []
    for i, (event_id, origin, time, host, user, family, principal, src_ip, dst_ip, app) in enumerate(
            zip(event_ids, origins, times, hosts, users, families, principals, src_ips, dst_ips, apps, strict=True)):
        entities = [Entity(kind, value) for value, kind in ((src_ip, "ip"), (dst_ip, "ip"), (app, "oauth_app"))
                    if value] if src_ip or dst_ip or app else []
        if i in remote:
            entities.extend(remote[i])
        if family == "cloudtrail" and principal:
            entities.append(Entity("cloud_principal", principal))
        out.append((event_id, origin, time if isinstance(time, datetime) else None, host, user, entities))
    return out


def _datetimes(column: pl.Series) -> list[datetime | None]:
    """A UTC microsecond column as Python datetimes, as ``to_list`` gives them, in half its time."""
    if column.dtype != pl.Datetime("us", "UTC"):
        return column.to_list()  # type: ignore[no-any-return]
    epoch, micro = _EPOCH, timedelta(microseconds=1)
    return [None if us is None else epoch + us * micro for us in column.cast(pl.Int64).to_list()]


def remote_hosts(command: str) -> list[Entity]:
    """The other computers a command line acts on (lateral movement links the two hosts)."""
    out: dict[Entity, None] = {}
    for match in _REMOTE_HOST.finditer(command):
        name = next(g for g in match.groups() if g).rstrip(".")
        if name.lower() in _NOT_REMOTE:
            continue
        out[Entity("ip", name) if _IPV4.match(name) else Entity("host", name)] = None
    return list(out)
