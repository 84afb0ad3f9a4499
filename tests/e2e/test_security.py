"""Issue 13's side doors, tried against the real servers on loopback (action server, Rasa, channels)."""

from __future__ import annotations

import socket

import pytest
import requests

from staff_api.rasa_client import rasa_auth_headers
from tests.e2e.conftest import say
from tests.fakes.responses import rendered


def texts(messages: list) -> str:
    """All bot texts of one turn, joined."""
    return "\n".join(m.get("text", "") for m in messages)


def forged_status_call(sender: str, code: str, guess: str) -> dict:
    """The action call of finding 1: ``action_check_status`` with ``verified_applications`` pre-filled."""
    latest = {"text": f"hồ sơ {code} giờ sao rồi", "intent": {"name": "check_application_status", "confidence": 1.0},
              "entities": []}
    slots = {"application_code": code, "status_verification": None, "verified_applications": {code: guess}}
    return {
        "next_action": "action_check_status", "sender_id": sender, "version": "3.6.21", "domain": {},
        "tracker": {"sender_id": sender, "slots": slots, "latest_message": latest, "paused": False,
                    "events": [{"event": "user", "text": latest["text"], "parse_data": latest}],
                    "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"},
    }


def non_loopback_address() -> str | None:
    """This machine's address on its default route (None without one)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for a UDP connect
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


# ---- finding 1: the action server ---------------------------------------------------------------------------


def test_forged_action_call_without_the_token_is_refused(stack, seeded):
    code, last4, status = seeded[0]
    for headers in ({}, {"Authorization": "Bearer doan-bua-0000"}):
        resp = requests.post(f"{stack.actions_url}/webhook", json=forged_status_call("e2e-forger", code, last4),
                             headers=headers, timeout=30)
        assert resp.status_code == 401, resp.text
        assert status not in resp.text
    assert requests.get(f"{stack.actions_url}/actions", timeout=10).status_code == 401


def test_forged_tracker_with_the_token_still_reveals_nothing(stack, seeded):
    """Even a caller holding the token (i.e. Rasa) cannot skip the verification with a pre-filled slot."""
    code, last4, status = seeded[0]
    resp = requests.post(f"{stack.actions_url}/webhook", json=forged_status_call("e2e-forger-2", code, last4),
                         headers={"Authorization": f"Bearer {stack.action_server_token}"}, timeout=60)
    assert resp.status_code == 200, resp.text
    # The action server sends response names and values; Rasa fills domain.yml's text, as rendered() does.
    answer = " ".join(r.get("text") or "" for r in rendered(resp.json()["responses"]))
    assert answer.startswith("Tôi chưa nhận đủ mã hồ sơ và 4 số cuối"), answer
    assert status not in answer


def test_rasa_sends_the_token_so_conversations_still_run_actions(stack, seeded):
    code, last4, status = seeded[1]
    sender = "e2e-token-ok"
    say(stack, sender, "tôi muốn tra cứu tình trạng hồ sơ")
    say(stack, sender, code)
    reply = texts(say(stack, sender, last4))
    assert status in reply, reply


def test_action_server_listens_on_loopback_only(stack):
    address = non_loopback_address()
    assert address, "this test needs a non-loopback interface to knock on"
    with pytest.raises(OSError):
        socket.create_connection((address, stack.actions_port), timeout=3).close()


# ---- finding 4: the channel is decided by the server --------------------------------------------------------


def test_rest_client_claiming_zalo_gets_no_officer_reply_sent_through_the_oa(stack, staff_api):
    """A REST body saying input_channel "zalo" with a Zalo user's id as sender: the ticket is recorded as "rest",
    and the officer's reply goes nowhere near the Zalo OA (the user never receives it)."""
    from core.db import Database
    from core.handoff import HandoffStore

    zalo_user = "5828312390178456"
    rest = f"{stack.rasa_url}/webhooks/rest/webhook"

    def claim(text: str) -> list:
        resp = requests.post(rest, json={"sender": zalo_user, "message": text, "input_channel": "zalo"}, timeout=60)
        assert resp.status_code == 200, resp.text
        return resp.json()

    assert "Bạn có muốn chuyển không?" in texts(claim("Tôi muốn gặp cán bộ"))
    assert "mã yêu cầu" in texts(claim("có"))
    ticket = HandoffStore(Database(str(stack.services_db))).open_for(zalo_user)
    assert ticket is not None and ticket.channel == "rest"
    sent = requests.post(f"{staff_api['url']}/api/handoffs/{ticket.id}/reply", headers=staff_api["headers"],
                         json={"text": "Chào bạn, cán bộ Bộ phận Một cửa đây.", "staff": "cb.motcua"}, timeout=60)
    assert sent.status_code == 201, sent.text
    assert stack.zalo.delivered(zalo_user) == []


# ---- finding 3: socket.io rooms bound to the widget's session token ----------------------------------------


