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


def _channel_tracker(text: str, intent: str, *, slots, sender: str, channel: str, confidence: float, entities,
                     metadata, active_loop) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": entities or []}
    user = {"event": "user", "text": text, "parse_data": latest, "input_channel": channel}
    if metadata is not None:
        user["metadata"] = metadata
    return Tracker(
        sender_id=sender,
        slots=slots or {},
        latest_message=latest,
        events=[user],
        paused=False,
        followup_action=None,
        active_loop=active_loop,
        latest_action_name="action_listen",
    )


def form_tracker(form: str, text: str, intent: str = "inform", *, slots=None, requested=None, sender: str,
                 confidence: float = 0.9, channel: str = "rest") -> Tracker:
    """A tracker inside the active ``form``, asking ``requested``, whose latest message is ``text`` (classified as
    ``intent``, come in on ``channel``)."""
    return _channel_tracker(text, intent, slots={"requested_slot": requested, **(slots or {})}, sender=sender,
                            channel=channel, confidence=confidence, entities=None, metadata=None,
                            active_loop={"name": form})


def channel_tracker(text: str, intent: str, *, sender: str, channel: str, slots=None, entities=None, metadata=None,
                    confidence: float = 0.9) -> Tracker:
    """A tracker outside any form whose latest message is ``text`` (classified as ``intent``), come in on ``channel``
    as the Rasa server records it; ``metadata`` is what the client sent along (never trusted)."""
    return _channel_tracker(text, intent, slots=slots, sender=sender, channel=channel, confidence=confidence,
                            entities=entities, metadata=metadata, active_loop={})
