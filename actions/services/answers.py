"""Turning a structured procedure into a short answer for one aspect, readable on a phone."""

from __future__ import annotations

from typing import Iterable, List, Optional

ASPECTS = (
    "documents", "fee", "duration", "place", "online", "agency", "steps", "legal_basis", "conditions", "result",
)
CHANNEL_LABELS = {"online": "Trực tuyến", "in_person": "Trực tiếp", "post": "Qua bưu chính"}
MAX_ITEMS = 8
MAX_ITEM_CHARS = 220
MAX_BLOCK_CHARS = 700


def shorten(text: Optional[str], limit: int = MAX_ITEM_CHARS) -> str:
    """Whitespace-collapsed text cut at a word boundary with an ellipsis."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(",;:.")
    return cut + "…"


def vnd(amount: int) -> str:
    """50000 -> '50.000 đồng' (Vietnamese thousands separator)."""
    return f"{amount:,}".replace(",", ".") + " đồng"


def bullet_list(items: Iterable[str], more_hint: str, limit: int = MAX_ITEMS, numbered: bool = False) -> str:
    """A list of at most ``limit`` lines; the rest summarised with a 'xem thêm' hint."""
    items = [i for i in items if i]
    lines = [(f"{n}. " if numbered else "- ") + item for n, item in enumerate(items[:limit], 1)]
    if len(items) > limit:
        lines.append(f"… và {len(items) - limit} {more_hint} khác (xem thêm ở đường dẫn bên dưới).")
    return "\n".join(lines)


def display_name(name: str) -> str:
    """'Thủ tục đăng ký khai sinh' -> 'Đăng ký khai sinh' (the portal prefixes some names)."""
    name = " ".join((name or "").split())
    if name.lower().startswith("thủ tục ") and len(name) > 12:
        name = name[8:]
    return name[:1].upper() + name[1:]


def header(proc) -> str:
    """First line of every answer: the procedure's name and code."""
    return f"**{display_name(proc.name)}** (mã thủ tục {proc.code})"


def footer(proc) -> str:
    """Last line of every answer: the source."""
    url = proc.url or "https://dichvucong.gov.vn"
    return f"Nguồn: Cổng Dịch vụ công quốc gia — {url}"


def quantity(doc) -> str:
    """'1 bản chính, 1 bản sao' from a document's counts."""
    parts = []
    if doc.originals:
        parts.append(f"{doc.originals} bản chính")
    if doc.copies:
        parts.append(f"{doc.copies} bản sao")
    return ", ".join(parts)


def fee_text(fee) -> str:
    """A fee cell as a citizen should read it; suspect source values are not stated as fact."""
    if fee.suspect:
        return "chưa xác định rõ trên Cổng (vui lòng xem chi tiết tại đường dẫn hoặc hỏi Bộ phận Một cửa)"
    if fee.free:
        return "Miễn phí"
    if fee.amount_vnd:
        text = vnd(fee.amount_vnd)
        if fee.detail:
            text += f" ({shorten(fee.detail, 160)})"
        return text
    if fee.text:
        return shorten(fee.text + (f" ({fee.detail})" if fee.detail else ""), 200)
    return "Cổng chưa có thông tin"


def duration_text(duration) -> str:
    """'5 ngày làm việc' or the portal's own text."""
    if duration.value is not None:
        value = int(duration.value) if float(duration.value).is_integer() else duration.value
        if duration.unit:
            return f"{value} {duration.unit.lower()}"
        return f"{value} (Cổng không ghi rõ đơn vị thời gian)"
    return shorten(duration.text, 160) or "Cổng chưa có thông tin"


def _per_channel(proc, render) -> List[str]:
    lines = []
    seen = set()
    for channel in proc.channels:
        line = f"- {CHANNEL_LABELS.get(channel.kind, channel.kind)}: {render(channel)}"
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return lines


def is_note(doc) -> bool:
    """Portal "Lưu ý" paragraphs sit in the documents table but are not documents."""
    return bool(doc.group) and "lưu ý" in doc.group.lower()


def answer_documents(proc) -> str:
    """Documents to submit and to show (counted papers first), notes summarised."""
    docs = [d for d in proc.documents if not is_note(d)]
    notes = len(proc.documents) - len(docs)
    if not docs:
        return "Cổng chưa công bố thành phần hồ sơ của thủ tục này."
    blocks = []
    for section, title in (("submit", "Giấy tờ phải nộp"), ("show", "Giấy tờ phải xuất trình")):
        # Papers with a quantity are the ones to bring; "Trường hợp ..." paragraphs without one explain cases.
        part = sorted((d for d in docs if d.section == section), key=lambda d: not (d.originals or d.copies))
        if not part:
            continue
        items = []
        group = None
        for doc in part:
            if doc.group and doc.group != group:
                group = doc.group
                items.append(f"**{shorten(doc.group, 120)}**")
            label = shorten(doc.name)
            qty = quantity(doc)
            items.append(f"{label} ({qty})" if qty else label)
        blocks.append(f"{title}:\n" + bullet_list(items, "mục"))
    if notes:
        blocks.append(f"Cổng còn nêu {notes} lưu ý về hồ sơ (xem ở đường dẫn bên dưới).")
    return "\n".join(blocks)


