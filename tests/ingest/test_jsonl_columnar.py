"""The JSON-lines reader's columnar path: batches the decoder takes become raw columns, the others
are read line by line as before, and normalization makes the same events of both.

The reader's side is tested here with a stand-in decoder (the reference: orjson, the Python
flattening and the frame builder), so that line numbers, blank lines, fallbacks and truncated
gzip streams are checked whatever the C decoder accepts; ``tests/normalize/test_decode.py`` checks
the C decoder against the same reference.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from autosoc.ingest import jsonl
from autosoc.ingest.files import read_files
from autosoc.normalize import columns, decode, flatten, normalize
from autosoc.normalize import fields as F
from autosoc.schema import EventBatch, RawBatch

_columns = pytest.importorskip("autosoc.normalize._columns", reason="the C frame builder is not built")


class _Reference:
    """``_decode.windows_lines`` done the slow way: None unless every line is a nested Windows event."""

    def __init__(self) -> None:
        self.calls = 0

    def windows_lines(self, lines: list[bytes], keep_json: bool, keep_text: bool) -> Any:
        self.calls += 1
        rows = []
        for line in lines:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                return None
            if type(record) is not dict or type(record.get("Event")) is not dict:
                return None
            flat = flatten._py_flatten_windows(record)
            if not flat:
                return None
            rows.append(flat)
        return _columns.build(rows, keep_json, columns._other_forms, keep_text)

    @staticmethod
    def newlines(buffer: bytearray, start: int, end: int) -> int:
        return buffer.count(b"\n", start, end)

    def windows_block(self, buffer: bytearray, length: int, max_lines: int, final: bool, keep_json: bool,
                      keep_text: bool) -> Any:
        """The C function's splitting (tested against it in tests/normalize/test_decode.py) in Python."""
        assert length < len(buffer), "no byte after the data"
        data, lines, used = bytes(buffer[:length]), [], 0
        while len(lines) < max_lines and used < length:
            newline = data.find(b"\n", used)
            if newline < 0 and not final:
                break
            end = length if newline < 0 else newline + 1
            lines.append(data[used:end])
            used = end
        skipped = [i for i, line in enumerate(lines) if line.isspace()] or None
        kept = [line for line in lines if not line.isspace()]
        return used, len(lines), skipped, self.windows_lines(kept, keep_json, keep_text) if kept else None


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch) -> _Reference:
    stand_in = _Reference()
    monkeypatch.setattr(decode, "_native", stand_in)
    monkeypatch.setattr(decode, "NATIVE", True)
    return stand_in


def _event(i: int) -> bytes:
    return orjson.dumps({"Event": {"System": {
        "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 1, "Channel": "Sysmon",
        "Computer": f"ws-{i % 7}", "TimeCreated": {"#attributes": {"SystemTime": "2026-01-01T00:00:00Z"}}},
        "EventData": {"Image": f"C:\\Windows\\p{i}.exe", "CommandLine": f"p{i} -x \"é\"", "ProcessId": i}}})


def _read(path: Path, batch_size: int, columnar: bool) -> list[RawBatch]:
    return list(read_files([path], batch_size=batch_size, columnar=columnar))


def _events(batches: list[RawBatch]) -> tuple[pl.DataFrame, pl.DataFrame, list[tuple[Any, ...]]]:
    out: list[EventBatch] = [b for raw in batches for b in normalize(raw)]
    dead = [(d.origin.record, d.code) for raw in batches for d in raw.dead_letters]
    events = [b for b in out if len(b)]
    return (pl.concat([b.events for b in events]), pl.concat([b.raw for b in events], how="diagonal"), dead)


def test_columnar_batches_hold_the_same_events_as_records(tmp_path: Path, reference: _Reference) -> None:
    lines = [_event(i) for i in range(25)]
    lines[3] = b"   "  # blank lines are skipped and still counted
    lines[17] = b""
    path = tmp_path / "sysmon.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    columnar = _read(path, 10, True)
    plain = _read(path, 10, False)
    assert all(b.columns is not None and not b.records for b in columnar)
    assert reference.calls == 3
    assert [p for b in columnar for p in b.positions] == [p for b in plain for p in b.positions]
    assert 4 not in [p for b in columnar for p in b.positions]
    assert sum(len(b) for b in columnar) == 23
    new, old = _events(columnar), _events(plain)
    assert new[0].equals(old[0]) and new[1].equals(old[1]) and new[2] == old[2] == []


