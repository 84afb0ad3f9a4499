"""Masking of citizens' personal data (phone numbers, ID numbers, e-mails, application codes) in logs.

``mask_pii`` rewrites any free text; :func:`install_pii_log_filter` makes every log record of the process
go through it, so a message such as "lookup H07.99-251120-0012 by 0912345678" is logged as
"lookup H07.99-******-0012 by 091*******".
"""

from __future__ import annotations

import logging
import re
import threading

from actions.services.appcode import APPLICATION_CODE_PATTERN, mask_code

# Vietnamese mobile/landline numbers: 0 or +84/84 followed by 9 (mobile) or 10 (landline) digits,
# possibly grouped with spaces, dots or dashes.
_PHONE_RE = re.compile(r"(?<![\w+])(?:\+?84|0)(?:[\s.\-]?\d){9,10}(?!\d)")
# Citizen ID (CCCD, 12 digits) and the old identity card (CMND, 9 digits).
_ID_RE = re.compile(r"(?<!\d)(?:\d{12}|\d{9})(?!\d)")
_EMAIL_RE = re.compile(r"(?<![\w.+-])([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)")
# The status lookup's verification factor (last four digits of the phone/ID number) as Rasa logs its slots at
# DEBUG: "status_verification: 5678", "SlotSet(key: status_verification, value: 5678)", and the remembered
# factor "verified_applications: {'H07.99-******-0012': '5678'}" (matched after the code itself is masked).
_FACTOR_RE = re.compile(
    r"(status_verification\W{1,12}(?:value:\s*)?['\"]?|-\*{6}-\d{4}['\"]?\s*:\s*['\"]?)(\d{4})(?!\d)"
)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def mask_phone(phone: str | None) -> str:
    """A phone number with only its first three digits kept ("0912345678" → "091*******").

    The last digits are never shown: the last four are a verification factor for status lookups.
    """
    digits = _digits(phone or "")
    if not digits:
        return ""
    keep = digits[:3] if len(digits) > 6 else ""
    return keep + "*" * (len(digits) - len(keep))


def mask_id(id_number: str | None) -> str:
    """An ID number with only its first three digits (the province code) kept."""
    digits = _digits(id_number or "")
    if not digits:
        return ""
    keep = digits[:3] if len(digits) > 6 else ""
    return keep + "*" * (len(digits) - len(keep))


def mask_email(email: str | None) -> str:
    """An e-mail address with the local part hidden except its first character ("an@x.vn" → "a*@x.vn")."""
    if not email or "@" not in email:
        return email or ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}{'*' * max(len(local) - 1, 1)}@{domain}"


def mask_pii(text: str | None) -> str:
    """``text`` with application codes, e-mails, phone numbers and 9/12-digit ID numbers masked."""
    if not text:
        return text or ""
    out = APPLICATION_CODE_PATTERN.sub(lambda m: mask_code(m.group(0)), text)
    out = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)), out)
    out = _PHONE_RE.sub(lambda m: mask_phone(m.group(0)), out)
    out = _ID_RE.sub(lambda m: mask_id(m.group(0)), out)
    out = _FACTOR_RE.sub(lambda m: m.group(1) + "****", out)
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
