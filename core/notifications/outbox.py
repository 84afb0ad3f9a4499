"""The notification outbox: claiming due rows (never the same row by two workers), recording outcomes, and the
delivery log the console shows.

Claims: ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the same conditional UPDATE inside
``BEGIN IMMEDIATE`` (one writer at a time). A claimed row carries a lease: a worker that dies mid-delivery
leaves it to another worker once the lease has run out. Outcomes are recorded only by the worker still holding the
claim, so a row is marked sent once.

Before calling the channel a worker commits the start of the attempt (``attempt_started_at``, ``attempt_no``);
recording the outcome clears it. A row reclaimed with an attempt started and no outcome is *in doubt*: the worker
that died may have sent it. :meth:`Outbox.reconciled` (the channel confirms it arrived: sent, no resend) and
:meth:`Outbox.interrupted` (it did not arrive, or the channel cannot tell: the lost attempt counted, sent again)
settle it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable

from core.appcode import mask_code
from core.db import Database, as_datetime, now_vn
from core.privacy import mask_pii

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
# Log outcomes: SENT, FAILED (given up), plus these.
RETRY, HELD, CANCELLED = "retry", "held", "cancelled"
# An in-doubt attempt the channel confirmed (no resend), or one that did not arrive / cannot be checked (resent).
RECONCILED, INTERRUPTED = "reconciled", "interrupted"
MAX_ERROR_CHARS = 300

_COLUMNS = ("id, event_id, channel, sender_id, code, text, state, attempts, next_attempt_at, created_at, "
            "attempt_started_at, attempt_no")


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
    attempt_started_at: datetime | None = None  # set: an earlier attempt started and recorded no outcome
    attempt_no: int | None = None  # that attempt's number

    @property
    def in_doubt(self) -> bool:
        """Whether an earlier worker started delivering this row and died before recording the outcome."""
        return self.attempt_started_at is not None


def _item(row: dict) -> OutboxItem:
    no = row["attempt_no"]
    return OutboxItem(id=int(row["id"]), event_id=row["event_id"], channel=row["channel"],
                      sender_id=row["sender_id"], code=row["code"], text=row["text"], attempts=int(row["attempts"]),
                      created_at=as_datetime(row["created_at"]),
                      attempt_started_at=as_datetime(row["attempt_started_at"]),
                      attempt_no=int(no) if no is not None else None)


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
                route: str | None, error: str | None, *, release: bool = True) -> bool:
        """Apply ``sets`` to the row while ``worker`` holds its claim (released unless ``release`` is False), and log
        ``outcome``; False if it lost the claim."""
        released = ", claimed_by = NULL, lease_until = NULL" if release else ""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE notification_outbox SET {sets}{released} WHERE id = ? AND state = ? AND claimed_by = ?",
                (*params, item.id, SENDING, worker),
            )
            if not cursor.rowcount:
                return False
            conn.execute("INSERT INTO notification_log (outbox_id, at, outcome, attempt, route, error) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (item.id, self.clock(), outcome, attempt, route,
                                                      masked_error(error)))
        return True

    def start_attempt(self, item: OutboxItem, worker: str) -> bool:
        """Commit that attempt ``attempts + 1`` starts now, before the channel is called; False if ``worker`` lost
        the claim (its lease ran out and another worker took the row: it must not send)."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE notification_outbox SET attempt_started_at = ?, attempt_no = ? "
                "WHERE id = ? AND state = ? AND claimed_by = ?",
                (self.clock(), item.attempts + 1, item.id, SENDING, worker))
        return bool(cursor.rowcount)

    def _record_sent(self, item: OutboxItem, worker: str, route: str | None, outcome: str) -> bool:
        return self._finish(item, worker, "state = ?, attempts = attempts + 1, sent_at = ?, last_error = NULL, "
                            "attempt_started_at = NULL, attempt_no = NULL", (SENT, self.clock()), outcome,
                            item.attempts + 1, route, None)

    def mark_sent(self, item: OutboxItem, worker: str, route: str) -> bool:
        """The notification went out."""
        return self._record_sent(item, worker, route, SENT)

    def reconciled(self, item: OutboxItem, worker: str) -> bool:
        """The in-doubt attempt had arrived (the channel says so): sent, logged as reconciled, nothing resent."""
        return self._record_sent(item, worker, None, RECONCILED)

    def interrupted(self, item: OutboxItem, worker: str, reason: str) -> OutboxItem | None:
        """The in-doubt attempt did not arrive, or the channel cannot tell: it counts as a failed attempt (logged
        with ``reason``) and the row stays claimed for the next one; the row as it is now, None if the claim was
        lost."""
        done = self._finish(item, worker, "attempts = attempts + 1, last_error = ?, attempt_started_at = NULL, "
                            "attempt_no = NULL", (masked_error(reason),), INTERRUPTED,
                            item.attempt_no or item.attempts + 1, None, reason, release=False)
        if not done:
            return None
        return replace(item, attempts=item.attempts + 1, attempt_started_at=None, attempt_no=None)

    def mark_failed(self, item: OutboxItem, worker: str, error: str, *, retry_at: datetime | None,
                    route: str | None = None) -> bool:
        """A failed attempt: retried at ``retry_at``, or given up for good when it is None."""
        state, outcome = (PENDING, RETRY) if retry_at is not None else (FAILED, FAILED)
        return self._finish(item, worker, "state = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?, "
                            "attempt_started_at = NULL, attempt_no = NULL",
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
