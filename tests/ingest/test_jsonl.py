"""The JSON reader: JSON lines, single documents, concatenated pretty documents, arrays, bad input."""

from __future__ import annotations

import gzip
import io
import json
import random
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from autosoc.ingest.base import readers
from autosoc.ingest.cloudtrail import CloudTrailReader
from autosoc.ingest.jsonl import JsonReader, is_json_lines, split_json
from autosoc.schema import RawBatch
from tests.ingest.batches import collect


def read(path: Path, batch_size: int = 5000) -> list[RawBatch]:
    return list(JsonReader().read(path, batch_size=batch_size))


def reference_documents(path: Path) -> list[tuple[int, Any]]:
    """(start line, value) of each JSON document in the file, with the stdlib decoder."""
    text = path.read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    i, out = 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        line = text.count("\n", 0, i) + 1
        value, i = decoder.raw_decode(text, i)
        out.append((line, value))


def concatenated_files(regression_dir: Path) -> list[Path]:
    """The regression .json files that hold several pretty-printed documents one after another."""
    return [p for p in sorted(regression_dir.rglob("*.json")) if p.read_bytes().count(b"\n{") >= 1]


def test_registered() -> None:
    assert readers.get("jsonl") is JsonReader
    assert JsonReader.kind == "json"


def test_real_sample(sample_json: Path) -> None:
    batches = read(sample_json)
    records, positions, dead = collect(batches)
    expected = reference_documents(sample_json)
    assert dead == []
    assert records == [value for _, value in expected]
    assert positions == [line for line, _ in expected]
    assert all(b.source == "jsonl" and b.kind == "json" and b.path == str(sample_json) for b in batches)
    assert batches[-1].bytes_read == sample_json.stat().st_size


def test_concatenated_documents_yield_all_with_start_lines(regression_dir: Path) -> None:
    files = concatenated_files(regression_dir)
    assert len(files) == 13, [str(p) for p in files]
    for path in files:
        records, positions, dead = collect(read(path))
        expected = reference_documents(path)
        assert len(expected) > 1
        assert dead == [], path
        assert positions == [line for line, _ in expected], path
        assert records == [value for _, value in expected], path
        assert all("Event" in r for r in records)


def test_every_regression_json_file(regression_dir: Path) -> None:
    for path in sorted(regression_dir.rglob("*.json")):
        records, positions, dead = collect(read(path))
        assert dead == [], path
        assert [(p, r) for p, r in zip(positions, records, strict=True)] == reference_documents(path)


def test_gzip_gives_the_same_records(regression_dir: Path, tmp_path: Path) -> None:
    path = concatenated_files(regression_dir)[0]
    gz = tmp_path / (path.name + ".gz")
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert JsonReader.sniff(gzip.decompress(gz.read_bytes())[:65536], gz) > 0
    plain = collect(read(path))
    packed_batches = read(gz)
    assert collect(packed_batches) == (plain[0], plain[1], [])
    assert packed_batches[-1].bytes_read == gz.stat().st_size


def _event(i: int) -> dict[str, Any]:
    return {
        "EventID": 4624,
        "Channel": "Security",
        "Computer": f"host{i % 7}",
        "TargetUserName": f"user{i}",
        "IpAddress": "10.0.0.1",
        "LogonType": 3,
        "TimeCreated": "2024-05-01T10:11:12Z",
    }


def _lines_file(path: Path, n: int) -> Path:
    path.write_bytes(b"".join(orjson.dumps(_event(i)) + b"\n" for i in range(n)))
    return path


def test_batch_size_is_respected(tmp_path: Path) -> None:
    path = _lines_file(tmp_path / "events.jsonl", 12_000)
    batches = read(path, batch_size=5000)
    assert [len(b) for b in batches] == [5000, 5000, 2000]
    assert [len(b.positions) for b in batches] == [5000, 5000, 2000]
    assert batches[1].positions[0] == 5001 and batches[2].positions[-1] == 12_000
    assert batches[0].bytes_read <= batches[1].bytes_read <= batches[2].bytes_read == path.stat().st_size
    assert batches[2].records[-1]["TargetUserName"] == "user11999"


def test_batch_size_on_a_streamed_top_level_array(tmp_path: Path) -> None:
    path = tmp_path / "array.json"
    path.write_bytes(orjson.dumps([_event(i) for i in range(12_000)], option=orjson.OPT_INDENT_2))
    batches = read(path, batch_size=5000)
    assert [len(b) for b in batches] == [5000, 5000, 2000]
    records, positions, dead = collect(batches)
    assert dead == []
    assert records[0] == _event(0) and records[-1] == _event(11_999)
    assert positions[:2] == [2, 11]  # each element starts on its own line; 9 lines per element


