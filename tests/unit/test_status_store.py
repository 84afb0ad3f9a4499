"""Status lookups in the SQLite and PostgreSQL backends: verification, no enumeration, factory."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from core.db import Database
from core.status.base import normalize_verification, verification_matches
from core.status.factory import status_backend_from_settings
from core.status.postgres import PostgresStatusBackend
from core.status.sql import SqlStatusBackend
from core.status.sqlite import SqliteStatusBackend
from settings import Settings
from tests.fakes.databases import make_database
from tests.fakes.status import make_app

PHONE = "0912345678"
ID_NUMBER = "027203004567"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request, tmp_path):
    for db in make_database(request.param, tmp_path):
        b = SqliteStatusBackend(db) if db.dialect == "sqlite" else PostgresStatusBackend(db)
        b.save(make_app("Chờ bổ sung hồ sơ"), phone=PHONE, id_number=ID_NUMBER)
        yield b


def test_lookup_with_phone_or_id_last4(backend):
    by_phone = backend.lookup("H07.02-251120-0003", "5678")
    by_id = backend.lookup("h07.02 251120 0003", "4567")
    assert by_phone == by_id == make_app("Chờ bổ sung hồ sơ")
    assert by_phone.history[0].agency == "Bộ phận Một cửa UBND phường Võ Cường"


def test_wrong_factor_and_unknown_code_look_the_same(backend):
    assert backend.lookup("H07.02-251120-0003", "0000") is None
    assert backend.lookup("H07.02-251120-0004", "5678") is None
    assert backend.lookup("không phải mã", "5678") is None
    assert backend.lookup("H07.02-251120-0003", "") is None
    assert backend.lookup("H07.02-251120-0003", "56789") is None


def test_trusted_lookup_needs_no_factor(backend):
    """Officers signed in to the console see an application by its code alone."""
    assert backend.lookup_trusted("h07.02 251120 0003") == make_app("Chờ bổ sung hồ sơ")
    assert backend.lookup_trusted("H07.02-251120-0004") is None
    assert backend.lookup_trusted("không phải mã") is None


def test_the_one_stop_system_refuses_trusted_lookups():
    from core.status.base import TrustedLookupUnsupported
    from core.status.http import HttpStatusBackend

    with pytest.raises(TrustedLookupUnsupported):
        HttpStatusBackend("http://127.0.0.1:9").lookup_trusted("H07.02-251120-0003")


def test_health(backend):
    assert backend.health() is True


def test_save_replaces_history(backend):
    app = replace(make_app("Đang xử lý"), history=[])
    backend.save(app, phone=PHONE, id_number=ID_NUMBER)
    found = backend.lookup("H07.02-251120-0003", "5678")
    assert found.status == "Đang xử lý" and found.history == []
    assert backend.count() == 1


def test_verification_helpers():
    assert normalize_verification(" 56 78 ") == "5678"
    assert normalize_verification("567") is None
    assert verification_matches("5678", PHONE, ID_NUMBER)
    assert verification_matches("4567", PHONE, ID_NUMBER)
    assert not verification_matches("1234", PHONE, ID_NUMBER)
    assert not verification_matches("", None, None)
    assert not verification_matches("\x00\x00\x00\x00", None, None)


def test_unknown_and_wrong_cost_about_the_same(tmp_path):
    backend = SqliteStatusBackend(tmp_path / "s.db")
    backend.save(make_app("Đang xử lý"), phone=PHONE, id_number=ID_NUMBER)

    def timed(code, factor, n=200):
        start = time.perf_counter()
        for _ in range(n):
            backend.lookup(code, factor)
        return time.perf_counter() - start

    timed("H07.02-251120-0003", "0000", 20)  # warm up
    wrong = min(timed("H07.02-251120-0003", "0000") for _ in range(3))
    unknown = min(timed("H07.02-251120-9999", "0000") for _ in range(3))
    assert 0.4 < wrong / unknown < 2.5


def test_database_errors_surface_as_backend_error(tmp_path):
    from core.status.base import StatusBackendError

    backend = SqlStatusBackend(Database(str(tmp_path / "ok.db")))
    backend.db.ensure_schema()
    backend.db.path = tmp_path / "other.db"  # an empty database without the tables: queries fail
    with pytest.raises(StatusBackendError):
        backend.lookup("H07.02-251120-0003", "5678")
    with pytest.raises(StatusBackendError):
        backend.lookup_trusted("H07.02-251120-0003")


def test_factory(tmp_path):
    settings = replace(Settings.from_env(), services_db=tmp_path / "f.db", status_backend="sqlite")
    assert isinstance(status_backend_from_settings(settings), SqliteStatusBackend)
    with pytest.raises(ValueError, match="DATABASE_URL"):
        status_backend_from_settings(replace(settings, status_backend="postgres", database_url=""))
    with pytest.raises(ValueError, match="ONE_STOP_URL"):
        status_backend_from_settings(replace(settings, status_backend="http"))
    with pytest.raises(ValueError, match="không hợp lệ"):
        status_backend_from_settings(replace(settings, status_backend="mysql"))


def test_sqlite_and_postgres_have_the_same_schema(tmp_path):
    def columns(db) -> dict[str, list[str]]:
        with db.read() as conn:
            if db.dialect == "sqlite":
                tables = [r["name"] for r in conn.all("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                      "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '\\_yoyo%' "
                                                      "ESCAPE '\\' AND name NOT LIKE 'yoyo%'")]
                return {t: [r["name"] for r in conn.all(f"PRAGMA table_info({t})")] for t in sorted(tables)}
            rows = conn.all("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = ? "
                            "AND table_name NOT LIKE '\\_yoyo%' AND table_name NOT LIKE 'yoyo%' "
                            "ORDER BY table_name, ordinal_position", (db.schema,))
            out: dict[str, list[str]] = {}
            for r in rows:
                out.setdefault(r["table_name"], []).append(r["column_name"])
            return dict(sorted(out.items()))

    sqlite_cols = columns(next(make_database("sqlite", tmp_path)))
    assert set(sqlite_cols) == {"applications", "application_events", "lookup_attempts", "counters", "meta",
                                "feedback_reports", "feedback_events", "handoff_tickets", "handoff_replies",
                                "console_users", "console_sessions", "console_audit", "satisfaction_ratings",
                                "staff_api_tokens", "notification_subscriptions", "status_change_events",
                                "status_poll_state", "notification_outbox", "notification_log", "review_items",
                                "review_sightings", "review_decisions"}
    pg = make_database("postgres", tmp_path)
    pg_db = next(pg)
    try:
        assert columns(pg_db) == sqlite_cols
    finally:
        pg.close()
