"""Seed the status database with a few thousand realistic synthetic applications (`make seed-demo`).

Deterministic (seeded RNG, procedures sorted by code, explicit anchor date) and idempotent: when the demo
data is already there nothing is written (``--reset`` replaces it). Procedure codes/names and processing
times come from the knowledge base; codes look like the one-stop system's ("H07.99-251120-0012"). The
applicant's phone and ID number are stored for verification only. A few (code, last-4) pairs to try are
printed and written to ``var/demo_applications.txt``.

Usage: python scripts/seed_demo.py [--count 3000] [--seed 20251127] [--anchor 2025-11-27] [--reset]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.db import VN_TZ, Database, database_from_settings, now_vn  # noqa: E402
from core.office_hours import add_working_days, is_working_day  # noqa: E402
from core.status import models as st  # noqa: E402
from core.status.models import STATUSES, ApplicationStatus, StatusEvent  # noqa: E402
from core.status.sql import SqlStatusBackend  # noqa: E402

SOURCE = "demo"
META_KEY = "demo_seed"
DEFAULT_COUNT = 3000
DEFAULT_SEED = 20251127
DAYS_BACK = 120

PROVINCE = "tỉnh Bắc Ninh"
CENTER = "Trung tâm Phục vụ hành chính công tỉnh Bắc Ninh"
CENTER_CODE = "H07.99"
# (unit code, commune-level one-stop desk) — synthetic unit codes, real place names of Bắc Ninh.
COMMUNES: tuple[tuple[str, str], ...] = (
    ("H07.01", "phường Kinh Bắc"), ("H07.02", "phường Võ Cường"), ("H07.03", "phường Vũ Ninh"),
    ("H07.04", "phường Hạp Lĩnh"), ("H07.05", "phường Nam Sơn"), ("H07.06", "phường Từ Sơn"),
    ("H07.07", "phường Tam Sơn"), ("H07.08", "phường Đồng Nguyên"), ("H07.09", "phường Phù Khê"),
    ("H07.10", "phường Thuận Thành"), ("H07.11", "phường Quế Võ"), ("H07.12", "xã Tiên Du"),
    ("H07.13", "xã Yên Phong"), ("H07.14", "xã Gia Bình"), ("H07.15", "xã Lương Tài"), ("H07.16", "xã Phật Tích"),
)
# Field keyword → provincial department processing the file.
DEPARTMENTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("hộ tịch", "chứng thực", "công chứng", "luật sư", "quốc tịch", "lý lịch tư pháp", "nuôi con nuôi",
      "trợ giúp pháp lý", "đấu giá", "giám định", "hòa giải", "thừa phát lại"), "Sở Tư pháp"),
    (("đất đai", "môi trường", "khoáng sản", "tài nguyên nước", "đo đạc", "nông nghiệp", "thú y", "trồng trọt",
      "chăn nuôi", "thủy sản", "lâm nghiệp", "thủy lợi", "khí tượng", "biển"), "Sở Nông nghiệp và Môi trường"),
    (("doanh nghiệp", "đầu tư", "đấu thầu", "hợp tác xã", "tài chính", "giá", "hộ kinh doanh"), "Sở Tài chính"),
    (("xây dựng", "nhà ở", "quy hoạch", "bất động sản", "đường bộ", "đăng kiểm", "đường thủy", "giao thông"),
     "Sở Xây dựng"),
    (("người có công", "lao động", "việc làm", "tiền lương", "nội vụ", "tôn giáo", "thi đua", "công chức",
      "văn thư", "thanh niên"), "Sở Nội vụ"),
    (("y tế", "dược", "khám bệnh", "bảo trợ xã hội", "trẻ em", "dân số", "an toàn thực phẩm"), "Sở Y tế"),
    (("giáo dục", "đào tạo", "văn bằng"), "Sở Giáo dục và Đào tạo"),
    (("văn hóa", "thể dục", "thể thao", "du lịch", "gia đình", "báo chí", "xuất bản", "phát thanh", "quảng cáo"),
     "Sở Văn hóa, Thể thao và Du lịch"),
    (("công thương", "thương mại", "điện", "hóa chất", "xăng dầu", "vật liệu nổ công nghiệp", "kinh doanh khí"),
     "Sở Công Thương"),
    (("khoa học", "công nghệ", "bưu chính", "viễn thông", "tần số", "sở hữu trí tuệ"), "Sở Khoa học và Công nghệ"),
    (("thuế", "phí"), "Thuế tỉnh Bắc Ninh"),
    (("căn cước", "xuất nhập cảnh", "cư trú", "vũ khí", "phòng cháy", "con dấu"), "Công an tỉnh Bắc Ninh"),
)
POPULAR_FIELDS = ("hộ tịch", "chứng thực", "đất đai", "doanh nghiệp", "hộ kinh doanh", "người có công",
                  "bảo trợ xã hội", "xây dựng", "đường bộ", "lao động", "cư trú", "giáo dục")

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đỗ", "Ngô", "Dương", "Đặng", "Bùi", "Đào", "Nghiêm",
          "Chu", "Lương", "Phan", "Tạ", "Hà", "Đinh", "Trịnh")
MIDDLE_M = ("Văn", "Đức", "Minh", "Quang", "Hữu", "Thành", "Xuân", "Tiến")
MIDDLE_F = ("Thị", "Thu", "Ngọc", "Thanh", "Minh", "Thùy", "Hồng", "Kim")
GIVEN_M = ("An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khánh", "Long", "Nam", "Phong", "Quân", "Sơn", "Tuấn",
           "Việt", "Hiếu", "Thắng", "Toàn", "Trung")
GIVEN_F = ("Anh", "Hà", "Hằng", "Hoa", "Hương", "Lan", "Linh", "Mai", "Ngân", "Nhung", "Phương", "Thảo", "Trang",
           "Yến", "Huyền", "Loan", "Vân", "Dung")
COMPANY_KIND = ("Công ty TNHH", "Công ty cổ phần", "Công ty TNHH MTV")
COMPANY_NAME = ("Thương mại Minh Phát", "Xây dựng Kinh Bắc", "Điện tử Quế Võ", "Dệt may Từ Sơn",
                "Gốm sứ Phù Lãng", "Đồ gỗ Đồng Kỵ", "Vận tải Tiên Sơn", "Nông sản Gia Bình", "Cơ khí Yên Phong",
                "Dịch vụ Thuận Thành")
PHONE_PREFIXES = ("032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098", "081",
                  "082", "083", "084", "085", "088", "091", "094", "070", "076", "077", "078", "079", "089", "090",
                  "093", "056", "058", "059")
ID_PROVINCES = ("027", "024")  # Bắc Ninh, Bắc Giang (merged into Bắc Ninh in 2025)
REJECTIONS = (
    "Hồ sơ không đủ điều kiện giải quyết theo quy định của thủ tục",
    "Người nộp không thuộc đối tượng được giải quyết theo quy định",
    "Thông tin kê khai không khớp với Cơ sở dữ liệu quốc gia về dân cư",
    "Hết thời hạn bổ sung hồ sơ nhưng người nộp chưa bổ sung đủ giấy tờ theo yêu cầu",
)
LAND_REJECTION = "Thửa đất đang có tranh chấp, chưa đủ điều kiện giải quyết"
GENERIC_MISSING = ("Bản sao có chứng thực giấy tờ tùy thân của người nộp hồ sơ",
                   "Tờ khai theo mẫu được ký, ghi rõ họ tên")
DEFAULT_WORKING_DAYS = 10


@dataclass(frozen=True)
class DemoApplication:
    """One generated application with the applicant data kept only for verification."""

    status: ApplicationStatus
    phone: str
    id_number: str


# ---- processing time ------------------------------------------------------------------------------------
def processing_days(procedure) -> tuple[int, bool]:
    """(working days to allow, whether the knowledge base gives the time) for a procedure."""
    channels = sorted(procedure.channels, key=lambda c: {"in_person": 0, "online": 1}.get(c.kind, 2))
    for channel in channels:
        value, unit = channel.duration.value, (channel.duration.unit or "").lower()
        if value is None or value <= 0:
            continue
        if unit in ("ngày làm việc", ""):  # a bare number on the portal means working days
            return max(1, round(value)), True
        if unit == "ngày":
            return max(1, round(value * 5 / 7)), True
        if unit == "giờ":
            return max(1, -(-int(value) // 8)), True
        if unit == "tháng":
            return max(1, round(value * 22)), True
    return DEFAULT_WORKING_DAYS, False


# ---- generators -----------------------------------------------------------------------------------------
def _department(field: str | None) -> str:
    text = (field or "").lower()
    for keywords, department in DEPARTMENTS:
        if any(k in text for k in keywords):
            return department if department.endswith(PROVINCE) else f"{department} {PROVINCE}"
    return CENTER


def _candidates(procedures: Iterable) -> list[tuple[object, float]]:
    out = []
    for proc in procedures:
        levels = set(proc.levels)
        if not levels & {"Cấp tỉnh", "Cấp xã"}:
            continue
        field = (proc.field or "").lower()
        weight = 10.0 if any(k in field for k in POPULAR_FIELDS) else 1.0
        out.append((proc, weight))
    return out


def _person(rng: random.Random) -> tuple[str, str]:
    male = rng.random() < 0.5
    name = " ".join((rng.choice(FAMILY), rng.choice(MIDDLE_M if male else MIDDLE_F),
                     rng.choice(GIVEN_M if male else GIVEN_F)))
    year = rng.randint(1950, 2006)
    century_gender = (0 if male else 1) if year < 2000 else (2 if male else 3)
    id_number = f"{rng.choice(ID_PROVINCES)}{century_gender}{year % 100:02d}{rng.randint(0, 999999):06d}"
    return name, id_number


def _phone(rng: random.Random) -> str:
    return f"{rng.choice(PHONE_PREFIXES)}{rng.randint(0, 9999999):07d}"


def _at(rng: random.Random, day: date, earliest: time = time(7, 30)) -> datetime:
    start = earliest.hour * 60 + earliest.minute
    minute = rng.randint(min(start, 16 * 60 + 50), 16 * 60 + 55)
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=VN_TZ)


def _later(rng: random.Random, after: datetime, min_days: int, max_days: int) -> datetime:
    day = add_working_days(after.date(), rng.randint(min_days, max_days))
    if day == after.date():
        return after + timedelta(minutes=rng.randint(20, 90))
    return _at(rng, day)


def generate(procedures: Iterable, *, count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED,
             anchor: date) -> list[DemoApplication]:
    """``count`` applications received in the ``DAYS_BACK`` working period before ``anchor`` (exclusive).

    Pure function of its arguments: the same procedures, count, seed and anchor give the same data.
    """
    rng = random.Random(seed)
    candidates = _candidates(procedures)
    if not candidates:
        raise ValueError("no provincial or commune-level procedure in the knowledge base")
    procs = [p for p, _ in candidates]
    weights = [w for _, w in candidates]
    cutoff = datetime.combine(anchor, time(0, 0), tzinfo=VN_TZ)
    working = [anchor - timedelta(days=i) for i in range(1, DAYS_BACK + 1)]
    working = [d for d in working if is_working_day(d)]
    sequences: dict[tuple[str, date], int] = {}
    out: list[DemoApplication] = []
    forced = list(STATUSES)  # the first applications cover every status
    while len(out) < count:
        proc = rng.choices(procs, weights)[0]
        levels = set(proc.levels)
        commune_level = "Cấp xã" in levels and ("Cấp tỉnh" not in levels or rng.random() < 0.6)
        if commune_level:
            unit_code, place = rng.choice(COMMUNES)
            desk = f"Bộ phận Một cửa UBND {place}"
            processor = f"UBND {place}"
        else:
            unit_code, desk, processor = CENTER_CODE, CENTER, _department(proc.field)
        received_day = rng.choice(working)
        received_at = _at(rng, received_day)
        days, _known = processing_days(proc)
        due_at = datetime.combine(add_working_days(received_day, days), time(17, 0), tzinfo=VN_TZ)
        online = rng.random() < 0.45
        history = [StatusEvent(st.RECEIVED, received_at, desk,
                               "Nộp trực tuyến qua Cổng Dịch vụ công" if online
                               else "Tiếp nhận trực tiếp tại Bộ phận Một cửa")]
        target = forced.pop(0) if forced else None
        outcome = target or _pick_outcome(rng, due_at, cutoff)
        missing: list[str] = []
        pickup = None
        reason = None
        built = _build_history(rng, outcome, history, desk, processor, due_at, cutoff, proc)
        if built is None:
            if target:
                forced.insert(0, target)
            continue
        history, due_at, missing = built
        last = history[-1]
        if last.status == st.RESULT_READY:
            pickup = f"Quầy trả kết quả, {desk}"
        if last.status == st.REJECTED:
            reason = LAND_REJECTION if "đất" in (proc.field or "").lower() and rng.random() < 0.5 \
                else rng.choice(REJECTIONS)
        seq = sequences.get((unit_code, received_day), 0) + 1
        sequences[(unit_code, received_day)] = seq
        code = f"{unit_code}-{received_day:%y%m%d}-{seq:04d}"
        if "doanh nghiệp" in (proc.field or "").lower():
            applicant = f"{rng.choice(COMPANY_KIND)} {rng.choice(COMPANY_NAME)}"
            _, id_number = _person(rng)  # the legal representative's ID
        else:
            applicant, id_number = _person(rng)
        status = ApplicationStatus(
            code=code, procedure_code=proc.code, procedure_name=proc.name, applicant_name=applicant,
            received_at=received_at, due_at=due_at, status=last.status, status_since=last.at, agency=last.agency,
            history=history, missing_documents=missing, result_pickup=pickup, rejection_reason=reason,
        )
        out.append(DemoApplication(status, _phone(rng), id_number))
    return out


def _pick_outcome(rng: random.Random, due_at: datetime, cutoff: datetime) -> str:
    if due_at < cutoff:  # due date passed
        return rng.choices([st.RETURNED, st.RESULT_READY, st.REJECTED, st.OVERDUE, st.NEEDS_DOCUMENTS],
                           [70, 8, 5, 10, 7])[0]
    return rng.choices([st.RECEIVED, st.PROCESSING, st.NEEDS_DOCUMENTS, st.RESULT_READY, st.RETURNED, st.REJECTED],
                       [8, 55, 12, 10, 12, 3])[0]


def _is_document_name(name: str) -> bool:
    """False for case headings the portal lists among documents ("Đối với ...:", "Trường hợp ...")."""
    text = name.strip()
    return 8 <= len(text) <= 160 and not text.endswith(":") and not text.lower().startswith(
        ("đối với", "trường hợp", "lưu ý", "ghi chú", "*"))


def _build_history(rng, outcome, history, desk, processor, due_at, cutoff, proc):
    """Status events leading to ``outcome``; None when it cannot happen before ``cutoff``."""
    received = history[0].at
    events = list(history)
    missing: list[str] = []
    if outcome == st.RECEIVED:
        return (events, due_at, missing) if (cutoff - received) < timedelta(days=4) else None
    processing = _later(rng, received, 0, 1)
    events.append(StatusEvent(st.PROCESSING, processing, processor, f"Chuyển {processor} thẩm định hồ sơ"))
    if outcome == st.NEEDS_DOCUMENTS or (outcome in (st.RESULT_READY, st.RETURNED) and rng.random() < 0.15):
        docs = [d.name for d in proc.documents if d.section == "submit" and _is_document_name(d.name)]
        docs = docs or list(GENERIC_MISSING)
        missing = rng.sample(docs, k=min(len(docs), rng.randint(1, 2)))
        ask = _later(rng, processing, 1, 3)
        events.append(StatusEvent(st.NEEDS_DOCUMENTS, ask, desk, "Yêu cầu bổ sung: " + "; ".join(missing)))
        if outcome == st.NEEDS_DOCUMENTS:
            return (events, due_at, missing) if ask < cutoff else None
        back = _later(rng, ask, 1, 5)
        # The processing time restarts once the file is complete.
        due_at = due_at + (back - ask)
        events.append(StatusEvent(st.PROCESSING, back, processor, "Người nộp đã bổ sung đủ hồ sơ"))
        missing = []
    last = events[-1].at
    if outcome == st.PROCESSING:
        return (events, due_at, missing) if last < cutoff else None
    if outcome == st.OVERDUE:
        flagged = datetime.combine(add_working_days(due_at.date(), 1), time(7, 30), tzinfo=VN_TZ)
        if flagged >= cutoff:
            return None
        events.append(StatusEvent(st.OVERDUE, flagged, processor, "Quá hạn giải quyết, chưa có kết quả"))
        return events, due_at, missing
    if outcome == st.REJECTED:
        at = _later(rng, last, 1, 4)
        if at >= cutoff:
            return None
        events.append(StatusEvent(st.REJECTED, at, processor, "Có văn bản trả lời nêu rõ lý do"))
        return events, due_at, missing
    # RESULT_READY / RETURNED: about 8 % of results come late.
    late = rng.random() < 0.08
    result_day = add_working_days(due_at.date(), rng.randint(1, 5)) if late else \
        add_working_days(last.date(), rng.randint(0, max(0, (due_at.date() - last.date()).days * 5 // 7)))
    if result_day > due_at.date() and not late:
        result_day = due_at.date()
    ready = _at(rng, result_day) if result_day > last.date() else last + timedelta(minutes=rng.randint(30, 120))
    if ready >= cutoff:
        return None
    events.append(StatusEvent(st.RESULT_READY, ready, desk, "Kết quả đã chuyển về Bộ phận Một cửa"))
    if outcome == st.RESULT_READY:
        return events, due_at, missing
    returned = _later(rng, ready, 0, 4)
    if returned >= cutoff:
        return None
    note = rng.choice(("Đã trả kết quả trực tiếp tại quầy", "Đã gửi kết quả qua dịch vụ bưu chính công ích"))
    events.append(StatusEvent(st.RETURNED, returned, desk, note))
    return events, due_at, missing


# ---- database -------------------------------------------------------------------------------------------
def demo_pairs(db: Database, per_status: int = 1) -> list[tuple[str, str, str]]:
    """(code, last 4 digits of the phone, status) for a few demo applications, one per status."""
    pairs = []
    with db.read() as conn:
        for status in STATUSES:
            rows = conn.all(
                "SELECT code, applicant_phone FROM applications WHERE source = ? AND status = ? "
                "ORDER BY received_at DESC, code LIMIT ?",
                (SOURCE, status, per_status),
            )
            pairs.extend((r["code"], r["applicant_phone"][-4:], status) for r in rows)
    return pairs


def seed(db: Database, *, count: int = DEFAULT_COUNT, seed_value: int = DEFAULT_SEED, anchor: date | None = None,
         reset: bool = False, procedures: Iterable | None = None) -> int:
    """Write the demo applications unless already present (``reset`` replaces them); number written."""
    db.ensure_schema()
    with db.read() as conn:
        existing = conn.one("SELECT value FROM meta WHERE key = ?", (META_KEY,))
    if existing and not reset:
        return 0
    if procedures is None:
        from knowledge.store import load_procedures

        procedures = load_procedures()
    anchor = anchor or now_vn().date()
    apps = generate(procedures, count=count, seed=seed_value, anchor=anchor)
    backend = SqlStatusBackend(db)
    with db.transaction() as conn:
        conn.execute("DELETE FROM applications WHERE source = ?", (SOURCE,))
        for app in apps:
            backend.save(app.status, phone=app.phone, id_number=app.id_number, source=SOURCE, conn=conn)
        info = {"count": count, "seed": seed_value, "anchor": anchor.isoformat()}
        conn.execute("DELETE FROM meta WHERE key = ?", (META_KEY,))
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (META_KEY, json.dumps(info)))
    return len(apps)


def write_demo_file(db: Database, path: Path) -> list[tuple[str, str, str]]:
    """Write the demo (code, last-4) pairs to ``path``; returns them."""
    pairs = demo_pairs(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Hồ sơ mẫu để thử tra cứu (dữ liệu tổng hợp): mã hồ sơ | 4 số cuối điện thoại | trạng thái"]
    lines += [f"{code} | {last4} | {status}" for code, last4, status in pairs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return pairs


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    from settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--anchor", type=date.fromisoformat, default=None,
                        help="day the demo data is 'as of' (default: today, Vietnam time)")
    parser.add_argument("--reset", action="store_true", help="replace existing demo data")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "demo_applications.txt")
    args = parser.parse_args(argv)
    db = database_from_settings(get_settings())
    written = seed(db, count=args.count, seed_value=args.seed, anchor=args.anchor, reset=args.reset)
    if written:
        print(f"Đã tạo {written} hồ sơ mẫu trong cơ sở dữ liệu dịch vụ.")
    else:
        print("Dữ liệu hồ sơ mẫu đã có sẵn (dùng --reset để tạo lại).")
    pairs = write_demo_file(db, args.out)
    shown = args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out
    print(f"Một số hồ sơ để thử (cũng lưu ở {shown}):")
    for code, last4, status in pairs:
        print(f"  {code}  4 số cuối: {last4}  ({status})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
