"""Polars expressions the baseline detectors share: canonical entities, value normalizers, filters.

Every value a baseline keys on is normalized here so that harmless variation (a browser's minor
version, a versioned install folder, the user profile in a path) is not novelty.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable

import polars as pl

from autosoc.normalize import fields as F

AUTHENTICATION = 3002
PROCESS_ACTIVITY = 1007
NETWORK_ACTIVITY = 4001
API_ACTIVITY = 6003
FILE_ACTIVITY = 1001


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    # not pl.when(expr.str.len_chars() > 0).then(expr): eager frames do not share subexpressions,
    # and that evaluates ``expr`` (a chain of string functions) twice
    return expr.replace("", None)


def canonical_user(column: str = F.USER) -> pl.Expr:
    """Vectorized :func:`autosoc.schema.canonical` for users: lower case, no domain, no UPN suffix."""
    text = pl.col(column).str.strip_chars().str.to_lowercase()
    text = text.str.split("\\").list.last().str.split("@").list.first()
    return _blank_to_null(text)


def canonical_host(column: str = F.HOST) -> pl.Expr:
    """Vectorized :func:`autosoc.schema.canonical` for hosts: lower case, no DNS domain (IPs kept)."""
    text = pl.col(column).str.strip_chars().str.to_lowercase()
    # all digits and dots (an IPv4 address): the whole text; otherwise what comes before the first dot
    return _blank_to_null(text.str.extract(r"^(?:[0-9.]+$|[^.]*)", 0))


def text(column: str) -> pl.Expr:
    """A column stripped, empty strings as null."""
    return _blank_to_null(pl.col(column).str.strip_chars())


def is_class(class_uid: int) -> pl.Expr:
    return pl.col(F.CLASS_UID) == class_uid


def is_success() -> pl.Expr:
    return pl.col(F.STATUS).str.to_lowercase() == "success"


def is_failure() -> pl.Expr:
    return pl.col(F.STATUS).str.to_lowercase() == "failure"


def epoch_seconds() -> pl.Expr:
    return pl.col(F.TIME).dt.epoch("s")


def user_agent_shape(column: str = F.USER_AGENT) -> pl.Expr:
    """A user agent without its version numbers: ``Chrome/120.0.6099.71`` and ``Chrome/121.0.1`` are
    the same browser, so a browser update is not a new user agent."""
    return _blank_to_null(
        pl.col(column).str.strip_chars().str.to_lowercase().str.replace_all(r"[0-9]+(?:[._][0-9]+)*", "#"))


def path_shape(column: str) -> pl.Expr:
    """An executable path, lower case, with the user profile and version-numbered folders
    generalized (``c:\\users\\*\\appdata\\...\\#\\app.exe``)."""
    text = pl.col(column).str.strip_chars().str.to_lowercase().str.replace_all("/", "\\", literal=True)
    text = text.str.replace(r"^([a-z]:\\users\\)[^\\]+", "${1}*")
    text = text.str.replace(r"^(/home/|/users/)[^/]+", "${1}*")
    text = text.str.replace_all(r"\\[0-9]+(?:[._-][0-9a-z]+)+\\", "\\#\\", literal=False)
    text = text.str.replace_all(r"\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?", "{guid}")
    return _blank_to_null(text)


@functools.lru_cache(maxsize=65_536)  # a batch's destinations are mostly the last batch's
def network_of(ip: str, v4_prefix: int = 24, v6_prefix: int = 48) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network holding ``ip``; None when it is not an address."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    prefix = v4_prefix if addr.version == 4 else v6_prefix
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def map_distinct(column: str, values: pl.Series, func: Callable[[str], str | None]) -> pl.Expr:
    """``column`` mapped by a Python function, as an expression; ``func`` is called once per distinct
    value of ``values`` (the column's values), nulls stay null."""
    mapping = {v: func(v) for v in values.unique().to_list() if v is not None}
    return pl.col(column).replace_strict(mapping, default=None, return_dtype=pl.String)
