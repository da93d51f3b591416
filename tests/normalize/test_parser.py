"""Normalization: every Windows shipper shape ends with the same Sigma field names; OCSF columns; ids."""

from __future__ import annotations

import json
from pathlib import Path

import evtx
import orjson
import pytest

from autosoc.detect.sigma.testing import match
from autosoc.normalize import normalize
from autosoc.schema import RawBatch

NESTED = {"Event": {"System": {
    "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 1,
    "TimeCreated": {"#attributes": {"SystemTime": "2024-03-01T10:00:00.5Z"}},
    "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws01.corp"},
    "EventData": {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami",
                  "ParentImage": "C:\\Windows\\explorer.exe", "User": "CORP\\alice", "ProcessId": 4242}}}
WINLOGBEAT = {"@timestamp": "2024-03-01T10:00:00.500Z", "host": {"name": "ws01.corp"},
              "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_id": "1",
                         "provider_name": "Microsoft-Windows-Sysmon", "computer_name": "ws01.corp",
                         "event_data": {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami",
                                        "ParentImage": "C:\\Windows\\explorer.exe", "User": "CORP\\alice",
                                        "ProcessId": "4242"}}}
NXLOG = {"EventTime": "2024-03-01 10:00:00", "Hostname": "ws01.corp", "EventID": 1,
         "SourceName": "Microsoft-Windows-Sysmon", "Channel": "Microsoft-Windows-Sysmon/Operational",
         "Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami",
         "ParentImage": "C:\\Windows\\explorer.exe", "User": "CORP\\alice", "ProcessId": 4242}
FLAT_PREFIXED = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws01.corp",
                 "EventData.Image": "C:\\Windows\\System32\\cmd.exe", "EventData.CommandLine": "cmd /c whoami",
                 "EventData.ParentImage": "C:\\Windows\\explorer.exe", "EventData.User": "CORP\\alice"}
XML_DATA_LIST = {"Event": {"System": {"EventID": {"#text": "1", "@Qualifiers": "0"},
                                      "Channel": "Microsoft-Windows-Sysmon/Operational", "Computer": "ws01.corp"},
                           "EventData": {"Data": [{"@Name": "Image", "#text": "C:\\Windows\\System32\\cmd.exe"},
                                                  {"@Name": "CommandLine", "#text": "cmd /c whoami"},
                                                  {"@Name": "ParentImage", "#text": "C:\\Windows\\explorer.exe"},
                                                  {"@Name": "User", "#text": "CORP\\alice"}]}}}
SECURITY_4688 = {"Event": {"System": {"EventID": 4688, "Channel": "Security", "Computer": "dc01",
                                      "Provider": {"#attributes": {"Name": "Microsoft-Windows-Security-Auditing"}}},
                           "EventData": {"NewProcessName": "C:\\Windows\\System32\\cmd.exe",
                                         "ParentProcessName": "C:\\Windows\\explorer.exe",
                                         "CommandLine": "cmd /c whoami", "SubjectUserName": "alice",
                                         "SubjectDomainName": "CORP", "MandatoryLabel": "S-1-16-12288"}}}

RULE = r"""
title: cmd whoami from explorer
id: 0f0e0d0c-0000-4000-8000-000000000001
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\cmd.exe'
    ParentImage|endswith: '\explorer.exe'
    CommandLine|contains: whoami
  condition: selection
"""


def _one(record: dict[str, object], kind: str = "json"):
    (batch,) = normalize(RawBatch("jsonl", "/logs/x.jsonl", kind, [record], [3]))
    return batch


@pytest.mark.parametrize("record", [NESTED, WINLOGBEAT, NXLOG, FLAT_PREFIXED, XML_DATA_LIST],
                         ids=["evtx-json", "winlogbeat", "nxlog", "flat-prefixed", "xml-data-list"])
def test_every_windows_shape_gets_sigma_names_and_ocsf(record: dict[str, object]) -> None:
    batch = _one(record)
    raw = batch.raw.row(0, named=True)
    assert raw["Image"] == "C:\\Windows\\System32\\cmd.exe"
    assert raw["EventID"] == "1" and raw["Channel"] == "Microsoft-Windows-Sysmon/Operational"
    event = batch.events.row(0, named=True)
    assert event["family"] == "windows"
    assert event["class_uid"] == 1007 and event["category_uid"] == 1
    assert event["device.hostname"] == "ws01.corp"
    assert event["process.file.path"] == "C:\\Windows\\System32\\cmd.exe"
    assert event["process.cmd_line"] == "cmd /c whoami"
    assert event["actor.user.name"] == "CORP\\alice"
    assert (event["origin.path"], event["origin.record"]) == ("/logs/x.jsonl", 3)
    assert match(RULE, [record]) == [True]


