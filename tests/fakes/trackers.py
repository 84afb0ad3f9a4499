"""Rasa SDK trackers for action tests."""

from __future__ import annotations

from rasa_sdk import Tracker


def make_tracker(text: str, intent: str, entities=None, slots=None, events=None) -> Tracker:
    """A tracker whose latest user message is ``text`` classified as ``intent``."""
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []}
    return Tracker(
        sender_id="test-user",
        slots=slots or {},
        latest_message=latest,
        events=events or [{"event": "user", "text": text, "parse_data": latest}],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def form_tracker(form: str, text: str, intent: str = "inform", *, slots=None, requested=None, sender: str,
                 confidence: float = 0.9, channel: str = "rest") -> Tracker:
    """A tracker inside the active ``form``, asking ``requested``, whose latest message is ``text`` (classified as
    ``intent``, come in on ``channel``)."""
    latest = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": []}
    return Tracker(
        sender_id=sender,
        slots={"requested_slot": requested, **(slots or {})},
        latest_message=latest,
        events=[{"event": "user", "text": text, "parse_data": latest, "input_channel": channel}],
        paused=False,
        followup_action=None,
        active_loop={"name": form},
        latest_action_name="action_listen",
    )
