"""Abbreviations mined from the procedure records (knowledge/acronyms.py) and their use by the query rewriter."""

import pytest

from knowledge import acronyms
from knowledge.rewrite import QueryRewriter, get_rewriter


def test_mining_keeps_a_dominant_long_form_and_drops_ambiguous_initials():
    records = [
        ["Cấp giấy chứng nhận đủ điều kiện", "Đơn đề nghị cấp giấy chứng nhận"],
        ["Cấp lại giấy chứng nhận quyền sử dụng đất"],
        ["Thu hồi giấy chứng nhận đăng ký", "Giấy chứng nhận cũ"],
        ["Gia hạn giấy chứng nhận", "Bản sao giấy chứng nhận"],
        ["Đăng ký hộ kinh doanh", "Hộ kinh doanh chuyển địa điểm", "hộ kinh doanh"],
        ["Tạm ngừng hộ kinh doanh", "hộ kinh doanh", "hiện kiểm định"],
        ["Hồ sơ của cá nhân", "cá nhân", "cá nhân", "cá nhân"],
        ["cá nhân", "cá nhân", "cá nhân", "cá nhân", "chi nhánh"],
    ]
    table = acronyms.mine(records, min_count=3)
    assert table["GCN"]["means"] == "giấy chứng nhận"
    assert table["GCN"]["count"] == 7
    assert table["HKD"] == {"means": "hộ kinh doanh", "count": 5, "next": 1}
    assert "CN" not in table  # chứng nhận (7) / cá nhân (9) / chi nhánh: no long form dominates
    # Runs that start or end with a function word are not terms ("nhận của cá").
    assert all(not form.startswith(("của ", "và ")) for form in (e["means"] for e in table.values()))


def test_a_fragment_of_a_longer_term_is_not_a_term():
    records = [["Xuất trình giấy tờ tùy thân"]] * 6
    table = acronyms.mine(records, min_count=3)
    assert table["XTGTTT"]["means"] == "xuất trình giấy tờ tùy thân"
    assert "TGTT" not in table  # "trình giấy tờ tùy" only ever occurs inside the longer term


def test_a_run_that_straddles_a_word_is_not_a_term():
    records = [["Hồ sơ dự án đầu tư xây dựng"], ["Thẩm định dự án đầu tư công"], ["Điều chỉnh dự án đầu tư"],
               ["Bản sao sổ hộ khẩu gia đình"], ["Xóa đăng ký hộ khẩu thường trú"], ["Nộp hộ khẩu"]] * 3
    table = acronyms.mine(records, min_count=3)
    assert table["DADT"]["means"] == "dự án đầu tư"
    assert "AD" not in table  # "án đầu" cuts "dự án" and "đầu tư" in half
    assert table["HK"]["means"] == "hộ khẩu"  # "sổ | hộ khẩu": a word of its own


def test_a_segmenter_decides_the_boundaries():
    records = [["dự án đầu tư"]] * 6
    one_word_per_syllable = acronyms.mine(records, min_count=3, segment=str.split)
    assert one_word_per_syllable["AD"]["means"] == "án đầu"
    assert "AD" not in acronyms.mine(records, min_count=3, segment=lambda clause: ["dự án", "đầu tư"])


@pytest.mark.parametrize(
    "token, shouting, expected",
    [
        ("GCN", False, True),
        ("QSDĐ", False, True),
        ("hkd", False, True),  # no vowel: cannot be a Vietnamese syllable
        ("nhnn", True, True),
        ("ATTP", False, True),
        ("ATTP", True, False),  # a question typed in capitals: capitals say nothing
        ("attp", False, False),  # has a vowel and is not in capitals: may be a word
        ("ca", False, False),
        ("CÔNG", False, False),  # a letter with a diacritic other than đ: a written word
        ("X", False, False),
    ],
)
def test_which_tokens_are_written_as_abbreviations(token, shouting, expected):
    assert acronyms.looks_abbreviated(token, shouting) is expected


def test_the_rewriter_writes_abbreviations_out_for_both_retrievers():
    rewriter = QueryRewriter({}, {}, {"GCN": "giấy chứng nhận", "NHNN": "ngân hàng nhà nước", "CA": "công an",
                                      "PGD": "phòng giao dịch"})
    rq = rewriter.rewrite("Xin GCN của NHNN cho PGD mới mở")
    assert rq.lexical == "xin giay chung nhan cua ngan hang nha nuoc cho phong giao dich moi mo"
    assert rq.dense == "Xin GCN của NHNN cho PGD mới mở (giấy chứng nhận; ngân hàng nhà nước; phòng giao dịch)"
    # Teencode for another word is that word: "vk" is vợ, not an initialism.
    teen = QueryRewriter({}, {}, {"VK": "vũ khí", "HKD": "hộ kinh doanh"})
    assert teen.rewrite("vk e muốn đăng ký hkd").rewrites == (("hkd", "hộ kinh doanh"),)
    assert teen.rewrite("xin phép mang VK thể thao").rewrites == (("VK", "vũ khí"),)
    # "ca" is a syllable ("ca trực"): never expanded; "CA" in capitals is.
    assert rewriter.rewrite("lịch ca trực ở xã").rewrites == ()
    assert rewriter.rewrite("giấy ANTT ở CA tỉnh").rewrites == (("CA", "công an"),)


def test_shipped_abbreviations_expand_a_business_question():
    rq = get_rewriter().rewrite("Xin GP TGTT ví điện tử ở NHNN cần vốn bao nhiêu")
    assert ("GP", "giấy phép") in rq.rewrites
    assert ("NHNN", "ngân hàng nhà nước") in rq.rewrites
    assert "ngan hang nha nuoc" in rq.lexical


def test_the_shipped_table_is_what_the_miner_writes_from_the_shipped_records(tmp_path):
    """acronyms.yml is generated (`python -m knowledge acronyms`): it must match the records it ships with."""
    from knowledge import store

    table = acronyms.mine(list(acronyms.record_texts(p)) for p in store.load_procedures())
    path = tmp_path / "acronyms.yml"
    acronyms.write(table, path)
    assert path.read_text(encoding="utf-8") == acronyms.data_file().read_text(encoding="utf-8"), (
        "knowledge/data/acronyms.yml is stale: run `python -m knowledge acronyms`")
    assert len(table) > 1000
