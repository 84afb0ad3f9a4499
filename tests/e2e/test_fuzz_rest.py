"""Fuzzing the REST channel (``/webhooks/rest/webhook``, channels/rest.py) of the live stack with hypothesis.

Hostile messages (empty, whitespace, 2,001 and 100,000 characters, control characters, lone surrogates, NFD,
emoji, mixed scripts, HTML/JS, SQL-looking codes), wrongly typed fields, bodies that are not JSON objects
(invalid UTF-8, 5,000-deep nesting, 1 MB) and wrong content types. Every answer: no 5xx, JSON, no Python
exception text; a text message always gets at least one reply; over-long ones get the polite Vietnamese limit
message. The Rasa process's RSS is measured before and after (bounded growth) and its log must gain no
traceback. Counts go to reports/fuzz/summary.json (``pytest -s`` prints them).
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from staff_api.rasa_client import rasa_auth_headers
from tests.fakes.fuzzing import (
    CONTENT_TYPES,
    RAW_BODIES,
    CaseCounter,
    fuzz_settings,
    hostile_text,
    json_values,
    leaked_internals,
)

COUNTER = CaseCounter()
MAX_CHARS = 2000  # channels.input_rules.MAX_MESSAGE_CHARS (the package needs the Rasa venv)
EMPTY_REPLY = "Bạn chưa nhập nội dung câu hỏi. Bạn cần hỗ trợ thủ tục hành chính nào ạ?"
TOO_LONG_REPLY = ("Tin nhắn của bạn dài quá 2.000 ký tự nên tôi chưa xử lý được. "
                  "Bạn vui lòng rút gọn câu hỏi hoặc chia thành nhiều tin nhắn ngắn.")
BAD_REQUEST_START = "Yêu cầu không hợp lệ"
RSS_GROWTH_LIMIT_MB = 300  # generous: the model and caches are loaded before the first measurement
SENDERS = st.integers(0, 7)
# A conversation handed over to a human is paused: Rasa stays silent until staff close the ticket (by design,
# replies are pushed by the staff console). Such a sender is replaced by a fresh one for the next examples.
HANDOFF_ACK = "chuyển yêu cầu của bạn cho cán bộ"
_generation = [0] * 8


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def expected_text(message: str) -> str:
    """What the channel makes of a message before any check (mirrors channels.input_rules.clean_user_text)."""
    cleaned = "".join(" " if (ord(c) < 32 and c not in "\t\n\r") or 0x7F <= ord(c) <= 0x9F else c for c in message)
    cleaned = cleaned.encode("utf-8", "replace").decode("utf-8")
    return unicodedata.normalize("NFC", cleaned).strip()


@pytest.fixture(scope="module")
def rest(stack):
    """The webhook URL; records Rasa's memory and log size first, checks both and writes the summary after."""
    pid = stack.procs["rasa"].pid
    log = stack.workdir / "rasa.log"
    # One ordinary turn first, so lazily loaded parts are in memory before the baseline.
    requests.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": "fuzz-warm", "message": "xin chào"},
                  timeout=60)
    state = {"url": f"{stack.rasa_url}/webhooks/rest/webhook", "pid": pid, "rss_before": rss_mb(pid),
             "log": log, "log_offset": log.stat().st_size}
    yield state
    COUNTER.write({"rest_handoffs_triggered_by_fuzz_text": state.get("handoffs", []),
                   "rest_rss_mb_before": round(state["rss_before"], 1),
                   "rest_rss_mb_after": round(state.get("rss_after", 0.0), 1)})


def post(rest: dict, target: str, sent: str = "", **kwargs) -> requests.Response:
    return COUNTER.send(f"REST {target}", "POST", rest["url"], sent=sent, json_answer=True, timeout=120, **kwargs)


def reply_texts(response: requests.Response) -> list:
    messages = response.json()
    assert isinstance(messages, list), messages
    for message in messages:
        assert leaked_internals(str(message)) is None, message
    return [m.get("text", "") for m in messages if isinstance(m, dict)]


@fuzz_settings(140)
@given(sender=SENDERS, message=hostile_text())
def test_hostile_messages_always_get_a_polite_reply(rest, sender, message):
    name = f"fuzz-rest-{sender}-{_generation[sender]}"
    response = post(rest, "messages", sent=message, json={"sender": name, "message": message})
    assert response.status_code == 200, response.text[:300]
    texts = reply_texts(response)
    if any(HANDOFF_ACK in t for t in texts):
        _generation[sender] += 1
        rest.setdefault("handoffs", []).append(message)
    cleaned = expected_text(message)
    if not cleaned:
        assert texts == [EMPTY_REPLY], (message, texts)
    elif len(cleaned) > MAX_CHARS:
        assert texts == [TOO_LONG_REPLY], (len(cleaned), texts)
    else:
        assert texts and all(isinstance(t, str) for t in texts), (message, texts)  # never silent


@fuzz_settings(80)
@given(body=st.fixed_dictionaries({}, optional={"sender": json_values(5), "message": json_values(5),
                                                "metadata": json_values(5), "input_channel": json_values(3)}))
