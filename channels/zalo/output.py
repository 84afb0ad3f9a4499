"""Rasa output channel for Zalo OA: text only, split to Zalo's limit, buttons as a numbered list."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa.core.channels.channel import OutputChannel

from channels.zalo.api import ZaloApiClient, ZaloApiError
from channels.zalo.parser import MAX_TEXT_CHARS, button_payload, buttons_to_text, mask_id, plain_text, split_text

logger = logging.getLogger(__name__)


class ButtonMemory:
    """The payloads of the last buttons each user was shown, so a reply "1"/"2" can be mapped back.

    In memory, bounded (least recently used users are forgotten) and expiring after ``ttl_seconds``.
    """

    def __init__(self, max_users: int = 10000, ttl_seconds: float = 24 * 3600) -> None:
        """Create an empty memory."""
        self.max_users = max_users
        self.ttl_seconds = ttl_seconds
        self._data: "OrderedDict[str, tuple]" = OrderedDict()

    def remember(self, user_id: str, payloads: List[Optional[str]]) -> None:
        """Store the options just sent to ``user_id`` (replacing older ones)."""
        self._data.pop(user_id, None)
        self._data[user_id] = (time.monotonic(), list(payloads))
        while len(self._data) > self.max_users:
            self._data.popitem(last=False)

    def take(self, user_id: str) -> List[Optional[str]]:
        """Return and forget the options last shown to ``user_id`` (empty if none or expired)."""
        item = self._data.pop(user_id, None)
        if not item or time.monotonic() - item[0] > self.ttl_seconds:
            return []
        return item[1]


class ZaloOutput(OutputChannel):
    """Sends the bot's messages to one Zalo user through :class:`ZaloApiClient`.

    Delivery failures are logged and recorded in the client's health, never raised: an exception here would
    abort Rasa's turn before the conversation is saved.
    """

    @classmethod
    def name(cls) -> Text:
        """Channel name used by Rasa."""
        return "zalo"

    def __init__(self, client: ZaloApiClient, memory: ButtonMemory, max_text_chars: int = MAX_TEXT_CHARS) -> None:
        """Bind the output to an API client and the shared button memory."""
        self.client = client
        self.memory = memory
        self.max_text_chars = max(1, min(int(max_text_chars), MAX_TEXT_CHARS))
        self.sent_messages = 0

    async def _deliver(self, recipient_id: Text, text: Text) -> None:
        for piece in split_text(plain_text(text), self.max_text_chars):
            self.sent_messages += 1
            try:
                await self.client.send_text(recipient_id, piece)
            except ZaloApiError as exc:
                self.client.health.error(exc.code, exc.message)
                logger.error("Zalo message to %s not delivered: %s", mask_id(recipient_id), exc)
                return  # the rest would arrive out of context

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        """Send a text, split on paragraph/line/sentence boundaries to at most 2,000 characters per message."""
        if text and text.strip():
            await self._deliver(recipient_id, text)

    async def send_text_with_buttons(
        self, recipient_id: Text, text: Text, buttons: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        """Send the text with the buttons as a numbered list and remember their payloads for the reply."""
        self.memory.remember(recipient_id, [button_payload(b) for b in buttons])
        await self._deliver(recipient_id, buttons_to_text(text or "", buttons))

    async def send_quick_replies(
        self, recipient_id: Text, text: Text, quick_replies: List[Dict[Text, Any]], **kwargs: Any
    ) -> None:
        """Quick replies are shown like buttons."""
        await self.send_text_with_buttons(recipient_id, text, quick_replies)

    async def send_image_url(self, recipient_id: Text, image: Text, **kwargs: Any) -> None:
        """Send an image as a link (text messages only)."""
        await self._deliver(recipient_id, f"Xem hình ảnh: {image}")

    async def send_attachment(self, recipient_id: Text, attachment: Text, **kwargs: Any) -> None:
        """Send an attachment as text."""
        await self._deliver(recipient_id, f"Tài liệu đính kèm: {attachment}")

    async def send_elements(self, recipient_id: Text, elements: Iterable[Dict[Text, Any]], **kwargs: Any) -> None:
        """Send carousel elements as one list: title, subtitle, and their buttons as numbered options."""
        for element in elements:
            text = "\n".join(str(element.get(k)) for k in ("title", "subtitle") if element.get(k))
            await self.send_text_with_buttons(recipient_id, text, element.get("buttons") or [])

    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        """Custom payloads are for rich web clients; on Zalo only their ``text`` (if any) is sent."""
        text = json_message.get("text") if isinstance(json_message, dict) else None
        if isinstance(text, str):
            await self.send_text_message(recipient_id, text)
