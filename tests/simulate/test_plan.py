"""The generator end to end: deterministic, readable by the real readers, truthful, realistic in shape."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from autosoc.errors import ConfigError
from autosoc.ingest.files import discover, read_files
from autosoc.normalize import normalize
from autosoc.simulate import Summary, generate
from autosoc.simulate.clock import local_hour
from autosoc.simulate.org import OFFICES

from .conftest import START

META = ["truth.json", "scenario.json", "identities.csv", "README.txt"]


def _digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_differs(scenario_dir: Path, tmp_path: Path) -> None:
    again = generate(days=3, users=15, seed=11, out=tmp_path / "again", start=START)
    assert _digest(again.out) == _digest(scenario_dir)
    other = generate(days=3, users=15, seed=12, out=tmp_path / "other", start=START)
    a, b = _digest(other.out), _digest(scenario_dir)
    shared = set(a) & set(b)
    assert sum(a[k] != b[k] for k in shared) > len(shared) * 0.9


def test_rerun_replaces_an_earlier_scenario_but_not_foreign_data(tmp_path: Path) -> None:
    out = tmp_path / "s"
    generate(days=1, users=5, seed=1, out=out, start=START)
    generate(days=1, users=5, seed=2, out=out, start=START)  # replaces
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError) as info:
        generate(days=1, users=5, seed=1, out=foreign, start=START)
    assert info.value.code == "bad_output"
    with pytest.raises(ConfigError):
        generate(days=0, users=5, seed=1, out=tmp_path / "x", start=START)


def _read_all(root: Path) -> tuple[list[pl.DataFrame], list[pl.DataFrame], Counter[str], list[tuple[Path, str]]]:
    skipped: list[tuple[Path, str]] = []
    dead: Counter[str] = Counter()
    events, raws = [], []
    for raw in read_files(discover([root], exclude=META), skipped=skipped):
        for batch in normalize(raw):
            dead.update(d.code for d in batch.dead_letters)
            if len(batch):
                events.append(batch.events)
                raws.append(batch.raw)
    return events, raws, dead, skipped


@pytest.fixture(scope="module")
def frames(scenario_dir: Path) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    events, raws, dead, skipped = _read_all(scenario_dir)
    assert not dead, dead
    assert not skipped, skipped
    return pl.concat(events, how="diagonal"), raws


def test_every_file_is_read_with_no_dead_letters(frames: tuple[pl.DataFrame, list[pl.DataFrame]],
                                                 scenario: Summary) -> None:
    events, _ = frames
    assert events.height == sum(scenario.counts.values())
    families = Counter(events["family"].to_list())
    assert families["windows"] == scenario.counts["windows"]
    assert families["cloudtrail"] == scenario.counts["cloudtrail"]
    assert events["time"].null_count() == 0
    sources = Counter(events["origin.source"].to_list())
    assert set(sources) == {"jsonl", "cloudtrail"}


def test_windows_events_have_the_fields_sysmon_writes(frames: tuple[pl.DataFrame, list[pl.DataFrame]]) -> None:
    _, raws = frames
    raw = pl.concat([r for r in raws if "Channel" in r.columns], how="diagonal")
    sysmon1 = raw.filter((pl.col("Channel") == "Microsoft-Windows-Sysmon/Operational") & (pl.col("EventID") == "1"))
    for name in ("Image", "CommandLine", "ParentImage", "ParentCommandLine", "User", "IntegrityLevel", "Hashes",
                 "ProcessGuid", "LogonId", "CurrentDirectory", "OriginalFileName", "Product", "Company",
                 "Description", "Provider_Name", "EventRecordID", "Computer"):
        assert sysmon1[name].null_count() == 0, name
    assert sysmon1["Computer"].str.ends_with(".corp.example").all()
    # EventRecordID increases in time order within each host and channel
    ordered = raw.select("Computer", "Channel", pl.col("EventRecordID").cast(pl.Int64), "TimeCreated_SystemTime")
    for _, group in ordered.group_by("Computer", "Channel"):
        ids = group.sort("TimeCreated_SystemTime", maintain_order=True)["EventRecordID"]
        assert ids.is_sorted(), "EventRecordID must follow time"
        assert ids.n_unique() == len(ids)
    codes = set(zip(raw["Channel"].to_list(), raw["EventID"].to_list(), strict=True))
    for code in (("Security", "4624"), ("Security", "4672"), ("Security", "4688"), ("System", "7045"),
                 ("Microsoft-Windows-Sysmon/Operational", "3"), ("Microsoft-Windows-Sysmon/Operational", "11"),
                 ("Microsoft-Windows-Sysmon/Operational", "13"), ("Microsoft-Windows-Sysmon/Operational", "22"),
                 ("Microsoft-Windows-Sysmon/Operational", "10")):
        assert code in codes, code


def _truth(root: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((root / "truth.json").read_text())


def test_truth_origins_point_at_the_attack_records(scenario_dir: Path,
                                                   frames: tuple[pl.DataFrame, list[pl.DataFrame]]) -> None:
    events, _ = frames
    truth = _truth(scenario_dir)
    assert [s["type"] for s in truth["stories"]] == ["a", "b", "c", "d", "e"]
    index = {(Path(p).relative_to(scenario_dir).as_posix(), r): i for i, (p, r) in
             enumerate(zip(events["origin.path"].to_list(), events["origin.record"].to_list(), strict=True))}
    assert len(index) == events.height  # (path, record) is unique
    for story in truth["stories"]:
        assert story["event_count"] == len(story["events"]) > 0
        rows = events[[index[(e["path"], e["record"])] for e in story["events"]]]
        times = [e["time"][:19] for e in story["events"]]
        assert [t.strftime("%Y-%m-%dT%H:%M:%S") for t in rows["time"].to_list()] == times
        assert story["start"] <= story["end"]
        values = " ".join(str(v) for v in rows.select(pl.all().cast(pl.String)).rows())
        # every entity the truth names appears in the story's records, spelled as there
        for entity in story["entities"]:
            kind, _, value = entity.partition(":")
            if kind in ("ip", "host", "cloud_principal", "oauth_app") or "@" in value:
                assert value.lower() in values.lower() or _in_raw(scenario_dir, story, value), entity


def _in_raw(root: Path, story: dict, value: str) -> bool:  # type: ignore[type-arg]
    """Look the value up in the records' raw text (fields the OCSF columns do not carry)."""
    import gzip

    for e in story["events"][:50]:
        path = root / e["path"]
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        if value.lower().encode() in data.lower():
            return True
    return False


