"""English detection and aspects, on real phrasings."""

from __future__ import annotations

import pytest

from core.language import detect_language, question_aspects


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
    "lang, text, aspects",
    [
        ("en", "What documents do I need for a work permit?", ["documents"]),
        ("en", "How much is the fee for a temporary residence card?", ["fee"]),
        ("en", "How long does company registration take?", ["duration"]),
        ("en", "Can I apply online for a business license?", ["online"]),
        ("en", "Where do I submit the application?", ["place"]),
        ("en", "Where do I apply and how much does it cost?", ["place", "fee"]),
        ("en", "Tell me about work permits", []),
        ("vi", "đăng ký kết hôn cần giấy tờ gì", ["documents"]),
        ("vi", "lam cccd het bao nhieu tien", ["fee"]),
        ("vi", "cấp lại hộ chiếu mất bao lâu", ["duration"]),
        ("vi", "đổi bằng lái làm online được không", ["online"]),
        ("vi", "đăng ký tạm trú nộp ở đâu", ["place"]),
        ("vi", "căn cứ pháp lý của thủ tục này", ["legal_basis"]),
        ("vi", "cấp hộ chiếu nộp tại đâu", ["place"]),
        ("vi", "giấy phép kinh doanh rượu ai cấp", ["agency"]),
        ("vi", "thủ tục tách thửa theo nghị định nào", ["legal_basis"]),
        ("vi", "mở phòng khám tư cần đáp ứng yêu cầu gì", ["conditions"]),
        ("vi", "lệ phí bao nhiêu và mất bao lâu", ["fee", "duration"]),
        ("vi", "đăng ký khai sinh", []),
        ("vi", "trợ giúp pháp lý cho người nghèo", []),
    ],
)
def test_question_aspects(lang, text, aspects):
    assert question_aspects(text, lang) == aspects


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
