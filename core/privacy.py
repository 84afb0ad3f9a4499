"""Masking of citizens' personal data (phone numbers, ID numbers, e-mails, application codes, names).

This module is the ONE pattern set for personal data: the log filter (:func:`install_pii_log_filter`), the
console's analytics, the retention job and the Rasa tokenizer (``PHONE_PATTERN``/``ID_PATTERN`` keep a phone or
ID number as one token) all use it. ``mask_pii`` rewrites any free text, e.g. "lookup H07.99-251120-0012 by
sdt0912345678" → "lookup H07.99-******-0012 by sdt091*******".

Numbers that look like personal ones but are not — procedure codes ("1.001234", "1.001234.000.00.00.H01"),
amounts of money ("1.500.000 đồng"), dates ("27/11/2025", "2025-11-27") — are matched first and kept as they are.
"""

from __future__ import annotations

import logging
import re
import threading

from core.appcode import APPLICATION_CODE_PATTERN, FEEDBACK_CODE_PATTERN, mask_code

# One separator inside a grouped number: a space, a dot or a dash ("0912 345 678", "0912.345.678", "0912-345-678").
_SEP = r"[ .\-]"
# Vietnamese mobile/landline numbers: 0 or +84/84 followed by 9 (mobile) or 10 (landline) digits, grouped freely;
# the carrier/area code may be in parentheses ("(091) 234-5678", "(0222) 3821 234", "(+84) 912 345 678"). Letters
# may touch it ("sdt0912345678", "SĐT:0912345678"); digits, "+" or a mask "*" may not.
PHONE_PATTERN = (
    r"(?<![\d+*])(?:"
    r"\(\s*0\d{2,3}\s*\)\s?(?:" + _SEP + r"?\d){7,8}"
    r"|\(\s*\+?84\s*\)\s?(?:" + _SEP + r"?\d){9,10}"
    r"|(?:\+\s?84|84|0)(?:" + _SEP + r"?\d){9,10}"
    r")(?!\d)"
)
# Citizen ID (CCCD, 12 digits) and the old identity card (CMND, 9 digits): unbroken, or grouped by spaces/dashes
# ("0010 9900 1234", "001 099 001 234", "125 678 901"); 12 digits in groups of four or three may also use dots.
# Nine digits in dotted groups of three are an amount of money ("150.000.000"), not an ID.
ID_PATTERN = (
    r"(?<![\d*])(?:"
    r"\d{12}|\d{9}"
    r"|\d{4}[ .\-]\d{4}[ .\-]\d{4}"
    r"|\d{3}[ .\-]\d{3}[ .\-]\d{3}[ .\-]\d{3}"
    r"|\d{3}[ \-]\d{3}[ \-]\d{3}"
    r")(?!\d)"
)
_EMAIL_PATTERN = r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
# Look-alikes that must stay: procedure codes, money, dates. Tried before the personal patterns at each position.
_KEEP_PATTERN = (
    r"(?<![\w.])\d\.\d{6}(?:\.\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})?(?![\d.]\d)"
    r"|(?<![\d.,])\d{1,3}(?:[.,]\d{3})+(?:,\d+)?\s*(?:đồng|đ|vnđ|vnd|VNĐ|VND|nghìn|ngàn|triệu|tỷ)(?!\w)"
    r"|(?<![\d.])\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})(?![\d.])"
    r"|(?<![\d.])\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}(?![\d.])"
)
_PII_RE = re.compile(
    rf"(?P<keep>{_KEEP_PATTERN})|(?P<email>{_EMAIL_PATTERN})|(?P<phone>{PHONE_PATTERN})|(?P<id>{ID_PATTERN})"
)
# An ID number written with a label may also use dots in groups of three ("CMND 125.678.901").
_LABELLED_ID_RE = re.compile(
    r"(?i:(?:cccd|cmnd|cmt|căn cước|chứng minh(?: nhân dân)?|định danh)(?:\s*(?:số|là))?\s*[:.]?\s*)"
    r"(?P<number>(?<![\d*])\d{3}\.\d{3}\.\d{3}(?!\d))"
)
# Vietnamese names. No pattern finds every name, so two kinds of place are recognised: after a label ("người nộp:",
# "họ và tên:", "tên tôi là", "tôi tên là" — the bot's status answer and citizens introducing themselves) and a
# capitalised run after one of the common family names (which cover most of the population): "Nguyễn Văn An".
_NAME_WORD = r"[^\W\d_]+"
_NAME_LABEL_RE = re.compile(
    r"(?i:\b(?:người nộp|người đứng tên|chủ hồ sơ|họ và tên|họ tên|tên người nộp|tên tôi là|tên của tôi là|"
    r"tôi tên là|tên em là|em tên là|tên cháu là|cháu tên là|tên mình là|mình tên là))"
    rf"(?P<gap>\s*[:\-]?\s*)(?P<name>{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,3}})"
)
_FAMILY_NAMES = (
    "Nguyễn|Trần|Lê|Phạm|Hoàng|Huỳnh|Phan|Vũ|Võ|Đặng|Bùi|Đỗ|Hồ|Ngô|Dương|Lý|Đào|Đoàn|Vương|Trịnh|Trương|Lâm|"
    "Phùng|Mai|Tô|Hà|Tạ|Quách|Lương|Đinh|Cao|Chu|Lưu|Thân|Kiều|Nghiêm|Triệu|Đàm|Khúc|Lại|Tăng"
)
_FAMILY_RE = re.compile(rf"(?<!\w)(?:{_FAMILY_NAMES})(?:[ \t]+{_NAME_WORD}){{1,3}}")
# Places and phrases that start like a name (compared lower-case, on the first two or three words).
_NOT_NAMES = frozenset({
    "hồ chí minh", "hồ sơ", "hà nội", "hà nam", "hà tĩnh", "hà giang", "cao bằng", "lâm đồng", "hoàng sa",
    "phan thiết", "phan rang", "cao lãnh", "lý sơn", "tô lịch", "mai châu", "hà đông", "đinh bộ lĩnh",
    "cao đẳng", "cao học", "đào tạo", "vũ trang", "đoàn thanh niên", "đoàn viên", "lâm nghiệp", "lương hưu",
})
# A family-name run right after one of these is a street, a school or a place named after someone ("số 12 Lý Thái
# Tổ", "đường Trần Hưng Đạo", "trường Nguyễn Du"), not a citizen's name.
_PLACE_BEFORE_RE = re.compile(
    r"(?i:(?:đường|phố|ngõ|ngách|hẻm|phường|xã|quận|huyện|tỉnh|thị trấn|thành phố|tp\.?|trường|chợ|cầu|khu|"
    r"công viên|số\s*\d+\w?|\d+\w?))\s*[,:]?\s*$"
)
# Words that end a lower-case name typed after a label ("tôi tên là lan muốn hỏi...").
_NAME_STOP = frozenset({
    "muốn", "cần", "hỏi", "xin", "ở", "đang", "có", "làm", "thì", "và", "nhé", "ạ", "nha", "sđt", "sdt", "số",
    "điện", "đt", "cccd", "cmnd", "email", "mail", "sinh", "nộp", "tra", "cho", "của", "đã", "bị",
})
MASKED_NAME = "***"
# The status lookup's verification factor (last four digits of the phone/ID number) as Rasa logs its slots at
# DEBUG: "status_verification: 5678", "SlotSet(key: status_verification, value: 5678)", and the remembered
# factor "verified_applications: {'H07.99-******-0012': '5678'}" (matched after the code itself is masked).
_FACTOR_RE = re.compile(
    r"(status_verification\W{1,12}(?:value:\s*)?['\"]?|-\*{6}-\d{4}['\"]?\s*:\s*['\"]?)(\d{4})(?!\d)"
)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _mask_digits(text: str | None) -> str:
    """The digits of ``text``, all hidden but the first three (all hidden when there are six or fewer)."""
    digits = _digits(text or "")
    keep = digits[:3] if len(digits) > 6 else ""
    return keep + "*" * (len(digits) - len(keep))


