"""Normalize: decoded records -> raw string columns (what Sigma matches) + OCSF columns."""

from autosoc.normalize.base import Parser, parsers
from autosoc.normalize.parser import normalize, normalize_many

__all__ = ["Parser", "normalize", "normalize_many", "parsers"]
