"""The tail source: growing files read exactly once, across polls, restarts, truncation and rotation."""

from __future__ import annotations

import gzip
import json
import logging
import os
import random
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from autosoc.errors import InputError
from autosoc.ingest import read_files
from autosoc.ingest.tail import FileCursor, TailSource
from autosoc.schema import RawBatch

Item = tuple[str, int | None, str]  # (kind, position, content)


def items(batches: list[RawBatch]) -> list[Item]:
    """Records and dead letters of ``batches`` in file order, comparable across runs."""
    out: list[Item] = []
    for b in batches:
        out += [("record", p, json.dumps(r, sort_keys=True)) for r, p in zip(b.records, b.positions, strict=True)]
        out += [("dead", d.origin.record, f"{d.code}@{d.origin.offset}") for d in b.dead_letters]
    return sorted(out, key=lambda i: (i[1] or 0, i[0], i[2]))


def drain(src: TailSource, cursors: dict[str, FileCursor], *, final: bool = False,
          stop_after: int | None = None) -> list[RawBatch]:
    """One poll, committing every batch's cursor (``stop_after``: a crash after that many batches)."""
    got: list[RawBatch] = []
    for batch, cursor in src.poll(cursors, final=final):
        assert {batch.path} <= {cursor.path}
        got.append(batch)
        cursors[cursor.key] = cursor
        if stop_after is not None and len(got) >= stop_after:
            break
    return got


def one_shot(path: Path) -> list[Item]:
    return items(list(read_files([path])))


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def bump_mtime(path: Path, seconds: float) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + int(seconds * 1e9)))


JSONL = b"".join([b'{"n": 1, "msg": "one"}\n', b"not json at all\n", b'{"n": 3}\n', b"\n", b'[{"n": 5}, 7]\n',
                  b'{"n": 6, "s": "\xc3\xa9t\xc3\xa9"}\n', b'"a string"\n', b'{"n": 8}\n'] * 5)
SYSLOG = b"".join([
    b"<34>1 2024-05-01T10:11:12.003Z host1 sshd 123 ID47 - Failed password for root from 10.0.0.1\n",
    b"May  1 10:11:13 host1 sshd[42]: Accepted publickey for alice from 10.0.0.2\n",
    b"this is not syslog\n",
    b"2024-05-01T10:11:14.123456+02:00 host2 sudo[7]: alice : TTY=pts/0 ; COMMAND=/bin/ls\n",
    b"\n",
] * 6)
CSV = (b'\xef\xbb\xbfuser,action,"note"\n' + b"".join([
    b"alice,login,plain\n",
    b'bob,logout,"two\nlines, with comma"\n',
    b"carol,login,\n",
    b"dave,x,y,too many\n",
    b'erin,"quoted ""word""",z\n',
] * 6))


# -- appending, partial lines, line numbers -----------------------------------------------------------


def test_appends_with_partial_lines_are_read_once_with_whole_file_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2}\n{"n": 3, "cut')
    src = TailSource([tmp_path], settle_seconds=0)
    cursors: dict[str, FileCursor] = {}
    first = drain(src, cursors)
    assert [p for b in first for p in b.positions] == [1, 2]
    append(path, b'": "here"}\nbad line\n{"n": 5}\n{"n"')
    second = drain(src, cursors)
    assert [(p, r) for b in second for p, r in zip(b.positions, b.records, strict=True)] == [
        (3, {"n": 3, "cut": "here"}), (5, {"n": 5})]
    assert [(d.code, d.origin.record, d.origin.offset) for b in second for d in b.dead_letters] == [
        ("invalid_json", 4, len(b'{"n": 1}\n{"n": 2}\n{"n": 3, "cut": "here"}\n'))]
    assert drain(src, cursors) == []  # nothing new: the partial line waits
    append(path, b": 6}")  # still no line end: a final poll takes it
    last = drain(src, cursors, final=True)
    assert [(p, r) for b in last for p, r in zip(b.positions, b.records, strict=True)] == [(6, {"n": 6})]
    assert items(first + second + last) == one_shot(path)
    (cursor,) = cursors.values()
    assert (cursor.offset, cursor.line) == (path.stat().st_size, 6)


def test_partial_line_is_taken_once_the_file_is_idle(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2}')
    now = path.stat().st_mtime
    clock = [now + 1]
    src = TailSource([path], settle_seconds=0, partial_line_seconds=30, clock=lambda: clock[0])
    cursors: dict[str, FileCursor] = {}
    assert [p for b in drain(src, cursors) for p in b.positions] == [1]
    clock[0] = now + 31
    assert [p for b in drain(src, cursors) for p in b.positions] == [2]


# -- restarts from saved cursors ----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "data"), [("app.jsonl", JSONL), ("auth.log", SYSLOG), ("events.csv", CSV)])
def test_resume_from_any_saved_cursor_is_exact(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    expected = one_shot(path)
    src = TailSource([path], batch_size=3, settle_seconds=0)
    steps = list(src.poll({}))
    assert len(steps) > 4 and items([b for b, _ in steps]) == expected
    # a checkpoint may have saved the cursor after any batch: a new source resumes right there
    for i, (_, cursor) in enumerate(steps):
        saved = {cursor.key: FileCursor.from_dict(json.loads(json.dumps(cursor.as_dict())))}
        rest = drain(TailSource([path], batch_size=7, settle_seconds=0), saved)
        assert items([b for b, _ in steps[: i + 1]] + rest) == expected, f"resumed after batch {i}"


def test_crash_and_restart_while_the_file_grows(tmp_path: Path) -> None:
    path = tmp_path / "auth.log"
    lines = SYSLOG.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:10]))
    cursors: dict[str, FileCursor] = {}
    got = drain(TailSource([tmp_path], batch_size=2, settle_seconds=0), cursors, stop_after=2)  # crash
    append(path, b"".join(lines[10:]))
    got += drain(TailSource([tmp_path], batch_size=2, settle_seconds=0), cursors)  # a new process
    assert items(got) == one_shot(path)


