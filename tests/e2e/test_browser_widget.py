"""Browser tests of the embeddable widget (web/widget.js) in headless Chromium.

A third-party "portal" page embeds the widget with ONE <script> tag pointing at the stack's web server; the widget
must add its stylesheet and container itself. The portal is a real HTTP server on its own loopback port (another
origin than the stack's web server), started by the ``portal_server`` fixture.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.fakes.browser import (
    BOT_MESSAGES,
    BOT_REPLY_TIMEOUT_MS,
    CORS_HEADERS,
    SCREENSHOT_DIR,
    USER_MESSAGES,
    WEBHOOK_GLOB,
    XSS_PAYLOAD,
    ask,
    bot_count,
    fulfill_json,
    new_page,
    open_widget,
    send_message,
    wait_for_reply,
)

PORTAL_HTML = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cổng thông tin điện tử tỉnh</title></head>
<body><h1>Cổng thông tin điện tử tỉnh</h1><p>Trang của một cổng thông tin bất kỳ.</p>
<script src="{web_url}widget.js" data-rasa-url="{rasa_url}" data-open-by-default="true" defer></script>
</body></html>"""


@pytest.fixture(scope="module")
def portal_server(live_stack):
    """A stand-in provincial portal on its own loopback port; its page embeds the widget with one tag."""
    html = PORTAL_HTML.format(web_url=live_stack["web_url"], rasa_url=live_stack["rasa_url"]).encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

    server = ThreadingHTTPServer(("127.0.0.1", live_stack["portal_port"]), Handler)  # an allowed CORS origin
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/thu-tuc-hanh-chinh.html"
    server.shutdown()
    server.server_close()


def open_portal(browser, portal_url, width=1280, height=800, options=None):
    """A fresh context on the portal page, which embeds the widget with one script tag."""
    context, page, probe = new_page(browser, width, height)
    if options:
        context.add_init_script(f"window.TTHC_CHAT_OPTIONS = {json.dumps(options)};")
    open_widget(page, portal_url)
    return context, page, probe


RICH_REPLY = [
    {
        "text": "**Hồ sơ** gồm:\n- Tờ khai đăng ký khai sinh\n- Giấy chứng sinh\n"
        "Nộp trực tuyến tại [Cổng Dịch vụ công](https://dichvucong.gov.vn/p/home).",
        "buttons": [
            {"title": "Lệ phí", "payload": "/ask_fee"},
            {"title": "Thời hạn giải quyết", "payload": "/ask_duration"},
        ],
    }
]


def test_one_script_tag_embeds_a_working_widget_with_buttons_links_and_lists(browser, live_stack, portal_server):
    context, page, probe = open_portal(browser, portal_server)
    try:
        replies = iter([RICH_REPLY, [{"text": "Lệ phí: miễn phí."}]])
        page.route(WEBHOOK_GLOB, lambda route: fulfill_json(route, next(replies)))
        assert page.locator("#tthc-chat").count() == 1  # the widget created its container
        css = page.locator("link[data-tthc-chat-css]")
        assert css.get_attribute("href") == live_stack["web_url"] + "chat.css"
        # The injected stylesheet applies: the widget floats over the portal page.
        page.wait_for_function("getComputedStyle(document.getElementById('tthc-chat')).position === 'fixed'")

        send_message(page, "khai sinh cần gì")
        page.locator(".tthc-chat__typing").wait_for(state="hidden")
        wait_for_reply(page, 0)
        bot = page.locator(BOT_MESSAGES).first
        assert bot.locator("ul li").all_inner_texts() == ["Tờ khai đăng ký khai sinh", "Giấy chứng sinh"]
        link = bot.get_by_role("link", name="Cổng Dịch vụ công")
        assert link.get_attribute("href") == "https://dichvucong.gov.vn/p/home"
        assert link.get_attribute("rel") == "noopener noreferrer"
        bot.get_by_role("button", name="Lệ phí").click()
        wait_for_reply(page, 1)
        assert probe.webhook_bodies[-1]["message"] == "/ask_fee"
        assert page.locator(USER_MESSAGES).last.inner_text().endswith("Lệ phí")
        assert probe.errors == [] and probe.dialogs == []
    finally:
        context.close()


def test_typing_indicator_says_dang_tra_loi(browser, live_stack, portal_server):
    context, page, _ = open_portal(browser, portal_server)
    try:
        held = []
        page.route(WEBHOOK_GLOB, lambda route: held.append(route))
        send_message(page, "xin chào")
        typing = page.locator(".tthc-chat__typing")
        typing.wait_for(state="visible")
        assert "đang trả lời…" in typing.inner_text()
        assert typing.get_attribute("role") == "status"
        page.wait_for_timeout(200)
        held[0].fulfill(status=200, headers=CORS_HEADERS, content_type="application/json",
                        body=json.dumps([{"text": "Xin chào bạn!"}]))
        typing.wait_for(state="hidden")
    finally:
        context.close()


