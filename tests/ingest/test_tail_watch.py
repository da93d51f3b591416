"""The tail source with inotify: each poll yields what a plain walk (``watch="poll"``) yields.

Real files in tmp folders, real inotify; the clock is a fake one where time matters (documents
settling, partial lines, the periodic rescan).  Faults the kernel rarely shows (a queue overflow,
the watch limit, a failing descriptor) are simulated on the :class:`Inotify` wrapper.
"""

from __future__ import annotations

import errno
import gc
import gzip
import json
import logging
import os
import random
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autosoc.errors import ConfigError
from autosoc.ingest.tail import FileCursor, TailSource
from autosoc.ingest.tail import inotify as inotify_module
from autosoc.ingest.tail.inotify import IN_Q_OVERFLOW, Inotify
from autosoc.schema import RawBatch
from tests.ingest.test_tail import SYSLOG, append, bump_mtime

pytestmark = pytest.mark.skipif(not inotify_module.available(), reason="inotify needs Linux")

Step = tuple[Any, ...]


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def shape(batch: RawBatch, cursor: FileCursor) -> Step:
    """A batch and its cursor, comparable across sources."""
    return (batch.source, batch.path, batch.kind, json.dumps(batch.records, sort_keys=True), batch.positions,
            [d.as_dict() for d in batch.dead_letters], batch.bytes_read, cursor.as_dict())


def poll(src: TailSource, cursors: dict[str, FileCursor], *, final: bool = False,
         stop_after: int | None = None) -> list[Step]:
    """One poll, committing every batch's cursor and forgetting gone files, as the front does."""
    got: list[Step] = []
    for batch, cursor in src.poll(cursors, final=final):
        got.append(shape(batch, cursor))
        cursors[cursor.key] = cursor
        if stop_after is not None and len(got) >= stop_after:
            break
    else:
        for key in src.stats.gone:
            cursors.pop(key, None)
    return got


def records(steps: list[Step]) -> list[Any]:
    return [r for s in steps for r in json.loads(s[3])]


class Twins:
    """A watched source and a walking one over the same paths, polled from the same cursors."""

    def __init__(self, paths: list[Path], **options: Any) -> None:
        self.clock = Clock()
        options.setdefault("settle_seconds", 0)
        options.setdefault("rescan_seconds", None)  # exact from the events alone
        self.watched = TailSource(paths, watch="inotify", clock=self.clock, **options)
        self.plain = TailSource(paths, watch="poll", clock=self.clock, **options)
        self.cursors: dict[str, FileCursor] = {}

    def poll(self, *, final: bool = False, stop_after: int | None = None) -> list[Step]:
        plain_cursors = dict(self.cursors)
        got = poll(self.watched, self.cursors, final=final, stop_after=stop_after)
        want = poll(self.plain, plain_cursors, final=final, stop_after=stop_after)
        assert got == want
        assert self.cursors == plain_cursors
        for what in ("gone", "skipped", "batches", "records"):
            assert getattr(self.watched.stats, what) == getattr(self.plain.stats, what), what
        watched = {code: n for code, n in self.watched.stats.events.items() if not code.startswith("watch_")}
        assert watched == self.plain.stats.events
        return got


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[Callable[..., Twins]]:
    made: list[Twins] = []

    def make(paths: list[Path] | None = None, **options: Any) -> Twins:
        made.append(Twins(paths or [tmp_path / "w"], **options))
        return made[-1]

    (tmp_path / "w").mkdir()
    yield make
    for t in made:
        t.watched.close()


def line(n: int) -> bytes:
    return json.dumps({"n": n, "msg": "x" * (n % 7)}).encode() + b"\n"


# -- the cases one by one ------------------------------------------------------------------------


def test_growth_of_a_line_file_is_read_from_events_only(tmp_path: Path, twins: Callable[..., Twins]) -> None:
    path = tmp_path / "w" / "app.jsonl"
    path.write_bytes(line(1) + line(2))
    t = twins()
    assert len(records(t.poll())) == 2
    for n in range(3, 8):
        append(path, line(n))
        assert [r["n"] for r in records(t.poll())] == [n]
    assert t.poll() == []
    assert t.watched.stats.walks == 1  # the first poll only
    assert t.plain.stats.walks == t.plain.stats.polls


