"""Finding files, detecting their readers, and reading a mixed set (skips and unreadable files)."""

from __future__ import annotations

import gzip
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import autosoc.ingest as ingest
from autosoc.errors import ConfigError, InputError
from autosoc.ingest import detect_reader, discover, read_files
from autosoc.ingest.cloudtrail import CloudTrailReader
from autosoc.ingest.csv import CsvReader
from autosoc.ingest.evtx import EvtxReader
from autosoc.ingest.jsonl import JsonReader
from autosoc.ingest.syslog import SyslogReader
from autosoc.schema import RawBatch


def test_public_names() -> None:
    assert set(ingest.__all__) >= {
        "discover",
        "detect_reader",
        "read_files",
        "readers",
        "FileReader",
        "DEFAULT_BATCH_SIZE",
    }
    assert ingest.readers.names() == ["azure", "cloudtrail", "csv", "evtx", "jsonl", "syslog", "zeek"]


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "logs"
    for rel in [
        "b/sysmon/one.json",
        "a/sysmon/two.json",
        "a/auth.log",
        "sysmon/top.json",
        "c.evtx",
        ".hidden/x.json",
        "a/.dot.json",
        "notes/README.md",
    ]:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
    return root


def rels(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


def test_discover_walks_sorted_and_skips_hidden(tree: Path) -> None:
    assert rels(discover([tree]), tree) == [
        "a/auth.log",
        "a/sysmon/two.json",
        "b/sysmon/one.json",
        "c.evtx",
        "notes/README.md",
        "sysmon/top.json",
    ]


def test_discover_include_exclude(tree: Path) -> None:
    assert rels(discover([tree], include=["*.json"]), tree) == [
        "a/sysmon/two.json",
        "b/sysmon/one.json",
        "sysmon/top.json",
    ]
    assert rels(discover([tree], include=["**/sysmon/*.json"]), tree) == [
        "a/sysmon/two.json",
        "b/sysmon/one.json",
        "sysmon/top.json",
    ]
    assert rels(discover([tree], include=["a/*"]), tree) == ["a/auth.log", "a/sysmon/two.json"]
    assert rels(discover([tree], exclude=["*.md", "b/*"]), tree) == [
        "a/auth.log",
        "a/sysmon/two.json",
        "c.evtx",
        "sysmon/top.json",
    ]


def test_discover_keeps_files_given_directly_once(tree: Path) -> None:
    readme = tree / "notes" / "README.md"
    hidden = tree / ".hidden" / "x.json"
    found = discover([readme, hidden, tree], include=["*.json"])
    assert found[:2] == [readme, hidden]
    assert rels(found, tree) == [
        "notes/README.md",
        ".hidden/x.json",
        "a/sysmon/two.json",
        "b/sysmon/one.json",
        "sysmon/top.json",
    ]
    assert discover([str(readme), readme]) == [readme]


def test_discover_missing_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "auth.log"
    with pytest.raises(InputError) as info:
        discover([tmp_path, missing])
    assert info.value.code == "missing_path"
    assert str(missing) in info.value.message and "does not exist" in info.value.message
    assert "give an existing log file or a directory" in info.value.message


def test_detect_reader_on_the_regression_corpus(
    regression_dir: Path, sample_evtx: Path, sample_json: Path
) -> None:
    assert detect_reader(sample_evtx) is EvtxReader
    assert detect_reader(sample_json) is JsonReader
    assert detect_reader(sample_evtx.parent / "info.yml") is None
    found = discover([regression_dir], include=["*.evtx", "*.json"])
    assert len(found) == 404
    assert {detect_reader(p) for p in found} == {EvtxReader, JsonReader}


def test_detect_reader_by_content(tmp_path: Path) -> None:
    cases = {
        "trail.json": (b'{"Records": [{"eventVersion": "1.08"}]}', CloudTrailReader),
        "events": (b'{"a": 1}\n{"a": 2}\n', JsonReader),
        "auth.log": (b"May  1 10:11:12 h sshd[1]: hi\n", SyslogReader),
        "export.csv": (b"a,b\n1,2\n", CsvReader),
        "README.md": (b"# Title, with a comma\n\nText, more text.\n", None),
        "info.yml": (b"id: 1\ndescription: N/A\n", None),
        "blob.bin": (bytes(range(256)) * 64, None),
        "empty.json": (b"", None),
    }
    for name, (data, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert detect_reader(path) is expected, name
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"a": 1}\n' * 10_000))
    assert detect_reader(packed) is JsonReader
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(packed.read_bytes()[:30])
    assert detect_reader(cut) in (JsonReader, None)  # a truncated gzip head must not raise
    junk = tmp_path / "junk.gz"
    junk.write_bytes(b"\x1f\x8b" + b"\xff" * 100)
    assert detect_reader(junk) is None


def test_forced_format(tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    path.write_text('{"a": 1}\n')
    assert detect_reader(path, "jsonl") is JsonReader
    with pytest.raises(ConfigError) as info:
        detect_reader(path, "nosuch")
    assert "known: azure, cloudtrail, csv, evtx, jsonl, syslog, zeek" in str(info.value)
    [batch] = read_files([path], fmt="syslog")
    assert [d.code for d in batch.dead_letters] == ["not_syslog"]


def _copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


def test_read_files_mixed(sample_evtx: Path, sample_json: Path, tmp_path: Path) -> None:
    evtx_copy = _copy(sample_evtx, tmp_path / "a.evtx")
    json_copy = _copy(sample_json, tmp_path / "b.json")
    readme = tmp_path / "c.md"
    readme.write_text("# notes\n")
    empty = tmp_path / "d.log.txt"
    empty.write_bytes(b"")
    skipped: list[tuple[Path, str]] = []
    batches = list(read_files(discover([tmp_path]), skipped=skipped, batch_size=1))
    assert [(b.source, b.path) for b in batches][:1] == [("evtx", str(evtx_copy))]
    assert {b.source for b in batches} == {"evtx", "jsonl"}
    assert all(len(b) == 1 for b in batches)
    assert sum(len(b) for b in batches if b.source == "jsonl") == sum(
        len(b) for b in batches if b.source == "evtx"
    )
    assert [p for p, _ in skipped] == [readme, empty]
    assert "no reader recognises" in skipped[0][1] and "--format" in skipped[0][1]
    assert skipped[1][1] == "empty file"
    assert json_copy.exists()


def test_unreadable_files_become_dead_letters(sample_json: Path, tmp_path: Path) -> None:
    gone = tmp_path / "vanished.json"
    good = _copy(sample_json, tmp_path / "good.json")
    a_dir = tmp_path / "a_dir.json"
    a_dir.mkdir()
    batches = list(read_files([gone, a_dir, good]))
    assert [b.dead_letters[0].code for b in batches[:2]] == ["unreadable_file", "unreadable_file"]
    assert batches[0].dead_letters[0].origin.path == str(gone)
    assert "No such file" in batches[0].dead_letters[0].message
    assert all(len(b) == 0 for b in batches[:2])
    assert batches[2].path == str(good) and len(batches[2]) >= 1
    forced = list(read_files([gone], fmt="evtx"))
    assert [(b.source, b.kind, b.dead_letters[0].code) for b in forced] == [
        ("evtx", "windows", "unreadable_file")
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "secret.json"
    path.write_text('{"a": 1}\n')
    path.chmod(0)
    [batch] = list(read_files([path]))
    assert (
        batch.dead_letters[0].code == "unreadable_file"
        and "Permission denied" in batch.dead_letters[0].message
    )


def test_error_in_the_middle_of_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"a": 1}\n' * 10)

    def failing(self: JsonReader, path: Path, *, batch_size: int = 5000) -> Iterator[RawBatch]:
        yield RawBatch("jsonl", str(path), "json", [{"a": 1}], [1])
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(JsonReader, "read", failing)
    batches = list(read_files([path]))
    assert [len(b) for b in batches] == [1, 0]
    letter = batches[1].dead_letters[0]
    assert (letter.code, letter.origin.source, batches[1].kind) == ("unreadable_file", "jsonl", "json")
    assert "Input/output error" in letter.message


def test_hard_links_are_two_files_and_a_symlink_to_a_listed_file_is_one(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("x\n")
    os.link(tmp_path / "a.log", tmp_path / "b.log")
    os.symlink(tmp_path / "a.log", tmp_path / "c.log")
    assert [p.name for p in discover([tmp_path])] == ["a.log", "b.log"]
    assert [p.name for p in discover([tmp_path / "a.log", tmp_path])] == ["a.log", "b.log"]