def test_malformed_line_between_good_lines(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"n": 1}\n{"n": 2, "broken": \n\n{"n": 3}\n{"n": "\xff\xfe"}\n42\n[{"n": 4}, "x"]\n{"n": 5}'
    )
    records, positions, dead = collect(read(path))
    assert records == [{"n": 1}, {"n": 3}, {"n": 4}, {"n": 5}]
    assert positions == [1, 4, 7, 8]
    assert [(d.code, d.origin.record) for d in dead] == [
        ("invalid_json", 2),
        ("undecodable_bytes", 5),
        ("not_an_object", 6),
        ("not_an_object", 7),
    ]
    assert all(
        d.origin.path == str(path) and d.origin.source == "jsonl" and d.stage == "ingest" for d in dead
    )
    assert "invalid JSON" in dead[0].message and dead[0].raw == '{"n": 2, "broken": '
    assert dead[0].origin.offset == len(b'{"n": 1}\n')
    assert "UTF-8" in dead[1].message and "\ufffd" in dead[1].raw
    assert "number" in dead[2].message and "not an object" in dead[2].message
    assert "element 2" in dead[3].message and "string" in dead[3].message


def test_bad_first_line_still_reads_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad_first.jsonl"
    path.write_bytes(b'{"a": \n{"b": 1}\n{"c": 2}\n')
    records, positions, dead = collect(read(path))
    assert records == [{"b": 1}, {"c": 2}] and positions == [2, 3]
    assert [(d.code, d.origin.record) for d in dead] == [("invalid_json", 1)]


def test_broken_document_among_pretty_documents(tmp_path: Path) -> None:
    good = json.dumps({"Event": {"EventData": {"Image": "C:\\a.exe", "Braces": "{[}]"}}}, indent=2)
    path = tmp_path / "docs.json"
    path.write_text(
        good + "\n" + '{\n  "Event": {\n    "x": "unterminated\n  }\n}\n' + good + "\n" + "hello\n" + good
    )
    n = good.count("\n") + 1
    records, positions, dead = collect(read(path))
    assert records == [json.loads(good)] * 3
    assert positions == [1, n + 6, 2 * n + 7]
    assert [(d.code, d.origin.record) for d in dead] == [("invalid_json", n + 1), ("invalid_json", 2 * n + 6)]
    assert "not closed" in dead[0].message
    assert dead[1].raw == "hello"


def test_truncated_document_at_end_of_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text('{\n  "a": 1\n}\n{\n  "b": [1,\n')
    records, positions, dead = collect(read(path))
    assert records == [{"a": 1}] and positions == [1]
    assert [(d.code, d.origin.record) for d in dead] == [("invalid_json", 4)]
    assert "ends inside" in dead[0].message


def test_single_documents_and_arrays(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"a": {"b": 1}}, indent=4))
    assert collect(read(one))[:2] == ([{"a": {"b": 1}}], [1])
    compact = tmp_path / "compact.json"
    compact.write_text('[{"a": 1}, {"a": 2}, 3]\n')
    records, positions, dead = collect(read(compact))
    assert records == [{"a": 1}, {"a": 2}] and positions == [1, 1]
    assert [(d.code, d.origin.record) for d in dead] == [("not_an_object", 1)]
    pretty = tmp_path / "pretty.json"
    pretty.write_text('[\n  {"a": 1},\n  "x",\n  {\n    "a": 2\n  }\n]\n')
    records, positions, dead = collect(read(pretty))
    assert records == [{"a": 1}, {"a": 2}] and positions == [2, 4]
    assert [(d.code, d.origin.record) for d in dead] == [("not_an_object", 3)]
    assert "element 2 of the top-level array" in dead[0].message


def test_byte_order_mark_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n   \n{"a": 2}\n')
    assert collect(read(path)) == ([{"a": 1}, {"a": 2}], [1, 4], [])
    pretty = tmp_path / "bom.json"
    pretty.write_bytes(b'\xef\xbb\xbf{\n "a": 1\n}\n')
    assert collect(read(pretty)) == ([{"a": 1}], [1], [])


