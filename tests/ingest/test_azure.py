"""The Azure Monitor reader: ``{"records": [...]}`` exports, positions, dead letters, detection."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from autosoc.ingest import detect_reader
from autosoc.ingest.azure import AzureMonitorReader
from autosoc.ingest.cloudtrail import CloudTrailReader
from autosoc.ingest.jsonl import JsonReader
from tests.ingest.batches import collect
from tests.normalize import entra_samples as S


def _export(*records: object) -> bytes:
    return orjson.dumps({"records": list(records)}, option=orjson.OPT_INDENT_2)


def test_records_in_order_with_their_index(tmp_path: Path) -> None:
    path = tmp_path / "PT1H.json"
    path.write_bytes(_export(S.DIAG_SIGNIN_MFA_DENIED, S.DIAG_AUDIT_CONSENT, S.DIAG_ACTIVITY_KEYVAULT))
    assert detect_reader(path) is AzureMonitorReader
    records, positions, dead = collect(list(AzureMonitorReader().read(path, batch_size=2)))
    assert dead == [] and positions == [1, 2, 3]
    assert [r["category"] for r in records] == ["SignInLogs", "AuditLogs", "Administrative"]


def test_event_hub_messages_one_per_line_count_on(tmp_path: Path) -> None:
    path = tmp_path / "eventhub.json.gz"
    lines = [orjson.dumps({"records": [S.DIAG_SIGNIN_MFA_DENIED]}),
             orjson.dumps({"records": [S.DIAG_AUDIT_CONSENT, S.DIAG_ACTIVITY_KEYVAULT]})]
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    assert detect_reader(path) is AzureMonitorReader
    records, positions, dead = collect(list(AzureMonitorReader().read(path)))
    assert dead == [] and positions == [1, 2, 3] and records[2]["operationName"].startswith("MICROSOFT.KEYVAULT")


def test_malformed_input_becomes_dead_letters(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"records": [{"category": "AuditLogs"}, 42, "x"]}\n'
                     b'{"value": []}\n'
                     b'{"records": [{"category": "SignInLogs", }]}\n'
                     b'{"records": [{"category": "SignInLogs"}]}\n')
    records, positions, dead = collect(list(AzureMonitorReader().read(path)))
    assert [d.code for d in dead] == ["not_an_object", "not_an_object", "bad_records", "invalid_json"]
    assert [d.origin.record for d in dead[:2]] == [2, 3]
    assert "records element 2 is a number" in dead[0].message
    assert "no 'records' key" in dead[2].message
    assert positions == [1, 4] and [r["category"] for r in records] == ["AuditLogs", "SignInLogs"]


def test_does_not_take_other_readers_files(tmp_path: Path) -> None:
    trail = tmp_path / "trail.json"
    trail.write_bytes(orjson.dumps({"Records": [{"eventVersion": "1.08", "eventSource": "s3.amazonaws.com",
                                                 "eventName": "GetObject"}]}))
    lines = tmp_path / "signins.json"
    lines.write_bytes(orjson.dumps(S.GRAPH_SIGNIN_SUCCESS) + b"\n")  # storage-account blobs: JSON lines
    assert detect_reader(trail) is CloudTrailReader
    assert detect_reader(lines) is JsonReader
    assert AzureMonitorReader.sniff(b'{"value": [{"records": 1}]}', lines) == 0
