#!/usr/bin/env python
"""Load test: N concurrent simulated citizens against the REST channel (behind ``make load``).

Each simulated citizen is a closed loop (think time 0): it picks a scripted multi-turn conversation, plays it
under a fresh sender id through ``POST /webhooks/rest/webhook`` and starts the next one as soon as the last reply
arrives, until the step's time is up. The turns are real citizen messages: procedure questions from the
retrieval dev set (tests/retrieval/devset.jsonl) in every typing style (accented, no diacritics, teencode,
English), follow-ups about the same procedure, status lookups of seeded applications (the 3-turn form and the
2-turn "code in the question" form, sometimes with wrong digits), the 6-turn feedback form, greetings, thanks
and questions the knowledge base does not cover.

Per step (N = 1, 10, 20, 50 by default) it prints throughput (turns/s), p50/p95/p99 turn latency, errors
(non-200, transport error, empty reply, the "actions down" apology), replies that did not match what the
scripted turn expects (form prompts, status label, feedback code), and the peak RSS of the Rasa and action
server processes (/proc/<pid>/status, sampled every 0.25 s, children included).

Then a profile of where a turn's time goes, measured one message at a time on the idle stack: the full REST
turn, Rasa NLU alone (``POST /model/parse``), the action server alone (``POST /webhook`` with the
``action_answer_procedure`` call Rasa makes, real domain and parse data), and the knowledge search alone
in-process (a child process in the action venv); the rest of a turn is dialogue policy + tracker store + HTTP.
The knowledge-base size curve comes from reports/bench/bench.json (``make bench``).

Profiles:
  --profile embedded   starts the stack itself (scripts/stack.py's RestStack: action server + Rasa on free
                       ports, SQLite tracker and services stores in a temp dir, 3,000 seeded applications)
  --profile scaled     the scaled profile (nginx + 2 Rasa + 2 action servers) when its helper is importable,
                       else give --url of a running one
  --url URL            any running stack (its Rasa URL or load balancer); --services-db gives the SQLite file
                       with seeded applications (default var/services.db), --rasa-token enables the NLU profile

Results: reports/load/<profile>.json and .md. Runs with the Rasa venv's Python (aiohttp); the search timing
child runs with the action venv's.

Usage:
    PYTHONPATH=. .venv-rasa/bin/python scripts/load.py --profile embedded [--levels 1,10,20,50]
        [--duration 30] [--turns 0] [--seed 7] [--no-breakdown]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts.percentiles import latency_summary  # noqa: E402 - after the path set-up (run as a script)

ACTIONS_PY = ROOT / ".venv-actions" / "bin" / "python"
DEVSET = ROOT / "tests" / "retrieval" / "devset.jsonl"
BENCH_JSON = ROOT / "reports" / "bench" / "bench.json"
OUT_DIR = ROOT / "reports" / "load"
TARGET_P95_MS = 150.0
TARGET_N = 20
# System-fault apologies (channels/rest.py, actions/*.py): a turn answered with one of these is an error.
APOLOGY_MARKS = ("đang gặp sự cố", "đang gián đoạn", "chưa lưu được phản ánh", "chưa chuyển được yêu cầu")
REQUEST_TIMEOUT_S = 60.0
RASA_VERSION = "3.6.21"

# ---- what citizens type ------------------------------------------------------------------------------------
GREETINGS = ("xin chào", "chào bạn", "chao ban", "alo", "hello", "chào em, cho hỏi chút")
THANKS = ("cảm ơn bạn", "cam on nhe", "ok cảm ơn", "thanks", "cảm ơn nhiều ạ")
FOLLOW_UPS = {
    "vi": ("cần giấy tờ gì?", "lệ phí bao nhiêu?", "mất bao lâu?", "nộp hồ sơ ở đâu?", "làm online được không?",
           "thế còn phí?"),
    "plain": ("can giay to gi", "le phi bao nhieu", "mat bao lau", "nop o dau", "lam online dc ko"),
    "en": ("what documents do I need?", "how much is the fee?", "how long does it take?", "where do I apply?"),
}
STATUS_OPENERS = ("tôi muốn tra cứu tình trạng hồ sơ", "tra cuu ho so", "kiểm tra hồ sơ của tôi đến đâu rồi",
                  "cho mình tra cứu hồ sơ")
STATUS_WITH_CODE = ("hồ sơ {code} đến đâu rồi", "tra cứu hồ sơ {code}", "ho so {code} xu ly chua",
                    "kiểm tra giúp tôi hồ sơ {code}")
FEEDBACK_OPENERS = ("tôi muốn gửi phản ánh kiến nghị", "gửi kiến nghị", "toi muon phan anh")
FEEDBACK_ITEMS = (
    ("Hạ tầng", "Đèn đường ngõ 7 phố Nguyễn Trãi hỏng cả tuần nay, tối rất tối và nguy hiểm",
     "phường Đông Ngàn, thị xã Từ Sơn"),
    ("Môi trường", "Rác thải để bừa bãi ở đầu ngõ 12 không ai dọn, bốc mùi mấy ngày nay",
     "thôn Đông, xã Tiên Du"),
    ("Trật tự đô thị", "Quán ăn lấn chiếm hết vỉa hè trên đường Lý Thái Tổ, người đi bộ phải xuống lòng đường",
     "phường Suối Hoa, thành phố Bắc Ninh"),
    ("Thái độ cán bộ", "Cán bộ một cửa hẹn đi hẹn lại nhiều lần mà không giải thích lý do",
     "UBND phường Vũ Ninh"),
)
CONTACTS = ("0912 345 678", "bỏ qua", "0987.654.321", "nguyenvana@gmail.com")

# Mix of conversation kinds (weights): most citizens ask about procedures.
MIX = {"procedure": 40, "greet_procedure": 12, "status": 22, "feedback": 10, "unanswerable": 6, "greet_only": 10}


@dataclass
class Turn:
    """One message of a scripted conversation and a check of its reply (None: no check)."""

    kind: str
    text: str
    expect: Optional[Callable[[str], bool]] = None
    expect_what: str = ""


@dataclass
class Seeds:
    """Material the scripted conversations draw from."""

    questions: Dict[str, List[str]]  # style -> questions
    applications: List[Tuple[str, str, str]]  # (code, last 4 phone digits, status label)


def load_devset(path: Path = DEVSET) -> Dict[str, List[str]]:
    """Dev-set questions by style (accented, aspect, no_diacritics, teencode, english, unanswerable)."""
    styles: Dict[str, List[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            styles.setdefault(row["style"], []).append(row["question"])
    return styles


def seeded_applications(services_db: Path, limit: int = 2000) -> List[Tuple[str, str, str]]:
    """(code, last 4 digits, status) of seeded demo applications, read straight from the SQLite file."""
    if not services_db.exists():
        return []
    conn = sqlite3.connect(f"file:{services_db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT code, applicant_phone, status FROM applications WHERE source = 'demo' ORDER BY code LIMIT ?",
            (limit,),
        ).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    return [(code, phone[-4:], status) for code, phone, status in rows]


def code_as_typed(rng: random.Random, code: str) -> str:
    """An application code the way citizens type it: as printed, lowercase with spaces, or without dots."""
    return rng.choice((code, code.lower().replace("-", " "), code.replace(".", "").lower()))


def contains(*needles: str) -> Callable[[str], bool]:
    """Reply check: every needle occurs (case-insensitive)."""
    low = [n.lower() for n in needles]
    return lambda reply: all(n in reply.lower() for n in low)


def conversation(rng: random.Random, seeds: Seeds) -> Tuple[str, List[Turn]]:
    """One scripted conversation: (kind, turns)."""
    kinds = [k for k in MIX if k != "status" or seeds.applications]
    kind = rng.choices(kinds, [MIX[k] for k in kinds])[0]
    turns: List[Turn] = []
    if kind in ("greet_procedure", "greet_only"):
        turns.append(Turn("greet", rng.choice(GREETINGS)))
    if kind in ("procedure", "greet_procedure"):
        style = rng.choices(["accented", "aspect", "no_diacritics", "teencode", "english"], [30, 15, 25, 15, 15])[0]
        turns.append(Turn("procedure", rng.choice(seeds.questions[style])))
        lang = {"english": "en", "no_diacritics": "plain", "teencode": "plain"}.get(style, "vi")
        for text in rng.sample(FOLLOW_UPS[lang], rng.randint(0, 2)):
            turns.append(Turn("follow_up", text))
        if rng.random() < 0.5:
            turns.append(Turn("thanks", rng.choice(THANKS)))
    elif kind == "greet_only":
        turns.append(Turn("thanks", rng.choice(THANKS)))
    elif kind == "unanswerable":
        turns.append(Turn("unanswerable", rng.choice(seeds.questions["unanswerable"])))
    elif kind == "status":
        code, last4, status = rng.choice(seeds.applications)
        wrong = rng.random() < 0.1
        digits = ("0000" if last4 != "0000" else "1111") if wrong else last4
        result = contains("không tìm thấy hồ sơ") if wrong else contains(status)
        if rng.random() < 0.5:
            turns.append(Turn("status", rng.choice(STATUS_OPENERS), contains("mã hồ sơ"), "asks for the code"))
            turns.append(Turn("status", code_as_typed(rng, code), contains("4 chữ số cuối"), "asks for 4 digits"))
        else:
            text = rng.choice(STATUS_WITH_CODE).format(code=code_as_typed(rng, code))
            turns.append(Turn("status", text, contains("4 chữ số cuối"), "asks for 4 digits"))
        answer = rng.choice((digits, f"4 số cuối là {digits}"))
        turns.append(Turn("status", answer, result, "wrong digits: not found" if wrong else f"status {status}"))
    elif kind == "feedback":
        topic, content, place = rng.choice(FEEDBACK_ITEMS)
        contact = rng.choice(CONTACTS)
        turns += [
            Turn("feedback", rng.choice(FEEDBACK_OPENERS), contains("lĩnh vực"), "asks for the topic"),
            Turn("feedback", topic, contains("nội dung"), "asks for the content"),
            Turn("feedback", content, contains("ở đâu"), "asks where"),
            Turn("feedback", place, contains("số điện thoại hoặc email"), "asks for a contact"),
        ]
        if contact == "bỏ qua":
            turns.append(Turn("feedback", contact, lambda r: re.search(r"PA-\d{6}-\d{4}", r) is not None,
                              "feedback code"))
        else:
            turns.append(Turn("feedback", contact, contains("đồng ý"), "asks for consent"))
            turns.append(Turn("feedback", "/affirm", lambda r: re.search(r"PA-\d{6}-\d{4}", r) is not None,
                              "feedback code"))
    return kind, turns


# ---- measuring ---------------------------------------------------------------------------------------------
def lat_summary(values: List[float]) -> Dict[str, float]:
    """n, p50/p95/p99/mean/max of latencies in ms (0.1 ms)."""
    return latency_summary(values, 1)


def proc_tree(pid: int) -> List[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        cur = todo.pop()
        out.append(cur)
        try:
            for task in Path(f"/proc/{cur}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of ``pid`` and its children in MB; 0 when it is gone."""
    total = 0
    for p in proc_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its children so far (/proc/<pid>/stat), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in proc_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        except (OSError, IndexError, ValueError):
            pass
    return total / ticks


