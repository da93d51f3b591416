"""Contracts shared by every stage: batches and signals."""

from autosoc.schema.batch import KINDS, DeadLetter, EventBatch, RawBatch
from autosoc.schema.signal import LEVEL_RANK, LEVEL_RISK, LEVELS, Signal

__all__ = ["KINDS", "LEVELS", "LEVEL_RANK", "LEVEL_RISK", "DeadLetter", "EventBatch", "RawBatch", "Signal"]
