"""Narrowing between sibling procedures (core/narrowing.py) on the shipped procedure records."""

from __future__ import annotations

import pytest
import yaml

from core.narrowing import NARROWING_FILE, Question, get_narrowing
from knowledge.contrast import get_contrasts
from knowledge.rewrite import get_rewriter
from knowledge.store import data_dir, get_procedure


def plan(*codes, number=1):
    return get_narrowing().plan([get_procedure(code) for code in codes], number=number)


def options(question):
    return [(o.label, o.codes) for o in question.options]


def test_every_value_of_the_search_tables_has_a_button_label():
    table = yaml.safe_load((data_dir() / NARROWING_FILE).read_text(encoding="utf-8"))
    contrasts = get_contrasts()
    for group in contrasts.groups:
        assert set(table["groups"][group]["labels"]) == set(contrasts.values[group]), group
    assert set(table["groups"]["operation"]["labels"]) == set(get_rewriter().operations)
    assert set(table["order"]) == set(table["groups"])


# Each way sibling records differ gives one question with short buttons.
SIBLING_QUESTIONS = [
    pytest.param(("3.000348", "3.000347", "3.000346"),
                 "Về giấy phép lái xe: bạn cần cấp lại (mất, hỏng), cấp đổi hay làm lần đầu?",
                 [("Cấp lại (mất, hỏng)", ["3.000348"]), ("Cấp đổi", ["3.000347"]), ("Làm lần đầu", ["3.000346"])],
                 id="operation"),
    pytest.param(("1.008498", "2.002225"),
                 "Về đăng ký thuế lần đầu đối với người nộp thuế: bạn làm cho cá nhân hay doanh nghiệp, tổ chức?",
                 [("Cá nhân", ["1.008498"]), ("Doanh nghiệp, tổ chức", ["2.002225"])],
                 id="subject"),
    pytest.param(("1.000894", "2.000806"),
                 "Về đăng ký kết hôn: việc của bạn có yếu tố nước ngoài không (người nước ngoài, ở nước ngoài)?",
                 [("Không có yếu tố nước ngoài", ["1.000894"]), ("Có yếu tố nước ngoài", ["2.000806"])],
                 id="foreign-element"),
    pytest.param(("1.003113", "1.003407"),
                 "Về cấp Giấy chứng nhận kiểm dịch động vật, sản phẩm động vật trên cạn: hàng hóa của bạn là nhập "
                 "khẩu hay xuất khẩu?",
                 [("Nhập khẩu", ["1.003113"]), ("Xuất khẩu", ["1.003407"])],
                 id="direction"),
    # "Cấp thẻ căn cước cho người dưới 14 tuổi" / "... từ đủ 14 tuổi trở lên": ages read from the names.
    pytest.param(("1.014062", "1.014061"),
                 "Về cấp thẻ căn cước cho người: bạn hỏi cho người dưới 14 tuổi hay từ đủ 14 tuổi?",
                 [("Dưới 14 tuổi", ["1.014062"]), ("Từ đủ 14 tuổi", ["1.014061"])],
                 id="age"),
    # "Cấp lại thẻ căn cước (thực hiện tại cấp tỉnh)" / "Cấp lại thẻ căn cước": the level read from the record when
    # the name has none.
    pytest.param(("2.001194", "1.014064"),
                 "Về cấp lại thẻ căn cước: bạn làm ở tỉnh (sở, ngành) hay xã, phường?",
                 [("Tỉnh (sở, ngành)", ["2.001194"]), ("Xã, phường", ["1.014064"])],
                 id="level-from-the-record"),
    # "Thủ tục đăng ký khai tử" / "... khai tử lưu động": names that differ in other words get those words as buttons.
    pytest.param(("1.000656", "1.000419"),
                 "Về đăng ký khai tử: bạn hỏi trường hợp thông thường hay lưu động?",
                 [("Trường hợp thông thường", ["1.000656"]), ("Lưu động", ["1.000419"])],
                 id="other-words"),
    # "Thủ tục đăng ký khai sinh" / "... khai sinh cho người đã có hồ sơ, giấy tờ cá nhân": nested names, the ordinary
    # case and a special one (knowledge.bank.nested_names).
    pytest.param(("1.001193", "1.004772"),
                 "Về đăng ký khai sinh: bạn hỏi trường hợp thông thường hay cho người đã có hồ sơ, giấy tờ cá nhân?",
                 [("Trường hợp thông thường", ["1.001193"]), ("Cho người đã có hồ sơ, giấy tờ cá nhân", ["1.004772"])],
                 id="ordinary-or-special"),
]


