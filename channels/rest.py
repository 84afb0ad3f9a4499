"""REST channel for the web chat page that never leaves a citizen without an answer.

Rasa's own ``RestInput`` replies with an empty list when a custom action fails (for example when the
action server is down): the processor logs the error and predicts ``action_listen``. Citizens would see
silence. This channel wraps the message handler: empty or over-long messages get a polite reply without
reaching the model, and an empty bot answer while the action server is unreachable becomes an apology.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import aiohttp
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
EMPTY_MESSAGE_REPLY = "Bạn chưa nhập nội dung câu hỏi. Bạn cần hỗ trợ thủ tục hành chính nào ạ?"
TOO_LONG_REPLY = (
    "Tin nhắn của bạn dài quá {limit} ký tự nên tôi chưa xử lý được. "
    "Bạn vui lòng rút gọn câu hỏi hoặc chia thành nhiều tin nhắn ngắn."
)
ACTIONS_DOWN_REPLY = (
    "Xin lỗi, hệ thống trợ lý đang gặp sự cố tạm thời nên chưa trả lời được câu hỏi này. "
    "Bạn vui lòng thử lại sau ít phút, hoặc gọi tổng đài hỗ trợ Dịch vụ công 18001096 (miễn phí)."
)


class ResilientRestInput(RestInput):
    """REST input channel (``/webhooks/rest/webhook``) with input checks and an apology when actions fail."""

    def __init__(self, action_health_url: Optional[Text] = None, max_message_chars: int = MAX_MESSAGE_CHARS) -> None:
        """Create the channel; ``action_health_url`` is the action server's ``/health`` route."""
        self.action_health_url = action_health_url or "http://localhost:5055/health"
        self.max_message_chars = int(max_message_chars)

    @classmethod
    def name(cls) -> Text:
        """Keep Rasa's REST route so clients need no change."""
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "ResilientRestInput":
        """Build the channel from its ``credentials.yml`` section."""
        credentials = credentials or {}
        return cls(
            action_health_url=credentials.get("action_health_url"),
            max_message_chars=credentials.get("max_message_chars", MAX_MESSAGE_CHARS),
        )

    async def action_server_is_up(self) -> bool:
        """Whether the action server answers its health route within a second."""
        try:
            timeout = aiohttp.ClientTimeout(total=1.0)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async with session.get(self.action_health_url) as resp:
                    return resp.status == 200
        except (aiohttp.ClientError, OSError, TimeoutError):
            return False
        except Exception:  # noqa: BLE001 - asyncio.TimeoutError on 3.10 and anything odd: treat as down
            return False

    async def handle_message(
        self, message: UserMessage, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
        """Check the input, pass it to Rasa, and apologise if nothing came back because actions are down."""
        out = message.output_channel
        text = (message.text or "").strip()
        if not text:
            await out.send_text_message(message.sender_id, EMPTY_MESSAGE_REPLY)
            return
        if len(text) > self.max_message_chars:
            limit = f"{self.max_message_chars:,}".replace(",", ".")
            await out.send_text_message(message.sender_id, TOO_LONG_REPLY.format(limit=limit))
            return
        before = len(out.messages) if isinstance(out, CollectingOutputChannel) else 0
        await on_new_message(message)
        answered = isinstance(out, CollectingOutputChannel) and len(out.messages) > before
        if not answered and not await self.action_server_is_up():
            logger.error("Action server unreachable at %s; sent apology to the user.", self.action_health_url)
            await out.send_text_message(message.sender_id, ACTIONS_DOWN_REPLY)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's REST blueprint around :meth:`handle_message`."""

        async def guarded(message: UserMessage) -> None:
            await self.handle_message(message, on_new_message)

        return super().blueprint(guarded)