def test_a_new_file_in_new_nested_folders(tmp_path: Path, twins: Callable[..., Twins]) -> None:
    t = twins()
    assert t.poll() == []
    deep = tmp_path / "w" / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "new.jsonl").write_bytes(line(1))
    assert [Path(s[1]).name for s in t.poll()] == ["new.jsonl"]
    (deep / "d").mkdir()  # a folder made after its parent was watched
    (deep / "d" / "more.jsonl").write_bytes(line(2))
    append(deep / "new.jsonl", line(3))
    assert [r["n"] for r in records(t.poll())] == [3, 2]  # files read before come first, then new ones
    shutil.rmtree(tmp_path / "w" / "a")
    t.poll()
    assert t.watched.stats.gone and t.cursors == {}
    assert t.watched.stats.walks == 1


@pytest.mark.parametrize("watch", ["folder", "file"])
def test_rotation_beside_keeps_the_cursor(tmp_path: Path, twins: Callable[..., Twins], watch: str) -> None:
    path = tmp_path / "w" / "auth.log"
    lines = SYSLOG.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:5]))
    t = twins([tmp_path / "w" if watch == "folder" else path])
    t.poll()
    append(path, b"".join(lines[5:9]))  # written before rotation, not read yet
    os.rename(path, tmp_path / "w" / "auth.log.1")
    path.write_bytes(b"".join(lines[9:12]))
    got = t.poll()
    assert [Path(s[1]).name for s in got if s[3] != "[]"] == ["auth.log.1", "auth.log"]
    assert t.watched.stats.events["rotated" if watch == "file" else "renamed"] == 1
    assert t.poll() == []
    os.unlink(tmp_path / "w" / "auth.log.1")
    t.poll()
    assert len(t.watched.stats.gone) == 1


def test_delete_and_truncate(tmp_path: Path, twins: Callable[..., Twins]) -> None:
    a, b = tmp_path / "w" / "a.jsonl", tmp_path / "w" / "b.jsonl"
    a.write_bytes(line(1) + line(2) + line(3))
    b.write_bytes(line(4))
    t = twins()
    t.poll()
    os.unlink(b)
    with open(a, "r+b") as fh:  # truncated in place, as copytruncate does
        fh.truncate(0)
        fh.write(line(9))
    assert [r["n"] for r in records(t.poll())] == [9]
    assert t.watched.stats.events["truncated"] == 1
    assert len(t.watched.stats.gone) == 1 and len(t.cursors) == 1


def test_a_document_settles_without_events(tmp_path: Path, twins: Callable[..., Twins]) -> None:
    path = tmp_path / "w" / "trail.json"
    doc = {"Records": [{"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": f"E{i}"}
                       for i in range(30)]}  # longer than the fingerprint: a rewrite that adds is not another file
    path.write_bytes(json.dumps(doc, indent=2).encode())
    t = twins(settle_seconds=5)
    t.clock.now = path.stat().st_mtime + 1
    assert t.poll() == []  # not settled
    t.clock.now += 10  # nothing happens to the file: only time passes
    assert len(records(t.poll())) == 30
    assert t.poll() == []
    doc["Records"].append({"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": "E30"})
    path.write_bytes(json.dumps(doc, indent=2).encode())
    t.clock.now = path.stat().st_mtime + 1
    assert t.poll() == []
    t.clock.now += 10
    assert [r["eventName"] for r in records(t.poll())] == ["E30"]
    assert t.watched.stats.walks == 1


def test_a_partial_line_is_taken_after_partial_line_seconds_without_events(
        tmp_path: Path, twins: Callable[..., Twins]) -> None:
    path = tmp_path / "w" / "app.jsonl"
    path.write_bytes(line(1) + b'{"n": 2}')  # no line end: it may still be written
    t = twins(partial_line_seconds=30)
    t.clock.now = path.stat().st_mtime + 1
    assert [r["n"] for r in records(t.poll())] == [1]
    assert t.poll() == []
    t.clock.now += 31
    assert [r["n"] for r in records(t.poll())] == [2]
    assert t.poll() == []
    assert t.watched.stats.walks == 1


