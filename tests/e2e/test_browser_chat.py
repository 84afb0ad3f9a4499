"""Browser tests of the web chat page (web/) with Playwright (sync API) and Debian's Chromium.

The ``live_stack`` fixture (tests/e2e/conftest.py) provides ``web_url`` (the page served by
web/server.py) and ``rasa_url`` (a real Rasa server with its action server).
Tests that must not depend on the bot's wording intercept the webhook with ``page.route``.
The rendering test needs no server at all: it loads web/widget.js into a blank page.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.browser import (
    BOT_MESSAGES,
    CORS_HEADERS,
    ERROR_MESSAGES,
    SCREENSHOT_DIR,
    USER_MESSAGES,
    WEBHOOK_GLOB,
    XSS_PAYLOAD,
    ask,
    fulfill_json,
    new_page,
    send_message,
    wait_for_reply,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CHAT_JS = REPO_ROOT / "web" / "widget.js"
ERROR_TEXT = (
    "Xin lỗi, hiện không kết nối được với trợ lý. Bạn vui lòng thử lại sau ít phút hoặc gọi tổng đài 18001096 "
    "để được hỗ trợ."
)


@pytest.fixture
def desktop(browser):
    """A fresh desktop-sized page (own context, so fresh localStorage/sessionStorage)."""
    context, page, probe = new_page(browser)
    yield page, probe
    context.close()


def test_chat_with_live_bot_answers_greeting_and_birth_registration(live_stack, desktop):
    page, probe = desktop
    page.goto(live_stack["web_url"])
    panel = page.get_by_role("dialog", name="Trợ lý ảo Dịch vụ công")
    panel.wait_for(state="visible")
    assert page.evaluate("window.TTHC_CHAT_CONFIG.rasaUrl") == live_stack["rasa_url"].rstrip("/")
    # The hotline of the error messages comes from the server (SUPPORT_HOTLINE), as does the page footer's.
    assert page.evaluate("window.TTHC_CHAT_CONFIG.hotline") == "18001096"
    assert page.locator("[data-hotline-number]").inner_text() == "18001096"

    before = ask(page, "xin chào")
    assert page.locator(USER_MESSAGES).last.locator(".tthc-msg__body").inner_text() == "xin chào"
    assert page.locator(BOT_MESSAGES).nth(before).locator(".tthc-msg__body").inner_text().strip() != ""

    ask(page, "làm giấy khai sinh cần giấy tờ gì", needle="khai sinh")
    page.locator(".tthc-chat__typing").wait_for(state="hidden")

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / "chat.png"))

    assert [b["message"] for b in probe.webhook_bodies] == ["xin chào", "làm giấy khai sinh cần giấy tờ gì"]
    senders = {b["sender"] for b in probe.webhook_bodies}
    assert len(senders) == 1
    assert senders == {page.evaluate("localStorage.getItem('tthc_chat_sender_id')")}
    assert all(b["metadata"] == {"channel": "web"} for b in probe.webhook_bodies)

    # The conversation survives a reload (localStorage).
    shown = page.locator(".tthc-chat__log").inner_text()
    page.reload()
    panel.wait_for(state="visible")
    assert page.locator(".tthc-chat__log").inner_text() == shown
    assert probe.errors == []
    assert probe.console_errors == []  # e.g. CSP or CORS violations
    assert probe.dialogs == []



RENDER_CASES = [
    pytest.param(
        "Hồ sơ H07.02-******-0003 và H29.22-******-0087, mã phản ánh **PA-251127-0042**",
        '<div class="tthc-msg__body"><p>Hồ sơ H07.02-******-0003 và H29.22-******-0087, mã phản ánh '
        '<strong>PA-251127-0042</strong></p></div>',
        id="masked-codes-are-not-bold-markup",
    ),
    pytest.param(
        XSS_PAYLOAD,
        '<div class="tthc-msg__body"><p>&lt;img src=x onerror=alert(1)&gt;</p></div>',
        id="img-onerror",
    ),
    pytest.param(
        "<script>alert(2)</script>Xin chào",
        '<div class="tthc-msg__body"><p>&lt;script&gt;alert(2)&lt;/script&gt;Xin chào</p></div>',
        id="script-tag",
    ),
    pytest.param(
        "[Bấm vào đây](javascript:alert(3))",
        '<div class="tthc-msg__body"><p>[Bấm vào đây](javascript:alert(3))</p></div>',
        id="javascript-link-stays-text",
    ),
    pytest.param(
        '**Hồ sơ** gồm:\n- Tờ khai đăng ký khai sinh\n• Giấy chứng sinh\nXem https://dichvucong.gov.vn/p/home.',
        '<div class="tthc-msg__body"><p><strong>Hồ sơ</strong> gồm:</p>'
        "<ul><li>Tờ khai đăng ký khai sinh</li><li>Giấy chứng sinh</li></ul>"
        '<p>Xem <a href="https://dichvucong.gov.vn/p/home" target="_blank" rel="noopener noreferrer">'
        "https://dichvucong.gov.vn/p/home</a>.</p></div>",
        id="bold-bullets-bare-url",
    ),
    pytest.param(
        'Nộp tại [Cổng Dịch vụ công](https://dichvucong.gov.vn/"onmouseover="alert)\nLệ phí: 8.000 đồng',
        '<div class="tthc-msg__body"><p>Nộp tại <a href="https://dichvucong.gov.vn/%22onmouseover=%22alert"'
        ' target="_blank" rel="noopener noreferrer">Cổng Dịch vụ công</a><br>Lệ phí: 8.000 đồng</p></div>',
        id="markdown-link-quote-is-encoded",
    ),
]


@pytest.mark.parametrize(("text", "expected_html"), RENDER_CASES)
def test_render_text_builds_safe_dom(browser, text, expected_html):
    """Pure DOM check of TTHCChat.renderText: markup in messages is shown as text, never executed."""
    context, page, probe = new_page(browser)
    try:
        page.set_content('<!doctype html><html lang="vi"><body><div id="out"></div></body></html>')
        page.add_script_tag(path=str(CHAT_JS))
        html = page.evaluate(
            """(text) => {
                const out = document.getElementById("out");
                out.appendChild(window.TTHCChat.renderText(text));
                return out.innerHTML;
            }""",
            text,
        )
        assert html == expected_html
        # Give a would-be onerror handler time to fire.
        page.wait_for_timeout(300)
        assert page.locator("#out img, #out script").count() == 0
        assert probe.dialogs == []
        assert probe.errors == []
    finally:
        context.close()


def test_bot_markup_and_buttons_render_safely(live_stack, desktop):
    """A bot reply carrying HTML is shown as text; clicking a button sends its payload once."""
    page, probe = desktop
    replies = iter(
        [
            [
                {
                    "recipient_id": "x",
                    "text": XSS_PAYLOAD,
                    "buttons": [
                        {"title": "Khai sinh trong nước", "payload": '/chon_thu_tuc{"loai":"trong_nuoc"}'},
                        {"title": "Có yếu tố nước ngoài", "payload": '/chon_thu_tuc{"loai":"nuoc_ngoai"}'},
                    ],
                }
            ],
            [{"recipient_id": "x", "text": "Bạn đã chọn **khai sinh trong nước**."}],
        ]
    )
    page.route(WEBHOOK_GLOB, lambda route: fulfill_json(route, next(replies)))
    page.goto(live_stack["web_url"])

    send_message(page, "khai sinh")
    wait_for_reply(page, 0)
    first = page.locator(BOT_MESSAGES).first
    assert first.locator(".tthc-msg__body").inner_text() == XSS_PAYLOAD
    assert first.locator("img").count() == 0

    first.get_by_role("button", name="Khai sinh trong nước").click()
    wait_for_reply(page, 1)
    assert page.locator(USER_MESSAGES).last.locator(".tthc-msg__body").inner_text() == "Khai sinh trong nước"
    assert probe.webhook_bodies[-1]["message"] == '/chon_thu_tuc{"loai":"trong_nuoc"}'
    assert first.get_by_role("button").evaluate_all("bs => bs.map(b => b.disabled)") == [True, True]
    assert page.locator(BOT_MESSAGES).nth(1).locator("strong").inner_text() == "khai sinh trong nước"
    page.wait_for_timeout(300)
    assert probe.dialogs == []
    assert len(probe.webhook_bodies) == 2


@pytest.mark.parametrize("failure", ["http-503", "connection-refused"])
def test_unreachable_server_shows_error_and_keeps_text(live_stack, desktop, failure):
    page, probe = desktop
    state = {"fail": True}

    def handle(route):
        if not state["fail"]:
            answer = "Đăng ký kết hôn cần tờ khai và giấy tờ tùy thân."
            fulfill_json(route, [{"recipient_id": "x", "text": answer}])
        elif failure == "http-503":
            route.fulfill(status=503, headers=CORS_HEADERS, body="Service Unavailable")
        else:
            route.abort("connectionrefused")

    page.route(WEBHOOK_GLOB, handle)
    # No automatic reconnection here (default: 3 minutes of retries); test_browser_widget.py covers it.
    page.add_init_script("window.TTHC_CHAT_OPTIONS = {retryTotalMs: 0};")
    page.goto(live_stack["web_url"])
    question = "Thủ tục đăng ký kết hôn cần những gì?"
    send_message(page, question)

    error = page.locator(ERROR_MESSAGES)
    error.wait_for(state="visible")
    assert error.locator(".tthc-msg__body").inner_text() == ERROR_TEXT
    assert page.get_by_label("Nhập câu hỏi của bạn").input_value() == question

    state["fail"] = False
    error.get_by_role("button", name="Gửi lại").click()
    wait_for_reply(page, 0)
    assert page.locator(ERROR_MESSAGES).count() == 0
    assert page.get_by_label("Nhập câu hỏi của bạn").input_value() == ""
    assert page.locator(USER_MESSAGES).count() == 1
    assert [b["message"] for b in probe.webhook_bodies] == [question, question]
    assert probe.errors == []


def test_overlong_message_is_not_sent(live_stack, desktop):
    page, probe = desktop
    page.route(WEBHOOK_GLOB, lambda route: fulfill_json(route, [{"text": "không được gọi"}]))
    page.goto(live_stack["web_url"])
    long_text = "Tôi muốn hỏi về thủ tục khai sinh. " * 30  # 1,050 characters
    box = page.get_by_label("Nhập câu hỏi của bạn")
    box.fill(long_text)
    box.press("Enter")
    note = page.locator("#tthc-chat-note")
    assert "vượt quá giới hạn 1.000 ký tự" in note.inner_text()
    assert box.input_value() == long_text
    assert page.locator(USER_MESSAGES).count() == 0
    assert probe.webhook_bodies == []


def test_phone_width_layout_and_keyboard(live_stack, browser):
    """At 360 px the open panel fills the screen without horizontal scrolling; Esc/Enter toggle it."""
    context, page, probe = new_page(browser, width=360, height=740)
    try:
        page.route(WEBHOOK_GLOB, lambda route: fulfill_json(route, [{"text": "Xin chào bạn!"}]))
        page.goto(live_stack["web_url"])
        panel = page.get_by_role("dialog", name="Trợ lý ảo Dịch vụ công")
        panel.wait_for(state="visible")
        box = panel.bounding_box()
        assert box is not None
        assert (box["x"], box["width"]) == (0, 360)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360

        send_message(page, "xin chào")
        wait_for_reply(page, 0)
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "chat-mobile.png"))

        page.keyboard.press("Escape")
        launcher = page.get_by_role("button", name="Mở Trợ lý ảo Dịch vụ công")
        launcher.wait_for(state="visible")
        assert panel.is_hidden()
        assert launcher.evaluate("el => el === document.activeElement")
        page.keyboard.press("Enter")
        panel.wait_for(state="visible")
        assert page.evaluate("document.activeElement.id") == "tthc-chat-input"
        assert probe.errors == []
        assert probe.console_errors == []
    finally:
        context.close()
