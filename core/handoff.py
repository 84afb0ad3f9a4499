"""Human handoff tickets: the transcript a citizen leaves for an officer, and the officers' replies."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from core.db import Database, as_datetime, now_vn, shared_database
from core.errors import RefusedError
from core.privacy import mask_pii

log = logging.getLogger(__name__)

OPEN = "open"
CLOSED = "closed"
MAX_REPLY_CHARS = 4000


class HandoffError(RefusedError):
    """Invalid handoff operation (404 unknown ticket, 409 closed ticket)."""


@dataclass(frozen=True)
class Reply:
    """An officer's reply to a ticket; ``delivered_at`` is set once the citizen's channel got it."""

    id: int
    ticket_id: str
    sender_id: str
    text: str
    staff: str
    created_at: datetime
    delivered_at: datetime | None = None

    def to_dict(self) -> dict:
        """The reply as JSON-friendly data (its ticket and sender are the ticket's)."""
        return {"id": self.id, "text": self.text, "staff": self.staff, "created_at": self.created_at.isoformat(),
                "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None}


@dataclass(frozen=True)
class Ticket:
    """A handoff request: who, through which channel, why, and the conversation so far."""

    id: str
    sender_id: str
    channel: str
    reason: str
    transcript: list[dict]
    status: str
    created_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None
    replies: list[Reply] = field(default_factory=list)

    def summary(self) -> dict:
        """The ticket without transcript, as JSON-friendly data (for listings)."""
        last_user = next((t.get("text") for t in reversed(self.transcript) if t.get("role") == "user"), None)
        return {"id": self.id, "sender_id": self.sender_id, "channel": self.channel, "reason": self.reason,
                "status": self.status, "created_at": self.created_at.isoformat(),
                "last_user_message": last_user, "replies": len(self.replies)}

    def to_dict(self) -> dict:
        """The full ticket (transcript and replies) as JSON-friendly data."""
        data = self.summary()
        data.update({
            "transcript": self.transcript,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
            "closed_by": self.closed_by,
            "replies": [r.to_dict() for r in self.replies],
        })
        return data


class HandoffStore:
    """Handoff tickets in the services database; every write is committed before the method returns."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_vn) -> None:
        self.db = db
        self.clock = clock

    def open_ticket(self, sender_id: str, channel: str, transcript: list[dict], reason: str) -> Ticket:
        """Open a ticket for ``sender_id`` — or return the sender's already open one (one open per sender).

        ``transcript`` items look like {"role": "user"|"bot", "text": ..., "at": iso}; stored verbatim.
        """
        if not sender_id:
            raise HandoffError("Thiếu mã cuộc trò chuyện.")
        existing = self.open_for(sender_id)
        if existing is not None:
            return existing
        now = self.clock()
        day = now.strftime("%y%m%d")
        try:
            with self.db.transaction() as conn:
                seq = conn.next_value(f"handoff:{day}")
                ticket_id = f"HT-{day}-{seq:04d}"
                conn.execute(
                    "INSERT INTO handoff_tickets (id, sender_id, channel, reason, transcript, status, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (ticket_id, sender_id, channel or "rest", reason or "",
                     json.dumps(list(transcript or []), ensure_ascii=False), OPEN, now),
                )
        except Exception as exc:
            # Lost a race with another open_ticket for the same sender: the unique index kept it single.
            existing = self.open_for(sender_id)
            if existing is not None:
                return existing
            raise exc
        log.info("handoff ticket %s opened (%s, reason %s)", ticket_id, channel, mask_pii(reason or ""))
        ticket = self.get(ticket_id)
        assert ticket is not None
        return ticket

    def open_for(self, sender_id: str) -> Ticket | None:
        """The sender's open ticket, if any."""
        with self.db.read() as conn:
            row = conn.one("SELECT id FROM handoff_tickets WHERE sender_id = ? AND status = ?", (sender_id, OPEN))
        return self.get(row["id"]) if row else None

    def list_open(self) -> list[Ticket]:
        """Open tickets, oldest first (without replies' details beyond the count)."""
        with self.db.read() as conn:
            rows = conn.all("SELECT * FROM handoff_tickets WHERE status = ? ORDER BY created_at, id", (OPEN,))
            tickets = []
            for row in rows:
                replies = conn.all("SELECT * FROM handoff_replies WHERE ticket_id = ? ORDER BY id", (row["id"],))
                tickets.append(_to_ticket(row, replies))
        return tickets

    def get(self, ticket_id: str) -> Ticket | None:
        """The ticket with its transcript and replies, or None."""
        with self.db.read() as conn:
            row = conn.one("SELECT * FROM handoff_tickets WHERE id = ?", (ticket_id,))
            if row is None:
                return None
            replies = conn.all("SELECT * FROM handoff_replies WHERE ticket_id = ? ORDER BY id", (ticket_id,))
        return _to_ticket(row, replies)

    def add_reply(self, ticket_id: str, text: str, staff: str) -> Reply:
        """Store an officer's reply to an open ticket (undelivered until :meth:`mark_delivered`)."""
        text = (text or "").strip()
        if not text:
            raise HandoffError("Nội dung trả lời đang trống.")
        if len(text) > MAX_REPLY_CHARS:
            raise HandoffError(f"Nội dung trả lời dài quá {MAX_REPLY_CHARS} ký tự.")
        now = self.clock()
        with self.db.transaction() as conn:
            row = _open_ticket_row(conn, ticket_id)
            new = conn.one(
                "INSERT INTO handoff_replies (ticket_id, sender_id, text, staff, created_at) VALUES (?, ?, ?, ?, ?) "
                "RETURNING id",
                (ticket_id, row["sender_id"], text, staff, now),
            )
        assert new is not None
        return Reply(int(new["id"]), ticket_id, row["sender_id"], text, staff, now)

    def pending_replies(self, sender_id: str) -> list[Reply]:
        """Replies to ``sender_id`` not yet delivered, oldest first."""
        with self.db.read() as conn:
            rows = conn.all("SELECT * FROM handoff_replies WHERE sender_id = ? AND delivered_at IS NULL ORDER BY id",
                            (sender_id,))
        return [_to_reply(r) for r in rows]

    def mark_delivered(self, reply_ids: list[int]) -> int:
        """Mark replies delivered; returns how many changed."""
        if not reply_ids:
            return 0
        now = self.clock()
        changed = 0
        with self.db.transaction() as conn:
            for reply_id in reply_ids:
                changed += conn.execute(
                    "UPDATE handoff_replies SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL",
                    (now, int(reply_id)),
                ).rowcount
        return changed

    def close(self, ticket_id: str, staff: str) -> Ticket:
        """Close an open ticket (the sender may open a new one afterwards)."""
        now = self.clock()
        with self.db.transaction() as conn:
            _open_ticket_row(conn, ticket_id)
            conn.execute("UPDATE handoff_tickets SET status = ?, closed_at = ?, closed_by = ? WHERE id = ?",
                         (CLOSED, now, staff, ticket_id))
        ticket = self.get(ticket_id)
        assert ticket is not None
        return ticket


def _open_ticket_row(conn, ticket_id: str) -> dict:
    """The sender and status of an open ticket; HandoffError 404 when there is no such ticket, 409 when closed."""
    row = conn.one("SELECT sender_id, status FROM handoff_tickets WHERE id = ?", (ticket_id,))
    if row is None:
        raise HandoffError(f"Không tìm thấy yêu cầu {ticket_id}.", status=404)
    if row["status"] != OPEN:
        raise HandoffError(f"Yêu cầu {ticket_id} đã đóng.", status=409)
    return row


def _to_reply(row: dict) -> Reply:
    return Reply(int(row["id"]), row["ticket_id"], row["sender_id"], row["text"], row["staff"],
                 as_datetime(row["created_at"]), as_datetime(row["delivered_at"]))


def _to_ticket(row: dict, replies: list[dict]) -> Ticket:
    return Ticket(
        id=row["id"], sender_id=row["sender_id"], channel=row["channel"], reason=row["reason"],
        transcript=json.loads(row["transcript"] or "[]"), status=row["status"],
        created_at=as_datetime(row["created_at"]), closed_at=as_datetime(row["closed_at"]),
        closed_by=row["closed_by"], replies=[_to_reply(r) for r in replies],
    )


def handoff_store_from_settings(settings: Any) -> HandoffStore:
    """The handoff store on the services database (DATABASE_URL or SERVICES_DB)."""
    return HandoffStore(shared_database(settings))
