"""Recognise one-stop-system application codes and feedback tracking codes in free text.

Application codes look like ``H07.99-251120-0012``: an agency code (a letter, two digits, a dot, two
digits), the date the application was received (YYMMDD) and a four-digit sequence. Citizens type them in
many ways ("h07.99 251120 0012", "H0799-251120-0012", "H07.99.251120.0012", "H07.99 - 251120 - 0012");
:func:`extract_application_code` returns the canonical form. Feedback codes look like ``PA-251127-0042``.
"""

from __future__ import annotations

import re

# A separator between code parts: optional spaces around at most one dot, dash (incl. Unicode dashes),
# underscore or slash.
_SEP = r"\s*[.\-_/\u2010-\u2015]?\s*"

_APP_RE = re.compile(
    rf"(?<!\w)([A-Za-z])(\d{{2}}){_SEP}(\d{{2}}){_SEP}(\d{{6}}){_SEP}(\d{{4}})(?!\d)",
)
_FEEDBACK_RE = re.compile(rf"(?<!\w)[Pp][Aa]{_SEP}(\d{{6}}){_SEP}(\d{{4}})(?!\d)")
_CANONICAL_APP_RE = re.compile(r"^[A-Z]\d{2}\.\d{2}-\d{6}-\d{4}$")


def _first_groups(pattern: re.Pattern[str], text: str | None) -> tuple[str, ...] | None:
    """The groups of the first match of ``pattern`` in ``text``, or None."""
    match = pattern.search(text) if text else None
    return match.groups() if match else None


def extract_application_code(text: str | None) -> str | None:
    """The first application code in ``text`` in canonical form ("H07.99-251120-0012"), or None."""
    groups = _first_groups(_APP_RE, text)
    if groups is None:
        return None
    letter, unit, sub, day, seq = groups
    return f"{letter.upper()}{unit}.{sub}-{day}-{seq}"


def extract_feedback_code(text: str | None) -> str | None:
    """The first feedback tracking code in ``text`` in canonical form ("PA-251127-0042"), or None."""
    groups = _first_groups(_FEEDBACK_RE, text)
    if groups is None:
        return None
    day, seq = groups
    return f"PA-{day}-{seq}"


def is_canonical_application_code(code: str) -> bool:
    """True when ``code`` is already in the canonical "H07.99-251120-0012" form."""
    return bool(_CANONICAL_APP_RE.match(code or ""))


def mask_code(code: str | None) -> str:
    """An application code safe for logs: the date part hidden ("H07.99-******-0012")."""
    if not code:
        return ""
    canonical = extract_application_code(code)
    if canonical is None:
        return "*" * len(code)
    return f"{canonical[:6]}-******-{canonical[-4:]}"


# Used by privacy.mask_pii to find codes inside arbitrary text.
APPLICATION_CODE_PATTERN = _APP_RE
# The feedback code inside arbitrary text (the feedback lookup reads the verification digits around it).
FEEDBACK_CODE_PATTERN = _FEEDBACK_RE