def test_a_batch_the_decoder_declines_is_read_line_by_line(tmp_path: Path, reference: _Reference) -> None:
    lines = [_event(i) for i in range(30)]
    lines[12] = b'{"Event": {"System": '  # broken: its batch (lines 11-20) goes the usual way
    lines[25] = b'{"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "awsRegion": "x"}'
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    batches = _read(path, 10, True)
    assert [b.columns is not None for b in batches] == [True, False, False]
    assert [(d.origin.record, d.code) for d in batches[1].dead_letters] == [(13, "invalid_json")]
    new, old = _events(batches), _events(_read(path, 10, False))
    assert new[2] == old[2] == [(13, "invalid_json")]
    key = [F.ORIGIN_RECORD]
    assert new[0].sort(key).equals(old[0].sort(key))


def test_a_truncated_gzip_stream_keeps_the_lines_before_the_break(tmp_path: Path, reference: _Reference) -> None:
    data = gzip.compress(b"\n".join(_event(i) for i in range(2000)) + b"\n")
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    columnar, plain = _read(path, 500, True), _read(path, 500, False)
    assert sum(len(b) for b in columnar) == sum(len(b) for b in plain) > 500
    assert [d.code for b in columnar for d in b.dead_letters] == ["truncated_gzip"]
    assert ([(d.origin.record, d.origin.offset) for b in columnar for d in b.dead_letters]
            == [(d.origin.record, d.origin.offset) for b in plain for d in b.dead_letters])
    assert _events(columnar)[0].equals(_events(plain)[0])


def test_a_file_of_exactly_whole_batches(tmp_path: Path, reference: _Reference) -> None:
    path = tmp_path / "even.jsonl"
    path.write_bytes(b"\n".join(_event(i) for i in range(20)) + b"\n")
    batches = _read(path, 10, True)
    assert [len(b) for b in batches] == [10, 10]
    assert batches[1].positions == list(range(11, 21))
    # progress counts the lines of the batches, not what was read ahead
    assert batches[0].bytes_read == sum(len(_event(i)) + 1 for i in range(10))
    assert batches[1].bytes_read == path.stat().st_size


def test_without_the_decoder_the_reader_yields_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decode, "NATIVE", False)
    path = tmp_path / "sysmon.jsonl"
    path.write_bytes(b"\n".join(_event(i) for i in range(5)) + b"\n")
    batches = _read(path, 10, True)
    assert [len(b.records) for b in batches] == [5] and batches[0].columns is None


@pytest.mark.parametrize("block", [64, 1000, 1 << 22])
def test_lines_across_read_blocks(tmp_path: Path, reference: _Reference, monkeypatch: pytest.MonkeyPatch,
                                  block: int) -> None:
    """A plain file is read a block at a time: lines longer than a block, lines cut by a block's
    end, CRLF, blank lines and a last line without a newline come out as the line-by-line reader
    has them."""
    monkeypatch.setattr(jsonl, "READ_BLOCK", block)
    lines = [_event(i) + (b"\r" if i % 4 == 0 else b"") for i in range(57)]
    lines[8] = b"\t "
    lines[30] = b""
    path = tmp_path / "blocks.jsonl"
    path.write_bytes(b"\n".join(lines))  # no newline at the end
    columnar, plain = _read(path, 10, True), _read(path, 10, False)
    assert all(b.columns is not None for b in columnar)
    assert [len(b) for b in columnar] == [9, 10, 10, 9, 10, 7]  # 10 lines a batch, blank ones not records
    assert [p for b in columnar for p in b.positions] == [p for b in plain for p in b.positions]
    assert [b.bytes_read for b in columnar][-1] == path.stat().st_size
    new, old = _events(columnar), _events(plain)
    assert new[0].equals(old[0]) and new[1].equals(old[1])


def test_a_declined_batch_after_a_block_is_cut(tmp_path: Path, reference: _Reference,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl, "READ_BLOCK", 200)
    lines = [_event(i) for i in range(25)]
    lines[14] = b"[1, 2"  # its batch (lines 11-20) is declined and read line by line
    path = tmp_path / "declined.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    batches = _read(path, 10, True)
    assert [b.columns is not None for b in batches] == [True, False, True]
    assert [(d.origin.record, d.code) for d in batches[1].dead_letters] == [(15, "invalid_json")]
    assert [p for b in batches for p in b.positions] == [p for b in _read(path, 10, False) for p in b.positions]
    assert [b.bytes_read for b in batches] == [sum(len(line) + 1 for line in lines[:n]) for n in (10, 20, 25)]
