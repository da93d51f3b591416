"""The EVTX reader on the SigmaHQ regression samples, and on damaged copies of them.

What the ``evtx`` package does with damage (asserted here so an upgrade that changes it shows):
a bad record or chunk raises ``RuntimeError`` from ``next()`` and iteration goes on; an
incomplete last chunk is skipped silently (the reader then salvages it itself); an unreadable
file header fails in the constructor.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import evtx
import pytest

from autosoc.ingest.base import readers
from autosoc.ingest.evtx import CHUNK_SIZE, HEADER_SIZE, EvtxReader
from autosoc.ingest.files import detect_reader, read_files
from autosoc.ingest.jsonl import JsonReader
from autosoc.schema import RawBatch
from tests.ingest.batches import collect


def read(path: Path, batch_size: int = 5000) -> list[RawBatch]:
    return list(EvtxReader().read(path, batch_size=batch_size))


def json_twin(path: Path) -> Path:
    return path.with_suffix(".json")


def json_events(path: Path) -> list[dict[str, Any]]:
    return [r for b in JsonReader().read(path) for r in b.records]


@pytest.fixture(scope="module")
def seven(regression_dir: Path) -> Path:
    """The regression EVTX with the most records (7, one chunk)."""
    return max(sorted(regression_dir.rglob("*.evtx")), key=lambda p: len(json_events(json_twin(p))))


@pytest.fixture(scope="module")
def other(regression_dir: Path, seven: Path) -> Path:
    """A second multi-record sample, for a two-chunk file."""
    counts = {p: len(json_events(json_twin(p))) for p in sorted(regression_dir.rglob("*.evtx")) if p != seven}
    return max(counts, key=lambda p: counts[p])


def record_offsets(data: bytes) -> list[int]:
    """File offsets of the records of the first chunk, following the record sizes."""
    offsets, pos = [], HEADER_SIZE + 512
    while data[pos : pos + 4] == b"**\x00\x00":
        offsets.append(pos)
        pos += struct.unpack_from("<I", data, pos + 4)[0]
    return offsets


def with_chunks(header: bytes, *chunks: bytes) -> bytes:
    """An EVTX file of the given chunks, the header's chunk count and checksum fixed."""
    head = bytearray(header[:HEADER_SIZE])
    struct.pack_into("<Q", head, 16, len(chunks) - 1)
    struct.pack_into("<H", head, 42, len(chunks))
    struct.pack_into("<I", head, 124, zlib.crc32(head[:120]))
    return bytes(head) + b"".join(chunks)


def test_registered() -> None:
    assert readers.get("evtx") is EvtxReader
    assert EvtxReader.kind == "windows" and ".evtx" in EvtxReader.suffixes


def header_record_ids(path: Path) -> list[int]:
    return [r["event_record_id"] for r in evtx.PyEvtxParser(str(path)).records_json()]


def test_real_sample(sample_evtx: Path) -> None:
    batches = read(sample_evtx)
    records, positions, dead = collect(batches)
    assert dead == []
    exported = json_events(json_twin(sample_evtx))
    assert len(records) == len(exported) >= 1
    # Positions are the record ids of the EVTX record headers.  The regression samples were
    # re-packed, so those run 1..n while System.EventRecordID inside the event keeps the id of
    # the original log -- the value the JSON export shows.
    assert positions == header_record_ids(sample_evtx) == list(range(1, len(records) + 1))
    assert [r["Event"]["System"]["EventRecordID"] for r in records] == [
        r["Event"]["System"]["EventRecordID"] for r in exported
    ]
    assert all(set(r) == {"Event"} for r in records)
    assert batches[-1].bytes_read == sample_evtx.stat().st_size
    assert all(b.source == "evtx" and b.kind == "windows" and b.path == str(sample_evtx) for b in batches)


def test_same_event_data_as_the_json_export(sample_evtx: Path, sample_json: Path) -> None:
    assert json_twin(sample_evtx) == sample_json
    from_evtx = [r["Event"]["EventData"] for r in collect(read(sample_evtx))[0]]
    from_json = [r["Event"]["EventData"] for r in json_events(sample_json)]
    assert from_evtx == from_json


def _loose(data: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v.strip().lower() if isinstance(v, str) else v for k, v in (data or {}).items()}


