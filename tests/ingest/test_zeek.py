"""The Zeek TSV reader: header directives, typed values, unset/empty fields, escapes, dead letters."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from autosoc.ingest import detect_reader
from autosoc.ingest.zeek import ZeekReader
from autosoc.normalize import normalize
from autosoc.schema import RawBatch
from tests.ingest.batches import collect
from tests.ingest.zeek_samples import CONN_LOG, DNS_LOG


def _read(path: Path, batch_size: int = 1000):  # type: ignore[no-untyped-def]
    return collect(list(ZeekReader().read(path, batch_size=batch_size)))


def test_conn_log_values_are_typed_like_zeek_json(tmp_path: Path) -> None:
    path = tmp_path / "conn.log"
    path.write_text(CONN_LOG)
    records, positions, dead = _read(path)
    assert dead == [] and positions == [9, 10]  # after the 8 header lines
    first, second = records
    assert first["_path"] == "conn" and first["ts"] == 1793714400.123456
    assert (first["id.orig_h"], first["id.orig_p"], first["id.resp_p"]) == ("10.1.2.3", 51544, 443)
    assert (first["orig_bytes"], first["resp_bytes"], first["duration"]) == (4182, 1873422, 12.004011)
    assert (first["local_orig"], first["local_resp"], first["tunnel_parents"]) == (True, False, [])
    assert "duration" not in second and "orig_bytes" not in second  # "-" is unset: left out, as in Zeek JSON


def test_dns_log_vectors_escapes_and_booleans(tmp_path: Path) -> None:
    path = tmp_path / "dns.log"
    path.write_text(DNS_LOG)
    (a, txt), _, dead = _read(path)
    assert dead == []
    assert a["answers"] == ["pool.supportxmr.com.cdn.example", "198.51.100.44"] and a["TTLs"] == [300.0, 60.0]
    assert (a["rejected"], a["RD"], a["qtype_name"]) == (False, True, "A")
    assert txt["query"] == "weird\tname.example" and txt["answers"] == [] and "rtt" not in txt


def test_same_event_from_tsv_and_json_has_the_same_id(tmp_path: Path) -> None:
    tsv = tmp_path / "dns.log"
    tsv.write_text(DNS_LOG)
    records, positions, _ = _read(tsv)
    as_json = tmp_path / "dns.json"
    as_json.write_bytes(b"\n".join(orjson.dumps(r) for r in records))
    [from_tsv] = normalize(RawBatch("zeek", str(tsv), "json", records, positions))
    from_json = [r for b in detect_reader(as_json)().read(as_json) for r in b.records]  # type: ignore[misc]
    [via_json] = normalize(RawBatch("jsonl", str(as_json), "json", from_json, [1, 2]))
    assert from_tsv.events["event_id"].to_list() == via_json.events["event_id"].to_list()


def test_bad_rows_become_dead_letters_and_reading_goes_on(tmp_path: Path) -> None:
    lines = CONN_LOG.splitlines()
    broken = [*lines[:8], "1793714399.0\tCshort\t10.0.0.1", lines[8].replace("\t51544\t", "\tnot-a-port\t"),
              lines[9]]
    path = tmp_path / "conn.log"
    path.write_text("1793714000.0\tbefore-header\n" + "\n".join(broken) + "\n")
    records, positions, dead = _read(path)
    assert [d.code for d in dead] == ["missing_header", "bad_zeek_row", "bad_zeek_value"]
    assert [d.origin.record for d in dead] == [1, 10, 11]
    assert "has 3 values but '#fields' names 21" in dead[1].message
    assert "'id.orig_p' (port)" in dead[2].message
    assert positions == [12] and records[0]["uid"] == "C8blOJ21azqP9rW0Ue"


def test_detected_by_its_header_also_gzipped_and_not_other_formats(tmp_path: Path) -> None:
    plain = tmp_path / "conn.20261103.log"
    plain.write_text(CONN_LOG)
    packed = tmp_path / "dns.log.gz"
    packed.write_bytes(gzip.compress(DNS_LOG.encode()))
    assert detect_reader(plain) is ZeekReader and detect_reader(packed) is ZeekReader
    records, _, dead = collect(list(ZeekReader().read(packed)))
    assert len(records) == 2 and dead == []
    syslog = tmp_path / "auth.log"
    syslog.write_text("Nov  3 14:00:00 host sshd[1]: Accepted password for a from 10.0.0.1 port 22 ssh2\n")
    assert detect_reader(syslog) is not ZeekReader
    assert ZeekReader.sniff(b'{"ts": 1.0, "uid": "C1"}\n', tmp_path / "conn.json") == 0


def test_a_growing_conn_log_is_tailed_line_by_line_with_its_header(tmp_path: Path) -> None:
    from autosoc.ingest.files import read_files
    from autosoc.ingest.tail import TailSource

    path = tmp_path / "conn.log"
    lines = CONN_LOG.splitlines(keepends=True)
    body_start = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    cut = body_start + 1  # the header and one record first, the rest later
    path.write_text("".join(lines[:cut]))
    source = TailSource([tmp_path], settle_seconds=0)
    cursors: dict = {}
    got: list[tuple[int, dict]] = []
    for step in range(2):
        for batch, cursor in source.poll(cursors, final=step == 1):
            assert batch.source == "zeek"
            assert cursor.mode == "lines"
            cursors[cursor.key] = cursor
            got += list(zip(batch.positions, batch.records, strict=True))
        if step == 0:
            assert len(got) == 1
            with path.open("a") as handle:
                handle.write("".join(lines[cut:]))
    expected = [(p, r) for b in read_files([path]) for p, r in zip(b.positions, b.records, strict=True)]
    assert got == expected and len(got) >= 2
