"""Parsing of Zalo OA webhook events and shaping of outgoing texts (splitting, numbered buttons)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

# Zalo's text limit for one consultation ("cs") message.
MAX_TEXT_CHARS = 2000

KIND_TEXT = "text"  # goes to Rasa
KIND_REPLY = "reply"  # answered with a fixed polite reply, never reaches Rasa
KIND_IGNORE = "ignore"  # acknowledged with 200 and dropped

NON_TEXT_REPLY = (
    "Cảm ơn bạn đã gửi {what}. Hiện tôi chỉ đọc được tin nhắn dạng chữ, bạn vui lòng gõ câu hỏi về thủ tục "
    "hành chính (ví dụ: «làm giấy khai sinh cần giấy tờ gì») để tôi hỗ trợ nhé."
)
FOLLOW_REPLY = (
    "Cảm ơn bạn đã quan tâm Trợ lý ảo Dịch vụ công của tỉnh! Bạn có thể hỏi tôi về hồ sơ cần chuẩn bị, lệ phí, "
    "thời hạn giải quyết và nơi nộp hồ sơ của các thủ tục hành chính. Vui lòng không gửi số CCCD, số điện thoại "
    "hay thông tin cá nhân khác qua tin nhắn."
)
NON_TEXT_WHAT = {
    "user_send_image": "hình ảnh",
    "user_send_gif": "ảnh động",
    "user_send_sticker": "nhãn dán",
    "user_send_audio": "tin nhắn thoại",
    "user_send_video": "video",
    "user_send_file": "tệp đính kèm",
    "user_send_location": "vị trí",
    "user_send_link": "đường liên kết",
    "user_send_business_card": "danh thiếp",
}
# User events that need no answer: the user left, or Zalo reports delivery/seen/reaction status.
SILENT_USER_EVENTS = {
    "unfollow",
    "user_seen_message",
    "user_received_message",
    "user_reacted_message",
    "user_click_chatnow",
    "user_submit_info",
}


@dataclass(frozen=True)
class ZaloEvent:
    """One webhook event. Every id and the timestamp stay strings, as Zalo sends them."""

    event_name: str
    app_id: str
    user_id: str
    timestamp: str
    kind: str
    msg_id: str = ""
    text: str = ""
    reply: str = ""
    raw: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def dedupe_key(self) -> str:
        """The id Zalo keeps when it retries the same event."""
        if self.msg_id:
            return f"msg:{self.msg_id}"
        return f"evt:{self.event_name}:{self.user_id}:{self.timestamp}"


def load_body(raw_body: bytes) -> Dict[str, Any]:
    """Decode a webhook body; integers are kept as their original digits (strings), never as Python ints."""
    data = json.loads(raw_body.decode("utf-8"), parse_int=str)
    if not isinstance(data, dict):
        raise ValueError("webhook body is not a JSON object")
    return data


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _user_id(payload: Dict[str, Any]) -> str:
    for key in ("sender", "follower", "user"):
        part = payload.get(key)
        if isinstance(part, dict) and part.get("id") not in (None, ""):
            return _s(part.get("id"))
    return _s(payload.get("user_id"))


def parse_event(payload: Dict[str, Any]) -> ZaloEvent:
    """Classify a decoded webhook body into a :class:`ZaloEvent` (text for Rasa, polite reply, or ignore)."""
    name = _s(payload.get("event_name") or payload.get("event"))
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    common = dict(
        event_name=name,
        app_id=_s(payload.get("app_id")),
        user_id=_user_id(payload),
        timestamp=_s(payload.get("timestamp")),
        msg_id=_s(message.get("msg_id")),
        raw=payload,
    )
    if not common["user_id"]:
        return ZaloEvent(kind=KIND_IGNORE, **common)
    if name == "user_send_text":
        return ZaloEvent(kind=KIND_TEXT, text=_s(message.get("text")), **common)
    if name == "follow":
        return ZaloEvent(kind=KIND_REPLY, reply=FOLLOW_REPLY, **common)
    if name in NON_TEXT_WHAT:
        return ZaloEvent(kind=KIND_REPLY, reply=NON_TEXT_REPLY.format(what=NON_TEXT_WHAT[name]), **common)
    if name.startswith("user_") and name not in SILENT_USER_EVENTS:
        # A user event type Zalo added later (or a rare one): answer politely rather than stay silent.
        return ZaloEvent(kind=KIND_REPLY, reply=NON_TEXT_REPLY.format(what="tin nhắn"), **common)
    return ZaloEvent(kind=KIND_IGNORE, **common)


def mask_id(user_id: str) -> str:
    """A short stable pseudonym of a Zalo user id for logs (the id itself is personal data)."""
    if not user_id:
        return "u#-"
    return "u#" + hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:8]


# --- outgoing text -------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?…;:](?=\s)")


def _cut_point(text: str, limit: int) -> int:
    """Index to cut ``text`` (longer than ``limit``) at: paragraph, line, sentence, word, or hard limit."""
    window = text[: limit + 1]
    for sep, floor in (("\n\n", limit // 3), ("\n", limit // 3)):
        idx = window.rfind(sep, 0, limit)
        if idx >= floor:
            return idx
    ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit]
    if ends and ends[-1] >= limit // 3:
        return ends[-1]
    idx = window.rfind(" ", 0, limit)
    if idx >= limit // 3:
        return idx
    return limit


_MARKDOWN_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__", re.DOTALL)


def plain_text(text: str) -> str:
    """Zalo shows text as typed: drop the Markdown emphasis the web chat renders (``**Tên thủ tục**``)."""
    return _MARKDOWN_BOLD.sub(lambda m: m.group(1) or m.group(2), text or "")


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> List[str]:
    """Split ``text`` into pieces of at most ``limit`` characters, preferring paragraph, line and sentence breaks."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    rest = (text or "").strip()
    pieces: List[str] = []
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        piece = rest[:cut].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


CHOICE_PROMPT = "Bạn trả lời bằng số thứ tự để chọn:"
_CHOICE_RE = re.compile(r"^\s*(?:số|so|chọn|chon)?\s*(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)


def button_payload(button: Dict[str, Any]) -> Optional[str]:
    """What choosing ``button`` sends to Rasa (its payload, else its title); None for link-only buttons."""
    if button.get("url") and not button.get("payload"):
        return None
    payload = button.get("payload") or button.get("title")
    return None if payload in (None, "") else str(payload)


def buttons_to_text(text: str, buttons: Sequence[Dict[str, Any]]) -> str:
    """Render Rasa buttons as a numbered list under ``text`` (Zalo text messages have no buttons)."""
    lines = [text.rstrip()] if text and text.strip() else []
    items = []
    for idx, button in enumerate(buttons, start=1):
        title = str(button.get("title") or button.get("payload") or "").strip()
        url = button.get("url")
        items.append(f"{idx}. {title}: {url}" if url else f"{idx}. {title}")
    if items:
        if lines:
            lines.append("")
        lines.append(CHOICE_PROMPT)
        lines.extend(items)
    return "\n".join(lines)


def parse_choice(text: str) -> Optional[int]:
    """The 1-based number a user typed to pick an option ("1", "2.", "số 3"), or None."""
    match = _CHOICE_RE.match(text or "")
    return int(match.group(1)) if match else None
