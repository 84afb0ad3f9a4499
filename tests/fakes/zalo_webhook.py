"""Talking to the running stack's Zalo channel as Zalo does (signed webhook events), and waiting for its replies
at the fake Zalo API (tests/fakes/zalo_api_server.py). ``stack`` is the e2e stack (tests/e2e/conftest.py)."""

from __future__ import annotations

from tests.fakes.zalo_api_server import post_event, sticker_event, text_event

REPLY_TIMEOUT = 120.0
# How the channel's fixed reply to a sticker begins (channels.zalo.parser.NON_TEXT_REPLY): the marker's reply.
MARKER_REPLY_START = "Cảm ơn bạn đã gửi nhãn dán."


def webhook(stack) -> str:
    return f"{stack.rasa_url}/webhooks/zalo/webhook"


def send(stack, user: str, text: str, **kwargs) -> tuple:
    event = text_event(stack.zalo.app_id, user, text, **kwargs)
    return post_event(webhook(stack), event, stack.zalo.app_id, stack.zalo.secret_key)


def markers(stack, user: str) -> int:
    """How many marker replies ``user`` got so far."""
    return sum(text.startswith(MARKER_REPLY_START) for text in stack.zalo.delivered(user))


def send_marker(stack, user: str) -> tuple:
    return post_event(webhook(stack), sticker_event(stack.zalo.app_id, user), stack.zalo.app_id,
                      stack.zalo.secret_key)


def replies(stack, user: str, at_least: int = 1) -> list:
    """Everything delivered to ``user`` for the events sent so far (marker replies left out); at least ``at_least``.

    The channel answers one user's events one at a time, in order, so a sticker sent now (the marker) is answered
    only once every earlier event of that user was: its fixed reply arriving is the event to wait for.
    """
    before = markers(stack, user)
    assert send_marker(stack, user) == (200, {"status": "accepted"})
    assert stack.zalo.wait_for(lambda f: markers(stack, user) > before, REPLY_TIMEOUT), (
        f"no Zalo reply for {user}; requests: {[(r.path, r.status, r.answer) for r in stack.zalo.requests[-5:]]}"
    )
    texts = [text for text in stack.zalo.delivered(user) if not text.startswith(MARKER_REPLY_START)]
    assert len(texts) >= at_least, texts
    return texts
