"""Storage: the event lake (Parquet + DuckDB) and the state store (SQLAlchemy: SQLite or PostgreSQL)."""

from autosoc.store.lake import EventLake, LakeStats, QueryResult
from autosoc.store.state import StateStore, StateTransaction

__all__ = ["EventLake", "LakeStats", "QueryResult", "StateStore", "StateTransaction"]
