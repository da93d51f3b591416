"""The CSV reader: header keys, empty cells left out, ragged rows, quoted multi-line cells, gzip."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from autosoc.ingest.base import readers
from autosoc.ingest.csv import CsvReader
from autosoc.ingest.files import detect_reader
from autosoc.schema import RawBatch
from tests.ingest.batches import collect


def read(path: Path, batch_size: int = 5000, **options: Any) -> list[RawBatch]:
    return list(CsvReader(**options).read(path, batch_size=batch_size))


def test_registered_and_detected(tmp_path: Path) -> None:
    assert readers.get("csv") is CsvReader
    assert CsvReader.kind == "json"
    path = tmp_path / "export.csv"
    path.write_text("a,b\n1,2\n")
    assert detect_reader(path) is CsvReader
    assert CsvReader.sniff(b"a,b\n", tmp_path / "notes.txt") == 0


def test_rows_become_dicts(tmp_path: Path) -> None:
    path = tmp_path / "logons.csv"
    path.write_bytes(
        b"\xef\xbb\xbfTimeCreated,EventID,TargetUserName,IpAddress\r\n"
        b"2024-05-01T10:11:12Z,4624,bob,10.0.0.1\r\n"
        b"2024-05-01T10:11:13Z,4625,,10.0.0.2\r\n"
        b"\r\n"
        b'2024-05-01T10:11:14Z,4688,"multi\r\nline, quoted",\r\n'
        b"2024-05-01T10:11:15Z,4624\r\n"
    )
    batches = read(path)
    records, positions, dead = collect(batches)
    assert records == [
        {
            "TimeCreated": "2024-05-01T10:11:12Z",
            "EventID": "4624",
            "TargetUserName": "bob",
            "IpAddress": "10.0.0.1",
        },
        {"TimeCreated": "2024-05-01T10:11:13Z", "EventID": "4625", "IpAddress": "10.0.0.2"},
        {"TimeCreated": "2024-05-01T10:11:14Z", "EventID": "4688", "TargetUserName": "multi\r\nline, quoted"},
        {"TimeCreated": "2024-05-01T10:11:15Z", "EventID": "4624"},
    ]
    assert positions == [2, 3, 5, 7]  # the line where each row starts; row 3 spans lines 5-6
    assert dead == []
    assert batches[-1].bytes_read == path.stat().st_size
    assert all(b.source == "csv" and b.kind == "json" for b in batches)


def test_ragged_row_is_a_dead_letter(tmp_path: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6,7\n8,9\n")
    records, positions, dead = collect(read(path))
    assert records == [{"a": "1", "b": "2", "c": "3"}, {"a": "8", "b": "9"}]
    assert positions == [2, 4]
    [letter] = dead
    assert (letter.code, letter.origin.record, letter.origin.path) == ("bad_csv_row", 3, str(path))
    assert "4 cells" in letter.message and "names 3" in letter.message
    assert letter.raw == "4,5,6,7"


def test_header_oddities(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("name,,name\nx,y,z\n")
    assert collect(read(path))[0] == [{"name": "x", "column2": "y", "name_2": "z"}]


def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"user,city\nb\xf6b,K\xf6ln\n")
    assert collect(read(path))[0] == [{"user": "b\ufffdb", "city": "K\ufffdln"}]


def test_delimiter_option(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("a;b\n1;2\n")
    assert collect(read(path, delimiter=";"))[0] == [{"a": "1", "b": "2"}]


def test_batch_size_and_gzip(tmp_path: Path) -> None:
    text = "n,user,action\n" + "".join(f"{i},u{i},login\n" for i in range(12_000))
    path = tmp_path / "big.csv"
    path.write_text(text)
    batches = read(path, batch_size=5000)
    assert [len(b) for b in batches] == [5000, 5000, 2000]
    assert batches[0].positions[0] == 2 and batches[2].positions[-1] == 12_001
    gz = tmp_path / "big.csv.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert detect_reader(gz) is CsvReader
    assert [len(b) for b in read(gz, batch_size=5000)] == [5000, 5000, 2000]


def test_truncated_gzip(tmp_path: Path) -> None:
    text = "n,user\n" + "".join(f"{i},u{i}\n" for i in range(50_000))
    data = gzip.compress(text.encode())
    gz = tmp_path / "cut.csv.gz"
    gz.write_bytes(data[: len(data) // 2])
    records, positions, dead = collect(read(gz))
    assert 0 < len(records) < 50_000
    assert positions == list(range(2, len(records) + 2))
    assert [d.code for d in dead] == ["truncated_gzip"] and dead[0].origin.path == str(gz)
