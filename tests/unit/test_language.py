"""English detection and aspects, on real phrasings."""

from __future__ import annotations

import pytest

from core.language import detect_language, english_aspect


@pytest.mark.parametrize(
    "text, lang",
    [
        ("How do I apply for a work permit for foreigners?", "en"),
        ("What documents are needed to register a company?", "en"),
        ("temporary residence card fee", "en"),
        ("làm giấy khai sinh cần giấy tờ gì", "vi"),
        ("lam giay khai sinh can giay to gi", "vi"),
        ("dang ky ket hon o dau", "vi"),
        ("cccd", "vi"),
        ("to do", "vi"),
    ],
)
def test_detect_language(text, lang):
    assert detect_language(text) == lang


@pytest.mark.parametrize(
    "text, aspect",
    [
        ("What documents do I need for a work permit?", "documents"),
        ("How much is the fee for a temporary residence card?", "fee"),
        ("How long does company registration take?", "duration"),
        ("Can I apply online for a business license?", "online"),
        ("Where do I submit the application?", "place"),
        ("Tell me about work permits", None),
    ],
)
def test_english_aspect(text, aspect):
    assert english_aspect(text) == aspect


@pytest.mark.parametrize(
    "text, aspect",
    [
        ("đăng ký kết hôn cần giấy tờ gì", "documents"),
        ("lam cccd het bao nhieu tien", "fee"),
        ("cấp lại hộ chiếu mất bao lâu", "duration"),
        ("đổi bằng lái làm online được không", "online"),
        ("đăng ký tạm trú nộp ở đâu", "place"),
        ("căn cứ pháp lý của thủ tục này", "legal_basis"),
        ("cấp hộ chiếu nộp tại đâu", "place"),
        ("giấy phép kinh doanh rượu ai cấp", "agency"),
        ("thủ tục tách thửa theo nghị định nào", "legal_basis"),
        ("mở phòng khám tư cần đáp ứng yêu cầu gì", "conditions"),
        ("đăng ký khai sinh", None),
        ("trợ giúp pháp lý cho người nghèo", None),
    ],
)
def test_vietnamese_aspect(text, aspect):
    from core.language import vietnamese_aspect
    from knowledge.text import fold

    assert vietnamese_aspect(fold(text)) == aspect


def test_aspect_keywords_are_the_ones_the_search_strips():
    """One list (knowledge.text.ASPECT_PHRASES): each keyword names its aspect and is stripped by the search."""
    from core.language import vietnamese_aspects
    from knowledge.text import ASPECT_PHRASES, strip_question

    assert set(ASPECT_PHRASES) == {"documents", "fee", "duration", "online", "place", "agency", "steps",
                                   "legal_basis", "conditions", "result"}
    for aspect, phrases in ASPECT_PHRASES.items():
        for phrase in phrases:
            assert aspect in vietnamese_aspects(phrase), phrase
            assert strip_question(phrase) == "", phrase
    # Question words that name no aspect on their own.
    assert vietnamese_aspects("mat bao nhieu ngay") == ["duration"]
    assert vietnamese_aspects("chuan bi giai the cong ty") == []
