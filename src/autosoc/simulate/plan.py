"""``generate``: the organisation, the stories, then every file, one day at a time.

Each output file gets its own ``random.Random`` seeded from the scenario seed and the file's
identity (source, host, day), so the output is byte-identical for the same arguments and a
file does not change when another generator changes.  Only one day of one source is held in
memory at a time.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from autosoc.errors import ConfigError
from autosoc.simulate import cloudtrail, entra, zeek
from autosoc.simulate.clock import to_dt
from autosoc.simulate.ids import alnum
from autosoc.simulate.org import Organisation, build_org
from autosoc.simulate.presence import Segment, schedule
from autosoc.simulate.stories import cloud_key, mfa_fatigue, oauth_consent, ransomware, web_beacon
from autosoc.simulate.stories.base import Story
from autosoc.simulate.truth import identities_csv, scenario_document, truth_document, write_json
from autosoc.simulate.windows.benign import admin_visits, server_day, workstation_day
from autosoc.simulate.windows.events import WinLog
from autosoc.simulate.writers import Item, Output, RecordNumbers

GENERATED = ("windows", "entra", "aws", "zeek", "identities.csv", "scenario.json", "truth.json", "README.txt")
#: file key: ("windows", HOST, day) | ("entra_signin", day) | ("entra_audit", day) | ("cloudtrail", ACCT, REGION, hour)
#: | ("zeek", day)
FileKey = tuple[str, ...]


@dataclass(slots=True)
class Summary:
    out: Path
    counts: dict[str, int]
    files: int
    stories: list[Story]


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a directory", code="bad_output")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "scenario.json").is_file():
            raise ConfigError(f"--out {out} is not empty and holds no earlier scenario; give an empty or new "
                              "directory", code="bad_output")
        for name in GENERATED:  # an earlier scenario: replace it
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)


def plan_stories(org: Organisation, segments: dict[str, dict[date, tuple[Segment, ...]]]) -> list[Story]:
    """One story of each kind, each on a seeded day after the first few (baselines need history)."""
    rng = random.Random(f"{org.seed}/stories")
    first = min(3, org.days - 1)
    days = org.dates[first:]
    weekdays = [d for d in days if d.weekday() < 5] or days

    def pick(pool: list[date]) -> date:
        return pool[rng.randrange(len(pool))]

    def srng(name: str) -> random.Random:
        return random.Random(f"{org.seed}/story/{name}")

    return [
        oauth_consent.build(org, pick(days), srng("a")),
        mfa_fatigue.build(org, pick(weekdays), srng("b"), segments),
        ransomware.build(org, pick(weekdays), srng("c"), segments),
        cloud_key.build(org, pick(days), srng("d")),
        web_beacon.build(org, pick(days), srng("e")),
    ]


def _file_key(sink: tuple[str, ...], us: int) -> FileKey:
    day = to_dt(us).date().isoformat()
    if sink[0] == "cloudtrail":
        return (*sink, to_dt(us).strftime("%Y%m%dT%H"))
    return (*sink, day)


def generate(*, days: int, users: int, seed: int, out: Path, start: date,
             progress: Callable[[str], None] | None = None) -> Summary:
    if not 1 <= days <= 366:
        raise ConfigError(f"--days must be between 1 and 366, got {days}", code="bad_option")
    if not 5 <= users <= 20_000:
        raise ConfigError(f"--users must be between 5 and 20000, got {users}", code="bad_option")
    out = Path(out)
    _prepare(out)
    org = build_org(seed, users, start, days)
    segs = schedule(seed, org.users, org.dates)
    stories = plan_stories(org, segs)
    pending: dict[FileKey, list[Item]] = {}
    seq = 0
    for story in stories:
        for ev in story.events:
            seq += 1
            pending.setdefault(_file_key(ev.sink, ev.us), []).append((ev.us, -seq, ev.record, (story.id, ev.step)))
    output = Output(out)
    numbers = RecordNumbers(seed)
    for day in org.dates:
        if progress is not None:
            progress(day.isoformat())
        today = {sam: by_day[day] for sam, by_day in segs.items()}
        _windows_day(org, day, today, pending, output, numbers)
        _entra_day(org, day, today, pending, output)
        _aws_day(org, day, today, pending, output)
        _zeek_day(org, day, today, pending, output)
    # story records past the last day (a story running over midnight)
    for key in sorted(pending):
        _write_key(key, pending.pop(key), output, numbers, seed)
    (out / "identities.csv").write_text(identities_csv(org))
    write_json(out / "truth.json", truth_document(stories, output.placed))
    write_json(out / "scenario.json", scenario_document(org, output.counts, output.files, stories))
    (out / "README.txt").write_text(README.format(days=days, users=users, seed=seed, start=start.isoformat()))
    return Summary(out, dict(output.counts), output.files, stories)


def _collector(items: list[Item]) -> Callable[[int, dict[str, Any]], None]:
    def emit(us: int, record: dict[str, Any]) -> None:
        items.append((us, len(items), record, None))
    return emit


def _windows_rel(host: str, day: str) -> str:
    return f"windows/{host.lower()}/{day}.jsonl"


def _cloudtrail_rel(account: str, region: str, hour: str, seed: int) -> str:
    y, m, d = hour[:4], hour[4:6], hour[6:8]
    unique = alnum(random.Random(f"{seed}/ct/{account}/{region}/{hour}"), 16)
    return (f"aws/AWSLogs/{account}/CloudTrail/{region}/{y}/{m}/{d}/"
            f"{account}_CloudTrail_{region}_{hour}00Z_{unique}.json.gz")


def _write_key(key: FileKey, items: list[Item], output: Output, numbers: RecordNumbers, seed: int) -> None:
    kind = key[0]
    if kind == "windows":
        output.write_jsonl(_windows_rel(key[1], key[2]), "windows", items, numbers.finalizer(key[1]))
    elif kind == "entra_signin":
        output.write_jsonl(f"entra/signins/{key[1]}.jsonl", "entra_signin", items)
    elif kind == "entra_audit":
        output.write_jsonl(f"entra/audit/{key[1]}.jsonl", "entra_audit", items)
    elif kind == "zeek":
        output.write_jsonl(f"zeek/conn.{key[1]}.jsonl", "zeek", items)
    else:
        output.write_cloudtrail(_cloudtrail_rel(key[1], key[2], key[3], seed), items)


def _windows_day(org: Organisation, day: date, today: dict[str, tuple[Segment, ...]],
                 pending: dict[FileKey, list[Item]], output: Output, numbers: RecordNumbers) -> None:
    visits = admin_visits(org.seed, org, day, today)
    for host in org.hosts:
        items: list[Item] = []
        rng = random.Random(f"{org.seed}/windows/{host.name}/{day.isoformat()}")
        log = WinLog(host, rng, _collector(items), seed=org.seed)
        if host.role == "workstation":
            user = org.by_sam[host.owner or ""]
            workstation_day(log, org, user, day, today[user.sam], visits)
        else:
            server_day(log, org, day, today, visits)
        key = ("windows", host.name, day.isoformat())
        items.extend(pending.pop(key, []))
        _write_key(key, items, output, numbers, org.seed)


def _entra_day(org: Organisation, day: date, today: dict[str, tuple[Segment, ...]],
               pending: dict[FileKey, list[Item]], output: Output) -> None:
    for kind, fn in (("entra_signin", entra.signins_day), ("entra_audit", entra.audit_day)):
        items: list[Item] = []
        fn(random.Random(f"{org.seed}/{kind}/{day.isoformat()}"), org, day, today, _collector(items))
        key = (kind, day.isoformat())
        items.extend(pending.pop(key, []))
        _write_key(key, items, output, RecordNumbers(0), org.seed)


def _aws_day(org: Organisation, day: date, today: dict[str, tuple[Segment, ...]],
             pending: dict[FileKey, list[Item]], output: Output) -> None:
    files: dict[FileKey, list[Item]] = {}

    def emit(account: str, region: str, us: int, record: dict[str, Any]) -> None:
        items = files.setdefault(_file_key(("cloudtrail", account, region), us), [])
        items.append((us, len(items), record, None))

    cloudtrail.aws_day(random.Random(f"{org.seed}/cloudtrail/{day.isoformat()}"), org, day, today, emit)
    stamp = day.strftime("%Y%m%d")
    for key in [k for k in pending if k[0] == "cloudtrail" and k[3].startswith(stamp)]:
        files.setdefault(key, []).extend(pending.pop(key))
    for key in sorted(files):
        if key[3].startswith(stamp):
            _write_key(key, files[key], output, RecordNumbers(0), org.seed)
        else:  # a record stamped after midnight: it goes with the next day's files
            pending.setdefault(key, []).extend(files[key])


def _zeek_day(org: Organisation, day: date, today: dict[str, tuple[Segment, ...]],
              pending: dict[FileKey, list[Item]], output: Output) -> None:
    items: list[Item] = []
    zeek.zeek_day(random.Random(f"{org.seed}/zeek/{day.isoformat()}"), org, day, today, _collector(items))
    key = ("zeek", day.isoformat())
    items.extend(pending.pop(key, []))
    _write_key(key, items, output, RecordNumbers(0), org.seed)


README = """autosoc simulate: a synthetic organisation's telemetry with injected attack stories.

