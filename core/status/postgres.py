"""Status backend on PostgreSQL: the same schema as SQLite, created by the yoyo migrations."""

from __future__ import annotations

from core.db import Database
from core.status.sql import SqlStatusBackend


class PostgresStatusBackend(SqlStatusBackend):
    """Status lookups in PostgreSQL (``postgresql://user@host:port/db``, optional dedicated ``schema``)."""

    def __init__(self, url: str | Database, schema: str | None = None) -> None:
        db = url if isinstance(url, Database) else Database(url, schema=schema)
        if db.dialect != "postgres":
            raise ValueError("PostgresStatusBackend needs a postgresql:// URL")
        super().__init__(db)
