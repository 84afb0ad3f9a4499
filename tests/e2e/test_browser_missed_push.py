"""A status-change notification pushed while the chat page was closed is shown when the citizen comes back, once,
with its "Hủy thông báo" button; one pushed while the page is open appears at once and is not shown again.

Headless Chromium on the real chat page (web/server.py, its Content-Security-Policy). Rasa is not needed: the
test answers its REST routes (session, webhook, ``GET /webhooks/rest/pushed`` in the shape of channels/rest.py)
and stands in for the socket.io client (``FAKE_SOCKET_IO``), emitting ``bot_uttered`` with the server timestamp
as channels/socketio_push.py does.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.fakes.browser import (
    BOT_MESSAGES,
    JOINED_JS,
    PUSH_TIMEOUT_MS,
    fulfill_json,
    new_page,
    open_pushed_conversation,
    open_widget,
    push_to_widget,
    wait_for_count,
    wait_for_widget,
)

SENDER, TOKEN = "web-3f9c2a7d0e5b4c1a9f8e7d6c5b4a3921", "token-of-the-test"
UNSUBSCRIBE = [{"title": "Hủy thông báo", "payload": "/unsubscribe_notifications"}]
LIVE = ("Hồ sơ H07.02-******-0003 (Đăng ký khai sinh) đã chuyển từ “Đã tiếp nhận” sang “Đang xử lý” lúc 09:00 "
        "ngày 24/11/2025.\nNhắn “hủy thông báo” để ngừng nhận.")
MISSED = ("Hồ sơ H07.02-******-0003 (Đăng ký khai sinh) đã chuyển từ “Đang xử lý” sang “Đã có kết quả” lúc 10:00 "
          "ngày 24/11/2025.\nNhắn “hủy thông báo” để ngừng nhận.")


class FakePushedRoute:
    """``GET /webhooks/rest/pushed``: the pushed messages of the conversation after ``after``, and the cursor."""

    def __init__(self) -> None:
        self.pushed: list[dict] = []  # {"text", "buttons", "timestamp"}, oldest first
        self.latest = 100.0  # the conversation's latest event (a REST answer)
        self.asked: list[tuple] = []  # (after, session header) of each request

    def __call__(self, route) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        after = query.get("after", [None])[0]
        self.asked.append((query["sender"][0], after, route.request.headers.get("x-chat-session")))
        cursor = max([self.latest] + [m["timestamp"] for m in self.pushed])
        missed = [] if after is None else [m for m in self.pushed if m["timestamp"] > float(after)]
        fulfill_json(route, {"messages": missed, "cursor": cursor})


def test_notification_sent_while_the_page_was_closed_is_shown_on_return(browser, chat_page_url):
    context, page, probe = new_page(browser)
    pushed = FakePushedRoute()
    try:
        context.route("**/webhooks/rest/pushed?*", pushed)
        open_pushed_conversation(context, page, chat_page_url, SENDER, TOKEN, lambda route: fulfill_json(
            route, [{"recipient_id": SENDER, "text": "Bạn cho tôi xin mã hồ sơ."}]))
        page.wait_for_function("() => localStorage.getItem('tthc_chat_push_cursor') === '100'")
        assert pushed.asked == [(SENDER, None, TOKEN)]  # the first time only the cursor is set

        # Open page: the notification arrives over the socket at once.
        live = {"text": LIVE, "quick_replies": [{"content_type": "text", **b} for b in UNSUBSCRIBE],
                "timestamp": 150.25}
        pushed.pushed.append({"text": LIVE, "buttons": UNSUBSCRIBE, "timestamp": 150.25})
        push_to_widget(page, live)
        wait_for_count(page, "sang “Đang xử lý”", 1, PUSH_TIMEOUT_MS)
        push_to_widget(page, live)  # the same one again
        page.close()

        # Page closed: the next change is pushed into the conversation, where nobody listens.
        pushed.pushed.append({"text": MISSED, "buttons": UNSUBSCRIBE, "timestamp": 200.5})
        page = context.new_page()
        open_widget(page, chat_page_url)
        wait_for_count(page, "sang “Đã có kết quả”", 1, PUSH_TIMEOUT_MS)
        assert pushed.asked[1] == (SENDER, "150.25", TOKEN)
        missed = page.locator(BOT_MESSAGES).last
        assert missed.locator(".tthc-msg__body").inner_text() == MISSED
        assert missed.get_by_role("button", name="Hủy thông báo").is_enabled()
        page.wait_for_function("() => localStorage.getItem('tthc_chat_push_cursor') === '200.5'")

        # The socket brings the same message too (it was pushed while the socket was joining): still shown once.
        push_to_widget(page, {"text": MISSED, "quick_replies": live["quick_replies"], "timestamp": 200.5})
        with page.expect_response("**/webhooks/rest/pushed?*", timeout=PUSH_TIMEOUT_MS):
            page.reload()
        wait_for_widget(page)
        page.wait_for_function(JOINED_JS, timeout=PUSH_TIMEOUT_MS)
        texts = page.locator(BOT_MESSAGES).all_inner_texts()
        assert sum("sang “Đang xử lý”" in t for t in texts) == 1
        assert sum("sang “Đã có kết quả”" in t for t in texts) == 1
        assert pushed.asked[2] == (SENDER, "200.5", TOKEN)
        assert probe.errors == [] and probe.dialogs == []
    finally:
        context.close()
