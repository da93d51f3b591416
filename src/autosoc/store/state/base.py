"""The declarative base of the state tables and the column types they share.

The types make both backends behave the same: datetimes are stored as UTC and always come back
timezone-aware (SQLite has no time zones); text never holds NUL characters (PostgreSQL rejects
them in ``text`` and ``json``; a raw record from a binary file may hold one).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase

#: constraint and index names that Alembic migrations can rely on, on every backend
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def clean_text(value: str) -> str:
    """NUL is the one character PostgreSQL cannot store; it becomes U+FFFD on every backend."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def clean_texts(values: list[str | None]) -> list[str | None]:
    """:func:`clean_text` over a column of values: one scan in C, a copy only if a NUL is there."""
    if "\x00" not in "".join(filter(None, values)):
        return values
    return [None if value is None else clean_text(value) for value in values]


def clean_json(value: Any) -> Any:
    """:func:`clean_text` over every string (keys too) inside a JSON-able value."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(v) for v in value]
    return value


class UTCDateTime(sa.TypeDecorator[datetime]):
    """``timestamp with time zone`` in PostgreSQL, UTC text in SQLite; always aware UTC in Python."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc(value)


class Text(sa.TypeDecorator[str]):
    """Unbounded text without NUL characters."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else clean_text(value)


class Json(sa.TypeDecorator[Any]):
    """JSON (``json`` in PostgreSQL, which keeps key order; text in SQLite).  The engines serialize
    with :func:`dumps_json`, which also keeps NUL characters out."""

    impl = sa.JSON
    cache_ok = True


def dumps_json(value: Any) -> str:
    """orjson; a NUL anywhere (rare) is replaced as :func:`clean_text` does, then serialized again."""
    text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    if text.find(b"\\u0000") != -1:  # not `in`: bytes.__contains__ first tries the needle as an int
        text = orjson.dumps(clean_json(value), option=orjson.OPT_NON_STR_KEYS)
    return text.decode()


def column_processor(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> Callable[[list[Any]], list[Any]] | None:
    """What binding does to each value of a column of ``type_``, applied to a whole column (None:
    nothing to do).  The type's own bind processor for ``dialect``, except where a columnar
    equivalent is cheaper: :class:`Text` (:func:`clean_texts`), :class:`UTCDateTime` on SQLite
    (``isoformat``, checked against SQLAlchemy's storage format), and blobs on SQLite as
    ``bytearray`` (the sqlite3 module binds it directly; ``bytes`` and ``memoryview`` first go
    through its adapter lookup, which raises and formats two AttributeErrors per value)."""
    implementation = type_.dialect_impl(dialect)
    process = implementation.bind_processor(dialect)
    if isinstance(type_, Text):
        if implementation.impl_instance.dialect_impl(dialect).bind_processor(dialect) is None:
            return clean_texts
    elif isinstance(type_, UTCDateTime) and dialect.name == "sqlite" and process is not None:
        if all(process(sample) == _sqlite_datetime(sample) for sample in _DATETIME_SAMPLES):
            return lambda values: [None if value is None else _sqlite_datetime(value) for value in values]
    elif isinstance(type_, sa.LargeBinary) and dialect.name == "sqlite":
        return lambda values: [None if value is None else bytearray(value) for value in values]
    if process is None:
        return None
    return lambda values: list(map(process, values))


def _sqlite_datetime(value: datetime) -> str:
    return utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


_DATETIME_SAMPLES = (datetime(2024, 5, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(987, 12, 31, 23, 59, 59),
                     datetime(2024, 5, 1, 12, tzinfo=UTC).astimezone(timezone(timedelta(hours=-7))))


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        str: Text(),
        bytes: sa.LargeBinary(),
        int: sa.BigInteger(),
        float: sa.Float(),
    }
