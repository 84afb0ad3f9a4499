"""Writing packets for a question-bank batch: one summary per procedure, read from the records, with the
procedures whose names look most like it.

A writer who never saw the bank gets one packet and writes new questions from it (README of
``knowledge/data/questions/``). The look-alikes are read from the records alone (word overlap of the names,
level phrases and the "Thủ tục" prefix left out), so that a question can carry, in the asker's own words, the
circumstance that makes it this procedure and not its neighbour: nothing from the bank or a test set shapes them.

    python scripts/bank_packets.py --parts 8 --out /tmp/packets
    python scripts/bank_packets.py --parts 8 --out /tmp/packets --casual teencode,no_diacritics,story \
        --portal abbrev,short --tag b13     # batch 13: the styles answered worst, a new draw per procedure
    python scripts/bank_packets.py --merge /tmp/written --batch 12

``--merge`` joins the writers' files (``part_*.jsonl``, ``{"code", "q", "style"}``) into
``knowledge/data/questions/bank/batch_N.jsonl``, leaving out exact and near duplicates of the bank (same
procedure, word Jaccard > :data:`NEAR_BANK`) and anything close to an evaluation question (word Jaccard >
:data:`NEAR_EVAL` to a strangers', dev, held-out or review-replay question), so a new batch never makes an
evaluation set easier by chance.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from knowledge import store  # noqa: E402
from knowledge.bank import STYLES, bank_fold, jaccard, level_free_key, load_bank, load_strangers, word_set  # noqa: E402
from scripts.eval_retrieval import DEVSET, HELDOUT, load_devset  # noqa: E402
from scripts.replay_review import PAIRS  # noqa: E402

LOOKALIKE_JACCARD = 0.5
MAX_LOOKALIKES = 3
COMMON_WORD_NAMES = 200  # a word in this many names ("cấp", "giấy") proposes no candidates by itself
CASUAL_STYLES = ("story", "short", "no_diacritics", "teencode")
PORTAL_STYLES = ("formal", "aspect", "abbrev")
FOREIGN_WORDS = ("nước ngoài", "đầu tư", "xuất khẩu", "nhập khẩu", "quá cảnh", "lao động", "visa", "thị thực",
                 "tạm trú", "người việt nam định cư")
MAX_TEXT = 160
NEAR_BANK = 0.8
NEAR_EVAL = 0.6


def _short(text: object, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _pick(options: Sequence[str], key: str) -> str:
    return options[int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % len(options)]


def lookalikes(procedures: Sequence) -> Dict[str, List[str]]:
    """Each code's most similar other names (by level-free words), one per level-free name."""
    keys = {p.code: level_free_key(p.name) for p in procedures}
    words = {code: frozenset(key.split()) for code, key in keys.items()}
    by_word: Dict[str, set] = defaultdict(set)
    for code, ws in words.items():
        for w in ws:
            by_word[w].add(code)
    names = {p.code: p.name for p in procedures}
    out: Dict[str, List[str]] = {}
    for code, ws in words.items():
        candidates = set()
        for w in ws:
            if len(by_word[w]) < COMMON_WORD_NAMES:
                candidates |= by_word[w]
        scored = []
        for other in candidates:
            if keys[other] == keys[code]:
                continue
            score = jaccard(ws, words[other])
            if score >= LOOKALIKE_JACCARD:
                scored.append((-score, other))
        seen, chosen = set(), []
        for _, other in sorted(scored):
            if keys[other] not in seen:
                seen.add(keys[other])
                chosen.append(names[other])
            if len(chosen) == MAX_LOOKALIKES:
                break
        out[code] = chosen
    return out


def packet(p, alikes: List[str], levels: List[str], casual_styles: Sequence[str] = CASUAL_STYLES,
           portal_styles: Sequence[str] = PORTAL_STYLES, tag: str = "") -> str:
    channel = p.channels[0] if p.channels else None
    fee = channel.fee.text if channel else ""
    duration = channel.duration.text if channel else ""
    if channel and channel.duration.unit and not any(ch.isalpha() for ch in duration):
        duration = f"{duration} {channel.duration.unit}"
    online = any(c.kind == "online" for c in p.channels)
    documents = [d.name for d in p.documents if d.section == "submit"]
    agencies = p.agencies.implementing or p.agencies.competent
    text = f"{p.name} {' '.join(p.applicants)}".lower()
    foreign = any(word in text for word in FOREIGN_WORDS)
    casual = _pick(casual_styles, tag + "casual:" + p.code)
    portal = "english" if foreign and _pick(("en", "vi", "vi"), tag + "english:" + p.code) == "en" else \
        _pick(portal_styles, tag + "portal:" + p.code)
    lines = [f"### {p.code}", f"- name: {p.name}", f"- field: {p.field}; levels: {', '.join(levels)}",
             f"- agency: {_short(', '.join(agencies))}", f"- applicants: {_short(', '.join(p.applicants))}",
             f"- fee: {_short(fee) or 'không ghi'}; time: {_short(duration) or 'không ghi'}; "
             f"online: {'có' if online else 'không rõ'}",
             f"- documents: {_short('; '.join(_short(d, 70) for d in documents[:3]), 240)}",
             f"- result: {_short(p.result)}"]
    if p.conditions:
        lines.append(f"- conditions: {_short(p.conditions, 200)}")
    if alikes:
        lines.append("- look-alikes (NOT this procedure): " + " | ".join(alikes))
    lines.append(f"- write: 1 `{casual}`, 1 `{portal}`")
    return "\n".join(lines)