def pid_listening_on(port: int) -> Optional[int]:
    """The process listening on TCP ``port`` on this machine (via /proc/net/tcp and fd links), or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                link = os.readlink(fd)
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(proc.name)
        except OSError:
            continue
    return None


class MemorySampler:
    """Samples the RSS of named server processes while a step runs; keeps the peak per name."""

    def __init__(self, pids: Dict[str, int], interval: float = 0.25) -> None:
        """``pids`` maps a label ("rasa", "actions", "rasa-2"...) to a process id."""
        self.pids = pids
        self.interval = interval
        self.peak: Dict[str, float] = {}
        self._task: Optional[asyncio.Task] = None

    def sample(self) -> Dict[str, float]:
        """One reading (MB per label); updates the peaks."""
        now = {name: rss_mb(pid) for name, pid in self.pids.items()}
        for name, value in now.items():
            self.peak[name] = max(self.peak.get(name, 0.0), value)
        return now

    async def _loop(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        """Start sampling (peaks reset)."""
        self.peak = {}
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> Dict[str, float]:
        """Stop sampling; the peaks of this run."""
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self.sample()
        return dict(self.peak)


@dataclass
class StepStats:
    """What one concurrency step measured."""

    latencies: Dict[str, List[float]] = field(default_factory=dict)  # kind -> ms
    errors: Dict[str, int] = field(default_factory=dict)
    error_examples: List[str] = field(default_factory=list)
    unexpected: int = 0
    unexpected_examples: List[str] = field(default_factory=list)
    conversations: int = 0
    conversations_done: int = 0

    def all_latencies(self) -> List[float]:
        """Every turn's latency."""
        return [v for values in self.latencies.values() for v in values]


def reply_text(messages) -> str:
    """The bot's texts of one turn, joined."""
    if not isinstance(messages, list):
        return ""
    return "\n".join(str(m.get("text", "")) for m in messages if isinstance(m, dict))


