"""``normalize(RawBatch) -> [EventBatch]``: raw records to raw columns plus OCSF columns.

Each record is routed to its family by the reader's ``kind`` and by its shape (a JSON-lines file
may hold Windows events in any shipper's shape, CloudTrail records, or anything else).  A record
that flattens to nothing becomes a dead letter; the batch goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from autosoc.errors import Origin
from autosoc.normalize import cloudtrail, generic, syslog, windows
from autosoc.normalize import fields as F
from autosoc.normalize._exprs import NULL
from autosoc.normalize.base import Parser, parsers
from autosoc.normalize.columns import build_raw_frame
from autosoc.normalize.flatten import flatten_dotted, flatten_windows, looks_like_cloudtrail
from autosoc.schema import DeadLetter, EventBatch, RawBatch, RawColumns

WINDOWS = parsers.register("windows")(
    Parser("windows", flatten_windows, windows.ocsf_columns, windows.alias_columns))
CLOUDTRAIL = parsers.register("cloudtrail")(Parser("cloudtrail", flatten_dotted, cloudtrail.ocsf_columns))
SYSLOG = parsers.register("syslog")(Parser("syslog", flatten_dotted, syslog.ocsf_columns))
GENERIC = parsers.register("json")(Parser("json", flatten_dotted, generic.ocsf_columns, generic.alias_columns))


def _route(kind: str, record: dict[str, Any]) -> tuple[Parser, dict[str, Any]]:
    if kind == "cloudtrail":
        return CLOUDTRAIL, flatten_dotted(record)
    if kind == "syslog":
        return SYSLOG, flatten_dotted(record)
    flat = flatten_windows(record)
    if flat is not None:
        return WINDOWS, flat
    if looks_like_cloudtrail(record):
        return CLOUDTRAIL, flatten_dotted(record)
    return GENERIC, flatten_dotted(record)


def normalize(batch: RawBatch) -> list[EventBatch]:
    """One EventBatch per record family present in ``batch`` (usually exactly one)."""
    return normalize_many([batch])


def normalize_many(batches: Sequence[RawBatch], *, raw_json: bool = False) -> list[EventBatch]:
    """The records of several raw batches (of any files) normalized together, one EventBatch per family.

    Normalizing many small files at once pays the per-frame costs (column building, the OCSF
    expressions) once: the pipeline feeds whole groups of tailed files through here.  Rows keep
    their batch order; every row names its own file and record.  With ``raw_json`` the events
    also carry ``F.RAW``, each record's flattened fields as JSON text (for the event lake).  A
    batch the reader decoded to raw columns (``RawBatch.columns``) becomes an EventBatch of its own.
    """
    groups: dict[str, _Group] = {}
    dead: list[DeadLetter] = []
    out: list[EventBatch] = []
    for batch in batches:
        dead.extend(batch.dead_letters)
        if batch.columns is not None:  # decoded straight to raw columns by the reader
            out.append(_decoded(batch, batch.columns, raw_json))
            continue
        kind = batch.kind
        # this batch's rows per family, added to the families' groups once per batch
        taken: dict[str, tuple[Parser, list[dict[str, Any]], list[int]]] = {}
        for record, position in zip(batch.records, batch.positions, strict=True):
            parser, flat = _route(kind, record)
            if not flat:
                dead.append(DeadLetter(Origin(batch.source, batch.path, position), "normalize", "empty_record",
                                       "record has no fields"))
                continue
            rows = taken.get(parser.family)
            if rows is None:
                rows = taken[parser.family] = (parser, [], [])
            rows[1].append(flat)
            rows[2].append(position)
        for family, (parser, flats, positions) in taken.items():
            group = groups.get(family)
            if group is None:
                group = groups[family] = _Group(parser)
            group.extend(flats, positions, batch)
    out += [_frames(group, raw_json) for group in groups.values()]
    if not out:
        return [EventBatch(empty_events(), pl.DataFrame(), dead)] if dead else []
    out[0].dead_letters.extend(dead)
    return out


class _Group:
    """The rows of one family, with the file (run-length encoded) and record of each."""

    __slots__ = ("parser", "paths", "positions", "rows")

    def __init__(self, parser: Parser) -> None:
        self.parser = parser
        self.rows: list[dict[str, Any]] = []
        self.positions: list[int] = []
        self.paths: list[tuple[str, str, int]] = []  # (source, path, rows) runs

    def extend(self, flats: list[dict[str, Any]], positions: list[int], batch: RawBatch) -> None:
        """Rows of one raw batch, in its order."""
        self.rows += flats
        self.positions += positions
        if self.paths and self.paths[-1][1] == batch.path and self.paths[-1][0] == batch.source:
            source, path, count = self.paths[-1]
            self.paths[-1] = (source, path, count + len(flats))
        else:
            self.paths.append((batch.source, batch.path, len(flats)))

    def origin_columns(self) -> list[pl.Expr | pl.Series]:
        if len(self.paths) == 1:
            source, path, _ = self.paths[0]
            return [pl.lit(source).alias(F.ORIGIN_SOURCE), pl.lit(path).alias(F.ORIGIN_PATH)]
        sources, paths, counts = zip(*self.paths, strict=True)
        runs = pl.DataFrame({F.ORIGIN_SOURCE: sources, F.ORIGIN_PATH: paths, "n": counts},
                            schema={F.ORIGIN_SOURCE: pl.String, F.ORIGIN_PATH: pl.String, "n": pl.UInt32})
        expanded = runs.select(pl.col(F.ORIGIN_SOURCE, F.ORIGIN_PATH).repeat_by("n")).explode(
            [F.ORIGIN_SOURCE, F.ORIGIN_PATH])
        return [expanded.get_column(F.ORIGIN_SOURCE), expanded.get_column(F.ORIGIN_PATH)]


def _frames(group: _Group, raw_json: bool = False) -> EventBatch:
    raw, ids, texts = build_raw_frame(group.rows, keep_json=raw_json, keep_text=True)
    return _events(group.parser, raw, ids, texts, group.origin_columns(), group.positions)


def _decoded(batch: RawBatch, columns: RawColumns, raw_json: bool) -> EventBatch:
    if raw_json and columns.json is None:
        raise ValueError(f"{batch.path}: a batch decoded to columns without their JSON cannot give F.RAW; "
                         "read it with decode_windows_lines(keep_json=True) or as records")
    origin = [pl.lit(batch.source).alias(F.ORIGIN_SOURCE), pl.lit(batch.path).alias(F.ORIGIN_PATH)]
    return _events(parsers.get(columns.family), columns.frame, columns.ids, columns.json if raw_json else None,
                   origin, batch.positions)


def _events(parser: Parser, raw: pl.DataFrame, ids: pl.Series, texts: pl.Series | None,
            origin: list[pl.Expr | pl.Series], positions: list[int]) -> EventBatch:
    raw = _prepared(parser, raw)
    mapped = {col.name if isinstance(col, pl.Series) else col.meta.output_name(): col
              for col in parser.ocsf_columns(raw)}
    for name in F.OCSF_STRING_COLUMNS:
        mapped.setdefault(name, NULL.alias(name))
    events = raw.select(
        ids.alias(F.EVENT_ID),
        pl.lit(parser.family).alias(F.FAMILY),
        *origin,
        pl.Series(F.ORIGIN_RECORD, positions, dtype=pl.Int64),
        mapped[F.TIME], mapped[F.CLASS_UID], mapped[F.CATEGORY_UID],
        *(mapped[name] for name in F.OCSF_STRING_COLUMNS),
        *([texts.alias(F.RAW)] if texts is not None else []),
    )
    return EventBatch(events, raw)


def _prepared(parser: Parser, raw: pl.DataFrame) -> pl.DataFrame:
    """``parser.prepare(raw)``, with what it wrote also in the keyword text: the values it added
    or filled in (a prepare never changes a value that is there), appended to the text of their
    rows only (the text is most of a batch's bytes: a pass over all of it cost more than the rest)."""
    nulls = {name: raw.get_column(name).null_count() for name in raw.columns}
    prepared = parser.prepare(raw)
    written = [name for name in prepared.columns if not name.startswith("__")
               and nulls.get(name) != prepared.get_column(name).null_count()]
    if not written or F.KEYWORD_TEXT not in prepared.columns:
        return prepared
    filled = [prepared.get_column(name).is_not_null() & (raw.get_column(name).is_null() if name in nulls else True)
              for name in written]
    rows = pl.select(pl.any_horizontal(filled)).to_series().arg_true()
    text = prepared.get_column(F.KEYWORD_TEXT)
    part = pl.DataFrame([text.gather(rows), *(prepared.get_column(name).gather(rows).alias(f"v{i}")
                                              for i, name in enumerate(written)),
                         *(flags.gather(rows).alias(f"f{i}") for i, flags in enumerate(filled))])
    added = part.select(pl.concat_str([pl.col(F.KEYWORD_TEXT), *(pl.when(f"f{i}").then(f"v{i}")
                                                                 for i in range(len(written)))],
                                      separator="\n", ignore_nulls=True)).to_series()
    return prepared.with_columns(text.scatter(rows, added))


def empty_events() -> pl.DataFrame:
    schema: dict[str, Any] = {F.EVENT_ID: pl.String, F.FAMILY: pl.String, F.ORIGIN_SOURCE: pl.String,
                              F.ORIGIN_PATH: pl.String, F.ORIGIN_RECORD: pl.Int64,
                              F.TIME: pl.Datetime("us", "UTC"), F.CLASS_UID: pl.Int32, F.CATEGORY_UID: pl.Int32}
    schema.update(dict.fromkeys(F.OCSF_STRING_COLUMNS, pl.String))
    return pl.DataFrame(schema=schema)
