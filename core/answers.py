"""Turning a structured procedure into a short answer for one aspect, readable on a phone.

Answers are in Vietnamese, or in English for foreign investors and workers; procedure and document names stay
in Vietnamese either way (they are the official names a citizen will see at the counter).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Union

ASPECTS = (
    "documents", "fee", "duration", "place", "online", "agency", "steps", "legal_basis", "conditions", "result",
)
MAX_ITEMS = 8
MAX_ITEM_CHARS = 220
MAX_BLOCK_CHARS = 700

PHRASES_FILE = Path(__file__).with_name("answer_phrases.yml")  # the fixed phrases, per language


@lru_cache(maxsize=1)
def phrases() -> dict:
    """The fixed phrases of ``answer_phrases.yml`` by language ("vi", "en"), read on first use."""
    import yaml

    return yaml.safe_load(PHRASES_FILE.read_text(encoding="utf-8"))


def _t(lang: str) -> dict:
    table = phrases()
    return table.get(lang, table["vi"])


def shorten(text: Optional[str], limit: int = MAX_ITEM_CHARS) -> str:
    """Whitespace-collapsed text cut at a word boundary with an ellipsis."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"


def vnd(amount: int, lang: str = "vi") -> str:
    """50000 -> '50.000 đồng' (Vietnamese thousands separator) or '50,000 VND'."""
    if lang == "en":
        return f"{amount:,} VND"
    return f"{amount:,}".replace(",", ".") + " đồng"


def bullet_list(
    items: Iterable[str], more_hint: str, limit: int = MAX_ITEMS, numbered: bool = False, lang: str = "vi"
) -> str:
    """A list of at most ``limit`` lines; the rest summarised with a 'xem thêm' hint."""
    items = [i for i in items if i]
    lines = [(f"{n}. " if numbered else "- ") + item for n, item in enumerate(items[:limit], 1)]
    if len(items) > limit:
        lines.append(_t(lang)["more"].format(n=len(items) - limit, what=more_hint))
    return "\n".join(lines)


def display_name(name: str) -> str:
    """'Thủ tục đăng ký khai sinh' -> 'Đăng ký khai sinh' (the portal prefixes some names)."""
    name = " ".join((name or "").split())
    if name.lower().startswith("thủ tục ") and len(name) > 12:
        name = name[8:]
    return name[:1].upper() + name[1:]


def header(proc, lang: str = "vi") -> str:
    """First line of every answer: the procedure's name and code; in English, its English name below (the
    official name stays first: it is what the counter and the portal show)."""
    line = f"**{display_name(proc.name)}** ({_t(lang)['code']} {proc.code})"
    english = english_name(proc.code) if lang == "en" else ""
    # Plain text: the web chat renders only **bold** and links, Zalo shows the text as typed.
    return f"{line}\n{english}" if english else line


def english_name(code: str) -> str:
    """The procedure's English name (knowledge/data/names_en.jsonl), or "" when it has none."""
    from knowledge.names_en import load_names

    return load_names().get(code, "")


def data_date(iso: Optional[str]) -> str:
    """'2026-12-04' -> '04/12/2026' (how dates are written in Vietnam; English answers use it too)."""
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


def footer(proc, lang: str = "vi") -> str:
    """Last lines of every answer: the source and, when known, the date of the portal data it comes from."""
    t = _t(lang)
    lines = [t["source"].format(url=proc.url or "https://dichvucong.gov.vn")]
    if getattr(proc, "updated", None):
        lines.append(t["updated"].format(date=data_date(proc.updated)))
    return "\n".join(lines)


def quantity(doc, lang: str = "vi") -> str:
    """'1 bản chính, 1 bản sao' from a document's counts."""
    t = _t(lang)
    parts = []
    if doc.originals:
        parts.append(t["original"].format(n=doc.originals))
    if doc.copies:
        parts.append(t["copy"].format(n=doc.copies))
    return ", ".join(parts)


def fee_text(fee, lang: str = "vi") -> str:
    """A fee cell as a citizen should read it; suspect source values are not stated as fact."""
    t = _t(lang)
    if fee.suspect:
        return t["fee_suspect"]
    if fee.free:
        return t["free"]
    if fee.amount_vnd:
        text = vnd(fee.amount_vnd, lang)
        if fee.detail:
            text += f" ({shorten(fee.detail, 160)})"
        return text
    if fee.text:
        return shorten(fee.text + (f" ({fee.detail})" if fee.detail else ""), 200)
    return t["no_info"]


