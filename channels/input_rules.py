"""The input rule of every chat channel (REST, socket.io, Zalo): what user text may reach the model.

Text is cleaned first (NFC, no control characters or lone surrogates); empty text and text over the channel's
limit get a polite Vietnamese reply instead of a turn.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Optional, Tuple

MAX_MESSAGE_CHARS = 2000
EMPTY_MESSAGE_REPLY = "Bạn chưa nhập nội dung câu hỏi. Bạn cần hỗ trợ thủ tục hành chính nào ạ?"
TOO_LONG_REPLY = (
    "Tin nhắn của bạn dài quá {limit} ký tự nên tôi chưa xử lý được. "
    "Bạn vui lòng rút gọn câu hỏi hoặc chia thành nhiều tin nhắn ngắn."
)
# C0/C1 control characters except tab and newlines: PostgreSQL text cannot hold NUL, and none is meaningful.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character that :func:`clean_user_text` would replace."""
    return bool(_CONTROL_RE.search(text))


def clean_user_text(value: Any) -> str:
    """User text safe to process and store: NFC, no control characters or lone surrogates; "" if not text.

    Numbers are kept as their digits (a client may send a bare choice such as 2); lists, objects and booleans
    count as no text, so they get the polite "empty message" reply instead of an exception.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return ""
    text = str(value)
    # A JSON "\ud800" escape decodes to a lone surrogate, which no store or log handler can encode.
    text = text.encode("utf-8", "replace").decode("utf-8")
    return unicodedata.normalize("NFC", _CONTROL_RE.sub(" ", text))


def check_user_text(value: Any, max_chars: int = MAX_MESSAGE_CHARS) -> Tuple[str, Optional[str]]:
    """The one input rule of every chat channel: ``(clean text, None)`` when the text may reach the model, or
    ``(clean text, polite Vietnamese reply)`` when it is empty or longer than ``max_chars``."""
    text = clean_user_text(value).strip()
    if not text:
        return text, EMPTY_MESSAGE_REPLY
    if len(text) > max_chars:
        return text, TOO_LONG_REPLY.format(limit=f"{max_chars:,}".replace(",", "."))
    return text, None
