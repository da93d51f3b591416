"""The one exception tree of autosoc, and :class:`Origin`, the place a record or rule came from.

::

    AutosocError                 every error autosoc raises on purpose
    ├── ConfigError              bad settings, flags or component configuration
    ├── InputError               a source cannot be read (missing file, unknown format)
    │   └── ParseError           one record cannot be decoded or normalized
    ├── RuleError                a detection rule cannot be loaded or compiled
    └── StoreError               a state or lake operation failed

Each error has a short ``code`` from a bounded set (``invalid_json``, ``bad_evtx_record``,
``unsupported_modifier`` ...) used for counting and dead-letter grouping; the free text goes
in the message.  Errors about data carry an :class:`Origin`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a record, dead letter or rule came from.

    ``record`` is the 1-based line number for line formats, the EVTX ``EventRecordID`` for
    EVTX, the index in ``Records`` for CloudTrail, and the 1-based position of a document for
    concatenated JSON.  ``offset`` is a byte offset where the reader knows it.
    """

    source: str
    path: str
    record: int | None = None
    offset: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        text = self.path if self.record is None else f"{self.path}:{self.record}"
        if self.offset is not None:
            text += f"@{self.offset}"
        if self.field:
            text += f" field={self.field}"
        return text


class AutosocError(Exception):
    """Root of the tree.  ``code`` names the kind of failure; ``origin`` where it happened."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, origin: Origin | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.origin = origin

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}" if self.origin else self.message


class ConfigError(AutosocError):
    code = "bad_config"


class InputError(AutosocError):
    code = "bad_input"


class ParseError(InputError):
    code = "parse_error"


class RuleError(AutosocError):
    code = "bad_rule"


class StoreError(AutosocError):
    code = "store_error"
