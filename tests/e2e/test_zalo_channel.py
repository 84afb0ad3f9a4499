"""End-to-end: the real Rasa server with the Zalo OA channel, fed signed webhook calls; replies go to the fake
Zalo API (tests/fakes/zalo_api_server.py), which records them. The stack fixture (conftest.py) wires both."""

from __future__ import annotations

import json
import os
import stat
import time

import requests

from staff_api.rasa_client import rasa_auth_headers
from tests.e2e.conftest import ROOT, ZALO_MAX_TEXT_CHARS, Stack
from tests.fakes.zalo_api_server import SEND_PATH, post_event, sign, text_event
from tests.fakes.zalo_webhook import REPLY_TIMEOUT, replies, send, webhook

# channels.zalo.parser.CHOICE_PROMPT (that package needs the Rasa venv; these tests run in the actions venv)
CHOICE_PROMPT = "Bạn trả lời bằng số thứ tự để chọn:"


def health(stack: Stack) -> dict:
    """The channel's full health, shown to an operator with the Rasa API token (anyone else: a bare status)."""
    resp = requests.get(f"{stack.rasa_url}/webhooks/zalo/", timeout=10,
                        headers={"Authorization": f"Bearer {stack.rasa_api_token}"})
    assert resp.status_code == 200
    return resp.json()


def test_question_is_acknowledged_at_once_and_long_answer_split(stack):
    started = time.perf_counter()
    status, answer = send(stack, "1000000000000000001", "làm giấy khai sinh cần giấy tờ gì")
    ack_ms = (time.perf_counter() - started) * 1000
    assert (status, answer) == (200, {"status": "accepted"})
    assert ack_ms < 1000, f"webhook took {ack_ms:.0f} ms; Zalo needs a fast 200"
    pieces = replies(stack, "1000000000000000001")
    joined = "\n".join(pieces)
    assert "Đăng ký khai sinh" in joined and "Giấy tờ phải nộp" in joined, joined
    assert len(pieces) >= 2 and all(0 < len(p) <= ZALO_MAX_TEXT_CHARS for p in pieces), [len(p) for p in pieces]
    report = ROOT / "reports" / "zalo_e2e.txt"
    report.parent.mkdir(exist_ok=True)
    report.write_text(
        f"Zalo webhook acknowledgement: {ack_ms:.0f} ms; answer split into {len(pieces)} messages "
        f"of {[len(p) for p in pieces]} characters (limit {ZALO_MAX_TEXT_CHARS} in the e2e stack)\n"
    )


def test_forged_and_stale_events_are_rejected_and_never_answered(stack):
    user = "1000000000000000002"
    event = text_event(stack.zalo.app_id, user, "xin chào")
    before = health(stack)["rejected"]
    assert post_event(webhook(stack), event, stack.zalo.app_id, "wrong-secret")[0] == 401
    assert post_event(webhook(stack), event, stack.zalo.app_id, stack.zalo.secret_key, signature="")[0] == 401
    raw_other = json.dumps(dict(event, message={"text": "khác", "msg_id": "x"})).encode()
    signature_of_other = sign(stack.zalo.app_id, raw_other, event["timestamp"], stack.zalo.secret_key)
    assert post_event(webhook(stack), event, stack.zalo.app_id, "", signature=signature_of_other)[0] == 401
    old = int(time.time() * 1000) - 6 * 60 * 1000
    assert send(stack, user, "xin chào", timestamp_ms=old)[0] == 403
    after = health(stack)["rejected"]
    assert after["signature"] - before["signature"] == 3 and after["stale"] - before["stale"] == 1
    assert replies(stack, user, at_least=0) == []


