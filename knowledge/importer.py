"""Parse the portal crawl (``procedures.jsonl.gz``) into schema-validated :class:`Procedure` entries.

The crawl flattens the portal's HTML tables into run-on text without separators, so each table has
its own small parser below. Text is kept verbatim apart from whitespace cleanup; "Không có thông tin"
("no information") becomes an empty value.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from knowledge.schema import (
    Agencies,
    Channel,
    Document,
    Duration,
    Fee,
    LegalBasis,
    Procedure,
    ResultDocument,
)

NO_INFO = "Không có thông tin"

# --------------------------------------------------------------------------------------------------
# generic text helpers


def clean(text: str | None) -> str | None:
    """Collapse whitespace inside lines, drop blank lines; map empty / "Không có thông tin" to None."""
    if text is None:
        return None
    lines = [re.sub(r"[ \t\u00a0\u200b]+", " ", line).strip() for line in text.replace("\r", "\n").split("\n")]
    out = "\n".join(line for line in lines if line)
    if not out or out == NO_INFO:
        return None
    return out


def clean_inline(text: str | None) -> str | None:
    """Like :func:`clean` but joins everything into a single line."""
    out = clean(text)
    return re.sub(r"\s*\n\s*", " ", out) if out else None


def split_list(text: str | None) -> list[str]:
    """Split a comma-separated list of agencies/applicants.

    Splits only on ", " followed by an upper-case letter outside parentheses, so
    "Tổ chức (không bao gồm doanh nghiệp, HTX)" and "Thuế tỉnh, thành phố" stay whole.
    """
    text = clean_inline(text)
    if not text:
        return []
    parts: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0 and i + 2 < len(text) and text[i + 1] == " " and text[i + 2].isupper():
            parts.append(text[start:i])
            start = i + 2
    parts.append(text[start:])
    seen: list[str] = []
    for part in (p.strip() for p in parts):
        if part and part != NO_INFO and part not in seen:
            seen.append(part)
    return seen


# --------------------------------------------------------------------------------------------------
# channels: "Hình thức nộpThời gianPhí, lệ phíMô tả" + rows "<kind><time><fee>(<detail>)<description>"

CHANNEL_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
KINDS = {"Trực tuyến": "online", "Trực tiếp": "in_person", "Dịch vụ bưu chính": "post"}
# A row starts with the kind label glued to the time cell (a digit or a capitalised text such as
# "Không quy định"); "Trực tiếp, qua ..." or "Trực tuyến: ..." inside descriptions is not a row.
_ROW_START = re.compile(r"(Trực tuyến|Trực tiếp|Dịch vụ bưu chính)(?=\d|[^\W\d_])")
_UNITS = "Ngày làm việc|Ngày|Giờ|Tháng|Năm|Tuần|Phút"
_TIME = re.compile(rf"(\d+(?:[.,]\d+)?) ?({_UNITS})|({NO_INFO})")
_CURRENCY = r"Việt Nam Đồng|VNĐ|VND|Đồng|đồng|USD"
_AMOUNT = re.compile(rf"(\d[\d.,]*) ?({_CURRENCY})")
_FEE_HEAD = re.compile(rf"Miễn phí|{NO_INFO}|(?:\d[\d.,]* ?(?:{_CURRENCY}))+")
_MONEY_IN_TEXT = re.compile(
    r"\d{1,3}(?:[.,]\d{3})+(?![.,/]?\d)|\d{4,}\s*(?:đ|Đ|VN)|\d{4,}\s*/\s*(?:lần|loại|chiếc|hồ sơ|giấy|tờ)"
    r"|[Mm]ức (?:thu|lệ phí|phí)|[Bb]iểu phí"
)


def _to_int_amount(digits: str) -> int | None:
    plain = re.sub(r"[.,]", "", digits)
    return int(plain) if plain.isdigit() else None


def _balanced_paren(text: str) -> int:
    """Length of the balanced "(...)" group at the start of ``text`` (0 if none / unbalanced)."""
    if not text.startswith("("):
        return 0
    depth = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return 0


def _split_glued_time_amount(digits: str) -> tuple[str, str] | None:
    """Split "120,000" (time "1" glued to amount "20,000") into ("1", "20,000").

    The portal omits the time unit in some rows so the time number runs into the amount; the split is
    a guess (the shortest time prefix leaving a well-formed amount) and the fee is marked suspect.
    """
    for cut in range(1, len(digits)):
        head, tail = digits[:cut], digits[cut:]
        if not head.isdigit() or tail[0] == "0":
            continue
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+|\d{1,3}(?:\.\d{3})+|\d+", tail):
            return head, tail
    return None


def parse_channel_row(kind_label: str, body: str) -> Channel:
    """Parse one channel row (text after the kind label up to the next row)."""
    duration = Duration()
    fee = Fee()
    rest = body
    glued = False
    m = _TIME.match(rest)
    if m and m.group(1):
        value = float(m.group(1).replace(",", "."))
        duration = Duration(value=value or None, unit=m.group(2), text=m.group(0))
        rest = rest[m.end():]
    elif m and m.group(3):
        # "Không có thông tin" twice means time and fee are both missing; once means time only when
        # a fee follows.
        after = rest[m.end():]
        if _FEE_HEAD.match(after):
            rest = after
    elif not rest[:1].isdigit():
        # free-text time cell ("Không quy định", "Không phải trả kết quả ...") up to the fee cell
        fee_at = re.search(rf"Miễn phí|{NO_INFO}|\d[\d.,]* ?(?:{_CURRENCY})", rest)
        if fee_at and fee_at.start() > 0:
            duration = Duration(text=clean_inline(rest[:fee_at.start()]) or "")
            rest = rest[fee_at.start():]
    else:
        amount = _AMOUNT.match(rest)
        bare = re.match(r"\d+(?:[.,]\d+)?", rest)
        if amount and not re.match(r"\d+(?:[.,]\d+)? ?(?:Miễn phí|Không)", rest):
            split = _split_glued_time_amount(amount.group(1))
            if split:
                glued = True
                duration = Duration(value=float(split[0]) or None, unit=None, text=split[0])
                rest = split[1] + rest[len(amount.group(1)):]
        elif bare:
            duration = Duration(value=float(bare.group(0).replace(",", ".")) or None, unit=None,
                                text=bare.group(0))
            rest = rest[bare.end():]
    fm = _FEE_HEAD.match(rest)
    if fm:
        token = fm.group(0)
        rest = rest[fm.end():]
        if token == "Miễn phí":
            fee = Fee(free=True, text=token)
        elif token == NO_INFO:
            fee = Fee(text="")
        else:
            first = _AMOUNT.search(token)
            # only VND amounts go to amount_vnd; foreign-currency fees (USD) stay in the text
            vnd = first.group(2) != "USD"
            fee = Fee(amount_vnd=_to_int_amount(first.group(1)) if vnd else None, text=token.strip())
    n = _balanced_paren(rest)
    detail = None
    if n:
        detail = clean_inline(rest[1:n - 1])
        rest = rest[n:]
    suspect = glued and not (
        detail and fee.amount_vnd and f"{fee.amount_vnd:,}".replace(",", ".") in detail)
    if fee.amount_vnd is not None and fee.amount_vnd < 1000:
        suspect = True
    if fee.free and detail and _MONEY_IN_TEXT.search(detail):
        # "Miễn phí" while the detail lists a fee schedule: the portal's default cell, not a real waiver.
        suspect = True
    fee = fee.model_copy(update={"detail": detail, "suspect": suspect})
    return Channel(kind=KINDS[kind_label], duration=duration, fee=fee, description=clean(rest))


def parse_channels(text: str | None) -> list[Channel]:
    """Parse ``cach_thuc_thuc_hien`` into channels."""
    text = (text or "").strip()
    text = text.removeprefix(CHANNEL_HEADER)
    starts = list(_ROW_START.finditer(text))
    channels = []
    starts = [m for m in starts if not text[m.end()].islower()]
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        channels.append(parse_channel_row(m.group(1), text[m.end():end]))
    return channels


# --------------------------------------------------------------------------------------------------
# documents: sections "<heading>Tên giấy tờMẫu đơn, tờ khaiSố lượng" + items "<name><form><quantity>"

DOC_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
# A quantity cell: "1 bản chính", "0 bản chính,1 bản sao" (no leading zero, unlike "01 bản chính" in
# names); not followed by a lower-case continuation (" hoặc ...") nor by another quantity.
_QTY = re.compile(
    r"(?<!\d)(0|[1-9]\d?) bản chính(?:, ?(0|[1-9]\d?) bản sao)?"
    r"(?!\d+ bản)(?![;,:])"
)
_FORM_EXT = re.compile(r"\.(?:docx|doc|pdf|xlsx|xls|zip|rar)", re.IGNORECASE)


def _form_start(s: str) -> int | None:
    """Index where a template file name glued to the end of the document name starts, or None."""
    window = max(0, len(s) - 120)
    for i in range(max(1, window), len(s)):
        a, b = s[i - 1], s[i]
        if b.isspace():
            continue
        prev2 = s[i - 2] if i >= 2 else ""
        if a in ";:":
            return i
        if a in ".)" and not (a == "." and prev2.isdigit() and b.isdigit()) and b not in ",;:).":
            return i
        if a.islower() and b.isupper():
            return i
        if a.islower() and b.isdigit() and not re.search(r"\s", s[i:]):
            return i  # "theo mẫu1.004465" but not "15m2 sàn"
        if a.isupper() and b.isupper() and i + 1 < len(s) and s[i + 1].islower() and prev2.isupper():
            return i
    return None


def _split_forms(text: str) -> tuple[str, str | None]:
    """Split "<name><file1.docx><file2.docx>" into (name, "file1.docx; file2.docx")."""
    ends = [m.end() for m in _FORM_EXT.finditer(text)]
    if not ends or ends[-1] != len(text):
        return text, None
    # everything after the first extension is a run of glued file names
    tail_files = [text[ends[i - 1]:ends[i]] for i in range(1, len(ends))]
    head = text[:ends[0]]
    stem = head[:head.rfind(".")]
    start = _form_start(stem)
    if start is None:
        name, first = stem, head
    else:
        name, first = head[:start], head[start:]
    forms = [f.strip() for f in [first, *tail_files] if f.strip()]
    return name, "; ".join(forms) if forms else None


def _strip_bullet(text: str) -> str:
    return re.sub(r"^(?:[-+*•]+\s*)+", "", text).strip()


def _section_of(heading: str | None) -> tuple[str, str | None]:
    heading = clean_inline(heading) or ""
    h = heading.strip(" -*:")
    if not h:
        return "submit", None
    low = h.lower()
    if "xuất trình" in low and len(h) < 60:
        return "show", None
    if low in ("giấy tờ phải nộp", "hồ sơ gồm", "hồ sơ bao gồm"):
        return "submit", None
    return "submit", heading


def parse_documents(text: str | None) -> list[Document]:
    """Parse ``thanh_phan_ho_so`` into documents."""
    text = text or ""
    if DOC_HEADER not in text:
        return []
    parts = text.split(DOC_HEADER)
    heading = parts[0]
    docs: list[Document] = []
    for part in parts[1:]:
        section, group = _section_of(heading)
        pos = 0
        for m in _QTY.finditer(part):
            nxt = re.match(r"\s+(\w)", part[m.end():])
            if nxt and nxt.group(1).islower():
                continue  # "1 bản chính hoặc ..." inside a name
            raw = part[pos:m.start()]
            pos = m.end()
            name, form = _split_forms(raw.strip())
            name = _strip_bullet(clean_inline(name) or "")
            if not name and form:
                name = form
            if not name:
                continue
            docs.append(Document(name=name, form=form, originals=int(m.group(1)),
                                 copies=int(m.group(2)) if m.group(2) else 0,
                                 section=section, group=group))
        heading = part[pos:]
        if parts[-1] is part and clean_inline(heading):
            # trailing item without a quantity cell
            name, form = _split_forms(heading.strip())
            docs.append(Document(name=_strip_bullet(clean_inline(name) or "") or (form or ""), form=form,
                                 section=section, group=group))
    return docs


# --------------------------------------------------------------------------------------------------
# legal basis: "Tên văn bản pháp lýMã văn bản" + pairs "<title><code>"

LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"
_CODE_START = re.compile(
    r"(?<![\d/])(?<!\d\.)(?<!QH)(?=\d{1,8}(?:\.\d{1,3})?[a-zA-Z]?/(?:\d{4}/)?[A-ZĐ])"
    r"|(?<=/(?:19|20)\d\d)(?=\d{1,4}/\d{4}/[A-ZĐ])"  # code glued to a date: "ngày 29/6/202443/2024/QH15"
    r"|(?<=QH1\d)(?=\d{1,4}/\d{4}/[A-ZĐ])"  # two law codes glued: "65/2006/QH1165/2006/QH11"
)
_CODE = re.compile(
    r"(?P<num>\d{1,8}(?:\.\d{1,3})?[a-zA-Z]?)/(?:(?P<year>\d{4})/)?(?P<suffix>[A-ZĐ][\w]*(?:[-–][\w]+)*)"
)


def _word_start(text: str, i: int) -> bool:
    """True when a new word begins at ``text[i]`` although no space precedes it ("CPLuật", "BTCquy")."""
    a = text[i]
    b = text[i + 1] if i + 1 < len(text) else ""
    c = text[i + 2] if i + 2 < len(text) else ""
    if a.isupper() and b.islower():
        return not b.isascii() or c.islower()
    if a.islower() and b.islower():
        return text[i - 2:i + 1] != "TTg" and not text[i - 1].islower()
    return False


_KNOWN_TOKENS = {
    "CP", "TTg", "BTC", "BCA", "BTP", "BXD", "BGTVT", "NHNN", "BNNPTNT", "BNNMT", "BTNMT", "BCT", "BYT",
    "BLĐTBXH", "BQP", "BNG", "BNV", "BKHĐT", "BTTTT", "BVHTTDL", "TANDTC", "VKSNDTC", "UBTVQH", "QH",
    "NQ", "QĐ", "TT", "NĐ", "TTLT", "CT", "KTNN", "BKHCN", "BGDĐT", "VPCP", "TTCP", "HĐTP", "HĐND", "UBND",
    "TCHQ", "BKH", "BTM", "BGD", "PL", "L", "NHNNVN", "BNN", "BTS", "BCN", "BLĐTB",
}


def _code_end(text: str, m: re.Match) -> int:
    """End of a code whose regex match may have swallowed the start of the next title."""
    seg_start = m.start("suffix")
    for i in range(m.start("suffix") + 1, m.end()):
        if text[i - 1] in "-–":
            seg_start = i
        if _word_start(text, i):
            token = re.sub(r"\d+$", "", text[seg_start:i + 1])
            if text[i].isupper() and token in _KNOWN_TOKENS:
                continue
            return i
    # all-caps next title glued to the code: "NĐ-CPLUẬT"
    last = re.search(r"[-–/]([^-–/]*)$", text[m.start("suffix") - 1:m.end()])
    if last:
        token = last.group(1)
        for k in range(len(token), 0, -1):
            if re.sub(r"\d+$", "", token[:k]) in _KNOWN_TOKENS:
                rest = token[k:]
                if rest and len(rest) >= 3 and rest.isupper() and (
                        not rest.isascii() or rest.startswith(("QUY", "LUAT", "NGHI", "THONG", "PHAP", "BO"))):
                    return m.end() - len(rest)
                break
    return m.end()


def _glued_boundary(text: str, lo: int, hi: int) -> int | None:
    """Last index in ``text[lo:hi]`` where a capitalised word is glued to the previous one."""
    for j in range(hi - 1, lo, -1):
        if text[j].isupper() and not text[j - 1].isspace() and (text[j - 1].islower() or text[j - 1] in ".;)")\
                and _word_start(text, j):
            return j
    return None


def _split_glued_title(item: LegalBasis) -> list[LegalBasis]:
    """Split a title that swallowed a previous pair whose code cell was not a bare code.

    "…sáng tạoNghị định số 210/2025/NĐ-CP của Chính phủLuật 04/2017/QH14" holds (title, code-cell,
    title); "Thông tư80Nghị định 59/2018/NĐ-CP" and "… khen thưởng 202206Quy định …" hold a
    truncated numeric code cell ("80", "06").
    """
    title = item.title
    m = re.search(r"(?<=[^\W\d_])(\d{1,4})(?=[A-ZĐ][^\W\d_]{2})|(?<=[ /])((?:19|20)\d\d)(\d{1,4})(?=[A-ZĐ][^\W\d_]{2})",
                  title)
    if m and m.group(1) and not title[m.start() - 1].islower():
        m = None  # "…/QH13Sửa đổi": digits ending a code, not a truncated code cell
    if m:
        head = title[:m.start()] + (m.group(2) or "")
        code = m.group(1) or m.group(3)
        rest = title[m.end():]
        return [LegalBasis(title=head.strip(), code=code), *_split_glued_title(
            LegalBasis(title=rest.strip(), code=item.code))]
    cuts = [j for j in range(1, len(title))
            if title[j].isupper() and (title[j - 1].islower() or title[j - 1] in ".)") and _word_start(title, j)]
    if len(cuts) == 2:
        first, cell, last = title[:cuts[0]], title[cuts[0]:cuts[1]], title[cuts[1]:]
        code = _CODE.search(cell)
        if code:
            return [LegalBasis(title=first.strip(), code=code.group(0)),
                    LegalBasis(title=last.strip(), code=item.code)]
    return [item]


def parse_legal_basis(text: str | None) -> list[LegalBasis]:
    """Parse ``can_cu_phap_ly`` into (title, code) pairs; codes follow their titles without separator."""
    text = (text or "").strip()
    text = text.removeprefix(LEGAL_HEADER)
    # some records run on into the next page section ("Không có thông tinCơ quan thực hiện...")
    text = text.split("Cơ quan thực hiện")[0]
    if text.strip() == NO_INFO:
        return []
    if not clean(text):
        return []
    items: list[LegalBasis] = []
    pos = 0
    starts = [m.start() for m in _CODE_START.finditer(text)]
    for k, start in enumerate(starts):
        m = _CODE.match(text, start)
        if not m or start < pos:
            continue
        num = m.group("num")
        glued_year = len(num) > 4 and re.match(r"(19|20)\d\d", num)
        prev = text[start - 1] if start else ""
        end = _code_end(text, m)
        code_col = None
        if start > pos and (prev.isspace() or prev in "(,") and not glued_year:
            # a code cited inside the title -- unless it ends the pair and the code column holds words
            # glued to the title ("Luật trồng trọtLuật 31/2018/QH14")
            at_pair_end = end == len(text) or _word_start(text, end) or text[end:end + 1].isdigit()
            code_col = _glued_boundary(text, pos, start) if at_pair_end else None
            next_title = end < len(text) and text[end].isupper() and _word_start(text, end)
            if code_col is None and (end == len(text) or next_title) and prev.isspace() and start - pos > 20:
                # code cell separated by a space: "… thương mại 22/2017/NĐ-CP" (end of table) or
                # "… thực vật 41/2013/QH13Sửa đổi …" (next title glued to the code)
                code_col = start
            if code_col is None:
                continue
        if k + 1 < len(starts) and starts[k + 1] < end:
            end = starts[k + 1]  # two codes glued together: "601/QĐ-BTC601/QĐ-BTC"
        title, code = text[pos:code_col or start], text[start:end]
        if glued_year:
            # "năm 2011" + "02/2011/QH13": the digits before "/" start with the year of the title
            title, code = title + code[:4], code[4:]
        title_c = clean_inline(title)
        items.append(LegalBasis(title=title_c or code, code=code))
        pos = end
    tail = clean_inline(text[pos:])
    if tail:
        items.append(LegalBasis(title=tail, code=None))
    items = [part for item in items for part in _split_glued_title(item)]
    # a title cell that is itself the code ("19/2018/QĐ-TTg19/2018/QĐ-TTg") yields the pair twice
    deduped: list[LegalBasis] = []
    for item in items:
        if deduped and item.title == item.code and deduped[-1].title == deduped[-1].code == item.code:
            continue
        deduped.append(item)
    return deduped


# --------------------------------------------------------------------------------------------------
# result: "<name>Mã: <code>[<name>Mã: <code>...]Từ khóa<kw>Mô tả<desc>" + portal UI noise

_UI_NOISE = re.compile(r"Chọn cơ quan thực hiện.*$", re.DOTALL)
_RESULT_CODE = re.compile(r"Mã: ?([A-Za-z0-9_.\-]+)")


def parse_result(text: str | None) -> tuple[list[ResultDocument], str | None]:
    """Parse ``ket_qua_xu_ly`` into result documents and an optional note (the "Mô tả" cell)."""
    text = _UI_NOISE.sub("", text or "").strip()
    note = None
    mt = re.search(r"Mô tả(.*)$", text, re.DOTALL)
    if mt:
        note = clean(mt.group(1))
        text = text[:mt.start()]
    text = re.sub(r"Từ khóa.*$", "", text, flags=re.DOTALL)
    if "Cơ quan thực hiện" in text or "Mã văn bản" in text:
        return [], note  # the crawler captured a neighbouring table; nothing usable
    docs: list[ResultDocument] = []
    pos = 0
    for m in _RESULT_CODE.finditer(text):
        code = m.group(1)
        end = m.end()
        for i in range(m.start(1) + 1, m.end(1)):
            if _word_start(text, i) and text[i].isupper():
                code, end = text[m.start(1):i], i  # "KQ.G04.000501Giấy ..." -> next result name
                break
        else:
            if text[end:end + 1].isalpha() and not text[end].isascii():
                continue  # "Mã: Chưa xác định" is not a code
        if code.endswith(("-", ".")):
            # "Mã: KQ.G17.000251- Thông báo ...": the dash/dot starts the next name
            end -= len(code) - len(code.rstrip("-."))
            code = code.rstrip("-.")
        name = clean_inline(text[pos:m.start()])
        if name:
            docs.append(ResultDocument(name=name, code=code))
        pos = end
    tail = clean_inline(text[pos:])
    if tail:
        docs.append(ResultDocument(name=tail, code=None))
    return docs, note


# --------------------------------------------------------------------------------------------------
# steps, related procedures


def parse_steps(text: str | None) -> list[str]:
    """Split ``trinh_tu_thuc_hien`` into steps; lines after a "Bước N" line belong to that step."""
    text = clean(text)
    if not text:
        return []
    lines = text.split("\n")
    step_re = re.compile(r"^(?:[-+*]\s*)?(?:[a-zđ]\)\s*)?Bước\s*\d+", re.IGNORECASE)
    if sum(1 for line in lines if step_re.match(line)) < 2:
        return lines
    steps: list[str] = []
    for line in lines:
        if step_re.match(line) or not steps:
            steps.append(line)
        else:
            steps[-1] += "\n" + line
    return steps


def parse_related(text: str | None) -> list[str]:
    """Parse ``thu_tuc_lien_quan`` ("#Tên thủ tục1<name>#1Tên thủ tục<name>") into procedure names."""
    text = clean_inline(text)
    if not text:
        return []
    names = re.findall(r"#Tên thủ tục\d+(.*?)#\d+Tên thủ tục", text)
    if not names:
        return [text]
    return list(dict.fromkeys(n.strip() for n in names if n.strip()))


# --------------------------------------------------------------------------------------------------
# whole record


def _repair_from_raw(rec: dict) -> dict:
    """Re-cut sections from ``raw_text`` when the crawler split on a label quoted inside a document name.

    E.g. a document "+ Kết quả xử lý hợp đồng ..." made the crawler end the documents table there and
    start the result section; the real result is after the last "Kết quả xử lý" label of the page.
    """
    raw = rec.get("raw_text") or ""
    result = rec.get("ket_qua_xu_ly") or ""
    label = "Kết quả xử lý"
    if result and "Mã:" not in result and raw.count(label) >= 2:
        rec = dict(rec)
        rec["ket_qua_xu_ly"] = raw[raw.rfind(label) + len(label):]
        start = raw.find("Thành phần hồ sơ")
        end = raw.find("Căn cứ pháp lý", start)
        if start >= 0 and end > start:
            rec["thanh_phan_ho_so"] = raw[start + len("Thành phần hồ sơ"):end]
    return rec


def parse_record(rec: dict) -> Procedure:
    """Parse one raw crawl record into a validated :class:`Procedure` (without description/aliases)."""
    from knowledge.enrich import (
        enrich,  # local import keeps importer usable without enrichment data
    )

    # Some portal texts use decomposed diacritics; NFC makes equal words compare equal.
    rec = {k: unicodedata.normalize("NFC", v) if isinstance(v, str) else v for k, v in rec.items()}
    rec = _repair_from_raw(rec)
    results, note = parse_result(rec.get("ket_qua_xu_ly"))
    proc = Procedure(
        code=rec["ma_thu_tuc"].strip(),
        name=clean_inline(rec.get("ten_thu_tuc")) or rec["ma_thu_tuc"],
        field=clean_inline(rec.get("linh_vuc")),
        levels=[lv.strip() for lv in (clean_inline(rec.get("cap_thuc_hien")) or "").split(",") if lv.strip()],
        type=clean_inline(rec.get("loai_thu_tuc")),
        decision=clean_inline(rec.get("so_quyet_dinh")),
        agencies=Agencies(
            implementing=split_list(rec.get("co_quan_thuc_hien")),
            competent=split_list(rec.get("co_quan_co_tham_quyen")),
            authorised=split_list(rec.get("co_quan_duoc_uy_quyen")),
            coordinating=split_list(rec.get("co_quan_phoi_hop")),
        ),
        submit_address=clean(rec.get("dia_chi_tiep_nhan")),
        applicants=split_list(rec.get("doi_tuong_thuc_hien")),
        channels=parse_channels(rec.get("cach_thuc_thuc_hien")),
        documents=parse_documents(rec.get("thanh_phan_ho_so")),
        steps=parse_steps(rec.get("trinh_tu_thuc_hien")),
        legal_basis=parse_legal_basis(rec.get("can_cu_phap_ly")),
        conditions=clean(re.sub(r"Từ khóa.*Mô tả.*$", "", rec.get("yeu_cau_dieu_kien") or "", flags=re.DOTALL)),
        result="; ".join(d.name for d in results) or None,
        results=results,
        result_note=note,
        related=parse_related(rec.get("thu_tuc_lien_quan")),
        url=clean_inline(rec.get("detail_url")),
        ministry=clean_inline(rec.get("_ministry_folder")),
    )
    return enrich(proc)


def iter_raw(source: Path) -> Iterator[dict]:
    """Yield raw records from a ``.jsonl`` or ``.jsonl.gz`` file."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def dump_procedure(proc: Procedure) -> str:
    """Stable JSON text for one procedure (sorted keys, indent 2, UTF-8, trailing newline)."""
    return json.dumps(proc.model_dump(mode="json"), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_all(records: Iterable[dict]) -> list[Procedure]:
    """Parse records; duplicate codes keep the first occurrence."""
    seen: dict[str, Procedure] = {}
    for rec in records:
        proc = parse_record(rec)
        seen.setdefault(proc.code, proc)
    return list(seen.values())


def import_source(source: Path, out_dir: Path | None = None) -> dict:
    """Parse ``source`` and (re)write one JSON file per procedure plus ``SOURCE.json``.

    Files are only rewritten when their content changes and files of procedures no longer in the
    source are removed, so a changed source produces a minimal diff. Returns a summary dict.
    """
    if out_dir is None:
        from knowledge.store import data_dir

        out_dir = data_dir() / "procedures"
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = parse_all(iter_raw(source))
    written = unchanged = 0
    keep: set[str] = set()
    for proc in procs:
        fname = f"{proc.code}.json"
        keep.add(fname)
        path = out_dir / fname
        text = dump_procedure(proc)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            unchanged += 1
            continue
        path.write_text(text, encoding="utf-8")
        written += 1
    removed = 0
    for path in sorted(out_dir.glob("*.json")):
        if path.name not in keep:
            path.unlink()
            removed += 1
    meta = {
        "source": source.name,
        "sha256": sha256_of(source),
        "records": len(procs),
    }
    (out_dir.parent / "SOURCE.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return {**meta, "written": written, "unchanged": unchanged, "removed": removed}


# --------------------------------------------------------------------------------------------------
# parse quality (used by scripts/parse_quality.py and `python -m knowledge quality`)

_CANONICAL_CODE = re.compile(r"\d{1,4}(?:\.\d{1,3})?[a-zA-Z]?/(?:\d{4}/)?[A-ZĐ][\wĐ]*(?:[-–][\wĐ]+)*")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text or "")


def quality_checks(rec: dict, proc: Procedure) -> dict[str, bool | None]:
    """Per-field verdicts for one record: True clean, False suspicious, None not applicable.

    "Clean" means non-empty when the source has content and consistent with ``raw_text`` (parsed text
    found verbatim, modulo whitespace, in the page text; tables fully itemised).
    """
    raw = _squash(unicodedata.normalize("NFC", rec.get("raw_text", "")))

    def in_raw(text: str | None) -> bool:
        return bool(text) and _squash(text) in raw

    def has(key: str) -> bool:
        return clean(rec.get(key)) is not None

    out: dict[str, bool | None] = {}
    out["code"] = in_raw(proc.code)
    out["name"] = in_raw(proc.name)
    for fld, key in (("field", "linh_vuc"), ("type", "loai_thu_tuc"), ("decision", "so_quyet_dinh"),
                     ("submit_address", "dia_chi_tiep_nhan"), ("conditions", "yeu_cau_dieu_kien")):
        out[fld] = in_raw(getattr(proc, fld)) if has(key) else None
    if proc.conditions is None and "Từ khóa" in (rec.get("yeu_cau_dieu_kien") or ""):
        out["conditions"] = None  # only the misplaced result-section tail, nothing to parse
    out["levels"] = bool(proc.levels) and all(in_raw(lv) for lv in proc.levels) if has("cap_thuc_hien") else None
    out["applicants"] = (bool(proc.applicants) and all(in_raw(a) for a in proc.applicants)
                         if has("doi_tuong_thuc_hien") else None)
    agencies = [a for lst in proc.agencies.model_dump().values() for a in lst]
    out["agencies"] = all(in_raw(a) for a in agencies) and bool(agencies) if any(
        has(k) for k in ("co_quan_thuc_hien", "co_quan_co_tham_quyen")) else None
    src = rec.get("cach_thuc_thuc_hien") or ""
    if clean(src.replace(CHANNEL_HEADER, "")):
        labels = len(re.findall(r"(?:Trực tuyến|Trực tiếp|Dịch vụ bưu chính)(?=\d|[^\W\d_])", src))
        out["channels"] = bool(proc.channels) and len(proc.channels) == labels and all(
            c.duration.text or c.duration.value is not None or NO_INFO in src for c in proc.channels)
    else:
        out["channels"] = None
    src = rec.get("thanh_phan_ho_so") or ""
    if DOC_HEADER in src:
        out["documents"] = bool(proc.documents) and all(
            d.originals is not None and in_raw(d.name) for d in proc.documents)
    else:
        out["documents"] = None
    out["steps"] = (bool(proc.steps) and all(in_raw(s) for s in proc.steps)) if has("trinh_tu_thuc_hien") else None
    if has("can_cu_phap_ly") and clean((rec.get("can_cu_phap_ly") or "").replace(LEGAL_HEADER, "")):
        out["legal_basis"] = bool(proc.legal_basis) and all(
            lb.code is not None and _CANONICAL_CODE.fullmatch(lb.code) is not None and in_raw(lb.title)
            for lb in proc.legal_basis)
    else:
        out["legal_basis"] = None
    if clean(rec.get("ket_qua_xu_ly")):
        out["result"] = bool(proc.results) and all(
            r.code and in_raw(r.name) and not re.search(r"Chọn cơ quan|Nộp hồ sơ|Từ khóa", r.name)
            for r in proc.results)
    else:
        out["result"] = None
    out["related"] = bool(proc.related) if has("thu_tuc_lien_quan") else None
    out["url"] = bool(proc.url and proc.url.startswith("https://dichvucong.gov.vn/"))
    return out


def quality_report(source: Path) -> dict:
    """Per-field counts of applicable / clean records and the number of suspect fees."""
    fields: dict[str, dict[str, int]] = {}
    suspect = channels = records = 0
    for rec in iter_raw(source):
        records += 1
        proc = parse_record(rec)
        for fld, verdict in quality_checks(rec, proc).items():
            slot = fields.setdefault(fld, {"applicable": 0, "clean": 0})
            if verdict is None:
                continue
            slot["applicable"] += 1
            slot["clean"] += int(bool(verdict))
        channels += len(proc.channels)
        suspect += sum(c.fee.suspect for c in proc.channels)
    for slot in fields.values():
        slot["rate"] = round(slot["clean"] / slot["applicable"], 4) if slot["applicable"] else 1.0
    return {"records": records, "fields": fields, "channels": channels, "suspect_fees": suspect}
