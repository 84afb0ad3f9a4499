"""End-to-end: the real Rasa and action servers answer through the REST channel."""

from __future__ import annotations

import time

from tests.e2e.conftest import ROOT, say


def texts(messages: list) -> str:
    """All bot texts of one turn, joined."""
    return "\n".join(m.get("text", "") for m in messages)


def test_greeting_gets_a_vietnamese_answer(stack):
    reply = texts(say(stack, "e2e-greet", "xin chào"))
    assert reply.strip()
    assert any(ch in reply for ch in "àáảãạăâđêôơưếềệốồộớờợứừự"), reply


def test_birth_registration_documents(stack):
    started = time.perf_counter()
    reply = texts(say(stack, "e2e-birth", "làm giấy khai sinh cần giấy tờ gì"))
    elapsed_ms = (time.perf_counter() - started) * 1000
    report = ROOT / "reports" / "e2e_latency.txt"
    report.parent.mkdir(exist_ok=True)
    report.write_text(f"REST turn latency, procedure question (warm action server): {elapsed_ms:.0f} ms\n")
    assert "Đăng ký khai sinh" in reply, reply
    assert "Giấy tờ phải nộp" in reply, reply
    assert "Tờ khai" in reply or "tờ khai" in reply, reply
    assert "dichvucong.gov.vn" in reply, reply


def test_follow_up_keeps_the_procedure(stack):
    say(stack, "e2e-follow", "làm giấy khai sinh cần giấy tờ gì")
    reply = texts(say(stack, "e2e-follow", "mất bao lâu?"))
    assert "Đăng ký khai sinh" in reply, reply
    assert "Thời hạn giải quyết" in reply, reply


def test_unsure_question_offers_procedures_and_a_tap_answers(stack):
    """A long narrative the search is not sure about: no answer, but the right procedure is offered as a button
    beside the handoff, and tapping it answers (held-out question h003)."""
    question = ("Ngân hàng yêu cầu tôi bổ sung giấy chứng nhận độc thân để làm hồ sơ vay mua nhà, "
                "tôi xin giấy này ở đâu?")
    messages = say(stack, "e2e-suggest", question)
    assert texts(messages).startswith("Tôi chưa tìm được thủ tục khớp chắc chắn"), messages
    buttons = [b for m in messages for b in m.get("buttons") or []]
    assert buttons[-1] == {"title": "Gặp cán bộ hỗ trợ", "payload": "/request_human"}, buttons
    offered = [b for b in buttons if "1.004873" in b["payload"]]
    assert offered and offered[0]["payload"] == '/choose_procedure{"procedure_code":"1.004873"}', buttons
    reply = texts(say(stack, "e2e-suggest", offered[0]["payload"]))
    assert "xác nhận tình trạng hôn nhân" in reply.lower() and "1.004873" in reply, reply


def test_off_topic_question_gets_no_suggestions(stack):
    messages = say(stack, "e2e-weather", "Ngày mai Hà Nội có mưa không bot?")
    buttons = [b for m in messages for b in m.get("buttons") or []]
    assert all("choose_procedure" not in b["payload"] for b in buttons), messages


def test_empty_message_gets_a_polite_reply(stack):
    reply = texts(say(stack, "e2e-empty", "   "))
    assert "chưa nhập nội dung" in reply


def test_action_server_down_gives_apology_then_recovers(stack):
    stack.stop("actions")
    try:
        reply = texts(say(stack, "e2e-down", "làm giấy khai sinh cần giấy tờ gì"))
        assert "Xin lỗi" in reply and "sự cố" in reply, reply
    finally:
        stack.start_actions()
    reply = texts(say(stack, "e2e-down", "đăng ký khai sinh cần giấy tờ gì"))
    assert "Đăng ký khai sinh" in reply, reply


def test_a_procedure_question_is_not_swallowed_by_the_status_form(stack):
    """The NLU classifies this renewal question as a status request; without a code or status words the routing
    action answers the procedure instead of asking for an application code."""
    reply = texts(say(stack, "e2e-route-status", "bằng lái của tôi hết hạn đổi ở đâu"))
    assert "mã hồ sơ" not in reply.lower(), reply
    assert "Đổi giấy phép lái xe" in reply, reply


def test_a_procedure_question_mentioning_vneid_gets_the_procedure_not_the_faq(stack):
    """Classified as an FAQ, but the search is fairly sure of a procedure: its answer or its buttons, not the
    canned VNeID login answer."""
    messages = say(stack, "e2e-route-faq", "xe bán phế liệu rồi thu hồi biển số trên vneid thế nào")
    shown = texts(messages) + "\n" + "\n".join(b.get("title", "") for m in messages for b in m.get("buttons") or [])
    assert "Để đăng nhập Cổng Dịch vụ công quốc gia bằng VNeID" not in shown, messages
    assert "thu hồi" in shown.lower() and "biển số" in shown.lower(), messages


def test_status_words_still_start_the_status_form(stack):
    reply = texts(say(stack, "e2e-route-status-words", "ho so cua toi den dau roi"))
    assert "mã hồ sơ" in reply.lower(), reply


def test_status_words_about_my_application_start_the_status_form_whatever_the_intent(stack):
    """"hs … của e sao rồi" asks about the citizen's own application: the status form asks for its code, also when
    the NLU reads the message as a procedure question (then action_answer_procedure hands it to the form)."""
    reply = texts(say(stack, "e2e-route-status-own", "hs cấp đổi gplx của e sao rồi ạ"))
    assert "mã hồ sơ" in reply.lower(), reply
    assert "giấy phép lái xe**" not in reply.lower(), reply