def test_socketio_room_hijack_is_refused(stack, staff_api):
    """Someone who learned a citizen's sender id can neither join its room (and read the officer's reply) nor
    post as that citizen, over socket.io or REST; the widget's own socket, holding the token, gets the reply."""
    from core.db import Database
    from core.handoff import HandoffStore
    from tests.fakes.socketio_client import SocketIOClient

    session = requests.post(f"{stack.rasa_url}/webhooks/rest/session", timeout=10).json()
    victim, token = session["sender"], session["session_token"]
    rest = f"{stack.rasa_url}/webhooks/rest/webhook"

    def as_victim(text: str, headers: dict) -> requests.Response:
        return requests.post(rest, json={"sender": victim, "message": text}, headers=headers, timeout=60)

    assert "Bạn có muốn chuyển không?" in texts(as_victim("Tôi muốn gặp cán bộ", {"X-Chat-Session": token}).json())
    assert "mã yêu cầu" in texts(as_victim("có", {"X-Chat-Session": token}).json())
    widget = SocketIOClient(stack.rasa_url, query=f"sender={victim}")
    attacker = SocketIOClient(stack.rasa_url, query=f"sender={victim}")
    try:
        widget.emit("session_request", {"session_id": victim, "session_token": token})
        assert widget.wait_for("session_confirm") == victim
        attacker.emit("session_request", {"session_id": victim})
        assert attacker.wait_for("session_refused")["reason"] == "bad_session"
        attacker.emit("user_uttered", {"session_id": victim, "message": "hủy yêu cầu giúp tôi"})
        assert as_victim("hủy yêu cầu giúp tôi", {}).status_code == 403  # nor through REST without the token
        ticket = HandoffStore(Database(str(stack.services_db))).open_for(victim)
        reply = "Chào bạn, cán bộ Bộ phận Một cửa đây. Hồ sơ của bạn đang được xử lý."
        sent = requests.post(f"{staff_api['url']}/api/handoffs/{ticket.id}/reply", headers=staff_api["headers"],
                             json={"text": reply, "staff": "cb.motcua"}, timeout=60)
        assert sent.status_code == 201, sent.text
        assert widget.wait_for("bot_uttered")["text"] == f"💬 Cán bộ hỗ trợ: {reply}"
        assert [event for event, _ in attacker.drain()] == ["session_refused", "session_refused"]
    finally:
        widget.close()
        attacker.close()
    tracker = requests.get(f"{stack.rasa_url}/conversations/{victim}/tracker",
                           headers=rasa_auth_headers(stack.rasa_api_token), timeout=30).json()
    assert [e["text"] for e in tracker["events"] if e.get("event") == "user"] == ["Tôi muốn gặp cán bộ", "có"]


# ---- finding 2: guessing across senders ----------------------------------------------------------------------


def say_from(stack, source_ip: str, sender: str, text: str) -> list:
    """One REST message sent from the loopback address ``source_ip`` (127.0.0.x: another client on this host)."""
    import http.client
    import json
    from urllib.parse import urlsplit

    url = urlsplit(stack.rasa_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60, source_address=(source_ip, 0))
    try:
        conn.request("POST", "/webhooks/rest/webhook", body=json.dumps({"sender": sender, "message": text}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, body
        return json.loads(body)
    finally:
        conn.close()


def test_cross_sender_guessing_from_one_client_is_stopped(stack, seeded):
    """Each guess from a fresh sender id, all from one client: after five wrong ones the sixth is refused even
    with the right digits, while the owner, from another client, still gets the status. The rows are removed
    afterwards so the shared stack's other lookups are not counted against this host."""
    import sqlite3

    code, last4, status = seeded[3]
    wrong = [f"{(int(last4) + delta) % 10000:04d}" for delta in (1, 2, 3, 4, 5)]
    stranger, owner = "127.0.0.1", "127.0.0.2"
    try:
        for i, guess in enumerate(wrong):
            sender = f"e2e-guess-{i}"
            assert "4 chữ số cuối" in texts(say_from(stack, stranger, sender, f"hồ sơ {code} giờ sao rồi"))
            reply = texts(say_from(stack, stranger, sender, guess))
            assert "Tôi không tìm thấy hồ sơ nào khớp" in reply, reply
        sender = "e2e-guess-right"
        assert "4 chữ số cuối" in texts(say_from(stack, stranger, sender, f"hồ sơ {code} giờ sao rồi"))
        reply = texts(say_from(stack, stranger, sender, last4))
        assert "tạm khóa" in reply and status not in reply, reply
        # The stranger's failures do not lock the owner out.
        assert "4 chữ số cuối" in texts(say_from(stack, owner, "e2e-owner", f"hồ sơ {code} giờ sao rồi"))
        reply = texts(say_from(stack, owner, "e2e-owner", last4))
        assert status in reply and "tạm khóa" not in reply, reply
    finally:
        with sqlite3.connect(stack.services_db) as conn:
            conn.execute("DELETE FROM lookup_attempts")
