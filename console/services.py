"""What the console shows, independent of HTTP: search with filters, procedure pages, trusted status lookups,
minimal analytics. Heavy things (index, encoder, procedure files) load on first use.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
from collections import Counter
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable, Optional

from core.answers import ASPECTS, format_answer
from core.appcode import extract_application_code
from core.db import Database, as_datetime, now_vn
from core.errors import RefusedError
from core.status.base import StatusBackend, TrustedLookupUnsupported
from core.status.models import ApplicationStatus

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
MAX_RESULTS = 10
FILTER_POOL = 50  # candidates ranked before filtering by field/level

ASPECT_LABELS = {
    "overview": "Tổng quan",
    "documents": "Hồ sơ, giấy tờ",
    "fee": "Phí, lệ phí",
    "duration": "Thời hạn giải quyết",
    "place": "Nơi nộp hồ sơ",
    "online": "Nộp trực tuyến",
    "agency": "Cơ quan thực hiện",
    "steps": "Trình tự thực hiện",
    "legal_basis": "Căn cứ pháp lý",
    "conditions": "Điều kiện",
    "result": "Kết quả",
}


# The knowledge service's decisions that answer the citizen (a procedure, an FAQ entry, or each of several
# procedures); the others ask back ("choose", "ask_topic") or abstain ("unknown").
BOT_ANSWERS = ("answer", "faq", "several")


class ConsoleError(RefusedError):
    """A search or status request the staff refuse (404 unknown procedure, 501 unsupported by the backend)."""


def _default_store():
    from knowledge import store

    return store


class KnowledgeConsole:
    """Search and procedure pages over the bot's knowledge base (same index, same hybrid retrieval)."""

    def __init__(self, searcher_factory: Optional[Callable] = None, store: Any = None, portal_url: str = "") -> None:
        """``searcher_factory`` returns an object with ``search(text, top_k)``; defaults to the bot's searcher."""
        if searcher_factory is None:
            from knowledge.search import get_searcher

            searcher_factory = get_searcher
        self._searcher_factory = searcher_factory
        self._store = store or _default_store()
        self.portal_url = portal_url
        # One search at a time: the index, the encoder and the word tokenizer load lazily and are not safe to
        # initialise from two threads (warm-up and a first request); searches are CPU-bound anyway.
        self._search_lock = threading.Lock()
        self._service = None  # the core knowledge service over the same searcher and store (bot_answer)
        self._embedder = None  # the review queue's question embedder over the same searcher (embed_questions)

    def _search(self, query: str, top_k: int):
        with self._search_lock:
            return self._searcher_factory().search(query, top_k=top_k)

    def warm(self) -> None:
        """Load the index, the encoder and the procedure files now (run in a background thread at start-up)."""
        try:
            self._search("cấp lại căn cước", 1)
            self.facets()
        except Exception:  # the first real search will report the problem to the officer
            log.exception("console knowledge warm-up failed")

    def embed_questions(self, questions):
        """The search encoder's vectors of ``questions`` as the search embeds them, or None without an index or a
        model (the review queue's grouping, :mod:`core.review.grouping`); under the search lock."""
        from core.review.grouping import searcher_embedder

        with self._search_lock:
            if self._embedder is None:
                self._embedder = searcher_embedder(self._searcher_factory)
            return self._embedder(questions)

    def facets(self) -> dict:
        """The fields and levels present in the knowledge base (for the filter drop-downs)."""
        return _facets(self._store)

    def search(self, query: str, field: str | None = None, level: str | None = None) -> dict:
        """Ranked procedures/FAQ entries for ``query``, optionally only those of ``field`` and ``level``."""
        query = (query or "").strip()
        if not query:
            raise ConsoleError("Hãy nhập nội dung cần tìm.")
        if len(query) > MAX_QUERY_CHARS:
            raise ConsoleError(f"Nội dung tìm kiếm dài quá {MAX_QUERY_CHARS} ký tự.")
        field = (field or "").strip() or None
        level = (level or "").strip() or None
        pool = FILTER_POOL if (field or level) else MAX_RESULTS
        response = self._search(query, pool)
        results = []
        for hit in response.results:
            proc = self._store.get_procedure(hit.code) if hit.kind == "procedure" else None
            hit_field = proc.field if proc else None
            hit_levels = list(proc.levels) if proc else []
            if field and hit_field != field:
                continue
            if level and level not in hit_levels:
                continue
            results.append({"code": hit.code, "name": hit.name, "kind": hit.kind, "score": round(hit.score, 4),
                            "field": hit_field, "levels": hit_levels, "url": hit.url or (proc.url if proc else "")})
            if len(results) >= MAX_RESULTS:
                break
        return {"query": query, "field": field, "level": level, "abstain": bool(response.abstain),
                "ambiguous": bool(getattr(response, "ambiguous", False)), "results": results}

    def bot_answer(self, question: str) -> dict:
        """What the bot answers now when a citizen opens a conversation with ``question``: the core knowledge
        service's decision (:meth:`core.knowledge_service.KnowledgeService.resolve`, as the procedure action calls
        it), with the procedure or FAQ entry it answers with, or the candidates it offers instead."""
        from core.knowledge_service import KnowledgeService
        from core.language import vietnamese_aspects
        from knowledge.text import fold

        question = (question or "").strip()
        if not question:
            raise ConsoleError("Không có câu hỏi để thử.")
        with self._search_lock:
            if self._service is None:
                self._service = KnowledgeService(self._searcher_factory, self._store)
            resolution = self._service.resolve(question, None, has_aspect=bool(vietnamese_aspects(fold(question))))
        code = name = None
        if resolution.procedure is not None:
            code, name = resolution.procedure.code, resolution.procedure.name
        elif resolution.faq is not None:
            code, name = f"faq:{resolution.faq.id}", resolution.faq.questions[0]
        return {"question": question, "kind": resolution.kind, "answers": resolution.kind in BOT_ANSWERS,
                "code": code, "name": name,
                "candidates": [{"code": hit.code, "name": hit.name} for hit in resolution.candidates]}

    def procedure_page(self, code: str) -> dict:
        """Every structured field of the procedure, a ready answer per aspect and the portal link."""
        proc = self._store.get_procedure((code or "").strip())
        if proc is None:
            raise ConsoleError(f"Không tìm thấy thủ tục mã {code}.", status=404)
        answers = [{"aspect": "overview", "label": ASPECT_LABELS["overview"], "text": format_answer(proc, None)}]
        answers += [{"aspect": a, "label": ASPECT_LABELS.get(a, a), "text": format_answer(proc, a)} for a in ASPECTS]
        return {"procedure": proc.model_dump(mode="json"), "answers": answers,
                "portal_url": proc.url or self.portal_url}


