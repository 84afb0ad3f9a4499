"""Questions about several procedures at once (core/several.py)."""

from __future__ import annotations

from types import SimpleNamespace

from core.several import pieces, several_procedures


def test_a_message_joining_two_requests_splits_into_them():
    assert pieces("Tôi muốn đăng ký kết hôn và làm hộ chiếu luôn thì cần gì?") == [
        "Tôi muốn đăng ký kết hôn", "làm hộ chiếu luôn thì cần gì"]
    assert pieces("cap doi gplx, dang ky xe may moi mua") == ["cap doi gplx", "dang ky xe may moi mua"]


def test_commas_join_requests_only_in_a_short_message():
    assert pieces("Công ty tôi muốn đăng ký thay đổi địa chỉ trụ sở, đồng thời đăng ký mẫu con dấu mới") == [
        "Công ty tôi muốn đăng ký thay đổi địa chỉ trụ sở", "đăng ký mẫu con dấu mới"]
    # The clauses of one story are not requests of their own.
    assert pieces("Chồng em là Việt kiều Úc về nước bằng giấy miễn thị thực, sắp hết hạn tạm trú mà vẫn muốn ở lại "
                  "thêm mấy tháng, gia hạn ở phòng xuất nhập cảnh tỉnh được không ạ") == []
    assert pieces("Nhà tôi nuôi heo ở Đồng Nai từ năm 2015, năm ngoái dịch tả lợn nên đã chuyển sang trồng sầu "
                  "riêng, giờ xin thu hồi mã số cơ sở chăn nuôi thì làm ở đâu") == []


def test_one_request_is_not_split():
    assert pieces("Đăng ký khai sinh cho con cần giấy tờ gì?") == []
    assert pieces("Tôi muốn xin trích lục khai sinh bản sao cho bố mẹ ở quê") == []
    assert pieces("làm lại cccd với") == []  # a trailing joiner leaves one request


def _response(decision, code, family=None, kind="procedure"):
    hit = SimpleNamespace(code=code, family=family or code, kind=kind)
    return SimpleNamespace(decision=decision, results=[hit])


def test_every_piece_must_be_answered_with_confidence_in_a_different_family():
    answers = {"Tôi muốn đăng ký kết hôn": _response("answer", "1.000894"),
               "làm hộ chiếu luôn thì cần gì": _response("answer", "1.005122")}
    found = several_procedures("Tôi muốn đăng ký kết hôn và làm hộ chiếu luôn thì cần gì?", answers.get)
    assert [h.code for h in found] == ["1.000894", "1.005122"]

    answers["làm hộ chiếu luôn thì cần gì"] = _response("clarify", "1.005122")  # between its level variants
    assert len(several_procedures("Tôi muốn đăng ký kết hôn và làm hộ chiếu luôn thì cần gì?", answers.get)) == 2
    answers["làm hộ chiếu luôn thì cần gì"] = _response("abstain", "1.005122")
    assert several_procedures("Tôi muốn đăng ký kết hôn và làm hộ chiếu luôn thì cần gì?", answers.get) == []

    # A story's clauses are pieces too; the one that names no procedure is left out, one procedure is no split.
    story = {"Bố mẹ tôi ở quê": _response("abstain", "1.003583"),
             "tôi muốn xin trích lục khai sinh bản sao": _response("answer", "2.000635")}
    assert several_procedures("Bố mẹ tôi ở quê, tôi muốn xin trích lục khai sinh bản sao", story.get) == []

    lost = {"Tôi bị mất ví": _response("abstain", "1.001"), "mất căn cước": _response("answer", "2.001255"),
            "bằng lái xe": _response("clarify", "1.002809")}
    assert [h.code for h in several_procedures("Tôi bị mất ví, mất căn cước và bằng lái xe", lost.get)] == [
        "2.001255", "1.002809"]

    same = {"cấp lại thẻ căn cước": _response("answer", "2.001255", family="f1"),
            "cấp đổi thẻ căn cước": _response("answer", "2.001256", family="f1")}
    assert several_procedures("cấp lại thẻ căn cước và cấp đổi thẻ căn cước", same.get) == []
