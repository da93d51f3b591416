"""Zeek records (TSV through the reader, and Zeek JSON) -> OCSF network columns and Sigma dns aliases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autosoc.ingest.zeek import ZeekReader
from autosoc.normalize import fields as F
from autosoc.normalize import generic, normalize
from autosoc.schema import RawBatch
from tests.ingest.zeek_samples import CONN_LOG, DNS_LOG


def _tsv(tmp_path: Path, name: str, text: str) -> list[dict[str, Any]]:
    path = tmp_path / name
    path.write_text(text)
    [batch] = ZeekReader().read(path)
    [events] = normalize(batch)
    return events.events.to_dicts()


def test_conn_is_network_activity_with_endpoints_and_bytes(tmp_path: Path) -> None:
    tcp, udp = _tsv(tmp_path, "conn.log", CONN_LOG)
    assert tcp[F.CLASS_UID] == 4001 and tcp[F.CATEGORY_UID] == 4 and tcp[F.LOG_NAME] == "conn"
    assert tcp[F.TIME] == datetime(2026, 11, 3, 14, 0, 0, 123456, tzinfo=UTC)
    assert (tcp[F.SRC_IP], tcp[F.SRC_PORT], tcp[F.DST_IP], tcp[F.DST_PORT]) == ("10.1.2.3", "51544", "203.0.113.9",
                                                                               "443")
    assert (tcp[F.NET_PROTOCOL], tcp[F.BYTES_OUT], tcp[F.BYTES_IN]) == ("tcp", "4182", "1873422")
    assert (tcp[F.EVENT_CODE], tcp[F.PRODUCT], tcp[F.STATUS_DETAIL]) == ("CwR3Nf2dSMFbXhXr9c", "Zeek", "SF")
    assert udp[F.NET_PROTOCOL] == "udp" and udp[F.BYTES_OUT] is None
    assert udp[F.TIME] == datetime(2026, 11, 3, 14, 0, 1, 500000, tzinfo=UTC)


def test_dns_query_is_the_destination_host(tmp_path: Path) -> None:
    a, txt = _tsv(tmp_path, "dns.log", DNS_LOG)
    assert a[F.CLASS_UID] == 4003 and a[F.DST_HOST] == "pool.supportxmr.com" and a[F.STATUS_DETAIL] == "NOERROR"
    assert txt[F.DST_HOST] == "weird\tname.example"


def test_zeek_json_logs_without_path_are_recognised_by_their_fields() -> None:
    http = {"ts": 1793714500.5, "uid": "CHhAvVGS1DHFjwGM9", "id.orig_h": "10.1.2.8", "id.orig_p": 50122,
            "id.resp_h": "198.51.100.80", "id.resp_p": 80, "trans_depth": 1, "method": "PUT",
            "host": "files.example.net", "uri": "/dav/report.exe", "version": "1.1",
            "user_agent": "Microsoft-WebDAV-MiniRedir/10.0.19045", "request_body_len": 73802,
            "response_body_len": 0, "status_code": 201, "status_msg": "Created", "tags": []}
    ssl = {"ts": "2026-11-03T14:01:40.250000Z", "uid": "C0aB1cD2eF3gH4iJ5k", "id.orig_h": "10.1.2.8",
           "id.orig_p": 50200, "id.resp_h": "203.0.113.10", "id.resp_p": 443, "version": "TLSv13",
           "cipher": "TLS_AES_128_GCM_SHA256", "server_name": "login.example.org", "resumed": False,
           "established": True}
    records = [http, ssl]
    [batch] = normalize(RawBatch("jsonl", "zeek.json", "json", records, [1, 2]))
    h, s = batch.events.to_dicts()
    assert (h[F.CLASS_UID], h[F.LOG_NAME], h[F.DST_HOST]) == (4002, "http", "files.example.net")
    assert h[F.USER_AGENT] == "Microsoft-WebDAV-MiniRedir/10.0.19045" and h[F.STATUS_DETAIL] == "201"
    assert (s[F.CLASS_UID], s[F.LOG_NAME], s[F.DST_HOST]) == (4001, "ssl", "login.example.org")
    assert s[F.TIME] == datetime(2026, 11, 3, 14, 1, 40, 250000, tzinfo=UTC)  # JSON::TS_ISO8601


def test_dns_records_gain_the_generic_dns_rule_names(tmp_path: Path) -> None:
    path = tmp_path / "dns.log"
    path.write_text(DNS_LOG)
    [batch] = ZeekReader().read(path)
    [events] = normalize(batch)
    rows = generic.alias_columns(events.raw).to_dicts()
    assert rows[0]["answer"] == "pool.supportxmr.com.cdn.example\n198.51.100.44"
    assert [r["record_type"] for r in rows] == ["A", "TXT"]
