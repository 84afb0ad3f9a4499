"""End-to-end dialogue evaluation: the question bank's test split through the REST channel of a running stack.

Each question is the first message of a new conversation, opened the way the web widget opens one (``POST
/webhooks/rest/session`` issues the sender id and its session token; every message carries them). The reply is
classified: a procedure answer is recognised by its header line ``**<name>** (mã thủ tục <code>)``
(core/answers.py ``header``). When the first reply answers no procedure but offers a button whose
payload carries the expected code (``/choose_procedure{"procedure_code":"1.000123"}``), that payload is sent as the
next message of the same conversation: one simulated tap. Outcomes per answerable question:

- ``right_at_once``: the first reply answers the expected procedure;
- ``right_after_tap``: the reply to the one tap does;
- ``wrong``: a reply answers another procedure (the first one, or the one after the tap);
- ``no_procedure``: anything else (suggestions without the right one, a form, an FAQ answer, a fallback...).

An unanswerable question (``code`` null in the bank) is handled when no procedure is answered. The kind of the
first reply (:func:`classify_reply`) gives the routing table.

Honesty: the deployed index holds the whole question bank, whose questions vote in the search; the test split's
own questions would answer themselves. The stack started here runs with ``KB_BANK_SPLITS=train`` and the script
refuses to measure unless the action server's ``GET /health/knowledge`` says only the train split votes.

Usage (action venv, from the repository root)::

    python scripts/eval_dialogue.py --out reports/dialogue            # starts its own stack (make eval-dialogue)
    python scripts/eval_dialogue.py --url http://127.0.0.1:5005 --actions-url http://127.0.0.1:5055
    python scripts/eval_dialogue.py --n 40 --unanswerable 8 --check tests/dialogue/regression.json

Exit code 0 unless ``--check FILE`` is given and a floor of FILE is missed (or the stack could not be measured).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from knowledge.bank import STYLES  # noqa: E402 - after the path set-up (run as a script)
from scripts.percentiles import percentile  # noqa: E402

DEFAULT_N = 320  # answerable questions: 40 per style
DEFAULT_UNANSWERABLE = 40
DEFAULT_SEED = 14
HIDDEN_SPLITS = ["train"]  # the only bank split allowed to vote while the test split is measured

# ---- reading replies ------------------------------------------------------------------------------------------

# The first line of every procedure answer (core/answers.py header()).
HEADER_RE = re.compile(r"^\*\*(?P<name>[^*\n]+)\*\* \((?:mã thủ tục|procedure code) (?P<code>[1-6]\.\d{6})\)", re.M)
# A button that opens a procedure: /choose_procedure{"procedure_code":"1.000123"}; a narrowing option that still
# covers several siblings: /choose_procedure{"narrow_value":"cap_lai"} (actions/actions_procedure.py choose_payload).
PAYLOAD_CODE_RE = re.compile(r'"procedure_code"\s*:\s*"(?P<code>[1-6]\.\d{6})"')
CHOOSE_PAYLOAD = "/choose_procedure"
NARROW_VALUE_RE = re.compile(r'"narrow_value"\s*:')
HUMAN_PAYLOAD = "/request_human"
RATING_PAYLOAD = "/rate"
# An FAQ answer ends with its source link (domain.yml utter_faq/*; knowledge-base FAQ entries as
# "<answer>\nNguồn: <url>"). Procedure answers end with "Nguồn: Cổng Dịch vụ công quốc gia — <url>" and are
# recognised by their header first.
FAQ_SOURCE_RE = re.compile(r"(?:Nguồn|Source): https?://\S+\s*$")

# What the first reply of a conversation was, in the order of the routing table.
REPLY_KINDS = {
    "answer": "procedure answer",
    "several": "several procedures, each briefly",
    "narrow": "narrowing question (attribute buttons)",
    "choose": "which of these procedures (names)",
    "suggest": "suggestions + officer",
    "not_found": "not found + officer",
    "ask_topic": "asks which procedure",
    "status": "status form",
    "feedback": "feedback form",
    "handoff": "handoff",
    "faq": "FAQ answer",
    "out_of_scope": "out of scope",
    "fallback": "fallback (rephrase)",
    "error": "error apology",
    "other": "other",
}

# Beginnings of the replies of each route (texts of domain.yml and actions/*.py; tests/unit/test_eval_dialogue.py
# feeds the real texts through classify_reply, so a reworded reply shows up there). Checked in this order.
TEXT_MARKERS = (
    ("error", ("Xin lỗi, hệ thống", "Sorry, the procedure search is having a problem")),
    ("status", ("Bạn cho tôi xin mã hồ sơ", "Để bảo vệ thông tin của bạn, vui lòng nhập 4 chữ số cuối",
                "Mã hồ sơ chưa đúng định dạng", "Tôi chưa nhận đủ mã hồ sơ", "Tôi không tìm thấy hồ sơ nào khớp")),
    ("feedback", ("Phản ánh của bạn thuộc lĩnh vực nào", "Bạn mô tả giúp nội dung phản ánh", "Sự việc xảy ra ở đâu",
                  "Bạn cho tôi mã phản ánh", "Để bảo vệ thông tin phản ánh", "Tôi chưa nhận đủ thông tin phản ánh")),
    ("handoff", ("Tôi có thể chuyển cuộc trò chuyện này cho cán bộ hỗ trợ", "Tôi đã chuyển yêu cầu của bạn cho cán bộ",
                 "Bạn có muốn được chuyển sang cán bộ hỗ trợ", "hiện tôi chưa chuyển được yêu cầu tới cán bộ")),
    ("out_of_scope", ("câu hỏi này nằm ngoài phạm vi hỗ trợ của tôi",)),
    ("fallback", ("Xin lỗi, tôi chưa hiểu rõ câu hỏi", "Xin lỗi, tôi chưa hiểu ý bạn")),
    ("ask_topic", ("Bạn đang hỏi về thủ tục nào", "Which procedure are you asking about")),
)
# The list of procedure names offered when siblings cannot be narrowed by an attribute (utter_procedure_choose).
CHOOSE_MARKERS = ("Bạn muốn hỏi thủ tục nào dưới đây", "Which of these procedures do you mean")


def _texts(messages: Sequence[dict]) -> List[str]:
    return [" ".join(str(m.get("text") or "").split()) for m in messages if isinstance(m, dict)]


def _payloads(messages: Sequence[dict]) -> List[str]:
    return [str(b.get("payload") or "") for m in messages if isinstance(m, dict)
            for b in (m.get("buttons") or []) if isinstance(b, dict)]


def answered_codes(messages: Sequence[dict]) -> List[str]:
    """Codes of the procedures the reply answers (header lines), in order."""
    return [match["code"] for m in messages if isinstance(m, dict)
            for match in HEADER_RE.finditer(str(m.get("text") or ""))]


def offered_codes(messages: Sequence[dict]) -> List[str]:
    """Codes the reply's buttons open, in order."""
    return [match["code"] for payload in _payloads(messages) for match in PAYLOAD_CODE_RE.finditer(payload)]