def test_truth_records_are_the_attack_events(scenario_dir: Path) -> None:
    truth = {s["type"]: s for s in _truth(scenario_dir)["stories"]}
    def lines(story: dict) -> list[dict]:  # type: ignore[type-arg]
        out = []
        for e in story["events"]:
            path = scenario_dir / e["path"]
            if path.suffix == ".gz":
                import gzip
                out.append(json.loads(gzip.decompress(path.read_bytes()))["Records"][e["record"] - 1])
            else:
                out.append(json.loads(path.read_bytes().split(b"\n")[e["record"] - 1]))
        return out
    a = lines(truth["a"])
    assert any(r.get("activityDisplayName") == "Consent to application" for r in a)
    assert {r["ipAddress"] for r in a if "ipAddress" in r} == {truth["a"]["details"]["attacker_ip"]}
    b = lines(truth["b"])
    denied = [r for r in b if r.get("status", {}).get("errorCode") == 500121]
    assert len(denied) >= 9 and b[len(denied)]["status"]["errorCode"] == 0
    c = [r["Event"] for r in lines(truth["c"])]
    cmds = " ".join(str(e["EventData"].get("CommandLine", "")) for e in c)
    assert " -enc " in cmds and "comsvcs.dll, MiniDump" in cmds and "delete shadows" in cmds
    assert sum(1 for e in c if str(e["EventData"].get("TargetFilename", "")).endswith(".kraken")) > 100
    assert len({e["System"]["Computer"] for e in c}) == 3
    d = lines(truth["d"])
    assert sum(1 for r in d if r["eventName"] == "GetObject") >= 250
    assert {r["sourceIPAddress"] for r in d} == {truth["d"]["details"]["attacker_ip"]}
    e = lines(truth["e"])
    beacons = [r for r in e if r.get("id.resp_p") == 8443]
    assert len(beacons) >= 240


def test_geoip_agrees_with_the_ip_plan() -> None:
    from geoip2fast import GeoIP2Fast

    from autosoc.simulate import ipplan

    geo = GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn.dat.gz")
    import random
    rng = random.Random(0)
    for pool in ipplan.all_pools():
        for _ in range(5):
            found = geo.lookup(pool.pick(rng)).to_dict()
            assert found["country_code"] == pool.country, (pool.name, found)
            assert found["asn_name"] == pool.asn, (pool.name, found)


def test_identities_match_the_logs(scenario_dir: Path) -> None:
    rows = list(csv.DictReader((scenario_dir / "identities.csv").read_text().splitlines()))
    assert len(rows) == 15
    assert {"user", "upn", "department", "title", "is_admin", "manager", "country"} <= set(rows[0])
    assert any(r["is_admin"] == "true" for r in rows)
    scenario = json.loads((scenario_dir / "scenario.json").read_text())
    assert scenario["ip_plan"]["vpn_egress"] == ["34.201.200.0/28"]
    assert scenario["counts"]["total"] == sum(v for k, v in scenario["counts"].items() if k not in ("total", "files"))


def test_benign_volume_scales_with_users_and_days(tmp_path: Path, scenario: Summary) -> None:
    small = generate(days=3, users=30, seed=11, out=tmp_path / "double", start=START)
    ratio = sum(small.counts.values()) / sum(scenario.counts.values())
    assert 1.5 < ratio < 2.6
    assert 1.6 < small.counts["entra_signin"] / scenario.counts["entra_signin"] < 2.6


def test_interactive_sign_ins_follow_local_office_hours(tmp_path: Path) -> None:
    out = generate(days=7, users=40, seed=3, out=tmp_path / "week", start=date(2026, 11, 2)).out
    users = {r["upn"]: r for r in csv.DictReader((out / "identities.csv").read_text().splitlines())}
    hours, weekend, total = [], 0, 0
    attack_ids = {e["record"] for s in _truth(out)["stories"] for e in s["events"] if "signins" in e["path"]}
    for path in sorted((out / "entra" / "signins").glob("*.jsonl")):
        for n, line in enumerate(path.read_bytes().splitlines(), 1):
            rec = json.loads(line)
            if not rec["isInteractive"] or n in attack_ids:
                continue
            user = users[rec["userPrincipalName"]]
            from datetime import datetime

            from autosoc.simulate.clock import from_dt
            us = from_dt(datetime.fromisoformat(rec["createdDateTime"].replace("Z", "+00:00")))
            tz = OFFICES[user["office"]].tz
            hours.append(local_hour(us, tz))
            total += 1
            weekend += datetime.fromisoformat(rec["createdDateTime"][:10]).weekday() >= 5
    in_hours = sum(6.5 <= h <= 19.5 for h in hours) / len(hours)
    assert in_hours > 0.85, in_hours
    assert weekend / total < 0.05
