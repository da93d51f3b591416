"""Identities: who a user is, from an identity inventory (an HR / directory export as CSV).

The CSV has a header row with at least ``user`` and ``department``; optional columns ``email``
(or ``upn``), ``title``, ``is_admin``, ``manager`` and ``country`` are read when present, other
columns are ignored.  Users are matched by their canonical name
(:func:`autosoc.schema.canonical`: ``CORP\\alice``, ``alice@corp.example`` and ``Alice`` are one
user), through ``user`` and through the local part of ``email``/``upn``.

The enricher fills ``actor.user.department`` where the event has none; the whole record is
available to other stages through :meth:`IdentityEnricher.identity`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from autosoc.enrich.base import EnricherConfig, enrichers, ensure_columns, is_blank
from autosoc.errors import InputError, Origin
from autosoc.normalize import fields as F
from autosoc.schema import EventBatch, canonical

logger = logging.getLogger(__name__)

REQUIRED = ("user", "department")
OPTIONAL = ("email", "upn", "title", "is_admin", "manager", "country")
_TRUE = frozenset({"1", "true", "yes", "y", "t"})
_FALSE = frozenset({"", "0", "false", "no", "n", "f"})


@dataclass(frozen=True, slots=True)
class Identity:
    user: str  # canonical
    department: str | None
    email: str | None = None
    title: str | None = None
    is_admin: bool = False
    manager: str | None = None  # canonical
    country: str | None = None


@enrichers.register("identities")
class IdentityEnricherConfig(EnricherConfig):
    """Department (and title, admin flag, manager, country) of users from an identity inventory CSV."""

    type: Literal["identities"] = "identities"
    path: Path = Field(description="Identity inventory CSV: columns user, department; optional email/upn, title, "
                       "is_admin, manager, country.")

    def build(self) -> IdentityEnricher:
        return IdentityEnricher(load_identities(self.path))


def load_identities(path: Path) -> dict[str, Identity]:
    """Read an inventory into ``{canonical user: Identity}``.

    Raises :class:`InputError` when the file is missing, unreadable, or lacks a required column
    or an ``is_admin`` value is not a boolean.  A user listed twice keeps its first row (logged).
    """
    origin = Origin("identities", str(path))
    if not path.is_file():
        raise InputError(f"identity inventory not found: {path}", code="missing_file", origin=origin)
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(f"cannot read the identity inventory: {exc}", code="bad_csv", origin=origin) from exc
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise InputError(f"identity inventory lacks column(s) {', '.join(missing)} (has: {', '.join(frame.columns)})",
                         code="missing_field", origin=origin)
    frame = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in OPTIONAL if c not in frame.columns)
    out: dict[str, Identity] = {}
    duplicates = 0
    for line, row in enumerate(frame.select(*REQUIRED, *OPTIONAL).iter_rows(named=True), start=2):
        name = (row["user"] or "").strip()
        if not name:
            continue
        flag = (row["is_admin"] or "").strip().lower()
        if flag not in _TRUE and flag not in _FALSE:
            raise InputError(f"is_admin must be true/false, not {row['is_admin']!r}", code="bad_value",
                             origin=Origin("identities", str(path), line, field="is_admin"))
        email = _clean(row["email"]) or _clean(row["upn"])
        identity = Identity(
            user=canonical("user", name), department=_clean(row["department"]), email=email,
            title=_clean(row["title"]), is_admin=flag in _TRUE,
            manager=canonical("user", row["manager"]) if _clean(row["manager"]) else None,
            country=(_clean(row["country"]) or "").upper() or None,
        )
        keys = dict.fromkeys([identity.user] + ([canonical("user", email)] if email else []))
        for key in keys:
            if not key:
                continue
            if key in out:
                duplicates += 1
                continue
            out[key] = identity
    if duplicates:
        logger.warning("Identity inventory lists users more than once; the first row wins.",
                       extra={"path": str(path), "count": duplicates})
    return out


def _clean(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


class IdentityEnricher:
    name = "identities"

    def __init__(self, identities: dict[str, Identity]) -> None:
        self.identities = identities

    def identity(self, user: str) -> Identity | None:
        """The inventory record of ``user`` (any spelling), or None."""
        return self.identities.get(canonical("user", user))

    def enrich(self, batch: EventBatch) -> EventBatch:
        events = batch.events
        if events.height == 0 or not self.identities:
            return batch
        events = ensure_columns(events, (F.USER, F.USER_UID, F.USER_DEPARTMENT))
        blank = events.filter(is_blank(F.USER_DEPARTMENT))
        names = pl.concat([blank[F.USER], blank[F.USER_UID]]).drop_nulls().unique()
        mapping = {}
        for name in sorted(names.to_list()):
            found = self.identity(name)
            if found is not None and found.department:
                mapping[name] = found.department
        if not mapping:
            return EventBatch(events, batch.raw, batch.dead_letters)
        keys = list(mapping)
        values = list(mapping.values())

        def lookup(column: str) -> pl.Expr:
            return pl.col(column).replace_strict(keys, values, default=None, return_dtype=pl.String)

        department = pl.when(is_blank(F.USER_DEPARTMENT)).then(pl.coalesce(lookup(F.USER), lookup(F.USER_UID)))
        events = events.with_columns(department.otherwise(pl.col(F.USER_DEPARTMENT)).alias(F.USER_DEPARTMENT))
        return EventBatch(events, batch.raw, batch.dead_letters)
