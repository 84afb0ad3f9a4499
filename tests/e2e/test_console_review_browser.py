"""Browser test of the console's review queue ("Câu hỏi cần xem lại", issue 16) and the weekly answer rate, in
headless Chromium against a real ``python -m console`` process.

The console reads a Rasa tracker store seeded with Vietnamese conversations the bot served badly (abstentions, a low
rating after an answer, an answer with low confidence, a fallback, a handoff), a small fake-vector index (real
procedure files) and writes approved links to a temporary approved-questions file. An officer proposes through the
page (a link chosen with the in-page search, a new FAQ entry, out of scope), a supervisor approves or rejects; the
audit log and the bot's current answer for the approved link are checked.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from core.db import Database, now_vn
from tests.fakes.browser import SCREENSHOT_DIR, console_login, console_switch_user
from tests.fakes.rasa_tracker_store import Tracker
from tests.fakes.staff_servers import console_with_staff

PASSWORD = "mat-khau-thu-nghiem-2025"
ID_CARD = "Cấp lại căn cước"  # answered, then rated 1: the officer links it to 1.014064
NEWBORN = "nhập hộ khẩu cho con mới sinh cần những gì"  # abstained four times: a new FAQ entry, rejected
GREETING = "alo alo có ai không"  # a fallback: out of scope
LAND = "tôi muốn hỏi về bồi thường khi thu hồi đất"  # handed off: stays open
PASSPORT = "làm hộ chiếu mất bao lâu"  # answered with a confidence of 0.86, below REVIEW_LOW_CONFIDENCE: stays open


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """The console with an officer and a supervisor; this week's and last week's conversations."""
    tmp = tmp_path_factory.mktemp("console-review")
    Database(str(tmp / "services.db")).ensure_schema()
    today = now_vn().replace(hour=12, minute=0, second=0, microsecond=0)
    last_week = today - timedelta(days=7)
    tracker = Tracker(tmp / "tracker.db")
    # Last week: 1 of 3 conversations answered by the bot.
    tracker.answer("w1", last_week, PASSPORT, "2.001234", "Cấp hộ chiếu", confidence=0.86)
    tracker.abstain("w2", last_week, NEWBORN)
    tracker.abstain("w3", last_week, "nhap ho khau cho con moi sinh can nhung gi")
    # This week: 2 of 5 answered (the rated one and the fallback-only one), 2 abstained, 1 handed off.
    tracker.answer("t1", today, ID_CARD, "1.014064", "Cấp lại thẻ căn cước")
    tracker.slot("t1", today, "satisfaction_rating", 1.0)
    tracker.abstain("t2", today, NEWBORN)
    tracker.abstain("t3", today, NEWBORN + " 0987654321")
    tracker.fallback("t4", today, GREETING)
    tracker.user("t5", today, LAND, "ask_procedure")
    tracker.user("t5", today, "/request_human", "request_human")
    tracker.action("t5", today, "action_handoff")
    tracker.close()
    for running in console_with_staff(tmp, tmp / "tracker.db", PASSWORD,
                                      {"REVIEW_APPROVED_FILE": str(tmp / "approved.jsonl"),
                                       "REVIEW_LOW_CONFIDENCE": "0.9"}):
        yield {**running, "approved": tmp / "approved.jsonl"}


def group(page, question: str):
    return page.locator("#review-groups .cs-result", has=page.locator("strong", has_text=question))


def open_group(page, question: str) -> None:
    group(page, question).click()
    page.locator("#review-title", has_text=question).wait_for()


def audit(page) -> list[tuple]:
    """The review steps of the audit log, oldest first, as the supervisor reads them from /api/audit."""
    entries = page.evaluate("fetch('/api/audit').then(r => r.json())")["entries"]
    return [(e["staff"], e["action"], e["detail"]) for e in reversed(entries)
            if e["action"].startswith("review_") and e["action"] != "review_list"]


def test_officer_proposes_supervisor_decides_and_the_bot_answer_shows(browser, console):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    base = console["base"]
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    try:
        console_login(page, base, "can-bo", PASSWORD)
        page.locator("#tab-review").click()
        group(page, NEWBORN).wait_for()
        # Opening the page read the tracker store: five groups, most asked first, personal data masked.
        rows = page.locator("#review-groups .cs-result")
        assert rows.count() == 5
        assert rows.first.locator("strong").inner_text() == NEWBORN
        newborn = rows.first.inner_text()
        assert "4 lượt" in newborn and "Trợ lý không đủ tin cậy để trả lời" in newborn and "Chưa xử lý" in newborn
        assert "098*******" in newborn and "0987654321" not in page.content()
        assert "Người dân chấm 1–2 sao sau câu trả lời" in group(page, ID_CARD).inner_text()
        assert "Trợ lý không hiểu câu hỏi" in group(page, GREETING).inner_text()
        assert "Người dân chuyển sang gặp cán bộ" in group(page, LAND).inner_text()
        assert "Trợ lý đã trả lời nhưng độ tin cậy thấp" in group(page, PASSPORT).inner_text()

        # Link "Cấp lại căn cước" with the in-page search; the chosen procedure's answer is previewed.
        open_group(page, ID_CARD)
        page.get_by_role("button", name="Đề xuất liên kết", exact=True).click()
        page.locator("#message.cs-error", has_text="Hãy tìm và chọn thủ tục cần liên kết").wait_for()
        page.locator("#review-search-q").fill("cấp lại căn cước")
        hit = page.locator('#review-search-results .cs-result[data-code="1.014064"]')
        hit.wait_for()
        assert hit.inner_text().startswith("Cấp lại thẻ căn cước")
        hit.click()
        page.locator("#review-preview-name", has_text="Cấp lại thẻ căn cước").wait_for()
        assert "Cấp lại thẻ căn cước" in page.locator("#review-preview-text").inner_text()
        page.get_by_role("button", name="Đề xuất liên kết", exact=True).click()
        page.locator("#message", has_text="Đã gửi đề xuất «Liên kết với thủ tục»").wait_for()
        fields = page.locator("#review-fields")
        fields.locator("dd", has_text="Liên kết với thủ tục 1.014064 — can-bo").wait_for()
        assert "chờ giám sát viên duyệt" in fields.inner_text()
        fields.locator('dd[data-linked-name="1.014064"]', has_text="Cấp lại thẻ căn cước (1.014064)").wait_for()
        assert page.locator("#review-decide").is_hidden()  # an officer never gets approve / reject
        group(page, ID_CARD).locator("span", has_text="Chờ duyệt").wait_for()

        # A validation error is shown in Vietnamese and loses nothing: the FAQ draft typed first is still there.
        open_group(page, NEWBORN)
        draft = "Cha mẹ đăng ký khai sinh cho con, sau đó đăng ký thường trú cho con tại nơi cha hoặc mẹ thường trú."
        page.locator("#review-draft").fill(draft)
        page.get_by_role("button", name="Đánh dấu ngoài phạm vi", exact=True).click()
        page.locator("#message.cs-error", has_text="Hãy ghi lý do câu hỏi nằm ngoài phạm vi.").wait_for()
        assert page.locator("#review-draft").input_value() == draft
        # ... and switching to another group and back keeps it too.
        open_group(page, GREETING)
        assert page.locator("#review-draft").input_value() == ""
        page.locator("#review-reason").fill("Lời chào, không hỏi về thủ tục hành chính")
        open_group(page, NEWBORN)
        assert page.locator("#review-draft").input_value() == draft
        page.get_by_role("button", name="Đề xuất câu hỏi thường gặp mới", exact=True).click()
        page.locator("#message", has_text="Đã gửi đề xuất «Cần câu hỏi thường gặp mới»").wait_for()
        assert page.locator("#review-draft").input_value() == ""
        assert draft in page.locator("#review-fields").inner_text()

        open_group(page, GREETING)
        assert page.locator("#review-reason").input_value() == "Lời chào, không hỏi về thủ tục hành chính"
        page.get_by_role("button", name="Đánh dấu ngoài phạm vi", exact=True).click()
        page.locator("#message", has_text="Đã gửi đề xuất «Ngoài phạm vi»").wait_for()
        page.locator("#review-fields dd", has_text="Lời chào, không hỏi về thủ tục hành chính").wait_for()
        page.screenshot(path=str(SCREENSHOT_DIR / "console-review-officer.png"), full_page=True)

        # The supervisor approves the link and the out-of-scope mark, rejects the FAQ proposal.
        console_switch_user(page, base, "giam-sat", PASSWORD)
        page.locator("#tab-review").click()
        page.locator("#review-filter").select_option("proposed")
        group(page, LAND).wait_for(state="detached")  # the filtered list has replaced the full one
        group(page, GREETING).wait_for()
        assert page.locator("#review-groups .cs-result").count() == 3
        open_group(page, ID_CARD)
        page.locator("#review-decide").wait_for(state="visible")
        page.get_by_role("button", name="Duyệt đề xuất", exact=True).click()
        page.locator("#message", has_text=f"Đã duyệt đề xuất cho câu hỏi «{ID_CARD}»").wait_for()
        # The approved link: what the bot answers now to that question.
        live = page.locator("#review-live-answers li").first
        page.locator('#review-live-answers li[data-answers="true"]').wait_for()
        assert live.inner_text() == (f"«{ID_CARD}»: Trả lời bằng thủ tục Cấp lại thẻ căn cước (1.014064) — "
                                     "đúng thủ tục đã duyệt.")
        assert page.locator("#review-forms").is_hidden() and page.locator("#review-decide").is_hidden()
        page.screenshot(path=str(SCREENSHOT_DIR / "console-review-approved.png"), full_page=True)

        open_group(page, NEWBORN)
        page.get_by_role("button", name="Từ chối đề xuất", exact=True).click()
        page.locator("#message", has_text=f"Đã từ chối đề xuất cho câu hỏi «{NEWBORN}»").wait_for()
        open_group(page, GREETING)
        page.get_by_role("button", name="Duyệt đề xuất", exact=True).click()
        page.locator("#message", has_text=f"Đã duyệt đề xuất cho câu hỏi «{GREETING}»").wait_for()
        assert page.locator("#review-live").is_hidden()  # out of scope: nothing for the bot to answer

        page.locator("#review-filter").select_option("approved")
        page.locator("#review-groups .cs-result").nth(1).wait_for()
        assert sorted(page.locator("#review-groups strong").all_inner_texts()) == sorted([ID_CARD, GREETING])
        page.locator("#review-filter").select_option("rejected")
        page.locator("#review-groups .cs-result[data-status='rejected']").wait_for()
        assert page.locator("#review-groups strong").all_inner_texts() == [NEWBORN]

        assert audit(page) == [
            ("can-bo", "review_link", "item {} -> 1.014064".format(_id(page, ID_CARD))),
            ("can-bo", "review_faq", "item {}".format(_id(page, NEWBORN))),
            ("can-bo", "review_out_of_scope", "item {}".format(_id(page, GREETING))),
            ("giam-sat", "review_approve", "item {}".format(_id(page, ID_CARD))),
            ("giam-sat", "review_reject", "item {}".format(_id(page, NEWBORN))),
            ("giam-sat", "review_approve", "item {}".format(_id(page, GREETING))),
        ]
        lines = [json.loads(line) for line in console["approved"].read_text(encoding="utf-8").splitlines()]
        assert [(r["code"], r["q"], r["approved_by"]) for r in lines] == [("1.014064", ID_CARD, "giam-sat")]

        # Analytics: the answer rate week by week (last week 1 of 3, this week 2 of 5).
        page.locator("#tab-analytics").click()
        weeks = page.locator("#chart-weeks svg rect[data-week]")
        weeks.last.wait_for()  # the current week (a week without conversations has an empty bar)
        assert weeks.count() == 12
        assert weeks.nth(11).get_attribute("data-rate") == "0.4"
        assert weeks.nth(11).get_attribute("data-conversations") == "5"
        assert weeks.nth(10).get_attribute("data-rate") == "0.3333"
        assert weeks.nth(9).get_attribute("data-rate") == ""
        labels = page.locator("#chart-weeks svg text").all_text_contents()
        assert "40%" in labels and "33.3%" in labels
        page.screenshot(path=str(SCREENSHOT_DIR / "console-analytics-weeks.png"), full_page=True)
    finally:
        context.close()


def _id(page, question: str) -> int:
    """The id of the group ``question`` (read through the API, as the page does)."""
    groups = page.evaluate("fetch('/api/review').then(r => r.json())")["groups"]
    return next(g["id"] for g in groups if g["question"] == question)
