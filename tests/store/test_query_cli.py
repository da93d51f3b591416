"""``autosoc query``: SQL over the lake in table, jsonl and csv; refusals and mistakes as one line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from autosoc.cli.errors import friendly_errors
from autosoc.cli.query import query_command
from autosoc.normalize import fields as F
from autosoc.store import EventLake
from tests.store.lake_batches import at, make_batch

runner = CliRunner()
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("query")(friendly_errors(query_command))


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    EventLake(root).write(make_batch([
        {F.EVENT_ID: "e1", F.ORIGIN_SOURCE: "evtx", F.TIME: at("2024-05-01T10:00:00+00:00"), F.HOST: "ws01"},
        {F.EVENT_ID: "e2", F.ORIGIN_SOURCE: "evtx", F.TIME: at("2024-05-02T11:00:00+00:00"), F.HOST: "[bold]dc01"},
        {F.EVENT_ID: "e3", F.ORIGIN_SOURCE: "syslog", F.TIME: None},
    ], raw=[{"EventID": "4624"}, {"EventID": "4625"}, {"msg": "sshd: Accepted"}]), seq=1)
    return root


def _query(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_table(lake: Path) -> None:
    code, out, err = _query(f'SELECT event_id, "{F.HOST}", day FROM events ORDER BY event_id', "--lake", str(lake))
    assert code == 0, err
    assert "e1" in out and "ws01" in out and "2024-05-01" in out and "unknown" in out
    assert "[bold]dc01" in out  # data is printed as text, never as rich markup
    assert "3 rows." in err


def test_jsonl(lake: Path) -> None:
    code, out, err = _query("SELECT event_id, time, raw, [1, 2] AS l FROM events ORDER BY event_id",
                            "--lake", str(lake), "--format", "jsonl")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["event_id"] for r in rows] == ["e1", "e2", "e3"]
    assert rows[0]["time"] == "2024-05-01T10:00:00+00:00" and rows[2]["time"] is None
    assert json.loads(rows[0]["raw"]) == {"EventID": "4624"} and rows[0]["l"] == [1, 2]


def test_csv_and_limit(lake: Path) -> None:
    code, out, err = _query("SELECT event_id, time, [1, 2] AS l FROM events ORDER BY event_id",
                            "--lake", str(lake), "-f", "csv", "--limit", "2")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [["event_id", "time", "l"], ["e1", "2024-05-01T10:00:00+00:00", "[1,2]"],
                    ["e2", "2024-05-02T11:00:00+00:00", "[1,2]"]]
    assert "first 2 rows" in err and "raise --limit" in err


@pytest.mark.parametrize(("sql", "message"), [
    ("DROP VIEW events", "error: DROP statements are not allowed on the event lake"),
    ("SELECT * FROM read_text('/etc/passwd')", "error: query refused"),
    ("SELECT nope FROM events", "error: query failed: Binder Error"),
])
def test_errors_are_one_line(lake: Path, sql: str, message: str) -> None:
    code, out, err = _query(sql, "--lake", str(lake))
    assert code == 1 and out == ""
    assert err.startswith(message) and len(err.strip().splitlines()) == 1


def test_missing_lake_and_bad_limit(tmp_path: Path) -> None:
    code, _, err = _query("SELECT 1", "--lake", str(tmp_path / "nowhere"))
    assert code == 1 and err.startswith("error: no event lake at") and "--lake" in err
    code, _, err = _query("SELECT 1", "--lake", str(tmp_path), "--limit", "0")
    assert code == 2
