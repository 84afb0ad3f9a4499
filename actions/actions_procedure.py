"""The action that answers questions about administrative procedures from the knowledge base."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services.answers import ASPECTS, format_answer, shorten
from settings import get_settings

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def knowledge_service():
    """The process-wide knowledge service (built on first use, not at import)."""
    from actions.services.knowledge_service import KnowledgeService

    return KnowledgeService()


def latest_aspect(tracker: Tracker) -> Optional[str]:
    """The aspect named in the latest message, if any."""
    for value in tracker.get_latest_entity_values("aspect"):
        if value in ASPECTS:
            return value
    return None


class ActionAnswerProcedure(Action):
    """Answer the aspect asked about the procedure the citizen means (or ask which one)."""

    def __init__(self, service=None) -> None:
        """``service`` is injectable for tests; defaults to the real knowledge service."""
        self._service = service

    def name(self) -> Text:
        return "action_answer_procedure"

    @property
    def service(self):
        return self._service or knowledge_service()

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        text = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        aspect = latest_aspect(tracker)
        chosen = next(tracker.get_latest_entity_values("procedure_code"), None)
        current = tracker.get_slot("procedure_code")
        try:
            if intent == "choose_procedure" and chosen:
                proc = self.service.procedure(chosen)
                aspect = aspect or tracker.get_slot("aspect")
                if proc is None:
                    dispatcher.utter_message(text=f"Tôi không tìm thấy thủ tục có mã {chosen} trong dữ liệu.")
                    return []
                return self._answer(dispatcher, proc, aspect)
            resolution = self.service.resolve(text, current, has_aspect=aspect is not None)
        except Exception:  # the citizen gets an apology, the log gets the trace
            logger.exception("Knowledge search failed")
            dispatcher.utter_message(
                text="Xin lỗi, hệ thống tra cứu thủ tục đang gặp sự cố. Bạn vui lòng thử lại sau ít phút hoặc gọi "
                f"tổng đài {get_settings().support_hotline}."
            )
            return []

        if resolution.kind == "answer":
            if resolution.follow_up and aspect is None:
                aspect = tracker.get_slot("aspect")
            return self._answer(dispatcher, resolution.procedure, aspect)
        if resolution.kind == "faq":
            faq = resolution.faq
            dispatcher.utter_message(text=f"{faq.answer}\nNguồn: {faq.source}")
            return []
        if resolution.kind == "choose":
            dispatcher.utter_message(
                text="Bạn muốn hỏi thủ tục nào dưới đây?",
                buttons=[
                    {
                        "title": shorten(hit.name, 90),
                        "payload": f'/choose_procedure{{"procedure_code":"{hit.code}"}}',
                    }
                    for hit in resolution.candidates
                ],
            )
            return [SlotSet("aspect", aspect)] if aspect else []
        if resolution.kind == "ask_topic":
            dispatcher.utter_message(
                text="Bạn đang hỏi về thủ tục nào ạ? Ví dụ: đăng ký khai sinh, cấp lại căn cước, đăng ký thường trú."
            )
            return [SlotSet("aspect", aspect)] if aspect else []
        dispatcher.utter_message(
            text=(
                "Xin lỗi, tôi chưa có thông tin về nội dung này trong dữ liệu thủ tục hành chính. Bạn có thể hỏi lại "
                "với tên thủ tục cụ thể, hoặc gặp cán bộ hỗ trợ qua tổng đài "
                f"{get_settings().support_hotline}."
            ),
            buttons=[{"title": "Gặp cán bộ hỗ trợ", "payload": "/request_human"}],
        )
        return []

    def _answer(self, dispatcher: CollectingDispatcher, proc, aspect: Optional[str]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=format_answer(proc, aspect))
        return [
            SlotSet("procedure_code", proc.code),
            SlotSet("procedure_name", proc.name),
            SlotSet("aspect", aspect),
        ]