def tap_payload(messages: Sequence[dict], code) -> Optional[str]:
    """The payload of the first button that opens ``code`` (or one of a list of codes: :func:`accepted`), what a
    tap sends; None when no button does."""
    codes = accepted(code)
    for payload in _payloads(messages):
        if any(match["code"] in codes for match in PAYLOAD_CODE_RE.finditer(payload)):
            return payload
    return None


def narrow_buttons(messages: Sequence[dict]) -> int:
    """How many buttons pick a narrowing option that still covers several procedures (a second question follows)."""
    return sum(1 for payload in _payloads(messages) if NARROW_VALUE_RE.search(payload))


def classify_reply(messages: Sequence[dict]) -> str:
    """The kind of one bot turn (a key of :data:`REPLY_KINDS`).

    A procedure answer wins (several procedures, each briefly, when it names more than one); then
    ``/choose_procedure`` buttons: with the officer button they are suggestions, under the "which of these
    procedures" text a list of names, otherwise a narrowing question (short attribute buttons); the officer button
    alone says nothing was found; then the routes' own texts; an FAQ answer by its closing source
    link.
    """
    answered = answered_codes(messages)
    if answered:
        return "several" if len(set(answered)) > 1 else "answer"
    payloads = _payloads(messages)
    texts = _texts(messages)
    if any(p.startswith(CHOOSE_PAYLOAD) for p in payloads):
        if HUMAN_PAYLOAD in payloads:
            return "suggest"
        return "choose" if any(m in t for t in texts for m in CHOOSE_MARKERS) else "narrow"
    if payloads and set(payloads) == {HUMAN_PAYLOAD}:
        return "not_found"
    for kind, markers in TEXT_MARKERS:
        if any(marker in text for text in texts for marker in markers):
            return kind
    if any(FAQ_SOURCE_RE.search(text) for text in texts):
        return "faq"
    return "other"


def accepted(expected) -> set:
    """The codes counted right: one code, or a list of them (a strangers' question: the code and its level
    variants); empty for an unanswerable question."""
    if not expected:
        return set()
    return {expected} if isinstance(expected, str) else set(expected)


