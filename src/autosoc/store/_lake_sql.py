"""The SQL side of the event lake: a sandboxed DuckDB connection and the read-only statement check.

A query gets a fresh in-memory DuckDB connection that can read only the lake's folder
(``allowed_directories`` + ``enable_external_access = false``: no other files, no network, no
extension installs), with its configuration locked, and one view, ``events``.  The statement
itself must be a single read (SELECT, WITH, VALUES, FROM-first, DESCRIBE, SHOW, SUMMARIZE,
UNPIVOT, or EXPLAIN [ANALYZE] of one of those); anything else is refused before it runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl

from autosoc.errors import StoreError

#: statement types that only read (DuckDB parses DESCRIBE, SHOW, SUMMARIZE, VALUES and UNPIVOT as SELECT)
_ALLOWED = {duckdb.StatementType.SELECT}
_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?(?:\([^)]*\)\s*)?", re.IGNORECASE)
_COMMENT = re.compile(r"^\s*(?:--[^\n]*(?:\n|$)|/\*.*?\*/)", re.DOTALL)


def check_read_only(connection: duckdb.DuckDBPyConnection, sql: str) -> str:
    """The one statement of ``sql``, if it only reads; otherwise a :class:`StoreError` saying why."""
    try:
        statements = connection.extract_statements(sql)
    except duckdb.Error as exc:
        raise StoreError(f"bad SQL: {_first_line(exc)}", code="bad_query") from exc
    if len(statements) != 1:
        raise StoreError(f"give exactly one SQL statement, not {len(statements)}", code="bad_query")
    statement = statements[0]
    kind = statement.type
    if kind == duckdb.StatementType.EXPLAIN:
        inner = _EXPLAIN.sub("", _strip_comments(statement.query), count=1)
        try:
            inner_statements = connection.extract_statements(inner)
        except duckdb.Error as exc:
            raise StoreError(f"bad SQL: {_first_line(exc)}", code="bad_query") from exc
        if len(inner_statements) != 1 or inner_statements[0].type not in _ALLOWED:
            raise StoreError("only EXPLAIN of a query is allowed on the event lake", code="query_not_allowed")
    elif kind not in _ALLOWED:
        name = kind.name if hasattr(kind, "name") else str(kind)
        raise StoreError(f"{name} statements are not allowed on the event lake: it is read-only "
                         "(use SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE or EXPLAIN)", code="query_not_allowed")
    return sql


def _strip_comments(sql: str) -> str:
    while True:
        stripped = _COMMENT.sub("", sql, count=1)
        if stripped == sql:
            return sql
        sql = stripped


def sandbox(root: Path, views_sql: str) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory connection that may read only ``root``, with the ``events`` view defined."""
    connection = duckdb.connect(":memory:", config={
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    })
    try:
        connection.execute("SET TimeZone = 'UTC'")
        connection.execute(f"SET allowed_directories = [{literal(str(root) + '/')}]")
        connection.execute("SET enable_external_access = false")
        connection.execute(views_sql)
        connection.execute("SET lock_configuration = true")
    except duckdb.Error as exc:
        connection.close()
        raise StoreError(f"cannot open the event lake at {root}: {_first_line(exc)}", code="store_error") from exc
    return connection


def run(connection: duckdb.DuckDBPyConnection, sql: str, limit: int) -> tuple[pl.DataFrame, bool]:
    """At most ``limit`` rows of the answer, and whether there were more."""
    try:
        relation = connection.sql(sql)
        if relation is None:  # not a query after all
            raise StoreError("the statement returned no result", code="bad_query")
        frame = relation.limit(limit + 1).pl()
    except duckdb.PermissionException as exc:
        raise StoreError(f"query refused: {_first_line(exc)} (only the lake's own files can be read)",
                         code="query_not_allowed") from exc
    except duckdb.Error as exc:
        raise StoreError(f"query failed: {_first_line(exc)}", code="bad_query") from exc
    truncated = frame.height > limit
    return (frame.head(limit) if truncated else frame), truncated


def literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
