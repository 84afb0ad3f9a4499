"""Conversation analytics read from Rasa's SQL tracker store (the ``events`` table of ``var/tracker.db``, or of
the PostgreSQL database named by ``TRACKER_DB_URL`` in the scaled profile).

How each conversation is classified (a conversation = one ``sender_id`` on one day, Vietnam time, with at least
one user message that day):

- **handed off** — the action ``action_handoff`` ran that day;
- **abstained** — otherwise, the knowledge action ``action_answer_procedure`` gave up at least once: its bot
  message carries the "talk to an officer" button (payload ``/request_human``), which is what the action sends
  exactly when retrieval is not confident enough (``Resolution.kind == "unknown"``);
- **answered** — every other conversation (the bot answered by itself).

The fallback rate is the share of user messages classified ``nlu_fallback``. Top procedures count the
conversations in which the ``procedure_code`` slot was set to each code. A conversation
that only met fallbacks still counts as answered (its fallbacks show in the fallback rate). Top unanswered
questions are the user texts that led to an abstention or a fallback, with personal data masked by
:func:`core.privacy.mask_pii`. The database is opened read-only; a missing file gives empty figures.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Iterable

from core.db import VN_TZ
from core.review.signals import (
    FALLBACK_INTENT,
    HANDOFF_ACTION,
    KNOWLEDGE_ACTION,
    RATING_SLOT,
    UNANSWERED_REASONS,
    event_data,
    has_abstain_button,
    is_score,
    masked_question,
    review_signals,
)
from core.tracker_db import TrackerDb

log = logging.getLogger(__name__)

TOP_N = 10


def _question(text: str) -> str:
    return masked_question(text).lower()


def conversation_analytics(rows: Iterable[tuple], day_keys: list[str]) -> dict:
    """Per-day conversations and outcome shares, fallback rate, top procedures and top unanswered questions."""
    from knowledge.store import is_procedure_code  # light (a regex); the knowledge data is not loaded

    wanted = set(day_keys)
    convs: dict[tuple[str, str], dict] = {}
    last_action: dict[str, str] = {}
    user_turns: Counter = Counter()
    fallback_turns: Counter = Counter()
    procedures: dict[str, set] = defaultdict(set)  # code -> {(sender, day)}
    names: dict[str, str] = {}
    last_code: dict[str, str] = {}
    rows = list(rows)

    for sender, type_name, ts, intent, action, raw in rows:
        day = datetime.fromtimestamp(float(ts or 0), tz=VN_TZ).date().isoformat()
        if day not in wanted:
            continue
        key = (sender, day)
        data = event_data(raw)
        if type_name == "user":
            convs.setdefault(key, {"handoff": False, "abstain": False, "ratings": []})
            intent = intent or ((data.get("parse_data") or {}).get("intent") or {}).get("name")
            user_turns[day] += 1
            if intent == FALLBACK_INTENT:
                fallback_turns[day] += 1
        elif type_name == "action":
            name = action or data.get("name")
            last_action[sender] = name
            if name == HANDOFF_ACTION and key in convs:
                convs[key]["handoff"] = True
        elif type_name == "bot":
            if last_action.get(sender) == KNOWLEDGE_ACTION and has_abstain_button(data) and key in convs:
                convs[key]["abstain"] = True
        elif type_name == "slot":
            slot, value = data.get("name") or action, data.get("value")
            if slot == "procedure_code" and is_procedure_code(value):  # never a value made up in a message
                procedures[value].add(key)
                last_code[sender] = value
            elif slot == "procedure_name" and isinstance(value, str) and value and last_code.get(sender):
                names.setdefault(last_code[sender], value)
            elif slot == RATING_SLOT and key in convs and is_score(value):
                convs[key]["ratings"].append(int(value))

    unanswered = Counter(_question(s.text) for s in review_signals(rows) if s.reason in UNANSWERED_REASONS
                         and datetime.fromtimestamp(s.timestamp, tz=VN_TZ).date().isoformat() in wanted)
    per_day = []
    totals = Counter()
    for day in day_keys:
        day_convs = [c for (_, d), c in convs.items() if d == day]
        handed = sum(1 for c in day_convs if c["handoff"])
        abstained = sum(1 for c in day_convs if c["abstain"] and not c["handoff"])
        answered = len(day_convs) - handed - abstained
        entry = {"day": day, "conversations": len(day_convs), "answered": answered, "handed_off": handed,
                 "abstained": abstained, "user_messages": user_turns[day], "fallbacks": fallback_turns[day]}
        per_day.append(entry)
        totals.update({k: v for k, v in entry.items() if k != "day"})

    def share(n: int, total: int) -> float | None:
        return round(n / total, 4) if total else None

    by_outcome: dict[str, list[int]] = {"answered": [], "handed_off": [], "abstained": []}
    for c in convs.values():
        outcome = "handed_off" if c["handoff"] else ("abstained" if c["abstain"] else "answered")
        by_outcome[outcome].extend(c["ratings"])

    top = sorted(procedures.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_N]
    return {
        "per_day": per_day,
        "total_conversations": totals["conversations"],
        "shares": {"answered": share(totals["answered"], totals["conversations"]),
                   "handed_off": share(totals["handed_off"], totals["conversations"]),
                   "abstained": share(totals["abstained"], totals["conversations"])},
        "fallback_rate": share(totals["fallbacks"], totals["user_messages"]),
        # Satisfaction of the conversations the bot answered vs handed off vs could not answer.
        "rating_by_outcome": {outcome: {"count": len(scores),
                                        "average": round(sum(scores) / len(scores), 2) if scores else None}
                              for outcome, scores in by_outcome.items()},
        "top_procedures": [{"code": code, "name": names.get(code, ""), "conversations": len(keys)}
                           for code, keys in top],
        "top_unanswered": [{"question": q, "count": n}
                           for q, n in sorted(unanswered.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]],
    }


def tracker_analytics(path: Path | str, day_keys: list[str]) -> dict:
    """:func:`conversation_analytics` over the tracker store at ``path`` (a SQLite file or a ``postgresql://``
    URL, see :class:`core.tracker_db.TrackerDb`) for the days ``day_keys`` (ISO dates)."""
    first = date.fromisoformat(day_keys[0])
    since = datetime(first.year, first.month, first.day, tzinfo=VN_TZ).timestamp()
    rows = TrackerDb(path).read_events(since)
    result = conversation_analytics(rows or [], day_keys)
    result["source_available"] = rows is not None
    return result
