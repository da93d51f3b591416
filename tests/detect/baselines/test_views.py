"""Views shared by the detectors of a batch: built once per batch, never carried over to the next."""

from __future__ import annotations

import polars as pl

from autosoc.detect.baselines import _views as V
from autosoc.detect.baselines import build_baselines
from autosoc.normalize import fields as F
from autosoc.schema import EventBatch
from tests.detect.baselines.events import at, batch, by_day, dicts, event, run, signin

HOME = {F.SRC_ASN: "100", F.SRC_ASN_ORG: "ISP A", F.SRC_COUNTRY: "RO", F.SRC_CITY: "Bucharest",
        F.SRC_IP: "81.0.0.1", F.SRC_LAT: "44.43", F.SRC_LONG: "26.10", F.APP_NAME: "Outlook",
        F.USER_DEPARTMENT: "Finance"}
AWAY = {**HOME, F.SRC_ASN: "12345", F.SRC_ASN_ORG: "ISP X", F.SRC_COUNTRY: "BR", F.SRC_CITY: "Recife",
        F.SRC_IP: "5.5.5.5", F.SRC_LAT: "-8.05", F.SRC_LONG: "-34.90", F.APP_NAME: "AWS Console"}
CONFIG = {"detectors": [{"type": "first_seen"}, {"type": "peer_group", "min_peers": 1},
                        {"type": "impossible_travel"}, {"type": "rare_time", "learning_days": 7, "min_active_days": 5,
                                                        "min_active_hours": 10}, {"type": "volume"}]}


def _proc(day: int, image: str, parent: str = "C:\\Windows\\explorer.exe", user: str = "alice") -> dict:
    return event(at(day, 10), 1007, **{F.HOST: f"WS-{user}.corp.example", F.USER: user, F.PROCESS_PATH: image,
                                       F.PARENT_PATH: parent, F.USER_DEPARTMENT: "Finance"})


def _conn(day: int, dst: str, port: int) -> dict:
    return event(at(day, 3), 4001, **{F.SRC_IP: "10.0.0.5", F.HOST: "srv1", F.DST_IP: dst, F.DST_PORT: port})


def _rows() -> list[dict]:
    rows = [signin(at(d, 9 + h), user, **HOME) for d in range(20) for h in (0, 3) for user in ("alice", "bob")]
    rows += [_proc(d, "C:\\Windows\\System32\\notepad.exe", user=user) for d in range(20) for user in ("alice", "bob")]
    rows += [_conn(d, f"198.51.100.{d}", 443) for d in range(20)]
    rows += [signin(at(20, 9), "alice", **HOME), signin(at(20, 10), "alice", **AWAY),  # 9,000 km in an hour
             signin(at(21, 2.5), "bob", **AWAY),
             _proc(20, "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                   "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE"),
             _conn(20, "203.0.113.9", 4444)]
    return rows


def test_detectors_of_one_batch_see_what_each_sees_alone() -> None:
    batches = by_day(_rows())
    together = build_baselines(CONFIG)
    interleaved: dict[str, list] = {d.name: [] for d in together}
    for b in batches:
        for detector in together:
            interleaved[detector.name] += dicts(detector.process(b))
    alone = {d.name: dicts(run(d, batches)) for d in build_baselines(CONFIG)}
    assert interleaved == alone
    assert {name for name, signals in alone.items() if signals} >= {
        "first_seen.user_country", "first_seen.user_asn", "first_seen.host_process", "first_seen.host_parent_child",
        "first_seen.server_dst_network", "first_seen.server_dst_port", "peer_group.user_app",
        "peer_group.user_country", "peer_group.user_process", "impossible_travel", "rare_time"}
    together_state = {d.name: d.snapshot() for d in together}
    fresh = build_baselines(CONFIG)
    for detector in fresh:
        run(detector, batches)
    assert together_state == {d.name: d.snapshot() for d in fresh}


def test_a_later_batch_is_not_read_through_an_earlier_view() -> None:
    first, second = by_day([signin(at(0, 9), "carol", **HOME), signin(at(1, 9), "dave", **AWAY)])
    detector = build_baselines({"detectors": [{"type": "first_seen", "features": ["user_country"]}]})[0]
    detector.process(first)
    detector.process(second)
    assert sorted(detector.snapshot()) == ["carol", "dave"]


def test_a_view_is_its_events_in_time_order_ties_by_event_id() -> None:
    rows = [_proc(2, "C:\\a.exe"), _proc(1, "C:\\b.exe"), _conn(1, "198.51.100.1", 443), _proc(1, "C:\\c.exe"),
            _proc(1, "C:\\b.exe"), {**_proc(0, "C:\\d.exe"), F.TIME: None}]  # a twin (same id), no time
    events = batch(rows).events
    view = V.processes(events)
    # as if the whole batch were sorted, then sliced (the twins keep their order), without the untimed event
    expected = events.sort([F.TIME, F.EVENT_ID], nulls_last=True, maintain_order=True).filter(
        (pl.col(F.CLASS_UID) == 1007) & pl.col(F.TIME).is_not_null())
    assert view[F.ORIGIN_RECORD].to_list() == expected[F.ORIGIN_RECORD].to_list()
    assert view[F.ORIGIN_RECORD].to_list()[-1] == 1 and sorted(view[F.ORIGIN_RECORD].to_list()[:3]) == [2, 4, 5]
    assert view[V.SECONDS].to_list() == [int(t.timestamp()) for t in expected[F.TIME]]
    assert view[V.IMAGE].to_list()[-1] == "c:\\a.exe" and V.processes(events) is view  # built once per batch


def test_the_baselines_read_only_the_columns_of_read() -> None:
    batches = by_day(_rows())
    narrow = [EventBatch(events=b.events.select(V.READ), raw=b.raw) for b in batches]
    full, only_read = build_baselines(CONFIG), build_baselines(CONFIG)
    assert [dicts(run(d, narrow)) for d in only_read] == [dicts(run(d, batches)) for d in full]