async def send(session, url: str, sender: str, text: str) -> Tuple[float, Optional[int], object, str]:
    """One REST turn: (ms, HTTP status or None, parsed body, error text)."""
    import aiohttp

    started = time.perf_counter()
    try:
        # X-Sender-Id as the web widget sends it: the scaled profile's nginx keeps a conversation on one replica.
        async with session.post(url, json={"sender": sender, "message": text}, headers={"X-Sender-Id": sender}) as resp:
            raw = await resp.read()
            ms = (time.perf_counter() - started) * 1000
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            return ms, resp.status, body, "" if resp.status == 200 else raw[:200].decode(errors="replace")
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        return (time.perf_counter() - started) * 1000, None, None, f"{type(exc).__name__}: {exc}"


def classify(status: Optional[int], body, error: str) -> Optional[str]:
    """Error class of one turn, or None when it is a proper answer."""
    if status is None:
        return "transport"
    if status != 200:
        return f"http_{status}"
    text = reply_text(body)
    if not body or not text.strip():
        return "empty_reply"
    if any(mark in text for mark in APOLOGY_MARKS):
        return "apology"
    return None


async def citizen(idx: int, run_id: str, session, url: str, seeds: Seeds, stats: StepStats, deadline: float,
                  max_turns: int, counter: List[int], rng: random.Random, think: float = 0.0) -> None:
    """One simulated citizen: conversations back to back until the deadline (or the step's turn budget).

    ``think`` > 0 waits a random (exponential, that mean in seconds) reading/typing time after each reply.
    """
    conv_no = 0
    if think > 0:  # citizens arrive at random moments, not all in the same millisecond
        await asyncio.sleep(rng.uniform(0, think))
    while time.monotonic() < deadline:
        kind, turns = conversation(rng, seeds)
        sender = f"load-{run_id}-{idx}-{conv_no}"
        conv_no += 1
        stats.conversations += 1
        finished = True
        for turn in turns:
            if time.monotonic() >= deadline or (max_turns and counter[0] >= max_turns):
                finished = False
                break
            counter[0] += 1
            ms, status, body, error = await send(session, url, sender, turn.text)
            stats.latencies.setdefault(turn.kind, []).append(ms)
            problem = classify(status, body, error)
            if problem:
                stats.errors[problem] = stats.errors.get(problem, 0) + 1
                if len(stats.error_examples) < 5:
                    stats.error_examples.append(f"{problem}: {turn.text!r} -> {error or reply_text(body)[:160]!r}")
                finished = False
                break  # the scripted conversation cannot go on sensibly
            if think > 0:
                await asyncio.sleep(min(rng.expovariate(1.0 / think), 4 * think))
            if turn.expect is not None and not turn.expect(reply_text(body)):
                stats.unexpected += 1
                if len(stats.unexpected_examples) < 5:
                    stats.unexpected_examples.append(
                        f"{kind}: {turn.text!r} expected {turn.expect_what}, got {reply_text(body)[:200]!r}")
                finished = False
                break
        if finished:
            stats.conversations_done += 1
        if max_turns and counter[0] >= max_turns:
            return


async def run_step(url: str, n: int, duration: float, max_turns: int, seeds: Seeds, sampler: MemorySampler,
                   seed: int, think: float = 0.0) -> dict:
    """N citizens for ``duration`` seconds (or ``max_turns`` turns in all); the step's numbers."""
    import aiohttp

    stats = StepStats()
    webhook = url.rstrip("/") + "/webhooks/rest/webhook"
    run_id = f"{int(time.time())}-{n}"
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    counter = [0]
    server_cpu_before = {name: cpu_seconds(pid) for name, pid in sampler.pids.items()}
    cpu_before = os.times()
    load_before = os.getloadavg()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sampler.start()
        started = time.monotonic()
        deadline = started + duration if duration else float("inf")
        await asyncio.gather(*(
            citizen(i, run_id, session, webhook, seeds, stats, deadline, max_turns, counter,
                    random.Random(seed * 1000 + i), think)
            for i in range(n)
        ))
        elapsed = time.monotonic() - started
        peaks = await sampler.stop()
    cpu_after = os.times()
    server_cpu = {name: round(cpu_seconds(pid) - server_cpu_before[name], 2) for name, pid in sampler.pids.items()}
    everything = stats.all_latencies()
    summary = lat_summary(everything)
    return {
        "n": n,
        "seconds": round(elapsed, 1),
        "turns": len(everything),
        "throughput": round(len(everything) / elapsed, 2) if elapsed else 0.0,
        "latency_ms": summary,
        "by_kind": {kind: lat_summary(values) for kind, values in sorted(stats.latencies.items())},
        "errors": sum(stats.errors.values()),
        "error_kinds": stats.errors,
        "error_examples": stats.error_examples,
        "unexpected": stats.unexpected,
        "unexpected_examples": stats.unexpected_examples,
        "conversations_started": stats.conversations,
        "conversations_completed": stats.conversations_done,
        "rss_peak_mb": peaks,
        # Server CPU per turn does not depend on how busy the machine is: capacity ≈ cores / this.
        "server_cpu_s": server_cpu,
        "server_cpu_ms_per_turn": round(sum(server_cpu.values()) * 1000 / len(everything), 1) if everything else None,
        "client_cpu_s": round((cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system), 1),
        "load_avg_before": [round(x, 2) for x in load_before],
    }


# ---- where the time goes -------------------------------------------------------------------------------------
def profile_questions(seeds: Seeds, rng: random.Random, per_style: int) -> List[Tuple[str, str]]:
    """(style, question) pairs for the profile, the same number per typing style."""
    out = []
    for style in ("accented", "aspect", "no_diacritics", "teencode", "english"):
        for q in rng.sample(seeds.questions[style], min(per_style, len(seeds.questions[style]))):
            out.append((style, q))
    return out


def action_call(parse: dict, domain: dict, sender: str) -> dict:
    """The body Rasa posts to the action server for ``action_answer_procedure`` after one user message."""
    latest = {k: parse.get(k) for k in ("text", "intent", "entities", "intent_ranking") if k in parse}
    return {
        "next_action": "action_answer_procedure",
        "sender_id": sender,
        "tracker": {
            "sender_id": sender,
            "slots": {},
            "latest_message": latest,
            "latest_event_time": time.time(),
            "followup_action": None,
            "paused": False,
            "events": [
                {"event": "action", "name": "action_session_start", "timestamp": time.time()},
                {"event": "session_started", "timestamp": time.time()},
                {"event": "action", "name": "action_listen", "timestamp": time.time()},
                {"event": "user", "text": parse.get("text"), "parse_data": latest, "timestamp": time.time()},
            ],
            "latest_input_channel": "rest",
            "active_loop": {},
            "latest_action": {"action_name": "action_listen"},
            "latest_action_name": "action_listen",
        },
        "domain": domain,
        "version": RASA_VERSION,
    }


