"""Browser test of the console's status change and delivery log (issue 17), in headless Chromium.

The console runs as its own process (tests/fakes/staff_servers.py: SQLite services database, one application,
a fake Rasa). A web chat citizen follows the application; the officer changes its status in the page, one worker
batch delivers the notification through the fake Rasa's tracker events API, and the page's delivery log lists it.
"""

from __future__ import annotations

import pytest

from core.db import now_vn
from core.notifications.subscriptions import Subscriptions
from core.office_hours import quiet_hours_end
from tests.fakes.browser import SCREENSHOT_DIR, console_login, new_page
from tests.fakes.notifications import Clock, web_worker
from tests.fakes.staff_servers import APP_CODE, PASSWORD, RASA_TOKEN, console_server

SENDER = "web-thong-bao-0001"
MASKED = "H07.99-******-0012"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    yield from console_server(tmp_path_factory.mktemp("console-notify-browser"))


def _daytime_now() -> Clock:
    """Now, or the end of the quiet hours when now is in them: the worker delivers instead of holding."""
    now = now_vn()
    return Clock(quiet_hours_end(now) or now)


def test_officer_changes_status_and_sees_the_delivery(browser, env):
    assert Subscriptions(env["db"]).subscribe("socketio", SENDER, APP_CODE)
    context, page, probe = new_page(browser, 1280, 900)
    try:
        console_login(page, env["base"], "lan", PASSWORD)
        page.locator("#tab-status").click()
        page.locator("#delivery-rows td.cs-empty", has_text="Chưa có thông báo nào được gửi.").wait_for()
        assert page.locator("#delivery-counts").inner_text() == (
            "Đang chờ gửi: 0 · Đang gửi: 0 · Đã gửi: 0 · Không gửi được: 0")

        page.locator("#status-code").fill(APP_CODE)
        page.get_by_role("button", name="Tra cứu", exact=True).click()
        page.locator("#application").wait_for(state="visible")
        assert page.locator("#app-title").inner_text() == f"{APP_CODE} — Đang xử lý"
        assert page.locator("#app-new-status").input_value() == "Đang xử lý"
        assert page.locator("#app-new-status option").all_inner_texts() == [
            "Đã tiếp nhận", "Đang xử lý", "Chờ bổ sung hồ sơ", "Đã có kết quả", "Đã trả kết quả", "Quá hạn", "Từ chối"]

        # Bad inputs: the API's Vietnamese messages, nothing changed.
        save = page.get_by_role("button", name="Lưu trạng thái mới")
        save.click()
        page.locator("#message.cs-error",
                     has_text="Hồ sơ đang ở trạng thái “Đang xử lý”, không có gì thay đổi.").wait_for()
        page.locator("#app-new-status").select_option("Từ chối")
        save.click()
        page.locator("#message.cs-error", has_text="Khi từ chối hồ sơ cần ghi lý do từ chối").wait_for()
        assert page.locator("#app-title").inner_text() == f"{APP_CODE} — Đang xử lý"

        page.locator("#app-new-status").select_option("Đã có kết quả")
        page.get_by_label("Ghi chú (không bắt buộc, ghi vào quá trình xử lý)").fill("Đã ký giấy khai sinh")
        page.get_by_label("Nơi nhận kết quả (khi đã có kết quả; bỏ trống để giữ nơi đã ghi)").fill(
            "Bộ phận Một cửa UBND xã Tiên Du")
        save.click()
        page.locator("#message:not(.cs-error)", has_text="Đã chuyển hồ sơ").wait_for()
        assert page.locator("#message").inner_text() == (
            f"Đã chuyển hồ sơ {APP_CODE} sang trạng thái “Đã có kết quả”; đã xếp 1 thông báo để gửi tới người dân "
            "đã đăng ký.")
        assert page.locator("#app-title").inner_text() == f"{APP_CODE} — Đã có kết quả"
        assert "Bộ phận Một cửa UBND xã Tiên Du" in page.locator("#app-fields").inner_text()
        assert "Đã có kết quả — UBND xã Tiên Du (Đã ký giấy khai sinh)" in page.locator("#app-history").inner_text()
        assert page.locator("#app-new-status").input_value() == "Đã có kết quả"
        assert page.locator("#app-note").input_value() == ""
        page.locator("#delivery-counts", has_text="Đang chờ gửi: 1").wait_for()

        # One worker batch delivers it to the web chat conversation (Rasa's tracker events API).
        assert web_worker(env["db"], env["rasa"].url, RASA_TOKEN, _daytime_now()).run_once() == 1
        pushed = [c for c in env["rasa"].calls if c["path"] == f"/conversations/{SENDER}/tracker/events"]
        assert len(pushed) == 1 and MASKED in pushed[0]["body"][0]["text"]

        page.get_by_role("button", name="Làm mới").click()
        row = page.locator("#delivery-rows tr[data-outcome='sent']")
        row.wait_for()
        assert row.locator("td").all_inner_texts()[1:] == ["Trò chuyện trên web", MASKED, "Đã gửi", "1", "—"]
        assert page.locator("#delivery-counts").inner_text() == (
            "Đang chờ gửi: 0 · Đang gửi: 0 · Đã gửi: 1 · Không gửi được: 0")
        assert APP_CODE not in page.locator("#delivery").inner_text()

        # The next change meets a Rasa outage: the log shows the failed attempt, to be retried.
        page.locator("#app-new-status").select_option("Đã trả kết quả")
        save.click()
        page.locator("#app-title", has_text="Đã trả kết quả").wait_for()
        env["rasa"].fail = True
        try:
            assert web_worker(env["db"], env["rasa"].url, RASA_TOKEN, _daytime_now()).run_once() == 1
        finally:
            env["rasa"].fail = False
        page.get_by_role("button", name="Làm mới").click()
        retry = page.locator("#delivery-rows tr[data-outcome='retry']")
        retry.wait_for()
        cells = retry.locator("td").all_inner_texts()
        assert cells[1:] == ["Trò chuyện trên web", MASKED, "Lỗi, sẽ gửi lại", "1", "Rasa answered HTTP 500"]
        assert page.locator("#delivery-rows tr").count() == 2
        assert page.locator("#delivery-counts").inner_text() == (
            "Đang chờ gửi: 1 · Đang gửi: 0 · Đã gửi: 1 · Không gửi được: 0")
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT_DIR / "console-status-change.png"), full_page=True)
        assert (probe.errors, probe.dialogs) == ([], [])
    finally:
        context.close()
