"""Dependency-free normalisation helpers shared by the NLU tokenizer and the knowledge search."""

from __future__ import annotations

import unicodedata

import pytest

from nlu_components.normalize import (
    expand_teencode,
    expand_word,
    fold_diacritics,
    fold_with_offsets,
    load_teencode,
    match_key,
    normalize_for_match,
)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Đăng ký khai sinh", "Dang ky khai sinh"),
        ("Ðăng ký hộ kinh doanh", "Dang ky ho kinh doanh"),  # U+00D0 (Eth) looks like Đ
        ("hoá đơn và hóa đơn", "hoa don va hoa don"),
        ("Giấy chứng nhận quyền sử dụng đất", "Giay chung nhan quyen su dung dat"),
        ("Ủy ban nhân dân phường Bến Nghé", "Uy ban nhan dan phuong Ben Nghe"),
        ("mã H07.99-251120-0012, SĐT 0912 345 678", "ma H07.99-251120-0012, SDT 0912 345 678"),
    ],
)
def test_fold_diacritics(text, folded):
    assert fold_diacritics(text) == folded


def test_fold_diacritics_handles_decomposed_text():
    decomposed = unicodedata.normalize("NFD", "Lý lịch tư pháp")
    assert len(decomposed) > len("Lý lịch tư pháp")
    assert fold_diacritics(decomposed) == "Ly lich tu phap"


def test_fold_with_offsets_maps_back_to_decomposed_original():
    original = unicodedata.normalize("NFD", "Hộ tịch")  # "H", "o", U+0323, U+0302, " ", "t", "i", U+0323, ...
    folded, offsets = fold_with_offsets(original)
    assert folded == "ho tich"
    assert len(offsets) == len(folded)
    assert offsets[:3] == [0, 1, 4]  # the two combining marks after "o" produce no output
    assert original[offsets[folded.index("t")]] == "t"


def test_teencode_table_has_the_documented_entries():
    table = load_teencode()
    assert len(table) >= 60
    assert table["ko"] == table["k"] == table["hok"] == "không"
    assert table["đk"] == table["dk"] == "đăng ký"
    assert table["cccd"] == "căn cước công dân"
    assert table["gplx"] == "giấy phép lái xe"
    assert table["sdt"] == table["sđt"] == "số điện thoại"
    assert table["tthc"] == "thủ tục hành chính"
    assert table["bn"] == table["bnhiu"] == "bao nhiêu"
    assert table["ntn"] == "như thế nào"


def test_expand_word_is_case_insensitive_and_leaves_real_words():
    assert expand_word("Ko") == "không"
    assert expand_word("GPLX") == "giấy phép lái xe"
    assert expand_word("khai") == "khai"


def test_expand_teencode_only_replaces_whole_words():
    assert expand_teencode("e muốn đk cccd thì cần j") == "em muốn đăng ký căn cước công dân thì cần gì"
    assert expand_teencode("đổi gplx ntn vs mất bn tiền?") == (
        "đổi giấy phép lái xe như thế nào với mất bao nhiêu tiền?"
    )
    # "kho", "koala" and "dkm" contain keys but are not keys themselves.
    assert expand_teencode("kho bạc koala dkm") == "kho bạc koala dkm"


@pytest.mark.parametrize(
    ("typed", "expanded"),
    [
        ("cho mk hỏi làm sổ hộ nghèo ở đâu", "cho mình hỏi làm sổ hộ nghèo ở đâu"),
        ("mk quên mk vneid r", "mình quên mật khẩu vneid rồi"),
        ("Lấy lại MK tài khoản dvc ntn", "Lấy lại mật khẩu tài khoản dịch vụ công như thế nào"),
        ("mk mún đổi mk tk", "mình muốn đổi mật khẩu tài khoản"),
        ("nhà mk mất sổ đỏ", "nhà mình mất sổ đỏ"),
        ("e vs ck chưa đk kết hôn mà bé sinh r", "em với chồng chưa đăng ký kết hôn mà bé sinh rồi"),
        ("ck e ng Hàn mún nhập quốc tịch", "chồng em người Hàn muốn nhập quốc tịch"),
        ("cty ck bên e mún tăng vốn điều lệ", "công ty chứng khoán bên em muốn tăng vốn điều lệ"),
        ("cc hành nghề ck bị mất", "cc hành nghề chứng khoán bị mất"),
        ("ck tiền lệ phí rồi", "ck tiền lệ phí rồi"),
        ("vc e hiếm muộn mún nhận con nuôi", "vợ chồng em hiếm muộn muốn nhận con nuôi"),
        ("tư vấn viên nghỉ vc thì thu hồi thẻ", "tư vấn viên nghỉ việc thì thu hồi thẻ"),
        ("vk ck mk ở trọ", "vợ chồng mình ở trọ"),
        ("xin gp vận chuyển vk thể thao", "xin giấy phép vận chuyển vũ khí thể thao"),
        ("ký hđ thuê nhà r thì đk tạm trú ở đâu", "ký hợp đồng thuê nhà rồi thì đăng ký tạm trú ở đâu"),
        ("HĐ mua bán xe có cần công chứng ko", "hợp đồng mua bán xe có cần công chứng không"),
        ("tạm ngừng hđ kinh doanh", "tạm ngừng hđ kinh doanh"),
    ],
)
def test_context_senses_tell_which_meaning(typed, expanded):
    assert expand_teencode(typed) == expanded
    assert normalize_for_match(typed) == normalize_for_match(expanded)