def answer_fee(proc) -> str:
    """Fee per submission channel."""
    lines = _per_channel(proc, lambda c: fee_text(c.fee))
    return "Phí, lệ phí:\n" + "\n".join(lines) if lines else "Cổng chưa có thông tin về phí, lệ phí."


def answer_duration(proc) -> str:
    """Processing time per submission channel."""
    lines = _per_channel(proc, lambda c: duration_text(c.duration))
    return "Thời hạn giải quyết:\n" + "\n".join(lines) if lines else "Cổng chưa có thông tin về thời hạn giải quyết."


def answer_online(proc) -> str:
    """Whether the procedure can be done online."""
    kinds = {c.kind for c in proc.channels}
    others = [CHANNEL_LABELS[k].lower() for k in ("in_person", "post") if k in kinds]
    if "online" in kinds:
        text = "Thủ tục này **có thể nộp trực tuyến** trên Cổng Dịch vụ công (đăng nhập bằng tài khoản VNeID)."
        if others:
            text += " Ngoài ra có thể nộp " + " hoặc ".join(others) + "."
        return text
    if others:
        return "Thủ tục này **chưa hỗ trợ nộp trực tuyến**; bạn nộp " + " hoặc ".join(others) + "."
    return "Cổng chưa có thông tin về cách thức nộp hồ sơ của thủ tục này."


def answer_agency(proc) -> str:
    """Implementing and competent agencies."""
    parts = []
    if proc.agencies.implementing:
        parts.append("Cơ quan thực hiện: " + "; ".join(proc.agencies.implementing))
    if proc.agencies.competent:
        parts.append("Cơ quan có thẩm quyền: " + "; ".join(proc.agencies.competent))
    if proc.levels:
        parts.append("Cấp thực hiện: " + ", ".join(proc.levels))
    return "\n".join(parts) or "Cổng chưa có thông tin về cơ quan thực hiện."


def answer_place(proc) -> str:
    """Where to submit: the portal's address, else the implementing agency and channels."""
    parts = []
    if proc.submit_address:
        parts.append("Nơi tiếp nhận: " + shorten(proc.submit_address, 400))
    elif proc.agencies.implementing:
        parts.append("Nộp tại: " + "; ".join(proc.agencies.implementing) + " (Bộ phận Một cửa).")
    elif proc.levels:
        parts.append(
            "Thủ tục thực hiện ở " + ", ".join(lv.lower() for lv in proc.levels)
            + "; Cổng chưa ghi cụ thể cơ quan tiếp nhận."
        )
    parts.append(answer_online(proc))
    return "\n".join(parts)


def answer_steps(proc) -> str:
    """The steps, numbered and shortened."""
    if not proc.steps:
        return "Cổng chưa công bố trình tự thực hiện của thủ tục này."
    return "Trình tự thực hiện:\n" + bullet_list([shorten(s, 260) for s in proc.steps], "bước", limit=6, numbered=True)


def answer_legal_basis(proc) -> str:
    """Legal documents with their codes."""
    if not proc.legal_basis:
        return "Cổng chưa công bố căn cứ pháp lý của thủ tục này."
    items = [f"{shorten(lb.title, 160)}" + (f" ({lb.code})" if lb.code else "") for lb in proc.legal_basis]
    return "Căn cứ pháp lý:\n" + bullet_list(items, "văn bản", limit=6)


def answer_conditions(proc) -> str:
    """Conditions, shortened."""
    if not proc.conditions:
        return "Cổng không nêu yêu cầu, điều kiện riêng cho thủ tục này."
    return "Yêu cầu, điều kiện:\n" + shorten(proc.conditions, MAX_BLOCK_CHARS)


def answer_result(proc) -> str:
    """The document the citizen receives."""
    names = [r.name for r in proc.results] or ([proc.result] if proc.result else [])
    if not names:
        return "Cổng chưa công bố kết quả thực hiện của thủ tục này."
    return "Kết quả bạn nhận được:\n" + bullet_list([shorten(n, 200) for n in names], "kết quả", limit=4)


def answer_overview(proc) -> str:
    """A short card: what, where, how long, how much, online or not."""
    lines = []
    if proc.description:
        lines.append(shorten(proc.description, 300))
    if proc.agencies.implementing:
        lines.append("- Nơi thực hiện: " + shorten("; ".join(proc.agencies.implementing), 200))
    if proc.channels:
        first = next((c for c in proc.channels if c.kind == "in_person"), proc.channels[0])
        lines.append("- Thời hạn: " + duration_text(first.duration))
        lines.append("- Phí, lệ phí: " + fee_text(first.fee))
        online = any(c.kind == "online" for c in proc.channels)
        lines.append("- Nộp trực tuyến: " + ("có" if online else "chưa hỗ trợ"))
    lines.append("Bạn có thể hỏi tiếp: cần giấy tờ gì, nộp ở đâu, mất bao lâu, phí bao nhiêu, các bước thực hiện.")
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


def format_answer(proc, aspect: Optional[str]) -> str:
    """The full reply for ``aspect`` (None or unknown -> overview), with name, code and source."""
    body = RENDERERS.get(aspect or "", answer_overview)(proc)
    return f"{header(proc)}\n{body}\n{footer(proc)}"
