"""The embedded default status backend: a SQLite file (``var/services.db``)."""

from __future__ import annotations

from pathlib import Path

from core.db import Database
from core.status.sql import SqlStatusBackend


class SqliteStatusBackend(SqlStatusBackend):
    """Status lookups in a SQLite file; the schema is created by the migrations on first use."""

    def __init__(self, path: str | Path | Database) -> None:
        db = path if isinstance(path, Database) else Database(str(path))
        if db.dialect != "sqlite":
            raise ValueError("SqliteStatusBackend needs a SQLite database")
        super().__init__(db)
