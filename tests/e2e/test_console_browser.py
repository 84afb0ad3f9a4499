"""Browser test of the help-desk console (``python -m console``) in headless Chromium.

The console runs as its own process on a free port with a temporary services database, a small fake-vector
knowledge index (real procedure files), a synthetic Rasa tracker store for the analytics and a fake Rasa server
for reply delivery. Accounts are created with the console's CLI. Screenshots go to reports/screenshots/.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.db import Database, now_vn
from core.feedback import FeedbackStore
from core.handoff import HandoffStore
from core.rating import RatingStore
from core.status.sqlite import SqliteStatusBackend
from tests.fakes.browser import SCREENSHOT_DIR, console_login, console_switch_user
from tests.fakes.console_data import APP_CODE, application
from tests.fakes.rasa_tracker_store import Tracker
from tests.fakes.staff_servers import console_with_staff

PASSWORD = "mat-khau-thu-nghiem-2025"


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """The console process with an officer and a supervisor account, one open handoff and seeded conversations."""
    tmp = tmp_path_factory.mktemp("console-browser")
    db = Database(str(tmp / "services.db"))
    db.ensure_schema()
    HandoffStore(db).open_ticket("web-7788", "socketio", [
        {"role": "user", "text": "Tôi cần gặp cán bộ về hồ sơ đất đai", "at": now_vn().isoformat()}],
        "user_request")
    SqliteStatusBackend(db).save(application(), phone="0912345678", id_number="001099012345")
    FeedbackStore(db).create("hạ tầng", "Đèn đường hỏng ở ngõ 5", "phường Bến Nghé", "0912345678", True,
                             "web-fb", "socketio")
    ratings = RatingStore(db)
    for score in (5, 5, 4, 2):
        ratings.record(f"web-r{score}", "socketio", score)
    today = now_vn().replace(hour=12, minute=0, second=0, microsecond=0)
    tracker = Tracker(tmp / "tracker.db")
    for i, day in enumerate((today - timedelta(days=2), today - timedelta(days=1), today)):
        for n in range(2 + i):
            tracker.answer(f"s{i}{n}", day, "cấp lại căn cước", "1.014064", "Cấp lại thẻ căn cước")
        tracker.abstain(f"a{i}", day, "xin giấy phép nuôi chim yến")
        tracker.fallback(f"f{i}", day, "alo alo")
    # Scores given in the conversations (slot satisfaction_rating): two answered ones, one abstained.
    tracker.slot("s00", today - timedelta(days=2), "satisfaction_rating", 5.0)
    tracker.slot("s21", today, "satisfaction_rating", 4.0)
    tracker.slot("a1", today - timedelta(days=1), "satisfaction_rating", 2.0)
    tracker.close()
    yield from console_with_staff(tmp, tmp / "tracker.db", PASSWORD)


def test_officer_searches_copies_and_replies_supervisor_sees_charts(browser, console):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    base = console["base"]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    try:
        console_login(page, base, "can-bo", PASSWORD)
        assert page.locator("#tab-analytics").is_hidden()  # officers have no analytics

        page.locator("#search-q").fill("cấp lại căn cước")
        first = page.locator("#results .cs-result").first
        first.wait_for(state="visible")
        assert first.inner_text().startswith("Cấp lại thẻ căn cước")
        first.click()
        page.locator("#proc-name").wait_for(state="visible")
        assert page.locator("#proc-name").inner_text() == "Cấp lại thẻ căn cước"
        documents = page.locator(".cs-answer").filter(has=page.get_by_role("heading", name="Hồ sơ, giấy tờ"))
        expected = documents.locator("pre").inner_text()
        assert "Cấp lại thẻ căn cước" in expected
        documents.get_by_role("button", name="Sao chép câu trả lời: Hồ sơ, giấy tờ").click()
        page.locator('.cs-copy[data-copied="true"]').wait_for()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.strip() == expected.strip()
        page.screenshot(path=str(SCREENSHOT_DIR / "console-search.png"), full_page=True)

        page.locator("#tab-inbox").click()
        ticket = page.locator("#tickets .cs-result").first
        ticket.wait_for(state="visible")
        assert "hồ sơ đất đai" in ticket.inner_text() and "chưa trả lời" in ticket.inner_text()
        ticket.click()
        page.locator("#transcript li").first.wait_for()
        page.locator("#reply-text").fill("Chào anh/chị, cán bộ một cửa sẽ hướng dẫn ngay.")
        page.get_by_role("button", name="Gửi trả lời").click()
        page.locator("#transcript li.cs-from-staff").wait_for()
        assert "cán bộ một cửa sẽ hướng dẫn" in page.locator("#transcript li.cs-from-staff").inner_text()
        # the list refreshes itself by polling (no reload): the ticket now shows its reply
        page.locator("#tickets .cs-result", has_text="1 trả lời").wait_for(timeout=15_000)
        page.screenshot(path=str(SCREENSHOT_DIR / "console-inbox.png"), full_page=True)

        # Status lookup: the officer sees the whole application (audited server-side).
        page.locator("#tab-status").click()
        page.locator("#status-code").fill(APP_CODE.lower())
        page.get_by_role("button", name="Tra cứu", exact=True).click()
        page.locator("#application").wait_for(state="visible")
        assert page.locator("#app-title").inner_text().startswith(APP_CODE)
        assert "Bộ phận Một cửa xã Tiên Du" in page.locator("#app-history").inner_text()
        page.locator("#status-code").fill("khong-phai-ma")
        page.get_by_role("button", name="Tra cứu", exact=True).click()
        page.locator("#message.cs-error", has_text="Mã hồ sơ không đúng dạng").wait_for()

        # Feedback: change a report's status with a note the citizen will see.
        page.locator("#tab-feedback").click()
        report = page.locator("#reports .cs-result").first
        report.wait_for(state="visible")
        assert "Đã tiếp nhận" in report.inner_text()
        report.click()
        page.locator("#report").wait_for(state="visible")
        assert "Đèn đường hỏng ở ngõ 5" in page.locator("#report-fields").inner_text()
        page.locator("#report-status").select_option("Đang xử lý")
        page.locator("#report-note").fill("Đã chuyển Công ty Chiếu sáng, dự kiến sửa trong 3 ngày.")
        page.get_by_role("button", name="Cập nhật trạng thái").click()
        page.locator("#report-title", has_text="Đang xử lý").wait_for()
        assert "dự kiến sửa trong 3 ngày" in page.locator("#report-history").inner_text()
        page.locator("#reports .cs-result", has_text="Đang xử lý").wait_for()
        page.screenshot(path=str(SCREENSHOT_DIR / "console-feedback.png"), full_page=True)
        console_switch_user(page, base, "giam-sat", PASSWORD)
        page.locator("#tab-analytics").click()
        page.locator("#chart-days svg rect[data-outcome]").first.wait_for()
        assert page.locator("#chart-days svg rect[data-outcome='answered']").count() == 3
        # no handoff in the seeded conversations: answered and abstained only
        assert page.locator("#chart-shares svg rect[data-outcome]").count() == 2
        assert page.locator("#kpis .cs-kpi strong").first.inner_text() == "15"  # (2+3+4) + 3 abstained + 3 fallback
        assert page.locator("#chart-ratings svg rect[data-rating='5']").get_attribute("data-count") == "2"
        assert page.locator("#chart-ratings svg rect[data-rating='3']").get_attribute("data-count") == "0"
        assert "4 / 4 lượt" in page.locator("#kpis").inner_text()  # (5+5+4+2)/4
        by_outcome = page.locator("#rating-by-outcome")
        assert by_outcome.locator("[data-outcome='answered']").inner_text() == "Trợ lý tự trả lời: 4,5 điểm (2 lượt)"
        assert by_outcome.locator("[data-outcome='abstained']").inner_text() == "Không trả lời được: 2 điểm (1 lượt)"
        assert by_outcome.locator("[data-outcome='handed_off']").inner_text() == "Chuyển cán bộ: chưa có đánh giá"
        assert "Cấp lại thẻ căn cước" in page.locator("#top-procedures").inner_text()
        assert "nuôi chim yến" in page.locator("#top-unanswered").inner_text()
        assert page.locator("#analytics-csv").get_attribute("href") == "/api/analytics?days=14&format=csv"
        page.screenshot(path=str(SCREENSHOT_DIR / "console-analytics.png"), full_page=True)
        page.set_viewport_size({"width": 768, "height": 1024})  # tablet: one column, no sideways scrolling
        assert page.evaluate("document.documentElement.scrollWidth") <= 768
        assert page.locator("#chart-days svg").bounding_box()["width"] <= 768
        page.screenshot(path=str(SCREENSHOT_DIR / "console-analytics-tablet.png"), full_page=True)
    finally:
        context.close()
