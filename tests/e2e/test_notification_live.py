"""Issue 17's "done means", live: a citizen subscribes in the web widget, an officer changes the status in the
console, and the notification arrives in the citizen's open widget within seconds.

Everything is real: the stack's Rasa server (trained model) and action server, the chat page in headless Chromium,
the console (``python -m console``) and the delivery worker (``python -m notifier worker``, as scripts/run.sh
starts it: the services database, RASA_URL and RASA_API_TOKEN). The worker pushes through Rasa's tracker events API
and socket.io channel; nothing is faked. Its 21:00-7:00 quiet hours are off (NOTIFY_QUIET_HOURS=0, settings.py) so
the test does not depend on the time of day it runs at.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.appcode import mask_code
from core.db import Database
from core.notifications.subscriptions import Subscriptions
from core.notifications.text import UNSUBSCRIBE_HINT
from core.status.models import PROCESSING, RESULT_READY
from tests.e2e.conftest import CONSOLE_PASSWORD, ROOT, console_env
from tests.fakes.browser import (
    BOT_MESSAGES,
    JOINED_JS,
    PUSH_TIMEOUT_MS,
    SCREENSHOT_DIR,
    console_login,
    new_page,
    open_widget,
    send_message,
    tap_reply_button,
    wait_for_reply,
)

NOTIFY_TIMEOUT_MS = 30_000  # generous: the worker polls every 2 s
WORKER_START_S = 60
PICKUP = "Bộ phận Một cửa UBND huyện Tiên Du"
# Set on the citizen's page before the officer saves: when the notification's bubble appears (Date.now()).
WATCH_JS = """
({bot, needle}) => {
  window.__notifiedAt = null;
  const seen = () => Array.from(document.querySelectorAll(bot)).some((m) => m.textContent.includes(needle));
  new MutationObserver((_, observer) => {
    if (seen()) { window.__notifiedAt = Date.now(); observer.disconnect(); }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}
"""


def wait_for_log(log: Path, text: str, proc: subprocess.Popen, seconds: float) -> None:
    """Return once ``log`` contains ``text``; fail with the log when ``proc`` exits or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while text not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{proc.args} did not log {text!r} (log {log}):\n" + log.read_text(errors="replace")[-3000:])
        time.sleep(0.1)


@pytest.fixture(scope="module")
def worker(stack):
    """``python -m notifier worker`` on the stack's services database and Rasa server; its log path."""
    env = {**console_env(stack), "NOTIFY_QUIET_HOURS": "0"}
    log = stack.workdir / "notifier.log"
    proc = subprocess.Popen([sys.executable, "-m", "notifier", "worker"], cwd=ROOT, env=env,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    stack.procs["notifier"] = proc
    wait_for_log(log, "notification worker", proc, WORKER_START_S)
    yield proc
    stack.stop("notifier")


@pytest.fixture(scope="module")
def application(stack, seeded):
    """(code, last 4 phone digits) of a seeded application being processed that no other e2e test looks up."""
    from scripts.seed_demo import demo_pairs

    pairs = [(code, last4) for code, last4, status in demo_pairs(Database(str(stack.services_db)), per_status=3)
             if status == PROCESSING]
    assert len(pairs) == 3, pairs
    return pairs[-1]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_a_status_change_in_the_console_reaches_the_open_widget(browser, live_stack, live_console, worker,
                                                                 application, stack):
    code, last4 = application
    masked = mask_code(code)
    db = Database(str(stack.services_db))
    citizen_ctx, citizen, probe = new_page(browser)
    staff_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    officer = staff_ctx.new_page()
    try:
        # 1. The citizen looks the application up, accepts the offer and is subscribed.
        open_widget(citizen, live_stack["web_url"])
        send_message(citizen, f"tra cứu hồ sơ {code}")
        wait_for_reply(citizen, 0)
        before = citizen.locator(BOT_MESSAGES).count()
        send_message(citizen, last4)
        wait_for_reply(citizen, before, needle="nhận thông báo khi hồ sơ có thay đổi?")
        answer = citizen.locator(BOT_MESSAGES).nth(before).inner_text()
        assert PROCESSING in answer, answer
        offer = citizen.locator(BOT_MESSAGES).last
        assert offer.locator(".tthc-msg__body").inner_text() == (
            "Nhận thông báo khi hồ sơ có thay đổi? Nếu bạn đồng ý, tôi sẽ nhắn cho bạn ngay tại đây mỗi khi hồ sơ "
            f"{masked} chuyển bước hoặc có kết quả.")
        assert offer.get_by_role("button").all_inner_texts() == ["Có", "Không"]
        tap_reply_button(citizen, "Có", needle="đã đăng ký!")
        assert citizen.locator(BOT_MESSAGES).last.locator(".tthc-msg__body").inner_text() == (
            f"Đã đăng ký! Tôi sẽ nhắn cho bạn tại đây khi hồ sơ {masked} có thay đổi (thay đổi trong khoảng 21 giờ "
            "tối đến 7 giờ sáng được báo lúc 7 giờ). Muốn dừng, bạn nhắn “hủy thông báo” bất cứ lúc nào.")
        sender = citizen.evaluate("localStorage.getItem('tthc_chat_sender_id')")
        assert [(s.channel, s.sender_id) for s in Subscriptions(db).for_code(code)] == [("rest", sender)]
        citizen.wait_for_function(JOINED_JS, timeout=PUSH_TIMEOUT_MS)  # the open widget listens on socket.io

        # 2. The officer changes the status in the console's form.
        console_login(officer, live_console, "truc-ban", CONSOLE_PASSWORD)
        officer.locator("#tab-status").click()
        officer.locator("#status-code").fill(code)
        officer.get_by_role("button", name="Tra cứu", exact=True).click()
        officer.locator("#app-title", has_text=f"{code} — {PROCESSING}").wait_for()
        officer.locator("#app-new-status").select_option(RESULT_READY)
        officer.get_by_label("Ghi chú (không bắt buộc, ghi vào quá trình xử lý)").fill("Đã ký, chờ công dân đến nhận")
        officer.get_by_label("Nơi nhận kết quả (khi đã có kết quả; bỏ trống để giữ nơi đã ghi)").fill(PICKUP)
        citizen.evaluate(WATCH_JS, {"bot": BOT_MESSAGES, "needle": f"sang “{RESULT_READY}”"})
        saved_at = time.time()
        officer.get_by_role("button", name="Lưu trạng thái mới").click()
        officer.locator("#message:not(.cs-error)", has_text="Đã chuyển hồ sơ").wait_for()
        assert officer.locator("#message").inner_text() == (
            f"Đã chuyển hồ sơ {code} sang trạng thái “{RESULT_READY}”; đã xếp 1 thông báo để gửi tới người dân "
            "đã đăng ký.")

        # 3. The worker delivers it to the citizen's open widget, pushed (no message from the citizen).
        citizen.wait_for_function("() => window.__notifiedAt !== null", timeout=NOTIFY_TIMEOUT_MS)
        latency_s = citizen.evaluate("window.__notifiedAt") / 1000 - saved_at
        print(f"\nconsole save -> notification shown in the widget: {latency_s:.2f} s")
        assert latency_s < NOTIFY_TIMEOUT_MS / 1000
        with db.read() as conn:
            sent_text = conn.one("SELECT text FROM notification_outbox WHERE code = ?", (code,))["text"]
        first, advice, hint = sent_text.split("\n")
        assert first.startswith(f"Hồ sơ {masked} (") and f"đã chuyển từ “{PROCESSING}” sang “{RESULT_READY}” lúc " \
            in first, first
        assert advice.startswith(f"Kết quả đã sẵn sàng. Nơi nhận kết quả: {PICKUP}.") and hint == UNSUBSCRIBE_HINT
        notification = citizen.locator(BOT_MESSAGES).last
        assert _lines(notification.locator(".tthc-msg__body").inner_text()) == [first, advice, hint]
        assert code not in notification.inner_text()
        assert notification.get_by_role("button").all_inner_texts() == ["Hủy thông báo"]
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        citizen.screenshot(path=str(SCREENSHOT_DIR / "widget-status-notification.png"))

        # Tapping "Hủy thông báo" unsubscribes.
        tap_reply_button(citizen, "Hủy thông báo", needle="tôi đã hủy")
        assert citizen.locator(BOT_MESSAGES).last.locator(".tthc-msg__body").inner_text() == (
            "Tôi đã hủy 1 đăng ký nhận thông báo của bạn. Bạn sẽ không nhận thêm tin nhắn về tình trạng các hồ sơ "
            "này; khi cần, bạn vẫn tra cứu được bằng cách nhắn “tra cứu hồ sơ”.")
        assert Subscriptions(db).for_code(code) == []
        shown = citizen.locator(BOT_MESSAGES).filter(has_text=f"sang “{RESULT_READY}”")
        assert shown.count() == 1  # pushed once, not repeated by the widget's catch-up

        # 4. The console's delivery log lists it as sent.
        officer.get_by_role("button", name="Làm mới").click()
        row = officer.locator("#delivery-rows tr[data-outcome='sent']", has_text=masked)
        row.wait_for()
        assert row.locator("td").all_inner_texts()[1:] == [
            "Trò chuyện trên web (REST)", masked, "Đã gửi", "1", "—"]
        assert code not in officer.locator("#delivery").inner_text()
        officer.screenshot(path=str(SCREENSHOT_DIR / "console-notification-sent.png"), full_page=True)
        assert worker.poll() is None
        assert (probe.errors, probe.dialogs) == ([], [])
    finally:
        citizen_ctx.close()
        staff_ctx.close()
