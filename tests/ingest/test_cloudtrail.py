"""The CloudTrail reader: Records files (streamed), JSON lines of records, and broken input.

There are no real CloudTrail logs in the shared data, so the files are written in tmp_path in
the shape AWS delivers them.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import orjson

from autosoc.ingest.base import readers
from autosoc.ingest.cloudtrail import CloudTrailReader
from autosoc.ingest.files import detect_reader
from autosoc.ingest.jsonl import JsonReader
from autosoc.schema import RawBatch
from tests.ingest.batches import collect


def read(path: Path, batch_size: int = 5000) -> list[RawBatch]:
    return list(CloudTrailReader().read(path, batch_size=batch_size))


def record(i: int) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::123456789012:user/u{i}",
            "accountId": "123456789012",
            "userName": f"u{i}",
        },
        "eventTime": "2024-05-01T10:11:12Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"userName": f"u{i}"},
        "responseElements": None,
        "eventID": f"00000000-0000-0000-0000-{i:012d}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
    }


def trail_file(path: Path, records: list[Any], *, indent: bool = False) -> Path:
    option = orjson.OPT_INDENT_2 if indent else 0
    path.write_bytes(orjson.dumps({"Records": records}, option=option))
    return path


def test_registered_and_detected(tmp_path: Path) -> None:
    assert readers.get("cloudtrail") is CloudTrailReader
    path = trail_file(tmp_path / "123456789012_CloudTrail_us-east-1_20240501T1010Z_abc.json", [record(1)])
    head = path.read_bytes()
    assert CloudTrailReader.sniff(head, path) > JsonReader.sniff(head, path)
    assert detect_reader(path) is CloudTrailReader
    pretty = trail_file(tmp_path / "pretty.json", [record(1)], indent=True)
    assert detect_reader(pretty) is CloudTrailReader


def test_records_file(tmp_path: Path) -> None:
    path = trail_file(tmp_path / "trail.json", [record(i) for i in range(1, 6)])
    batches = read(path)
    records, positions, dead = collect(batches)
    assert records == [record(i) for i in range(1, 6)]
    assert positions == [1, 2, 3, 4, 5]
    assert dead == []
    assert all(b.source == "cloudtrail" and b.kind == "cloudtrail" for b in batches)
    assert batches[-1].bytes_read == path.stat().st_size


def test_pretty_and_gzip(tmp_path: Path) -> None:
    plain = trail_file(tmp_path / "trail.json", [record(i) for i in range(3)], indent=True)
    gz = tmp_path / "trail.json.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    assert detect_reader(gz) is CloudTrailReader
    assert collect(read(gz)) == ([record(i) for i in range(3)], [1, 2, 3], [])


def test_batch_size_is_respected(tmp_path: Path) -> None:
    path = trail_file(tmp_path / "big.json", [record(i) for i in range(12_000)])
    batches = read(path, batch_size=5000)
    assert [len(b) for b in batches] == [5000, 5000, 2000]
    assert batches[2].positions[0] == 10_001 and batches[2].positions[-1] == 12_000
    assert batches[0].bytes_read <= batches[2].bytes_read


def test_json_lines_of_records(tmp_path: Path) -> None:
    path = tmp_path / "trail.jsonl"
    path.write_bytes(b"".join(orjson.dumps(record(i)) + b"\n" for i in range(12_000)))
    assert detect_reader(path) is CloudTrailReader
    batches = read(path, batch_size=5000)
    assert [len(b) for b in batches] == [5000, 5000, 2000]
    assert batches[0].positions[:3] == [1, 2, 3]
    assert batches[0].kind == "cloudtrail"


def test_broken_json_is_one_dead_letter(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    text = orjson.dumps({"Records": [record(1), record(2), record(3)]})
    path.write_bytes(text[: len(text) - 60])  # cut inside the third record
    records, positions, dead = collect(read(path))
    assert records == [record(1), record(2)] and positions == [1, 2]
    assert len(dead) == 1
    letter = dead[0]
    assert letter.code == "invalid_json"
    assert letter.origin.path == str(path) and letter.origin.record == 3
    assert letter.origin.offset == text.index(b'{"eventVersion"', text.index(b"u2") + 1)
    assert "element 3" in letter.message and "ends inside" in letter.message


def test_bad_token_inside_one_record(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    good = [orjson.dumps(record(i)).decode() for i in range(3)]
    path.write_text('{"Records": [' + good[0] + ', {"eventVersion": tru}, ' + good[2] + "]}")
    records, positions, dead = collect(read(path))
    assert records == [record(0), record(2)] and positions == [1, 3]
    assert [(d.code, d.origin.record) for d in dead] == [("invalid_json", 2)]
    assert "decoding failed at byte" in dead[0].message


def test_non_object_records_element(tmp_path: Path) -> None:
    path = trail_file(tmp_path / "mixed.json", [record(1), 42, "text", [record(2)], record(3)], indent=True)
    records, positions, dead = collect(read(path))
    assert records == [record(1), record(3)] and positions == [1, 5]
    assert [(d.code, d.origin.record) for d in dead] == [
        ("not_an_object", 2),
        ("not_an_object", 3),
        ("not_an_object", 4),
    ]
    assert all(d.origin.path == str(path) for d in dead)
    assert "Records element 2" in dead[0].message and "number" in dead[0].message
    assert "array" in dead[2].message


def test_records_not_first_key(tmp_path: Path) -> None:
    path = tmp_path / "reordered.json"
    path.write_text(json.dumps({"digest": "x", "Records": [record(1), None]}))
    assert detect_reader(path) is CloudTrailReader
    records, positions, dead = collect(read(path))
    assert records == [record(1)] and positions == [1]
    assert [(d.code, d.origin.record) for d in dead] == [("not_an_object", 2)]


def test_broken_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"digest": "x", "Records": [{"eventVersion": "1.08",, }]}')
    records, _, dead = collect(read(path))
    assert records == []
    assert [d.code for d in dead] == ["invalid_json"]
    assert dead[0].origin.offset == path.read_text().index(",,") + 1
    assert "not valid JSON" in dead[0].message


def test_records_not_an_array(tmp_path: Path) -> None:
    path = tmp_path / "odd.json"
    path.write_text('{"Records": {"eventVersion": "1.08"}}')
    records, _, dead = collect(read(path))
    assert records == [] and [d.code for d in dead] == ["bad_records"]
    assert "not an array" in dead[0].message


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(orjson.dumps({"Records": [record(i) for i in range(3000)]}))
    gz = tmp_path / "cut.json.gz"
    gz.write_bytes(data[: len(data) // 2])
    records, positions, dead = collect(read(gz))
    assert 0 < len(records) < 3000 and positions == list(range(1, len(records) + 1))
    assert [d.code for d in dead] == ["truncated_gzip"]
    assert dead[0].origin.path == str(gz)
