"""Replay: recorded files -> a live feed in event-time order, files byte-identical at the end."""

from __future__ import annotations

from pathlib import Path

import orjson

from autosoc.runtime.replay import Replayer, plan


def _line(ts: str, n: int) -> bytes:
    return orjson.dumps({"@timestamp": ts, "host": {"name": "h"}, "n": n}) + b"\n"


def test_lines_of_all_files_go_out_in_event_time_order_and_files_end_identical(tmp_path: Path) -> None:
    source = tmp_path / "rec"
    (source / "a").mkdir(parents=True)
    (source / "a" / "one.jsonl").write_bytes(_line("2026-11-02T10:00:00Z", 1) + _line("2026-11-02T10:02:00Z", 3))
    (source / "two.jsonl").write_bytes(_line("2026-11-02T10:01:00Z", 2) + _line("2026-11-02T10:03:00Z", 4))
    written: list[tuple[str, tuple[int, int] | None]] = []
    items = plan(source)
    Replayer(source, tmp_path / "spool", on_write=lambda item, _: written.append(
        (item.path.name, item.lines))).run(items)
    assert written == [("one.jsonl", (1, 1)), ("two.jsonl", (1, 1)), ("one.jsonl", (2, 2)), ("two.jsonl", (2, 2))]
    for path in source.rglob("*.jsonl"):
        assert (tmp_path / "spool" / path.relative_to(source)).read_bytes() == path.read_bytes()


def test_a_line_never_overtakes_the_line_before_it_in_its_file(tmp_path: Path) -> None:
    source = tmp_path / "rec"
    source.mkdir()
    # out of order inside the file: the third record is older than the second
    (source / "x.jsonl").write_bytes(_line("2026-11-02T10:00:00Z", 1) + _line("2026-11-02T12:00:00Z", 2)
                                     + _line("2026-11-02T11:00:00Z", 3) + b"\n")
    items = plan(source)
    assert [i.lines for i in items] == [(1, 1), (2, 2), (3, 4)]
    assert [i.at for i in items] == sorted(i.at for i in items)
    Replayer(source, tmp_path / "spool").run(items)
    assert (tmp_path / "spool" / "x.jsonl").read_bytes() == (source / "x.jsonl").read_bytes()


def test_real_samples_replay_byte_identical(regression_dir: Path, tmp_path: Path) -> None:
    case = sorted(p.parent for p in regression_dir.rglob("*.evtx"))[0]
    items = plan(case)
    assert any(i.lines is None for i in items)  # the EVTX file is copied whole
    Replayer(case, tmp_path / "spool", rate=100000).run(items)
    for path in case.iterdir():
        if path.suffix in (".evtx", ".json"):
            assert (tmp_path / "spool" / path.name).read_bytes() == path.read_bytes()