def test_every_regression_case(regression_dir: Path) -> None:
    """Counts and EventRecordIDs match the JSON exports; EventData matches up to the trailing
    blanks and letter case the exports changed in a few cases."""
    cases = sorted(regression_dir.rglob("*.evtx"))
    assert len(cases) == 202
    for path in cases:
        records, positions, dead = collect(read(path))
        exported = json_events(json_twin(path))
        assert dead == [], path
        assert len(records) == len(exported), path
        assert positions == header_record_ids(path), path
        assert [r["Event"]["System"]["EventRecordID"] for r in records] == [
            r["Event"]["System"]["EventRecordID"] for r in exported
        ], path
        assert [_loose(r["Event"].get("EventData")) for r in records] == [
            _loose(r["Event"].get("EventData")) for r in exported
        ], path


def test_batch_size(seven: Path) -> None:
    batches = read(seven, batch_size=3)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [p for b in batches for p in b.positions] == list(range(1, 8))
    assert [b.bytes_read for b in batches] == sorted(b.bytes_read for b in batches)
    assert batches[-1].bytes_read == seven.stat().st_size


def test_package_behaviour_on_a_bad_record(seven: Path, tmp_path: Path) -> None:
    """The reason the reader catches RuntimeError per record: the iterator survives it."""
    data = bytearray(seven.read_bytes())
    third = record_offsets(bytes(data))[2]
    for i in range(third + 34, third + 84):
        data[i] ^= 0x5A
    path = tmp_path / "flipped.evtx"
    path.write_bytes(bytes(data))
    it = evtx.PyEvtxParser(str(path)).records_json()
    ids, errors = [], []
    while True:
        try:
            ids.append(next(it)["event_record_id"])
        except StopIteration:
            break
        except RuntimeError as exc:
            errors.append(str(exc))
    assert ids == [1, 2, 4, 5, 6, 7]
    assert len(errors) == 1 and "record number 3" in errors[0]


def test_byte_flipped_record(seven: Path, tmp_path: Path) -> None:
    data = bytearray(seven.read_bytes())
    third = record_offsets(bytes(data))[2]
    for i in range(third + 34, third + 84):
        data[i] ^= 0x5A
    path = tmp_path / "flipped.evtx"
    path.write_bytes(bytes(data))
    records, positions, dead = collect(read(path))
    assert positions == [1, 2, 4, 5, 6, 7]
    assert len(records) == 6
    assert [(d.code, d.origin.record) for d in dead] == [("bad_evtx_record", 3)]
    assert dead[0].origin.path == str(path) and dead[0].origin.source == "evtx"
    assert "record number 3" in dead[0].message


def test_broken_record_header_loses_the_rest_of_its_chunk(seven: Path, other: Path, tmp_path: Path) -> None:
    first, second = seven.read_bytes(), other.read_bytes()
    blob = bytearray(
        with_chunks(
            first,
            first[HEADER_SIZE : HEADER_SIZE + CHUNK_SIZE],
            second[HEADER_SIZE : HEADER_SIZE + CHUNK_SIZE],
        )
    )
    blob[record_offsets(first)[2]] ^= 0xFF  # the magic of record 3
    path = tmp_path / "two.evtx"
    path.write_bytes(bytes(blob))
    _, positions, dead = collect(read(path))
    n_other = len(json_events(json_twin(other)))
    assert positions == [1, 2, *range(1, n_other + 1)]
    assert [d.code for d in dead] == ["bad_evtx_record"]
    assert "record header magic" in dead[0].message


def test_bad_chunk_then_good_chunk(seven: Path, other: Path, tmp_path: Path) -> None:
    first, second = seven.read_bytes(), other.read_bytes()
    blob = bytearray(
        with_chunks(
            first,
            first[HEADER_SIZE : HEADER_SIZE + CHUNK_SIZE],
            second[HEADER_SIZE : HEADER_SIZE + CHUNK_SIZE],
        )
    )
    blob[HEADER_SIZE] ^= 0xFF  # the magic of chunk 0
    path = tmp_path / "badchunk.evtx"
    path.write_bytes(bytes(blob))
    _, positions, dead = collect(read(path))
    assert positions == list(range(1, len(json_events(json_twin(other))) + 1))
    assert [(d.code, d.origin.offset) for d in dead] == [("bad_evtx_record", HEADER_SIZE)]
    assert "chunk number 0" in dead[0].message