def test_times_are_utc() -> None:
    assert str(_one(NESTED).events["time"][0]) == "2024-03-01 10:00:00.500000+00:00"
    assert str(_one(NXLOG).events["time"][0]) == "2024-03-01 10:00:00+00:00"


def test_security_4688_gets_the_fields_sigma_process_rules_use() -> None:
    raw = _one(SECURITY_4688).raw.row(0, named=True)
    assert raw["Image"] == "C:\\Windows\\System32\\cmd.exe"
    assert raw["ParentImage"] == "C:\\Windows\\explorer.exe"
    assert raw["IntegrityLevel"] == "High"
    event = _one(SECURITY_4688).events.row(0, named=True)
    assert event["actor.user.name"] == "CORP\\alice" and event["class_uid"] == 1007
    assert match(RULE, [SECURITY_4688]) == [True]


def test_alias_never_overwrites_a_real_field() -> None:
    record = json.loads(json.dumps(SECURITY_4688))
    record["Event"]["EventData"]["Image"] = "C:\\real.exe"
    assert _one(record).raw["Image"][0] == "C:\\real.exe"


def test_what_prepare_fills_in_joins_the_keyword_text_of_its_rows_only() -> None:
    """Security 4688's aliases (Image, ParentImage, IntegrityLevel) are in that row's keyword text,
    once; a Sysmon row beside it that has its own Image keeps its text as it was."""
    from autosoc.normalize import fields as F

    (batch,) = normalize(RawBatch("jsonl", "/logs/x.jsonl", "json", [NESTED, SECURITY_4688], [1, 2]))
    sysmon, security = batch.raw.get_column(F.KEYWORD_TEXT).to_list()
    assert sysmon.split("\n").count("C:\\Windows\\System32\\cmd.exe") == 1
    (alone,) = normalize(RawBatch("jsonl", "/logs/x.jsonl", "json", [NESTED], [1]))
    assert alone.raw.get_column(F.KEYWORD_TEXT).to_list() == [sysmon]
    lines = security.split("\n")
    assert lines[-3:] == ["C:\\Windows\\System32\\cmd.exe", "C:\\Windows\\explorer.exe", "High"]
    assert lines.count("C:\\Windows\\System32\\cmd.exe") == 2  # NewProcessName, and Image filled from it
    assert "S-1-16-12288" in lines


def test_data_names_with_spaces_also_appear_without() -> None:
    record = {"Event": {"System": {"EventID": 1119, "Channel": "Microsoft-Windows-Windows Defender/Operational"},
                        "EventData": {"Threat Name": "Virus:DOS/EICAR_Test_File"}}}
    raw = _one(record).raw.row(0, named=True)
    assert raw["ThreatName"] == raw["Threat Name"] == "Virus:DOS/EICAR_Test_File"


def test_event_id_is_content_hash_and_ignores_position() -> None:
    a = _one(NESTED).events["event_id"][0]
    (b,) = normalize(RawBatch("evtx", "/other.evtx", "windows", [NESTED], [99]))
    assert a == b.events["event_id"][0]
    changed = json.loads(json.dumps(NESTED))
    changed["Event"]["EventData"]["CommandLine"] = "cmd /c hostname"
    assert _one(changed).events["event_id"][0] != a


def test_same_event_from_evtx_and_json_has_same_id(sample_evtx: Path, sample_json: Path) -> None:
    from_evtx = [orjson.loads(r["data"]) for r in evtx.PyEvtxParser(str(sample_evtx)).records_json()]
    from_json = [json.loads(sample_json.read_text())] if sample_json.read_text().count('"Event"') == 1 else []
    if not from_json:
        pytest.skip("sample JSON holds several documents")
    ids_evtx = normalize(RawBatch("evtx", str(sample_evtx), "windows", from_evtx[:1], [1]))[0].events["event_id"]
    ids_json = normalize(RawBatch("jsonl", str(sample_json), "json", from_json, [1]))[0].events["event_id"]
    assert ids_evtx[0] == ids_json[0]


