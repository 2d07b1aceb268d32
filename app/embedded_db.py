"""The embedded PostgreSQL (pgserver) used when no ``TAMAS_DATABASE_URL`` is configured."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

logger = logging.getLogger(__name__)

DATABASE_NAME = "tamas"


@dataclass
class EmbeddedPostgres:
    """A handle on a pgserver instance; ``stop()`` releases this process's hold on it."""

    server: Any
    socket_dir: str

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    def stop(self) -> None:
        self.server.cleanup()


def start_embedded(pgdata: Path) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server in ``pgdata`` and make sure our database exists.

    Blocking: call it from a thread inside an event loop.
    """
    pgdata = pgdata.expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

        server = get_server(pgdata, cleanup_mode="stop")
    uri = urlparse(server.get_uri())
    socket_dir = parse_qs(uri.query)["host"][0]
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        logger.info("creating database %s in the embedded PostgreSQL", DATABASE_NAME)
        server.psql(f"CREATE DATABASE {DATABASE_NAME} ENCODING 'UTF8' TEMPLATE template0;")
    logger.info("embedded PostgreSQL ready (data in %s)", pgdata)
    return EmbeddedPostgres(server=server, socket_dir=socket_dir)