def test_include_exclude_and_hidden(tmp_path: Path, twins: Callable[..., Twins]) -> None:
    w = tmp_path / "w"
    t = twins(include=["*.jsonl", "**/keep/*"], exclude=["*skip*"])
    t.poll()
    (w / "keep").mkdir()
    (w / "keep" / "any.txt").write_bytes(b"May  1 10:11:13 host1 sshd[42]: hello\n")
    (w / "one.jsonl").write_bytes(line(1))
    (w / "skip.jsonl").write_bytes(line(2))
    (w / "notes.txt").write_bytes(line(3))
    (w / ".hidden.jsonl").write_bytes(line(4))
    (w / ".hid").mkdir()
    (w / ".hid" / "x.jsonl").write_bytes(line(5))
    assert sorted(Path(s[1]).name for s in t.poll()) == ["any.txt", "one.jsonl"]
    append(w / "skip.jsonl", line(6))
    append(w / ".hidden.jsonl", line(7))
    os.rename(w / "notes.txt", w / "notes.jsonl")  # now included
    assert [Path(s[1]).name for s in t.poll()] == ["notes.jsonl"]


def test_links_are_followed_and_stated_on_every_poll(tmp_path: Path, twins: Callable[..., Twins]) -> None:
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_bytes(line(1))
    w = tmp_path / "w"
    (w / "sub").mkdir()
    (w / "sub" / "link.jsonl").symlink_to(outside)
    (w / "dangling.jsonl").symlink_to(tmp_path / "not-yet.jsonl")
    t = twins()
    assert [r["n"] for r in records(t.poll())] == [1]
    append(outside, line(2))  # no event in the watched folders
    assert [r["n"] for r in records(t.poll())] == [2]
    (tmp_path / "not-yet.jsonl").write_bytes(line(3))  # the dangling link now leads somewhere
    assert [r["n"] for r in records(t.poll())] == [3]
    os.link(w / "sub" / "link.jsonl", w / "hard.jsonl", follow_symlinks=True)  # a second name, listed first
    t.poll()
    append(w / "sub" / "link.jsonl", line(4))
    assert [r["n"] for r in records(t.poll())] == [4]
    assert t.watched.stats.walks == 1


def test_roots_that_appear_vanish_or_are_replaced(tmp_path: Path, twins: Callable[..., Twins]) -> None:
    later, solo = tmp_path / "later", tmp_path / "solo.log"
    t = twins([later, solo, tmp_path / "w"])
    t.poll()
    assert t.watched.stats.events["missing_path"] == 2
    later.mkdir()
    (later / "x.jsonl").write_bytes(line(1))
    solo.write_bytes(SYSLOG.splitlines(keepends=True)[0])
    assert len(t.poll()) == 2
    shutil.rmtree(later)
    later.mkdir()  # another folder at the same path
    (later / "y.jsonl").write_bytes(line(2))
    append(solo, SYSLOG.splitlines(keepends=True)[1])
    t.poll()
    os.rename(later, tmp_path / "moved")
    t.poll()
    assert t.watched.stats.walks == 1


def test_nested_roots_list_a_file_once(tmp_path: Path, twins: Callable[..., Twins]) -> None:
    w = tmp_path / "w"
    (w / "sub").mkdir()
    (w / "sub" / "a.jsonl").write_bytes(line(1))
    t = twins([w / "sub", w, w / "sub" / "a.jsonl"])
    t.poll()
    append(w / "sub" / "a.jsonl", line(2))
    assert [r["n"] for r in records(t.poll())] == [2]
    assert t.poll() == []


def test_polls_while_files_are_written_lose_nothing_and_repeat_nothing(tmp_path: Path) -> None:
    w = tmp_path / "w"
    w.mkdir()
    written: list[int] = []

    def writer() -> None:
        rng = random.Random(5)
        files = [w / "app.jsonl"]
        for n in range(3000):
            roll = rng.random()
            if roll < 0.01:  # a new file in a new folder
                folder = w / f"d{n}" / "e"
                folder.mkdir(parents=True)
                files.append(folder / "new.jsonl")
            elif roll < 0.02:  # rotation: the old name moves aside, a new file takes it
                os.rename(files[0], w / f"app.jsonl.{n}")
                files[0].touch()
            with open(rng.choice(files), "ab", buffering=0) as fh:
                fh.write(line(n))
            written.append(n)
            if n % 20 == 0:
                time.sleep(0.0005)

    src = TailSource([w], settle_seconds=0, rescan_seconds=None)
    cursors: dict[str, FileCursor] = {}
    got: list[int] = []
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while thread.is_alive():
            got += [r["n"] for r in records(poll(src, cursors))]
    finally:
        thread.join()
    got += [r["n"] for r in records(poll(src, cursors))]
    got += [r["n"] for r in records(poll(src, cursors, final=True))]
    assert sorted(got) == sorted(written) and len(set(got)) == len(got)
    assert src.stats.walks == 1 and src.stats.polls > 10
    src.close()


