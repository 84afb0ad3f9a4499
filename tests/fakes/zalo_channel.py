"""The Zalo OA input channel wired to tests/fakes/zalo_api_server.py, and a stub for Rasa's agent (Rasa venv)."""

from __future__ import annotations

import asyncio
import json

from channels.zalo.input import ZaloInput
from tests.fakes.zalo_api_server import sign

APP_ID = "1234567890123456789"
SECRET = "fake-oa-secret"


def make_channel(fake, tmp_path, **extra):
    """A ZaloInput talking to the fake Zalo API ``fake``, its stores under ``tmp_path`` (``extra``: credentials)."""
    creds = {
        "app_id": APP_ID, "oa_secret_key": SECRET, "access_token": fake.access_token,
        "refresh_token": fake.refresh_token, "api_base": fake.url, "oauth_base": fake.url,
        "token_store_path": str(tmp_path / "tokens.json"), "retry_backoff_seconds": 0.01,
        "action_health_url": "http://127.0.0.1:9/health", "seen_store": str(tmp_path / "zalo_seen.db"),
    }
    creds.update(extra)
    return ZaloInput.from_credentials(creds)


class Bot:
    """Stands in for Rasa's agent: echoes, or answers with buttons, slowly enough to expose reordering."""

    def __init__(self):
        self.seen = []

    async def __call__(self, message):
        self.seen.append((message.sender_id, message.text, message.input_channel, message.message_id))
        await asyncio.sleep(0.02 if message.text.endswith("chậm") else 0)
        if message.text == "nút":
            await message.output_channel.send_text_with_buttons(
                message.sender_id, "Chọn một:", [{"title": "Có", "payload": "/affirm"}, {"title": "Không"}]
            )
        else:
            await message.output_channel.send_text_message(message.sender_id, f"Đã nhận: {message.text}")


def call(channel, bot, event, signature=None, body=None):
    """One webhook call of ``event`` (signed correctly unless ``signature`` is given; ``body``: raw bytes)."""
    raw = body if body is not None else json.dumps(event, ensure_ascii=False).encode()
    sig = signature if signature is not None else sign(APP_ID, raw, str(event.get("timestamp", "")), SECRET)
    return channel.handle_webhook(raw, sig, bot)