Parameters: --days {days} --users {users} --seed {seed} --start {start}

Layout (every file is in the vendor's own format; autosoc's readers take them as they are):
  windows/<host>/<YYYY-MM-DD>.jsonl   Sysmon, Security and System events, evtx-JSON shape
                                      ({{"Event": {{"System": ..., "EventData": ...}}}}), one per line
  entra/signins/<YYYY-MM-DD>.jsonl    Entra ID sign-ins: Microsoft Graph signIn resources, one per line
  entra/audit/<YYYY-MM-DD>.jsonl      Entra ID audit log: Graph directoryAudit resources, one per line
  aws/AWSLogs/<account>/CloudTrail/<region>/<Y>/<M>/<D>/<account>_CloudTrail_<region>_<YYYYMMDDTHH00Z>_<id>.json.gz
                                      CloudTrail log files ({{"Records": [...]}}), one per account, region, hour
  zeek/conn.<YYYY-MM-DD>.jsonl        Zeek conn.log, JSON lines, from the perimeter sensor
  identities.csv                      the HR / identity inventory
  scenario.json                       parameters, counts per source, the IP plan (VPN egress, offices, ...)
  truth.json                          the attack stories: times, entities, and the origin (path + record) of
                                      every attack event; record = 1-based line, or index in Records
Everything not listed in truth.json is benign.
"""
