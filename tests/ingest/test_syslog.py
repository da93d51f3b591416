"""The syslog reader: RFC 5424, RFC 3164 with and without PRI, rsyslog's precise form, bad lines."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from autosoc.errors import ConfigError
from autosoc.ingest.base import readers
from autosoc.ingest.files import detect_reader
from autosoc.ingest.syslog import SyslogReader, parse_structured_data
from autosoc.schema import DeadLetter
from tests.ingest.batches import collect


def write(path: Path, lines: list[str] | bytes, mtime: datetime | None = None) -> Path:
    path.write_bytes(lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode())
    when = (mtime or datetime(2024, 6, 1, 12, tzinfo=UTC)).timestamp()
    os.utime(path, (when, when))
    return path


def parse_one(tmp_path: Path, line: str, **options: Any) -> dict[str, Any]:
    records, _, dead = collect(list(SyslogReader(**options).read(write(tmp_path / "one.log", [line]))))
    assert dead == []
    [record] = records
    return record


def test_registered() -> None:
    assert readers.get("syslog") is SyslogReader
    assert SyslogReader.kind == "syslog"


def test_rfc5424_with_structured_data(tmp_path: Path) -> None:
    line = (
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
        '[examplePriority@32473 class="high"] \ufeffAn application event log entry...'
    )
    assert parse_one(tmp_path, line) == {
        "timestamp": "2003-10-11T22:14:15.003000+00:00",
        "hostname": "mymachine.example.com",
        "appname": "evntslog",
        "msgid": "ID47",
        "facility": "local4",
        "severity": "notice",
        "message": "An application event log entry...",
        "structured_data": {
            "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
            "examplePriority@32473": {"class": "high"},
        },
        "syslog_format": "rfc5424",
    }


def test_rfc5424_escapes_in_structured_data() -> None:
    data, message = parse_structured_data(r'[a@1 q="say \"hi\"" b="x\]y" c="back\\slash" d="keep\n"] rest')
    assert data == {"a@1": {"q": 'say "hi"', "b": "x]y", "c": "back\\slash", "d": "keep\\n"}}
    assert message == "rest"
    assert parse_structured_data("[only@1]") == ({"only@1": {}}, "")


def test_rfc5424_without_structured_data(tmp_path: Path) -> None:
    line = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed on /dev/pts/8"
    assert parse_one(tmp_path, line) == {
        "timestamp": "2003-10-11T22:14:15.003000+00:00",
        "hostname": "mymachine.example.com",
        "appname": "su",
        "msgid": "ID47",
        "facility": "auth",
        "severity": "crit",
        "message": "'su root' failed on /dev/pts/8",
        "structured_data": {},
        "syslog_format": "rfc5424",
    }


def test_rfc5424_with_offset_pid_and_nil_fields(tmp_path: Path) -> None:
    record = parse_one(tmp_path, "<86>1 2024-05-01T10:11:12.123456+02:00 host sshd 4242 - -")
    assert record == {
        "timestamp": "2024-05-01T08:11:12.123456+00:00",
        "hostname": "host",
        "appname": "sshd",
        "procid": "4242",
        "facility": "authpriv",
        "severity": "info",
        "message": "",
        "structured_data": {},
        "syslog_format": "rfc5424",
    }
    nil = parse_one(tmp_path, "<11>1 - - - - - - boom")
    assert nil == {
        "facility": "user",
        "severity": "err",
        "message": "boom",
        "structured_data": {},
        "syslog_format": "rfc5424",
    }


def test_rfc3164_with_pri(tmp_path: Path) -> None:
    record = parse_one(tmp_path, "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick", year=2003)
    assert record == {
        "timestamp": "2003-10-11T22:14:15+00:00",
        "hostname": "mymachine",
        "appname": "su",
        "facility": "auth",
        "severity": "crit",
        "message": "'su root' failed for lonvick",
        "syslog_format": "rfc3164",
    }


def test_rfc3164_without_pri_auth_log(tmp_path: Path) -> None:
    line = "May  1 10:11:12 web01 sshd[1234]: Accepted password for bob from 10.0.0.5 port 22 ssh2"
    record = parse_one(tmp_path, line, year=2024)
    assert record == {
        "timestamp": "2024-05-01T10:11:12+00:00",
        "hostname": "web01",
        "appname": "sshd",
        "procid": "1234",
        "message": "Accepted password for bob from 10.0.0.5 port 22 ssh2",
        "syslog_format": "rfc3164",
    }
    assert "facility" not in record and "severity" not in record


def test_rfc3164_odd_shapes(tmp_path: Path) -> None:
    sudo = parse_one(tmp_path, "Jun 30 23:59:59 h sudo:     bob : TTY=pts/0 ; COMMAND=/bin/ls", year=2024)
    assert (sudo["appname"], sudo["message"]) == ("sudo", "    bob : TTY=pts/0 ; COMMAND=/bin/ls")
    no_tag = parse_one(tmp_path, "Jun 30 23:59:59 h last message repeated 3 times", year=2024)
    assert no_tag["hostname"] == "h" and "appname" not in no_tag
    assert no_tag["message"] == "last message repeated 3 times"
    no_host = parse_one(tmp_path, "<13>Feb  5 17:32:18 cron[77]: job done", year=2024)
    assert "hostname" not in no_host and (no_host["appname"], no_host["procid"]) == ("cron", "77")
    slashed = parse_one(tmp_path, "Feb  5 17:32:18 mx postfix/smtpd[9]: connect from x", year=2024)
    assert slashed["appname"] == "postfix/smtpd"


def test_high_precision_form(tmp_path: Path) -> None:
    record = parse_one(tmp_path, "2024-05-01T10:11:12.123456+02:00 host sshd[42]: Failed password for root")
    assert record == {
        "timestamp": "2024-05-01T08:11:12.123456+00:00",
        "hostname": "host",
        "appname": "sshd",
        "procid": "42",
        "message": "Failed password for root",
        "syslog_format": "rfc3164",
    }


def test_year_from_mtime_rolls_back(tmp_path: Path) -> None:
    path = write(
        tmp_path / "auth.log",
        [
            "Dec 31 23:59:58 h app: old year",
            "Jan  5 00:00:01 h app: new year",
            "Feb 10 08:00:00 h app: this month",
        ],
        mtime=datetime(2024, 2, 10, 12, tzinfo=UTC),
    )
    records, _, _ = collect(list(SyslogReader().read(path)))
    assert [r["timestamp"] for r in records] == [
        "2023-12-31T23:59:58+00:00",
        "2024-01-05T00:00:01+00:00",
        "2024-02-10T08:00:00+00:00",
    ]
    fixed, _, _ = collect(list(SyslogReader(year=2020).read(path)))
    assert [r["timestamp"][:10] for r in fixed] == ["2020-12-31", "2020-01-05", "2020-02-10"]


def test_time_zone_option(tmp_path: Path) -> None:
    record = parse_one(tmp_path, "May  1 10:11:12 h app: x", year=2024, tz="Europe/Berlin")
    assert record["timestamp"] == "2024-05-01T08:11:12+00:00"
    with pytest.raises(ConfigError):
        SyslogReader(tz="Mars/Olympus")


def test_bad_lines_are_dead_letters(tmp_path: Path) -> None:
    path = write(
        tmp_path / "syslog",
        b"".join(
            [
                b"May  1 10:11:12 h sshd[1]: one\n",
                b"this is not syslog at all\n",
                b"\n",
                b"May  1 10:11:13 h sshd[1]: caf\xe9 \xff bytes\n",
                b"May  1 10:11:14 h sshd[1]: nul \x00 inside\n",
                b"May  1 10:11:15 h sshd[1]: " + b"x" * (70 * 1024) + b"\n",
                b"<999>Oct 11 22:14:15 h su: bad pri\n",
                b"Feb 30 10:11:12 h app: no such day\n",
                b"May  1 10:11:16 h sshd[1]: last",
            ]
        ),
    )
    records, positions, dead = collect(list(SyslogReader(year=2024).read(path)))
    assert positions == [1, 4, 9]
    assert records[1]["message"] == "caf\ufffd \ufffd bytes"
    assert records[2]["message"] == "last"
    assert [(d.code, d.origin.record) for d in dead] == [
        ("not_syslog", 2),
        ("bad_line", 5),
        ("bad_line", 6),
        ("not_syslog", 7),
        ("not_syslog", 8),
    ]
    assert all(d.origin.path == str(path) and d.origin.source == "syslog" for d in dead)
    assert "not a syslog line" in dead[0].message and dead[0].raw == "this is not syslog at all"
    assert dead[0].origin.offset == len(b"May  1 10:11:12 h sshd[1]: one\n")
    assert "NUL" in dead[1].message
    assert "longer than" in dead[2].message and len(dead[2].raw) <= DeadLetter.RAW_LIMIT + 1
    assert "PRI 999" in dead[3].message
    assert "invalid timestamp" in dead[4].message


def _many(n: int) -> list[str]:
    return [
        f"May  1 10:{i // 60 % 60:02d}:{i % 60:02d} host sshd[{i}]: Failed password for u{i}"
        for i in range(n)
    ]


def test_batch_size(tmp_path: Path) -> None:
    path = write(tmp_path / "auth.log", _many(12_000))
    batches = list(SyslogReader(year=2024).read(path, batch_size=5000))
    assert [len(b) for b in batches] == [5000, 5000, 2000]
    assert batches[2].positions[-1] == 12_000
    assert batches[-1].bytes_read == path.stat().st_size
    assert all(b.kind == "syslog" and b.source == "syslog" for b in batches)


def test_gzip_and_truncated_gzip(tmp_path: Path) -> None:
    lines = _many(20_000)
    gz = tmp_path / "auth.log.2.gz"
    gz.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    assert detect_reader(gz) is SyslogReader
    records, positions, dead = collect(list(SyslogReader(year=2024).read(gz)))
    assert len(records) == 20_000 and dead == []
    data = gz.read_bytes()
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(data[: len(data) // 2])
    records, positions, dead = collect(list(SyslogReader(year=2024).read(cut)))
    assert 0 < len(records) < 20_000 and positions == list(range(1, len(records) + 1))
    assert [(d.code, d.origin.record) for d in dead] == [("truncated_gzip", len(records) + 1)]


def test_sniff_and_detection(tmp_path: Path) -> None:
    auth = b"May  1 10:11:12 web01 sshd[1234]: Accepted password for bob\n"
    assert SyslogReader.sniff(auth, tmp_path / "anything.txt") > 50
    assert SyslogReader.sniff(b"<34>1 2003-10-11T22:14:15Z h a - - - m\n", tmp_path / "x") > 50
    assert SyslogReader.sniff(b"2024-05-01T10:11:12Z host app[1]: m\n", tmp_path / "x") > 50
    assert SyslogReader.sniff(b"2024-05-01 10:11:12,123 INFO root: m\n", tmp_path / "x") == 0
    assert SyslogReader.sniff(b"# README\n", tmp_path / "README.md") == 0
    assert SyslogReader.sniff(b"odd first line\n", tmp_path / "messages.1") > 0
    assert SyslogReader.sniff(b'{"a": 1}\n', tmp_path / "app.log") < 60  # JSON lines win
    assert detect_reader(write(tmp_path / "kern", [auth.decode().strip()])) is SyslogReader
