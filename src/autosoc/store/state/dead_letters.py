"""The ``dead_letters`` table: records that could not go on, with origin, stage and reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from autosoc.schema import DeadLetter
from autosoc.store.state.base import Base


class DeadLetterRow(Base):
    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_code", "stage", "code"),)

    # SQLite only auto-numbers an INTEGER PRIMARY KEY (the rowid), not a BIGINT one
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    source: Mapped[str]
    path: Mapped[str]
    record: Mapped[int | None]
    offset: Mapped[int | None]
    field: Mapped[str | None]
    stage: Mapped[str]
    code: Mapped[str]
    message: Mapped[str]
    raw: Mapped[str]
    created_at: Mapped[datetime]


def dead_letter_row(letter: DeadLetter, now: datetime) -> dict[str, Any]:
    row = letter.as_dict()
    row["created_at"] = now
    return row
