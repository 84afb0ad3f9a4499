"""Narrowing between sibling procedures by the one attribute that separates them.

When the search cannot tell two or three sibling procedures apart ("Cấp lại giấy phép lái xe" / "Cấp đổi giấy phép
lái xe" / "Cấp giấy phép lái xe ..."), the bot asks about what their names differ in — "Bạn cần cấp lại (mất,
hỏng), cấp đổi hay làm lần đầu?" — with one short button per value. The attribute values of a name come from the
search's own tables (operations of ``synonyms.yml``, groups of ``contrasts.yml``); the questions and button labels
from ``narrowing.yml`` of the knowledge base (``KB_DIR``, default ``knowledge/data/``). A typed reply works as well
as a tap (:meth:`Narrowing.pick`). At most :data:`MAX_QUESTIONS` questions are asked; siblings that no attribute
separates get the list of names.

The pending question travels in the conversation as a plain dict (:meth:`Question.to_state`), in a slot the
client cannot set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Sequence

from knowledge.text import fold

NARROWING_FILE = "narrowing.yml"  # in the knowledge base folder (KB_DIR, knowledge.store.data_dir)
MAX_QUESTIONS = 2
NONE = "none"  # the option of the siblings whose names carry no value of the group
MAX_REPLY_WORDS = 8  # a longer typed message is a new question, not an answer to the narrowing question
DIFFERENCE = "difference"  # the fallback "group": the words the names differ in
MAX_DIFFERENCE_WORDS = 12  # "cho người đã có hồ sơ, giấy tờ cá nhân" (the special case of nested names)
_LEVELS = {"cap xa": "xa", "cap huyen": "huyen", "cap tinh": "tinh", "cap bo": "trung_uong"}
_ORDINALS = {
    "1": 0, "mot": 0, "thu nhat": 0, "cai dau": 0, "cai dau tien": 0, "dau tien": 0,
    "2": 1, "hai": 1, "thu hai": 1, "cai thu hai": 1,
    "3": 2, "ba": 2, "thu ba": 2, "cai thu ba": 2, "cai cuoi": -1, "cuoi cung": -1,
}


@dataclass
class Option:
    """One button: a value of the group and the sibling procedures that have it."""

    value: str
    label: str
    codes: List[str]


@dataclass
class Question:
    """A narrowing question about ``group``; ``number`` is 1 for the first question of a conversation turn chain."""

    group: str
    text: str
    options: List[Option]
    number: int = 1
    aspects: List[str] = field(default_factory=list)

    def to_state(self) -> dict:
        """The slot value that remembers the question until the citizen answers."""
        return {"group": self.group, "number": self.number, "aspects": list(self.aspects),
                "options": [{"value": o.value, "label": o.label, "codes": list(o.codes)} for o in self.options]}

    @classmethod
    def from_state(cls, state: object) -> Optional["Question"]:
        """The question remembered in the slot, or None when the slot holds nothing usable."""
        if not isinstance(state, dict) or not isinstance(state.get("options"), list):
            return None
        try:
            options = [Option(str(o["value"]), str(o["label"]), [str(c) for c in o["codes"]])
                       for o in state["options"]]
            return cls(str(state["group"]), "", options, int(state.get("number") or 1),
                       [str(a) for a in state.get("aspects") or []])
        except (KeyError, TypeError, ValueError):
            return None


def _phrase_pattern(phrases: Sequence[str]) -> Optional[re.Pattern]:
    folded = sorted({fold(p) for p in phrases if p and p.strip()}, key=len, reverse=True)
    if not folded:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(p) for p in folded) + r")(?!\w)")


def display_words(name: str) -> List[str]:
    """The words of a procedure name as shown, without the portal's "Thủ tục" prefix; a slash is a word of its own
    ("xây dựng/Báo cáo" and "xây dựng/ Báo cáo" are the same words)."""
    words = re.sub(r"\s*/\s*", " / ", name or "").split()
    if len(words) > 2 and fold(" ".join(words[:2])) == "thu tuc":
        words = words[2:]
    return words


MIN_TOPIC_WORDS = 2
MAX_TOPIC_WORDS = 14
_TRAILING = {"la", "cua", "doi", "voi", "cho", "va", "ve", "tai", "co", "o", "theo"}


def common_topic(procedures: Sequence) -> str:
    """The longest run of words all the names share ("thẻ căn cước", "giấy phép lái xe"), without the level phrase,
    as the first name writes it; "" when it is shorter than :data:`MIN_TOPIC_WORDS` words or longer than
    :data:`MAX_TOPIC_WORDS` (then the names are one name and the question needs no topic)."""
    names = [re.sub(r"\s*\((?:thực hiện )?tại [^)]*\)|\s*-\s*cấp \w+( \w+)?$", "", p.name, flags=re.IGNORECASE)
             for p in procedures]
    words = [display_words(n) for n in names]
    folded = [[fold(w).strip(",.;:()") for w in ws] for ws in words]
    first, best = folded[0], (0, 0)
    others = [" " + " ".join(f) + " " for f in folded[1:]]
    for start in range(len(first)):
        for end in range(len(first), start + best[1] - best[0], -1):
            phrase = " " + " ".join(first[start:end]) + " "
            if all(phrase in other for other in others):
                best = (start, end)
                break
    start, end = best
    while end > start and first[end - 1] in _TRAILING:  # "... người nộp thuế là" -> "... người nộp thuế"
        end -= 1
    if end - start < MIN_TOPIC_WORDS or end - start > MAX_TOPIC_WORDS:
        return ""
    return " ".join(words[0][start:end]).strip(" ,;:")


def _label_phrases(label: str) -> List[str]:
    """'Cấp lại (mất, hỏng)' -> ['Cấp lại (mất, hỏng)', 'Cấp lại']; 'Doanh nghiệp, tổ chức' -> also its parts."""
    bare = re.sub(r"\s*\(.*?\)", "", label).strip()
    return [label, bare, *[p.strip() for p in bare.split(",") if p.strip()]]


class Narrowing:
    """The narrowing table and the attribute readers of the search."""

    def __init__(self, data: dict, contrasts=None, rewriter=None) -> None:
        """``data``: parsed ``narrowing.yml``; ``contrasts`` / ``rewriter`` default to the search's tables."""
        if contrasts is None:
            from knowledge.contrast import get_contrasts

            contrasts = get_contrasts()
        if rewriter is None:
            from knowledge.rewrite import get_rewriter

            rewriter = get_rewriter()
        self.contrasts = contrasts
        self.rewriter = rewriter
        self.order: List[str] = list(data.get("order") or [])
        self.groups: Dict[str, dict] = dict(data.get("groups") or {})
        self.difference_question: str = data.get("difference_question") or "Bạn hỏi {options}?"
        self.difference_none: str = data.get("difference_none") or "Trường hợp thông thường"
        self._difference_none_said = _phrase_pattern(list(data.get("difference_none_said") or []))
        self.topic_prefix: str = data.get("topic_prefix") or "Về {topic}: "
        # Per group and value, what a typed reply may say to pick it.
        self._said: Dict[str, Dict[str, re.Pattern]] = {}
        for group, spec in self.groups.items():
            patterns = {}
            for value, label in (spec.get("labels") or {}).items():
                phrases = _label_phrases(label) + list((spec.get("said") or {}).get(value) or [])
                patterns[value] = _phrase_pattern(phrases)
            if spec.get("none"):
                patterns[NONE] = _phrase_pattern(_label_phrases(spec["none"]) + list(spec.get("none_said") or []))
            self._said[group] = patterns

    @classmethod
    def from_file(cls, path: Optional[Path] = None) -> "Narrowing":
        import yaml

        from knowledge.store import data_dir

        path = path or data_dir() / NARROWING_FILE
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")) or {})

    # -- attribute values of a procedure name ------------------------------------------------------------------
    def values(self, group: str, name: str) -> FrozenSet[str]:
        """The values of ``group`` that the procedure ``name`` carries."""
        if group == "operation":
            return self.rewriter.operations_in_name(name)
        return self.contrasts.name_values(name).get(group, frozenset())

    def _reply_patterns(self, group: str, option: Option) -> List[re.Pattern]:
        """What a typed reply may say to pick ``option``: its label, the table's ``said`` words and the search
        tables' own "asked by" patterns of each of its values."""
        if group == DIFFERENCE:
            ordinary = self._difference_none_said if option.label == self.difference_none else None
            return [p for p in [_phrase_pattern(_label_phrases(option.label)), ordinary] if p is not None]
        said = self._said.get(group, {})
        patterns = [said.get(option.value)]
        for value in ([] if option.value == NONE else option.value.split("+")):
            patterns += [said.get(value), self._value_pattern(group, value)]
        return [p for p in patterns if p is not None]

    def _value_pattern(self, group: str, value: str, own_words: bool = False) -> Optional[re.Pattern]:
        """The search tables' pattern of a value in a question: the contrast group's "asked by" words; for an
        operation, what asks for it ("mất" for "cấp lại") or, with ``own_words``, only its words in the names."""
        if group == "operation":
            pair = self.rewriter.operations.get(value)
            return (pair[0] if own_words else pair[1]) if pair else None
        return self.contrasts.asked_by.get(group, {}).get(value)

    # -- planning a question -----------------------------------------------------------------------------------
    def split(self, group: str, procedures: Sequence) -> Optional[List[Option]]:
        """The options ``group`` splits the procedures into (in the procedures' order), or None when it cannot:
        a name with no value when the group has no ``none`` label, a value without a label, or one option only.
        A name with several values ("Thay đổi, bổ sung, gia hạn ...") is one option labelled with all of them."""
        spec = self.groups.get(group) or {}
        labels = spec.get("labels") or {}
        options: Dict[str, Option] = {}
        for proc in procedures:
            found = sorted(self.values(group, proc.name) or self._record_values(group, proc))
            if not found and not spec.get("none"):
                return None
            if any(v not in labels for v in found):
                return None
            value = "+".join(found) or NONE
            label = " / ".join(labels[v] for v in found) if found else spec["none"]
            options.setdefault(value, Option(value, label, [])).codes.append(proc.code)
        return list(options.values()) if len(options) > 1 else None

    def _record_values(self, group: str, proc) -> FrozenSet[str]:
        """Values a record states outside its name: the level of a procedure handled at one level only."""
        if group == "level" and len(proc.levels or []) == 1:
            value = _LEVELS.get(fold(proc.levels[0]))
            return frozenset([value]) if value else frozenset()
        return frozenset()

    def difference(self, procedures: Sequence) -> Optional[List[Option]]:
        """Options labelled with the words the names differ in (after their common beginning and end), when they
        are short and at most one name has none (that one is the ordinary case); None otherwise."""
        words = [display_words(p.name) for p in procedures]
        folded = [[fold(w) for w in ws] for ws in words]
        head = 0
        while all(len(f) > head for f in folded) and len({f[head] for f in folded}) == 1:
            head += 1
        tail = 0
        while (all(len(f) > head + tail for f in folded)
               and len({f[len(f) - 1 - tail] for f in folded}) == 1):
            tail += 1
        options: Dict[str, Option] = {}
        middles = [ws[head: len(ws) - tail] for ws in words]
        if sum(1 for m in middles if not m) > 1:
            return None
        for proc, middle in zip(procedures, middles):
            if len(middle) > MAX_DIFFERENCE_WORDS:
                return None
            # The one name without extra words is the ordinary case ("đăng ký khai tử" beside "... lưu động").
            label = " ".join(middle).strip(" ,;:()") if middle else self.difference_none
            label = label[:1].upper() + label[1:]
            options.setdefault(fold(label), Option(fold(label), label, [])).codes.append(proc.code)
        return list(options.values()) if len(options) > 1 else None

    def plan(self, procedures: Sequence, number: int = 1, aspects: Sequence[str] = ()) -> Optional[Question]:
        """The question about the first group of the table's ``order`` that separates ``procedures`` (what is done
        before who, where from and which level: a citizen knows the first best), else about the words their
        names differ in; None when nothing separates them or ``number`` exceeds :data:`MAX_QUESTIONS`."""
        if number > MAX_QUESTIONS or len(procedures) < 2:
            return None
        topic = common_topic(procedures)
        for group in self.order:
            options = self.split(group, procedures)
            if options is not None:
                return Question(group, self.question_text(group, options, topic), options, number, list(aspects))
        options = self.difference(procedures)
        if options is None:
            return None
        return Question(DIFFERENCE, self.question_text(DIFFERENCE, options, topic), options, number, list(aspects))

    def question_text(self, group: str, options: Sequence[Option], topic: str = "") -> str:
        """'Về giấy phép lái xe: bạn cần cấp lại (mất, hỏng), cấp đổi hay làm lần đầu?' from the siblings' common
        words (``topic``), the group's question and the labels."""
        labels = [o.label[:1].lower() + o.label[1:] for o in options]
        joined = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " hay " + labels[-1]
        template = self.difference_question if group == DIFFERENCE else self.groups[group]["question"]
        question = template.format(options=joined)
        if not topic:
            return question
        return self.topic_prefix.format(topic=topic[:1].lower() + topic[1:]) + question[:1].lower() + question[1:]

    # -- reading the answer ------------------------------------------------------------------------------------
    def said_in(self, question: Question, text: str) -> Optional[Option]:
        """The option the question's own message already names ("… muốn đổi sang thẻ PET" before "bạn cần cấp
        lại, cấp đổi hay làm lần đầu?"), when it names exactly one and says nothing that points to another ("bị
        mất, tiện thể đổi" points to both; "chứ không phải cấp lại" denies, not names): then the question is not
        asked. Read with the options' own words and the search's readers of what is asked, never with the short
        replies a narrowing question expects ("có", "không", "mới" say nothing inside a longer message); never for
        the level (the place a story names is where the citizen lives, not which authority handles it) or an
        option meaning "none of these" (a message that names nothing is the usual case). None otherwise."""
        if question.group == "level":
            return None
        folded = _folded(text)

        def found(patterns: List[re.Pattern]) -> bool:
            return any(p.search(folded) for p in patterns)

        def affirmed(patterns: List[re.Pattern]) -> bool:  # "lần đầu xin chứ không phải cấp lại" names no "cấp lại"
            return any(not _NEGATION.search(folded[max(0, m.start() - 24): m.start()])
                       for p in patterns for m in p.finditer(folded))

        if question.group in self.contrasts.groups:  # leftmost-longest: "dưới 14 tuổi" names no "14 tuổi"
            said = self.contrasts.asked_matches(folded, question.group)
            meant = {v for start, v in said if not _NEGATION.search(folded[max(0, start - 24): start])}
            named = [o for o in question.options if o.value != NONE and set(o.value.split("+")) & meant]
            if len(named) != 1:
                return None
            mentioned = {v for _, v in said}
            others = [o for o in question.options if o is not named[0] and o.value != NONE]
            return None if any(set(o.value.split("+")) & mentioned for o in others) else named[0]
        named = [o for o in question.options if affirmed(self._mention_patterns(question.group, o))]
        if len(named) != 1:
            return None
        others = [o for o in question.options if o is not named[0] and o.value != NONE]
        if question.group == "operation":  # what leads to another option ("bị mất": cấp lại), as the search reads it
            asked = self.rewriter.operations_asked(folded)
            if any(set(o.value.split("+")) & asked for o in others):
                return None
        elif any(found(self._mention_patterns(question.group, o)) for o in others):
            return None
        return named[0]

    def _mention_patterns(self, group: str, option: Option) -> List[re.Pattern]:
        """What names ``option`` inside a question (see :meth:`said_in`): for an operation, its own words ("cấp lại",
        "đổi"), not what leads to it ("mất", which may be "mất bao lâu")."""
        if group == DIFFERENCE:
            pattern = _phrase_pattern(_label_phrases(option.label)) if option.label != self.difference_none else None
            return [pattern] if pattern is not None else []
        patterns = [self._value_pattern(group, value, own_words=True)
                    for value in ([] if option.value == NONE else option.value.split("+"))]
        return [p for p in patterns if p is not None]

    def pick(self, question: Question, text: str = "", value: Optional[str] = None) -> Optional[Option]:
        """The option a tap (``value``) or a typed reply (``text``) chose, or None when the reply chose none of
        them (then it is a new question)."""
        if value is not None:
            return next((o for o in question.options if o.value == value), None)
        folded = _folded(text)
        if not folded or len(folded.split()) > MAX_REPLY_WORDS:
            return None
        ordinal = _ORDINALS.get(re.sub(r"^(so|cai|chon|lay)\s+", "", folded))
        if ordinal is not None and (ordinal < len(question.options)):
            return question.options[ordinal]
        scored = []
        for option in question.options:
            best = 0
            for pattern in self._reply_patterns(question.group, option):
                for match in pattern.finditer(folded):
                    best = max(best, len(match.group(0)))
            scored.append((best, option))
        scored.sort(key=lambda pair: -pair[0])
        if not scored or scored[0][0] == 0:
            return None
        if len(scored) > 1 and scored[1][0] == scored[0][0]:
            return None  # two options named equally: not an answer
        return scored[0][1]


# Words that deny what follows them ("không phải cấp lại", "chưa ra nước ngoài"), read on the folded text just before
# a match (a word may come between; a denial misread only means the narrowing question is asked).
_NEGATION = re.compile(r"\b(?:khong|ko|k|chua|chang|cha)\b(?:\s+phai)?(?:\s+\w+)?\s*$")


def _folded(text: str) -> str:
    """A message as the reply patterns read it: folded, without question marks and full stops, single spaces."""
    return " ".join(fold(text).replace("?", " ").replace(".", " ").split())


@lru_cache(maxsize=1)
def get_narrowing() -> Narrowing:
    """The shipped narrowing table (loaded on first use)."""
    return Narrowing.from_file()
