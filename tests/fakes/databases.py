"""Test databases: a SQLite file under pytest's tmp_path, or a unique schema in the local PostgreSQL.

PostgreSQL tests use ``TEST_DATABASE_URL`` (default postgresql://postgres@127.0.0.1:5432/test), create a
schema named ``t_<random>`` through the migrations and drop it afterwards; they are skipped only when the
server cannot be reached.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from core.db import Database

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_available() -> bool:
    """True when the test PostgreSQL server answers."""
    return Database(PG_URL).ping()


def make_database(kind: str, tmp_path: Path) -> Iterator[Database]:
    """Yield a migrated, empty database of ``kind`` ("sqlite" or "postgres"); cleaned up afterwards."""
    if kind == "sqlite":
        db = Database(str(tmp_path / "services.db"))
        db.ensure_schema()
        yield db
        return
    if not postgres_available():
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    db = Database(PG_URL, schema=f"t_{uuid.uuid4().hex[:12]}")
    try:
        db.ensure_schema()
        yield db
    finally:
        db.drop_schema()
