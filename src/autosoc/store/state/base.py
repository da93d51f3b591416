"""The declarative base of the state tables and the column types they share.

The types make both backends behave the same: datetimes are stored as UTC and always come back
timezone-aware (SQLite has no time zones); text never holds NUL characters (PostgreSQL rejects
them in ``text`` and ``json``; a raw record from a binary file may hold one).
"""

from __future__ import annotations

from datetime import UTC, datetime
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
    if b"\\u0000" in text:
        text = orjson.dumps(clean_json(value), option=orjson.OPT_NON_STR_KEYS)
    return text.decode()


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        str: Text(),
        bytes: sa.LargeBinary(),
        int: sa.BigInteger(),
        float: sa.Float(),
    }
