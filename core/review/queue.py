"""The review queue's store: questions grouped by wording, the officers' proposals, the supervisors' decisions.

Grouping (:meth:`ReviewQueue.ingest`): a wording seen before goes where it went then; otherwise a question with the
folded content words of a group (:func:`group_key`: "Làm sổ đỏ ở đâu?" and "lam so do o dau") joins it; otherwise,
with the search encoder (:mod:`core.review.grouping`), it joins the group whose representative vector is nearest if
the cosine is at least ``similarity`` (REVIEW_GROUP_SIMILARITY: "Làm sổ đỏ lần đầu ở đâu?" and "cấp giấy chứng nhận
quyền sử dụng đất lần đầu nộp ở đâu"); otherwise it starts a group. Nothing personal is stored: questions are masked
(:func:`core.review.signals.masked_question`) before they reach this module's tables, and a sighting is keyed by a
hash of the sender and the masked text, never the sender id.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Callable, Iterable, Optional

from core.db import Database, as_datetime, now_vn
from core.review.grouping import Embedder, nearest, text_vector, vector_text
from core.review.signals import Signal, masked_question

KINDS = ("link", "out_of_scope", "faq")
MAX_REASON_CHARS = 500
MAX_DRAFT_CHARS = 2000
MAX_VARIANTS = 5
MAX_APPROVED_WORDINGS = 20  # bank lines an approved group adds at most
DEFAULT_SIMILARITY = 0.76  # REVIEW_GROUP_SIMILARITY (settings.py): chosen by scripts/tune_review_grouping.py


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

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = now_vn, embed: Optional[Embedder] = None,
                 similarity: float = DEFAULT_SIMILARITY) -> None:
        """``embed``: the masked questions' vectors from the search encoder (:mod:`core.review.grouping`), None to
        group by folded wording only; ``similarity``: the cosine from which a question joins a group."""
        self.db = db
        self.clock = clock
        self.embed = embed
        self.similarity = similarity

    # ---- filling -----------------------------------------------------------------------------------------
    def ingest(self, signals: Iterable[Signal]) -> int:
        """Add the questions of ``signals`` (masked here, before anything is stored); the new sightings' count."""
        pending = []
        for signal in signals:
            question = masked_question(signal.text)
            key = group_key(question)
            if key:
                pending.append((signal, question, key))
        vectors = self._vectors([(q, k) for _, q, k in pending])  # embedded before the write transaction
        added = 0
        with self.db.transaction() as conn:
            groups: Optional[list] = None  # (id, vector) of the groups with a vector, read when first needed
            for signal, question, key in pending:
                seen = datetime.fromtimestamp(signal.timestamp, tz=self.clock().tzinfo)
                item_id = self._placed(conn, question, key)
                vector = vectors.get(question)
                if item_id is None and vector is not None:
                    if groups is None:
                        groups = [(r["id"], text_vector(r["vector"])) for r in
                                  conn.all("SELECT id, vector FROM review_items WHERE vector IS NOT NULL")]
                    item_id = nearest(vector, groups, self.similarity)
                if item_id is None:
                    row = conn.one("INSERT INTO review_items (group_key, question, reasons, first_seen, last_seen, "
                                   "vector) VALUES (?, ?, '', ?, ?, ?) ON CONFLICT (group_key) DO NOTHING RETURNING id",
                                   (key, question, seen, seen, vector_text(vector) if vector is not None else None))
                    # None: another refresh made the group of this wording meanwhile.
                    item_id = (row or conn.one("SELECT id FROM review_items WHERE group_key = ?", (key,)))["id"]
                    if vector is not None and groups is not None:
                        groups.append((item_id, vector))
                item = conn.one("SELECT reasons, last_seen FROM review_items WHERE id = ?", (item_id,))
                reasons = sorted(set(filter(None, item["reasons"].split(","))) | {signal.reason})
                last = max(as_datetime(item["last_seen"]), seen)
                conn.execute("UPDATE review_items SET reasons = ?, last_seen = ? WHERE id = ?",
                             (",".join(reasons), last, item_id))
                row = conn.one("INSERT INTO review_sightings (sighting_key, item_id, question, seen_at) "
                               "VALUES (?, ?, ?, ?) ON CONFLICT (sighting_key) DO NOTHING RETURNING item_id",
                               (sighting_key(signal.sender, question), item_id, question, seen))
                added += row is not None
        return added

    @staticmethod
    def _placed(conn, question: str, key: str) -> Optional[int]:
        """The group of a wording seen before, else the group with the same folded wording, else None."""
        row = conn.one("SELECT item_id FROM review_sightings WHERE question = ? ORDER BY seen_at LIMIT 1",
                       (question,))
        if row is None:
            row = conn.one("SELECT id AS item_id FROM review_items WHERE group_key = ?", (key,))
        return None if row is None else row["item_id"]

    def _vectors(self, wordings: list) -> dict:
        """The vectors of the ``(question, key)`` wordings no group holds yet ({} without an encoder)."""
        if self.embed is None or not wordings:
            return {}
        new: list = []
        keys: set = set()  # a wording with the folded words of an earlier one of the batch joins its group
        with self.db.read() as conn:
            for question, key in wordings:
                if key not in keys and question not in new and self._placed(conn, question, key) is None:
                    new.append(question)
                    keys.add(key)
        if not new:
            return {}
        vectors = self.embed(new)
        return {} if vectors is None else dict(zip(new, vectors))

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
