"""A pushed bot message with buttons (a status-change notification's "Hủy thông báo") renders as buttons in the web
widget, and a tap sends the button's payload over REST.

Headless Chromium on the real chat page (web/, its own server and Content-Security-Policy). Rasa is not needed: its
two REST routes are answered by the test, and the socket.io client is a stand-in ``window.io`` that the widget
uses as it would use the vendored one; the test emits ``bot_uttered`` in the shape of Rasa's ``SocketIOOutput``
(buttons as ``quick_replies``).
"""

from __future__ import annotations

import json
from datetime import datetime

from core.db import VN_TZ
from core.notifications.text import StatusChange, notification_text
from tests.fakes.browser import (
    BOT_MESSAGES,
    PUSH_TIMEOUT_MS,
    bot_count,
    fulfill_json,
    new_page,
    open_pushed_conversation,
    push_to_widget,
    wait_for_count,
)

SENDER, TOKEN = "web-3f9c2a", "token-of-the-test"


def test_pushed_notification_buttons_render_and_send_their_payload(browser, chat_page_url):
    context, page, probe = new_page(browser)

    def webhook(route):
        body = json.loads(route.request.post_data or "{}")
        reply = ("Tôi đã hủy 1 đăng ký nhận thông báo của bạn." if body.get("message") == "/unsubscribe_notifications"
                 else "Bạn cho tôi xin mã hồ sơ.")
        fulfill_json(route, [{"recipient_id": SENDER, "text": reply}])

    try:
        open_pushed_conversation(context, page, chat_page_url, SENDER, TOKEN, webhook)
        assert ["session_request", {"session_id": SENDER, "session_token": TOKEN}] in page.evaluate(
            "window.__socket.emitted")

        change = StatusChange(code="H07.02-251120-0003", new_status="Đã có kết quả", old_status="Đang xử lý",
                              at=datetime(2025, 11, 27, 10, 0, tzinfo=VN_TZ), agency="UBND phường Võ Cường",
                              procedure_name="Đăng ký khai sinh")
        text = notification_text(change, "1900 1234")
        push_to_widget(page, {
            "text": text,
            "quick_replies": [{"content_type": "text", "title": "Hủy thông báo",
                               "payload": "/unsubscribe_notifications"}],
        })
        wait_for_count(page, "đã chuyển từ", 1, PUSH_TIMEOUT_MS)
        pushed = page.locator(BOT_MESSAGES).nth(bot_count(page) - 1)
        assert "H07.02-******-0003" in pushed.inner_text() and "251120" not in pushed.inner_text()
        button = pushed.get_by_role("button", name="Hủy thông báo")
        assert button.is_enabled()

        button.click()
        wait_for_count(page, "Tôi đã hủy 1 đăng ký", 1, PUSH_TIMEOUT_MS)
        last = probe.webhook_bodies[-1]
        assert (last["sender"], last["message"]) == (SENDER, "/unsubscribe_notifications")
        assert button.is_disabled()  # one tap per button
        assert probe.dialogs == [] and probe.errors == []
    finally:
        context.close()