def test_history_and_sender_survive_reload_and_new_tab(browser, live_stack, portal_server):
    context, page, probe = open_portal(browser, portal_server)
    try:
        page.route(WEBHOOK_GLOB, lambda route: fulfill_json(route, [{"text": "Đăng ký kết hôn cần tờ khai."}]))
        send_message(page, "đăng ký kết hôn")
        wait_for_reply(page, 0)
        shown = page.locator(".tthc-chat__log").inner_text()
        sender = page.evaluate("localStorage.getItem('tthc_chat_sender_id')")
        page.reload()
        page.get_by_role("dialog", name="Trợ lý ảo Dịch vụ công").wait_for(state="visible")
        assert page.locator(".tthc-chat__log").inner_text() == shown
        other = context.new_page()  # a second tab of the same portal
        other.goto(portal_server)
        other.locator(".tthc-chat__launcher, .tthc-chat__panel").first.wait_for(state="attached")
        assert other.locator(".tthc-chat__log").inner_text() == shown
        page.route(WEBHOOK_GLOB, lambda route: fulfill_json(route, [{"text": "Lệ phí 0 đồng."}]))
        send_message(page, "lệ phí")
        wait_for_reply(page, 1)
        assert {b["sender"] for b in probe.webhook_bodies} == {sender}
    finally:
        context.close()


def test_user_typed_markup_is_rendered_as_text(browser, live_stack, portal_server):
    context, page, probe = open_portal(browser, portal_server)
    try:
        page.route(WEBHOOK_GLOB, lambda route: fulfill_json(route, [{"text": XSS_PAYLOAD}]))
        send_message(page, XSS_PAYLOAD)
        wait_for_reply(page, 0)
        assert page.locator(USER_MESSAGES).last.locator(".tthc-msg__body").inner_text() == XSS_PAYLOAD
        assert page.locator(BOT_MESSAGES).last.locator(".tthc-msg__body").inner_text() == XSS_PAYLOAD
        page.wait_for_timeout(300)
        assert page.locator("#tthc-chat img").count() == 0
        assert probe.dialogs == [] and probe.errors == []
        page.reload()  # restored history is rendered safely too
        page.wait_for_timeout(300)
        assert page.locator("#tthc-chat img").count() == 0 and probe.dialogs == []
    finally:
        context.close()


def test_phone_viewport_keyboard_and_accessibility(browser, live_stack, portal_server):
    context, page, probe = open_portal(browser, portal_server, width=360, height=740)
    try:
        page.route(WEBHOOK_GLOB, lambda route: fulfill_json(route, RICH_REPLY))
        panel = page.get_by_role("dialog", name="Trợ lý ảo Dịch vụ công")
        box = panel.bounding_box()
        assert box is not None and (box["x"], box["width"]) == (0, 360)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        log = page.get_by_role("log", name="Nội dung trò chuyện")
        assert log.get_attribute("aria-live") == "polite"
        assert page.get_by_label("Nhập câu hỏi của bạn").is_visible()
        send_message(page, "khai sinh")
        wait_for_reply(page, 0)
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "widget-phone.png"))
        # Every control is reachable and named: Tab through the panel from the input.
        names = page.evaluate(
            """() => Array.from(document.querySelectorAll('#tthc-chat-panel button, #tthc-chat-panel textarea'))
                 .filter(e => !e.disabled && e.offsetParent !== null)
                 .map(e => e.getAttribute('aria-label') || (e.labels && e.labels.length ? e.labels[0].textContent.trim()
                      : e.textContent.trim()))"""
        )
        assert all(names) and "Gửi câu hỏi" in names and "Lệ phí" in names
        page.keyboard.press("Escape")
        launcher = page.get_by_role("button", name="Mở Trợ lý ảo Dịch vụ công")
        launcher.wait_for(state="visible")
        page.keyboard.press("Enter")
        panel.wait_for(state="visible")
        assert probe.errors == []
    finally:
        context.close()


def test_rasa_restart_shows_reconnecting_then_answers(browser, stack, portal_server):
    """The real Rasa server goes down; the widget retries with backoff, tells the user, then gets the answer."""
    context, page, probe = open_portal(browser, portal_server, options={"retryBaseMs": 500, "retryMaxDelayMs": 3000,
                                                               "retryTotalMs": 420000})
    try:
        ask(page, "xin chào")
        rasa_cmd = list(stack.procs["rasa"].args)
        stack.stop("rasa")
        before = bot_count(page)
        send_message(page, "làm giấy khai sinh cần giấy tờ gì")
        conn = page.locator(".tthc-chat__conn")
        conn.wait_for(state="visible")
        assert "Đang thử kết nối lại" in conn.inner_text()
        page.wait_for_function(
            "() => /lần [2-9]/.test(document.querySelector('.tthc-chat__conn').textContent)", timeout=20000
        )
        stack.restart_rasa(rasa_cmd)
        wait_for_reply(page, before, needle="khai sinh")
        page.wait_for_function(
            "() => document.querySelector('.tthc-chat__conn').textContent.includes('Đã kết nối lại')",
            timeout=BOT_REPLY_TIMEOUT_MS,
        )
        assert page.locator(".tthc-msg--error").count() == 0
        assert page.locator(USER_MESSAGES).count() == 2  # the question was not duplicated on screen
        assert probe.errors == []
    finally:
        context.close()