@lru_cache(maxsize=4)
def _facets(store: Any) -> dict:
    fields: Counter = Counter()
    levels: Counter = Counter()
    for proc in store.load_procedures():
        if proc.field:
            fields[proc.field] += 1
        levels.update(proc.levels)
    return {"fields": sorted(fields), "levels": sorted(levels)}


# ---- status lookups by trusted staff -----------------------------------------------------------------------
def staff_status_lookup(backend: StatusBackend, code: str) -> ApplicationStatus | None:
    """The application ``code`` without the citizen's verification factor (staff are trusted after login).

    Supported by the database backends (SQLite, PostgreSQL); the one-stop HTTP contract needs the factor,
    so there :class:`ConsoleError` 501. Raises :class:`StatusBackendError` when the backend is unavailable.
    """
    canonical = extract_application_code(code or "")
    if canonical is None:
        raise ConsoleError("Mã hồ sơ không đúng dạng (ví dụ H07.99-251120-0012).")
    try:
        return backend.lookup_trusted(canonical)
    except TrustedLookupUnsupported:
        raise ConsoleError("Hệ thống một cửa chỉ cho tra cứu khi có số xác minh của người dân; "
                           "hãy tra cứu trực tiếp trên hệ thống một cửa.", status=501) from None


# ---- analytics (minimal: counts from the services stores) ----------------------------------------------------
def analytics(db: Database, days: int = 14, now: datetime | None = None, tracker_db: Any = None,
              weeks: int = 12) -> dict:
    """Counts per day and totals from the handoff, feedback, status-lookup and audit tables, plus the
    conversation figures of Rasa's tracker store at ``tracker_db`` (see :mod:`console.tracker_analytics`): those
    of the last ``days`` days, and the answer rate of the last ``weeks`` ISO weeks (the current one included)."""
    from console.tracker_analytics import tracker_analytics, week_keys
    from core.rating import RatingStore

    now = now or now_vn()
    start = (now - timedelta(days=days - 1)).date()
    day_keys = [(start + timedelta(days=i)).isoformat() for i in range(days)]

    def per_day(values) -> list[dict]:
        counts = Counter(v.date().isoformat() for v in values if v is not None)
        return [{"day": d, "count": counts.get(d, 0)} for d in day_keys]

    with db.read() as conn:
        tickets = conn.all("SELECT status, created_at, closed_at FROM handoff_tickets")
        feedback = conn.all("SELECT status, created_at FROM feedback_reports")
        lookups = conn.all("SELECT at_epoch, success FROM lookup_attempts")
        audit = conn.all("SELECT action, COUNT(*) AS n FROM console_audit GROUP BY action")
    created = [as_datetime(t["created_at"]) for t in tickets]
    waits = [(as_datetime(t["closed_at"]) - as_datetime(t["created_at"])).total_seconds() / 60
             for t in tickets if t["closed_at"]]
    lookup_times = [datetime.fromtimestamp(float(r["at_epoch"]), tz=now.tzinfo) for r in lookups]
    return {
        "days": days,
        "handoffs": {
            "open": sum(1 for t in tickets if t["status"] == "open"),
            "closed": sum(1 for t in tickets if t["status"] != "open"),
            "per_day": per_day(created),
            "avg_minutes_to_close": round(sum(waits) / len(waits), 1) if waits else None,
        },
        "feedback": {
            "by_status": dict(Counter(f["status"] for f in feedback)),
            "per_day": per_day(as_datetime(f["created_at"]) for f in feedback),
        },
        "status_lookups": {
            "total": len(lookups),
            "succeeded": sum(1 for r in lookups if r["success"]),
            "per_day": per_day(lookup_times),
        },
        "staff_actions": {r["action"]: int(r["n"]) for r in audit},
        "conversations": tracker_analytics(tracker_db or "", day_keys, week_keys(now.date(), weeks)),
        "satisfaction": RatingStore(db, clock=lambda: now).summary(day_keys),
    }


