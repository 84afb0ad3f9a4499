"""The notification outbox: claiming due rows (never the same row by two workers), recording outcomes, and the
delivery log the console shows.

Claims: ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the same conditional UPDATE inside
``BEGIN IMMEDIATE`` (one writer at a time). A claimed row carries a lease: a worker that dies mid-delivery
leaves it to another worker once the lease has run out. Outcomes are recorded only by the worker still holding the
claim, so a row is marked sent once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from core.appcode import mask_code
from core.db import Database, as_datetime, now_vn
from core.privacy import mask_pii

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
# Log outcomes: SENT, FAILED (given up), plus these.
RETRY, HELD, CANCELLED = "retry", "held", "cancelled"
MAX_ERROR_CHARS = 300

_COLUMNS = "id, event_id, channel, sender_id, code, text, state, attempts, next_attempt_at, created_at"


@dataclass(frozen=True)
class OutboxItem:
    """One notification to deliver."""

    id: int
    event_id: str
    channel: str
    sender_id: str
    code: str
    text: str
    attempts: int
    created_at: datetime


def _item(row: dict) -> OutboxItem:
    return OutboxItem(id=int(row["id"]), event_id=row["event_id"], channel=row["channel"],
                      sender_id=row["sender_id"], code=row["code"], text=row["text"], attempts=int(row["attempts"]),
                      created_at=as_datetime(row["created_at"]))


def masked_error(error: str | None) -> str | None:
    """An error text fit for the log: personal data masked, bounded length."""
    return mask_pii(error)[:MAX_ERROR_CHARS] if error else None


class Outbox:
    """The outbox and delivery log in the services database."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_vn, lease_s: float = 120.0) -> None:
        self.db = db
        self.clock = clock
        self.lease = timedelta(seconds=lease_s)

    def claim(self, worker: str, limit: int = 20) -> list[OutboxItem]:
        """Claim up to ``limit`` due rows (pending and due, or claimed by a worker whose lease ran out)."""
        now = self.clock()
        skip_locked = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgres" else ""
        with self.db.transaction() as conn:
            rows = conn.all(
                "UPDATE notification_outbox SET state = ?, claimed_by = ?, lease_until = ? WHERE id IN ("
                "SELECT id FROM notification_outbox WHERE (state = ? AND next_attempt_at <= ?) "
                f"OR (state = ? AND lease_until < ?) ORDER BY next_attempt_at, id LIMIT ?{skip_locked}) "
                f"RETURNING {_COLUMNS}",
                (SENDING, worker, now + self.lease, PENDING, now, SENDING, now, int(limit)),
            )
        return sorted((_item(r) for r in rows), key=lambda item: item.id)

    def _finish(self, item: OutboxItem, worker: str, sets: str, params: tuple, outcome: str, attempt: int,
                route: str | None, error: str | None) -> bool:
        """Apply ``sets`` to the row while ``worker`` holds its claim, and log ``outcome``; False if it lost it."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE notification_outbox SET {sets}, claimed_by = NULL, lease_until = NULL "
                "WHERE id = ? AND state = ? AND claimed_by = ?",
                (*params, item.id, SENDING, worker),
            )
            if not cursor.rowcount:
                return False
            conn.execute("INSERT INTO notification_log (outbox_id, at, outcome, attempt, route, error) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (item.id, self.clock(), outcome, attempt, route,
                                                      masked_error(error)))
        return True

    def mark_sent(self, item: OutboxItem, worker: str, route: str) -> bool:
        """The notification went out."""
        now = self.clock()
        return self._finish(item, worker, "state = ?, attempts = attempts + 1, sent_at = ?, last_error = NULL",
                            (SENT, now), SENT, item.attempts + 1, route, None)

    def mark_failed(self, item: OutboxItem, worker: str, error: str, *, retry_at: datetime | None,
                    route: str | None = None) -> bool:
        """A failed attempt: retried at ``retry_at``, or given up for good when it is None."""
        state, outcome = (PENDING, RETRY) if retry_at is not None else (FAILED, FAILED)
        return self._finish(item, worker, "state = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?",
                            (state, retry_at or self.clock(), masked_error(error)), outcome, item.attempts + 1,
                            route, error)

    def hold(self, item: OutboxItem, worker: str, until: datetime, reason: str) -> bool:
        """Not now (quiet hours, rate limit): due again at ``until``; no attempt counted."""
        return self._finish(item, worker, "state = ?, next_attempt_at = ?", (PENDING, until), HELD, item.attempts,
                            None, reason)

    def cancel(self, item: OutboxItem, worker: str, reason: str) -> bool:
        """Never to be sent (the citizen unsubscribed meanwhile)."""
        return self._finish(item, worker, "state = ?, last_error = ?", (FAILED, reason), CANCELLED, item.attempts,
                            None, reason)

    def sent_since(self, channel: str, sender_id: str, since: datetime) -> list[datetime]:
        """When the recipient's notifications sent after ``since`` went out, oldest first (the rate limit)."""
        with self.db.read() as conn:
            rows = conn.all("SELECT sent_at FROM notification_outbox WHERE channel = ? AND sender_id = ? "
                            "AND state = ? AND sent_at > ? ORDER BY sent_at", (channel, sender_id, SENT, since))
        return [as_datetime(r["sent_at"]) for r in rows]

    def log(self, limit: int = 100) -> list[dict]:
        """The most recent delivery outcomes, newest first, codes masked, no recipient id (the console's view)."""
        with self.db.read() as conn:
            rows = conn.all(
                "SELECT l.id, l.at, l.outcome, l.attempt, l.route, l.error, o.channel, o.code, o.state, o.attempts "
                "FROM notification_log l JOIN notification_outbox o ON o.id = l.outbox_id "
                "ORDER BY l.id DESC LIMIT ?", (int(limit),))
        return [{"at": as_datetime(r["at"]).isoformat(), "outcome": r["outcome"], "attempt": int(r["attempt"]),
                 "route": r["route"], "error": r["error"], "channel": r["channel"],
                 "code": r["code"] if "*" in r["code"] else mask_code(r["code"]),  # masked already by retention
                 "state": r["state"], "attempts": int(r["attempts"])} for r in rows]

    def counts(self) -> dict[str, int]:
        """How many outbox rows are in each state."""
        with self.db.read() as conn:
            rows = conn.all("SELECT state, COUNT(*) AS n FROM notification_outbox GROUP BY state")
        return {r["state"]: int(r["n"]) for r in rows}
