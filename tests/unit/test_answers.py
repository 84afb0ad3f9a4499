"""Answer formatting per aspect, on a real procedure's fields."""

from __future__ import annotations

import string

from core.answers import answer_documents, bullet_list, fee_text, format_answer, phrases, shorten, vnd
from knowledge.schema import Fee


def test_documents_answer_lists_both_sections_with_quantities(birth_registration):
    text = format_answer(birth_registration, "documents")
    assert text.splitlines()[0] == "**Đăng ký khai sinh** (mã thủ tục 1.001193)"
    assert (
        "Giấy tờ phải nộp:\n- Tờ khai đăng ký khai sinh theo mẫu (1 bản chính)\n"
        "- Bản chính Giấy chứng sinh (1 bản chính)"
    ) in text
    assert "Giấy tờ phải xuất trình:\n- Giấy tờ tùy thân của người đi đăng ký khai sinh (1 bản chính)" in text
    assert text.endswith("Nguồn: Cổng Dịch vụ công quốc gia — https://dichvucong.gov.vn/thu-tuc-hanh-chinh/example")


def test_fee_duration_online_and_legal_basis(birth_registration):
    assert "- Trực tiếp, trực tuyến: Miễn phí" in format_answer(birth_registration, "fee")
    assert "- Trực tiếp, trực tuyến: 1 ngày làm việc" in format_answer(birth_registration, "duration")
    assert "**có thể nộp trực tuyến**" in format_answer(birth_registration, "online")
    assert "- Luật Hộ tịch 2014 (60/2014/QH13)" in format_answer(birth_registration, "legal_basis")
    assert "1. Bước 1: Người yêu cầu nộp hồ sơ." in format_answer(birth_registration, "steps")


def test_overview_when_no_aspect(birth_registration):
    text = format_answer(birth_registration, None)
    assert "- Nơi thực hiện: Ủy ban nhân dân cấp xã" in text
    assert "- Phí, lệ phí: Miễn phí" in text
    assert "- Nộp trực tuyến: có" in text


def test_suspect_fee_is_not_stated_as_fact():
    assert fee_text(Fee(amount_vnd=12, text="12 Đồng", suspect=True)).startswith("chưa xác định rõ")
    assert fee_text(Fee(amount_vnd=50000, text="Lệ phí : 50.000 Đồng")) == "50.000 đồng"
    assert vnd(1250000) == "1.250.000 đồng"


def test_long_lists_are_summarised():
    text = bullet_list([f"Giấy tờ {i}" for i in range(12)], "giấy tờ", limit=8)
    assert text.splitlines()[-1] == "… và 4 giấy tờ khác (xem thêm ở đường dẫn bên dưới)."
    assert len(text.splitlines()) == 9


def test_shorten_cuts_on_a_word():
    assert shorten("Bản sao giấy chứng nhận đăng ký kết hôn", 20) == "Bản sao giấy chứng…"
    assert shorten("  Tờ   khai  ") == "Tờ khai"


def test_duration_without_unit_says_so():
    from core.answers import duration_text
    from knowledge.schema import Duration

    assert duration_text(Duration(value=1, unit=None, text="1")) == "1 (Cổng không ghi rõ đơn vị thời gian)"
    assert duration_text(Duration(value=2.5, unit="Ngày làm việc", text="2.5")) == "2.5 ngày làm việc"
    assert duration_text(Duration(text="Theo quy định")) == "Theo quy định"


def test_notes_are_not_listed_as_documents(birth_registration):
    from knowledge.schema import Document

    proc = birth_registration.model_copy(deep=True)
    proc.documents.insert(0, Document(name="Trường hợp trẻ bị bỏ rơi thì có biên bản", section="submit"))
    proc.documents.append(Document(name="Người tiếp nhận kiểm tra hồ sơ", group="* Lưu ý:", section="submit"))
    text = format_answer(proc, "documents")
    lines = text.splitlines()
    assert lines[2] == "- Tờ khai đăng ký khai sinh theo mẫu (1 bản chính)"  # counted papers first
    assert "- Trường hợp trẻ bị bỏ rơi thì có biên bản" in lines
    assert "Người tiếp nhận kiểm tra hồ sơ" not in text
    assert "Cổng còn nêu 1 lưu ý về hồ sơ (xem ở đường dẫn bên dưới)." in lines


def test_papers_for_everyone_come_before_papers_for_some_cases():
    from knowledge.store import get_procedure

    text = answer_documents(get_procedure("1.001193"))
    first = text.splitlines()[1]
    assert first.startswith("- Văn bản ủy quyền") or first.startswith("- Giấy chứng sinh"), first
    assert text.index("Giấy chứng sinh") < text.index("Trường hợp trẻ em bị bỏ rơi")



def _placeholders(table: dict, prefix: str = "") -> dict:
    """Each phrase's ``{placeholders}`` by its key ("channels.post" for a nested table)."""
    found = {}
    for key, value in table.items():
        if isinstance(value, dict):
            found.update(_placeholders(value, f"{prefix}{key}."))
        else:
            found[prefix + key] = {name for _, name, _, _ in string.Formatter().parse(value) if name}
    return found


def test_both_languages_have_every_phrase_with_the_same_placeholders():
    """answer_phrases.yml: a phrase missing in English, or with another {placeholder}, breaks only English answers."""
    table = phrases()
    assert set(table) == {"vi", "en"}
    assert _placeholders(table["en"]) == _placeholders(table["vi"])
    assert _placeholders(table["vi"])["submit_at"] == {"agencies"}
    assert table["en"]["channels"]["post"] == "By post"
