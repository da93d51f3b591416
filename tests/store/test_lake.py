"""The event lake: Parquet partitions by day and source, exactly-once discard, retention, sandboxed SQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl
import pyarrow.parquet as pq
import pytest

from autosoc.errors import ConfigError, StoreError
from autosoc.normalize import fields as F
from autosoc.store import EventLake
from autosoc.store import lake as lake_module
from autosoc.store.lake import folder_name
from tests.store.lake_batches import at, make_batch, regression_batches


def _rel(lake: EventLake) -> list[str]:
    return [str(path.relative_to(lake.root)) for path in lake.files()]


def test_a_checkpoints_batches_share_one_file_per_day_and_source(tmp_path: Path) -> None:
    lake = EventLake(tmp_path / "lake")
    steps = [make_batch([{F.EVENT_ID: f"e{n}", F.ORIGIN_SOURCE: "jsonl", F.TIME: at("2024-05-01T10:00:00+00:00")}],
                        raw=[{"EventID": str(n), **({"Extra": "x"} if n % 2 else {})}]) for n in range(5)]
    steps.append(make_batch([{F.EVENT_ID: "other", F.ORIGIN_SOURCE: "evtx", F.TIME: None}], raw=[{"k": "v"}]))
    assert lake.write_many(steps, seq=7) == 6
    assert sorted(_rel(lake)) == ["day=2024-05-01/source=jsonl/000000000007-0.parquet",
                                  "day=unknown/source=evtx/000000000007-1.parquet"]
    ids = lake.query("SELECT event_id FROM events ORDER BY event_id")["event_id"].to_list()
    assert ids == ["e0", "e1", "e2", "e3", "e4", "other"]
    assert lake.write_many([], seq=8) == 0


def test_write_partitions_by_utc_day_and_source(tmp_path: Path) -> None:
    lake = EventLake(tmp_path / "lake")
    batch = make_batch([
        {F.EVENT_ID: "e1", F.ORIGIN_SOURCE: "evtx", F.TIME: at("2024-05-01T23:30:00+00:00"), F.HOST: "ws01"},
        {F.EVENT_ID: "e2", F.ORIGIN_SOURCE: "evtx", F.TIME: at("2024-05-02T00:10:00+00:00")},
        {F.EVENT_ID: "e3", F.ORIGIN_SOURCE: "syslog", F.TIME: at("2024-05-02T08:00:00+00:00")},
        {F.EVENT_ID: "e4", F.ORIGIN_SOURCE: "syslog", F.TIME: None},
        {F.EVENT_ID: "e5", F.ORIGIN_SOURCE: "../we ird/", F.TIME: at("2024-05-02T09:00:00+00:00")},
    ], raw=[{"EventID": "4624", "Note": None}, {"EventID": "4625", "Note": "x"}, {"msg": "sshd"}, {"msg": "y"}, {}])
    assert lake.write(batch, seq=3) == 5
    assert sorted(_rel(lake)) == [
        "day=2024-05-01/source=evtx/000000000003-0.parquet",
        "day=2024-05-02/source=_._we_ird_/000000000003-1.parquet",
        "day=2024-05-02/source=evtx/000000000003-2.parquet",
        "day=2024-05-02/source=syslog/000000000003-3.parquet",
        "day=unknown/source=syslog/000000000003-4.parquet",
    ]
    frame = lake.query('SELECT event_id, day, source, "origin.source", time, "device.hostname", raw '
                       "FROM events ORDER BY event_id")
    assert frame["event_id"].to_list() == ["e1", "e2", "e3", "e4", "e5"]
    assert frame["day"].to_list() == ["2024-05-01", "2024-05-02", "2024-05-02", "unknown", "2024-05-02"]
    assert frame["source"].to_list() == ["evtx", "evtx", "syslog", "syslog", "_._we_ird_"]
    assert frame["origin.source"].to_list()[4] == "../we ird/"  # the column keeps the real name
    assert frame["time"].to_list()[0] == datetime(2024, 5, 1, 23, 30, tzinfo=UTC)
    assert frame["device.hostname"].to_list()[0] == "ws01"
    assert [orjson.loads(raw) for raw in frame["raw"]] == [
        {"EventID": "4624"}, {"EventID": "4625", "Note": "x"}, {"msg": "sshd"}, {"msg": "y"}, {}]
    assert not list(lake.root.rglob("*.tmp"))


def test_days_are_utc_whatever_the_time_zone(tmp_path: Path) -> None:
    lake = EventLake(tmp_path)
    tokyo = make_batch([{F.EVENT_ID: "t", F.ORIGIN_SOURCE: "csv", F.TIME: at("2024-05-02T01:00:00+09:00")}],
                       time_zone="Asia/Tokyo")
    naive = make_batch([{F.EVENT_ID: "n", F.ORIGIN_SOURCE: "csv", F.TIME: datetime(2024, 5, 3, 23, 59)}],
                       time_zone=None)
    lake.write(tokyo, seq=1)
    lake.write(naive, seq=1)
    assert sorted(_rel(lake)) == ["day=2024-05-01/source=csv/000000000001-0.parquet",
                                  "day=2024-05-03/source=csv/000000000001-1.parquet"]
    times = lake.query("SELECT time FROM events ORDER BY time")["time"].to_list()
    assert times == [datetime(2024, 5, 1, 16, 0, tzinfo=UTC), datetime(2024, 5, 3, 23, 59, tzinfo=UTC)]


def test_raw_json_escapes_names_and_values(tmp_path: Path) -> None:
    tricky = {'Data "Name"': 'say "hi"', "path\\x": "C:\\Windows\\System32\\cmd.exe", "multi": "a\nb\tc\r\x01",
              "unicode": "é 日本 🙂", "Event.System.Provider_Name": "Microsoft-Windows-Security-Auditing"}
    lake = EventLake(tmp_path)
    lake.write(make_batch([{F.EVENT_ID: "e", F.ORIGIN_SOURCE: "jsonl", F.TIME: None}], raw=[tricky]), seq=1)
    (raw,) = lake.query("SELECT raw FROM events")["raw"].to_list()
    assert orjson.loads(raw) == tricky
    assert list(orjson.loads(raw)) == list(tricky)  # the raw frame's column order


def test_raw_json_leaves_out_normalizations_working_columns(tmp_path: Path) -> None:
    lake = EventLake(tmp_path)
    row = {"Image": "C:\\a.exe", F.KEYWORD_TEXT: "C:\\a.exe", "__other": "x"}
    lake.write(make_batch([{F.EVENT_ID: "e", F.ORIGIN_SOURCE: "jsonl", F.TIME: None}], raw=[row]), seq=1)
    (raw,) = lake.query("SELECT raw FROM events")["raw"].to_list()
    assert orjson.loads(raw) == {"Image": "C:\\a.exe"}


def test_several_batches_in_one_checkpoint_get_unique_names(tmp_path: Path) -> None:
    lake = EventLake(tmp_path)
    row = {F.ORIGIN_SOURCE: "evtx", F.TIME: at("2024-05-01T10:00:00+00:00")}
    for n in range(3):
        lake.write(make_batch([{**row, F.EVENT_ID: f"e{n}"}]), seq=9)
    again = EventLake(tmp_path)  # another process (same seq after a restart) does not overwrite
    again.write(make_batch([{**row, F.EVENT_ID: "late"}]), seq=9)
    assert [p.name for p in lake.files()] == [f"000000000009-{n}.parquet" for n in range(4)]
    assert lake.query("SELECT count(*) AS n FROM events")["n"].item() == 4


def test_sources_that_make_the_same_folder_name_share_one_file(tmp_path: Path) -> None:
    lake = EventLake(tmp_path, fsync=False)
    t = at("2024-05-01T10:00:00+00:00")
    sources = ["a b", None, "a_b", "", "unknown", "a?b", ".hidden"]
    lake.write(make_batch([{F.EVENT_ID: f"e{n}", F.ORIGIN_SOURCE: source, F.TIME: t}
                           for n, source in enumerate(sources)]), seq=1)
    assert sorted(_rel(lake)) == ["day=2024-05-01/source=_hidden/000000000001-0.parquet",
                                  "day=2024-05-01/source=a_b/000000000001-1.parquet",
                                  "day=2024-05-01/source=unknown/000000000001-2.parquet"]
    frame = lake.query('SELECT source, list(event_id ORDER BY "origin.record") AS ids FROM events '
                       "GROUP BY source ORDER BY source")
    assert frame.rows() == [("_hidden", ["e6"]), ("a_b", ["e0", "e2", "e5"]), ("unknown", ["e1", "e3", "e4"])]
    assert [folder_name(s) for s in sources] == ["a_b", "unknown", "a_b", "unknown", "unknown", "a_b", "_hidden"]


def test_files_and_new_folders_are_flushed_once_per_checkpoint(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    flushed: list[Path] = []
    files: list[int] = []
    monkeypatch.setattr(lake_module, "_fsync", flushed.append)
    real_fsync = os.fsync
    monkeypatch.setattr(lake_module.os, "fsync", lambda fd: files.append(fd) or real_fsync(fd))
    lake = EventLake(tmp_path / "lake")
    rows = [{F.EVENT_ID: f"e{n}", F.ORIGIN_SOURCE: source, F.TIME: at(f"2024-05-0{day}T10:00:00+00:00")}
            for n, (source, day) in enumerate([("evtx", 1), ("syslog", 1), ("evtx", 2), ("evtx", 1)])]
    lake.write(make_batch(rows), seq=1)
    root = tmp_path / "lake"
    day1, day2 = root / "day=2024-05-01", root / "day=2024-05-02"
    # a new folder's entry is in its parent: flushed before the checkpoint counts as written
    assert sorted(flushed) == sorted([tmp_path, root, day1, day2, day1 / "source=evtx", day1 / "source=syslog",
                                      day2 / "source=evtx"])
    assert len(files) == 3  # every file's data, before its rename
    flushed.clear()
    lake.write(make_batch(rows[:1]), seq=2)
    assert flushed == [day1 / "source=evtx"]  # nothing new but the file
    assert EventLake(tmp_path / "quiet", fsync=False).write(make_batch(rows), seq=1) == 4
    assert flushed == [day1 / "source=evtx"]


def test_discard_after_drops_uncommitted_checkpoints(tmp_path: Path) -> None:
    lake = EventLake(tmp_path, fsync=False)
    for seq in (1, 2, 3):
        lake.write(make_batch([
            {F.EVENT_ID: f"a{seq}", F.ORIGIN_SOURCE: "evtx", F.TIME: at("2024-05-01T10:00:00+00:00")},
            {F.EVENT_ID: f"b{seq}", F.ORIGIN_SOURCE: f"only{seq}", F.TIME: at(f"2024-05-0{seq}T10:00:00+00:00")},
        ]), seq=seq)
    leftover = tmp_path / "day=2024-05-01" / "source=evtx" / ".000000000004-0.parquet.tmp"
    leftover.write_bytes(b"half a file")  # a crash in the middle of a write
    assert lake.discard_after(1) == 4
    assert sorted(_rel(lake)) == ["day=2024-05-01/source=evtx/000000000001-0.parquet",
                                  "day=2024-05-01/source=only1/000000000001-1.parquet"]
    assert not leftover.exists()
    assert not (tmp_path / "day=2024-05-03").exists()  # emptied partitions go too
    assert sorted(lake.query("SELECT event_id FROM events")["event_id"]) == ["a1", "b1"]
    assert lake.discard_after(1) == 0
    lake.write(make_batch([{F.EVENT_ID: "again", F.ORIGIN_SOURCE: "evtx", F.TIME: None}]), seq=2)
    assert "day=unknown/source=evtx/000000000002-0.parquet" in _rel(lake)


def test_prune_deletes_days_past_retention(tmp_path: Path) -> None:
    lake = EventLake(tmp_path, retention_days=7, fsync=False)
    for n, day in enumerate(("2024-04-01", "2024-04-23", "2024-04-24", "2024-05-01")):
        for source in ("evtx", "syslog"):
            lake.write(make_batch([{F.EVENT_ID: f"{day}{source}", F.ORIGIN_SOURCE: source,
                                    F.TIME: at(f"{day}T12:00:00+00:00")}]), seq=n + 1)
    lake.write(make_batch([{F.EVENT_ID: "none", F.ORIGIN_SOURCE: "evtx", F.TIME: None}]), seq=9)
    assert lake.prune(at("2024-05-01T03:00:00+02:00")) == 4  # 2024-05-01 01:00 UTC: keep 2024-04-24 on
    assert lake.stats().days == ("2024-04-24", "2024-05-01", "unknown")
    assert lake.prune(at("2024-05-01T03:00:00+02:00")) == 0
    assert EventLake(tmp_path).prune(at("2030-01-01T00:00:00+00:00")) == 0  # no retention: keep all
    with pytest.raises(ConfigError, match="retention"):
        EventLake(tmp_path, retention_days=-1)


def test_stats_from_parquet_footers(tmp_path: Path) -> None:
    lake = EventLake(tmp_path)
    assert lake.stats().files == 0 and lake.stats().rows == 0
    lake.write(make_batch([{F.EVENT_ID: str(n), F.ORIGIN_SOURCE: "evtx",
                            F.TIME: at(f"2024-05-0{1 + n % 2}T00:00:00+00:00")} for n in range(10)]), seq=1)
    stats = lake.stats()
    assert (stats.files, stats.rows, stats.days) == (2, 10, ("2024-05-01", "2024-05-02"))
    assert stats.bytes == sum(os.path.getsize(p) for p in lake.files())


def test_columns_that_differ_between_files_are_unioned(tmp_path: Path) -> None:
    lake = EventLake(tmp_path)
    first = make_batch([{F.EVENT_ID: "a", F.ORIGIN_SOURCE: "evtx", F.TIME: None}], raw=[{"Image": "cmd.exe"}])
    second = make_batch([{F.EVENT_ID: "b", F.ORIGIN_SOURCE: "evtx", F.TIME: None}])
    second.events = second.events.with_columns(pl.lit(None).alias("extra.null"), pl.lit("v").alias("extra.text"))
    lake.write(first, seq=1)
    lake.write(second, seq=2)
    frame = lake.query('SELECT event_id, "extra.text", "extra.null", raw FROM events ORDER BY event_id')
    assert frame.rows() == [("a", None, None, '{"Image":"cmd.exe"}'), ("b", "v", None, "{}")]
    assert frame.schema["extra.null"] == pl.String  # an all-null column is stored as text, not as NULL type


def test_empty_lake_has_an_empty_events_view(tmp_path: Path) -> None:
    lake = EventLake(tmp_path / "never-written")
    assert lake.query("SELECT count(*) AS n FROM events")["n"].item() == 0
    columns = lake.query("DESCRIBE events")["column_name"].to_list()
    assert columns[:6] == [F.EVENT_ID, F.FAMILY, F.ORIGIN_SOURCE, F.ORIGIN_PATH, F.ORIGIN_RECORD, F.TIME]
    assert {F.HOST, F.SRC_IP, "raw", "day", "source"} <= set(columns)
    assert lake.query(f'SELECT "{F.HOST}" FROM events WHERE day = \'2024-01-01\'').height == 0
    assert lake.discard_after(0) == 0 and lake.prune(datetime.now(UTC)) == 0
    assert not (tmp_path / "never-written").exists()


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM events",
    "WITH x AS (SELECT * FROM events) SELECT count(*) FROM x",
    "FROM events LIMIT 1",
    "DESCRIBE events",
    "SHOW TABLES",
    "SUMMARIZE events",
    "EXPLAIN SELECT * FROM events",
    "EXPLAIN ANALYZE SELECT count(*) FROM events",
    "-- a comment\nSELECT 1;",
    "SELECT * FROM events WHERE raw LIKE '%4624%'",
])
def test_read_only_statements_run(tmp_path: Path, sql: str) -> None:
    lake = EventLake(tmp_path)
    lake.write(make_batch([{F.EVENT_ID: "e", F.ORIGIN_SOURCE: "evtx", F.TIME: None}], raw=[{"EventID": "4624"}]), 1)
    assert isinstance(lake.query(sql), pl.DataFrame)


@pytest.mark.parametrize(("sql", "message"), [
    ("COPY (SELECT * FROM events) TO 'out.csv'", "COPY statements are not allowed"),
    ("ATTACH 'other.db' AS other", "ATTACH statements are not allowed"),
    ("INSTALL httpfs", "not allowed"),
    ("LOAD httpfs", "not allowed"),
    ("CREATE TABLE t AS SELECT 1", "CREATE statements are not allowed"),
    ("DROP VIEW events", "DROP statements are not allowed"),
    ("INSERT INTO events VALUES (1)", "INSERT statements are not allowed"),
    ("SET enable_external_access = true", "SET statements are not allowed"),
    ("PRAGMA show_tables", "PRAGMA statements are not allowed"),
    ("CALL pragma_version()", "CALL statements are not allowed"),
    ("SELECT 1; SELECT 2", "exactly one SQL statement, not 2"),
    ("EXPLAIN ANALYZE COPY (SELECT 1) TO 'x.csv'", "only EXPLAIN of a query"),
    ("SELECT * FROM read_text('/etc/passwd')", "query refused"),
    ("SELECT * FROM read_csv('https://example.com/x.csv')", "query refused"),
    ("SELECT * FROM glob('/*')", "query refused"),
    ("SELECT * FROM query('COPY (SELECT 1) TO ''x.csv''')", "query failed"),
    ("SELEC oops", "bad SQL"),
])
def test_other_statements_are_refused(tmp_path: Path, sql: str, message: str) -> None:
    lake = EventLake(tmp_path / "lake")
    lake.write(make_batch([{F.EVENT_ID: "e", F.ORIGIN_SOURCE: "evtx", F.TIME: None}]), seq=1)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(StoreError, match=message) as caught:
        lake.query(sql)
    assert caught.value.code in ("query_not_allowed", "bad_query")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written anywhere


def test_answers_are_limited_and_say_so(tmp_path: Path) -> None:
    lake = EventLake(tmp_path)
    lake.write(make_batch([{F.EVENT_ID: f"e{n:02d}", F.ORIGIN_SOURCE: "evtx", F.TIME: None} for n in range(25)]), 1)
    cut = lake.execute("SELECT event_id FROM events ORDER BY event_id", limit=10)
    assert cut.truncated and cut.frame["event_id"].to_list() == [f"e{n:02d}" for n in range(10)]
    whole = lake.execute("SELECT event_id FROM events", limit=25)
    assert not whole.truncated and whole.frame.height == 25
    assert lake.query("SELECT * FROM range(100000)").height == 10_000  # the default limit
    with pytest.raises(StoreError, match="at least 1"):
        lake.query("SELECT 1", limit=0)


def test_bad_batches_are_refused(tmp_path: Path) -> None:
    lake = EventLake(tmp_path)
    batch = make_batch([{F.EVENT_ID: "a", F.ORIGIN_SOURCE: "evtx", F.TIME: None}] * 2, raw=[{"x": "1"}])
    with pytest.raises(StoreError, match="differ in height"):
        lake.write(batch, seq=1)
    with pytest.raises(StoreError, match=">= 0"):
        lake.write(batch, seq=-1)
    assert lake.write(make_batch([]), seq=1) == 0 and lake.files() == []


def test_real_windows_events_round_trip(regression_dir: Path, tmp_path: Path) -> None:
    batches = regression_batches(regression_dir)
    assert batches
    lake = EventLake(tmp_path, fsync=False)
    for n, batch in enumerate(batches):
        assert lake.write(batch, seq=1 + n // 10) == len(batch)
    expected = pl.concat([b.events.select(F.EVENT_ID, F.TIME, F.EVENT_CODE) for b in batches])
    assert lake.stats().rows == expected.height
    stored = lake.query(f'SELECT event_id, time, "{F.EVENT_CODE}", day, raw FROM events', limit=100_000)
    assert sorted(stored["event_id"]) == sorted(expected[F.EVENT_ID])
    by_id = {row["event_id"]: row for row in stored.iter_rows(named=True)}
    first = batches[0]
    for index in range(len(first)):
        row = by_id[first.events[F.EVENT_ID][index]]
        raw_fields = {k: v for k, v in first.raw.row(index, named=True).items()
                      if v is not None and not k.startswith("__")}  # not the keyword text
        assert orjson.loads(row["raw"]) == raw_fields
        assert row["time"] == first.events[F.TIME][index]
        assert row["day"] == row["time"].strftime("%Y-%m-%d")
    counts = lake.query(f'SELECT "{F.EVENT_CODE}" AS code, count(*) AS n FROM events GROUP BY 1 ORDER BY 1')
    assert counts["n"].sum() == expected.height


def test_a_staged_checkpoint_is_written_in_the_background_and_equals_a_direct_write(tmp_path: Path) -> None:
    t = at("2024-05-01T10:00:00+00:00")
    steps = [make_batch([{F.EVENT_ID: f"e{n}-{k}", F.ORIGIN_SOURCE: "evtx" if k % 2 else "syslog",
                          F.TIME: t if k < 2 else None} for k in range(3)], raw=[{"n": str(n)}] * 3)
             for n in range(4)]
    direct = EventLake(tmp_path / "direct", fsync=False)
    assert direct.write_many(steps, seq=5) == 12
    staged = EventLake(tmp_path / "staged", fsync=False)
    stage = staged.stage(5)
    for batch in steps:
        stage.add(batch)
    assert staged.files() == []  # nothing under a final name before the commit
    assert stage.commit() == 12
    staged.close()
    assert _rel(staged) == _rel(direct)
    assert not list(staged.root.rglob("*.tmp"))
    sql = "SELECT * EXCLUDE (raw), raw FROM events ORDER BY event_id"
    assert staged.query(sql).equals(direct.query(sql))
    file = staged.files()[0]
    assert pq.read_metadata(file).num_row_groups == 4  # one row group per batch, in one file


def test_a_partition_whose_columns_change_goes_on_in_a_new_file(tmp_path: Path) -> None:
    lake = EventLake(tmp_path, fsync=False)
    row = {F.ORIGIN_SOURCE: "evtx", F.TIME: None}
    fewer = make_batch([{**row, F.EVENT_ID: "a"}], raw=[{"x": "1"}])
    more = make_batch([{**row, F.EVENT_ID: "b"}], raw=[{"x": "2"}])
    more.events = more.events.with_columns(pl.lit("v").alias("extra.text"))
    narrow = make_batch([{**row, F.EVENT_ID: "c"}])
    narrow.events = narrow.events.drop(F.HOST)  # fewer columns fit the open file: nulls
    assert lake.write_many([fewer, more, narrow], seq=1) == 3
    assert _rel(lake) == ["day=unknown/source=evtx/000000000001-0.parquet",
                          "day=unknown/source=evtx/000000000001-1.parquet"]
    frame = lake.query('SELECT event_id, "extra.text", "device.hostname" FROM events ORDER BY event_id')
    assert frame.rows() == [("a", None, None), ("b", "v", None), ("c", None, None)]


def test_a_failed_background_write_is_raised_at_commit_and_leaves_nothing(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    lake = EventLake(tmp_path, fsync=False)
    good = make_batch([{F.EVENT_ID: "a", F.ORIGIN_SOURCE: "evtx", F.TIME: None}])
    bad = make_batch([{F.EVENT_ID: "b", F.ORIGIN_SOURCE: "evtx", F.TIME: None}] * 2, raw=[{"x": "1"}])
    stage = lake.stage(1)
    stage.add(good)
    stage.add(bad)  # frames of different heights: refused in the worker
    with pytest.raises(StoreError, match="differ in height"):
        stage.commit()
    stage.abort()
    assert lake.files() == [] and not list(tmp_path.rglob("*.tmp"))
    with pytest.raises(StoreError, match="already committed or aborted"):
        stage.add(good)
    aborted = lake.stage(2)
    aborted.add(good)
    aborted.abort()  # a pipeline closed between checkpoints: the cursors read it again
    assert lake.files() == [] and not list(tmp_path.rglob("*.tmp"))
    lake.close()


def test_the_temporary_files_of_a_stage_that_never_committed_are_discarded(tmp_path: Path) -> None:
    lake = EventLake(tmp_path, fsync=False)
    stage = lake.stage(3, background=False)
    stage.add(make_batch([{F.EVENT_ID: "a", F.ORIGIN_SOURCE: "evtx", F.TIME: None}]))
    assert list(tmp_path.rglob("*.tmp"))  # a crash now: the open file is temporary
    assert EventLake(tmp_path).discard_after(2) == 0
    assert not list(tmp_path.rglob("*.tmp")) and lake.files() == []


def test_public_names() -> None:
    import autosoc.store
    import autosoc.store.state

    assert autosoc.store.__all__ == ["EventLake", "LakeStats", "QueryResult", "StateStore", "StateTransaction"]
    assert autosoc.store.state.__all__ == ["StateStore", "StateTransaction"]