@pytest.mark.parametrize("codes,text,buttons", SIBLING_QUESTIONS)
def test_siblings_get_one_question_with_short_buttons(codes, text, buttons):
    question = plan(*codes)
    assert question.text == text
    assert options(question) == buttons


def test_operation_is_asked_before_level_and_a_second_question_follows():
    first = plan("2.001194", "1.000889", "1.014064")
    assert first.group == "operation"
    assert options(first) == [("Cấp lại (mất, hỏng)", ["2.001194", "1.014064"]), ("Cấp đổi", ["1.000889"])]
    second = plan("2.001194", "1.014064", number=2)
    assert second.group == "level" and second.number == 2
    assert plan("2.001194", "1.014064", number=3) is None  # at most two questions


def test_names_that_differ_only_in_the_spacing_around_a_slash_get_no_word_buttons():
    # "... đầu tư xây dựng/ Báo cáo ..." (at bộ and tỉnh) and "... đầu tư xây dựng/Báo cáo ..." (at tỉnh and xã): the
    # same words, levels that overlap; no question whose buttons would be "dựng/Báo" and "dựng/ Báo".
    assert plan("1.013239", "1.013216") is None


def test_a_typed_answer_picks_the_button_with_those_words():
    question = plan("1.000656", "1.000419")  # "Thủ tục đăng ký khai tử" / "... khai tử lưu động"
    assert get_narrowing().pick(question, "lưu động").codes == ["1.000419"]


@pytest.mark.parametrize("codes, reply, picked", [
    (("3.000348", "3.000347", "3.000346"), "cấp lại do bị mất", "3.000348"),
    (("3.000348", "3.000347", "3.000346"), "doi bang", "3.000347"),
    (("3.000348", "3.000347", "3.000346"), "lần đầu đi thi", "3.000346"),
    (("3.000348", "3.000347", "3.000346"), "số 2", "3.000347"),
    (("1.000894", "2.000806"), "không", "1.000894"),
    (("1.000894", "2.000806"), "ko", "1.000894"),
    (("1.000894", "2.000806"), "có, chồng tôi là người Hàn", "2.000806"),
    (("1.008498", "2.002225"), "cho công ty", "2.002225"),
    (("1.003113", "1.003407"), "hàng xuất đi Trung Quốc", "1.003407"),
    (("2.001194", "1.014064"), "ở phường", "1.014064"),
    (("2.001194", "1.014064"), "o tinh", "2.001194"),
    (("1.014062", "1.014061"), "con tôi 9 tuổi", "1.014062"),
    (("1.014062", "1.014061"), "cháu vừa đủ 14 tuổi", "1.014061"),
    (("1.014062", "1.014061"), "chưa đủ 14 tuổi", "1.014062"),
    (("1.001193", "1.004772"), "bình thường thôi", "1.001193"),
    (("1.001193", "1.004772"), "con tôi mới sinh, trường hợp thông thường", "1.001193"),
    (("1.001193", "1.004772"), "cho người đã có hồ sơ", "1.004772"),
])
def test_a_typed_reply_picks_the_option_it_names(codes, reply, picked):
    question = plan(*codes)
    assert get_narrowing().pick(question, reply).codes == [picked]


@pytest.mark.parametrize("reply", [
    "thủ tục đăng ký kết hôn cần những giấy tờ gì và nộp ở đâu vậy ạ",  # a new question, not an answer
    "cảm ơn",
    "",
])
def test_a_reply_that_names_no_option_is_not_an_answer(reply):
    assert get_narrowing().pick(plan("3.000348", "3.000347", "3.000346"), reply) is None