def evaluation_questions() -> List[str]:
    """Every question an evaluation set asks: the strangers' sets, dev, held-out and the review replay."""
    texts = [r["q"] for part in ("calibration", "test") for r in load_strangers(part)]
    texts += [r["question"] for path in (DEVSET, HELDOUT) for r in load_devset(path)]
    for line in PAIRS.read_text(encoding="utf-8").splitlines():
        if line.strip():
            pair = json.loads(line)
            texts += [pair["seen"], pair["unseen"]]
    return texts


def merge(parts_dir: Path, batch: int) -> Dict[str, int]:
    """Write ``bank/batch_<batch>.jsonl`` from the writers' parts; returns how many were kept and left out."""
    written = [json.loads(line) for path in sorted(parts_dir.glob("part_*.jsonl"))
               for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = ROOT / "knowledge" / "data" / "questions" / "bank" / f"batch_{batch}.jsonl"
    bank = [q for q in load_bank() if q.source != out.name]
    seen = {bank_fold(q.q) for q in bank}
    by_code: Dict[str, List[frozenset]] = defaultdict(list)
    for q in bank:
        if q.code:
            by_code[q.code].append(word_set(bank_fold(q.q)))
    evaluation = [word_set(bank_fold(text)) for text in evaluation_questions()]
    counts = {"kept": 0, "duplicate": 0, "near_bank": 0, "near_evaluation": 0}
    lines = []
    for record in written:
        key = bank_fold(record["q"])
        words = word_set(key)
        if key in seen:
            counts["duplicate"] += 1
        elif any(jaccard(words, other) > NEAR_BANK for other in by_code[record["code"]]):
            counts["near_bank"] += 1
        elif any(jaccard(words, other) > NEAR_EVAL for other in evaluation):
            counts["near_evaluation"] += 1
        else:
            seen.add(key)
            by_code[record["code"]].append(words)
            counts["kept"] += 1
            lines.append(json.dumps({"code": record["code"], "q": " ".join(record["q"].split()),
                                     "style": record["style"]}, ensure_ascii=False))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--out", type=Path, help="folder for the packets")
    parser.add_argument("--merge", type=Path, help="folder of the writers' part_*.jsonl files")
    parser.add_argument("--batch", type=int, help="with --merge: the batch number to write")
    parser.add_argument("--casual", default=",".join(CASUAL_STYLES),
                        help="styles the first question of a packet is drawn from (comma separated)")
    parser.add_argument("--portal", default=",".join(PORTAL_STYLES),
                        help="styles the second question is drawn from (English instead for a third of the "
                             "foreign-facing procedures)")
    parser.add_argument("--tag", default="", help="varies which style each procedure draws (e.g. the batch number)")
    args = parser.parse_args(argv)
    casual, portal = args.casual.split(","), args.portal.split(",")
    unknown = sorted(set(casual + portal) - set(STYLES))
    if unknown:
        parser.error(f"unknown styles: {', '.join(unknown)} (known: {', '.join(STYLES)})")
    if args.merge:
        if args.batch is None:
            parser.error("--merge needs --batch")
        print(merge(args.merge, args.batch))
        return 0
    if args.out is None:
        parser.error("--out or --merge is required")
    procedures = sorted(store.load_procedures(), key=lambda p: (p.ministry or "", p.code))
    alikes = lookalikes(procedures)
    levels: Dict[str, set] = defaultdict(set)
    for p in procedures:
        levels[level_free_key(p.name)].update(p.levels)
    args.out.mkdir(parents=True, exist_ok=True)
    size = -(-len(procedures) // args.parts)
    for part in range(args.parts):
        chunk = procedures[part * size:(part + 1) * size]
        text = "\n\n".join(packet(p, alikes[p.code], sorted(levels[level_free_key(p.name)]), casual, portal,
                                  args.tag) for p in chunk)
        (args.out / f"part_{part + 1}.md").write_text(text + "\n", encoding="utf-8")
        print(f"part {part + 1}: {len(chunk)} procedures, "
              f"{sum(1 for p in chunk if alikes[p.code])} with look-alikes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