@pytest.mark.parametrize(
    ("typed", "expanded"),
    [
        ("mn ơi cty mik mún xin gp kd dv ăn uống thì nộp hs ở đâu",
         "mọi người ơi công ty mình muốn xin giấy phép kinh doanh dịch vụ ăn uống thì nộp hồ sơ ở đâu"),
        ("h e mún lập htx thì bao lâu có kq", "giờ em muốn lập hợp tác xã thì bao lâu có kết quả"),
        ("khai thuế tncn vs gtgt cho cty tnhh ở cq nào",
         "khai thuế thu nhập cá nhân với giá trị gia tăng cho công ty trách nhiệm hữu hạn ở cơ quan nào"),
        ("mẹ e đi nc ngoài, gửi hàng qua hq có cần gp nk ko",
         "mẹ em đi nước ngoài, gửi hàng qua hải quan có cần giấy phép nhập khẩu không"),
        ("QĐ giao đất tđc ghi sai, gửi VPĐD hay ra UBND tp",
         "quyết định giao đất tái định cư ghi sai, gửi văn phòng đại diện hay ra ủy ban nhân dân thành phố"),
        ("xin cchn ccv ở sở tư pháp hay nhờ ctv",
         "xin chứng chỉ hành nghề công chứng viên ở sở tư pháp hay nhờ cộng tác viên"),
    ],
)
def test_expand_teencode_covers_the_domain_shorthand(typed, expanded):
    assert expand_teencode(typed) == expanded


def test_ambiguous_shorthand_and_syllables_are_left_alone():
    # hđ: hoạt động / hợp đồng (with no neighbour that tells); hk: không / hộ khẩu / hàng không; ls: luật sư /
    # lãi suất / liệt sĩ.
    text = "hết hđ thì chuyển hk, ls có cần đi cùng ko"
    assert expand_teencode(text) == "hết hđ thì chuyển hk, ls có cần đi cùng không"
    assert expand_teencode("hết hđ thuê nhà") == "hết hợp đồng thuê nhà"
    # Unaccented syllables that are words ("ban" bạn/bán/ban, "can" cần/căn, "con") never become keys.
    assert expand_teencode("ban can con gia ca tien") == "ban can con gia ca tien"


def test_teencode_keys_spelt_like_syllables_are_the_reviewed_few():
    """A key spelt like a Vietnamese syllable hides a word: only these, reviewed one by one, may be one."""
    from scripts.teencode_gaps import is_syllable

    assert {key for key in load_teencode() if is_syllable(key)} == {
        "e", "hông", "khum", "mún", "bít", "nhìu", "nhiu", "ny",
    }


def test_match_key_collapses_case_accents_and_spaces():
    assert match_key("  Căn  Cước công DÂN ") == "can cuoc cong dan"
    assert match_key(unicodedata.normalize("NFD", "Quyền sử dụng đất")) == "quyen su dung dat"


@pytest.mark.parametrize(
    "variant",
    [
        "Làm căn cước công dân ở đâu?",
        "lam can cuoc cong dan o dau",
        "Làm CCCD ở đâu",
        unicodedata.normalize("NFD", "làm căn cước công dân ở đâu!!"),
    ],
)
def test_normalize_for_match_unifies_variants(variant):
    assert normalize_for_match(variant) == "lam can cuoc cong dan o dau"


def test_normalize_for_match_keeps_codes_and_numbers_as_words():
    assert normalize_for_match("Hồ sơ H07.99-251120-0012 đã xong chưa ạ") == (
        "ho so h07 99 251120 0012 da xong chua a"
    )