def test_duplicate_delivery_is_answered_once(stack):
    user = "1000000000000000003"
    event = text_event(stack.zalo.app_id, user, "xin chào", msg_id="dup-msg-1")
    first = post_event(webhook(stack), event, stack.zalo.app_id, stack.zalo.secret_key)
    second = post_event(webhook(stack), event, stack.zalo.app_id, stack.zalo.secret_key)
    assert (first[1]["status"], second[1]["status"]) == ("accepted", "duplicate")
    answered = replies(stack, user)
    assert replies(stack, user) == answered and len(answered) >= 1  # nothing came after the first answer


def test_replay_after_a_rasa_restart_is_refused(stack):
    """Issue 13, finding 8: the accepted event id outlives the Rasa process (a SQLite store next to the tokens)."""
    user = "1000000000000000013"
    event = text_event(stack.zalo.app_id, user, "xin chào", msg_id="replay-after-restart-1")
    first = post_event(webhook(stack), event, stack.zalo.app_id, stack.zalo.secret_key)
    assert first[1]["status"] == "accepted", first
    answered = replies(stack, user)
    stack.restart_rasa()
    replayed = post_event(webhook(stack), event, stack.zalo.app_id, stack.zalo.secret_key)
    assert replayed == (200, {"status": "duplicate"}), replayed
    assert replies(stack, user) == answered
    bare = requests.get(f"{stack.rasa_url}/webhooks/zalo/", timeout=10)
    assert bare.status_code == 200 and bare.json() == {"status": "ok"}  # no counters without the token


def test_buttons_become_numbers_and_the_number_maps_to_the_payload(stack):
    user = "1000000000000000004"
    send(stack, user, "giấy phép")  # ambiguous: the bot offers candidate procedures as buttons
    [offer] = replies(stack, user)
    assert CHOICE_PROMPT in offer and "\n1. " in offer and "\n2. " in offer, offer
    first_title = offer.split("\n1. ", 1)[1].split("\n", 1)[0].rstrip("…").strip()
    send(stack, user, "1")
    answer = "\n".join(replies(stack, user, at_least=2)[1:])
    assert first_title[:40] in answer, (first_title, answer)
    tracker = requests.get(
        f"{stack.rasa_url}/conversations/{user}/tracker", headers=rasa_auth_headers(stack.rasa_api_token), timeout=10
    ).json()
    user_texts = [e.get("text") for e in tracker["events"] if e.get("event") == "user"]
    assert user_texts[-1].startswith("/choose_procedure"), user_texts  # button 1's payload, not the text "1"


def test_expired_token_is_refreshed_and_the_new_refresh_token_stored(stack):
    user = "1000000000000000005"
    refreshes = len(stack.zalo.calls("/v4/oa/access_token"))
    stack.zalo.expire_access_token()
    send(stack, user, "xin chào")
    assert replies(stack, user)
    assert len(stack.zalo.calls("/v4/oa/access_token")) == refreshes + 1
    stored = json.loads(stack.zalo_token_file.read_text())
    assert stored["refresh_token"] == stack.zalo.refresh_token != "fake-refresh-0"
    assert stat.S_IMODE(os.stat(stack.zalo_token_file).st_mode) == 0o600
    assert health(stack)["api"]["token_refreshes"] >= 1


def test_api_outage_is_retried_then_reported_in_health(stack):
    short, long_ = "1000000000000000006", "1000000000000000007"
    stack.zalo.outage(2)
    send(stack, short, "xin chào")
    assert replies(stack, short)
    failed_sends = [r for r in stack.zalo.calls(SEND_PATH) if r.status == 503]
    assert len(failed_sends) >= 2
    stack.zalo.outage(1000)
    send(stack, long_, "xin chào")
    deadline = time.monotonic() + REPLY_TIMEOUT
    while health(stack)["status"] != "degraded" and time.monotonic() < deadline:
        time.sleep(0.5)
    state = health(stack)
    assert state["status"] == "degraded" and state["api"]["last_error"]["code"] == "unavailable", state
    assert long_ not in json.dumps(state)
    stack.zalo.outage(0)
    send(stack, long_, "cảm ơn")
    assert replies(stack, long_)
    assert health(stack)["status"] == "ok"
