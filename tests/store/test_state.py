"""The state store on SQLite and PostgreSQL: migrations, idempotent upserts, atomic checkpoints, reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from autosoc.errors import Origin, StoreError
from autosoc.schema import DeadLetter, Entity, Incident, Signal
from autosoc.store.state import StateStore
from autosoc.store.state.engine import make_engine, parse_url
from autosoc.store.state.incidents import IncidentRow, incident_row
from autosoc.store.state.migrate import head_revision
from autosoc.store.state.runtime import ComponentStateRow, CursorRow
from autosoc.store.state.signals import SignalRow, signal_row
from autosoc.store.state.tables import metadata
from autosoc.store.state.transaction import StateTransaction

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_signal(n: int, *, time: datetime | None = T0, level: str = "high", **extra: object) -> Signal:
    return Signal(
        rule_id=f"rule-{n % 7}", title=f"Suspicious thing {n}", level=level, status="stable",
        tags=["attack.execution", "attack.t1059.001"], event_ids=[f"ev{n:06d}"],
        origins=[Origin("evtx", "C:/logs/Security.evtx", n, None, None)], time=time,
        host="WS01.corp.example", user="CORP\\alice", matched={"CommandLine": "powershell -enc …", "Image": "x"},
        rule_path="rules/windows/x.yml", entities=[Entity("ip", "10.0.0.5")], explanation=f"because {n}",
        **extra,  # type: ignore[arg-type]
    )


def make_incident(incident_id: str, *, status: str = "open", last_seen: datetime = T0, **extra: object) -> Incident:
    return Incident(
        incident_id=incident_id, title=f"Incident {incident_id}", severity="high", risk=123.5,
        first_seen=last_seen - timedelta(hours=1), last_seen=last_seen, signal_ids=["s1", "s2"],
        entities=[Entity("user", "alice"), Entity("host", "ws01"), Entity("cloud_principal", "arn:aws:iam::1:user/a")],
        tactics=["initial-access", "execution"], techniques=["T1078", "T1059.001"], status=status,
        reason="entity user:alice crossed 100", **extra,  # type: ignore[arg-type]
    )


# -- migrations ---------------------------------------------------------------------------


def test_unmigrated_database_says_to_run_migrations(store_url: str) -> None:
    with StateStore(store_url) as store:
        assert store.revision() is None
        with pytest.raises(StoreError, match=r"no autosoc schema.*run the migrations") as caught:
            store.incidents()
        assert caught.value.code == "not_migrated"
        with pytest.raises(StoreError, match="run the migrations"), store.transaction():
            pass


def test_migrate_from_empty_matches_the_tables(store_url: str) -> None:
    with StateStore(store_url) as store:
        assert store.migrate() == head_revision() == "0001"
        assert store.migrate() == "0001"  # a second run has nothing to do
        assert store.revision() == "0001"
        assert store.last_checkpoint() == 0
        assert store.counts() == {"cursors": 0, "component_state": 0, "signals": 0, "incidents": 0,
                                  "dead_letters": 0, "checkpoints": 0, "last_checkpoint": 0}
    engine = create_engine(store_url)
    with engine.connect() as connection:  # the migration creates exactly what the ORM models declare
        diffs = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata)
        assert diffs == []
        if engine.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_a_database_from_a_newer_autosoc_is_refused(store: StateStore, store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    engine.dispose()
    with StateStore(store_url) as newer:
        with pytest.raises(StoreError, match="revision f00dfeed, which this autosoc does not know") as caught:
            newer.last_checkpoint()
        assert caught.value.code == "schema_too_new"
        with pytest.raises(StoreError, match="migrated by a newer autosoc"):
            newer.migrate()


def test_sqlite_connections_are_configured(tmp_path) -> None:
    with StateStore.open(f"sqlite:///{tmp_path / 'a' / 'b' / 'state.db'}") as store:
        engine = store._engine
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    assert (tmp_path / "a" / "b" / "state.db").exists()


# -- signals ------------------------------------------------------------------------------


def test_same_signals_twice_give_one_row_each(store: StateStore) -> None:
    signals = [make_signal(n) for n in range(5)]
    for _ in range(2):
        with store.transaction() as tx:
            tx.upsert_signals(signals + signals[:2], {signals[0].signal_id: "inc-1"})
    rows = store.signals()
    assert len(rows) == 5 == store.counts()["signals"]
    assert {row["signal_id"] for row in rows} == {s.signal_id for s in signals}
    first = next(row for row in rows if row["signal_id"] == signals[0].signal_id)
    assert first["incident_id"] == "inc-1"
    assert first["risk"] == 50 and first["level"] == "high"
    assert first["origins"] == [{"source": "evtx", "path": "C:/logs/Security.evtx", "record": 0,
                                 "offset": None, "field": None}]
    assert first["matched"] == {"CommandLine": "powershell -enc …", "Image": "x"}
    assert first["entities"] == ["ip:10.0.0.5"] and first["tags"] == ["attack.execution", "attack.t1059.001"]
    assert first["user"] == "CORP\\alice" and first["explanation"] == "because 0"


def test_upsert_replaces_fields_and_keeps_or_moves_the_incident(store: StateStore) -> None:
    signal = make_signal(1)
    later = make_signal(2)
    with store.transaction() as tx:
        tx.upsert_signals([signal, later], {signal.signal_id: "inc-1"})
    signal.title, signal.risk = "Renamed", 77
    with store.transaction() as tx:  # no mapping given: the stored incident stays
        tx.upsert_signals([signal])
    (row,) = store.signals(incident_id="inc-1")
    assert row["title"] == "Renamed" and row["risk"] == 77
    with store.transaction() as tx:  # an incident that opens later takes in a stored signal, and merges move one
        tx.upsert_signals([], {later.signal_id: "inc-2", signal.signal_id: "inc-2"})
    assert {r["signal_id"] for r in store.signals(incident_id="inc-2")} == {signal.signal_id, later.signal_id}
    assert store.signals(incident_id="inc-1") == []


def test_thousands_of_signals_in_one_checkpoint(store: StateStore) -> None:
    signals = [make_signal(n, time=T0 + timedelta(seconds=n)) for n in range(3000)]
    incident_of = {s.signal_id: f"inc-{i % 10}" for i, s in enumerate(signals)}
    with store.transaction() as tx:
        tx.upsert_signals(signals, incident_of)
        tx.put_component_state("baseline", {f"user:{n}": f"{n}".encode() for n in range(3000)})
        tx.put_component_state("baseline", {f"user:{n}": b"" for n in range(0, 3000, 2)})
        tx.add_checkpoint(events=100_000, signals=3000)
    with store.transaction() as tx:
        tx.upsert_signals(signals, incident_of)
    assert store.counts()["signals"] == 3000
    assert len(store.signals(incident_id="inc-3", limit=10_000)) == 300
    assert len(store.component_state("baseline")) == 1500
    page = store.signals(limit=10, offset=5)
    assert [row["time"] for row in page] == [T0 + timedelta(seconds=n) for n in range(5, 15)]


def test_signals_since_and_order(store: StateStore) -> None:
    signals = [make_signal(1, time=T0 + timedelta(minutes=10)), make_signal(2, time=None), make_signal(3, time=T0)]
    with store.transaction() as tx:
        tx.upsert_signals(signals)
    assert [r["title"] for r in store.signals()] == ["Suspicious thing 3", "Suspicious thing 1", "Suspicious thing 2"]
    paris = timezone(timedelta(hours=2))
    since = datetime(2024, 5, 1, 14, 5, tzinfo=paris)  # 12:05 UTC
    assert [r["title"] for r in store.signals(since=since)] == ["Suspicious thing 1"]
    with pytest.raises(StoreError, match="must not be negative"):
        store.signals(limit=-1)


# -- time zones -----------------------------------------------------------------------------


def test_datetimes_come_back_aware_utc(store: StateStore) -> None:
    tokyo = timezone(timedelta(hours=9))
    aware = make_signal(1, time=datetime(2024, 5, 1, 21, 30, 15, 123456, tzinfo=tokyo))
    naive = make_signal(2, time=datetime(2024, 5, 1, 12, 30))  # naive means UTC
    incident = make_incident("inc-tz", last_seen=datetime(2024, 1, 1, 3, 0, tzinfo=tokyo))
    with store.transaction() as tx:
        tx.upsert_signals([aware, naive])
        tx.upsert_incidents([incident])
    times = {row["signal_id"]: row["time"] for row in store.signals()}
    assert times[aware.signal_id] == datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    assert times[aware.signal_id].utcoffset() == timedelta(0)
    assert times[naive.signal_id] == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert times[naive.signal_id].tzinfo is not None
    loaded = store.incident("inc-tz")
    assert loaded is not None
    assert loaded.last_seen == datetime(2023, 12, 31, 18, 0, tzinfo=UTC)
    assert loaded.last_seen.utcoffset() == timedelta(0)


# -- incidents ------------------------------------------------------------------------------


def test_incidents_round_trip(store: StateStore) -> None:
    a = make_incident("inc-a", last_seen=T0)
    b = make_incident("inc-b", last_seen=T0 + timedelta(hours=2))
    c = make_incident("inc-c", status="merged", merged_into="inc-a", last_seen=T0 + timedelta(hours=1))
    with store.transaction() as tx:
        tx.upsert_incidents([a, b, c])
    loaded = store.incident("inc-a")
    assert loaded == a  # every field, entities as Entity, tactics in kill-chain order
    assert loaded is not None and loaded.entities[2] == Entity("cloud_principal", "arn:aws:iam::1:user/a")
    assert [i.incident_id for i in store.incidents()] == ["inc-b", "inc-c", "inc-a"]  # most recent first
    assert [i.incident_id for i in store.incidents(status="open")] == ["inc-b", "inc-a"]
    assert [i.incident_id for i in store.incidents(limit=1, offset=1)] == ["inc-c"]
    assert store.incident("nope") is None
    assert store.counts()["incidents_open"] == 2 and store.counts()["incidents_merged"] == 1

    a.status, a.risk, a.signal_ids = "closed", 10.0, ["s1", "s2", "s3"]
    with store.transaction() as tx:
        tx.upsert_incidents([a, a])
    assert store.incident("inc-a") == a
    assert store.counts()["incidents"] == 3


def test_created_at_is_kept_on_update(store: StateStore, store_url: str) -> None:
    incident = make_incident("inc-x")
    with store.transaction() as tx:
        tx.upsert_incidents([incident])
    engine = create_engine(store_url)
    query = text("SELECT created_at, updated_at FROM incidents WHERE incident_id = 'inc-x'")
    with engine.connect() as connection:
        created, _ = connection.execute(query).one()
    with store.transaction() as tx:
        tx.upsert_incidents([incident])
    with engine.connect() as connection:
        created_again, updated = connection.execute(query).one()
    engine.dispose()
    assert created_again == created and updated >= created


# -- checkpoints, atomicity -------------------------------------------------------------------


def test_an_exception_inside_the_transaction_leaves_nothing(store: StateStore) -> None:
    with pytest.raises(RuntimeError, match="crash"), store.transaction() as tx:
        tx.put_cursors("evtx", {"a.evtx": {"record": 10}})
        tx.put_component_state("incidents", {"k": b"state"})
        tx.upsert_signals([make_signal(1)], {})
        tx.upsert_incidents([make_incident("inc-1")])
        tx.add_dead_letters([DeadLetter(Origin("jsonl", "x.jsonl", 3), "ingest", "invalid_json", "bad")])
        tx.set_meta("lake", "/data/lake")
        assert tx.add_checkpoint(events=10, signals=1) == 1
        raise RuntimeError("crash")
    assert store.counts() == {"cursors": 0, "component_state": 0, "signals": 0, "incidents": 0,
                              "dead_letters": 0, "checkpoints": 0, "last_checkpoint": 0}
    assert store.meta("lake") is None


def test_checkpoint_sequence(store: StateStore) -> None:
    assert store.last_checkpoint() == 0
    with store.transaction() as tx:
        assert tx.add_checkpoint(events=5, signals=0) == 1
    with store.transaction() as tx:
        assert tx.add_checkpoint(events=5, signals=2, seq=7) == 7
    with pytest.raises(StoreError, match="not after the last committed checkpoint 7") as caught, \
            store.transaction() as tx:
        tx.put_cursors("evtx", {"a": {"n": 1}})
        tx.add_checkpoint(events=1, signals=0, seq=7)
    assert caught.value.code == "checkpoint_conflict"
    assert store.cursors("evtx") == {}  # rolled back with it
    assert store.last_checkpoint() == 7 and store.counts()["checkpoints"] == 2


# -- cursors, component state, dead letters, meta -----------------------------------------------------


def test_cursors_round_trip(store: StateStore) -> None:
    cursors = {"/var/log/auth.log": {"offset": 123456789012, "inode": 42, "line": 7},
               "C:/logs/Sécurité.evtx": {"record": 99, "chunks": [1, 2], "nested": {"k": None}}}
    with store.transaction() as tx:
        tx.put_cursors("files", cursors)
        tx.put_cursors("other", {"x": {"n": 1}})
    assert store.cursors("files") == cursors
    with store.transaction() as tx:
        tx.put_cursors("files", {"/var/log/auth.log": {"offset": 5}, "C:/logs/Sécurité.evtx": None})
    assert store.cursors("files") == {"/var/log/auth.log": {"offset": 5}}
    assert store.cursors("other") == {"x": {"n": 1}}
    assert store.cursors("missing") == {}


def test_component_state_delete_by_empty_value(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.put_component_state("correlation", {"r1|alice": b"\x00\x01binary", "r1|bob": b"b", "r2|x": b"x"})
        tx.put_component_state("baseline", {"alice": b"other component"})
    with store.transaction() as tx:  # a dirty snapshot: one changed, one deleted
        tx.put_component_state("correlation", {"r1|bob": b"bb", "r2|x": b"", "never-existed": b""})
    assert store.component_state("correlation") == {"r1|alice": b"\x00\x01binary", "r1|bob": b"bb"}
    assert store.component_state("baseline") == {"alice": b"other component"}


def test_component_states_of_several_components_in_one_call(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.put_component_states({"correlation": {"r1|alice": b"a", "r1|bob": b"b"}, "baseline": {"alice": b"x"}})
    with store.transaction() as tx:
        tx.put_component_states({"correlation": {"r1|alice": b"", "r1|bob": b"bb"}, "baseline": {},
                                 "prevalence": {"p": b"\x00"}})
    assert store.component_state("correlation") == {"r1|bob": b"bb"}
    assert store.component_state("baseline") == {"alice": b"x"}
    assert store.component_state("prevalence") == {"p": b"\x00"}


def test_bulk_writes_store_what_sqlalchemy_binds(store_url: str) -> None:
    """The transaction binds its rows itself (one executemany per table): the database must hold
    exactly what SQLAlchemy's own insert of the same rows holds, on both backends."""
    StateStore.open(store_url).close()
    now = datetime(2024, 5, 1, 14, 30, 15, 120, tzinfo=timezone(timedelta(hours=2)))
    signals = [make_signal(n) for n in range(1, 5)]
    signals[1].time = signals[1].host = signals[1].user = signals[1].rule_path = None
    signals[2].time, signals[2].title = datetime(987, 1, 2, 3, 4, 5), "NUL \x00 inside"
    signals[2].matched = {"k\x00": "v\x00"}
    signals[3].time = datetime(2024, 5, 1, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    incident_of = {signals[0].signal_id: "inc-1", signals[3].signal_id: "inc-2"}
    incidents = [make_incident("inc-1"), make_incident("inc-2", status="closed", merged_into="inc-1")]
    states = {"correlation": {"r1|alice": b"\x00\x01binary", "r2": bytearray(b"b")}, "baseline": {"k": b"v"}}
    cursors = {"/logs/a.jsonl": {"offset": 10, "inode": 5, "fingerprint": "ab\x00"}, "/logs/b": {"offset": 0}}
    tables = {"signals": SignalRow.__table__, "incidents": IncidentRow.__table__,
              "component_state": ComponentStateRow.__table__, "cursors": CursorRow.__table__}
    engine = make_engine(parse_url(store_url))
    try:
        with engine.connect() as connection, connection.begin():
            tx = StateTransaction(connection, now)
            tx.upsert_signals(signals, incident_of)
            tx.upsert_incidents(incidents)
            tx.put_component_states(states)
            tx.put_cursors("tail", cursors)
            bulk = {name: connection.exec_driver_sql(f"SELECT * FROM {name} ORDER BY 1, 2").all() for name in tables}
            for table in tables.values():
                connection.execute(table.delete())
            connection.execute(tables["signals"].insert(),
                               [signal_row(s, incident_of.get(s.signal_id)) for s in signals])
            connection.execute(tables["incidents"].insert(), [incident_row(i, now) for i in incidents])
            connection.execute(tables["component_state"].insert(), [
                {"component": c, "key": k, "value": bytes(v), "updated_at": now}
                for c, state in states.items() for k, v in state.items()])
            connection.execute(tables["cursors"].insert(), [
                {"source": "tail", "key": k, "cursor": v, "updated_at": now} for k, v in cursors.items()])
            reference = {name: connection.exec_driver_sql(f"SELECT * FROM {name} ORDER BY 1, 2").all()
                         for name in tables}
    finally:
        engine.dispose()
    assert [len(rows) for rows in bulk.values()] == [4, 2, 3, 2]
    assert bulk == reference


def test_dead_letters_and_meta(store: StateStore) -> None:
    letters = [DeadLetter(Origin("jsonl", "/x/app.jsonl", 3, 120, None), "ingest", "invalid_json",
                          "unexpected character", raw='{"a": \x00 bad'),
               DeadLetter(Origin("evtx", "/x/a.evtx", None), "ingest", "bad_evtx_chunk", "chunk 4 is corrupt")]
    with store.transaction() as tx:
        tx.add_dead_letters(letters)
        tx.set_meta("lake", "/data/lake")
        tx.set_meta("lake", "/data/lake2")
    rows = store.dead_letters()
    assert [(r["source"], r["path"], r["record"], r["offset"], r["code"]) for r in rows] == [
        ("jsonl", "/x/app.jsonl", 3, 120, "invalid_json"), ("evtx", "/x/a.evtx", None, None, "bad_evtx_chunk")]
    assert rows[0]["raw"] == '{"a": \ufffd bad'  # NUL cannot be stored in PostgreSQL text: replaced everywhere
    assert rows[0]["created_at"].tzinfo is not None
    assert store.meta("lake") == "/data/lake2"
    assert store.counts()["dead_letters"] == 2


def test_nul_characters_in_signal_json(store: StateStore) -> None:
    signal = make_signal(1)
    signal.matched = {"CommandLine": "a\x00b"}
    with store.transaction() as tx:
        tx.upsert_signals([signal])
    assert store.signals()[0]["matched"] == {"CommandLine": "a\ufffdb"}


# -- errors -------------------------------------------------------------------------------------


def test_unreachable_postgresql_is_a_clear_error() -> None:
    store = StateStore("postgresql://autosoc:s3cret-pw@127.0.0.1:1/state")
    with pytest.raises(StoreError) as caught:
        store.migrate()
    message = str(caught.value)
    assert caught.value.code == "store_unavailable"
    assert message.startswith("cannot connect to PostgreSQL at 127.0.0.1:1/state")
    assert "Start PostgreSQL or fix the URL" in message
    assert "s3cret-pw" not in message and "s3cret-pw" not in store.url and "s3cret-pw" not in repr(store)
    assert isinstance(caught.value.__cause__, Exception)


@pytest.mark.parametrize(("url", "pattern"), [
    ("not a url", "bad state database URL"),
    ("mysql://u:topsecret@h/db", "unsupported state database"),
])
def test_bad_urls(url: str, pattern: str) -> None:
    with pytest.raises(StoreError, match=pattern) as caught:
        StateStore(url)
    assert caught.value.code == "bad_url" and "topsecret" not in str(caught.value)


def test_unwritable_sqlite_path(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the folder") as caught:
        StateStore(f"sqlite:///{blocker / 'state.db'}")
    assert caught.value.code == "store_unavailable"