def test_truncated_inside_a_record(seven: Path, tmp_path: Path) -> None:
    data = seven.read_bytes()
    fourth = record_offsets(data)[3]
    path = tmp_path / "cut.evtx"
    path.write_bytes(data[: fourth + 100])
    # the package alone drops the incomplete chunk without a word
    assert list(evtx.PyEvtxParser(str(path)).records_json()) == []
    records, positions, dead = collect(read(path))
    assert positions == [1, 2, 3]
    assert records == collect(read(seven))[0][:3]
    assert [(d.code, d.origin.record, d.origin.offset) for d in dead] == [("bad_evtx_record", 4, HEADER_SIZE)]
    assert dead[0].origin.path == str(path)
    assert "truncated" in dead[0].message and "record 4 is cut short" in dead[0].message


def test_truncated_inside_the_chunk_header(seven: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.evtx"
    path.write_bytes(seven.read_bytes()[: HEADER_SIZE + 300])
    records, _, dead = collect(read(path))
    assert records == []
    assert [(d.code, d.origin.offset) for d in dead] == [("bad_evtx_record", HEADER_SIZE)]
    assert "no record in it could be read" in dead[0].message


def test_truncated_file_header(sample_evtx: Path, tmp_path: Path) -> None:
    path = tmp_path / "stub.evtx"
    path.write_bytes(sample_evtx.read_bytes()[:100])
    batches = read(path)
    assert [len(b) for b in batches] == [0]
    [letter] = batches[0].dead_letters
    assert letter.code == "bad_evtx_file" and letter.origin.path == str(path)
    assert "header" in letter.message


def test_not_evtx_bytes_named_evtx(tmp_path: Path) -> None:
    path = tmp_path / "fake.evtx"
    path.write_bytes(b"this is a text file, not an event log\n" * 200)
    assert detect_reader(path) is EvtxReader
    batches = list(read_files([path]))
    [letter] = [d for b in batches for d in b.dead_letters]
    assert sum(len(b) for b in batches) == 0
    assert letter.code == "bad_evtx_file" and letter.origin.path == str(path)
    assert "not an EVTX file" in letter.message
    assert letter.raw.startswith("this is a text file")


def test_bad_file_magic(sample_evtx: Path, tmp_path: Path) -> None:
    data = bytearray(sample_evtx.read_bytes())
    data[0] ^= 0xFF
    path = tmp_path / "magic.evtx"
    path.write_bytes(bytes(data))
    [letter] = collect(read(path))[2]
    assert letter.code == "bad_evtx_file" and "magic" in letter.message


def test_magic_detected_without_suffix(sample_evtx: Path, tmp_path: Path) -> None:
    path = tmp_path / "security_log"
    path.write_bytes(sample_evtx.read_bytes())
    assert detect_reader(path) is EvtxReader


def _events_of(batches: list[RawBatch]) -> tuple[list[Any], list[Any], list[tuple[Any, ...]]]:
    from autosoc.normalize import normalize

    out = [b for raw in batches for b in normalize(raw) if len(b)]
    dead = [(d.code, d.origin.record, d.origin.offset) for raw in batches for d in raw.dead_letters]
    return [b.events.rows() for b in out], [b.raw.to_dicts() for b in out], dead


def test_columnar_batches_hold_the_same_events(regression_dir: Path, seven: Path, other: Path,
                                               tmp_path: Path) -> None:
    """Read with ``columnar`` (the C decoder on the records' JSON), an EVTX file gives the same
    events, raw fields and dead letters as read record by record: whole samples, two chunks with
    a broken one between, a file cut inside a record (the salvaged tail), batch boundaries."""
    from autosoc.normalize import decode

    if not decode.NATIVE:
        pytest.skip("the C decoder (autosoc.normalize._decode) is not built")
    data, more = seven.read_bytes(), other.read_bytes()
    chunk = data[HEADER_SIZE:HEADER_SIZE + CHUNK_SIZE]
    broken = bytearray(more[HEADER_SIZE:HEADER_SIZE + CHUNK_SIZE])
    broken[600:640] = b"\xff" * 40
    (tmp_path / "two.evtx").write_bytes(with_chunks(data, chunk, bytes(broken), chunk))
    (tmp_path / "cut.evtx").write_bytes(data[: record_offsets(data)[3] + 100])
    samples = [*sorted(regression_dir.rglob("*.evtx"))[:30], tmp_path / "two.evtx", tmp_path / "cut.evtx"]
    decoded = 0
    for path in samples:
        for size in (3, 5000):
            columnar = list(EvtxReader().read(path, batch_size=size, columnar=True))
            decoded += sum(b.columns is not None for b in columnar)
            assert _events_of(columnar) == _events_of(read(path, size)), path
    assert decoded > 30
