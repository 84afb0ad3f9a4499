"""The resilient REST channel: input checks and the apology when the action server is down."""

from __future__ import annotations

import asyncio

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from channels.input_rules import EMPTY_MESSAGE_REPLY
from channels.rest import ResilientRestInput
from channels.turn import actions_down_reply


def handle(channel, text, bot_replies, actions_up=True):
    out = CollectingOutputChannel()
    seen = []

    async def on_new_message(message):
        seen.append(message.text)
        for reply in bot_replies:
            await message.output_channel.send_text_message(message.sender_id, reply)

    async def health():
        return actions_up

    channel.action_server_is_up = health
    asyncio.run(channel.handle_message(UserMessage(text, out, "user-1"), on_new_message))
    return [m["text"] for m in out.messages], seen


def test_from_credentials_reads_health_url():
    channel = ResilientRestInput.from_credentials({"action_health_url": "http://127.0.0.1:9/health"})
    assert channel.action_health_url == "http://127.0.0.1:9/health"
    assert ResilientRestInput.name() == "rest"


def test_blank_message_never_reaches_the_model():
    replies, seen = handle(ResilientRestInput(), " \n\t ", ["ignored"])
    assert replies == [EMPTY_MESSAGE_REPLY] and seen == []


def test_too_long_message_gets_a_polite_limit():
    replies, seen = handle(ResilientRestInput(max_message_chars=2000), "a" * 2001, ["ignored"])
    assert replies == [
        "Tin nhắn của bạn dài quá 2.000 ký tự nên tôi chưa xử lý được. "
        "Bạn vui lòng rút gọn câu hỏi hoặc chia thành nhiều tin nhắn ngắn."
    ]
    assert seen == []


def test_normal_answer_passes_through():
    replies, seen = handle(ResilientRestInput(), "xin chào", ["Xin chào! Tôi có thể giúp gì cho bạn?"])
    assert replies == ["Xin chào! Tôi có thể giúp gì cho bạn?"] and seen == ["xin chào"]


def test_silence_with_actions_down_becomes_an_apology():
    replies, _ = handle(ResilientRestInput(), "làm căn cước cần gì", [], actions_up=False)
    assert replies == [actions_down_reply()]


def test_fallback_answer_with_actions_down_is_replaced_by_the_apology():
    """Slot validation runs on the action server before any policy: with it down, Rasa answers with its core
    fallback, which would tell the citizen their (clear) question was not understood."""
    fallback = "Xin lỗi, tôi chưa hiểu ý bạn. Bạn có thể diễn đạt lại hoặc nêu rõ tên thủ tục cần hỏi không?"
    replies, _ = handle(ResilientRestInput(), "làm giấy khai sinh cần giấy tờ gì", [fallback], actions_up=False)
    assert replies == [actions_down_reply()]


def test_silence_with_actions_up_stays_silent():
    replies, _ = handle(ResilientRestInput(), "ừ", [], actions_up=True)
    assert replies == []


def test_unreachable_health_url_counts_as_down():
    channel = ResilientRestInput(action_health_url="http://127.0.0.1:9/health")
    assert asyncio.run(channel.action_server_is_up()) is False


def test_apologies_give_the_configured_hotline(monkeypatch):
    from channels.turn import store_down_reply
    from settings import get_settings

    monkeypatch.setenv("SUPPORT_HOTLINE", "1900 1234")
    get_settings.cache_clear()
    try:
        replies, _ = handle(ResilientRestInput(), "làm căn cước cần gì", [], actions_up=False)
        assert replies == [actions_down_reply()] and "tổng đài hỗ trợ Dịch vụ công 1900 1234 (miễn phí)" in replies[0]
        assert "1900 1234" in store_down_reply() and "18001096" not in store_down_reply()
    finally:
        monkeypatch.delenv("SUPPORT_HOTLINE")
        get_settings.cache_clear()
