"""The review queue (issue 16): questions the bot did not serve well, read from a Rasa tracker store, masked,
grouped by wording; officers' proposals, supervisors' decisions, approved links as question-bank lines."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest
import requests

from core.db import VN_TZ
from core.review.approved import ApprovedQuestionError, ApprovedQuestions
from core.review.grouping import text_vector
from core.review.queue import ReviewError, ReviewQueue, group_key
from core.review.service import ReviewService
from core.review.signals import review_signals
from core.tracker_db import TrackerDb
from knowledge.bank import record_problems
from tests.fakes.processes import ROOT
from tests.fakes.rasa_tracker_store import Tracker
from tests.fakes.staff_servers import console_server, logged_in

MARRIAGE = "1.000894"  # Thủ tục đăng ký kết hôn (the shipped knowledge base)
NOW = datetime.now(VN_TZ).replace(microsecond=0)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def write_tracker(path) -> None:
    """Five conversations: two abstentions on one question (typed two ways, one with a phone number), a
    handoff, a low rating after an answer, a fallback; one conversation the bot served well."""
    t = Tracker(path)
    t.abstain("A", ago(5), "Đăng ký kết hôn với người nước ngoài cần giấy tờ gì?")
    t.abstain("B", ago(4), "dang ky ket hon voi nguoi nuoc ngoai can giay to gi 0912345678")
    t.abstain("B", ago(4), "dang ky ket hon voi nguoi nuoc ngoai can giay to gi 0912345678")  # asked again
    t.user("C", ago(3), "mình muốn hỏi về trợ cấp mất việc", "ask_procedure")
    t.user("C", ago(3), "/request_human", "request_human")
    t.action("C", ago(3), "action_handoff")
    t.answer("D", ago(2), "cấp lại căn cước", "1.001193", "Cấp lại thẻ căn cước")
    t.slot("D", ago(2), "satisfaction_rating", 1)
    t.fallback("E", ago(1), "cho hỏi xin giấy phép nuôi chó cảnh")
    t.answer("F", ago(1), "làm hộ chiếu ở đâu", "2.001234", "Cấp hộ chiếu")
    t.slot("F", ago(1), "satisfaction_rating", 5)
    t.close()


@pytest.fixture
def tracker_path(tmp_path):
    path = tmp_path / "tracker.db"
    write_tracker(path)
    return path


@pytest.fixture
def service(db, tmp_path, tracker_path):
    approved = ApprovedQuestions(tmp_path / "var" / "approved_questions.jsonl", lambda: {MARRIAGE, "1.001193"})
    return ReviewService(ReviewQueue(db), TrackerDb(tracker_path), approved, window_days=30)


def test_signals_name_each_badly_served_question_and_why(tracker_path):
    rows = TrackerDb(tracker_path).read_events(0)
    assert [(s.sender, s.reason, s.text) for s in review_signals(rows)] == [
        ("A", "abstained", "Đăng ký kết hôn với người nước ngoài cần giấy tờ gì?"),
        ("B", "abstained", "dang ky ket hon voi nguoi nuoc ngoai can giay to gi 0912345678"),
        ("B", "abstained", "dang ky ket hon voi nguoi nuoc ngoai can giay to gi 0912345678"),
        ("C", "handed_off", "mình muốn hỏi về trợ cấp mất việc"),
        ("D", "low_rating", "cấp lại căn cước"),
        ("E", "fallback", "cho hỏi xin giấy phép nuôi chó cảnh"),
    ]


def test_queue_groups_similar_wording_masks_phones_and_counts_each_conversation_once(db, service):
    assert service.refresh() == 5
    assert service.refresh() == 0  # reading the store again counts nothing twice
    groups = service.queue.groups()
    assert [(g["count"], g["reasons"], g["status"]) for g in groups] == [
        (2, ["abstained"], "open"), (1, ["fallback"], "open"), (1, ["low_rating"], "open"),
        (1, ["handed_off"], "open")]
    marriage = groups[0]
    assert marriage["question"] == "Đăng ký kết hôn với người nước ngoài cần giấy tờ gì?"
    assert marriage["variants"] == ["Đăng ký kết hôn với người nước ngoài cần giấy tờ gì?",
                                    "dang ky ket hon voi nguoi nuoc ngoai can giay to gi 091*******"]
    with db.read() as conn:
        stored = json.dumps([conn.all(f"SELECT * FROM {t}") for t in
                             ("review_items", "review_sightings", "review_decisions")], default=str)
    assert "0912345678" not in stored and "2345678" not in stored
    assert '"B"' not in stored and '"A"' not in stored  # sender ids are never stored


def test_group_key_folds_diacritics_and_question_words():
    assert group_key("Đăng ký kết hôn ở đâu?") == group_key("dang ky ket hon o dau")


def test_link_then_approve_writes_a_valid_bank_line_with_who_and_when(db, service):
    service.refresh()
    item = service.queue.groups()[0]["id"]
    with pytest.raises(ReviewError) as unknown:
        service.propose(item, "lan", "link", "9.999999")
    assert (unknown.value.status, unknown.value.message) == (400, "Không có thủ tục mã 9.999999 trong cơ sở tri thức.")
    proposed = service.propose(item, "lan", "link", MARRIAGE)
    assert (proposed["status"], proposed["decision"]["kind"], proposed["decision"]["code"],
            proposed["decision"]["state"]) == ("proposed", "link", MARRIAGE, "pending")
    approved = service.decide(item, "minh", True)
    assert (approved["status"], approved["decision"]["state"], approved["decision"]["decided_by"]) == (
        "approved", "approved", "minh")
    records = list(service.approved.records())
    assert [(r["code"], r["q"], r["style"], r["approved_by"]) for r in records] == [
        (MARRIAGE, "Đăng ký kết hôn với người nước ngoài cần giấy tờ gì?", "story", "minh"),
        (MARRIAGE, "dang ky ket hon voi nguoi nuoc ngoai can giay to gi 091*******", "no_diacritics", "minh")]
    assert datetime.fromisoformat(records[0]["approved_at"]) <= datetime.now(VN_TZ)
    exported = list(service.approved.export())
    assert exported == [{"code": MARRIAGE, "q": r["q"], "style": r["style"]} for r in records]
    assert [record_problems(line, {MARRIAGE}) for line in exported] == [[], []]
    with pytest.raises(ReviewError) as again:
        service.propose(item, "lan", "out_of_scope", "Không thuộc phạm vi")
    assert (again.value.status, again.value.message) == (409, "Câu hỏi này đã được duyệt.")


def test_reject_out_of_scope_and_faq_proposals(db, service):
    service.refresh()
    groups = {g["reasons"][0]: g["id"] for g in service.queue.groups()}
    with pytest.raises(ReviewError) as empty:
        service.propose(groups["fallback"], "lan", "out_of_scope", "  ")
    assert empty.value.message == "Hãy ghi lý do câu hỏi nằm ngoài phạm vi."
    service.propose(groups["fallback"], "lan", "out_of_scope", "Nuôi chó cảnh không cần thủ tục hành chính")
    rejected = service.decide(groups["fallback"], "minh", False)
    assert (rejected["status"], rejected["decision"]["state"], rejected["decision"]["reason"]) == (
        "rejected", "rejected", "Nuôi chó cảnh không cần thủ tục hành chính")
    with pytest.raises(ReviewError) as nothing:
        service.decide(groups["fallback"], "minh", True)
    assert (nothing.value.status, nothing.value.message) == (409, "Câu hỏi này chưa có đề xuất nào đang chờ duyệt.")
    draft = "Trợ cấp thất nghiệp do Trung tâm Dịch vụ việc làm giải quyết."
    assert service.propose(groups["handed_off"], "lan", "faq", draft)["decision"]["draft"] == draft
    assert service.decide(groups["handed_off"], "minh", True)["status"] == "approved"
    assert list(service.approved.records()) == []  # only links become bank lines
    with pytest.raises(ReviewError) as missing:
        service.decide(999, "minh", True)
    assert (missing.value.status, missing.value.message) == (404, "Không tìm thấy câu hỏi cần xem lại.")


def test_an_invalid_bank_line_is_refused_and_nothing_is_approved(db, tmp_path, tracker_path):
    approved = ApprovedQuestions(tmp_path / "approved.jsonl", lambda: set())  # the code left the knowledge base
    service = ReviewService(ReviewQueue(db), TrackerDb(tracker_path), approved)
    service.refresh()
    item = service.queue.groups()[0]["id"]
    service.queue.propose(item, "lan", "link", MARRIAGE, known_code=lambda code: True)
    with pytest.raises(ApprovedQuestionError):
        service.decide(item, "minh", True)
    assert service.queue.group(item)["status"] == "proposed"
    assert not approved.path.exists()


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("review_console")
    write_tracker(tmp / "tracker.db")
    yield from console_server(tmp, tmp / "tracker.db", {"REVIEW_APPROVED_FILE": str(tmp / "approved.jsonl")})


def test_console_review_routes_officer_proposes_supervisor_decides_all_audited(console, tmp_path):
    officer, supervisor = logged_in(console, "lan"), logged_in(console, "minh")
    listed = officer.get("/api/review")
    assert listed.status_code == 200, listed.text
    groups = listed.json()["groups"]
    assert [g["count"] for g in groups] == [2, 1, 1, 1] and "0912345678" not in listed.text
    with console["db"].read() as conn:  # each group embedded by the console's search encoder (test index: hashing:64)
        vectors = [text_vector(r["vector"]) for r in conn.all("SELECT vector FROM review_items")]
    assert [v.shape for v in vectors] == [(64,)] * 4
    item = groups[0]["id"]
    bad = officer.post(f"/api/review/{item}/link", {"code": "9.999999"})
    assert (bad.status_code, bad.json()["message"]) == (400, "Không có thủ tục mã 9.999999 trong cơ sở tri thức.")
    assert officer.post(f"/api/review/{item}/link", {"code": MARRIAGE}).status_code == 200
    refused = officer.post(f"/api/review/{item}/approve")
    assert (refused.status_code, refused.json()["message"]) == (
        403, "Chỉ giám sát viên mới được duyệt hoặc từ chối đề xuất.")
    assert officer.post(f"/api/review/{item}/approve", csrf="sai").status_code == 403
    done = supervisor.post(f"/api/review/{item}/approve")
    assert done.status_code == 200 and done.json()["status"] == "approved"
    other = groups[1]["id"]
    assert officer.post(f"/api/review/{other}/out_of_scope", {"reason": "Không phải thủ tục"}).status_code == 200
    assert supervisor.post(f"/api/review/{other}/reject").json()["status"] == "rejected"
    assert officer.get("/api/review?status=xong").status_code == 400
    with console["db"].read() as conn:
        audit = conn.all("SELECT staff, action, detail FROM console_audit WHERE action LIKE 'review_%' "
                         "AND action <> 'review_list' ORDER BY id")
    assert [(a["staff"], a["action"], a["detail"]) for a in audit] == [
        ("lan", "review_link", f"item {item} -> {MARRIAGE}"), ("minh", "review_approve", f"item {item}"),
        ("lan", "review_out_of_scope", f"item {other}"), ("minh", "review_reject", f"item {other}")]
    out = tmp_path / "export.jsonl"
    env = {"REVIEW_APPROVED_FILE": str(console["log"].parent / "approved.jsonl"), "PYTHONPATH": str(ROOT)}
    with open(out, "w") as handle:
        subprocess.run([sys.executable, "-m", "console", "review", "export"], cwd=ROOT, env=env, stdout=handle,
                       check=True, timeout=60)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines == [{"code": MARRIAGE, "q": "Đăng ký kết hôn với người nước ngoài cần giấy tờ gì?", "style": "story"},
                     {"code": MARRIAGE, "q": "dang ky ket hon voi nguoi nuoc ngoai can giay to gi 091*******",
                      "style": "no_diacritics"}]


def test_console_shows_what_the_bot_answers_now_for_a_linked_group(console):
    officer, supervisor = logged_in(console, "lan"), logged_in(console, "minh")
    groups = {g["question"]: g for g in officer.get("/api/review").json()["groups"]}
    item = groups["cấp lại căn cước"]["id"]
    assert groups["cấp lại căn cước"]["reasons"] == ["low_rating"]
    assert officer.post(f"/api/review/{item}/link", {"code": "1.014064"}).status_code == 200
    assert supervisor.post(f"/api/review/{item}/approve").json()["status"] == "approved"
    answer = officer.get(f"/api/review/{item}/answer")
    assert answer.status_code == 200, answer.text
    # The console's test index (tests/fakes/console_data.py) has "cấp lại căn cước" as an alias of 1.014064.
    assert answer.json() == {"id": item, "status": "approved", "code": "1.014064", "answers": [
        {"question": "cấp lại căn cước", "kind": "answer", "answers": True, "code": "1.014064",
         "name": "Cấp lại thẻ căn cước", "candidates": [], "linked": True}]}
    # A question the small index cannot place: the bot abstains (no procedure, nothing to link yet).
    dog = groups["cho hỏi xin giấy phép nuôi chó cảnh"]["id"]
    assert officer.get(f"/api/review/{dog}/answer").json()["answers"] == [
        {"question": "cho hỏi xin giấy phép nuôi chó cảnh", "kind": "unknown", "answers": False, "code": None,
         "name": None, "candidates": [], "linked": False}]
    missing = officer.get("/api/review/999999/answer")
    assert (missing.status_code, missing.json()["message"]) == (404, "Không tìm thấy câu hỏi cần xem lại.")
    assert requests.get(console["base"] + f"/api/review/{item}/answer", timeout=10).status_code == 401


@pytest.fixture(scope="module")
def live_console(tmp_path_factory):
    """A console whose search merges approved questions every 0.2 s (REVIEW_LIVE_POLL_S) into its own live bank."""
    tmp = tmp_path_factory.mktemp("review_live_console")
    write_tracker(tmp / "tracker.db")
    yield from console_server(tmp, tmp / "tracker.db", {"REVIEW_APPROVED_FILE": str(tmp / "approved.jsonl"),
                                                         "REVIEW_LIVE_POLL_S": "0.2",
                                                         "REVIEW_LIVE_DIR": str(tmp / "live")})


def test_an_approved_link_is_live_in_the_console_answer_without_a_restart(live_console):
    """Approve a link for a question the bot abstains on: the page's "what the bot answers now" turns to the approved
    procedure while the console keeps running (its searcher merges the approved-questions file)."""
    officer, supervisor = logged_in(live_console, "lan"), logged_in(live_console, "minh")
    groups = {g["question"]: g for g in officer.get("/api/review").json()["groups"]}
    dog = groups["cho hỏi xin giấy phép nuôi chó cảnh"]["id"]
    assert officer.get(f"/api/review/{dog}/answer").json()["answers"][0]["kind"] == "unknown"
    assert officer.post(f"/api/review/{dog}/link", {"code": "1.004222"}).status_code == 200
    assert supervisor.post(f"/api/review/{dog}/approve").json()["status"] == "approved"
    deadline = time.monotonic() + 60
    while True:
        [now] = officer.get(f"/api/review/{dog}/answer").json()["answers"]
        if now["answers"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (now["kind"], now["code"], now["linked"]) == ("answer", "1.004222", True)
    assert list((live_console["log"].parent / "live").glob("live_bank.*.npz"))


def test_console_analytics_answer_rate_by_week(console):
    supervisor = logged_in(console, "minh")
    data = supervisor.get("/api/analytics?weeks=2").json()["conversations"]["per_week"]
    assert len(data) == 2
    # The six conversations of write_tracker (all within the last five hours: at most two ISO weeks): D, E (a
    # fallback only) and F answered, A and B abstained, C handed off.
    totals = {k: sum(w[k] for w in data) for k in ("conversations", "answered", "abstained", "handed_off")}
    assert totals == {"conversations": 6, "answered": 3, "abstained": 2, "handed_off": 1}
    assert data[-1]["answer_rate"] == round(data[-1]["answered"] / data[-1]["conversations"], 4)
    bad = supervisor.get("/api/analytics?weeks=mot")
    assert (bad.status_code, bad.json()["message"]) == (400, "Tham số weeks phải là số tuần (1–52).")
    csv_text = supervisor.get("/api/analytics?weeks=2&format=csv").text
    assert "week,week_start,conversations_with_question,answered,handed_off,abstained,answer_rate" in csv_text
    assert logged_in(console, "lan").get("/api/analytics?weeks=2").status_code == 403


def test_bot_answer_tells_an_answer_a_question_back_and_an_abstention(birth_registration):
    """What the review page shows for "Trợ lý trả lời hiện nay": the knowledge service's decision for a new
    conversation opened with the question."""
    from console.services import ConsoleError, KnowledgeConsole
    from knowledge.search import Hit, SearchResponse
    from tests.fakes.knowledge import FakeSearcher, FakeStore

    def hit(code, name, score):
        return Hit(code=code, name=name, kind="procedure", url="", score=score)

    answered, ambiguous = "làm giấy khai sinh cho con mới sinh", "đăng ký khai sinh"
    searcher = FakeSearcher({
        answered: SearchResponse(answered, False, results=[hit("1.001193", "Đăng ký khai sinh", 0.91)],
                                 decision="answer", confidence=0.9),
        ambiguous: SearchResponse(ambiguous, False, ambiguous=True, results=[
            hit("1.001193", "Đăng ký khai sinh", 0.80), hit("1.000656", "Đăng ký khai sinh lưu động", 0.79)])})
    console = KnowledgeConsole(lambda: searcher, FakeStore([birth_registration]))
    assert console.bot_answer(answered) == {
        "question": answered, "kind": "answer", "answers": True, "code": "1.001193", "name": "Đăng ký khai sinh",
        "candidates": []}
    assert console.bot_answer(ambiguous) == {
        "question": ambiguous, "kind": "choose", "answers": False, "code": None, "name": None,
        "candidates": [{"code": "1.001193", "name": "Đăng ký khai sinh"},
                       {"code": "1.000656", "name": "Đăng ký khai sinh lưu động"}]}
    unknown = console.bot_answer("xin giấy phép bắn pháo hoa đám cưới")
    assert (unknown["kind"], unknown["answers"], unknown["code"]) == ("unknown", False, None)
    with pytest.raises(ConsoleError) as refused:
        console.bot_answer("   ")
    assert (refused.value.status, refused.value.message) == (400, "Không có câu hỏi để thử.")
