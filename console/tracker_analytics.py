"""Conversation analytics read from Rasa's SQL tracker store (the ``events`` table of ``var/tracker.db``, or of
the PostgreSQL database named by ``TRACKER_DB_URL`` in the scaled profile).

How each conversation is classified (a conversation = one ``sender_id`` on one day, Vietnam time, with at least
one user message that day):

- **handed off** — the action ``action_handoff`` ran that day;
- **abstained** — otherwise, the knowledge action ``action_answer_procedure`` gave up at least once: its bot
  message carries the "talk to an officer" button (payload ``/request_human``), which is what the action sends
  exactly when retrieval is not confident enough (``Resolution.kind == "unknown"``);
- **answered** — every other conversation (the bot answered by itself).

The **answer rate by week** (``per_week``, ISO weeks of Vietnam time, Monday to Sunday) is the share of
the week's conversations with a question — at least one typed message, not only button payloads such as
``/greet`` — that the bot answered by itself (the same classification as above): answered / conversations.

The fallback rate is the share of user messages classified ``nlu_fallback``. Top procedures count the
conversations in which the ``procedure_code`` slot was set to each code. A conversation
that only met fallbacks still counts as answered (its fallbacks show in the fallback rate). Top unanswered
questions are the user texts that led to an abstention or a fallback, with personal data masked by
:func:`core.privacy.mask_pii`. The database is opened read-only; a missing file gives empty figures.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
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


def iso_week(day: date) -> str:
    """The ISO week of ``day`` as ``YYYY-Www`` ("2026-W49"; 2027-01-01 belongs to "2026-W53")."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(week: str) -> date:
    """The Monday of the ISO week ``YYYY-Www``."""
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1)


def week_keys(today: date, weeks: int) -> list[str]:
    """The ``weeks`` ISO weeks ending with the week of ``today``, oldest first."""
    monday = today - timedelta(days=today.weekday())
    return [iso_week(monday - timedelta(weeks=n)) for n in range(weeks - 1, -1, -1)]


def conversation_analytics(rows: Iterable[tuple], day_keys: list[str], weeks: Iterable[str] = ()) -> dict:
    """Per-day conversations and outcome shares, fallback rate, top procedures and top unanswered questions of
    the days ``day_keys``, and the answer rate of each ISO week of ``weeks``."""
    from knowledge.store import is_procedure_code  # light (a regex); the knowledge data is not loaded

    weeks = list(weeks)
    wanted = set(day_keys)
    wanted_weeks = set(weeks)
    convs: dict[tuple[str, str], dict] = {}
    last_action: dict[str, str] = {}
    user_turns: Counter = Counter()
    fallback_turns: Counter = Counter()
    procedures: dict[str, set] = defaultdict(set)  # code -> {(sender, day)}
    names: dict[str, str] = {}
    last_code: dict[str, str] = {}
    rows = list(rows)

    for sender, type_name, ts, intent, action, raw in rows:
        when = datetime.fromtimestamp(float(ts or 0), tz=VN_TZ).date()
        day = when.isoformat()
        in_days = day in wanted
        if not in_days and iso_week(when) not in wanted_weeks:
            continue
        key = (sender, day)
        data = event_data(raw)
        if type_name == "user":
            conv = convs.setdefault(key, {"handoff": False, "abstain": False, "ratings": [], "question": False,
                                          "week": iso_week(when)})
            conv["question"] = conv["question"] or not (data.get("text") or "/").startswith("/")
            if not in_days:  # a conversation of the weekly answer rate only
                continue
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
        elif type_name == "slot" and in_days:
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
    for (_, day), c in convs.items():
        if day in wanted:
            by_outcome[outcome_of(c)].extend(c["ratings"])

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
        "per_week": answer_rate_by_week(convs.values(), weeks),
    }


def outcome_of(conv: dict) -> str:
    """A conversation's outcome: handed off, else abstained, else answered by the bot."""
    return "handed_off" if conv["handoff"] else ("abstained" if conv["abstain"] else "answered")


def answer_rate_by_week(convs: Iterable[dict], weeks: list[str]) -> list[dict]:
    """For each ISO week of ``weeks``: its conversations with a question, their outcomes and the answer rate
    (answered by the bot / conversations; None for a week without any)."""
    counts = {week: Counter() for week in weeks}
    for conv in convs:
        if conv["question"] and conv["week"] in counts:
            counts[conv["week"]].update(("conversations", outcome_of(conv)))
    out = []
    for week in weeks:
        c = counts[week]
        out.append({"week": week, "start": week_start(week).isoformat(), "conversations": c["conversations"],
                    "answered": c["answered"], "handed_off": c["handed_off"], "abstained": c["abstained"],
                    "answer_rate": round(c["answered"] / c["conversations"], 4) if c["conversations"] else None})
    return out


def tracker_analytics(path: Path | str, day_keys: list[str], weeks: Iterable[str] = ()) -> dict:
    """:func:`conversation_analytics` over the tracker store at ``path`` (a SQLite file or a ``postgresql://``
    URL, see :class:`core.tracker_db.TrackerDb`) for the days ``day_keys`` (ISO dates) and the ISO weeks
    ``weeks`` (oldest first)."""
    weeks = list(weeks)
    first = min([date.fromisoformat(day_keys[0])] + [week_start(w) for w in weeks[:1]])
    since = datetime(first.year, first.month, first.day, tzinfo=VN_TZ).timestamp()
    rows = TrackerDb(path).read_events(since)
    result = conversation_analytics(rows or [], day_keys, weeks)
    result["source_available"] = rows is not None
    return result