def test_truncated_gzip_stops_cleanly(tmp_path: Path) -> None:
    plain = _lines_file(tmp_path / "events.jsonl", 12_000)
    packed = gzip.compress(plain.read_bytes())
    gz = tmp_path / "events.jsonl.gz"
    gz.write_bytes(packed[: len(packed) // 2])
    batches = read(gz, batch_size=5000)
    records, positions, dead = collect(batches)
    assert 0 < len(records) < 12_000
    assert positions == list(range(1, len(records) + 1))
    assert [d.code for d in dead] == ["truncated_gzip"]
    assert dead[0].origin.path == str(gz) and dead[0].origin.record == len(records) + 1
    assert "truncated" in dead[0].message
    assert batches[-1].dead_letters == dead


def test_truncated_gzip_of_pretty_documents(regression_dir: Path, tmp_path: Path) -> None:
    path = concatenated_files(regression_dir)[0]
    packed = gzip.compress(path.read_bytes())
    gz = tmp_path / "docs.json.gz"
    gz.write_bytes(packed[: len(packed) - 40])
    records, _, dead = collect(read(gz))
    assert len(records) < len(reference_documents(path))
    assert [d.code for d in dead] == ["truncated_gzip"]


def test_split_json_is_independent_of_block_size(regression_dir: Path) -> None:
    for path in concatenated_files(regression_dir)[:3]:
        data = path.read_bytes() + b'\n[{"a": "]}"},\n 7, {"b": [1, {"c": 2}]}]\n  "tail"\n'
        whole = list(split_json(io.BytesIO(data)))
        assert list(split_json(io.BytesIO(data), chunk_size=5)) == whole
        assert [p.element for p in whole[-4:]] == [True, True, True, False]


def test_layout_decision() -> None:
    assert is_json_lines(b'{"a": 1}\n{"a": 2}\n')
    assert is_json_lines(b'[{"a": 1}]\n')
    assert not is_json_lines(b'{\n  "a": 1\n}\n')
    assert not is_json_lines(b'[\n  {"a": 1}\n]\n')
    assert not is_json_lines(b'{"a": 1,\n "b": 2}\n')
    assert is_json_lines(b'{"a": \n{"b": 1}\n')
    assert is_json_lines(b"")


def test_sniff(tmp_path: Path) -> None:
    assert JsonReader.sniff(b'{"a": 1}\n', tmp_path / "x.jsonl") > JsonReader.sniff(
        b'{"a": 1}\n', tmp_path / "x"
    )
    assert JsonReader.sniff(b"  [\n", tmp_path / "x.ndjson.gz") > 0
    assert JsonReader.sniff(b"id: 1\n", tmp_path / "info.yml") == 0
    assert JsonReader.sniff(b"\x00\x01{", tmp_path / "blob") == 0
    trail = b'{"Records": [{"eventVersion": "1.08"}]}'
    assert CloudTrailReader.sniff(trail, tmp_path / "x.json") > JsonReader.sniff(trail, tmp_path / "x.json")


def test_throughput_smoke(tmp_path: Path) -> None:
    """The JSON-lines path is meant for >= 300k small events/s; assert a loose floor only."""
    path = _lines_file(tmp_path / "many.jsonl", 100_000)
    reader = JsonReader()
    started = time.perf_counter()
    count = sum(len(b) for b in reader.read(path, batch_size=5000))
    elapsed = time.perf_counter() - started
    assert count == 100_000
    assert count / elapsed > 50_000, f"{count / elapsed:,.0f} events/s"


@pytest.mark.parametrize("name", ["x.json", "x.jsonl", "x.ndjson", "x.json.gz"])
def test_suffixes_score(name: str, tmp_path: Path) -> None:
    assert JsonReader.sniff(b'{"a": 1}', tmp_path / name) == 70


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.3:
        return rng.choice([1, -2.5, True, None, 'a"b', "x]}{[", "\\", "é", ""])
    if roll < 0.65:
        return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randint(0, 4))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def test_split_json_random_documents_and_arrays() -> None:
    """Values cut out of random concatenated documents and arrays, at any block size, decode back."""
    rng = random.Random(7)
    for _ in range(150):
        docs = [{"d": _random_value(rng)} for _ in range(rng.randint(1, 6))]
        indent = rng.choice([None, 1, 2])
        if rng.random() < 0.5:
            text = "\n".join(json.dumps(d, indent=indent, ensure_ascii=False) for d in docs)
        else:
            text = json.dumps(docs, indent=indent, ensure_ascii=False)
        data = text.encode()
        for chunk_size in (1, 3, 17, 1 << 20):
            pieces = list(split_json(io.BytesIO(data), chunk_size=chunk_size))
            assert [p.error for p in pieces if p.error] == []
            assert [orjson.loads(p.data) for p in pieces] == docs, (text, chunk_size)
            assert all(data[p.offset :].startswith(p.data) for p in pieces)
            assert [p.line for p in pieces] == [data.count(b"\n", 0, p.offset) + 1 for p in pieces]
