"""Citizens' consent to be told when an application changes: one row per channel, sender and application code.

The caller (the conversation's action) subscribes only after a verified status lookup; this store keeps the
consent with its time and answers who follows a code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from core.appcode import extract_application_code, mask_code
from core.db import Database, as_datetime, now_vn, shared_database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Subscription:
    """One citizen's consent: notify ``sender_id`` on ``channel`` when application ``code`` changes."""

    id: int
    channel: str
    sender_id: str
    code: str  # canonical application code ("H07.99-251120-0012")
    created_at: datetime


def _canonical(code: str) -> str:
    canonical = extract_application_code(code)
    if canonical is None:
        raise ValueError(f"not an application code: {mask_code(code)!r}")
    return canonical


def _to_subscription(row: dict) -> Subscription:
    return Subscription(id=int(row["id"]), channel=row["channel"], sender_id=row["sender_id"], code=row["code"],
                        created_at=as_datetime(row["created_at"]))


class Subscriptions:
    """Subscriptions in the services database (SQLite by default, PostgreSQL with DATABASE_URL)."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_vn) -> None:
        self.db = db
        self.clock = clock

    def subscribe(self, channel: str, sender_id: str, code: str) -> bool:
        """Record the consent (code in any spelling); True if new, False if it already existed.

        Raises ValueError when ``code`` holds no application code.
        """
        canonical = _canonical(code)
        with self.db.transaction() as conn:
            row = conn.one(
                "INSERT INTO notification_subscriptions (channel, sender_id, code, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (channel, sender_id, code) DO NOTHING RETURNING id",
                (channel, sender_id, canonical, self.clock()),
            )
        if row is not None:
            log.info("notification subscription %s on %s", mask_code(canonical), channel)
        return row is not None

    def unsubscribe(self, channel: str, sender_id: str, code: str | None = None) -> int:
        """Remove the consent for ``code`` (any spelling), or every consent of the sender when ``code`` is None;
        the number of subscriptions removed (0 for a text without an application code)."""
        with self.db.transaction() as conn:
            if code is None:
                cursor = conn.execute("DELETE FROM notification_subscriptions WHERE channel = ? AND sender_id = ?",
                                      (channel, sender_id))
            else:
                canonical = extract_application_code(code)
                if canonical is None:
                    return 0
                cursor = conn.execute(
                    "DELETE FROM notification_subscriptions WHERE channel = ? AND sender_id = ? AND code = ?",
                    (channel, sender_id, canonical),
                )
            removed = max(int(cursor.rowcount or 0), 0)
        log.info("notification unsubscribe on %s: %d removed", channel, removed)
        return removed

    def list_for(self, channel: str, sender_id: str) -> list[Subscription]:
        """The sender's subscriptions, oldest first."""
        with self.db.read() as conn:
            rows = conn.all("SELECT id, channel, sender_id, code, created_at FROM notification_subscriptions "
                            "WHERE channel = ? AND sender_id = ? ORDER BY id", (channel, sender_id))
        return [_to_subscription(r) for r in rows]

    def for_code(self, code: str) -> list[Subscription]:
        """Everyone following application ``code`` (any spelling), oldest first; [] for no code."""
        canonical = extract_application_code(code)
        if canonical is None:
            return []
        with self.db.read() as conn:
            rows = conn.all("SELECT id, channel, sender_id, code, created_at FROM notification_subscriptions "
                            "WHERE code = ? ORDER BY id", (canonical,))
        return [_to_subscription(r) for r in rows]

    def codes(self) -> list[str]:
        """Every application code somebody follows (the polling fallback asks the one-stop system about these)."""
        with self.db.read() as conn:
            rows = conn.all("SELECT DISTINCT code FROM notification_subscriptions ORDER BY code")
        return [r["code"] for r in rows]


def subscriptions_from_settings(settings: Any) -> Subscriptions:
    """The subscriptions in the services database of ``settings`` (the status / feedback stores' database)."""
    return Subscriptions(shared_database(settings))
