"""Alembic migrations of the state database, shipped inside the package.

They run through :func:`autosoc.store.state.migrate.upgrade` (Alembic configured in code, no
``alembic.ini``).  To add a revision in a checkout, change the tables, then::

    python -m autosoc.store.state.migrations upgrade --url sqlite:////tmp/dev.db
    python -m autosoc.store.state.migrations revision -m "what changed" --url sqlite:////tmp/dev.db

which autogenerates the new file in ``versions/`` against a database at the current head.
"""