def test_cloudtrail_record_maps_to_api_activity() -> None:
    record = {"eventVersion": "1.08", "eventTime": "2024-03-01T10:00:00Z", "eventSource": "s3.amazonaws.com",
              "eventName": "GetObject", "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.9",
              "userAgent": "aws-cli/2", "recipientAccountId": "111122223333",
              "userIdentity": {"type": "IAMUser", "userName": "bob", "arn": "arn:aws:iam::111122223333:user/bob"},
              "requestParameters": {"bucketName": "secret"}}
    batch = _one(record, kind="cloudtrail")
    event = batch.events.row(0, named=True)
    assert event["family"] == "cloudtrail" and event["class_uid"] == 6003 and event["category_uid"] == 6
    assert event["api.operation"] == "GetObject" and event["api.service.name"] == "s3.amazonaws.com"
    assert event["cloud.account.uid"] == "111122223333" and event["cloud.region"] == "eu-west-1"
    assert event["actor.user.name"] == "bob" and event["src_endpoint.ip"] == "203.0.113.9"
    assert batch.raw["requestParameters.bucketName"][0] == "secret"
    login = dict(record, eventName="ConsoleLogin", eventSource="signin.amazonaws.com")
    assert _one(login, kind="json").events["class_uid"][0] == 3002  # found by shape in a plain JSON file


def test_syslog_sshd_logon_is_authentication() -> None:
    record = {"timestamp": "2024-03-01T10:00:00+00:00", "hostname": "web1", "appname": "sshd", "procid": "811",
              "message": "Failed password for invalid user admin from 198.51.100.7 port 52144 ssh2",
              "syslog_format": "rfc3164"}
    event = _one(record, kind="syslog").events.row(0, named=True)
    assert event["class_uid"] == 3002 and event["actor.user.name"] == "admin"
    assert event["src_endpoint.ip"] == "198.51.100.7" and event["src_endpoint.port"] == "52144"
    assert event["device.hostname"] == "web1"


def test_empty_record_is_a_dead_letter_and_the_batch_goes_on() -> None:
    (batch,) = normalize(RawBatch("jsonl", "/logs/x.jsonl", "json", [{}, NESTED], [1, 2]))
    assert batch.events.height == 1 and batch.events["origin.record"][0] == 2
    (letter,) = batch.dead_letters
    assert letter.code == "empty_record" and letter.origin.record == 1 and letter.stage == "normalize"


def test_mixed_file_splits_by_family() -> None:
    batches = normalize(RawBatch("jsonl", "/logs/x.jsonl", "json", [NESTED, {"foo": {"bar": 1}}], [1, 2]))
    assert sorted(b.events["family"][0] for b in batches) == ["json", "windows"]
    generic = next(b for b in batches if b.events["family"][0] == "json")
    assert generic.raw["foo.bar"][0] == "1"


def test_normalizing_many_files_at_once_equals_one_at_a_time(regression_dir: Path) -> None:
    import polars as pl

    from autosoc.ingest.files import read_files
    from autosoc.normalize import fields as F
    from autosoc.normalize import normalize_many

    files = sorted(regression_dir.rglob("*.json"))[:30] + sorted(regression_dir.rglob("*.evtx"))[:5]
    raws = list(read_files(files))
    one = [b for raw in raws for b in normalize(raw)]
    together = normalize_many(raws)
    assert sum(len(b) for b in together) == sum(len(b) for b in one)
    columns = [F.EVENT_ID, F.ORIGIN_SOURCE, F.ORIGIN_PATH, F.ORIGIN_RECORD, F.TIME, F.HOST, F.PROCESS_CMD]
    expect = pl.concat([b.events.select(columns) for b in one]).sort(F.ORIGIN_PATH, F.ORIGIN_RECORD)
    got = pl.concat([b.events.select(columns) for b in together]).sort(F.ORIGIN_PATH, F.ORIGIN_RECORD)
    assert got.equals(expect)
    assert got.get_column(F.ORIGIN_PATH).n_unique() == len(files)


def _windows_record(channel: object, event_id: object, **data: object) -> dict[str, object]:
    system: dict[str, object] = {"Computer": "ws01"}
    if channel is not None:
        system["Channel"] = channel
    if event_id is not None:
        system["EventID"] = event_id
    return {"Event": {"System": system, "EventData": data}}


