"""Engines for the state database: SQLite (the default, one file) or PostgreSQL (by URL).

SQLite runs in WAL mode (readers never block the writer), with foreign keys on, a busy timeout
and real transactions: pysqlite's own transaction handling is switched off and every
transaction starts with an explicit ``BEGIN`` (``BEGIN IMMEDIATE`` for writes, so a writer
takes the lock up front instead of failing half-way).  PostgreSQL uses psycopg 3.

Errors from the driver become :class:`StoreError` with what to do next; messages show the URL
with its password hidden, never the password.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from autosoc.errors import StoreError
from autosoc.store.state.base import dumps_json

BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10
#: execution option that makes a SQLite transaction start with BEGIN IMMEDIATE
WRITE = "autosoc_write"


def parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(f"bad state database URL {redact(url)!r}: expected sqlite:///path/state.db "
                         "or postgresql+psycopg://user@host:port/database", code="bad_url") from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver autosoc ships with
    elif backend not in ("sqlite", "postgresql"):
        raise StoreError(f"unsupported state database {parsed.render_as_string(hide_password=True)!r}: "
                         "use sqlite:///path/state.db or postgresql+psycopg://...", code="bad_url")
    return parsed


def redact(url: str | URL) -> str:
    """The URL for messages and logs: the password replaced by ``***``."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def describe(url: URL) -> str:
    """Where the database is, for people: ``SQLite database /x/state.db``, ``PostgreSQL at h:5432/db``."""
    if url.get_backend_name() == "sqlite":
        return f"SQLite database {url.database or ':memory:'}"
    return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def make_engine(url: URL) -> Engine:
    try:
        if url.get_backend_name() == "sqlite":
            return _sqlite_engine(url)
        return create_engine(url, pool_pre_ping=True, json_serializer=dumps_json, json_deserializer=orjson.loads,
                             connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "autosoc"})
    except NoSuchModuleError as exc:
        raise StoreError(f"no database driver for {redact(url)}: {exc}", code="bad_url") from exc
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot use state database {redact(url)}: {exc}", code="bad_url") from exc


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    if not memory:
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of SQLite database {database}: {exc.strerror}",
                             code="store_unavailable") from exc
    options: dict[str, Any] = {"json_serializer": dumps_json, "json_deserializer": orjson.loads,
                               "connect_args": {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}}
    if memory:  # one shared connection, or every checkout would see a new empty database
        options["poolclass"] = StaticPool
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _begin)
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a committed checkpoint survives power loss
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def translate(exc: SQLAlchemyError, url: URL, action: str) -> StoreError:
    """A :class:`StoreError` saying what failed and what to do about it."""
    where = describe(url)
    text = _first_line(exc)
    if isinstance(exc, DBAPIError) and exc.statement is None:  # raised while connecting
        if url.get_backend_name() == "postgresql":
            return StoreError(f"cannot connect to {where}: {text}. Start PostgreSQL or fix the URL "
                              f"({redact(url)}).", code="store_unavailable")
        return StoreError(f"cannot open {where}: {text}. Check that the path exists and is writable.",
                          code="store_unavailable")
    if "database is locked" in text:
        return StoreError(f"{where} is locked by another process ({text}): stop the other autosoc writer.",
                          code="store_locked")
    return StoreError(f"{action} failed on {where}: {text}", code="store_error")


def _first_line(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return redact(line)
