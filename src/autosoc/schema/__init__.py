"""Contracts shared by every stage: batches, signals, entities and incidents."""

from autosoc.schema.batch import KINDS, DeadLetter, EventBatch, RawBatch, RawColumns
from autosoc.schema.entity import ENTITY_KINDS, Entity, canonical
from autosoc.schema.incident import INCIDENT_STATUSES, KILL_CHAIN, Incident
from autosoc.schema.signal import LEVEL_RANK, LEVEL_RISK, LEVELS, Signal

__all__ = ["ENTITY_KINDS", "INCIDENT_STATUSES", "KILL_CHAIN", "KINDS", "LEVELS", "LEVEL_RANK", "LEVEL_RISK",
           "DeadLetter", "Entity", "EventBatch", "Incident", "RawBatch", "RawColumns", "Signal",
           "canonical"]
