"""Routing decisions between the status lookup, the FAQ answers and the procedure search.

Plain functions over text and over the knowledge search's response; no Rasa import. The routing actions
(``actions/actions_routing.py``) call them, and ``scripts/eval_routing.py`` measures them.

Two rules:

- The application-status form starts only when the message carries an application code or clear status
  words (:func:`is_status_request`). "Gia hạn bằng lái đổi ở đâu?" is a procedure question even if the NLU
  says ``check_application_status``.
- An FAQ answer is given only when the FAQ entry beats the procedure candidates in the knowledge search
  (which indexes the FAQ entries next to the procedures), or when the search's calibrated decision finds no
  procedure it could answer (:func:`faq_beats_procedures`).
- A message the NLU calls out of scope, or cannot classify, is answered as a procedure question when the search
  is confident about a procedure (:func:`search_answers_procedure`); otherwise it gets the out-of-scope reply or the
  request to rephrase.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

from actions.services.appcode import extract_application_code
from nlu_components.normalize import normalize_for_match

# ---- status words ---------------------------------------------------------------------------------------------
# All phrases are written here without diacritics, lowercase and with teencode expanded, because they are matched
# against ``normalize_for_match(text)`` ("hs của e xử lý tới đâu r" -> "ho so cua em xu ly toi dau roi").
# "Hồ sơ" alone is not enough (procedure questions talk about "hồ sơ gồm những gì"), and "hs" is also the customs
# "mã HS"; a status request needs one of STATUS_PHRASES, or a reference to the citizen's own submitted application
# (OWN_APPLICATION) together with a word about its progress (PROGRESS).

HO_SO = r"(?:ho so|application)"
# Questions about an application's progress, strong enough when they follow "hồ sơ" closely.
_ASKS_PROGRESS = (
    r"(?:den|toi) dau(?: roi)?|(?:da )?(?:xong|duyet|giai quyet|xu ly|co ket qua|tra ket qua|cap) (?:xong )?chua"
    r"|(?:da )?duoc (?:duyet|giai quyet|xu ly|cap|tiep nhan) chua|da duoc duyet|sao roi|ra sao roi|the nao roi"
    r"|(?:dang )?o buoc nao|(?:toi|den) buoc nao|sao lau (?:vay|the|qua)|lau (?:vay|the|qua)"
    r"|(?:bi )?(?:qua han|tre hen|tre han)|dang (?:o|nam o) (?:dau|co quan nao)|o (?:dau|co quan nao) roi"
)

# Unambiguous on their own: looking an application up, its status, its progress.
STATUS_PHRASES = (
    rf"tra cuu (?:lai |giup |ho |tinh trang |trang thai |tien do )*{HO_SO}",
    rf"tra (?:giup|ho|dum|gium) (?:minh |toi |em )?{HO_SO}",
    rf"(?:kiem tra|ktra|check|xem|coi|theo doi) (?:lai |giup |ho |dum |gium )?(?:minh |toi |em |anh |chi )?"
    rf"(?:tinh trang |trang thai |tien do |ket qua )?{HO_SO}",
    rf"(?:tinh trang|trang thai|tien do|tien trinh) (?:xu ly |giai quyet )?(?:cua )?{HO_SO}",
    r"tra cuu tien do",
    rf"tra {HO_SO} (?:ma (?:so )?)?\d{{3}}",
    rf"(?:co|nhap|day la|la) ma {HO_SO}",
    rf"ma {HO_SO} (?:cua )?(?:toi|minh|em)\b",
    rf"{HO_SO} (?:\w+ ){{0,8}}(?:{_ASKS_PROGRESS})",
    rf"(?:da )?co ket qua {HO_SO}",
    rf"bao gio (?:co|nhan duoc|lay duoc) ket qua {HO_SO}",
    r"(?:check|track) (?:my |the )?application(?: status)?",
    r"status of (?:my|the) application",
    r"application status",
    r"where is my application",
)

# The citizen's own, already submitted application.
OWN_APPLICATION = (
    rf"{HO_SO} (?:\w+ ){{0,6}}cua (?:toi|minh|em|anh|chi|chau|con|bo|me|nha|gia dinh|ong|ba|cong ty)\b",
    rf"{HO_SO} (?:toi|minh|em)\b",
    r"\b(?:toi|minh|em|anh|chi) (?:da |vua |moi )?nop\b",
    rf"\b(?:da|vua|moi) nop (?:\w+ ){{0,2}}{HO_SO}",
    rf"{HO_SO} (?:\w+ ){{0,6}}(?:da|vua|moi) nop\b",
    r"\bnop (?:\w+ ){0,8}(?:tu )?(?:hom qua|hom kia|hom truoc|tuan truoc|thang truoc|nam truoc|may hom|may ngay"
    r"|may tuan|lau roi|tu lau)\b",
)

# Words about where an application is, whether it is done, late, approved or sent back.
PROGRESS = (
    _ASKS_PROGRESS,
    r"(?:xong|duyet|giai quyet|cap|xu ly|co ket qua|tra ket qua|ky|phe duyet) (?:\w+ )?chua",
    r"ket qua chua",
    r"(?:chua|khong) (?:thay|co|nhan duoc) ket qua",
    r"chua (?:xong|tra ket qua|duoc giai quyet|xu ly|duyet)",
    r"bao gio (?:\w+ ){0,6}(?:co|lay|nhan|tra) (?:duoc )?ket qua",
    r"bi tra (?:lai|ve)",
    r"tu choi",
    r"cham tre",
    r"sao lau",
    r"(?:bao|yeu cau) (?:can )?bo sung",
    r"tien do",
)

_STATUS_RE = re.compile(r"\b(?:" + "|".join(STATUS_PHRASES) + r")\b")
_OWN_RE = re.compile(r"(?:" + "|".join(OWN_APPLICATION) + r")")
_PROGRESS_RE = re.compile(r"\b(?:" + "|".join(PROGRESS) + r")\b")


def status_match(text: Optional[str]) -> str:
    """Why ``text`` is a status request: "code", "phrase", "own+progress", or "" when it is not one."""
    if not text:
        return ""
    if extract_application_code(text):
        return "code"
    norm = normalize_for_match(text)
    if _STATUS_RE.search(norm):
        return "phrase"
    if _OWN_RE.search(norm) and _PROGRESS_RE.search(norm):
        return "own+progress"
    return ""


def is_status_request(text: Optional[str], entities: Iterable[dict] = ()) -> bool:
    """True when the message asks about an application already submitted: it carries an application code (in the
    text or as the NLU's ``application_code`` entity) or clear status words. Matching ignores diacritics and
    expands teencode ("tra cuu ho so", "hs cua e toi dau r")."""
    # The NLU's entity also covers older code formats ("000.00.19.H07-251120-0012"): any value with 8+ digits.
    if any(e.get("entity") == "application_code" and sum(ch.isdigit() for ch in str(e.get("value") or "")) >= 8
           for e in entities or ()):
        return True
    return bool(status_match(text))


# ---- FAQ or procedure -----------------------------------------------------------------------------------------


# The calibrated probability that the search's top procedure is the one asked about, above which that procedure
# beats the NLU's FAQ intent even when the search would not answer it outright (it then asks between siblings or
# offers it among suggestions): "more likely than not a question about this procedure".
PROCEDURE_OVER_FAQ = 0.5


def faq_beats_procedures(response, procedure_over_faq: float = PROCEDURE_OVER_FAQ) -> bool:
    """Whether the FAQ answer should be given for a message the NLU classified as an FAQ.

    ``response`` is the knowledge search's response (``knowledge.search.SearchResponse``: ``no_topic``,
    ``decision``, ``confidence``, ``results`` with ``kind``). The FAQ wins when the search's top entry is an FAQ
    entry, when the message names no topic the search could place, or when the procedure candidates are weak: the
    search does not answer the top procedure and its calibrated confidence is below ``procedure_over_faq``.
    Otherwise a procedure is what the citizen asked about, and the procedure path answers (or asks between
    siblings, or suggests).
    """
    if response is None or getattr(response, "no_topic", False):
        return True
    results = list(getattr(response, "results", None) or [])
    if not results or results[0].kind == "faq":
        return True
    if getattr(response, "decision", "abstain") == "answer":
        return False
    return float(getattr(response, "confidence", 0.0) or 0.0) < procedure_over_faq


def search_answers_procedure(response) -> bool:
    """Whether a message the NLU could not place (``out_of_scope``, or below its confidence threshold) is still a
    procedure question: the knowledge search's calibrated decision answers a procedure with confidence. Only the
    ``answer`` decision counts; a clarification or suggestions would turn a real out-of-scope message (the weather,
    a joke) into a list of unrelated procedures."""
    if response is None or getattr(response, "no_topic", False):
        return False
    results = list(getattr(response, "results", None) or [])
    return bool(results) and results[0].kind == "procedure" and getattr(response, "decision", "") == "answer"