def mask_phone(phone: str | None) -> str:
    """A phone number with only its first three digits kept ("0912345678" → "091*******").

    The last digits are never shown: the last four are a verification factor for status lookups.
    """
    return _mask_digits(phone)


def mask_id(id_number: str | None) -> str:
    """An ID number with only its first three digits (the province code) kept."""
    return _mask_digits(id_number)


def mask_email(email: str | None) -> str:
    """An e-mail address with the local part hidden except its first character ("an@x.vn" → "a*@x.vn")."""
    if not email or "@" not in email:
        return email or ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}{'*' * max(len(local) - 1, 1)}@{domain}"


def _is_title(word: str) -> bool:
    return word[:1].isupper() and (len(word) == 1 or word[1:].islower())


def _mask_labelled_name(match: re.Match) -> str:
    words = match.group("name").split()
    if _is_title(words[0]):
        taken = 1
        while taken < len(words) and _is_title(words[taken]):
            taken += 1
    else:
        taken = 0
        while taken < len(words) and words[taken].lower() not in _NAME_STOP:
            taken += 1
    if taken == 0:
        return match.group(0)
    rest = match.group("name").split(maxsplit=taken)
    tail = " " + rest[taken] if len(rest) > taken else ""
    head = match.group(0)[: match.start("name") - match.start()]
    return head + MASKED_NAME + tail


