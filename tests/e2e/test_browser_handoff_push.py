"""An officer's reply reaches the web widget: REST for questions, Rasa's socket.io channel for pushed replies.

The citizen asks for an officer in the widget (headless Chromium, the stack's own chat page with its
Content-Security-Policy); the officer answers through the real staff API (``python -m staff_api``), which runs
``action_deliver_staff_reply`` with ``output_channel=socketio`` (ticket channel "rest" mapped in
staff_api/rasa_client.py); the widget, listening on ``/socket.io`` in the room named after its sender id,
renders the reply as text.
"""

from __future__ import annotations

import requests

from tests.fakes.browser import (
    BOT_MESSAGES,
    COUNT_JS,
    JOINED_JS,
    PUSH_TIMEOUT_MS,
    USER_MESSAGES,
    hand_off,
    new_page,
    open_widget,
    send_message,
    wait_for_count,
    wait_for_reply,
    wait_for_widget,
)


def _count(page, needle: str) -> int:
    return page.evaluate(COUNT_JS, {"bot": BOT_MESSAGES, "needle": needle})


def _reply(staff_api, ticket_id: str, text: str) -> None:
    answer = requests.post(f"{staff_api['url']}/api/handoffs/{ticket_id}/reply", headers=staff_api["headers"],
                           json={"text": text, "staff": "Nguyễn Thị Hoa"}, timeout=30)
    assert answer.status_code == 201 and answer.json()["delivery"] == "sent", answer.text


def test_staff_reply_is_pushed_to_the_web_widget(browser, live_stack, staff_api):
    context, page, probe = new_page(browser)
    try:
        open_widget(page, live_stack["web_url"])
        # An ordinary question while the socket listens: the REST answer is shown once, never pushed again.
        send_message(page, "làm giấy khai sinh cần giấy tờ gì")
        wait_for_reply(page, 0, needle="khai sinh")
        page.wait_for_function(JOINED_JS, timeout=PUSH_TIMEOUT_MS)
        page.wait_for_timeout(1000)
        first_answers = page.locator(BOT_MESSAGES).all_inner_texts()
        assert first_answers and len(first_answers) == len(set(first_answers)), first_answers
        ticket_id = hand_off(page)
        sender = page.evaluate("localStorage.getItem('tthc_chat_sender_id')")
        ticket = requests.get(f"{staff_api['url']}/api/handoffs/{ticket_id}", headers=staff_api["headers"],
                              timeout=10).json()
        assert ticket["sender_id"] == sender and ticket["channel"] == "rest"
        page.wait_for_timeout(500)
        assert _count(page, "Bạn có muốn chuyển không?") == 1 and _count(page, ticket_id) == 1

        markup = "<img src=x onerror=alert(1)>"
        first = f"Chào bạn, tôi là cán bộ Bộ phận Một cửa. Hồ sơ {markup} của bạn đã được tiếp nhận."
        _reply(staff_api, ticket_id, first)
        wait_for_count(page, "tôi là cán bộ Bộ phận Một cửa", 1, PUSH_TIMEOUT_MS)
        pushed = page.locator(BOT_MESSAGES).last
        assert pushed.locator(".tthc-msg__body").inner_text() == f"💬 Cán bộ hỗ trợ: {first}"
        assert pushed.locator("img").count() == 0  # rendered as text, not HTML
        page.wait_for_timeout(1000)
        assert _count(page, "tôi là cán bộ Bộ phận Một cửa") == 1  # shown once

        # After a reload the widget listens again (history restored, session_request re-sent).
        page.reload()
        wait_for_widget(page)
        assert _count(page, "tôi là cán bộ Bộ phận Một cửa") == 1  # kept in the stored history
        page.wait_for_function(JOINED_JS, timeout=PUSH_TIMEOUT_MS)
        _reply(staff_api, ticket_id, "Bạn vui lòng mang theo bản chính giấy chứng sinh khi đến nhận kết quả.")
        wait_for_count(page, "bản chính giấy chứng sinh", 1, PUSH_TIMEOUT_MS)

        page.wait_for_timeout(1000)
        assert _count(page, "bản chính giấy chứng sinh") == 1
        assert page.locator(BOT_MESSAGES).all_inner_texts()[:len(first_answers)] == first_answers
        closed = requests.post(f"{staff_api['url']}/api/handoffs/{ticket_id}/close", headers=staff_api["headers"],
                               timeout=30)
        assert closed.status_code == 200, closed.text
        assert [b["message"] for b in probe.webhook_bodies] == ["làm giấy khai sinh cần giấy tờ gì",
                                                                 "Tôi muốn gặp cán bộ", "/affirm"]
        assert probe.dialogs == [] and probe.errors == []
        assert probe.console_errors == []  # no CSP/CORS violation from the socket
    finally:
        context.close()


def test_widget_works_without_the_socket_client(browser, live_stack):
    """If vendor/socket.io.min.js cannot load, the widget still chats over REST (push is optional)."""
    context, page, probe = new_page(browser)
    try:
        page.route("**/vendor/socket.io.min.js", lambda route: route.abort("connectionrefused"))
        open_widget(page, live_stack["web_url"])
        send_message(page, "xin chào")
        wait_for_reply(page, 0)
        page.wait_for_function(
            "() => document.getElementById('tthc-chat').__tthcChat.transport.pushState === 'unavailable'"
        )
        assert page.locator(USER_MESSAGES).count() == 1
        assert probe.errors == [] and probe.dialogs == []
    finally:
        context.close()