def test_cursor_round_trip_and_bad_cursor() -> None:
    cursor = FileCursor("1:2", "/x/a.log", "syslog", "lines", "ab" * 16, 20, offset=5, line=1)
    assert FileCursor.from_dict(json.loads(json.dumps(cursor.as_dict()))) == cursor
    with pytest.raises(InputError) as info:
        FileCursor.from_dict({"v": 1, "key": "1:2", "mode": "sideways"})
    assert info.value.code == "bad_cursor"


# -- truncation, replacement, rotation ------------------------------------------------------------------


def test_truncated_file_is_read_again_from_the_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2}\n{"n": 3}\n')
    src = TailSource([tmp_path], settle_seconds=0)
    cursors: dict[str, FileCursor] = {}
    drain(src, cursors)
    with open(path, "wb") as fh:  # truncate in place (same inode), as copytruncate does
        fh.write(b'{"n": 1}\n')
    with caplog.at_level(logging.WARNING):
        again = drain(src, cursors)
    assert [p for b in again for p in b.positions] == [1]
    assert src.stats.events["truncated"] == 1
    assert any(r.levelno == logging.WARNING and getattr(r, "code", "") == "truncated" for r in caplog.records)
    # rewritten with other content of the same length or more: the fingerprint tells
    with open(path, "wb") as fh:
        fh.write(b'{"m": 9}\n{"m": 8}\n')
    assert [r for b in drain(src, cursors) for r in b.records] == [{"m": 9}, {"m": 8}]
    assert src.stats.events["replaced"] == 1


@pytest.mark.parametrize("watch", ["folder", "file"])
def test_rotation_reads_the_rest_of_the_old_file_then_the_new_one(tmp_path: Path, watch: str) -> None:
    path = tmp_path / "auth.log"
    lines = SYSLOG.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:5]))
    src = TailSource([tmp_path if watch == "folder" else path], settle_seconds=0)
    cursors: dict[str, FileCursor] = {}
    first = drain(src, cursors)
    append(path, b"".join(lines[5:9]))  # written before rotation, not read yet
    os.rename(path, tmp_path / "auth.log.1")
    path.write_bytes(b"".join(lines[9:12]))
    second = drain(src, cursors)
    old = [b for b in second if b.path.endswith("auth.log.1")]
    new = [b for b in second if b.path.endswith("auth.log")]
    assert second.index(old[-1]) < second.index(new[0])  # the old file's rest comes first
    assert items(first + old) == one_shot(tmp_path / "auth.log.1")
    assert items(new) == one_shot(path)
    assert drain(src, cursors) == []
    os.unlink(tmp_path / "auth.log.1")
    drain(src, cursors)
    assert src.stats.gone == [k for k, c in cursors.items() if c.path.endswith("auth.log.1")]


