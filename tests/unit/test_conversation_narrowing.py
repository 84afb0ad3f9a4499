"""Conversations through action_answer_procedure: narrowing between siblings, several aspects, joined procedures.

The search is a fake (canned responses); the procedures are the shipped records (knowledge/data/procedures/).
"""

from __future__ import annotations

import asyncio

from rasa_sdk.executor import CollectingDispatcher

from actions.actions_dialogue import ActionHandleFallback
from actions.actions_procedure import ActionAnswerProcedure
from core.knowledge_service import KnowledgeService
from knowledge import store
from knowledge.search import Hit, SearchResponse
from tests.fakes.knowledge import FakeSearcher
from tests.fakes.responses import rendered
from tests.fakes.trackers import make_tracker

GPLX = [("3.000348", "Cấp lại giấy phép lái xe"), ("3.000347", "Đổi giấy phép lái xe"),
        ("3.000346", "Cấp giấy phép lái xe")]
CAN_CUOC = [("2.001194", "Cấp lại thẻ căn cước (thực hiện tại cấp tỉnh)"),
            ("1.000889", "Cấp đổi thẻ căn cước (thực hiện tại cấp trung ương)"),
            ("1.014064", "Cấp lại thẻ căn cước")]


def hits(pairs, family="f"):
    return [Hit(code=code, name=name, kind="procedure", url="", score=0.5 - i / 10, family=family)
            for i, (code, name) in enumerate(pairs)]


def clarify(text, pairs):
    return SearchResponse(text, False, ambiguous=True, results=hits(pairs), decision="clarify")


def answer(text, pairs):
    return SearchResponse(text, False, results=hits(pairs), decision="answer", confidence=0.95)


def action_for(responses):
    return ActionAnswerProcedure(service=KnowledgeService(searcher_factory=lambda: FakeSearcher(responses),
                                                          store=store))