def judge(expected, first: Sequence[dict], after_tap: Optional[Sequence[dict]] = None) -> str:
    """The outcome of one conversation: the first reply and, when a tap was simulated, the reply to it.

    Answerable (``expected`` a code or a list of codes, :func:`accepted`): ``right_at_once``, ``right_after_tap``,
    ``wrong`` or ``no_procedure``. Unanswerable (``expected`` None): ``oos_handled`` when no procedure was
    answered, else ``oos_answered``.
    """
    got = answered_codes(first)
    right = accepted(expected)
    if not right:
        return "oos_answered" if got else "oos_handled"
    if right & set(got):
        return "right_at_once"
    if got:
        return "wrong"
    if after_tap is not None:
        got = answered_codes(after_tap)
        if right & set(got):
            return "right_after_tap"
        if got:
            return "wrong"
    return "no_procedure"


# ---- questions ------------------------------------------------------------------------------------------------


def _spread(items: list, key: Callable, k: int, rng: random.Random) -> list:
    """``k`` items chosen round-robin over the groups of ``key`` (shuffled by ``rng``): as many groups as possible."""
    groups: Dict[str, list] = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    order = sorted(groups)
    rng.shuffle(order)
    for name in order:
        rng.shuffle(groups[name])
    chosen: list = []
    depth = 0
    while len(chosen) < k and any(len(groups[g]) > depth for g in order):
        chosen += [groups[g][depth] for g in order if len(groups[g]) > depth][: k - len(chosen)]
        depth += 1
    return chosen