def analytics_csv(data: dict) -> str:
    """The per-day series of :func:`analytics` as CSV (conversations and their outcomes, fallbacks, handoff
    tickets, feedback reports, status lookups, ratings), then the top procedures, the rating distribution,
    the ratings by conversation outcome, the answer rate by week and the top unanswered questions. Every text
    cell goes through :func:`csv_cell` (no spreadsheet formula can come from what a citizen typed)."""
    conv = data["conversations"]
    out = io.StringIO()
    writer = SafeCsvWriter(out)
    writer.writerow(["day", "conversations", "answered", "handed_off", "abstained", "user_messages", "fallbacks",
                     "handoffs", "feedback_reports", "status_lookups", "ratings", "average_rating"])
    series = zip(conv["per_day"], data["handoffs"]["per_day"], data["feedback"]["per_day"],
                 data["status_lookups"]["per_day"], data["satisfaction"]["per_day"])
    for c, h, f, s, r in series:
        average = "" if r["average"] is None else f"{r['average']:.2f}"
        writer.writerow([c["day"], c["conversations"], c["answered"], c["handed_off"], c["abstained"],
                         c["user_messages"], c["fallbacks"], h["count"], f["count"], s["count"], r["count"], average])
    writer.writerow([])
    writer.writerow(["top_procedure_code", "name", "conversations"])
    for p in conv["top_procedures"]:
        writer.writerow([p["code"], p["name"], p["conversations"]])
    writer.writerow([])
    writer.writerow(["rating", "count"])
    for score, count in data["satisfaction"]["distribution"].items():
        writer.writerow([score, count])
    writer.writerow([])
    writer.writerow(["outcome", "ratings", "average_rating"])
    for outcome, r in conv["rating_by_outcome"].items():
        writer.writerow([outcome, r["count"], "" if r["average"] is None else f"{r['average']:.2f}"])
    writer.writerow([])
    writer.writerow(["week", "week_start", "conversations_with_question", "answered", "handed_off", "abstained",
                     "answer_rate"])
    for w in conv["per_week"]:
        writer.writerow([w["week"], w["start"], w["conversations"], w["answered"], w["handed_off"], w["abstained"],
                         "" if w["answer_rate"] is None else f"{w['answer_rate']:.4f}"])
    writer.writerow([])
    writer.writerow(["top_unanswered_question", "count"])
    for q in conv["top_unanswered"]:
        writer.writerow([q["question"], q["count"]])
    return out.getvalue()


# A cell starting with one of these is a formula (or becomes one) in Excel / LibreOffice / Google Sheets (OWASP).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """One CSV cell safe to open in a spreadsheet: text starting with = + - @ tab or CR gets a leading "'".

    Numbers (int/float) are written as they are: a negative count is not a formula.
    """
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class SafeCsvWriter:
    """``csv.writer`` whose every row goes through :func:`csv_cell` (the one way the console writes CSV).

    Lines end with CRLF (RFC 4180), so a cell holding a lone CR or LF is quoted instead of splitting the row.
    """

    def __init__(self, stream) -> None:
        self._writer = csv.writer(stream, lineterminator="\r\n")

    def writerow(self, row) -> None:
        """Write one row, each cell escaped."""
        self._writer.writerow([csv_cell(cell) for cell in row])