def run(action, tracker):
    """The messages as the citizen gets them (domain.yml's responses filled) and the events."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return rendered(dispatcher.messages), events


def slots_of(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_siblings_get_a_question_about_what_separates_them_then_a_typed_reply_is_answered():
    q = "bằng lái xe máy của tôi phí bao nhiêu"
    action = action_for({q: clarify(q, GPLX)})
    messages, events = run(action, make_tracker(q, "ask_procedure",
                                                entities=[{"entity": "aspect", "value": "fee"}]))
    assert messages[0]["text"] == "Về giấy phép lái xe: bạn cần cấp lại (mất, hỏng), cấp đổi hay làm lần đầu?"
    assert [b["title"] for b in messages[0]["buttons"]] == ["Cấp lại (mất, hỏng)", "Cấp đổi", "Làm lần đầu"]
    assert messages[0]["buttons"][1]["payload"] == '/choose_procedure{"procedure_code":"3.000347"}'
    slots = slots_of(events)
    assert slots["narrowing_pending"] is True and slots["aspect"] == "fee"

    # The citizen types the answer instead of tapping: the fee of "Cấp lại" follows, without asking again.
    reply = "cấp lại vì bị mất"
    messages, events = run(action, make_tracker(reply, "ask_procedure", slots={"narrowing": slots["narrowing"]}))
    assert messages[0]["text"].startswith("**Cấp lại giấy phép lái xe** (mã thủ tục 3.000348)\nPhí, lệ phí:")
    slots = slots_of(events)
    assert slots["narrowing"] is None and slots["narrowing_pending"] is False
    assert slots["procedure_code"] == "3.000348" and slots["aspect"] == "fee"


def test_a_question_that_already_says_which_sibling_gets_its_answer_without_the_narrowing_question():
    q = "bằng lái xe máy sắp hết hạn, muốn đổi sang thẻ mới thì nộp ở đâu"
    action = action_for({q: clarify(q, GPLX)})
    messages, events = run(action, make_tracker(q, "ask_procedure", entities=[{"entity": "aspect", "value": "place"}]))
    assert messages[0]["text"].startswith("**Đổi giấy phép lái xe** (mã thủ tục 3.000347)\nNộp tại:")
    slots = slots_of(events)
    assert slots["procedure_code"] == "3.000347" and "narrowing_pending" not in slots

    # One option named, but the message also says what leads to another ("bị mất" leads to "cấp lại"): asked.
    q = "bằng lái bị mất, tiện thể muốn đổi sang thẻ mới thì nộp ở đâu"
    messages, _ = run(action_for({q: clarify(q, GPLX)}), make_tracker(q, "ask_procedure"))
    assert messages[0]["text"] == "Về giấy phép lái xe: bạn cần cấp lại (mất, hỏng), cấp đổi hay làm lần đầu?"


AGES = [("1.014062", "Cấp thẻ căn cước cho người dưới 14 tuổi"),
        ("1.014061", "Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên")]


def test_an_age_in_the_question_picks_the_sibling_and_a_typed_age_answers_the_question():
    q = "con tôi 9 tuổi, làm thẻ căn cước cần giấy tờ gì"
    messages, _ = run(action_for({q: clarify(q, AGES)}), make_tracker(q, "ask_procedure"))
    assert messages[0]["text"].startswith("**Cấp thẻ căn cước cho người dưới 14 tuổi** (mã thủ tục 1.014062)")

    q = "làm thẻ căn cước cho con cần giấy tờ gì"
    action = action_for({q: clarify(q, AGES)})
    messages, events = run(action, make_tracker(q, "ask_procedure", entities=[{"entity": "aspect",
                                                                                  "value": "documents"}]))
    assert messages[0]["text"] == ("Về cấp thẻ căn cước cho người: bạn hỏi cho người dưới 14 tuổi hay từ đủ 14 "
                                   "tuổi?")
    assert [b["title"] for b in messages[0]["buttons"]] == ["Dưới 14 tuổi", "Từ đủ 14 tuổi"]
    reply = "cháu 15 tuổi rồi"
    messages, events = run(action, make_tracker(reply, "ask_procedure",
                                                slots={"narrowing": slots_of(events)["narrowing"]}))
    assert messages[0]["text"].startswith("**Cấp thẻ căn cước cho người từ đủ 14 tuổi trở lên** (mã thủ tục "
                                          "1.014061)\nGiấy tờ phải nộp:")
    assert slots_of(events)["procedure_code"] == "1.014061"


def test_the_ordinary_case_and_a_special_one_get_a_question_without_the_negligible_third():
    q = "làm giấy khai sinh cần giấy tờ gì"
    ranked = [Hit(code="1.001193", name="Thủ tục đăng ký khai sinh", kind="procedure", url="", score=0.88,
                  family="1.001193"),
              Hit(code="1.004772", name="Thủ tục đăng ký khai sinh cho người đã có hồ sơ, giấy tờ cá nhân",
                  kind="procedure", url="", score=0.09, family="1.000893"),
              Hit(code="1.000893", name="Thủ tục đăng ký khai sinh có yếu tố nước ngoài cho người đã có hồ sơ, giấy "
                  "tờ cá nhân", kind="procedure", url="", score=0.003, family="1.000893")]
    action = action_for({q: SearchResponse(q, False, ambiguous=True, results=ranked, decision="clarify")})
    messages, events = run(action, make_tracker(q, "ask_procedure", entities=[{"entity": "aspect",
                                                                                "value": "documents"}]))
    assert messages[0]["text"] == ("Về đăng ký khai sinh: bạn hỏi trường hợp thông thường hay cho người đã có hồ sơ, "
                                   "giấy tờ cá nhân?")
    assert [b["title"] for b in messages[0]["buttons"]] == ["Trường hợp thông thường",
                                                            "Cho người đã có hồ sơ, giấy tờ cá nhân"]
    slots = slots_of(events)
    messages, events = run(action, make_tracker("bình thường thôi", "ask_procedure",
                                                slots={"narrowing": slots["narrowing"]}))
    assert messages[0]["text"].startswith("**Đăng ký khai sinh** (mã thủ tục 1.001193)\nGiấy tờ phải nộp:")


def test_a_clarification_whose_other_options_are_negligible_is_not_an_answer():
    q = "làm giấy khai sinh cần giấy tờ gì"
    ranked = [Hit(code="1.001193", name="Thủ tục đăng ký khai sinh", kind="procedure", url="", score=0.88,
                  family="1.001193"),
              Hit(code="1.004772", name="Thủ tục đăng ký khai sinh cho người đã có hồ sơ, giấy tờ cá nhân",
                  kind="procedure", url="", score=0.02, family="1.000893")]
    action = action_for({q: SearchResponse(q, False, ambiguous=True, results=ranked, decision="clarify")})
    messages, _ = run(action, make_tracker(q, "ask_procedure"))
    assert "(mã thủ tục" not in messages[0]["text"]  # suggestions, not an answer below the answer threshold
    assert messages[0]["buttons"][0]["title"] == "Thủ tục đăng ký khai sinh"


def test_two_questions_at_most_a_tap_then_a_typed_level_through_the_fallback_action():
    q = "làm thẻ căn cước nộp ở đâu"
    action = action_for({q: clarify(q, CAN_CUOC)})
    messages, events = run(action, make_tracker(q, "ask_procedure"))
    assert messages[0]["text"] == "Về thẻ căn cước: bạn cần cấp lại (mất, hỏng) hay cấp đổi?"
    assert messages[0]["buttons"][0]["payload"] == '/choose_procedure{"narrow_value":"cap_lai"}'
    state = slots_of(events)["narrowing"]
    assert state["aspects"] == ["place"]

    tap = '/choose_procedure{"narrow_value":"cap_lai"}'
    messages, events = run(action, make_tracker(tap, "choose_procedure", slots={"narrowing": state},
                                                entities=[{"entity": "narrow_value", "value": "cap_lai"}]))
    assert messages[0]["text"] == "Về cấp lại thẻ căn cước: bạn làm ở tỉnh (sở, ngành) hay xã, phường?"
    state = slots_of(events)["narrowing"]
    assert state["number"] == 2

    # "ở phường" may come back as an unclear message: the fallback action hands it to the answer action.
    messages, events = run(ActionHandleFallback(), make_tracker("ở phường", "nlu_fallback",
                                                                slots={"narrowing": state}))
    text = messages[0]["text"]
    assert text.startswith("**Cấp lại thẻ căn cước** (mã thủ tục 1.014064)\nNộp tại: Công an cấp Xã")
    assert "Cấp thực hiện: Cấp xã" in text


def test_a_reply_that_answers_nothing_is_a_new_question():
    q = "bằng lái xe phí bao nhiêu"
    new = "đăng ký kết hôn cần giấy tờ gì"
    action = action_for({q: clarify(q, GPLX), new: answer(new, [("1.000894", "Thủ tục đăng ký kết hôn")])})
    _, events = run(action, make_tracker(q, "ask_procedure"))
    messages, events = run(action, make_tracker(new, "ask_procedure",
                                                slots={"narrowing": slots_of(events)["narrowing"]}))
    assert messages[0]["text"].startswith("**Đăng ký kết hôn** (mã thủ tục 1.000894)\nGiấy tờ phải nộp:")
    assert slots_of(events)["narrowing"] is None


def test_a_stale_narrowing_button_asks_for_the_topic():
    tap = '/choose_procedure{"narrow_value":"cap_lai"}'
    messages, _ = run(action_for({}), make_tracker(tap, "choose_procedure",
                                                   entities=[{"entity": "narrow_value", "value": "cap_lai"}]))
    assert messages[0]["text"].startswith("Bạn đang hỏi về thủ tục nào ạ?")


def test_english_conversations_keep_the_list_of_names_in_english():
    """No narrowing question in English (its attribute words are Vietnamese): the list, with the English names."""
    q = "how much is the fee to renew my driving licence"
    messages, _ = run(action_for({q: clarify(q, GPLX)}), make_tracker(q, "ask_procedure"))
    assert messages[0]["text"] == "Which of these procedures do you mean?"
    assert [b["title"] for b in messages[0]["buttons"]] == [
        "Re-issuance of a driving licence", "Exchange of a driving licence", "Issuance of a driving licence"]
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        f'/choose_procedure{{"procedure_code":"{code}"}}' for code, _ in GPLX]


def test_several_aspects_are_each_answered_and_the_level_and_source_named():
    q = "đăng ký kết hôn phí bao nhiêu, mất mấy ngày"
    action = action_for({q: answer(q, [("1.000894", "Thủ tục đăng ký kết hôn")])})
    messages, events = run(action, make_tracker(q, "ask_procedure"))
    text = messages[0]["text"]
    assert text.index("Phí, lệ phí:") < text.index("Thời hạn giải quyết:") < text.index("Cấp thực hiện: Cấp xã")
    proc = store.get_procedure("1.000894")
    assert proc.updated == "2026-11-27"  # the shipped records carry the date of the portal data
    assert text.endswith("Nguồn: Cổng Dịch vụ công quốc gia — " + proc.url + "\nThông tin cập nhật ngày 27/11/2026.")
    assert slots_of(events)["aspect"] == "fee"


def test_a_question_joining_several_procedures_gets_the_joined_procedure():
    q = "con tôi mới sinh, tôi muốn làm giấy khai sinh, nhập hộ khẩu và làm thẻ BHYT cho cháu luôn"
    action = action_for({q: answer(q, [("1.001193", "Thủ tục đăng ký khai sinh")])})
    messages, events = run(action, make_tracker(q, "ask_procedure"))
    assert messages[0]["text"].startswith("Bạn hỏi nhiều thủ tục cùng lúc")
    assert messages[1]["text"].startswith("**Liên thông thủ tục hành chính về đăng ký khai sinh, đăng ký thường "
                                          "trú, cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi** (mã thủ tục "
                                          "2.000986)")
    assert slots_of(events)["procedure_code"] == "2.000986"


def test_two_parts_only_get_the_joined_procedure_of_those_two():
    q = "làm khai sinh với thẻ bảo hiểm y tế cho bé cùng lúc được không"
    action = action_for({q: answer(q, [("1.001193", "Thủ tục đăng ký khai sinh")])})
    messages, _ = run(action, make_tracker(q, "ask_procedure"))
    assert "(mã thủ tục 2.001023)" in messages[1]["text"]


def test_a_single_procedure_that_mentions_another_is_not_joined():
    q = "đăng ký thường trú cho con, đã có giấy khai sinh"
    action = action_for({q: answer(q, [("1.004222", "Đăng ký thường trú")])})
    messages, _ = run(action, make_tracker(q, "ask_procedure"))
    assert messages[0]["text"].startswith("**Đăng ký thường trú** (mã thủ tục 1.004222)")


def test_two_procedures_no_joined_procedure_covers_are_each_given_briefly():
    q = "Tôi muốn đăng ký kết hôn và làm hộ chiếu luôn thì cần gì?"
    passport = [("1.001456", "Cấp hộ chiếu phổ thông ở trong nước (thực hiện tại cấp tỉnh)"),
                ("1.001471", "Cấp hộ chiếu phổ thông ở trong nước (thực hiện tại cấp trung ương)")]
    action = action_for({
        # the whole question: no answer; its two pieces: one answered, one narrowed to the passport's levels
        q: SearchResponse(q, True, suggestions=hits([("1.000894", "Thủ tục đăng ký kết hôn")])),
        "Tôi muốn đăng ký kết hôn": answer("Tôi muốn đăng ký kết hôn", [("1.000894", "Thủ tục đăng ký kết hôn")]),
        "làm hộ chiếu luôn thì cần gì": SearchResponse("làm hộ chiếu luôn thì cần gì", False, ambiguous=True,
                                                      results=hits(passport, family="passport"),
                                                      decision="clarify"),
    })
    messages, events = run(action, make_tracker(q, "ask_procedure", slots={"procedure_code": "1.004222"}))
    assert messages[0]["text"].startswith("Bạn hỏi 2 thủ tục cùng lúc.")
    assert messages[1]["text"].startswith("**Đăng ký kết hôn** (mã thủ tục 1.000894)\n")
    assert "Giấy tờ phải nộp:" in messages[1]["text"] and "Cấp thực hiện: Cấp xã" in messages[1]["text"]
    assert messages[2]["text"].startswith("**Cấp hộ chiếu phổ thông ở trong nước (thực hiện tại cấp tỉnh)** "
                                          "(mã thủ tục 1.001456)\n")
    assert messages[3]["text"] == "Bạn muốn xem đầy đủ thủ tục nào?"
    assert [b["payload"] for b in messages[3]["buttons"]] == [
        '/choose_procedure{"procedure_code":"1.000894"}', '/choose_procedure{"procedure_code":"1.001456"}']
    assert slots_of(events)["procedure_code"] is None  # a follow-up must say which procedure
