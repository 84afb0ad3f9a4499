"""The PostgreSQL test fixtures fail when the server is missing (CI has one); SKIP_POSTGRES_TESTS=1 skips them."""

from __future__ import annotations

import pytest

from tests.fakes import databases

UNREACHABLE = "postgresql://postgres@127.0.0.1:9/none?connect_timeout=2"


def test_a_missing_postgresql_fails_the_test(monkeypatch):
    monkeypatch.setattr(databases, "PG_URL", UNREACHABLE)
    monkeypatch.delenv(databases.SKIP_ENV, raising=False)
    with pytest.raises(pytest.fail.Exception, match="SKIP_POSTGRES_TESTS=1"):
        databases.require_postgres()


def test_the_opt_out_skips_instead(monkeypatch):
    monkeypatch.setattr(databases, "PG_URL", UNREACHABLE)
    monkeypatch.setenv(databases.SKIP_ENV, "1")
    with pytest.raises(pytest.skip.Exception):
        databases.require_postgres()

