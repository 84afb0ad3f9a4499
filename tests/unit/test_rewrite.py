"""Query rewriting: citizens' words and English questions to the wording of procedure names."""

import pytest

from knowledge.rewrite import QueryRewriter, get_rewriter


@pytest.fixture(scope="module")
def rewriter() -> QueryRewriter:
    return get_rewriter()


@pytest.mark.parametrize(
    "question, lexical",
    [
        ("Sổ đỏ bị cháy mất thì xin cấp lại thế nào?",
         "giay chung nhan quyen su dung dat bi chay mat thi xin cap lai the nao?"),
        ("Mua đất xong thì sang tên sổ đỏ như thế nào?",
         "mua dat xong thi dang ky bien dong quyen su dung dat nhu the nao?"),
        ("mat cavet xe thi lam lai sao", "mat chung nhan dang ky xe xe thi lam lai sao"),
        ("doi tien rach nat", "doi tien khong du tieu chuan luu thong"),
    ],
)
def test_vietnamese_everyday_words_become_official_wording(rewriter, question, lexical):
    rq = rewriter.rewrite(question)
    assert rq.language == "vi"
    assert rq.lexical == lexical
    # The dense model sees the question as typed plus the official wording.
    assert rq.dense.startswith(question) and rq.dense != question


def test_question_without_everyday_words_is_unchanged(rewriter):
    rq = rewriter.rewrite("Thủ tục đăng ký khai tử cần giấy tờ gì?")
    assert rq.lexical == rq.dense == "Thủ tục đăng ký khai tử cần giấy tờ gì?"
    assert rq.rewrites == ()


@pytest.mark.parametrize(
    "question, vietnamese",
    [
        ("How can a foreigner apply for a temporary residence card?",
         "người nước ngoài cấp thẻ tạm trú cho người nước ngoài"),
        ("Convert my foreign driving licence to a Vietnamese one", "đổi giấy phép lái xe của người nước ngoài"),
        ("Convert my foreign driving license to a Vietnamese one", "đổi giấy phép lái xe của người nước ngoài"),
        ("Personal income tax finalisation for expats",
         "thuế thu nhập cá nhân khai quyết toán thuế người nước ngoài"),
        ("How do I get a work visa extension in Vietnam?", "gia hạn tạm trú cho người nước ngoài"),
        # second batch: phrases first, then the single words that carry the topic
        ("How can a stateless person living in Vietnam get an exit-entry permit?",
         "người không quốc tịch giấy phép xuất nhập cảnh"),
        ("Do we need a permit to import fireworks and pepper sprays for an event?",
         "giấy phép nhập khẩu pháo hoa công cụ hỗ trợ"),
        ("How do we extend a groundwater extraction licence issued by the Ministry?",
         "gia hạn nước dưới đất khai thác giấy phép Bộ"),
        ("We want to export timber; how do we get a FLEGT licence?", "xuất khẩu gỗ FLEGT giấy phép"),
        ("Our FDI company wants to issue convertible bonds through a private placement.",
         "doanh nghiệp có vốn đầu tư nước ngoài trái phiếu chuyển đổi chào bán riêng lẻ"),
    ],
)
def test_english_questions_are_translated_phrase_by_phrase(rewriter, question, vietnamese):
    rq = rewriter.rewrite(question)
    assert rq.language == "en"
    assert rq.lexical == vietnamese
    # The encoder keeps the question's own words beside the glossary's Vietnamese.
    assert rq.dense == f"{question} ({vietnamese})"


@pytest.mark.parametrize(
    "question, english",
    [
        ("Transfer car ownership after buying a used car", True),
        ("What is the capital of Australia?", True),
        ("xin giay phep lai xe", False),
        ("quen mk vneid", False),
        ("lam cccd cho con", False),
        ("Làm visa cho người nước ngoài", False),
    ],
)
def test_language_detection(rewriter, question, english):
    assert rewriter.is_english(question) is english


def test_unknown_english_stays_english_for_the_searcher_to_judge(rewriter):
    rq = rewriter.rewrite("What is the capital of Australia?")
    assert rq.language == "en" and rq.lexical == "What is the capital of Australia?"


@pytest.mark.parametrize(
    "name, operations",
    [
        ("Cấp lại Giấy chứng nhận do bị mất", {"cap_lai"}),
        ("Thủ tục đổi tiền không đủ tiêu chuẩn lưu thông", {"cap_doi"}),
        ("Đăng ký thay đổi vốn điều lệ, phần vốn góp", {"dieu_chinh"}),
        ("Xóa đăng ký tạm trú", {"xoa"}),
        ("Cấp, cấp lại, chuyển đổi giấy chứng nhận khả năng chuyên môn", set()),
        ("Đăng ký thành lập công ty cổ phần", set()),
    ],
)
def test_operations_in_procedure_names(rewriter, name, operations):
    assert rewriter.operations_in_name(name) == operations


def test_operations_asked(rewriter):
    assert "cap_lai" in rewriter.rewrite("Sổ đỏ bị cháy mất thì xin cấp lại thế nào?").operations
    assert rewriter.rewrite("Thủ tục đăng ký khai sinh").operations == frozenset()
    # "sử dụng" folds to "su dung" and must not be read as "dừng" (stop).
    assert "cham_dut" not in rewriter.rewrite("giấy chứng nhận quyền sử dụng đất").operations


def test_tables_are_consistent():
    rewriter = QueryRewriter(
        {"synonyms": [{"say": ["sổ đỏ"], "means": "giấy chứng nhận quyền sử dụng đất"}],
         "operations": [{"name": "cap_lai", "in_name": ["cấp lại"], "asked_by": ["mất"]}]},
        {"glossary": [{"en": ["red book"], "vi": "giấy chứng nhận quyền sử dụng đất"}]},
    )
    assert rewriter.rewrite("mất sổ đỏ").lexical == "mat giay chung nhan quyen su dung dat"
    assert rewriter.rewrite("I lost my red book").lexical == "giấy chứng nhận quyền sử dụng đất"
