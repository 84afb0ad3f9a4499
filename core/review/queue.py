"""The review queue's store: questions grouped by wording, the officers' proposals, the supervisors' decisions.

Grouping: by normalised text — the folded content words of the masked question (:func:`group_key`), so "Làm sổ đỏ
ở đâu?" and "lam so do o dau" are one group. Nothing personal is stored: questions are masked
(:func:`core.review.signals.masked_question`) before they reach this module's tables, and a sighting is keyed by a
hash of the sender and the masked text, never the sender id.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Callable, Iterable, Optional

from core.db import Database, as_datetime, now_vn
from core.review.signals import Signal, masked_question

KINDS = ("link", "out_of_scope", "faq")
MAX_REASON_CHARS = 500
MAX_DRAFT_CHARS = 2000
MAX_VARIANTS = 5
MAX_APPROVED_WORDINGS = 20  # bank lines an approved group adds at most


class ReviewError(ValueError):
    """A request the queue refuses: an HTTP-like status and a Vietnamese message for the officer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def group_key(question: str) -> str:
    """The wording a group shares (:func:`knowledge.text.wording_key`: "... cần giấy tờ gì 091*******" groups with
    "... cần giấy tờ gì"); an approved group's wording is answered by it in the search."""
    from knowledge.text import wording_key

    return wording_key(question)


def sighting_key(sender: str, question: str) -> str:
    """One conversation's masked question, as a hash (the sender id itself is never stored)."""
    return hashlib.sha256(f"{sender}\x1f{question}".encode("utf-8")).hexdigest()


