"""Event batches for the lake tests, shaped as normalization makes them (events + raw string columns)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from autosoc.normalize import fields as F
from autosoc.normalize import normalize
from autosoc.normalize.parser import empty_events
from autosoc.schema import EventBatch, RawBatch


def make_batch(rows: list[dict[str, Any]], raw: list[dict[str, str | None]] | None = None,
               time_zone: str | None = "UTC") -> EventBatch:
    """``rows`` give event_id, source, time (and optionally host); the other columns are null."""
    schema = empty_events().schema
    data = {name: [row.get(name) for row in rows] for name in (F.EVENT_ID, F.ORIGIN_SOURCE, F.TIME, F.HOST)}
    events = pl.DataFrame({
        F.EVENT_ID: data[F.EVENT_ID],
        F.FAMILY: ["json"] * len(rows),
        F.ORIGIN_SOURCE: data[F.ORIGIN_SOURCE],
        F.ORIGIN_PATH: [f"/logs/{row[F.ORIGIN_SOURCE]}.log" for row in rows],
        F.ORIGIN_RECORD: list(range(1, len(rows) + 1)),
        F.TIME: pl.Series(data[F.TIME], dtype=pl.Datetime("us", time_zone)),
        F.CLASS_UID: pl.Series([None] * len(rows), dtype=pl.Int32),
        F.CATEGORY_UID: pl.Series([None] * len(rows), dtype=pl.Int32),
        **{name: pl.Series([row.get(name) for row in rows], dtype=pl.String) for name in F.OCSF_STRING_COLUMNS},
    }, schema_overrides={name: dtype for name, dtype in schema.items() if name != F.TIME})
    names: dict[str, None] = {}
    for record in raw or []:
        names.update(dict.fromkeys(record))
    raw_frame = (pl.DataFrame(raw, schema=dict.fromkeys(names, pl.String)) if raw else pl.DataFrame())
    return EventBatch(events, raw_frame)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def regression_batches(regression_dir: Path, files: int = 40) -> list[EventBatch]:
    """Real Windows events: the SigmaHQ regression samples (evtx-JSON documents), normalized."""
    batches: list[EventBatch] = []
    decoder = json.JSONDecoder()
    for path in sorted(regression_dir.rglob("*.json"))[:files]:
        text, position, documents = path.read_text(encoding="utf-8"), 0, []
        while True:
            while position < len(text) and text[position].isspace():
                position += 1
            if position >= len(text):
                break
            document, position = decoder.raw_decode(text, position)
            documents.append(document)
        batches += normalize(RawBatch("jsonl", str(path), "json", documents, list(range(1, len(documents) + 1))))
    return batches
