"""The two dialects of the services schema stay in step: the same migrations, the same statements, only the
column types spelled per dialect (PostgreSQL's types for SQLite's, each file's header says so)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
# PostgreSQL spelling -> SQLite spelling (timestamps are ISO-8601 strings in SQLite, booleans 0/1).
TYPES = [
    (r"\bBIGSERIAL PRIMARY KEY\b", "INTEGER PRIMARY KEY AUTOINCREMENT"),
    (r"\bTIMESTAMPTZ\b", "TEXT"),
    (r"\bDOUBLE PRECISION\b", "REAL"),
    (r"\bBOOLEAN\b", "INTEGER"),
    (r"\bSMALLINT\b", "INTEGER"),
    (r"\bBIGINT\b", "INTEGER"),
]


def statements(path: Path, types=()) -> list[str]:
    """The file's SQL statements without comments, white space folded, with ``types`` replaced."""
    sql = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
    for pattern, replacement in types:
        sql = re.sub(pattern, replacement, sql)
    return [" ".join(part.split()) for part in sql.split(";") if part.strip()]


def test_both_dialects_have_the_same_migrations():
    names = sorted(p.name for p in (MIGRATIONS / "postgres").glob("*.sql"))
    assert names == sorted(p.name for p in (MIGRATIONS / "sqlite").glob("*.sql"))
    assert "0001_services_schema.sql" in names


@pytest.mark.parametrize("name", sorted(p.name for p in (MIGRATIONS / "postgres").glob("*.sql")))
def test_a_migration_differs_between_dialects_only_in_column_types(name):
    postgres = statements(MIGRATIONS / "postgres" / name, TYPES)
    assert postgres == statements(MIGRATIONS / "sqlite" / name)
    assert postgres
