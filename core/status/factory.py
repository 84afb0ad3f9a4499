"""Builds the configured status backend and the attempt limiter from :class:`settings.Settings`."""

from __future__ import annotations

from typing import Any

from core.db import Database, shared, shared_database
from core.status.base import StatusBackend
from core.status.ratelimit import AttemptLimiter


def status_backend_from_settings(settings: Any) -> StatusBackend:
    """STATUS_BACKEND=sqlite (default, SERVICES_DB file), postgres (DATABASE_URL) or http (ONE_STOP_URL)."""
    kind = (settings.status_backend or "sqlite").lower()
    if kind == "sqlite":
        from core.status.sqlite import SqliteStatusBackend

        return SqliteStatusBackend(shared(Database(str(settings.services_db))))
    if kind == "postgres":
        from core.status.postgres import PostgresStatusBackend

        if not settings.database_url:
            raise ValueError("STATUS_BACKEND=postgres cần DATABASE_URL (postgresql://...)")
        return PostgresStatusBackend(shared_database(settings))
    if kind == "http":
        from core.status.http import HttpStatusBackend

        if not settings.one_stop_url:
            raise ValueError("STATUS_BACKEND=http cần ONE_STOP_URL")
        return HttpStatusBackend(settings.one_stop_url, token=settings.one_stop_token or None,
                                 timeout_s=settings.one_stop_timeout_s)
    raise ValueError(f"STATUS_BACKEND không hợp lệ: {kind!r} (sqlite | postgres | http)")


def attempt_limiter_from_settings(settings: Any) -> AttemptLimiter:
    """The lookup rate limiter, persisted in the services database (DATABASE_URL or SERVICES_DB)."""
    return AttemptLimiter(shared_database(settings))
