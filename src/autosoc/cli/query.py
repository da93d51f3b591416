"""``autosoc query``: one read-only SQL statement over the event lake (DuckDB; the view is ``events``)."""

from __future__ import annotations

import csv
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import polars as pl
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from autosoc.errors import ConfigError
from autosoc.store.lake import DEFAULT_LIMIT, EventLake


class QueryFormat(StrEnum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


def query_command(
    sql: Annotated[str, typer.Argument(help="One read-only statement over the view `events` "
                                            "(SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN).")],
    lake: Annotated[Path, typer.Option("--lake", help="The event lake folder.")],
    output_format: Annotated[QueryFormat, typer.Option("--format", "-f", help="Output format.")] = QueryFormat.table,
    limit: Annotated[int, typer.Option(min=1, help="Return at most this many rows.")] = DEFAULT_LIMIT,
) -> None:
    """Query the event lake with SQL, e.g. autosoc query "SELECT day, count(*) FROM events GROUP BY day" --lake DIR.

    Columns: the normalized (OCSF) columns, `raw` (the raw fields as JSON text), and the
    partitions `day` (UTC, YYYY-MM-DD or 'unknown') and `source`. Quote dotted names: "device.hostname".
    """
    if not lake.is_dir():
        raise ConfigError(f"no event lake at {lake}: give the lake folder with --lake")
    result = EventLake(lake).execute(sql, limit=limit)
    frame = result.frame
    if output_format is QueryFormat.table:
        _print_table(frame)
    elif output_format is QueryFormat.jsonl:
        out = sys.stdout.buffer
        for row in frame.iter_rows(named=True):
            out.write(orjson.dumps(row, default=str, option=orjson.OPT_NON_STR_KEYS) + b"\n")
        out.flush()
    else:
        writer = csv.writer(sys.stdout)
        writer.writerow(frame.columns)
        for row in frame.iter_rows():
            writer.writerow([_cell(value) for value in row])
        sys.stdout.flush()
    if result.truncated:
        Console(stderr=True).print(f"Showing the first {result.limit:,} rows; the answer has more "
                                   "(raise --limit or add LIMIT/aggregation).", markup=False, highlight=False)


def _print_table(frame: pl.DataFrame) -> None:
    if frame.columns:
        table = Table(show_lines=False)
        for name in frame.columns:
            table.add_column(Text(name), overflow="fold")
        for row in frame.iter_rows():  # Text cells: values are data, never rich markup
            table.add_row(*(Text(_cell(value)) for value in row))
        Console().print(table, highlight=False)
    Console(stderr=True).print(f"{frame.height:,} row{'s' if frame.height != 1 else ''}.", highlight=False)


def _cell(value: Any) -> str:
    """One value as text: nothing for null, ISO 8601 for times, JSON for lists and structs."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | dict | tuple):
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