def duration_text(duration, lang: str = "vi") -> str:
    """'5 ngày làm việc' or the portal's own text."""
    if duration.value is not None:
        value = int(duration.value) if float(duration.value).is_integer() else duration.value
        if duration.unit:
            return f"{value} {duration.unit.lower()}"
        return _t(lang)["no_unit"].format(value=value)
    return shorten(duration.text, 160) or _t(lang)["no_info"]


def _per_channel(proc, render, lang: str) -> List[str]:
    """One line per distinct value; channels sharing it are named together ("Trực tuyến, trực tiếp: ...")."""
    labels = _t(lang)["channels"]
    by_value: dict = {}
    for channel in proc.channels:
        names = by_value.setdefault(render(channel), [])
        label = labels.get(channel.kind, channel.kind)
        if label not in names:
            names.append(label)
    lines = []
    for value, names in by_value.items():
        joined = ", ".join([names[0]] + [n.lower() for n in names[1:]])
        lines.append(f"- {joined}: {value}")
    return lines


def is_note(doc) -> bool:
    """Portal "Lưu ý" paragraphs sit in the documents table but are not documents."""
    return bool(doc.group) and "lưu ý" in doc.group.lower()


_CONDITIONAL = ("trường hợp", "nếu", "đối với trường hợp", "riêng trường hợp")


def is_conditional(doc) -> bool:
    """A paper needed only in some cases ("Trường hợp trẻ em bị bỏ rơi thì ...")."""
    return doc.name.strip().lower().startswith(_CONDITIONAL)


def answer_documents(proc, lang: str = "vi") -> str:
    """Documents to submit and to show (counted papers first), notes summarised."""
    t = _t(lang)
    docs = [d for d in proc.documents if not is_note(d)]
    notes = len(proc.documents) - len(docs)
    if not docs:
        return t["no_docs"]
    blocks = []
    for section in ("submit", "show"):
        # Papers everyone brings first; "Trường hợp ..." papers (only for some cases) after them, and paragraphs
        # without a quantity (explanations) last.
        part = sorted((d for d in docs if d.section == section),
                      key=lambda d: (not (d.originals or d.copies), is_conditional(d)))
        if not part:
            continue
        items = []
        group = None
        for doc in part:
            if doc.group and doc.group != group:
                group = doc.group
                items.append(f"**{shorten(doc.group, 120)}**")
            label = shorten(doc.name)
            qty = quantity(doc, lang)
            items.append(f"{label} ({qty})" if qty else label)
        blocks.append(f"{t[section]}:\n" + bullet_list(items, t["items"], lang=lang))
    if notes:
        blocks.append(t["notes"].format(n=notes))
    return "\n".join(blocks)


def answer_fee(proc, lang: str = "vi") -> str:
    """Fee per submission channel."""
    t = _t(lang)
    lines = _per_channel(proc, lambda c: fee_text(c.fee, lang), lang)
    return t["fee_title"] + "\n" + "\n".join(lines) if lines else t["fee_none"]


def answer_duration(proc, lang: str = "vi") -> str:
    """Processing time per submission channel."""
    t = _t(lang)
    lines = _per_channel(proc, lambda c: duration_text(c.duration, lang), lang)
    return t["duration_title"] + "\n" + "\n".join(lines) if lines else t["duration_none"]


def answer_online(proc, lang: str = "vi") -> str:
    """Whether the procedure can be done online."""
    t = _t(lang)
    kinds = {c.kind for c in proc.channels}
    others = t["or"].join(t["channels"][k].lower() for k in ("in_person", "post") if k in kinds)
    if "online" in kinds:
        return t["online_yes"] + (t["online_also"].format(others=others) if others else "")
    if others:
        return t["online_no"].format(others=others)
    return t["online_none"]


def answer_agency(proc, lang: str = "vi") -> str:
    """Implementing and competent agencies."""
    t = _t(lang)
    parts = []
    if proc.agencies.implementing:
        parts.append(t["implementing"] + "; ".join(proc.agencies.implementing))
    if proc.agencies.competent:
        parts.append(t["competent"] + "; ".join(proc.agencies.competent))
    if proc.levels:
        parts.append(t["levels"] + ", ".join(proc.levels))
    return "\n".join(parts) or t["agency_none"]


