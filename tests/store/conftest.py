"""State-store fixtures: every test runs on SQLite (a temporary file) and on the real PostgreSQL.

PostgreSQL is the one on 127.0.0.1:5432 (``AUTOSOC_TEST_PG_URL`` to use another).  Each test
session creates its own database, and each test its own schema inside it (through the
connection's ``search_path``), dropped at the end.  When PostgreSQL cannot be reached the
PostgreSQL tests fail, saying how to start it; ``AUTOSOC_TEST_PG=skip`` skips them instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from autosoc.store.state import StateStore

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a database created for this test session (and dropped after it)."""
    if os.environ.get("AUTOSOC_TEST_PG") == "skip":
        pytest.skip("PostgreSQL tests skipped (AUTOSOC_TEST_PG=skip)")
    admin_url = make_url(os.environ.get("AUTOSOC_TEST_PG_URL", DEFAULT_PG_URL))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"autosoc_test_{uuid.uuid4().hex[:12]}"
    problem = None
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        problem = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    if problem is not None:
        admin.dispose()
        pytest.fail(f"PostgreSQL is not reachable at {admin_url.render_as_string(hide_password=True)} "
                    f"({problem}). Start it with ./scripts/services (CI does), point AUTOSOC_TEST_PG_URL at "
                    "another server, or set AUTOSOC_TEST_PG=skip.", pytrace=False)
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """A fresh, empty schema of the session database, as the URL's search_path."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_database, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{pg_database}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[StateStore]:
    """A migrated store."""
    with StateStore.open(store_url) as opened:
        yield opened
