"""Alembic environment. Tamas hands it an open connection (see ``app.migrate``); there is no
URL in alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from app.models import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations through `tamas migrate`, which connects to the database")
run_migrations(connection)