def answer_place(proc, lang: str = "vi") -> str:
    """Where to submit: the portal's address, else the implementing agency, else the level."""
    t = _t(lang)
    parts = []
    if proc.submit_address:
        parts.append(t["address"] + shorten(proc.submit_address, 400))
    elif proc.agencies.implementing:
        parts.append(t["submit_at"].format(agencies="; ".join(proc.agencies.implementing)))
    elif proc.levels:
        parts.append(t["level_only"].format(levels=", ".join(lv.lower() for lv in proc.levels)))
    parts.append(answer_online(proc, lang))
    return "\n".join(parts)


def answer_steps(proc, lang: str = "vi") -> str:
    """The steps, numbered and shortened."""
    t = _t(lang)
    if not proc.steps:
        return t["steps_none"]
    steps = [shorten(s, 260) for s in proc.steps]
    return t["steps_title"] + "\n" + bullet_list(steps, t["steps_word"], limit=6, numbered=True, lang=lang)


def answer_legal_basis(proc, lang: str = "vi") -> str:
    """Legal documents with their codes."""
    t = _t(lang)
    if not proc.legal_basis:
        return t["legal_none"]
    items = [f"{shorten(lb.title, 160)}" + (f" ({lb.code})" if lb.code else "") for lb in proc.legal_basis]
    return t["legal_title"] + "\n" + bullet_list(items, t["docs_word"], limit=6, lang=lang)


def answer_conditions(proc, lang: str = "vi") -> str:
    """Conditions, shortened."""
    t = _t(lang)
    if not proc.conditions:
        return t["cond_none"]
    return t["cond_title"] + "\n" + shorten(proc.conditions, MAX_BLOCK_CHARS)


def answer_result(proc, lang: str = "vi") -> str:
    """The document the citizen receives."""
    t = _t(lang)
    names = [r.name for r in proc.results] or ([proc.result] if proc.result else [])
    if not names:
        return t["result_none"]
    return t["result_title"] + "\n" + bullet_list([shorten(n, 200) for n in names], t["results_word"], 4, lang=lang)


def answer_overview(proc, lang: str = "vi", brief: bool = False) -> str:
    """A short card: what, where, how long, how much, online or not (``brief``: without the description and the
    invitation to ask more, for one of several procedures in a reply)."""
    t = _t(lang)
    lines = []
    if proc.description and lang == "vi" and not brief:
        lines.append(shorten(proc.description, 300))
    if proc.agencies.implementing:
        lines.append(t["ov_where"] + shorten("; ".join(proc.agencies.implementing), 200))
    elif proc.levels:
        lines.append(t["ov_where"] + ", ".join(proc.levels))
    if proc.channels:
        first = next((c for c in proc.channels if c.kind == "in_person"), proc.channels[0])
        lines.append(t["ov_time"] + duration_text(first.duration, lang))
        lines.append(t["ov_fee"] + fee_text(first.fee, lang))
        online = any(c.kind == "online" for c in proc.channels)
        lines.append(t["ov_online"] + (t["yes"] if online else t["no"]))
    if not brief:
        lines.append(t["ov_more"])
    return "\n".join(lines)


RENDERERS = {
    "documents": answer_documents,
    "fee": answer_fee,
    "duration": answer_duration,
    "place": answer_place,
    "online": answer_online,
    "agency": answer_agency,
    "steps": answer_steps,
    "legal_basis": answer_legal_basis,
    "conditions": answer_conditions,
    "result": answer_result,
}


def level_line(proc, lang: str = "vi") -> str:
    """'Cấp thực hiện: Cấp tỉnh, Cấp xã' (empty when the portal names no level)."""
    return _t(lang)["levels"] + ", ".join(proc.levels) if proc.levels else ""


def format_answer(proc, aspects: Union[None, str, Sequence[str]], lang: str = "vi", brief: bool = False) -> str:
    """The full reply: name and code, one block per aspect asked (none or unknown -> overview), the level the
    procedure is handled at, and the source link. ``brief``: the overview without description (one of several
    procedures asked about in one message)."""
    if isinstance(aspects, str):
        aspects = [aspects]
    wanted = [a for a in dict.fromkeys(aspects or []) if a in RENDERERS]
    # "place" already says whether it can be done online: the separate online block would repeat it.
    if "place" in wanted and "online" in wanted:
        wanted.remove("online")
    blocks = [RENDERERS[a](proc, lang) for a in wanted] or [answer_overview(proc, lang, brief=brief)]
    if "agency" not in wanted and level_line(proc, lang):
        blocks.append(level_line(proc, lang))
    return "\n".join([header(proc, lang), *blocks, footer(proc, lang)])