def test_wrong_types_and_missing_fields(rest, body):
    response = post(rest, "wrong types", sent=str(body), json=body)
    assert response.status_code in (200, 400), response.text[:300]
    if response.status_code == 400:
        assert response.json()["message"].startswith(BAD_REQUEST_START), response.text
        return
    texts = reply_texts(response)
    message = body.get("message")
    if isinstance(message, str) and 0 < len(expected_text(message)) <= MAX_CHARS:
        assert texts, body  # a real question is never left without an answer
    elif not isinstance(message, (str, int, float)) or isinstance(message, bool):
        assert texts == [EMPTY_REPLY], (body, texts)


@fuzz_settings(60)
@given(raw=RAW_BODIES, content_type=st.sampled_from(CONTENT_TYPES))
def test_bodies_that_are_not_json_objects(rest, raw, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = post(rest, "raw bodies", sent=raw.decode("utf-8", "replace")[:2000], data=raw, headers=headers)
    assert response.status_code in (200, 400, 413), response.text[:300]
    if response.status_code == 400:
        assert response.json()["message"].startswith(BAD_REQUEST_START), response.text


@pytest.mark.parametrize("body, expected", [
    (b"", 400), (b"[]", 400), (b'"xin ch\xc3\xa0o"', 400), (b"null", 400), (b"{", 400),
    (b'{"sender": {"id": 1}, "message": "xin ch\xc3\xa0o"}', 400),
    (('{"sender": "' + "s" * 256 + '", "message": "xin chào"}').encode(), 400),
])
def test_requests_rasa_would_answer_with_500(rest, body, expected):
    """Before the fix: HTTP 500 for bodies that are not a JSON object (Rasa calls ``request.json.get``), and
    sender ids accepted that are not strings or longer than the tracker store's VARCHAR(255) (PostgreSQL)."""
    response = post(rest, "known bad requests", sent="", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == expected, response.text
    assert response.json()["message"].startswith(BAD_REQUEST_START)


def test_length_limit_is_polite_and_counts_composed_characters(rest):
    too_long = post(rest, "length limit", json={"sender": "fuzz-len", "message": "Tôi muốn hỏi " * 8000})
    assert reply_texts(too_long) == [TOO_LONG_REPLY]
    # 1,800 composed characters are 2,400+ code points in NFD: still under the limit once normalised.
    question = ("làm giấy khai sinh cần giấy tờ gì " * 60)[:1800]
    nfd = unicodedata.normalize("NFD", question)
    assert len(nfd) > MAX_CHARS
    accepted = reply_texts(post(rest, "length limit", json={"sender": "fuzz-len", "message": nfd}))
    assert accepted and accepted != [TOO_LONG_REPLY], accepted


def test_control_characters_and_surrogates_reach_the_model_cleaned(rest):
    """NUL and a lone surrogate are cleaned before Rasa and the actions see the text: the answer is the clean
    question's (defensive: PostgreSQL text columns of the feedback/handoff stores refuse NUL)."""
    clean = reply_texts(post(rest, "cleaning", json={"sender": "fuzz-clean-a", "message": "làm giấy khai sinh"}))
    dirty = reply_texts(post(rest, "cleaning", data=b'{"sender": "fuzz-clean-b", "message": '
                                                     b'"l\\u00e0m gi\\u1ea5y\\u0000 khai sinh\\ud800"}',
                             headers={"Content-Type": "application/json"}))
    assert clean and dirty and clean[0] == dirty[0], (clean, dirty)


def test_memory_bounded_and_no_traceback_after_fuzzing(stack, rest):
    rest["rss_after"] = rss_mb(rest["pid"])
    growth = rest["rss_after"] - rest["rss_before"]
    print(f"Rasa RSS {rest['rss_before']:.0f} MB before the REST fuzz, {rest['rss_after']:.0f} MB after "
          f"({growth:+.0f} MB, limit +{RSS_GROWTH_LIMIT_MB} MB)")
    assert growth < RSS_GROWTH_LIMIT_MB, growth
    with open(rest["log"], "rb") as handle:
        handle.seek(rest["log_offset"])
        new_log = handle.read().decode("utf-8", errors="replace")
    assert "Traceback" not in new_log and "Exception" not in new_log, new_log[-4000:]
    assert requests.get(f"{stack.rasa_url}/webhooks/rest/", timeout=10).status_code == 200


def test_oversized_metadata_is_not_stored(stack, rest):
    """Metadata is kept with every user event in the tracker store: a 500 KB object is dropped, a small one kept."""
    sender = "fuzz-metadata"
    big = {str(i): "v" * 100 for i in range(5000)}
    post(rest, "metadata", json={"sender": sender, "message": "xin chào", "metadata": big})
    post(rest, "metadata", json={"sender": sender, "message": "cảm ơn", "metadata": {"channel": "web"}})
    tracker = requests.get(f"{stack.rasa_url}/conversations/{sender}/tracker",
                           headers=rasa_auth_headers(stack.rasa_api_token), timeout=30).json()
    metadata = [e.get("metadata") or {} for e in tracker["events"] if e.get("event") == "user"]
    assert [m.get("channel") for m in metadata] == [None, "web"] and "0" not in metadata[0], metadata