@pytest.mark.parametrize("codes, message, picked", [
    # The operation, the foreign element, the direction and the words the names differ in, said in the question.
    (("3.000348", "3.000347", "3.000346"), "bằng lái xe máy của tôi sắp hết hạn, muốn đổi sang thẻ PET thì nộp ở đâu",
     "3.000347"),
    (("1.000894", "2.000806"), "tôi muốn đăng ký kết hôn với người Hàn Quốc thì cần giấy tờ gì", "2.000806"),
    (("1.003113", "1.003407"), "công ty tôi xuất khẩu thịt lợn đông lạnh sang Trung Quốc, xin giấy kiểm dịch thế nào",
     "1.003407"),
    (("1.000656", "1.000419"), "xin hỏi đăng ký khai tử lưu động cần những gì", "1.000419"),
    # An age: "dưới 14 tuổi" names the under-14 option only, not "14 tuổi".
    (("1.014062", "1.014061"), "làm thẻ căn cước cho trẻ dưới 14 tuổi cần giấy tờ gì", "1.014062"),
    (("1.014062", "1.014061"), "con tôi 15 tuổi làm căn cước lần đầu ở đâu", "1.014061"),
])
def test_a_question_that_already_names_an_option_is_not_asked_it(codes, message, picked):
    question = plan(*codes)
    assert get_narrowing().said_in(question, message).codes == [picked]


@pytest.mark.parametrize("codes, message", [
    # A reply's short words ("không", "ko", "mới") say nothing inside a question; nor does an option meaning "none".
    (("1.000894", "2.000806"), "con tôi mới sinh, không biết đăng ký khai sinh ở đâu, giấy tờ ko còn"),
    (("3.000348", "3.000347", "3.000346"), "tôi muốn thi bằng lái xe máy mới thì hồ sơ gồm gì"),
    # No option's own words ("mất" leads to "cấp lại" but does not name it; it may be "mất bao lâu").
    (("3.000348", "3.000347", "3.000346"), "thi bằng lái xe máy mất bao lâu, mất phí bao nhiêu"),
    # Two options named: the question is asked.
    (("3.000348", "3.000347", "3.000346"), "bằng lái bị mất, tiện thể đổi sang thẻ mới luôn được không"),
    # The place a story names is where the citizen lives, not the level of the procedure.
    (("2.001194", "1.014064"), "tôi ở phường Đại Phúc, tỉnh Bắc Ninh, bị mất căn cước thì làm lại thế nào"),
    # Denied, not named.
    (("3.000348", "3.000347", "3.000346"), "đây là lần đầu xin bằng lái chứ không phải cấp lại, phí bao nhiêu"),
    (("1.000894", "2.000806"), "đăng ký kết hôn, cả hai chúng tôi đều chưa ra nước ngoài bao giờ, cần giấy tờ gì"),
    # Two ages named.
    (("1.014062", "1.014061"), "nhà tôi có hai con 10 tuổi và 16 tuổi, làm căn cước cho cả hai thế nào"),
    # The ordinary case is what a question that says nothing special means, not something it says.
    (("1.001193", "1.004772"), "làm giấy khai sinh bình thường cho con cần giấy tờ gì"),
])
def test_a_question_that_names_no_single_option_is_asked_it(codes, message):
    assert get_narrowing().said_in(plan(*codes), message) is None


def test_a_tap_picks_by_value_and_the_state_survives_the_slot():
    question = plan("2.001194", "1.000889", "1.014064")
    restored = Question.from_state(question.to_state())
    assert get_narrowing().pick(restored, value="cap_lai").codes == ["2.001194", "1.014064"]
    assert get_narrowing().pick(restored, value="made-up") is None
    assert Question.from_state({"options": [{"value": 1}]}) is None
    assert Question.from_state("junk") is None


def test_the_parts_of_a_joined_procedure_are_read_from_its_name():
    from core.joined import joined_procedures
    from knowledge.store import load_procedures

    joined = {j.code: [sorted(part) for part in j.parts] for j in joined_procedures(load_procedures())}
    assert joined == {
        "2.000986": [["khai", "sinh"], ["thuong", "tru"], ["bao", "hiem", "te", "y"]],
        "2.001023": [["khai", "sinh"], ["bao", "hiem", "te", "y"]],
    }