class ReviewQueue:
    """Review items (groups), their sightings and decisions in the services database."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_vn) -> None:
        self.db = db
        self.clock = clock

    # ---- filling -----------------------------------------------------------------------------------------
    def ingest(self, signals: Iterable[Signal]) -> int:
        """Add the questions of ``signals`` (masked here, before anything is stored); the new sightings' count."""
        added = 0
        with self.db.transaction() as conn:
            for signal in signals:
                question = masked_question(signal.text)
                key = group_key(question)
                if not key:
                    continue
                seen = datetime.fromtimestamp(signal.timestamp, tz=self.clock().tzinfo)
                conn.execute("INSERT INTO review_items (group_key, question, reasons, first_seen, last_seen) "
                             "VALUES (?, ?, '', ?, ?) ON CONFLICT (group_key) DO NOTHING", (key, question, seen, seen))
                item = conn.one("SELECT id, reasons, last_seen FROM review_items WHERE group_key = ?", (key,))
                reasons = sorted(set(filter(None, item["reasons"].split(","))) | {signal.reason})
                last = max(as_datetime(item["last_seen"]), seen)
                conn.execute("UPDATE review_items SET reasons = ?, last_seen = ? WHERE id = ?",
                             (",".join(reasons), last, item["id"]))
                row = conn.one("INSERT INTO review_sightings (sighting_key, item_id, question, seen_at) "
                               "VALUES (?, ?, ?, ?) ON CONFLICT (sighting_key) DO NOTHING RETURNING item_id",
                               (sighting_key(signal.sender, question), item["id"], question, seen))
                added += row is not None
        return added

    # ---- reading -----------------------------------------------------------------------------------------
    def groups(self, status: Optional[str] = None, limit: int = 200) -> list[dict]:
        """The groups, most asked first: masked wording, variants, reasons, count, status and pending decision."""
        where, params = ("WHERE i.status = ?", [status]) if status else ("", [])
        with self.db.read() as conn:
            rows = conn.all(f"SELECT i.*, COUNT(s.sighting_key) AS n FROM review_items i "
                            f"LEFT JOIN review_sightings s ON s.item_id = i.id {where} "
                            f"GROUP BY i.id ORDER BY n DESC, i.last_seen DESC, i.id LIMIT ?", [*params, limit])
            out = []
            for row in rows:
                out.append(self._group(row, self._variants(conn, row["id"], MAX_VARIANTS),
                                       self._latest(conn, row["id"])))
        return out

    def group(self, item_id: int) -> Optional[dict]:
        """One group by id, or None."""
        with self.db.read() as conn:
            row = conn.one("SELECT i.*, (SELECT COUNT(*) FROM review_sightings s WHERE s.item_id = i.id) AS n "
                           "FROM review_items i WHERE i.id = ?", (item_id,))
            if row is None:
                return None
            return self._group(row, self._variants(conn, item_id, MAX_VARIANTS), self._latest(conn, item_id))

    @staticmethod
    def _variants(conn, item_id: int, limit: int) -> list[str]:
        """The group's distinct masked wordings, first seen first."""
        rows = conn.all("SELECT question, MIN(seen_at) AS first FROM review_sightings WHERE item_id = ? "
                        "GROUP BY question ORDER BY first, question LIMIT ?", (item_id, limit))
        return [r["question"] for r in rows]

    @staticmethod
    def _latest(conn, item_id: int) -> Optional[dict]:
        row = conn.one("SELECT * FROM review_decisions WHERE item_id = ? ORDER BY id DESC LIMIT 1", (item_id,))
        if row is None:
            return None
        return {"id": int(row["id"]), "kind": row["kind"], "code": row["code"], "reason": row["reason"],
                "draft": row["draft"], "state": row["state"], "proposed_by": row["proposed_by"],
                "proposed_at": as_datetime(row["proposed_at"]).isoformat(), "decided_by": row["decided_by"],
                "decided_at": as_datetime(row["decided_at"]).isoformat() if row["decided_at"] else None}

    @staticmethod
    def _group(row: dict, variants: list[str], decision: Optional[dict]) -> dict:
        return {"id": int(row["id"]), "question": row["question"], "variants": variants,
                "reasons": [r for r in row["reasons"].split(",") if r], "count": int(row["n"]),
                "status": row["status"], "first_seen": as_datetime(row["first_seen"]).isoformat(),
                "last_seen": as_datetime(row["last_seen"]).isoformat(), "decision": decision}

    # ---- officers' proposals -------------------------------------------------------------------------------
    def propose(self, item_id: int, staff: str, kind: str, value: str,
                known_code: Callable[[str], bool] = lambda code: False) -> dict:
        """An officer's proposal for a group: ``link`` to a procedure code (checked with ``known_code``),
        ``out_of_scope`` with a reason, or ``faq`` with a draft answer; a proposal still pending is replaced."""
        value = (value or "").strip()
        if kind not in KINDS:
            raise ReviewError(400, "Loại đề xuất không hợp lệ.")
        if kind == "link" and not value:
            raise ReviewError(400, "Hãy nhập mã thủ tục cần liên kết.")
        if kind == "link" and not known_code(value):
            raise ReviewError(400, f"Không có thủ tục mã {value} trong cơ sở tri thức.")
        if kind == "out_of_scope" and not value:
            raise ReviewError(400, "Hãy ghi lý do câu hỏi nằm ngoài phạm vi.")
        if kind == "faq" and not value:
            raise ReviewError(400, "Hãy nhập bản nháp câu trả lời cho câu hỏi thường gặp mới.")
        limit = MAX_DRAFT_CHARS if kind == "faq" else MAX_REASON_CHARS
        if len(value) > limit:
            raise ReviewError(400, f"Nội dung dài quá {limit} ký tự.")
        with self.db.transaction() as conn:
            item = conn.one("SELECT status FROM review_items WHERE id = ?", (item_id,))
            if item is None:
                raise ReviewError(404, "Không tìm thấy câu hỏi cần xem lại.")
            if item["status"] == "approved":
                raise ReviewError(409, "Câu hỏi này đã được duyệt.")
            conn.execute("UPDATE review_decisions SET state = 'replaced' WHERE item_id = ? AND state = 'pending'",
                         (item_id,))
            conn.execute("INSERT INTO review_decisions (item_id, kind, code, reason, draft, proposed_by, "
                         "proposed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (item_id, kind, value if kind == "link" else None,
                          value if kind == "out_of_scope" else None, value if kind == "faq" else None,
                          staff, self.clock()))
            conn.execute("UPDATE review_items SET status = 'proposed' WHERE id = ?", (item_id,))
        return self.group(item_id)

    # ---- supervisors' decisions ------------------------------------------------------------------------------
    def decide(self, item_id: int, staff: str, approve: bool,
               on_approved_link: Optional[Callable[[str, str, str, datetime], object]] = None) -> dict:
        """Approve or reject the pending proposal of a group. An approved link calls ``on_approved_link(code,
        question, staff, at)`` for every masked wording of the group inside the transaction: if it fails,
        nothing is recorded."""
        at = self.clock()
        with self.db.transaction() as conn:
            pending = conn.one("SELECT * FROM review_decisions WHERE item_id = ? AND state = 'pending' "
                               "ORDER BY id DESC LIMIT 1", (item_id,))
            if pending is None:
                if conn.one("SELECT id FROM review_items WHERE id = ?", (item_id,)) is None:
                    raise ReviewError(404, "Không tìm thấy câu hỏi cần xem lại.")
                raise ReviewError(409, "Câu hỏi này chưa có đề xuất nào đang chờ duyệt.")
            state = "approved" if approve else "rejected"
            conn.execute("UPDATE review_decisions SET state = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                         (state, staff, at, pending["id"]))
            conn.execute("UPDATE review_items SET status = ? WHERE id = ?", (state, item_id))
            if approve and pending["kind"] == "link" and on_approved_link is not None:
                for question in self._variants(conn, item_id, MAX_APPROVED_WORDINGS):
                    on_approved_link(pending["code"], question, staff, at)
        return self.group(item_id)
