"""Dialogue-level actions: fallback, human handoff, status lookup and feedback guidance."""

from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from settings import get_settings

FALLBACK_INTENT = "nlu_fallback"


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many user messages in a row, ending with the latest, fell below the NLU threshold."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        if (event.get("parse_data") or {}).get("intent", {}).get("name") == FALLBACK_INTENT:
            count += 1
        else:
            break
    return count


class ActionHandleFallback(Action):
    """First unclear message: ask to rephrase. Second in a row: offer a human officer."""

    def name(self) -> Text:
        return "action_handle_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        if consecutive_fallbacks(tracker) >= 2:
            dispatcher.utter_message(
                text="Xin lỗi, tôi vẫn chưa hiểu ý bạn. Bạn có muốn được chuyển sang cán bộ hỗ trợ không?",
                buttons=[
                    {"title": "Có, gặp cán bộ", "payload": "/affirm"},
                    {"title": "Không, tôi sẽ hỏi lại", "payload": "/deny"},
                ],
            )
        else:
            dispatcher.utter_message(
                text=(
                    "Xin lỗi, tôi chưa hiểu rõ câu hỏi. Bạn có thể nói rõ hơn tên thủ tục và điều bạn cần biết "
                    "không? Ví dụ: «làm giấy khai sinh cần giấy tờ gì» hoặc «cấp lại căn cước mất bao lâu»."
                )
            )
        return []


class ActionHandoff(Action):
    """Connect the citizen with a human officer (the hotline until a staff inbox exists)."""

    def name(self) -> Text:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        settings = get_settings()
        dispatcher.utter_message(
            text=(
                "Để được cán bộ hỗ trợ trực tiếp, bạn vui lòng gọi tổng đài Dịch vụ công "
                f"{settings.support_hotline} (miễn phí, giờ hành chính) hoặc đến Bộ phận Một cửa nơi bạn nộp hồ sơ. "
                "Khi gọi, bạn nên chuẩn bị sẵn tên thủ tục và mã hồ sơ (nếu có) để được hỗ trợ nhanh hơn."
            )
        )
        return []


class ActionCheckStatus(Action):
    """Tell the citizen how to look an application up on the portal."""

    def name(self) -> Text:
        return "action_check_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        settings = get_settings()
        dispatcher.utter_message(
            text=(
                "Bạn có thể tra cứu tình trạng hồ sơ bằng mã hồ sơ (in trên giấy tiếp nhận hoặc trong tin nhắn, "
                f"email xác nhận) tại trang tra cứu của Cổng Dịch vụ công: {settings.status_lookup_url}\n"
                f"Nếu cần hỗ trợ thêm, bạn gọi tổng đài {settings.support_hotline}."
            )
        )
        return []


class ActionFileFeedback(Action):
    """Tell the citizen where a feedback or complaint is received."""

    def name(self) -> Text:
        return "action_file_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        settings = get_settings()
        dispatcher.utter_message(
            text=(
                "Bạn có thể gửi phản ánh, kiến nghị (kèm mô tả, địa điểm và ảnh nếu có) tại: "
                f"{settings.feedback_url}\nHoặc gọi tổng đài {settings.support_hotline} để được hướng dẫn."
            )
        )
        return []
