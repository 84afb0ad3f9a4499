"""A real conversation handed off to the help-desk console, answered there, and rated by the citizen.

Everything is real: the citizen chats in the web widget (headless Chromium) with the running stack, asks for an
officer, and gets a ticket; the officer logs in to the console (``python -m console`` on the stack's services
database, tracker store and Rasa server), opens the ticket from the live inbox, replies — the reply is pushed to
the widget over Rasa's socket.io channel — and closes it, so the bot resumes. The citizen says goodbye, rates
the conversation 5 with a button, and the supervisor sees that rating in the analytics.
"""

from __future__ import annotations

from tests.e2e.conftest import CONSOLE_PASSWORD as PASSWORD
from tests.fakes.browser import (
    BOT_MESSAGES,
    JOINED_JS,
    PUSH_TIMEOUT_MS,
    SCREENSHOT_DIR,
    ask,
    console_login,
    console_switch_user,
    hand_off,
    new_page,
    open_widget,
    send_message,
    tap_reply_button,
    wait_for_count,
    wait_for_reply,
)


def test_handoff_answered_in_the_console_reaches_the_widget_and_is_rated(browser, live_stack, live_console):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    citizen_ctx, citizen, probe = new_page(browser)
    staff_ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    officer = staff_ctx.new_page()
    try:
        open_widget(citizen, live_stack["web_url"])
        send_message(citizen, "đăng ký tạm trú cần giấy tờ gì")
        wait_for_reply(citizen, 0, needle="tạm trú")
        citizen.wait_for_function(JOINED_JS, timeout=PUSH_TIMEOUT_MS)
        ticket_id = hand_off(citizen)

        # The officer finds the ticket in the live inbox (polled, no reload) with the conversation so far.
        console_login(officer, live_console, "truc-ban", PASSWORD)
        officer.locator("#tab-inbox").click()
        ticket = officer.locator(f'#tickets .cs-result[data-ticket="{ticket_id}"]')
        ticket.wait_for(state="visible", timeout=15_000)
        assert "[Bấm nút] Có, gặp cán bộ" in ticket.inner_text()
        ticket.click()
        officer.locator("#transcript li", has_text="đăng ký tạm trú cần giấy tờ gì").wait_for()
        reply = "Chào bạn, tôi là cán bộ trực. Bạn mang căn cước và hợp đồng thuê nhà tới công an phường nhé."
        officer.locator("#reply-text").fill(reply)
        officer.get_by_role("button", name="Gửi trả lời").click()
        officer.locator("#message", has_text="Đã gửi trả lời tới người dân.").wait_for()

        # The reply arrives in the citizen's widget, pushed over socket.io, shown once, as text.
        wait_for_count(citizen, "hợp đồng thuê nhà tới công an phường", 1, PUSH_TIMEOUT_MS)
        pushed = citizen.locator(BOT_MESSAGES).last
        assert pushed.locator(".tthc-msg__body").inner_text() == f"💬 Cán bộ hỗ trợ: {reply}"
        officer.screenshot(path=str(SCREENSHOT_DIR / "console-live-reply.png"), full_page=True)
        citizen.screenshot(path=str(SCREENSHOT_DIR / "widget-staff-reply.png"))

        # Closing the ticket hands the conversation back to the bot.
        officer.get_by_role("button", name="Đóng yêu cầu, trợ lý tiếp tục").click()
        officer.locator("#message", has_text=f"Đã đóng yêu cầu {ticket_id}").wait_for()
        ask(citizen, "lệ phí cấp lại căn cước bao nhiêu", needle="căn cước")

        # Goodbye: the bot asks for a 1-5 rating; the citizen taps 5.
        ask(citizen, "tạm biệt nhé", needle="từ 1 (rất không hài lòng) đến 5 (rất hài lòng)")
        tap_reply_button(citizen, "5 – Rất hài lòng", needle="cảm ơn bạn đã chấm 5/5")
        citizen.screenshot(path=str(SCREENSHOT_DIR / "widget-rating.png"))
        assert probe.errors == [] and probe.dialogs == []

        # The supervisor's analytics count the rating and the handed-off conversation.
        console_switch_user(officer, live_console, "truong-bo-phan", PASSWORD)
        officer.locator("#tab-analytics").click()
        officer.locator("#chart-ratings svg rect[data-rating='5']").wait_for()
        assert int(officer.locator("#chart-ratings svg rect[data-rating='5']").get_attribute("data-count")) >= 1
        assert officer.locator("#chart-days svg rect[data-outcome='handed_off']").count() >= 1
        officer.screenshot(path=str(SCREENSHOT_DIR / "console-live-analytics.png"), full_page=True)
    finally:
        citizen_ctx.close()
        staff_ctx.close()