async def breakdown(rasa_url: str, actions_url: Optional[str], token: Optional[str], questions: List[Tuple[str, str]],
                    rounds: int = 2, nlu_url: Optional[str] = None, endpoints_file: Optional[Path] = None) -> dict:
    """Time the full turn, NLU alone, the action alone and the search alone for the same questions.

    ``rasa_url`` takes the whole turns (a load balancer is fine); ``nlu_url`` (default ``rasa_url``) is one Rasa
    server for ``/model/parse`` and ``/domain``.
    """
    nlu_url = nlu_url or rasa_url
    import aiohttp

    from staff_api.rasa_client import rasa_auth_headers

    result: dict = {"questions": len(questions), "rounds": rounds}
    texts = [q for _, q in questions]
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        webhook = rasa_url.rstrip("/") + "/webhooks/rest/webhook"
        turn_ms = []
        for r in range(rounds):
            for i, text in enumerate(texts):
                ms, status, body, _ = await send(session, webhook, f"profile-{int(time.time())}-{r}-{i}", text)
                if status == 200:
                    turn_ms.append(ms)
        result["turn"] = lat_summary(turn_ms)
        parses: List[dict] = []
        if token:
            parse_ms = []
            for r in range(rounds):
                for text in texts:
                    started = time.perf_counter()
                    # The API secret signs a JWT sent in the header (staff_api/rasa_client.py), not ?token=.
                    async with session.post(f"{nlu_url}/model/parse", headers=rasa_auth_headers(token),
                                            json={"text": text}) as resp:
                        body = await resp.json()
                    parse_ms.append((time.perf_counter() - started) * 1000)
                    if r == 0:
                        parses.append(body)
            result["nlu_parse"] = lat_summary(parse_ms)
            result["intents"] = _count([p.get("intent", {}).get("name") for p in parses])
            async with session.get(f"{nlu_url}/domain",
                                   headers={"Accept": "application/json", **rasa_auth_headers(token)}) as resp:
                domain = await resp.json() if resp.status == 200 else {}
            if actions_url:

                async def timed_webhook(body: dict, into: List[float]) -> None:
                    """POST one action call; its latency in ms goes to ``into`` when it answered 200."""
                    started = time.perf_counter()
                    # The action server's shared token (the started stack's, exported below, or the caller's env).
                    auth = {"Authorization": f"Bearer {os.environ.get('ACTION_SERVER_TOKEN', '')}"}
                    async with session.post(f"{actions_url}/webhook", json=body, headers=auth) as resp:
                        await resp.read()
                        if resp.status == 200:
                            into.append((time.perf_counter() - started) * 1000)

                action_ms: List[float] = []
                for r in range(rounds):
                    for i, parse in enumerate(parses):
                        await timed_webhook(action_call(parse, domain, f"profile-action-{r}-{i}"), action_ms)
                result["action_answer_procedure"] = lat_summary(action_ms)
                # Every new conversation's first turn also calls the custom action_session_start.
                session_ms: List[float] = []
                for i in range(len(parses) * rounds):
                    body = action_call({"text": "", "intent": {}}, domain, f"profile-session-{i}")
                    body["next_action"] = "action_session_start"
                    body["tracker"]["events"], body["tracker"]["latest_message"] = [], {}
                    await timed_webhook(body, session_ms)
                result["action_session_start"] = lat_summary(session_ms)
                result["domain_json_kb"] = round(len(json.dumps(domain)) / 1024, 1)
    result["search_in_process"] = search_timing(texts, rounds)
    if endpoints_file:
        result["rasa_in_process"] = rasa_timing(endpoints_file, texts, rounds)
    return result


def _count(values: List[Optional[str]]) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