def _mask_family_name(match: re.Match) -> str:
    if _PLACE_BEFORE_RE.search(match.string[max(0, match.start() - 24): match.start()]):
        return match.group(0)
    words = match.group(0).split()
    taken = 1
    while taken < len(words) and _is_title(words[taken]):
        taken += 1
    if taken < 2:
        return match.group(0)
    lowered = [w.lower() for w in words[:taken]]
    if any(" ".join(lowered[:n]) in _NOT_NAMES for n in range(2, taken + 1)):
        return match.group(0)
    rest = match.group(0).split(maxsplit=taken)
    return MASKED_NAME + (" " + rest[taken] if len(rest) > taken else "")


def mask_names(text: str | None) -> str:
    """``text`` with Vietnamese names after a label or starting with a common family name replaced by "***".

    "Hồ sơ ... (người nộp: Nguyễn Văn An)." → "Hồ sơ ... (người nộp: ***)."; "tôi tên là lan, ..." → "tôi tên là
    ***, ..."; places such as "Hồ Chí Minh" or "Hà Nội" stay.
    """
    if not text:
        return text or ""
    out = _NAME_LABEL_RE.sub(_mask_labelled_name, text)
    return _FAMILY_RE.sub(_mask_family_name, out)


def _mask_match(match: re.Match) -> str:
    kind = match.lastgroup
    value = match.group(0)
    if kind == "email":
        return mask_email(value)
    if kind == "phone":
        return mask_phone(value)
    if kind == "id":
        return mask_id(value)
    return value  # "keep": a procedure code, an amount of money or a date


def mask_numbers(text: str | None) -> str:
    """``text`` with application codes, e-mails, phone numbers and ID numbers masked (names left as they are)."""
    if not text:
        return text or ""
    out = APPLICATION_CODE_PATTERN.sub(lambda m: mask_code(m.group(0)), text)
    out = _PII_RE.sub(_mask_match, out)
    out = _LABELLED_ID_RE.sub(lambda m: m.group(0)[: m.start("number") - m.start()] + mask_id(m.group("number")),
                              out)
    return _FACTOR_RE.sub(lambda m: m.group(1) + "****", out)


def mask_pii(text: str | None) -> str:
    """``text`` with application codes, e-mails, phone and ID numbers, the verification factor and names masked.

    The one masking function of logs, analytics and retention; masked text masks to itself.
    """
    return mask_names(mask_numbers(text))


