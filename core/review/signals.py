"""Which user questions in Rasa's tracker events the bot did not serve well, and why.

One pass over the events (``(sender_id, type_name, timestamp, intent_name, action_name, data)`` in order, as
:meth:`core.tracker_db.TrackerDb.read_events` returns them) yields a :class:`Signal` for each:

- ``fallback`` — the message was classified ``nlu_fallback``;
- ``abstained`` — the knowledge action ``action_answer_procedure`` gave up: its bot message carries the "talk to an
  officer" button (payload ``/request_human``), sent exactly when retrieval is not confident enough;
- ``handed_off`` — ``action_handoff`` ran: the citizen's last question before it;
- ``low_rating`` — the conversation was rated 1 or 2: the citizen's last question before the rating;
- ``low_confidence`` — the knowledge action answered, but the search's calibrated confidence (the slot
  ``answer_confidence`` it sets with the answer) is below ``low_confidence`` (REVIEW_LOW_CONFIDENCE; by default a
  little above the answer threshold of the index's decision file, :func:`default_low_confidence`).

The console's analytics count the first two as "top unanswered questions"; the review queue takes them all.
Texts are returned as typed: callers mask them (:func:`masked_question`) before storing or showing anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

from core.privacy import mask_pii

HANDOFF_ACTION = "action_handoff"
KNOWLEDGE_ACTION = "action_answer_procedure"
ABSTAIN_PAYLOAD = "/request_human"
FALLBACK_INTENT = "nlu_fallback"
RATING_SLOT = "satisfaction_rating"  # set by action_store_rating (actions/actions_rating.py)
CONFIDENCE_SLOT = "answer_confidence"  # set by action_answer_procedure with each answer from the search
# REVIEW_LOW_CONFIDENCE unset: the index's answer threshold plus this. The decision file's reliability table
# (ranker.json, shipped index): answers with a confidence of 0.8-0.9 were right 81% of the time out of fold, those
# above 0.9 97%; with the answer threshold at 0.84 this puts the bar at 0.90.
LOW_CONFIDENCE_MARGIN = 0.06
# The index's decision file: the ranker's report, with the thresholds the searcher decides with (knowledge/ranker.py
# writes it; read here rather than through that module, whose source is part of the ranker's staleness stamp).
DECISION_FILE = "ranker.json"
LOW_RATING = 2
MAX_QUESTION_CHARS = 200
UNANSWERED_REASONS = ("fallback", "abstained")


@dataclass(frozen=True)
class Signal:
    """A user question the bot did not serve well: who asked, when (epoch seconds), why, and the text typed."""

    sender: str
    timestamp: float
    reason: str
    text: str


def event_data(raw) -> dict:
    """The JSON ``data`` column of an event as a dict ({} when missing or malformed)."""
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def has_abstain_button(data: dict) -> bool:
    """Whether a bot event carries the "talk to an officer" button of an abstention."""
    buttons = (data.get("data") or {}).get("buttons") or []
    return any(isinstance(b, dict) and b.get("payload") == ABSTAIN_PAYLOAD for b in buttons)


def is_score(value) -> bool:
    """Whether a rating slot value is a satisfaction score 1-5."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value in (1, 2, 3, 4, 5)


def masked_question(text: str) -> str:
    """A question safe to store or show: personal data masked, whitespace collapsed, at most 200 characters."""
    return " ".join(mask_pii(text).split())[:MAX_QUESTION_CHARS]


def _is_question(text: str) -> bool:
    return bool(text) and not text.startswith("/")


def is_confidence(value) -> bool:
    """Whether a confidence slot value is a probability (not None, not a boolean)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def default_low_confidence(index_dir) -> Optional[float]:
    """The low-confidence bar when REVIEW_LOW_CONFIDENCE is unset: the answer threshold of the index's decision file
    plus :data:`LOW_CONFIDENCE_MARGIN`; None (no such signal) when the index has no decision file."""
    try:
        answer_above = json.loads((Path(index_dir) / DECISION_FILE).read_text(encoding="utf-8"))["thresholds"][
            "answer_above"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return min(round(float(answer_above) + LOW_CONFIDENCE_MARGIN, 4), 1.0)


def review_signals(rows: Iterable[tuple], low_confidence: Optional[float] = None) -> Iterator[Signal]:
    """The :class:`Signal` of every badly served question in ``rows`` (tracker events in order); answers whose
    confidence is below ``low_confidence`` count too (None: they do not)."""
    last_user: dict[str, str] = {}  # the sender's latest message, command or not
    last_question: dict[str, str] = {}  # the sender's latest typed question (no "/intent" payload)
    last_action: dict[str, str] = {}
    for sender, type_name, ts, intent, action, raw in rows:
        data = event_data(raw)
        at = float(ts or 0)
        if type_name == "user":
            text = data.get("text") or ""
            intent = intent or ((data.get("parse_data") or {}).get("intent") or {}).get("name")
            last_user[sender] = text
            if _is_question(text):
                last_question[sender] = text
                if intent == FALLBACK_INTENT:
                    yield Signal(sender, at, "fallback", text)
        elif type_name == "action":
            name = action or data.get("name")
            last_action[sender] = name
            if name == HANDOFF_ACTION and last_question.get(sender):
                yield Signal(sender, at, "handed_off", last_question[sender])
        elif type_name == "bot":
            text = last_user.get(sender) or ""
            if last_action.get(sender) == KNOWLEDGE_ACTION and has_abstain_button(data) and _is_question(text):
                yield Signal(sender, at, "abstained", text)
        elif type_name == "slot":
            slot, value = data.get("name") or action, data.get("value")
            if slot == RATING_SLOT and is_score(value) and value <= LOW_RATING and last_question.get(sender):
                yield Signal(sender, at, "low_rating", last_question[sender])
            elif (slot == CONFIDENCE_SLOT and low_confidence is not None and is_confidence(value)
                  and value < low_confidence and _is_question(last_user.get(sender) or "")):
                yield Signal(sender, at, "low_confidence", last_user[sender])