def search_timing(texts: List[str], rounds: int) -> dict:
    """Knowledge search (query encoding + hybrid search) in-process, in a child with the action venv."""
    if not ACTIONS_PY.exists():
        return {"error": f"{ACTIONS_PY} missing"}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump({"texts": texts, "rounds": rounds}, handle, ensure_ascii=False)
        path = handle.name
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KB_ENCODER_THREADS": "1", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    try:
        done = subprocess.run([str(ACTIONS_PY), str(Path(__file__).resolve()), "--_search-worker", path],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    finally:
        os.unlink(path)
    if done.returncode != 0:
        return {"error": done.stderr[-1500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def search_worker(path: str) -> None:
    """Child process (action venv): time get_searcher().search() and the query encoding alone."""
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    from knowledge.search import get_searcher

    searcher = get_searcher()
    searcher.search("đăng ký khai sinh cần giấy tờ gì")  # loads the encoder
    full, encode = [], []
    for r in range(spec["rounds"]):
        for text in spec["texts"]:
            searcher.clear_caches()  # a cached rewrite would flatter round 2
            started = time.perf_counter()
            searcher.search(text, top_k=5)
            full.append((time.perf_counter() - started) * 1000)
            dense = searcher.dense_text(text)
            started = time.perf_counter()
            searcher.encoder.encode_queries([dense])
            encode.append((time.perf_counter() - started) * 1000)
    print(json.dumps({"search_total": lat_summary(full), "encode_only": lat_summary(encode),
                      "entries": len(searcher.entries)}))


# ---- stacks ------------------------------------------------------------------------------------------------
class EmbeddedStack:
    """The embedded profile on free ports (scripts/stack.py's RestStack) with 3,000 seeded applications."""

    def __init__(self, workdir: Path) -> None:
        """Prepare (nothing runs yet)."""
        from scripts.stack import RestStack, model_path

        if not model_path().exists():
            raise SystemExit(f"No trained model at {model_path()}: run `make train` first.")
        self.stack = RestStack(workdir)
        self.name = "embedded"

    def start(self) -> None:
        """Seed the services database, then start the action server and Rasa and wait for both."""
        started = time.monotonic()
        seeded = subprocess.run(
            [str(ACTIONS_PY), "scripts/seed_demo.py", "--out", str(self.stack.workdir / "demo_applications.txt")],
            cwd=ROOT, env=self.stack.env, capture_output=True, text=True,
        )
        if seeded.returncode != 0:
            raise SystemExit(f"seed_demo.py failed:\n{seeded.stderr[-2000:]}")
        self.stack.start()
        print(f"embedded stack up in {time.monotonic() - started:.0f} s (Rasa {self.stack.rasa_url}, "
              f"actions {self.stack.actions_url}, work dir {self.stack.workdir})", flush=True)

    @property
    def url(self) -> str:
        """Where citizens post."""
        return self.stack.rasa_url

    @property
    def services_db(self) -> Path:
        """The seeded SQLite services database."""
        return self.stack.services_db

    def pids(self) -> Dict[str, int]:
        """Server processes whose memory is reported."""
        return {"rasa": self.stack.procs["rasa"].pid, "actions": self.stack.procs["actions"].pid}

    def endpoints(self) -> Tuple[str, Optional[str], Optional[str]]:
        """(Rasa URL, action server URL, Rasa API token) for the profile."""
        return self.stack.rasa_url, self.stack.actions_url, self.stack.rasa_api_token

    def stop(self) -> None:
        """Stop every process."""
        self.stack.shutdown()


def run_scaled(args) -> int:
    """Start the scaled profile (deploy/scaled_profile.py: nginx + 2 Rasa + 2 action servers, PostgreSQL
    tracker and services stores in a fresh database, Redis lock store), seed it, load it, stop it."""
    from deploy.scaled_profile import ProfileError, ScaledProfile

    workdir = Path(tempfile.mkdtemp(prefix="load-scaled-"))
    # Every simulated citizen comes from 127.0.0.1: lift nginx's per-client webhook limit for the load run.
    profile = ScaledProfile(workdir, replicas=args.replicas, fresh=True, webhook_rate="100000r/s",
                            webhook_burst=100000)
    os.environ["ACTION_SERVER_TOKEN"] = profile.action_server_token  # for the action-alone timings
    started = time.monotonic()
    try:
        profile.start()
        profile.seed_demo(count=3000)
        rows = profile.pg_query(
            profile.database,
            "SELECT code, applicant_phone, status FROM services.applications WHERE source = 'demo' "
            "ORDER BY code LIMIT 2000",
        )
        applications = [(code, phone[-4:], status) for code, phone, status in rows]
        print(f"scaled profile up in {time.monotonic() - started:.0f} s (nginx {profile.url}, Rasa "
              f"{', '.join(profile.rasa_urls)}, actions {', '.join(profile.actions_urls)}, PostgreSQL database "
              f"{profile.database}, work dir {workdir})", flush=True)
        pids = {name: proc.pid for name, proc in sorted(profile.procs.items())}
        mode = (f"scaled profile started by the script: nginx + {args.replicas} Rasa + {args.replicas} action servers, "
                "PostgreSQL tracker/services stores, Redis lock store")
        # The profile's parts are timed on replica 0 (NLU, action) and through nginx (the whole turn).
        asyncio.run(run_profile(args, "scaled", profile.url, pids, applications,
                                (profile.url, profile.actions_urls[0], profile.rasa_api_token), mode,
                                nlu_url=profile.rasa_urls[0], endpoints_file=workdir / "endpoints.yml"))
    except ProfileError as exc:
        print(f"scaled profile failed to start: {exc}", file=sys.stderr)
        return 1
    finally:
        profile.stop()
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
    return 0


# ---- report ------------------------------------------------------------------------------------------------
def steps_table(steps: List[dict]) -> List[str]:
    """Markdown rows of the per-N table."""
    names = sorted({name for s in steps for name in s["rss_peak_mb"]})
    head = ("| N | turns | turns/s | p50 ms | p95 ms | p99 ms | max ms | errors | unexpected | conv. done | "
            "server CPU ms/turn | load avg | "
            + " | ".join(f"RSS {n} MB" for n in names) + (" | RSS sum MB |" if len(names) > 1 else " |"))
    lines = [head, "|" + "---|" * (12 + len(names) + (len(names) > 1))]
    for s in steps:
        lat = s["latency_ms"]
        mem = " | ".join(f"{s['rss_peak_mb'].get(n, 0):.0f}" for n in names)
        if len(names) > 1:
            mem += f" | {sum(s['rss_peak_mb'].values()):.0f}"
        lines.append(f"| {s['n']} | {s['turns']} | {s['throughput']:.1f} | {lat['p50']:.0f} | {lat['p95']:.0f} | "
                     f"{lat['p99']:.0f} | {lat['max']:.0f} | {s['errors']} | {s['unexpected']} | "
                     f"{s['conversations_completed']}/{s['conversations_started']} | "
                     f"{s['server_cpu_ms_per_turn'] or 0:.0f} | {s['load_avg_before'][0]:.1f} | {mem} |")
    return lines


def kinds_table(step: dict) -> List[str]:
    """Markdown rows of the latency per turn kind for one step."""
    lines = ["| turn kind | n | p50 ms | p95 ms | p99 ms |", "|---|---|---|---|---|"]
    for kind, s in step["by_kind"].items():
        lines.append(f"| {kind} | {s['n']} | {s['p50']:.0f} | {s['p95']:.0f} | {s['p99']:.0f} |")
    return lines


def breakdown_table(b: dict) -> List[str]:
    """Markdown rows of where a procedure turn's time goes."""
    lines = ["| part (one message at a time, idle stack) | n | p50 ms | p95 ms | mean ms |", "|---|---|---|---|---|"]
    rows = [("full REST turn (procedure question)", b.get("turn")),
            ("Rasa NLU alone (POST /model/parse)", b.get("nlu_parse")),
            ("action server alone (action_session_start, first turn)", b.get("action_session_start")),
            ("action server alone (action_answer_procedure)", b.get("action_answer_procedure")),
            ("  of which knowledge search in-process", (b.get("search_in_process") or {}).get("search_total")),
            ("    of which query encoding (e5 ONNX)", (b.get("search_in_process") or {}).get("encode_only"))]
    for label, s in rows:
        if s:
            lines.append(f"| {label} | {s['n']} | {s['p50']:.1f} | {s['p95']:.1f} | {s['mean']:.1f} |")
    turn, nlu, act = b.get("turn"), b.get("nlu_parse"), b.get("action_answer_procedure")
    if turn and nlu and act:
        rest = turn["mean"] - nlu["mean"] - act["mean"] - (b.get("action_session_start") or {}).get("mean", 0.0)
        lines.append(f"| policy + tracker store + HTTP (mean remainder) | | | | {rest:.1f} |")
    return lines


def write_report(report: dict, out_dir: Path) -> Tuple[Path, Path]:
    """reports/load/<profile>.json and .md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    name = report["profile"]
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    md = [f"# Load test — {name} profile", "",
          f"Run {report['started_utc']} on {os.cpu_count()} CPUs; {report['mode']}; target {report['url']}; "
          + (f"think time exponential, mean {report['think_time_s']:g} s" if report["think_time_s"]
             else "closed loop, think time 0") + f", {report['duration_s']} s per step"
          + (f", at most {report['max_turns']} turns per step" if report["max_turns"] else "") + "; "
          f"conversation mix {json.dumps(MIX)}; seed {report['seed']}.", ""]
    md += steps_table(report["steps"])
    md += [""]
    if report.get("target"):
        md += [f"Target: {report['target']['text']} → **{report['target']['verdict']}**", ""]
    for s in report["steps"]:
        if s["n"] == TARGET_N or s is report["steps"][-1]:
            md += [f"Latency per turn kind at N = {s['n']}:", ""] + kinds_table(s) + [""]
    problems: Dict[str, List[int]] = {}
    for s in report["steps"]:
        for example in s["error_examples"] + s["unexpected_examples"]:
            problems.setdefault(example, []).append(s["n"])
    if problems:
        md += ["Errors / unexpected replies (distinct examples; the steps where they were seen; at most 5 kept per "
               "step):", ""]
        md += [f"- {example} (N = {', '.join(map(str, sorted(set(ns))))})"
               for example, ns in list(problems.items())[:12]]
        md += [""]
    if report.get("breakdown"):
        md += ["## Where the time goes", ""] + breakdown_table(report["breakdown"]) + [""]
        inside = report["breakdown"].get("rasa_in_process")
        if inside and not inside.get("error"):
            md += ["The same questions through a Rasa agent loaded in a child process with the stack's endpoints "
                   "(each part timed by wrapping the Rasa method that does it; first turn = new conversation, "
                   "including action_session_start; follow-up = a short aspect question in the same conversation):",
                   ""] + rasa_parts_table(inside) + [""]
        if report["breakdown"].get("intents"):
            md += [f"NLU intents of the profiled questions: {report['breakdown']['intents']}", ""]
    if report.get("kb_size"):
        md += ["## Cost vs knowledge-base size (from reports/bench/bench.json)", "",
               "| entries | index | search p50 ms | p95 ms | RSS MB (index, no encoder) | load s | disk MB |",
               "|---|---|---|---|---|---|---|"]
        for p in report["kb_size"]:
            md.append(f"| {p['entries']:,} | {p['kind']} | {p['p50']} | {p['p95']} | {p['rss_mb']} | {p['load_s']} | "
                      f"{p['disk_mb']} |")
        md += [""]
    if report.get("notes"):
        md += ["## Notes", ""] + [f"- {n}" for n in report["notes"]] + [""]
    md_path.write_text("\n".join(md), encoding="utf-8")
    return json_path, md_path


RASA_PARTS = (
    # (label, class path, attribute, async?) — what one turn spends inside the Rasa server.
    ("tracker_retrieve", "rasa.core.processor.MessageProcessor", "get_tracker", True),
    ("nlu", "rasa.core.processor.MessageProcessor", "parse_message", True),
    ("policy", "rasa.core.processor.MessageProcessor", "_predict_next_with_tracker", False),
    ("action_body", "rasa.core.actions.action.RemoteAction", "_action_call_format", False),
    ("action_http", "rasa.utils.endpoints.EndpointConfig", "request", True),
    ("action_validate", "rasa.core.actions.action.RemoteAction", "_validate_action_result", False),
    ("tracker_save", "rasa.core.processor.MessageProcessor", "save_tracker", True),
    ("processor_total", "rasa.core.processor.MessageProcessor", "handle_message", True),
)


def rasa_worker(path: str) -> None:
    """Child process (Rasa venv): load the agent with the stack's endpoints and time the parts of each turn.

    Each part is timed by wrapping the Rasa method that does it (the same code the server runs, nothing
    re-implemented); turns run one at a time, so the per-turn sums do not overlap. ``action_http`` is the
    round trip to the action server including the action itself.
    """
    import asyncio as aio
    import importlib
    import logging

    logging.disable(logging.WARNING)
    spec = json.loads(Path(path).read_text(encoding="utf-8"))
    try:  # what the server sets up when it builds its channels, including its Rasa runtime fixes (channels/speedups.py)
        importlib.import_module("channels.process").setup()
    except ImportError:
        pass
    from rasa.core.agent import load_agent
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
    from rasa.core.utils import AvailableEndpoints

    current: Dict[str, float] = {}

    def wrap(label, owner, attr, is_async):
        original = getattr(owner, attr)
        if is_async:
            async def timed(*a, **kw):
                started = time.perf_counter()
                try:
                    return await original(*a, **kw)
                finally:
                    current[label] = current.get(label, 0.0) + (time.perf_counter() - started) * 1000
        else:
            def timed(*a, **kw):
                started = time.perf_counter()
                try:
                    return original(*a, **kw)
                finally:
                    current[label] = current.get(label, 0.0) + (time.perf_counter() - started) * 1000
        setattr(owner, attr, timed)

    for label, cls_path, attr, is_async in RASA_PARTS:
        module, _, cls = cls_path.rpartition(".")
        wrap(label, getattr(importlib.import_module(module), cls), attr, is_async)

    async def go() -> dict:
        agent = await load_agent(spec["model"], endpoints=AvailableEndpoints.read_endpoints(spec["endpoints"]))
        turns: Dict[str, List[Dict[str, float]]] = {"first": [], "follow_up": []}
        for r in range(spec["rounds"] + 1):  # round 0 warms up
            for i, text in enumerate(spec["texts"]):
                sender = f"profile-rasa-{int(time.time())}-{r}-{i}"
                for position, msg in (("first", text), ("follow_up", spec["follow_ups"][i % len(spec["follow_ups"])])):
                    current.clear()
                    started = time.perf_counter()
                    await agent.handle_message(UserMessage(msg, CollectingOutputChannel(), sender))
                    current["turn_total"] = (time.perf_counter() - started) * 1000
                    if r:
                        turns[position].append(dict(current))
        out = {}
        for position, rows in turns.items():
            labels = sorted({k for row in rows for k in row})
            out[position] = {k: round(statistics.fmean(row.get(k, 0.0) for row in rows), 2) for k in labels}
            out[position]["n"] = len(rows)
        return out

    print(json.dumps(aio.run(go())))


def rasa_timing(endpoints: Path, texts: List[str], rounds: int) -> dict:
    """Run :func:`rasa_worker` in a child process (this interpreter: the Rasa venv)."""
    spec = {"model": str(ROOT / "models" / "tthc.tar.gz"), "endpoints": str(endpoints), "texts": texts,
            "rounds": rounds, "follow_ups": list(FOLLOW_UPS["vi"])}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump(spec, handle, ensure_ascii=False)
        path = handle.name
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_rasa-worker", path], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=900)
    finally:
        os.unlink(path)
    if done.returncode != 0:
        return {"error": done.stderr[-1500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def rasa_parts_table(parts: dict) -> List[str]:
    """Markdown rows: mean ms per turn inside Rasa, first turn of a conversation vs a follow-up."""
    first, follow = parts.get("first", {}), parts.get("follow_up", {})
    labels = [("turn_total", "whole turn (agent.handle_message)"), ("tracker_retrieve", "tracker store: load"),
              ("nlu", "NLU (parse_message)"), ("policy", "dialogue policies (all predictions of the turn)"),
              ("action_body", "custom action: build request (tracker + domain JSON)"),
              ("action_http", "custom action: HTTP round trip incl. the action server"),
              ("action_validate", "custom action: Rasa's jsonschema check of the response"),
              ("tracker_save", "tracker store: save")]
    lines = [f"| inside Rasa, mean ms per turn | first turn (n={first.get('n', 0)}) | "
             f"follow-up (n={follow.get('n', 0)}) |", "|---|---|---|"]
    for key, label in labels:
        lines.append(f"| {label} | {first.get(key, 0):.1f} | {follow.get(key, 0):.1f} |")
    for name, row in (("first", first), ("follow_up", follow)):
        known = sum(row.get(k, 0) for k, _ in labels[1:])
        row["other"] = round(row.get("turn_total", 0) - known, 2)
    lines.append(f"| rest (session start logic, events, output channel, lock) | {first.get('other', 0):.1f} | "
                 f"{follow.get('other', 0):.1f} |")
    return lines


def kb_points() -> List[dict]:
    """Search cost per knowledge-base size from the search benchmark's JSON (empty when it has not run).

    The real index row has the encoder loaded too; the synthetic rows (``make bench``'s scale curve) do not
    encode, so their search time excludes the ~13 ms query encoding, which does not depend on the size.
    """
    if not BENCH_JSON.exists():
        return []
    try:
        report = json.loads(BENCH_JSON.read_text(encoding="utf-8"))
    except ValueError:
        return []
    rows = []
    real, latency = report.get("real_index") or {}, report.get("latency") or {}
    if real and latency.get("search_only_ms"):
        rows.append({"entries": real.get("entries"), "kind": "real index", "p50": latency["search_only_ms"]["p50"],
                     "p95": latency["search_only_ms"]["p95"],
                     "rss_mb": ((real.get("rss") or {}).get("after_searcher") or {}).get("rss_mb"),
                     "load_s": real.get("searcher_load_s"), "disk_mb": real.get("disk_mb")})
    for point in report.get("scale") or []:
        search = point.get("search_only_ms") or {}
        rows.append({"entries": point.get("size"), "kind": f"synthetic ({point.get('faiss')})",
                     "p50": search.get("p50"), "p95": search.get("p95"),
                     "rss_mb": (point.get("rss_after_load") or {}).get("rss_mb"),
                     "load_s": point.get("searcher_load_s"), "disk_mb": point.get("disk_mb")})
    return [r for r in rows if r["entries"]]


# ---- main --------------------------------------------------------------------------------------------------
async def run_profile(args, name: str, url: str, pids: Dict[str, int], applications: List[Tuple[str, str, str]],
                      endpoints: Tuple[str, Optional[str], Optional[str]], mode: str,
                      nlu_url: Optional[str] = None, endpoints_file: Optional[Path] = None) -> dict:
    """Warm up, run every step, profile; returns the report."""
    seeds = Seeds(load_devset(), applications)
    notes = []
    if not seeds.applications:
        notes.append("no seeded applications found: status lookups left out of the mix")
    started_utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    sampler = MemorySampler(pids)
    print(f"\n== {name} profile: {url}; processes {pids}; {len(seeds.applications)} seeded applications", flush=True)
    # Warm-up: every conversation kind once, so first-call costs (model warm-up, DB migrations) stay out.
    warm = await run_step(url, 4, 0, 40, seeds, MemorySampler({}), args.seed + 99)
    print(f"warm-up: {warm['turns']} turns, {warm['errors']} errors, {warm['unexpected']} unexpected", flush=True)
    steps = []
    header_printed = False
    for n in args.levels:
        step = await run_step(url, n, args.duration, args.turns, seeds, sampler, args.seed + n, args.think)
        steps.append(step)
        lines = steps_table([step])
        if not header_printed:
            print("\n".join(lines[:2]))
            header_printed = True
        print(lines[2], flush=True)
        for example in step["error_examples"] + step["unexpected_examples"]:
            print(f"    {example}", flush=True)
    if args.think:
        name = f"{name}-think{args.think:g}s"
    report = {
        "think_time_s": args.think,
        "profile": name, "mode": mode, "url": url, "started_utc": started_utc, "duration_s": args.duration,
        "max_turns": args.turns, "seed": args.seed, "cpus": os.cpu_count(), "mix": MIX, "steps": steps,
        "processes": pids, "notes": notes,
    }
    notes += capacity_notes(steps)
    at_target = next((s for s in steps if s["n"] == TARGET_N), None)
    if at_target and name.startswith("embedded"):
        ok = at_target["latency_ms"]["p95"] <= TARGET_P95_MS and at_target["errors"] == 0
        report["target"] = {
            "text": f"p95 ≤ {TARGET_P95_MS:.0f} ms at {TARGET_N} concurrent chats, 0 errors: measured p95 "
                    f"{at_target['latency_ms']['p95']:.0f} ms, {at_target['errors']} errors",
            "verdict": "PASS" if ok else "FAIL",
        }
        print(f"\nTarget: {report['target']['text']} → {report['target']['verdict']}")
    for s in steps:
        if s["n"] == TARGET_N or s is steps[-1]:
            print(f"\nLatency per turn kind at N = {s['n']}:")
            print("\n".join(kinds_table(s)))
    if not args.no_breakdown:
        rasa_url, actions_url, token = endpoints
        qs = profile_questions(seeds, random.Random(args.seed), args.profile_per_style)
        print(f"\nProfiling {len(qs)} procedure questions one at a time (Rasa {rasa_url}, actions "
              f"{actions_url or 'n/a'}, NLU API {'on' if token else 'off: no --rasa-token'})...", flush=True)
        report["breakdown"] = await breakdown(rasa_url, actions_url, token, qs, rounds=2, nlu_url=nlu_url,
                                              endpoints_file=endpoints_file)
        print("\n".join(breakdown_table(report["breakdown"])))
        inside = report["breakdown"].get("rasa_in_process")
        if inside and not inside.get("error"):
            print("\n".join(rasa_parts_table(inside)))
        elif inside:
            print("Rasa in-process timing failed: " + inside["error"][-600:])
        if report["breakdown"]["search_in_process"].get("error"):
            print("search timing failed: " + report["breakdown"]["search_in_process"]["error"][-400:])
    report["kb_size"] = kb_points()
    if report["kb_size"]:
        print("\nKnowledge-base size (reports/bench/bench.json):")
        for p in report["kb_size"]:
            print(f"  {p['entries']} entries: search p50 {p['p50']} ms, p95 {p['p95']} ms, RSS {p['rss_mb']} MB")
    json_path, md_path = write_report(report, Path(args.out))
    print(f"\nWritten {json_path.relative_to(ROOT) if json_path.is_relative_to(ROOT) else json_path} and "
          f"{md_path.name}", flush=True)
    return report


def capacity_notes(steps: List[dict]) -> List[str]:
    """What the CPU per turn says about capacity (Little's law for the closed loop)."""
    busiest = max(steps, key=lambda s: s["throughput"], default=None)
    if not busiest or not busiest["turns"]:
        return []
    cores = os.cpu_count() or 1
    per_proc = {name: sec * 1000 / busiest["turns"] for name, sec in busiest["server_cpu_s"].items()}
    split = ", ".join(f"{name} {ms:.0f}" for name, ms in sorted(per_proc.items()))
    total = sum(per_proc.values())
    notes = [f"Server CPU per turn at N = {busiest['n']}: {total:.0f} ms ({split}). With {cores} cores the servers "
             f"cannot exceed ~{cores * 1000 / total:.0f} turns/s even with nothing else running; measured "
             f"{busiest['throughput']:.1f} turns/s (load average {busiest['load_avg_before'][0]:.1f} at the start: "
             "other work shared the cores)."]
    rasa = [ms for name, ms in per_proc.items() if name.startswith("rasa")]
    if rasa:
        per_turn, replicas = sum(rasa), len(rasa)
        notes.append(f"Rasa spends {per_turn:.0f} ms of CPU per turn, and one Rasa process runs NLU + policies on "
                     f"one core (CPU-bound code on its event loop): ~{1000 / per_turn:.0f} turns/s per replica at "
                     f"most, ~{replicas * 1000 / per_turn:.0f} turns/s with {replicas} replica(s) on enough cores.")
    notes.append("Closed loop with think time 0: mean latency = N / throughput (Little's law), so once the servers "
                 "are saturated latency grows linearly with N; p95 ≤ 150 ms at N = 20 with think time 0 would need "
                 f"≥ ~{20 / 0.1:.0f} turns/s, i.e. ≤ {cores * 1000 * 0.1 / 20:.0f} ms of server CPU per turn on "
                 f"{cores} cores.")
    return notes


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="embedded", choices=("embedded", "scaled", "url"),
                        help="embedded: start the stack here; scaled: the scaled profile; url: use --url")
    parser.add_argument("--url", help="Rasa (or load balancer) URL of a running stack")
    parser.add_argument("--actions-url", help="action server URL (for the profile; with --url)")
    parser.add_argument("--rasa-token", default=os.environ.get("RASA_API_TOKEN"),
                        help="Rasa API token for /model/parse and /domain (with --url; default $RASA_API_TOKEN)")
    parser.add_argument("--services-db", type=Path, default=None,
                        help="SQLite services DB with seeded applications (with --url; default var/services.db)")
    parser.add_argument("--pid", action="append", default=[], metavar="NAME=PID",
                        help="server process to watch (with --url; default: found by the URLs' ports)")
    parser.add_argument("--levels", default="1,10,20,50", help="concurrency levels")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per level")
    parser.add_argument("--turns", type=int, default=0, help="stop a level after this many turns (0: no limit)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean think time between a reply and the next message, s (0: closed loop, the default)")
    parser.add_argument("--replicas", type=int, default=2, help="Rasa and action server replicas (scaled profile)")
    parser.add_argument("--profile-per-style", type=int, default=5, help="questions per style in the profile")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the where-the-time-goes profile")
    parser.add_argument("--keep", action="store_true", help="leave the embedded stack's temp dir in place")
    parser.add_argument("--out", default=str(OUT_DIR))
    parser.add_argument("--_search-worker", dest="search_worker", help=argparse.SUPPRESS)
    parser.add_argument("--_rasa-worker", dest="rasa_worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.levels = [int(x) for x in str(args.levels).split(",") if x.strip()]
    if args.url and args.profile == "embedded":
        args.profile = "url"
    return args


def watched_pids(args, urls: List[Optional[str]]) -> Dict[str, int]:
    """--pid NAME=PID, else the processes listening on the given URLs' ports (when local)."""
    pids = {}
    for item in args.pid:
        name, _, pid = item.partition("=")
        pids[name] = int(pid)
    if pids:
        return pids
    from urllib.parse import urlparse

    for label, url in zip(("rasa", "actions"), urls):
        if url:
            parsed = urlparse(url)
            if parsed.hostname in ("localhost", "127.0.0.1") and parsed.port:
                pid = pid_listening_on(parsed.port)
                if pid:
                    pids[label] = pid
    return pids


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    if args.search_worker:
        search_worker(args.search_worker)
        return 0
    if args.rasa_worker:
        rasa_worker(args.rasa_worker)
        return 0
    if args.profile == "embedded":
        workdir = Path(tempfile.mkdtemp(prefix="load-embedded-"))
        stack = EmbeddedStack(workdir)
        os.environ["ACTION_SERVER_TOKEN"] = stack.stack.action_server_token  # for the action-alone timings
        try:
            stack.start()
            asyncio.run(run_profile(args, "embedded", stack.url, stack.pids(), seeded_applications(stack.services_db),
                                    stack.endpoints(), "embedded profile started by the script (SQLite stores)",
                                    endpoints_file=stack.stack.workdir / "endpoints.yml"))
        finally:
            stack.stop()
            if not args.keep:
                import shutil

                shutil.rmtree(workdir, ignore_errors=True)
        return 0
    if args.profile == "scaled" and not args.url:
        return run_scaled(args)
    if not args.url:
        print("--url is needed with this profile", file=sys.stderr)
        return 2
    name = "scaled" if args.profile == "scaled" else "url"
    services_db = args.services_db or ROOT / "var" / "services.db"
    pids = watched_pids(args, [args.url, args.actions_url])
    asyncio.run(run_profile(args, name, args.url, pids, seeded_applications(services_db),
                            (args.url, args.actions_url, args.rasa_token), f"running stack at {args.url}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
