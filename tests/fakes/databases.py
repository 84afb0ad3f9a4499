"""Test databases: a SQLite file under pytest's tmp_path, or a unique schema in the local PostgreSQL.

PostgreSQL tests use ``TEST_DATABASE_URL`` (default postgresql://postgres@127.0.0.1:5432/test), create a
schema named ``t_<random>`` through the migrations and drop it afterwards. An unreachable server FAILS them (CI has
one): only ``SKIP_POSTGRES_TESTS=1`` turns them into skips, for a machine without PostgreSQL.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from core.db import Database

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


SKIP_ENV = "SKIP_POSTGRES_TESTS"


def postgres_available() -> bool:
    """True when the test PostgreSQL server answers."""
    return Database(PG_URL).ping()


def require_postgres() -> None:
    """Fail the calling test when the test PostgreSQL server does not answer; skip it instead only when
    ``SKIP_POSTGRES_TESTS=1`` says this machine has no PostgreSQL on purpose."""
    if postgres_available():
        return
    message = f"PostgreSQL not reachable at {PG_URL}"
    if os.environ.get(SKIP_ENV, "").strip() == "1":
        pytest.skip(f"{message} ({SKIP_ENV}=1)")
    pytest.fail(f"{message}: start it, set TEST_DATABASE_URL, or set {SKIP_ENV}=1 to skip the PostgreSQL tests")


def make_database(kind: str, tmp_path: Path) -> Iterator[Database]:
    """Yield a migrated, empty database of ``kind`` ("sqlite" or "postgres"); cleaned up afterwards."""
    if kind == "sqlite":
        db = Database(str(tmp_path / "services.db"))
        db.ensure_schema()
        yield db
        return
    require_postgres()
    db = Database(PG_URL, schema=f"t_{uuid.uuid4().hex[:12]}")
    try:
        db.ensure_schema()
        yield db
    finally:
        db.drop_schema()