def test_the_class_and_the_qualified_user_of_every_row_of_a_mixed_batch() -> None:
    """Worked out per distinct (channel, event id) and only on the rows with a domain: each row gets
    its own, in its place; channels in any case; no channel or an unknown pair is class 0; a
    domain joins a name that holds none; "-" and "" are no value."""
    from autosoc.normalize import fields as F

    rows = [
        (_windows_record("Security", 4624, TargetUserName="alice", TargetDomainName="CORP"), 3002, "CORP\\alice"),
        (_windows_record("Microsoft-Windows-Sysmon/Operational", 1, User="CORP\\bob"), 1007, "CORP\\bob"),
        (_windows_record("SECURITY", "4688", SubjectUserName="carol", SubjectDomainName="LAB"), 1007, "LAB\\carol"),
        (_windows_record("Security", 4624, TargetUserName="EXT\\dave", TargetDomainName="CORP"), 3002, "EXT\\dave"),
        (_windows_record("Security", 4625, TargetUserName="-", TargetDomainName="CORP"), 3002, None),
        (_windows_record("Security", 4624, TargetDomainName="CORP", LogonType="3"), 3002, None),
        (_windows_record("Security", 1102, SubjectUserName="erin", SubjectDomainName="-"), 0, "erin"),
        (_windows_record(None, 4624, TargetUserName="frank", TargetDomainName=""), 0, "frank"),
        (_windows_record("System", 7045, AccountName="LocalSystem"), 1006, "LocalSystem"),
        (_windows_record("Microsoft-Windows-Sysmon/Operational", 3, User="NT AUTHORITY\\SYSTEM"), 4001,
         "NT AUTHORITY\\SYSTEM"),
    ] * 3
    (batch,) = normalize(RawBatch("jsonl", "/logs/x.jsonl", "json", [r for r, _, _ in rows],
                                  list(range(1, len(rows) + 1))))
    events = batch.events
    assert events.get_column(F.CLASS_UID).to_list() == [c for _, c, _ in rows]
    assert events.get_column(F.CATEGORY_UID).to_list() == [c // 1000 % 100 for _, c, _ in rows]
    assert events.get_column(F.USER).to_list() == [u for _, _, u in rows]
    (alone,) = normalize(RawBatch("jsonl", "/logs/x.jsonl", "json", [_windows_record(None, None, Image="x")], [1]))
    assert alone.events.get_column(F.CLASS_UID).to_list() == [0] and alone.events.get_column(F.USER).to_list() == [None]


@pytest.mark.parametrize("targets", [False, True])
def test_security_aliases_on_the_security_rows_only_are_those_of_every_row(targets: bool) -> None:
    """The Security log's aliases are worked out on its rows alone and put in place: the same frame as
    the expressions over every row, whatever the channel's case, and nothing on other logs' rows."""
    import polars as pl

    from autosoc.normalize import windows

    channels = ["Security", "SECURITY", "security", "Security ", "SECURİTY", "Microsoft-Windows-Sysmon/Operational",
                None, "Securitx", "System"]
    rows = []
    for i, channel in enumerate(channels * 3):
        rows.append({"Channel": channel, "EventID": ["4688", "4657", "4624"][i % 3], "NewProcessName": f"C:\\n{i}.exe",
                     "ParentProcessName": f"C:\\p{i}.exe", "SubjectLogonId": f"0x{i}", "ProcessName": f"C:\\r{i}",
                     "ObjectName": f"HKLM\\k{i}", "NewValue": f"v{i}",
                     **({"Image": f"C:\\own{i}.exe" if i % 2 else None, "LogonId": None} if targets else {})})
    raw = pl.DataFrame(rows, schema={k: pl.String for k in rows[0]})
    cols = set(raw.columns)
    every = raw.with_columns(**windows._security_aliases(cols, pl.col("Channel").str.to_lowercase() == "security"))
    got = windows.alias_columns(raw)
    assert got.columns == every.columns and got.schema == every.schema and got.rows() == every.rows()
    filled = got.get_column("Image").to_list()
    assert filled[0] == "C:\\n0.exe" and filled[9 * 2 + 4] is None  # Security 4688 aliased; "SECURİTY" is not it
    assert windows._security_rows(raw.get_column("Channel")).to_list() == [
        i for i, c in enumerate(channels * 3) if c is not None and c.lower() == "security"]