# -- the safety nets -------------------------------------------------------------------------------


def test_the_periodic_rescan_finds_what_no_event_told(tmp_path: Path, twins: Callable[..., Twins],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w" / "app.jsonl"
    path.write_bytes(line(1))
    t = twins(rescan_seconds=30)
    t.poll()
    monkeypatch.setattr(Inotify, "read", lambda self: [])  # events lost (a network file system, say)
    append(path, line(2))
    assert poll(t.watched, dict(t.cursors)) == []  # nothing heard of, nothing read
    t.clock.now += 31
    assert [r["n"] for r in records(t.poll())] == [2]  # the rescan
    assert t.watched.stats.walks == 2


def test_a_queue_overflow_means_a_full_walk(tmp_path: Path, twins: Callable[..., Twins],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "w" / "app.jsonl"
    path.write_bytes(line(1))
    t = twins(rescan_seconds=None)
    t.poll()
    real = Inotify.read
    monkeypatch.setattr(Inotify, "read", lambda self: [(-1, IN_Q_OVERFLOW, "")])  # what was lost is lost
    (tmp_path / "w" / "new").mkdir()
    (tmp_path / "w" / "new" / "b.jsonl").write_bytes(line(2))
    append(path, line(3))
    assert sorted(r["n"] for r in records(t.poll())) == [2, 3]
    assert t.watched.stats.walks == 2 and t.watched.stats.events["watch_overflow"] == 1
    monkeypatch.setattr(Inotify, "read", real)
    append(tmp_path / "w" / "new" / "b.jsonl", line(4))  # the folder found by the walk is watched too
    assert [r["n"] for r in records(t.poll())] == [4]
    assert t.watched.stats.walks == 2


def test_a_real_queue_overflow(tmp_path: Path, twins: Callable[..., Twins]) -> None:
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip(f"max_queued_events is {limit}: too many writes to overflow it here")
    a, b = tmp_path / "w" / "a.jsonl", tmp_path / "w" / "b.jsonl"
    a.write_bytes(b"")
    b.write_bytes(b"")
    t = twins(rescan_seconds=None)
    t.poll()
    with open(a, "ab", buffering=0) as fa, open(b, "ab", buffering=0) as fb:
        for n in range(limit // 2 + 100):  # alternating: the kernel cannot merge them
            fa.write(line(n))
            fb.write(line(n))
    got = t.poll()
    assert len(records(got)) == 2 * (limit // 2 + 100)
    assert t.watched.stats.events["watch_overflow"] == 1 and t.watched.stats.walks == 2


def test_the_watch_limit_leaves_folders_walked_on_every_poll(
        tmp_path: Path, twins: Callable[..., Twins], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    w = tmp_path / "w"
    for name in ("a", "b", "c"):
        (w / name).mkdir()
        (w / name / "x.jsonl").write_bytes(line(1))
    real = Inotify.add
    allowed = [2]  # the root and one folder

    def add(self: Inotify, path: str, mask: int) -> int:
        if allowed[0] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device", path)
        allowed[0] -= 1
        return real(self, path, mask)

    monkeypatch.setattr(Inotify, "add", add)
    t = twins(rescan_seconds=None)
    with caplog.at_level(logging.WARNING):
        t.poll()
        for name in ("a", "b", "c"):
            append(w / name / "x.jsonl", line(2))
            (w / name / "d").mkdir()
            (w / name / "d" / "y.jsonl").write_bytes(line(3))
        assert sorted(r["n"] for r in records(t.poll())) == [2, 2, 2, 3, 3, 3]
        assert t.poll() == []
    assert t.watched.stats.walks == 1
    assert t.watched.stats.events["watch_limit"] >= 2
    assert [r.getMessage() for r in caplog.records if getattr(r, "code", "") == "watch_limit"] == [
        "The inotify watch limit (fs.inotify.max_user_watches) is reached; folders beyond it are walked on every "
        "poll."]  # once


def test_a_failing_watcher_falls_back_to_walking_and_tries_again(
        tmp_path: Path, twins: Callable[..., Twins], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "w" / "app.jsonl"
    path.write_bytes(line(1))
    t = twins(rescan_seconds=30)
    t.poll()
    real = Inotify.read

    def broken(self: Inotify) -> list[Any]:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(Inotify, "read", broken)
    append(path, line(2))
    with caplog.at_level(logging.WARNING):
        assert [r["n"] for r in records(t.poll())] == [2]
    assert t.watched.stats.events["watch_error"] == 1
    assert any(getattr(r, "code", "") == "watch_error" for r in caplog.records)
    monkeypatch.setattr(Inotify, "read", real)
    append(path, line(3))
    assert [r["n"] for r in records(t.poll())] == [3]  # walked: no watcher until the retry
    assert t.watched.stats.walks == 3 and t.watched._watched is None
    t.clock.now += 31
    t.poll()  # a new watcher: its first poll walks
    append(path, line(4))
    assert [r["n"] for r in records(t.poll())] == [4]
    assert t.watched.stats.walks == 4


def test_without_inotify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app.jsonl").write_bytes(line(1))

    def refuse(self: Inotify) -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(Inotify, "__init__", refuse)  # max_user_instances reached
    src = TailSource([tmp_path], settle_seconds=0)
    cursors: dict[str, FileCursor] = {}
    assert len(records(poll(src, cursors))) == 1
    assert src.stats.events["watch_error"] == 1 and src.stats.walks == 1
    monkeypatch.setattr(inotify_module, "available", lambda: False)  # not Linux
    assert TailSource([tmp_path])._watched is None
    with pytest.raises(ConfigError) as info:
        TailSource([tmp_path], watch="inotify")
    assert info.value.code == "bad_option"
    with pytest.raises(ConfigError, match="watch must be one of auto, inotify, poll"):
        TailSource([tmp_path], watch="sometimes")  # type: ignore[arg-type]
    src = TailSource([tmp_path], settle_seconds=0)  # auto: walks, quietly
    assert len(records(poll(src, {}))) == 1
    assert src.stats.events["watch_error"] == 0


# -- the descriptor: made by the first poll, closed with the source, never shared across a fork ------


def open_inotify_fds() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify":
                count += 1
        except OSError:
            continue
    return count


def test_the_descriptor_is_made_lazily_and_closed(tmp_path: Path) -> None:
    (tmp_path / "app.jsonl").write_bytes(line(1))
    gc.collect()  # sources of earlier tests
    before = open_inotify_fds()
    src = TailSource([tmp_path], settle_seconds=0)
    assert open_inotify_fds() == before
    poll(src, {})
    assert open_inotify_fds() == before + 1
    src.close()
    assert open_inotify_fds() == before
    poll(src, {})  # a later poll starts again
    assert open_inotify_fds() == before + 1
    gc.disable()
    try:
        del src  # no reference cycle holds it: gone at once
        assert open_inotify_fds() == before
    finally:
        gc.enable()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_take_the_parents_events(tmp_path: Path) -> None:
    path = tmp_path / "app.jsonl"
    path.write_bytes(line(1))
    src = TailSource([tmp_path], settle_seconds=0, rescan_seconds=None)
    cursors: dict[str, FileCursor] = {}
    poll(src, cursors)
    append(path, line(2))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: polls with its own descriptor
        code = 1
        try:
            os.close(read)
            got = [r["n"] for r in records(poll(src, dict(cursors)))]
            os.write(write, json.dumps([got, src.stats.walks]).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as fh:
        child = json.loads(fh.read() or "null")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert child == [[2], 2]  # the child walked, and read the new line
    assert [r["n"] for r in records(poll(src, cursors))] == [2]  # the parent's event was still queued
    assert src.stats.walks == 1


def test_settings_and_front_pass_the_option(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from autosoc.runtime.front import Front
    from autosoc.settings import Settings, TailSourceSettings

    assert TailSourceSettings(paths=[tmp_path]).watch == "auto"
    with pytest.raises(ValidationError):
        TailSourceSettings(paths=[tmp_path], watch="sometimes")  # type: ignore[arg-type]
    settings = Settings(data_dir=tmp_path, sources=[{"paths": [tmp_path], "watch": "poll"}, {"paths": [tmp_path]}])
    assert [s.watch for s in Front(settings).sources] == ["poll", "auto"]


# -- property: any sequence of file operations, polled with or without inotify: the same batches ------


class World:
    """Random file operations under ``tmp``: the watched folder ``w``, a single-file root, a root
    made later, a nested root, files and folders outside that links point into."""

    KINDS = ("jsonl", "log", "json", "gz", "bin")

    def __init__(self, tmp: Path, rng: random.Random) -> None:
        self.tmp, self.rng = tmp, rng
        self.w = tmp / "w"
        self.outside = tmp / "outside"
        self.outside.mkdir()
        self.n = 0

    def files(self, under: Path | None = None, *, hidden: bool = False) -> list[Path]:
        out = []
        for root, dirs, names in os.walk(under or self.tmp):
            dirs.sort()
            for name in sorted(names):
                p = Path(root) / name
                if p.is_file() and not p.is_symlink() and (hidden or not name.startswith(".")):
                    out.append(p)
        return out

    def folders(self) -> list[Path]:
        return [self.w, *sorted(p for p in self.w.rglob("*") if p.is_dir() and not p.is_symlink()
                                and not any(part.startswith(".") for part in p.relative_to(self.w).parts))]

    def content(self, kind: str, lines: int) -> bytes:
        self.n += 1
        if kind == "jsonl":
            return b"".join(line(self.n * 100 + i) for i in range(lines))
        if kind == "log":
            return b"".join(SYSLOG.splitlines(keepends=True)[: max(1, lines)])
        if kind == "json":
            return json.dumps({"Records": [{"eventVersion": "1.08", "eventSource": "s3.amazonaws.com",
                                            "eventName": f"E{self.n}-{i}"} for i in range(lines)]}, indent=1).encode()
        if kind == "gz":
            return gzip.compress(b"".join(line(self.n * 100 + i) for i in range(lines)))
        return bytes(self.rng.randrange(256) for _ in range(40))

    def name(self, kind: str) -> str:
        stem = self.rng.choice(["app", "auth", "skip-me", "trail", "data", "x"])
        suffix = {"jsonl": ".jsonl", "log": ".log", "json": ".json", "gz": ".jsonl.gz", "bin": ".bin"}[kind]
        return f"{stem}{self.n}{suffix}"

    def step(self) -> str:
        rng = self.rng
        files = [p for p in self.files(self.w) if not p.name.startswith(".")]
        ops: list[tuple[str, int]] = [("new", 4), ("append", 10), ("partial", 3), ("mkdir", 2), ("rotate", 2),
                                      ("rename", 2), ("delete", 2), ("truncate", 2), ("replace", 2), ("touch", 2),
                                      ("rmtree", 1), ("mvdir", 2), ("hidden", 1), ("symlink", 2), ("hardlink", 1),
                                      ("outside", 2), ("later", 1), ("solo", 2), ("nothing", 3)]
        op = rng.choices([o for o, _ in ops], [w for _, w in ops])[0]
        folder = rng.choice(self.folders())
        target = rng.choice(files) if files else None
        if op == "new" or target is None:
            kind = rng.choice(self.KINDS)
            (folder / self.name(kind)).write_bytes(self.content(kind, rng.randint(0, 3)))
        elif op == "append":
            append(target, self.content("jsonl" if target.suffix != ".log" else "log", rng.randint(1, 3)))
        elif op == "partial":
            append(target, b'{"n": 1, "cut')
        elif op == "mkdir":
            deep = folder / f"d{self.n}" / f"e{self.n}"
            self.n += 1
            deep.mkdir(parents=True)
            if rng.random() < 0.7:
                (deep / f"in{self.n}.jsonl").write_bytes(self.content("jsonl", 2))
        elif op == "rotate":
            os.rename(target, target.with_name(target.name + ".1"))
            target.write_bytes(self.content("jsonl", 1))
        elif op == "rename":
            os.rename(target, rng.choice(self.folders()) / f"moved{self.n}{target.suffix}")
            self.n += 1
        elif op == "delete":
            target.unlink()
        elif op == "truncate":
            with open(target, "r+b") as fh:
                fh.truncate(rng.randint(0, 5))
        elif op == "replace":
            aside = target.with_name(f".{target.name}.part")
            aside.write_bytes(self.content("jsonl", 2))
            os.replace(aside, target)
        elif op == "touch":
            bump_mtime(target, -rng.choice([1, 100]))
        elif op == "rmtree" and folder != self.w:
            shutil.rmtree(folder)
        elif op == "mvdir" and folder != self.w:
            places = [p for p in self.folders() if folder not in (p, *p.parents)] + [self.outside]
            place = rng.choice(places)
            os.rename(folder, place / f"m{self.n}")
            self.n += 1
        elif op == "mvdir":  # a folder from outside comes in
            inside = self.outside / f"in{self.n}"
            inside.mkdir()
            (inside / "f.jsonl").write_bytes(self.content("jsonl", 2))
            os.rename(inside, folder / f"came{self.n}")
        elif op == "hidden":
            (folder / f".h{self.n}.jsonl").write_bytes(self.content("jsonl", 1))
            (folder / f".hd{self.n}").mkdir()
            (folder / f".hd{self.n}" / "x.jsonl").write_bytes(self.content("jsonl", 1))
        elif op == "symlink":
            pool = self.files(self.outside) + files
            to = rng.choice(pool) if pool and rng.random() < 0.8 else self.outside / f"later{self.n}.jsonl"
            link = folder / f"link{self.n}.jsonl"
            self.n += 1
            if not link.exists():
                link.symlink_to(to)
        elif op == "hardlink":
            pool = self.files(self.outside) + files
            if pool:
                os.link(rng.choice(pool), folder / f"hard{self.n}.jsonl")
                self.n += 1
        elif op == "outside":
            pool = self.files(self.outside)
            if pool and rng.random() < 0.7:
                append(rng.choice(pool), self.content("jsonl", 1))
            else:
                (self.outside / f"later{rng.randrange(self.n + 1)}.jsonl").write_bytes(self.content("jsonl", 1))
        elif op == "later":
            later = self.tmp / "later"
            if later.exists():
                shutil.rmtree(later)
            else:
                later.mkdir()
                (later / "l.jsonl").write_bytes(self.content("jsonl", 1))
        elif op == "solo":
            solo = self.tmp / "solo" / "auth.log"
            solo.parent.mkdir(exist_ok=True)
            if solo.exists() and rng.random() < 0.3:
                os.rename(solo, solo.with_name(f"auth.log.{self.n}"))
                self.n += 1
            else:
                append(solo, self.content("log", 1))
        return op


@pytest.mark.parametrize("seed", range(40))
def test_random_operations_poll_like_a_walk(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    world = World(tmp_path, rng)
    w = world.w
    w.mkdir()
    paths = [w, tmp_path / "solo" / "auth.log", tmp_path / "later"]
    if seed % 3 == 0:
        (w / "sub").mkdir()
        paths.append(w / "sub")  # a nested root
    rng.shuffle(paths)
    options: dict[str, Any] = {"settle_seconds": 5, "partial_line_seconds": 30, "batch_size": rng.randint(1, 4),
                               "rescan_seconds": None}
    if seed % 4 == 1:
        options.update(include=["*.jsonl", "*.log*", "*.json", "**/d*/*"], exclude=["*skip*"])
    twins = Twins(paths, **options)
    ops = []
    saved: list[dict[str, FileCursor]] = []
    try:
        for _ in range(60):
            for _ in range(rng.randint(1, 3)):
                ops.append(world.step())
                if ops[-1] == "hardlink":  # polled at once: a write through a name that left unseen is not heard
                    break
            twins.clock.now += rng.choice([0, 0, 1, 10, 40])
            saved.append(dict(twins.cursors))
            roll = rng.random()
            if roll < 0.05:  # the caller goes back to cursors saved earlier (a restart of what reads them)
                ops.append("rewind")
                twins.cursors = dict(rng.choice(saved))
                twins.poll()
            elif roll < 0.15:
                twins.poll(stop_after=rng.randint(1, 3))
            else:
                twins.poll(final=roll > 0.97)
        twins.poll(final=True)
        assert twins.watched.stats.walks == 1, "every poll but the first followed the events"
        assert twins.watched.stats.events["watch_error"] == 0
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}, operations {ops}") from exc
    finally:
        twins.watched.close()
