"""The state store (SQLAlchemy 2: SQLite by default, PostgreSQL by URL) with Alembic migrations."""

from autosoc.store.state.store import StateStore
from autosoc.store.state.transaction import StateTransaction

__all__ = ["StateStore", "StateTransaction"]
