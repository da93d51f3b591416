"""Developer tool: ``python -m autosoc.store.state.migrations upgrade|current|revision --url URL [-m MSG]``.

``revision`` autogenerates a new file in ``versions/`` from the difference between the tables
and a database at the current head (upgrade a scratch database first).
"""

from __future__ import annotations

import argparse

from alembic import command

from autosoc.store.state.engine import WRITE, make_engine, parse_url
from autosoc.store.state.migrate import alembic_config, current_revision, upgrade


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m autosoc.store.state.migrations")
    parser.add_argument("action", choices=("upgrade", "current", "revision"))
    parser.add_argument("--url", required=True, help="state database URL (sqlite:///... or postgresql+psycopg://...)")
    parser.add_argument("-m", "--message", default="change", help="revision message")
    args = parser.parse_args()
    engine = make_engine(parse_url(args.url))
    if args.action == "upgrade":
        before, after = upgrade(engine)
        print(f"{before} -> {after}")
    elif args.action == "current":
        with engine.connect() as connection:
            print(current_revision(connection))
    else:
        with engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
            command.revision(alembic_config(connection), message=args.message, autogenerate=True)
    engine.dispose()


if __name__ == "__main__":
    main()
