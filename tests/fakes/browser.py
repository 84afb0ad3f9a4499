"""Headless Chromium for the browser tests (Playwright, sync API): the module-scoped ``browser`` fixture, a page
probe, and the chat widget's selectors and actions."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from playwright import sync_api  # installed by make setup: a missing one must fail, not skip

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "reports" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The first real answer may wait for the action server to load its models lazily.
BOT_REPLY_TIMEOUT_MS = 120_000
WEBHOOK_GLOB = "**/webhooks/rest/webhook"
# Messages that came from the server (the welcome and error bubbles are marked --local).
BOT_MESSAGES = ".tthc-msg--bot:not(.tthc-msg--local)"
USER_MESSAGES = ".tthc-msg--user"
ERROR_MESSAGES = ".tthc-msg--error"
CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}

# Resolves once a new server message (optionally containing `needle`) or an error bubble is shown.
WAIT_FOR_REPLY_JS = """
({bot, error, before, needle}) => {
  if (document.querySelector(error)) return "error";
  const fresh = Array.from(document.querySelectorAll(bot)).slice(before);
  if (!fresh.length) return false;
  if (!needle) return "ok";
  return fresh.some((m) => m.textContent.toLowerCase().includes(needle)) ? "ok" : false;
}
"""


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not installed (make setup installs it: apt-get install -y chromium)")
    with sync_api.sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


class PageProbe:
    """Collects JS errors, dialogs (alert() would mean script injection) and webhook requests."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        self.console_errors: list[str] = []
        self.dialogs: list[str] = []
        self.webhook_bodies: list[dict] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: msg.type == "error" and self.console_errors.append(msg.text))
        page.on("dialog", self._on_dialog)
        page.on("request", self._on_request)

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _on_request(self, request) -> None:
        if request.method == "POST" and request.url.endswith("/webhooks/rest/webhook"):
            self.webhook_bodies.append(json.loads(request.post_data or "{}"))


def new_page(browser, width: int = 1280, height: int = 800):
    """A fresh context (own storage) and page of the given size, with its probe."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="vi-VN")
    page = context.new_page()
    return context, page, PageProbe(page)


def send_message(page, text: str) -> None:
    """Type ``text`` into the widget's input and press Enter."""
    box = page.get_by_label("Nhập câu hỏi của bạn")
    box.fill(text)
    box.press("Enter")


def wait_for_reply(page, before: int, needle: str | None = None) -> None:
    """Wait for a server message after the first ``before`` (containing ``needle`` if given); fail on the error
    bubble."""
    result = page.wait_for_function(
        WAIT_FOR_REPLY_JS,
        arg={"bot": BOT_MESSAGES, "error": ERROR_MESSAGES, "before": before, "needle": needle},
        timeout=BOT_REPLY_TIMEOUT_MS,
    ).json_value()
    assert result == "ok", "the chat page showed its connection error instead of a bot reply"


def bot_count(page) -> int:
    """How many server messages the page shows."""
    return page.locator(BOT_MESSAGES).count()


def ask(page, text: str, needle: str | None = None) -> int:
    """Send ``text`` and wait for the reply (containing ``needle`` if given); the server messages shown before."""
    before = bot_count(page)
    send_message(page, text)
    wait_for_reply(page, before, needle=needle)
    return before


def tap_reply_button(page, name: str, needle: str | None = None) -> None:
    """Tap the button ``name`` of the last server message and wait for the reply (containing ``needle``)."""
    before = bot_count(page)
    page.locator(BOT_MESSAGES).last.get_by_role("button", name=name).click()
    wait_for_reply(page, before, needle=needle)


WIDGET_DIALOG = "Trợ lý ảo Dịch vụ công"


def wait_for_widget(page) -> None:
    """Wait until the widget's chat dialog is visible."""
    page.get_by_role("dialog", name=WIDGET_DIALOG).wait_for(state="visible")


def open_widget(page, url: str) -> None:
    """Open the page at ``url`` and wait for the widget's chat dialog."""
    page.goto(url)
    wait_for_widget(page)


def fulfill_json(route, payload, status: int = 200) -> None:
    """Answer an intercepted request with ``payload`` as JSON (CORS allowed)."""
    route.fulfill(
        status=status,
        headers=CORS_HEADERS,
        content_type="application/json",
        body=json.dumps(payload, ensure_ascii=False),
    )


XSS_PAYLOAD = "<img src=x onerror=alert(1)>"