def sample_questions(n: int = DEFAULT_N, n_unanswerable: int = DEFAULT_UNANSWERABLE,
                     seed: int = DEFAULT_SEED, styles: Sequence[str] = STYLES) -> List[dict]:
    """A seeded sample of the bank's test split: ``n`` answerable questions stratified by style (as equal as ``n``
    allows; within a style, one question per procedure before a second one) and ``n_unanswerable`` unanswerable
    questions spread over their topics."""
    from knowledge.bank import load_bank

    bank = sorted(load_bank(splits=("test",)), key=lambda q: (q.code or "", q.style, q.q))
    rng = random.Random(seed)
    items: List[dict] = []
    quotas = [n // len(styles) + (1 if i < n % len(styles) else 0) for i in range(len(styles))]
    for style, quota in zip(styles, quotas):
        pool = [q for q in bank if q.answerable and q.style == style]
        if len(pool) < quota:
            raise ValueError(f"only {len(pool)} test-split questions of style {style!r}, {quota} wanted")
        items += [{"q": q.q, "code": q.code, "style": style, "family": q.family, "topic": ""}
                  for q in _spread(pool, lambda q: q.code, quota, rng)]
    pool = [q for q in bank if not q.answerable]
    if len(pool) < n_unanswerable:
        raise ValueError(f"only {len(pool)} unanswerable test-split questions, {n_unanswerable} wanted")
    items += [{"q": q.q, "code": None, "style": q.style, "family": None, "topic": q.topic}
              for q in _spread(pool, lambda q: q.topic, n_unanswerable, rng)]
    return [{"id": f"d{i:04d}", **item} for i, item in enumerate(items, 1)]


def strangers_questions(part: str = "test") -> List[dict]:
    """The strangers' set (``knowledge/data/questions/strangers``): questions written apart from the bank, asked of
    the bot as deployed (every bank question votes; none of these is a bank question)."""
    from knowledge.bank import load_split, load_strangers

    split = load_split()
    return [{"id": f"s{i:04d}", "q": r["q"], "code": r["code"], "expected": r["expected"], "style": r["style"],
             "family": split.get(r["code"], {}).get("family") if r["code"] else None, "topic": r.get("topic", "")}
            for i, r in enumerate(load_strangers(part), 1)]


# ---- talking to the stack -------------------------------------------------------------------------------------


@dataclass
class Conversation:
    """One web-chat conversation: the sender id and session token the server issued."""

    sender: str
    token: str


class RestClient:
    """The REST channel as the web widget uses it (web/widget.js RestTransport)."""

    def __init__(self, rasa_url: str, timeout: float = 60.0) -> None:
        """``rasa_url``: the Rasa server (or load balancer) base URL."""
        import requests

        self.base = rasa_url.rstrip("/") + "/webhooks/rest"
        self.timeout = timeout
        self.http = requests.Session()

    def new_conversation(self) -> Conversation:
        """A fresh conversation (new sender id) issued by the server."""
        resp = self.http.post(f"{self.base}/session", timeout=self.timeout)
        resp.raise_for_status()
        data = resp.json()
        return Conversation(data["sender"], data["session_token"])

    def say(self, conversation: Conversation, text: str) -> tuple:
        """Send one message; ``(bot messages, seconds of the HTTP round trip)``. Raises on an HTTP error."""
        started = time.perf_counter()
        resp = self.http.post(
            f"{self.base}/webhook",
            json={"sender": conversation.sender, "message": text, "metadata": {"channel": "web"}},
            headers={"X-Sender-Id": conversation.sender, "X-Chat-Session": conversation.token},
            timeout=self.timeout,
        )
        seconds = time.perf_counter() - started
        resp.raise_for_status()
        return resp.json(), seconds


def knowledge_health(actions_url: str) -> dict:
    """The action server's ``GET /health/knowledge`` (index, model, which bank splits vote)."""
    import requests

    resp = requests.get(actions_url.rstrip("/") + "/health/knowledge", timeout=30)
    resp.raise_for_status()
    return resp.json()


def excerpt(messages: Sequence[dict], limit: int = 140) -> str:
    """The reply's text on one line, cut for the report."""
    text = " / ".join(t for t in _texts(messages) if t)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def run_one(client: RestClient, item: dict) -> dict:
    """One conversation: the question, then one tap on the expected procedure's button when it is offered."""
    row = {**item, "latency_s": []}
    try:
        conversation = client.new_conversation()
        first, seconds = client.say(conversation, item["q"])
        row["latency_s"].append(round(seconds, 4))
        tap = None
        expected = item.get("expected") or item["code"]
        payload = tap_payload(first, expected) if item["code"] and not answered_codes(first) else None
        if payload:
            tap, seconds = client.say(conversation, payload)
            row["latency_s"].append(round(seconds, 4))
    except Exception as exc:  # noqa: BLE001 - an HTTP failure is a measured outcome, not a crash of the run
        row.update(kind="error", outcome="http_error",
                   http_error=f"{type(exc).__name__}: {exc}"[:200], answered=[], offered=[], reply="", tapped=False,
                   answered_after_tap=[])
        return row
    row.update(kind=classify_reply(first), outcome=judge(expected, first, tap), answered=answered_codes(first),
               offered=offered_codes(first), narrow_buttons=narrow_buttons(first), reply=excerpt(first),
               tapped=tap is not None,
               answered_after_tap=answered_codes(tap) if tap is not None else [])
    return row


def run_all(client: RestClient, items: Sequence[dict], log: Optional[Callable[[str], None]] = None) -> List[dict]:
    """Every conversation, one at a time (one chat at a time: the latency target's setting)."""
    rows = []
    for number, item in enumerate(items, 1):
        rows.append(run_one(client, item))
        if log and (number % 40 == 0 or number == len(items)):
            counts = Counter(r["outcome"] for r in rows)
            log(f"  {number}/{len(items)} conversations: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return rows


# ---- summary --------------------------------------------------------------------------------------------------

OUTCOMES = ("right_at_once", "right_after_tap", "wrong", "no_procedure")


def _block(rows: Sequence[dict], families: Dict[str, str]) -> dict:
    n = len(rows)
    counts = Counter(r["outcome"] for r in rows)
    rate = (lambda k: round(k / n, 3)) if n else (lambda k: None)
    siblings = sum(1 for r in rows if r["outcome"] == "wrong" and any(
        families.get(code) == r["family"] for code in r["answered"] + r.get("answered_after_tap", [])))
    return {"n": n, **{o: rate(counts[o]) for o in OUTCOMES},
            "right_or_tap": rate(counts["right_at_once"] + counts["right_after_tap"]),
            "counts": {**{o: counts[o] for o in OUTCOMES}, "wrong_sibling": siblings}}


def summarize(rows: Sequence[dict], families: Optional[Dict[str, str]] = None) -> dict:
    """Rates per style and overall, out-of-scope handling, the routing table and the turn latency."""
    families = families or {}
    answerable = [r for r in rows if r["code"]]
    unanswerable = [r for r in rows if not r["code"]]
    styles = [s for s in STYLES if any(r["style"] == s for r in answerable)]
    handled = sum(1 for r in unanswerable if r["outcome"] == "oos_handled")
    routing: Dict[str, Dict[str, int]] = {}
    for label, group in [*((s, [r for r in answerable if r["style"] == s]) for s in styles),
                         ("unanswerable", unanswerable)]:
        if group:
            counts = Counter(r["kind"] for r in group)
            routing[label] = {k: counts[k] for k in REPLY_KINDS if counts[k]}
    first = [r["latency_s"][0] for r in rows if r["latency_s"]]
    taps = [r["latency_s"][1] for r in rows if len(r["latency_s"]) > 1]
    turns = [s for r in rows for s in r["latency_s"]]
    def ms(seconds: Optional[float]) -> Optional[float]:
        return None if seconds is None else round(1000 * seconds, 1)

    def p(values: Sequence[float], q: float) -> Optional[float]:
        return percentile(values, q) if values else None

    return {
        "n": len(rows),
        "answerable": len(answerable),
        "overall": _block(answerable, families),
        "styles": {s: _block([r for r in answerable if r["style"] == s], families) for s in styles},
        "out_of_scope": {"n": len(unanswerable), "handled": round(handled / len(unanswerable), 3) if unanswerable
                         else None, "counts": {"handled": handled, "answered": len(unanswerable) - handled}},
        "routing": routing,
        "latency": {"turns": len(turns), "p50_ms": ms(p(turns, 50)), "p95_ms": ms(p(turns, 95)),
                    "max_ms": ms(max(turns) if turns else None),
                    "first_p50_ms": ms(p(first, 50)), "first_p95_ms": ms(p(first, 95)),
                    "tap_turns": len(taps), "tap_p50_ms": ms(p(taps, 50)),
                    "tap_p95_ms": ms(p(taps, 95))},
        "http_errors": sum(1 for r in rows if r.get("http_error")),
    }


def check_floors(summary: dict, floors: dict, path: str = "") -> List[str]:
    """Misses of ``summary`` against ``floors``: the same nesting as the summary, a number is a floor, a key
    ``max_<metric>`` a ceiling (``{"overall": {"right_or_tap": 0.8, "max_wrong": 0.05}, "max_http_errors": 0}``)."""
    missed = []
    for key, bound in floors.items():
        if key.startswith("_"):  # "_comment"
            continue
        name = key.removeprefix("max_")
        where = f"{path}{name}"
        got = summary.get(name) if isinstance(summary, dict) else None
        if isinstance(bound, dict):
            missed += check_floors(got if isinstance(got, dict) else {}, bound, where + ".")
        elif got is None:
            missed.append(f"{where}: not measured")
        elif key.startswith("max_") and got > bound:
            missed.append(f"{where} {got} > {bound}")
        elif not key.startswith("max_") and got < bound:
            missed.append(f"{where} {got} < {bound}")
    return missed


# ---- report ---------------------------------------------------------------------------------------------------

# The targets (issue 14), shown beside the measurement.
TARGETS = {"right_at_once": 0.80, "style_right_at_once": 0.70, "right_or_tap": 0.95, "wrong": 0.03,
           "oos_handled": 0.90, "p95_ms": 1500}


def git_commit() -> str:
    """The measured commit (short hash), marked when the working tree has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    commit = git("rev-parse", "--short=10", "HEAD") or "unknown"
    return commit + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


def file_fingerprint(path: Path) -> str:
    """``name, size MB, sha256 prefix`` of a model file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return f"`{_shown(path)}` ({path.stat().st_size / 1e6:.1f} MB, sha256 {digest.hexdigest()[:12]})"


def _shown(path) -> str:
    """A path relative to the repository when it is inside it (worktrees differ), else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(ROOT.resolve()))
    except ValueError:
        try:
            return str(path.relative_to(ROOT))
        except ValueError:
            return str(path)


def _pct(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.3f}"


SET_COMMANDS = {"bank": "make eval-dialogue", "strangers": "make eval-dialogue-strangers",
                "strangers-cal": "scripts/eval_dialogue.py --set strangers-cal"}
SET_TITLES = {"strangers": "of the strangers' test set (written apart from the bank, never tuned on)",
              "strangers-cal": "of the strangers' calibration set (written apart from the bank, the set to tune on)"}


def questions_source(meta: dict) -> str:
    """Where the measured questions come from, for the report's header."""
    return SET_TITLES.get(meta.get("set"), f"of the bank's test split, stratified by style (seed {meta['seed']}; "
                          "within a style one question per procedure first)")


def report_markdown(summary: dict, rows: Sequence[dict], meta: dict, names: Dict[str, str]) -> str:
    """The Markdown report (reports/dialogue/eval.md)."""
    o, oos, lat = summary["overall"], summary["out_of_scope"], summary["latency"]
    lines = [
        "# Dialogue evaluation (end to end, REST channel)", "",
        f"Written by `{SET_COMMANDS.get(meta.get('set'), 'make eval-dialogue')}` (`scripts/eval_dialogue.py`) on "
        f"{meta['date']}, {meta['seconds']:.0f} s.", "",
        f"- **Commit:** `{meta['commit']}`",
        f"- **Rasa model:** {meta['model']}",
        f"- **Knowledge index:** {meta['index']}",
        f"- **Question bank in the search:** {meta['bank']}",
        f"- **Questions:** {summary['answerable']} answerable questions {questions_source(meta)}, and "
        f"{oos['n']} unanswerable ones (no procedure answers them). Each is the first message of a new "
        "conversation, opened as the web widget opens one (`POST /webhooks/rest/session`, then "
        "`/webhooks/rest/webhook` with the session token), one conversation at a time.",
        "- **One tap:** when the first reply answers no procedure but one of its buttons opens the expected procedure, "
        "that button's payload is sent as the next message of the conversation.", "",
        "## Answerable questions by style", "",
        "| style | n | right at once | right after one tap | right at once or after a tap | wrong | no procedure |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, block in [*summary["styles"].items(), ("**overall**", o)]:
        lines.append(f"| {label} | {block['n']} | {_pct(block['right_at_once'])} | {_pct(block['right_after_tap'])} | "
                     f"{_pct(block['right_or_tap'])} | {_pct(block['wrong'])} | {_pct(block['no_procedure'])} |")
    siblings = o["counts"]["wrong_sibling"]
    lines += ["", f"Wrong answers: {o['counts']['wrong']}, of which {siblings} answered a sibling of the expected "
              "procedure (same family: a level variant or another operation of it).", "",
              f"**Out of scope handled** (no procedure answered to an unanswerable question): {_pct(oos['handled'])} "
              f"({oos['counts']['handled']} of {oos['n']}).", "",
              f"**HTTP errors:** {summary['http_errors']}.", "", "## Against the targets of issue 14", "",
              "| target | goal | measured | |", "| --- | ---: | ---: | --- |"]
    worst = min(summary["styles"].items(), key=lambda kv: kv[1]["right_at_once"] or 0, default=("–", {}))
    checks = [
        ("answered right at once", f"≥ {TARGETS['right_at_once']}", o["right_at_once"], ">=", TARGETS["right_at_once"]),
        (f"every style right at once (lowest: {worst[0]})", f"≥ {TARGETS['style_right_at_once']}",
         worst[1].get("right_at_once"), ">=", TARGETS["style_right_at_once"]),
        ("right at once or after one tap", f"≥ {TARGETS['right_or_tap']}", o["right_or_tap"], ">=",
         TARGETS["right_or_tap"]),
        ("wrong", f"≤ {TARGETS['wrong']}", o["wrong"], "<=", TARGETS["wrong"]),
        ("out of scope handled", f"≥ {TARGETS['oos_handled']}", oos["handled"], ">=", TARGETS["oos_handled"]),
        ("p95 of a turn (ms)", f"≤ {TARGETS['p95_ms']}", lat["p95_ms"], "<=", TARGETS["p95_ms"]),
    ]
    for what, goal, got, op, bound in checks:
        met = got is not None and (got >= bound if op == ">=" else got <= bound)
        shown = "–" if got is None else (f"{got:.0f}" if "ms" in what else f"{got:.3f}")
        lines.append(f"| {what} | {goal} | {shown} | {'met' if met else '**missed**'} |")
    kinds = [k for k in REPLY_KINDS if any(k in row for row in summary["routing"].values())]
    lines += ["", "## Routing: the kind of the first reply", "",
              "Classified by `classify_reply`: the procedure answer's header; `/choose_procedure` buttons (with the "
              "officer button: suggestions; under \"Bạn muốn hỏi thủ tục nào dưới đây?\": the list of names; "
              "otherwise a narrowing question with short attribute buttons); the officer button alone; the texts of "
              "the status and feedback forms, the handoff, out-of-scope, fallback and error replies; an FAQ answer's "
              "closing source link.", "",
              "| questions | " + " | ".join(REPLY_KINDS[k] for k in kinds) + " | n |",
              "| --- | " + " | ".join("---:" for _ in kinds) + " | ---: |"]
    for label, counts in summary["routing"].items():
        lines.append(f"| {label} | " + " | ".join(str(counts.get(k, 0)) for k in kinds)
                     + f" | {sum(counts.values())} |")
    lines += ["", "## Turn latency (HTTP round trip of one message, one conversation at a time)", "",
              "| turns | n | p50 ms | p95 ms |", "| --- | ---: | ---: | ---: |",
              f"| all | {lat['turns']} | {lat['p50_ms']} | {lat['p95_ms']} (max {lat['max_ms']}) |",
              f"| first message | {summary['n']} | {lat['first_p50_ms']} | {lat['first_p95_ms']} |",
              f"| tap | {lat['tap_turns']} | {lat['tap_p50_ms']} | {lat['tap_p95_ms']} |", ""]

    def name(code: Optional[str]) -> str:
        return f"{code} {names.get(code, '')[:70]}" if code else "–"

    def cell(text: str) -> str:
        return text.replace("|", "/").replace("\n", " ")

    wrong = [r for r in rows if r["outcome"] == "wrong"]
    lines += [f"## Wrong answers ({len(wrong)})", "", "| style | question | expected | answered |",
              "| --- | --- | --- | --- |"]
    for r in sorted(wrong, key=lambda r: (r["style"], r["q"])):
        got = (r["answered"] or r.get("answered_after_tap") or [None])[0]
        lines.append(f"| {r['style']} | {cell(r['q'])} | {cell(name(r['code']))} | {cell(name(got))} |")
    missing = [r for r in rows if r["outcome"] == "no_procedure"]
    two_step = sum(1 for r in missing if r["kind"] == "narrow" and r.get("narrow_buttons"))
    lines += ["", f"## No procedure ({len(missing)})", "",
              "`offered`: the expected procedure's position among the buttons that open a procedure (– when not "
              f"offered). {two_step} of these first replies were narrowing questions with an option that still "
              "covers several siblings (its tap asks a second question; only one tap on a button that opens the "
              "expected procedure is simulated).", "",
              "| style | question | expected | first reply | offered | reply |",
              "| --- | --- | --- | --- | ---: | --- |"]
    for r in sorted(missing, key=lambda r: (r["style"], r["kind"], r["q"])):
        position = r["offered"].index(r["code"]) + 1 if r["code"] in r["offered"] else "–"
        kind = REPLY_KINDS.get(r["kind"], r["kind"])
        lines.append(f"| {r['style']} | {cell(r['q'])} | {cell(name(r['code']))} | {kind} | {position} | "
                     f"{cell(r.get('http_error') or r['reply'])} |")
    answered = [r for r in rows if r["outcome"] == "oos_answered"]
    lines += ["", f"## Unanswerable questions that got a procedure ({len(answered)})", "",
              "| topic | question | answered |", "| --- | --- | --- |"]
    for r in answered:
        lines.append(f"| {r['topic']} | {cell(r['q'])} | {cell(name(r['answered'][0]))} |")
    return "\n".join(lines) + "\n"


def print_table(summary: dict) -> None:
    """The per-style table on stdout."""
    print(f"{'style':<14}{'n':>5}{'at once':>9}{'tap':>7}{'either':>8}{'wrong':>7}{'none':>7}")
    for label, b in [*summary["styles"].items(), ("overall", summary["overall"])]:
        print(f"{label:<14}{b['n']:>5}{_pct(b['right_at_once']):>9}{_pct(b['right_after_tap']):>7}"
              f"{_pct(b['right_or_tap']):>8}{_pct(b['wrong']):>7}{_pct(b['no_procedure']):>7}")
    oos, lat = summary["out_of_scope"], summary["latency"]
    print(f"out of scope handled {_pct(oos['handled'])} (n={oos['n']}); turn latency p50 {lat['p50_ms']} ms, "
          f"p95 {lat['p95_ms']} ms; HTTP errors {summary['http_errors']}")


# ---- main -----------------------------------------------------------------------------------------------------


def verify_hidden(health: dict, wanted: Optional[List[str]] = HIDDEN_SPLITS) -> None:
    """Refuse to measure when the bank splits voting are not ``wanted``: the train split only for the bank's test
    split (its own questions must not vote), every split for the strangers' set (the bot as deployed)."""
    splits = health.get("bank_splits")
    if splits != wanted:
        how = "KB_BANK_SPLITS=train" if wanted == HIDDEN_SPLITS else "KB_BANK_SPLITS unset"
        raise SystemExit(f"The action server's question bank votes with splits {splits!r}; the evaluation needs "
                         f"{wanted!r} (start it with {how}).")


def index_line(health: dict) -> str:
    """The knowledge index as the action server reports it."""
    return (f"`{_shown(health.get('index_dir') or '?')}` (encoder {health.get('model')}, built "
            f"{health.get('built_at')}, {health.get('entries')} entries, "
            f"{health.get('bank_questions')} bank questions)")


def families_by_code() -> Dict[str, str]:
    from knowledge.bank import load_split

    return {code: r["family"] for code, r in load_split().items()}


def main(argv: Optional[Iterable[str]] = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="Rasa URL of a running stack (default: start one with KB_BANK_SPLITS=train)")
    parser.add_argument("--actions-url", help="with --url: its action server, to check which bank splits vote")
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="answerable questions (stratified by style)")
    parser.add_argument("--unanswerable", type=int, default=DEFAULT_UNANSWERABLE)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--model", type=Path, help="Rasa model of the started stack (default: $RASA_MODEL or "
                        "models/tthc.tar.gz)")
    parser.add_argument("--out", type=Path, help="write eval.md and eval.json here (make eval-dialogue: "
                        "reports/dialogue)")
    parser.add_argument("--check", type=Path, metavar="FILE", help="exit 1 when a floor of FILE is missed "
                        "(e.g. tests/dialogue/regression.json)")
    parser.add_argument("--set", choices=["bank", "strangers", "strangers-cal"], default="bank",
                        help="bank: a sample of the bank's test split, train split voting (default); strangers: the "
                        "strangers' test set, asked of the bot as deployed (every bank question voting); "
                        "strangers-cal: the same with the strangers' calibration set (the one to tune on)")
    args = parser.parse_args(list(argv) if argv is not None else None)

    from knowledge.store import load_procedures
    from scripts.stack import RestStack, StackError, model_path
    from settings import BANK_SPLITS

    strangers = args.set != "bank"
    part = "calibration" if args.set == "strangers-cal" else "test"
    items = strangers_questions(part) if strangers else sample_questions(args.n, args.unanswerable, args.seed)
    wanted = list(BANK_SPLITS) if strangers else HIDDEN_SPLITS
    env = {} if strangers else {"KB_BANK_SPLITS": " ".join(HIDDEN_SPLITS)}
    started = time.monotonic()
    stack, workdir = None, None
    if args.url:
        rasa_url, actions_url, model = args.url, args.actions_url, "served by " + args.url
        if not actions_url:
            raise SystemExit("--url needs --actions-url: the evaluation checks that only the train split votes.")
    else:
        model_file = args.model or model_path()
        if not model_file.exists():
            raise SystemExit(f"No trained model at {model_file}: run `make train` first.")
        workdir = tempfile.TemporaryDirectory(prefix="eval-dialogue-")
        stack = RestStack(Path(workdir.name), model=model_file, extra_env=env)
        print(f"Starting the stack (Rasa model {model_file}, bank splits voting: {wanted}) ...", flush=True)
        try:
            stack.start()
        except StackError as exc:
            stack.shutdown()
            workdir.cleanup()
            raise SystemExit(f"The stack did not start: {exc}")
        rasa_url, actions_url, model = stack.rasa_url, stack.actions_url, file_fingerprint(model_file)
        print(f"Stack up in {time.monotonic() - started:.0f} s.", flush=True)
    try:
        health = knowledge_health(actions_url)
        verify_hidden(health, wanted)
        print(f"Sending {len(items)} conversations to {rasa_url} ...", flush=True)
        rows = run_all(RestClient(rasa_url), items, log=lambda line: print(line, flush=True))
    finally:
        if stack is not None:
            stack.shutdown()
            workdir.cleanup()
    summary = summarize(rows, families_by_code())
    print_table(summary)
    if args.out:
        meta = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "seconds": time.monotonic() - started,
                "commit": git_commit(), "model": model, "index": index_line(health), "seed": args.seed,
                "set": args.set,
                "bank": (f"every split voting, as deployed (confirmed by the action server's GET /health/knowledge: "
                         f"bank_splits={health.get('bank_splits')}); the strangers' questions are not in the bank"
                         if strangers else
                         f"train split only (KB_BANK_SPLITS=train, confirmed by the action server's GET "
                         f"/health/knowledge: bank_splits={health.get('bank_splits')}); the test split's own "
                         "questions were hidden, so no measured question could find itself")}
        names = {p.code: p.name for p in load_procedures()}
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "eval.md").write_text(report_markdown(summary, rows, meta, names), encoding="utf-8")
        (args.out / "eval.json").write_text(json.dumps(
            {"meta": {**meta, "seconds": round(meta["seconds"], 1), "n": sum(1 for i in items if i["code"]),
                      "unanswerable": sum(1 for i in items if not i["code"])},
             "summary": summary, "conversations": rows}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"Wrote {args.out / 'eval.md'} and {args.out / 'eval.json'}")
    if args.check:
        missed = check_floors(summary, json.loads(args.check.read_text(encoding="utf-8")))
        print("Floors:", "all met" if not missed else "missed: " + "; ".join(missed))
        return 1 if missed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
