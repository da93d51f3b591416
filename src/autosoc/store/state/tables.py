"""Every state table, imported in one place so the metadata is complete (migrations, create_all)."""

from autosoc.store.state.base import Base
from autosoc.store.state.dead_letters import DeadLetterRow
from autosoc.store.state.incidents import IncidentRow
from autosoc.store.state.runtime import CheckpointRow, ComponentStateRow, CursorRow, MetaRow
from autosoc.store.state.signals import SignalRow

metadata = Base.metadata

__all__ = ["CheckpointRow", "ComponentStateRow", "CursorRow", "DeadLetterRow", "IncidentRow", "MetaRow",
           "SignalRow", "metadata"]