# The widget's officer push (socket.io): joined, a handoff accepted, pushed messages counted.
PUSH_TIMEOUT_MS = 5_000  # "within a few seconds"
TICKET_RE = re.compile(r"HT-\d{6}-\d{4}")
JOINED_JS = "() => document.getElementById('tthc-chat').__tthcChat.transport.pushState === 'joined'"
COUNT_JS = """
({bot, needle}) => Array.from(document.querySelectorAll(bot)).filter((m) => m.textContent.includes(needle)).length
"""


def wait_for_count(page, needle: str, count: int, timeout_ms: int) -> None:
    """Wait until at least ``count`` server messages contain ``needle``."""
    page.wait_for_function(f"(arg) => ({COUNT_JS})(arg) >= {count}", arg={"bot": BOT_MESSAGES, "needle": needle},
                           timeout=timeout_ms)


def hand_off(page) -> str:
    """Ask for an officer in the widget, accept with the button; return the ticket id the bot announced."""
    ask(page, "Tôi muốn gặp cán bộ", needle="bạn có muốn chuyển không")
    tap_reply_button(page, "Có, gặp cán bộ", needle="mã yêu cầu")
    match = TICKET_RE.search(page.locator(BOT_MESSAGES).last.inner_text())
    assert match, page.locator(BOT_MESSAGES).last.inner_text()
    return match.group(0)


def console_login(page, base: str, name: str, password: str) -> None:
    """Log in through the help-desk console's login page and wait for the search view."""
    page.goto(base + "/")
    page.locator("#login-name").fill(name)
    page.locator("#login-password").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.locator("#search-view").wait_for(state="visible")


def console_switch_user(page, base: str, name: str, password: str) -> None:
    """Log the console's current user out, wait for the login page, and log in as ``name``."""
    page.locator("#logout").click()
    page.locator("#login-view").wait_for(state="visible")
    console_login(page, base, name, password)


# A stand-in for the socket.io client (``window.io``, which the widget uses when a page provides it): records what
# the widget emits, confirms its room for the sender id it presents, and lets a test fire server events with
# ``window.__socket.fire(name, data)``. Add it with ``context.add_init_script(FAKE_SOCKET_IO)``.
FAKE_SOCKET_IO = """
window.__socket = {handlers: {}, emitted: []};
window.__socket.fire = function (name, data) {
  (window.__socket.handlers[name] || []).forEach(function (handler) { handler(data); });
};
window.io = function (origin, options) {
  var socket = {
    io: {opts: options},
    on: function (name, handler) {
      (window.__socket.handlers[name] = window.__socket.handlers[name] || []).push(handler);
      return socket;
    },
    emit: function (name, data) {
      window.__socket.emitted.push([name, data]);
      if (name === "session_request") {
        setTimeout(function () { window.__socket.fire("session_confirm", data.session_id); }, 0);
      }
      return socket;
    },
    disconnect: function () { return socket; },
    connect: function () { return socket; }
  };
  setTimeout(function () { window.__socket.fire("connect"); }, 0);
  return socket;
};
"""


def open_pushed_conversation(context, page, url: str, sender: str, token: str, webhook) -> None:
    """Open the widget at ``url`` in ``page`` of ``context`` with :data:`FAKE_SOCKET_IO`, the session ``sender`` /
    ``token`` issued to it and the REST webhook answered by ``webhook`` (a route handler; its first answer must say
    "mã hồ sơ"); ask about an application and wait until the socket joined the conversation's room."""
    context.add_init_script(FAKE_SOCKET_IO)
    context.route("**/webhooks/rest/session",
                  lambda route: fulfill_json(route, {"sender": sender, "session_token": token}))
    context.route(WEBHOOK_GLOB, webhook)
    open_widget(page, url)
    ask(page, "tra cứu hồ sơ", needle="mã hồ sơ")
    page.wait_for_function(JOINED_JS, timeout=PUSH_TIMEOUT_MS)


def push_to_widget(page, message: dict) -> None:
    """Deliver ``message`` to the widget as the server's ``bot_uttered`` event, through :data:`FAKE_SOCKET_IO`."""
    page.evaluate("(message) => window.__socket.fire('bot_uttered', message)", message)


@pytest.fixture
def chat_page_url():
    """The chat page served by web/server.py on loopback; its Rasa URL is never reached (tests answer its routes)."""
    from http.server import ThreadingHTTPServer
    from threading import Thread

    from web.server import DEFAULT_WEB_ROOT, make_handler

    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(DEFAULT_WEB_ROOT, rasa_url="http://127.0.0.1:9",
                                                                quiet=True))
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