def test_a_renamed_file_with_nothing_new_moves_its_cursor_once(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(b'{"n": 1}\n')
    src = TailSource([tmp_path], settle_seconds=0)
    cursors: dict[str, FileCursor] = {}
    drain(src, cursors)
    os.rename(path, tmp_path / "app.jsonl.1")
    (moved,) = drain(src, cursors)
    assert (len(moved), moved.path) == (0, str(tmp_path / "app.jsonl.1"))
    assert [c.path for c in cursors.values()] == [str(tmp_path / "app.jsonl.1")]
    assert drain(src, cursors) == [] and drain(src, cursors) == []
    assert src.stats.events["renamed"] == 1


@pytest.mark.parametrize("watch", ["poll", "inotify"])
def test_a_name_that_leads_to_another_file_when_read_waits_for_the_next_poll(tmp_path: Path, watch: str) -> None:
    if watch == "inotify" and not sys.platform.startswith("linux"):
        pytest.skip("inotify needs Linux")
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(b'{"n": 1}\n')
    b.write_bytes(b'{"n": 2}\n')
    src = TailSource([tmp_path], settle_seconds=0, watch=watch)  # type: ignore[arg-type]
    cursors: dict[str, FileCursor] = {}
    drain(src, cursors)
    append(a, b'{"n": 3}\n')
    append(b, b'{"n": 4}\n')
    polled = src.poll(cursors)
    batch, cursor = next(polled)  # a.jsonl; both files were listed before this
    assert batch.path == str(a)
    cursors[cursor.key] = cursor
    os.rename(b, tmp_path / "b.jsonl.1")  # rotated while the poll reads a.jsonl
    b.write_bytes(b'{"n": 5}\n')
    assert list(polled) == []  # b.jsonl is another file now: left to the next poll
    assert src.stats.events["vanished"] == 1
    got = drain(src, cursors)
    assert sorted((Path(x.path).name, p) for x in got for p in x.positions) == [("b.jsonl", 1), ("b.jsonl.1", 2)]
    assert sorted(r["n"] for x in got for r in x.records) == [4, 5]


# -- CSV -----------------------------------------------------------------------------------------------


def test_csv_header_and_quoted_rows_across_polls(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_bytes(b'user,action,note\nalice,login,"first\n')  # a quoted cell still being written
    src = TailSource([tmp_path], settle_seconds=0)
    cursors: dict[str, FileCursor] = {}
    assert [len(b) for b in drain(src, cursors)] == [0]  # only the header: the cursor moves past it
    append(path, b'second line"\nbob,logout,\n')
    got = drain(src, cursors)
    append(path, b"carol,login,x\ndave,a,b,c\n")
    got2 = drain(src, cursors)
    assert [(p, r) for b in got + got2 for p, r in zip(b.positions, b.records, strict=True)] == [
        (2, {"user": "alice", "action": "login", "note": "first\nsecond line"}),
        (4, {"user": "bob", "action": "logout"}),
        (5, {"user": "carol", "action": "login", "note": "x"}),
    ]
    (dead,) = [d for b in got2 for d in b.dead_letters]
    assert (dead.code, dead.origin.record) == ("bad_csv_row", 6)
    assert "header (line 1)" in dead.message


# -- documents: gz, EVTX, CloudTrail, pretty JSON -------------------------------------------------------


def test_gz_and_evtx_are_read_once(tmp_path: Path, sample_evtx: Path) -> None:
    evtx = tmp_path / "sample.evtx"
    shutil.copy(sample_evtx, evtx)
    gz = tmp_path / "old.jsonl.gz"
    gz.write_bytes(gzip.compress(JSONL))
    src = TailSource([tmp_path], settle_seconds=0)
    cursors: dict[str, FileCursor] = {}
    got = drain(src, cursors)
    assert items([b for b in got if b.path == str(evtx)]) == one_shot(evtx)
    assert items([b for b in got if b.path == str(gz)]) == one_shot(gz)
    assert len(one_shot(evtx)) > 0
    assert all(c.mode == "document" and c.done for c in cursors.values())
    assert drain(src, cursors) == []
    assert drain(TailSource([tmp_path], settle_seconds=0), cursors) == []  # after a restart too
    bump_mtime(evtx, -5)  # touched, nothing new: read again, every record skipped
    assert [len(b) for b in drain(src, cursors)] == [0]


@pytest.mark.parametrize("kind", ["evtx", "cloudtrail", "gz"])
def test_document_resumes_in_the_middle_of_a_pass(tmp_path: Path, sample_evtx: Path, kind: str) -> None:
    if kind == "evtx":  # the SigmaHQ samples hold one record each
        path = tmp_path / "sample.evtx"
        shutil.copy(sample_evtx, path)
    elif kind == "cloudtrail":
        path = tmp_path / "trail.json"
        records = [{"eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": f"E{i}"}
                   for i in range(7)]
        path.write_bytes(json.dumps({"Records": [*records[:3], 5, *records[3:]]}).encode())
    else:
        path = tmp_path / "old.jsonl.gz"
        path.write_bytes(gzip.compress(JSONL))
    expected = one_shot(path)
    steps = list(TailSource([path], batch_size=1, settle_seconds=0).poll({}))
    assert items([b for b, _ in steps]) == expected
    assert steps[-1][1].done and not any(c.done for _, c in steps[:-1])
    for i, (_, cursor) in enumerate(steps):
        rest = drain(TailSource([path], batch_size=2, settle_seconds=0), {cursor.key: cursor})
        assert items([b for b, _ in steps[: i + 1]] + rest) == expected, f"resumed after batch {i}"


def test_documents_wait_until_settled_and_new_documents_come_out_alone(tmp_path: Path) -> None:
    path = tmp_path / "trail.json"
    doc = {"Records": [{"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": f"E{i}"}
                       for i in range(3)]}
    path.write_bytes(json.dumps(doc, indent=2).encode())
    clock = [path.stat().st_mtime + 1]
    src = TailSource([tmp_path], settle_seconds=5, clock=lambda: clock[0])
    cursors: dict[str, FileCursor] = {}
    assert drain(src, cursors) == []  # modified a second ago: not settled
    clock[0] += 10
    got = drain(src, cursors)
    assert [p for b in got for p in b.positions] == [1, 2, 3]
    assert got[0].source == "cloudtrail"
    # pretty-printed JSON documents appended one after another: only the new one comes out
    pretty = tmp_path / "docs.json"
    pretty.write_bytes(b'{\n  "a": 1\n}\n{\n  "a": 2\n}\n')
    clock[0] += 10
    drain(src, cursors)
    append(pretty, b'{\n  "a": 3\n}\n')
    bump_mtime(pretty, -60)
    got = drain(src, cursors)
    assert [(p, r) for b in got for p, r in zip(b.positions, b.records, strict=True)] == [(7, {"a": 3})]


# -- discovery -----------------------------------------------------------------------------------------


def test_new_files_and_globs(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.jsonl").write_bytes(b'{"n": 1}\n')
    (tmp_path / "a" / "skip.jsonl").write_bytes(b'{"n": 2}\n')
    (tmp_path / "notes.txt").write_bytes(b"hello\n")
    src = TailSource([tmp_path], include=["*.jsonl", "*.log"], exclude=["skip*"], settle_seconds=0)
    cursors: dict[str, FileCursor] = {}
    assert [Path(b.path).name for b in drain(src, cursors)] == ["one.jsonl"]
    (tmp_path / "a" / "two.log").write_bytes(b"May  1 10:11:13 host1 sshd[42]: hello\n")
    got = drain(src, cursors)
    assert [(Path(b.path).name, b.source, b.positions) for b in got] == [("two.log", "syslog", [1])]


def test_missing_paths_and_unknown_files_do_not_stop_the_poll(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01\x02 binary")
    (tmp_path / "app.jsonl").write_bytes(b'{"n": 1}\n')
    src = TailSource([tmp_path / "later", tmp_path], settle_seconds=0)
    assert [b.positions for b in drain(src, {})] == [[1]]
    assert src.stats.events["missing_path"] == 1
    assert [p.name for p, _ in src.stats.skipped] == ["blob.bin"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_one_dead_letter(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(b'{"n": 1}\n')
    path.chmod(0)
    src = TailSource([tmp_path], settle_seconds=0)
    cursors: dict[str, FileCursor] = {}
    (batch,) = drain(src, cursors)
    assert [d.code for d in batch.dead_letters] == ["unreadable_file"]
    assert drain(src, cursors) == []  # reported once
    path.chmod(0o600)
    assert [b.positions for b in drain(src, cursors)] == [[1]]


# -- property: any growth pattern, any restarts = one read of the finished file ------------------------


@pytest.mark.parametrize("seed", range(25))
def test_random_growth_and_restarts_equal_a_one_shot_read(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    files: Mapping[str, bytes] = {"app.jsonl": JSONL, "auth.log": SYSLOG, "events.csv": CSV}
    written = dict.fromkeys(files, 0)
    cursors: dict[str, FileCursor] = {}
    got: list[RawBatch] = []

    def source() -> TailSource:
        return TailSource([tmp_path], batch_size=rng.randint(1, 5), settle_seconds=0, partial_line_seconds=None)

    src = source()
    while any(written[n] < len(d) for n, d in files.items()):
        for name, data in files.items():
            cut = min(len(data), written[name] + rng.randint(0, 40))
            append(tmp_path / name, data[written[name]:cut])
            written[name] = cut
        if rng.random() < 0.3:  # a crash: the uncommitted rest of the poll is lost, a new process resumes
            got += drain(src, cursors, stop_after=rng.randint(1, 3))
            src = source()
        else:
            got += drain(src, cursors)
    got += drain(src, cursors, final=True)
    for name in files:
        path = tmp_path / name
        assert items([b for b in got if b.path == str(path)]) == one_shot(path), name