# The bot asking for the status lookup's verification factor ("... nhập 4 chữ số cuối của số điện thoại ...").
_ASKS_FACTOR_RE = re.compile(r"(?i)(?<!\d)4\s+(?:chữ\s+)?số\s+cuối")
_ANY_DIGIT_RE = re.compile(r"\d")


# Requests that may carry a verification factor typed next to the code ("tra cứu phản ánh PA-251127-0042, 4 số cuối
# 5678"): every digit outside the codes in them is a secret.
LOOKUP_INTENTS = frozenset({"check_feedback_status", "check_application_status"})
# Codes whose digits are not secret: application codes (also already masked, "H07.99-******-0012") and PA codes.
_CODES_RE = re.compile("|".join((APPLICATION_CODE_PATTERN.pattern, FEEDBACK_CODE_PATTERN.pattern,
                                 r"(?<!\w)[A-Za-z]\d{2}\.\d{2}-\*{6}-\d{4}(?!\d)")))


def hide_digits_outside_codes(text: str | None) -> str:
    """``text`` with every digit that is not part of an application or feedback code replaced by "*"."""
    if not text:
        return text or ""
    out, last = [], 0
    for match in _CODES_RE.finditer(text):
        out.append(_ANY_DIGIT_RE.sub("*", text[last:match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_ANY_DIGIT_RE.sub("*", text[last:]))
    return "".join(out)


def asks_for_verification_digits(bot_text: str | None) -> bool:
    """Whether a bot message asks the citizen for the last four digits of their phone or ID number."""
    return bool(_ASKS_FACTOR_RE.search(bot_text or ""))


def hide_verification_replies(messages: list[dict]) -> list[dict]:
    """A transcript (items {"role": "user"|"bot", "text": ..., "intent": ...}) with every digit of the citizen's
    reply to a question for the verification digits replaced by "*" ("5678" → "****"), and every digit outside the
    codes of a lookup request (:data:`LOOKUP_INTENTS`): secrets, whatever their spelling."""
    out: list[dict] = []
    asked = False
    for item in messages:
        if not isinstance(item, dict):
            out.append(item)
            continue
        role, text = item.get("role"), item.get("text")
        if role == "user" and asked and isinstance(text, str):
            item = {**item, "text": _ANY_DIGIT_RE.sub("*", text)}
        elif role == "user" and item.get("intent") in LOOKUP_INTENTS and isinstance(text, str):
            item = {**item, "text": hide_digits_outside_codes(text)}
        if role in ("user", "bot"):
            asked = role == "bot" and asks_for_verification_digits(text if isinstance(text, str) else "")
        out.append(item)
    return out


class PiiLogFilter(logging.Filter):
    """A logging filter that masks personal data in the formatted message of every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: D401 - logging API
        """Rewrite the record's message with :func:`mask_pii`; never drops a record."""
        _mask_record(record)
        return True


def _mask_record(record: logging.LogRecord) -> None:
    if getattr(record, "_pii_masked", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: leave it for the logging module to report
        return
    record.msg = mask_pii(message)
    record.args = None
    if record.exc_text:
        record.exc_text = mask_pii(record.exc_text)
    record._pii_masked = True


_install_lock = threading.Lock()
_installed = False


def install_pii_log_filter() -> None:
    """Mask personal data in every log record of this process (idempotent).

    Wraps the log-record factory, so records are masked whichever logger or handler (also ones configured
    later, e.g. by the action server's CLI) emits them; also adds :class:`PiiLogFilter` to the root
    logger's current handlers.
    """
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _mask_record(record)
            return record

        logging.setLogRecordFactory(factory)
        for handler in logging.getLogger().handlers:
            if not any(isinstance(f, PiiLogFilter) for f in handler.filters):
                handler.addFilter(PiiLogFilter())
        _installed = True
