"""Syslog reader: text lines in RFC 5424, RFC 3164 (with or without PRI) or rsyslog's precise form.

Recognised line shapes::

    <165>1 2003-10-11T22:14:15.003Z host app 1234 ID47 [exampleSDID@32473 iut="3"] message   RFC 5424
    <34>Oct 11 22:14:15 host su[123]: message                                               RFC 3164
    May  1 10:11:12 host sshd[123]: message                            RFC 3164 without PRI (auth.log)
    2024-05-01T10:11:12.123456+02:00 host sshd[123]: message          rsyslog high precision (3164)

Each line becomes a dict with ``timestamp`` (ISO 8601 in UTC), ``hostname``, ``appname``,
``procid``, ``msgid``, ``facility`` and ``severity`` (names, only when the line has a PRI),
``message``, ``structured_data`` (RFC 5424 only: ``{sd_id: {param: value}}``) and
``syslog_format`` (``rfc5424`` or ``rfc3164``); absent and nil (``-``) fields are left out.
RFC 3164 timestamps carry neither year nor zone: the year is the reader's ``year`` option, or
else the file's modification year with months after the modification month taken as the year
before; the zone is the reader's ``tz`` option (UTC by default).

Bytes that are not UTF-8 are replaced (syslog is often dirty) and the record is kept; a line
holding NUL bytes or longer than 64 KiB is dead-lettered (``bad_line``), a line that is not
syslog as ``not_syslog``; both with their line number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from autosoc.errors import ConfigError, Origin
from autosoc.ingest._open import ReadableInput, open_input, raw_text, strip_gz
from autosoc.ingest.base import DEFAULT_BATCH_SIZE, FileReader, readers
from autosoc.ingest.jsonl import GZIP_ERRORS, gzip_error
from autosoc.schema import DeadLetter, RawBatch

MAX_LINE = 64 * 1024
STAGE = "ingest"

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
)  # fmt: skip
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
MONTHS = {
    name: i
    for i, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

_ISO_TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"
_RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>(?P<version>[1-9]\d?) (?P<ts>-|" + _ISO_TS + r") (?P<host>\S+) (?P<app>\S+) "
    r"(?P<procid>\S+) (?P<msgid>\S+)(?: (?P<rest>.*))?\Z",
    re.DOTALL,
)
_RFC3164 = re.compile(
    r"(?:<(?P<pri>\d{1,3})>)?(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d) "
    r"(?P<body>.*)\Z",
    re.DOTALL,
)
_PRECISE = re.compile(r"(?:<(?P<pri>\d{1,3})>)?(?P<ts>" + _ISO_TS + r") (?P<body>.*)\Z", re.DOTALL)
#: ``tag[pid]: `` or ``tag: `` at the start of the part after the hostname
_TAG = re.compile(r"(?P<tag>[^\s\[\]:]+)(?:\[(?P<pid>[^\]\s]*)\])?:(?: |\Z)")
_SD_ELEMENT = re.compile(
    r'\[(?P<id>[^\s\]="]+)(?P<params>(?:\s+[^\s\]="]+="(?:[^"\\]|\\.)*")*)\s*\]', re.DOTALL
)
_SD_PARAM = re.compile(r'(?P<name>[^\s\]="]+)="(?P<value>(?:[^"\\]|\\.)*)"', re.DOTALL)
_SD_ESCAPE = re.compile(r'\\(["\]\\])')
#: names of system log files (with rotation suffixes): syslog even when the first line is odd
_LOG_NAMES = re.compile(r"(?:syslog|messages|secure|auth\.log|kern\.log|daemon\.log|user\.log)(?:\.\d+)?\Z")


class NotSyslog(ValueError):
    """A line that does not parse; the message says why."""


def _has_tag(body: str) -> bool:
    """``tag[pid]: `` at the start of ``body`` or right after its first word (the host name)."""
    return bool(_TAG.match(body) or _TAG.match(body.partition(" ")[2]))


def _unescape(value: str) -> str:
    return _SD_ESCAPE.sub(r"\1", value) if "\\" in value else value


def parse_structured_data(text: str) -> tuple[dict[str, dict[str, str]], str]:
    """RFC 5424 STRUCTURED-DATA at the start of ``text`` -> ({sd_id: {name: value}}, the message)."""
    if text == "-" or text.startswith("- "):
        return {}, text[2:]
    data: dict[str, dict[str, str]] = {}
    pos = 0
    while text.startswith("[", pos):
        m = _SD_ELEMENT.match(text, pos)
        if m is None:
            raise NotSyslog(f"malformed RFC 5424 structured data at column {pos + 1}")
        params = data.setdefault(m.group("id"), {})
        for p in _SD_PARAM.finditer(m.group("params")):
            params[p.group("name")] = _unescape(p.group("value"))
        pos = m.end()
    if pos == 0:  # a sender that leaves the field out: all of it is the message
        return {}, text
    return data, text[pos + 1 :] if text.startswith(" ", pos) else text[pos:]


def _tz(value: tzinfo | str | None) -> tzinfo:
    if value is None:
        return UTC
    if isinstance(value, str):
        try:
            return ZoneInfo(value)
        except (KeyError, ValueError) as exc:
            raise ConfigError(
                f"unknown time zone {value!r} for the syslog reader", code="bad_option"
            ) from exc
    return value


@readers.register("syslog")
class SyslogReader(FileReader):
    name = "syslog"
    kind = "syslog"

    def __init__(self, *, year: int | None = None, tz: tzinfo | str | None = None) -> None:
        #: year of RFC 3164 timestamps; None: the file's modification year (with roll-back)
        self.year = year
        #: zone of timestamps that carry none (RFC 3164)
        self.tz = _tz(tz)

    @classmethod
    def sniff(cls, head: bytes, path: Path) -> int:
        name = strip_gz(path.name.lower())
        by_name = 30 if _LOG_NAMES.search(name) else 20 if name.endswith(".log") else 0
        if b"\x00" in head[:4096]:
            return 0
        for raw in head.split(b"\n", 8)[:8]:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if not line.strip():
                continue
            if _RFC5424.match(line):
                return 80
            m = _RFC3164.match(line) or _PRECISE.match(line)
            if m and (m.group("pri") or _has_tag(m.group("body"))):
                return 75
            return by_name
        return by_name

    def lines(self, head: bytes) -> bool | None:
        return True

    def read(self, path: Path, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[RawBatch]:
        with open_input(path) as inp:
            yield from self.read_input(path, inp, batch_size=batch_size)

    def read_input(self, path: Path, inp: ReadableInput, *, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[RawBatch]:
        spath = str(path)
        if self.year is not None:
            year, ref_month = self.year, 12
        else:
            mtime = datetime.fromtimestamp(path.stat().st_mtime, self.tz)
            year, ref_month = mtime.year, mtime.month
        parse = self._parser(year, ref_month)
        records: list[dict[str, Any]] = []
        positions: list[int] = []
        dead: list[DeadLetter] = []
        lineno = 0
        offset = 0
        readline = inp.stream.readline
        try:
            while line := readline(MAX_LINE + 1):
                lineno += 1
                start = offset
                offset += len(line)
                if len(line) > MAX_LINE and not line.endswith(b"\n"):
                    while (more := readline(MAX_LINE)) and not more.endswith(b"\n"):  # skip the rest
                        offset += len(more)
                    offset += len(more)
                    dead.append(
                        DeadLetter(
                            Origin(self.name, spath, lineno, start),
                            STAGE,
                            "bad_line",
                            f"line longer than {MAX_LINE} bytes",
                            raw_text(line),
                        )
                    )
                elif b"\x00" in line:
                    dead.append(
                        DeadLetter(
                            Origin(self.name, spath, lineno, start),
                            STAGE,
                            "bad_line",
                            "line holds NUL bytes (binary data?)",
                            raw_text(line),
                        )
                    )
                else:
                    text = line.decode("utf-8", "replace").rstrip("\r\n")
                    if not text or text.isspace():
                        continue
                    try:
                        records.append(parse(text))
                        positions.append(lineno)
                    except NotSyslog as exc:
                        dead.append(
                            DeadLetter(
                                Origin(self.name, spath, lineno, start),
                                STAGE,
                                "not_syslog",
                                f"not a syslog line: {exc}",
                                text[: DeadLetter.RAW_LIMIT],
                            )
                        )
                if len(records) >= batch_size or len(dead) >= batch_size:
                    yield RawBatch(self.name, spath, self.kind, records, positions, dead, inp.consumed())
                    records, positions, dead = [], [], []
        except GZIP_ERRORS as exc:
            code, message = gzip_error(exc)
            dead.append(DeadLetter(Origin(self.name, spath, lineno + 1, offset), STAGE, code, message))
        if records or dead:
            yield RawBatch(self.name, spath, self.kind, records, positions, dead, inp.consumed())

    def _parser(self, year: int, ref_month: int) -> Any:
        """A function: line text -> record dict, raising :class:`NotSyslog`."""
        tz = self.tz
        cache: dict[tuple[str, str, str], str] = {}

        def iso(text: str) -> str:
            try:
                dt = datetime.fromisoformat(text)
            except ValueError as exc:
                raise NotSyslog(f"invalid timestamp {text!r}") from exc
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=tz)
            return dt.astimezone(UTC).isoformat()

        def bsd_time(mon: str, day: str, clock: str) -> str:
            key = (mon, day, clock)
            hit = cache.get(key)
            if hit is not None:
                return hit
            month = MONTHS.get(mon)
            if month is None:
                raise NotSyslog(f"unknown month {mon!r}")
            y = year - 1 if month > ref_month else year
            try:
                dt = datetime(y, month, int(day), int(clock[:2]), int(clock[3:5]), int(clock[6:8]), tzinfo=tz)
            except ValueError as exc:
                raise NotSyslog(f"invalid timestamp {mon} {day} {clock}: {exc}") from exc
            if len(cache) > 4096:
                cache.clear()
            value = cache[key] = dt.astimezone(UTC).isoformat()
            return value

        def pri(record: dict[str, Any], text: str | None) -> None:
            if text is not None:
                value = int(text)
                if value > 191:
                    raise NotSyslog(f"PRI {value} is out of range (0-191)")
                record["facility"] = FACILITIES[value >> 3]
                record["severity"] = SEVERITIES[value & 7]

        def tag_and_message(record: dict[str, Any], body: str) -> None:
            m = _TAG.match(body)
            if m is None:  # the first word is the host name
                host, _, body = body.partition(" ")
                if host:
                    record["hostname"] = host
                m = _TAG.match(body)
            if m is not None:
                record["appname"] = m.group("tag")
                if m.group("pid"):
                    record["procid"] = m.group("pid")
                body = body[m.end() :]
            record["message"] = body

        def parse(text: str) -> dict[str, Any]:
            record: dict[str, Any] = {}
            if text[0] == "<" and (m := _RFC5424.match(text)):
                if m.group("ts") != "-":
                    record["timestamp"] = iso(m.group("ts"))
                for key, group in (
                    ("hostname", "host"),
                    ("appname", "app"),
                    ("procid", "procid"),
                    ("msgid", "msgid"),
                ):
                    value = m.group(group)
                    if value != "-":
                        record[key] = value
                pri(record, m.group("pri"))
                data, message = parse_structured_data(m.group("rest") or "-")
                record["message"] = message[1:] if message.startswith("\ufeff") else message
                record["structured_data"] = data
                record["syslog_format"] = "rfc5424"
                return record
            if m := _RFC3164.match(text):
                record["timestamp"] = bsd_time(m.group("mon"), m.group("day"), m.group("time"))
            elif m := _PRECISE.match(text):
                record["timestamp"] = iso(m.group("ts"))
            else:
                raise NotSyslog(
                    "no syslog header (expected '<PRI>1 TIMESTAMP ...', 'Mmm dd hh:mm:ss HOST ...' "
                    "or 'YYYY-MM-DDThh:mm:ss HOST ...')"
                )
            pri(record, m.group("pri"))
            tag_and_message(record, m.group("body"))
            record["syslog_format"] = "rfc3164"
            return record

        return parse
