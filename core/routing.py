"""Routing decisions between the status lookup, the feedback form, the FAQ answers and the procedure search.

Plain functions over text and over the knowledge search's response; no Rasa import. The routing actions
(``actions/actions_routing.py``) call them, and ``scripts/eval_routing.py`` measures them.

The rules:

- The application-status form starts only when the message carries an application code or clear status
  words (:func:`is_status_request`). "Gia hạn bằng lái đổi ở đâu?" is a procedure question even if the NLU
  says ``check_application_status``.
- The feedback form starts when the message has clear feedback words (:func:`is_feedback_request`) or the search
  is not sure of a procedure (:func:`feedback_form_starts`). "Công nhận tổ chức khảo nghiệm phân bón" is a
  procedure question even if the NLU says ``file_feedback``.
- An FAQ answer is given only when the FAQ entry beats the procedure candidates in the knowledge search
  (which indexes the FAQ entries next to the procedures), or when the search's calibrated decision finds no
  procedure it could answer (:func:`faq_beats_procedures`).
- The status-change notification intents (subscribe, unsubscribe, list) are kept only when the message has words
  about notifications or following an application (:func:`is_notification_request`); "chấp thuận danh sách dự kiến
  nhân sự" is a procedure question even if the NLU says ``list_notifications``.
- A message the NLU calls out of scope, or cannot classify, is answered as a procedure question when the search is
  confident about a procedure (:func:`search_answers_procedure`); otherwise it gets the out-of-scope reply or the
  request to rephrase. A ``bot_challenge`` gets "I am a virtual assistant" only when it asks about the assistant
  (:func:`mentions_the_bot`) and the search does not answer a procedure with confidence, or the search finds no
  topic in it; otherwise it is a procedure question ("tích hợp bằng lái vào căn cước").
- A ``goodbye`` that holds more than goodbye words (:func:`is_goodbye_message`: "xây cảng biển tạm thời" is not
  "tạm biệt") is answered as a procedure question when the search is confident about one; a ``rate`` that is more
  than a rating likewise (``core.rating.is_rating_message``; actions/actions_rating.py).
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

from core.appcode import extract_application_code
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


def asks_status_outright(text: Optional[str]) -> bool:
    """True when ``text`` carries an application code, or a status phrase about the citizen's own application ("hs
    cấp đổi gplx của e sao rồi ạ", "kiểm tra hồ sơ của tôi"): enough to start the status form even when the NLU read
    the message as a procedure question. A status phrase alone is not ("muốn nộp hồ sơ trực tiếp thì đến đâu" asks
    where to go), nor the citizen's own application with a progress word (3 of the question bank's 17,706
    procedure questions read so); there the NLU decides."""
    why = status_match(text)
    return why == "code" or (why == "phrase" and bool(_OWN_RE.search(normalize_for_match(text or ""))))


# ---- feedback words -------------------------------------------------------------------------------------------
# Written like the status words: no diacritics, lowercase, teencode expanded (matched on ``normalize_for_match``).
# A feedback message (phản ánh, kiến nghị) says that the citizen wants to report or complain, or how an officer
# behaved, or describes a nuisance in their street. Words that procedure questions also use are left out or tied to
# a context:
# - "khiếu nại" and "tố cáo" are procedures too ("thủ tục giải quyết khiếu nại lần đầu", "tố cáo đối với lực lượng
#   Công an"): alone they are not clear feedback words. COMPLAINT_WORDS count only about an officer's way of
#   working or a one-stop officer (CONDUCT_TARGETS: "khiếu nại cách làm việc của cán bộ tiếp dân"), not about a
#   decision or an act ("khiếu nại quyết định xử phạt", the formal procedure); and a message with one of them that
#   asks how to lodge it (ASKS_HOW: "tố cáo cán bộ công an xã thì nộp đơn ở đâu") has no clear feedback words at all,
#   whatever else it says. In both cases the knowledge search decides: a confident answer about the complaint
#   procedure wins, otherwise the feedback form takes the complaint.
# - "kiến nghị điều chỉnh giá" is the procedure of a price-regulated business, not a citizen's feedback.
# - "góp ý (kiến)", "ý kiến" are procedures when about a plan or a draft ("góp ý kiến đối với quy chế quản lý kiến
#   trúc", "lấy ý kiến về phương án…"): "góp ý" counts unless a plan, rule or draft follows.
# - "báo cáo" (financial, environmental reports), "vi phạm" (sanctions), "ô nhiễm" ("xử lý ô nhiễm triệt để"),
#   "xả thải" (discharge permits), "đổi tiền" / "với tiền" (folded like "đòi tiền" / "vòi tiền") are not words
#   here on their own.

# The citizen's own act of reporting or complaining; the feeling of a dissatisfied citizen.
_REPORTING = (
    r"phan anh",
    r"kien nghi(?! dieu chinh gia)",
    r"pa ?kn",  # "gửi pa kn" (phản ánh kiến nghị)
    r"(?:gop y|dong gop y kien|gop y kien)"
    r"(?! (?:\w+ ){0,8}(?:quy hoach|quy che|du thao|du an|van ban|de an|phuong an))",
    r"(?:gui|co|xin|neu|nhan) (?:\w+ ){0,2}y kien "
    r"(?:dong gop|phan hoi|phan anh|gop y|ve (?:thai do|viec|tinh trang|chat luong|cach))",
    r"gui y kien",
    r"y kien phan hoi",
    r"than phien",
    r"phan nan",
    r"buc xuc",
    r"bat binh",
    r"(?:khong|chua|rat khong|het suc khong) hai long",
    r"bao cao (?:su viec|vu viec|sai pham|tinh trang|hanh vi|viec)",
    r"bao (?:cho )?(?:co quan chuc nang|chinh quyen) (?:\w+ ){0,2}(?:biet|xu ly|vao cuoc|giai quyet)",
    r"bao tinh trang",
    r"co quan chuc nang (?:\w+ ){0,3}(?:vao cuoc|xu ly|kiem tra|giai quyet|xem xet|lam ngo)",
    r"vao cuoc",
    r"de nghi (?:\w+ ){0,4}(?:xu ly nghiem|chan chinh|co bien phap (?:xu ly|ngan chan|khac phuc))",
    r"(?:submit|file|make|send) (?:a |an |my )?(?:complaint|feedback)",
    r"(?:report|complain about) (?:a |an |the )?(?:broken|rude|problem|issue|pothole|noise|officer)",
    r"feedback",
)

# How an officer or an office behaves: clear complaints on their own.
_CONDUCT = (
    r"hach dich",
    r"nhung nhieu",
    r"cua quyen",
    r"quan lieu",
    r"gay kho de",
    r"lam kho de",
    r"kho de voi",
    r"gay kho khan cho (?:nguoi dan|dan|toi|minh|em|chung toi|gia dinh)",
    r"lam kho (?:nguoi dan|dan|toi|minh|em|chung toi|gia dinh)",
    r"voi vinh",
    r"vong vo",
    r"tien (?:boi duong|ca phe|cafe|che nuoc|tra nuoc|lot tay|bo ngoai)",
    r"(?:dua|nhan|doi|an) (?:\w+ )?phong bi",
    r"lot tay",
    r"boi tron",
    r"(?:nhan|dua|an|doi|vu|tham o) hoi lo",
    r"tham nhung",
    r"(?<!tac dong )(?<!anh huong )tieu cuc",
    r"an chan (?:tien|tro cap|ho tro|luong)",
    r"bot xen",
    r"(?:doi|thu|lay) (?:them )?tien (?:ngoai (?:quy dinh|le phi)|khong (?:co )?(?:hoa don|bien lai))",
    r"(?:can bo|cb|nhan vien|cong chuc|vien chuc|cong an|canh sat|to truong|truong thon|chu tich) (?:\w+ ){0,4}"
    r"(?:doi|voi|xin|lay) (?:them )?tien",
    r"dun day",
    r"hen (?:di|len|toi) hen (?:lai|xuong|lui)",
    r"hen lan hen lua",
    r"bat (?:\w+ )?(?:di lai|chay di chay lai|chay vong|cho) (?:\w+ )?(?:nhieu|may|bao nhieu|hang chuc) lan",
    r"di lai (?:\w+ ){0,2}(?:nhieu|may|bao nhieu|hang chuc) lan (?:\w+ ){0,4}(?:van|ma|chua|khong)",
    r"(?<!sinh )thai do",
    r"coc loc",
    r"cau gat",
    r"gat gong",
    r"quat (?:thao|nat|mang)",
    r"xuc pham",
    r"thieu ton trong",
    r"thieu (?:lich su|van hoa)",
    r"bat lich su",
    r"vo van hoa",
    r"coi thuong (?:nguoi dan|dan)",
    r"to tieng (?:\w+ )?voi (?:dan|nguoi dan|toi|minh|em|me|bo)",
    r"lon tieng",
    r"lam viec rieng",
    r"di muon ve som",
    r"bo vi tri",
    r"tac trach",
    r"vo trach nhiem",
    r"thieu trach nhiem",
    r"lam ngo",
    r"bao che (?:cho|sai pham|vi pham)",
    r"sai pham",
    r"khong (?:ai|thay ai|co ai) (?:den |toi )?(?:don|sua|xu ly|giai quyet|thu gom|khac phuc|quan tam)",
    r"(?:rude|bribe|bribery|corrupt|corruption)",
)

# Nuisances in the neighbourhood, the usual subjects of a "phản ánh hiện trường".
_NUISANCE = (
    r"on ao",
    r"(?:gay|o nhiem|bi) tieng on",
    r"tieng on (?:\w+ ){0,3}(?:qua|lon|suot|ca dem|den khuya|nua dem|keo dai)",
    r"mui hoi thoi",
    r"hoi thoi (?:qua|nong nac|kinh khung|khong chiu)",
    r"boc mui",
    r"bay mui",
    r"xa rac",
    r"do trom",
    r"vut rac",
    r"rac (?:thai )?(?:\w+ )?(?:bua bai|ton dong|u dong|chat dong)",
    r"lan chiem",
    r"sut lun",
    r"(?:nhieu|co|day|toan|cai|chi chit) o (?:ga|voi)",
    r"o (?:ga|voi) (?:to|lon|sau|rat|chi chit|khap)",
    r"tha rong",
    r"mat trat tu",
    r"gay o nhiem (?:khong khi|nguon nuoc|tieng on|khu dan cu|ca|qua|lam)",
    r"xa (?:nuoc )?thai (?:\w+ ){0,2}(?:ra|xuong) (?:song|suoi|kenh|muong|ao|ho|duong|cong)",
    r"(?:den duong|duong (?:lang|lien thon|lien xa|xom|ngo)|cong thoat nuoc|cong ranh|ong nuoc) (?:\w+ ){0,3}"
    r"(?:bi )?(?:hong|vo|tac|sap|xuong cap|nut)",
    r"(?:chang|cung) (?:ai|thay ai) (?:\w+ )?(?:don|sua|xu ly|quan tam)",
)

# "khiếu nại" / "tố cáo" / "complaint": feedback words only about an officer, an office's service or its conduct.
COMPLAINT_WORDS = r"\b(?:khieu nai|to cao|to giac|complain|complaint)\b"
CONDUCT_TARGETS = (
    r"\b(?:cach (?:lam viec|phuc vu|giai quyet|tiep dan|cu xu|doi xu)|chat luong phuc vu|tinh than phuc vu)\b",
    r"\b(?:can bo|cb|cong chuc|nhan vien) (?:\w+ ){0,2}(?:mot cua|tiep nhan|tiep dan|tra ket qua)\b",
    r"\b(?:staff|clerk|service)\b",
)

# A question about the complaint or denunciation procedure itself ("tố cáo cán bộ công an xã thì bao lâu có kết
# quả", "đơn khiếu nại gửi ai"): whatever else it says, the knowledge search decides (see feedback_match).
ASKS_HOW = (
    r"\b(?:thu tuc|trinh tu|ho so (?:gom|can|khieu nai|to cao)|(?:lam|viet|gui|nop) don|don (?:khieu nai|to cao)"
    r"|mau don|o dau|bao lau|may ngay|thoi han|thoi hieu|giay to|le phi|co quan nao|cho ai|cap nao|the nao"
    r"|nhu the nao|lam sao|can gi|can nhung gi|chung cu gi|huong dan|how|where)\b"
)

FEEDBACK_PHRASES = _REPORTING + _CONDUCT + _NUISANCE

_FEEDBACK_RE = re.compile(r"\b(?:" + "|".join(FEEDBACK_PHRASES) + r")\b")
_COMPLAINT_RE = re.compile(COMPLAINT_WORDS)
_TARGET_RE = re.compile("|".join(CONDUCT_TARGETS))
_ASKS_HOW_RE = re.compile(ASKS_HOW)


def feedback_match(text: Optional[str]) -> str:
    """Why ``text`` is a feedback message: "phrase", "complaint+conduct", or "" when it has no clear feedback words."""
    if not text:
        return ""
    norm = normalize_for_match(text)
    complaint = bool(_COMPLAINT_RE.search(norm))
    if complaint and _ASKS_HOW_RE.search(norm):
        return ""  # asks how to lodge a complaint or denunciation: a procedure question unless the search is unsure
    if _FEEDBACK_RE.search(norm):
        return "phrase"
    if complaint and _TARGET_RE.search(norm):
        return "complaint+conduct"
    return ""


def is_feedback_request(text: Optional[str]) -> bool:
    """True when the message has clear feedback words: reporting or complaining ("phản ánh", "kiến nghị",
    "bức xúc"), an officer's conduct ("hách dịch", "gây khó dễ", "vòi vĩnh"), a nuisance ("ồn ào", "lấn chiếm"),
    or "khiếu nại"/"tố cáo" about an officer or a service. Matching ignores diacritics and expands teencode."""
    return bool(feedback_match(text))


def feedback_form_starts(text: Optional[str], response) -> bool:
    """Whether a message the NLU classified ``file_feedback`` starts the feedback form.

    It does when the message is a button payload ("/file_feedback", an explicit choice), has clear feedback words
    (:func:`is_feedback_request`), or when the knowledge search (``response``, ``None`` when it failed) does not
    answer a procedure with confidence (:func:`search_answers_procedure`). Otherwise the message is a procedure
    question ("công nhận tổ chức khảo nghiệm phân bón", "gp chở hàng nguy hiểm bị rách, xin cấp lại ntn") and is
    answered as one.

    The bar is the search's ``answer`` decision, as for out-of-scope messages, not the FAQ's lower bar (calibrated
    confidence ≥ :data:`PROCEDURE_OVER_FAQ`, which also lets a choice between siblings or suggestions through):
    feedback messages describe real things in the words procedures are named with (a karaoke bar, a building site,
    waste water, a tree on the pavement), so a complaint about them must not become a list of licences; and the
    NLU's intent is only overruled when the search is sure. An FAQ answer given by mistake still sits next to the
    procedures; a complaint answered with a licence is lost.
    """
    if not text or text.startswith("/") or is_feedback_request(text):
        return True
    return not search_answers_procedure(response)


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


# ---- bot-challenge words ---------------------------------------------------------------------------------------
# Matched on ``normalize_for_match``. "Máy" folds to "may" like "mấy" ("mấy ngày"), so it counts only next to a
# word about talking or answering or after "là"; "ai" only as "ai đang / ai trả lời" or "là ai" / "là AI".
BOT_PHRASES = (
    r"\b(?:chat ?bot|bot|robot|tri tue nhan tao|tro ly ao|human)\b",
    r"\bnguoi that\b",
    r"\b(?:nguoi|can bo) hay (?:la )?(?:voi )?may\b",
    r"\bmay hay nguoi\b",
    r"\b(?:la|voi|chat voi|nhan voi|noi chuyen voi) may\b",
    r"\bmay tra loi\b",
    r"\b(?:tra loi|tin nhan|nhan tin) tu dong\b",
    r"\b(?:con nguoi|phan mem)\b",
    r"\bai tao\b",
    r"\bla ai\b",
    r"\bai (?:dang |tra loi|nhan)",
    r"\bten (?:gi|la gi)\b",
)
_BOT_RE = re.compile("|".join(BOT_PHRASES))


def mentions_the_bot(text: str) -> bool:
    """Whether the message asks about the assistant itself ("bạn là người hay máy", "đây là bot à")."""
    return bool(_BOT_RE.search(normalize_for_match(text or "")))


# ---- goodbye words -----------------------------------------------------------------------------------------------
# Matched on ``normalize_for_match`` like the status words. A goodbye holds nothing else ("ok cảm ơn bot nhiều, bye");
# "xây cảng biển tạm thời" shares "tạm" with "tạm biệt" and is a procedure question.
GOODBYE_WORDS = frozenset(
    """
    tam biet bye bai goodbye pp chao hen gap lai sau nhe nha nhen a ah oke ok okay vang da cam on thanks thank
    you tks nhieu ban em anh chi minh toi tui bot ad admin tro ly ao xin phep di day the thoi vay roi nhe
    good night see later nhe cai da
    """.split()
)


def is_goodbye_message(text: str) -> bool:
    """Whether the message is only a goodbye (thanks, see you): nothing a search could answer."""
    words = normalize_for_match(text or "").split()
    return bool(words) and all(word in GOODBYE_WORDS for word in words)


# ---- notification words ---------------------------------------------------------------------------------------
# Written like the status words (matched on ``normalize_for_match``). Folded, "nhắn" (send a message) and "nhận"
# (receive) are both "nhan": "nhắn cho tôi", "nhận tin". "Báo" alone is too common ("báo cáo", "bảo hiểm" folds to
# "bao hiem"); it counts before a recipient or after "được" ("báo cho tôi", "được báo khi hồ sơ xong").
NOTIFICATION_PHRASES = (
    r"theo doi",
    r"nhan tin",
    r"tin nhan",
    r"nhan (?:cho )?(?:toi|minh|em|tui)",
    r"bao (?:cho|tin|toi|minh|em|tui|lai|giup)",
    r"duoc bao",
    r"(?:un)?subscribe",
    r"notifications?",
    r"notify",
)
# "Thông báo" also starts many procedure names ("Thông báo thành lập tổ hợp tác", "Thông báo kết quả hủy biên lai").
# It names the bot's notifications after what is done to them ("hủy giúp tôi thông báo", "tắt hết thông báo", "xem
# thông báo") or before whose they are or what they are about ("thông báo của tôi", "thông báo khi hồ sơ xong");
# alone it is only a notice word.
NOTICE_WORDS = r"(?:thong bao|tb)"
NOTICE_ACTS = r"(?:huy|tat|ngung|dung|stop|bat|xem|nhan|gui|dang ky)"
NOTICE_OWNERS = r"(?:cua|cho|toi|minh|em|tui|khi|nua|ho so|da dang ky|dang nhan)"
_NOTIFICATION_RE = re.compile(
    r"\b(?:" + "|".join(NOTIFICATION_PHRASES)
    + rf"|{NOTICE_ACTS}(?: \w+){{0,3}} {NOTICE_WORDS}|{NOTICE_WORDS} {NOTICE_OWNERS})\b"
)
_NOTICE_RE = re.compile(rf"\b{NOTICE_WORDS}\b")


def notification_match(text: Optional[str]) -> str:
    """Why ``text`` is about notifications: "phrase" (following an application, "báo cho tôi", or "thông báo" with
    what is done to them or whose they are), "notice" ("thông báo" alone), "" (none)."""
    if not text:
        return ""
    norm = normalize_for_match(text)
    if _NOTIFICATION_RE.search(norm):
        return "phrase"
    return "notice" if _NOTICE_RE.search(norm) else ""


def is_notification_request(text: Optional[str]) -> bool:
    """True when ``text`` talks about notifications or following an application ("hủy thông báo", "báo cho tôi
    khi hồ sơ xong", "tôi đang theo dõi hồ sơ nào"); diacritics ignored, teencode expanded ("huy tb")."""
    return bool(notification_match(text))


def notification_intent_kept(text: Optional[str], response) -> bool:
    """Whether a message the NLU gave a notification intent stays with it: it has clear notification words
    (:func:`notification_match` "phrase"), or "thông báo" alone and the knowledge search (``response``) does not
    answer a procedure with confidence (:func:`search_answers_procedure`): "thông báo hủy biên lai hải quan" is the
    procedure "Thông báo kết quả hủy biên lai", "có thông báo gì mới không" stays."""
    why = notification_match(text)
    return why == "phrase" or (why == "notice" and not search_answers_procedure(response))
