"""Rasa's SQL tracker store (its ``events`` table), read by the console's analytics and rewritten by the retention
job: the one place that knows where it is and how to connect to it.

The embedded profile keeps it in a SQLite file (``TRACKER_DB``, ``var/tracker.db``), the scaled profile in
PostgreSQL (``TRACKER_DB_URL``); :class:`TrackerDb` hides the difference (connections, parameter style, whether
Rasa has created its table yet).
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The event kinds the analytics read, with the columns Rasa's SQLTrackerStore fills for them.
EVENT_COLUMNS = "sender_id, type_name, timestamp, intent_name, action_name, data"
EVENT_TYPES = ("user", "bot", "action", "slot")


def is_database_url(source: Path | str) -> bool:
    """Whether ``source`` names a PostgreSQL tracker store (scaled profile) rather than a SQLite file."""
    return isinstance(source, str) and source.startswith(("postgresql://", "postgres://"))


def tracker_source(settings: Any) -> Path | str:
    """The tracker store of this deployment: ``TRACKER_DB_URL`` when set, else the ``TRACKER_DB`` file."""
    return settings.tracker_db_url or settings.tracker_db


class TrackerDb:
    """The ``events`` table in a SQLite file or a PostgreSQL database."""

    def __init__(self, source: Path | str) -> None:
        self.source = source
        self.is_postgres = is_database_url(source)
        self.param = "%s" if self.is_postgres else "?"

    def connect(self, *, read_only: bool = False):
        """A new connection (caller closes it); None when a SQLite file does not exist yet (never created here).

        ``read_only``: a SQLite file opened ``mode=ro``, a PostgreSQL session set read-only; otherwise SQLite
        waits up to 30 s for Rasa's writes.
        """
        if self.is_postgres:
            import psycopg

            conn = psycopg.connect(str(self.source), connect_timeout=5)
            conn.read_only = read_only
            return conn
        path = Path(self.source)
        if not path.is_file():
            return None
        if read_only:
            return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        conn = sqlite3.connect(str(path), timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        return conn

    def has_events_table(self, conn) -> bool:
        """Whether Rasa has created its table yet."""
        if self.is_postgres:
            row = conn.execute("SELECT to_regclass('events')").fetchone()
            return row[0] is not None
        row = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone()
        return row is not None

    def read_events(self, since_epoch: float) -> list[tuple] | None:
        """Rows ``(sender_id, type_name, timestamp, intent_name, action_name, data)`` of the user, bot, action and
        slot events since ``since_epoch``, in order; [] before Rasa has created its table; None when the store is
        unavailable (no SQLite file, database unreachable or broken)."""
        kinds = ", ".join(f"'{kind}'" for kind in EVENT_TYPES)
        return self._select(f"SELECT {EVENT_COLUMNS} FROM events WHERE timestamp >= {self.param} "
                            f"AND type_name IN ({kinds}) ORDER BY id", (since_epoch,))

    def last_user_message_at(self, sender_id: str) -> float | None:
        """When ``sender_id`` last wrote (epoch seconds of the newest ``user`` event); None when never, or when the
        store is unavailable."""
        rows = self._select(f"SELECT MAX(timestamp) FROM events WHERE sender_id = {self.param} "
                            "AND type_name = 'user'", (sender_id,))
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def _select(self, query: str, params: tuple) -> list[tuple] | None:
        """The rows of a read-only ``query``; [] before Rasa has created its table; None when unavailable."""
        errors = self._driver_errors()
        try:
            conn = self.connect(read_only=True)
        except errors as exc:
            log.warning("tracker store unreachable (%s)", type(exc).__name__)
            return None
        if conn is None:
            return None
        try:
            if not self.has_events_table(conn):
                return []
            return [tuple(row) for row in conn.execute(query, params).fetchall()]
        except errors as exc:
            log.warning("tracker store unreadable (%s)", type(exc).__name__)
            return None
        finally:
            conn.close()

    def _driver_errors(self) -> type[Exception]:
        if self.is_postgres:
            import psycopg

            return psycopg.Error
        return sqlite3.Error
