"""The scaled profile end to end: conversations through nginx stay on one Rasa replica, survive the death of
that replica (tracker in PostgreSQL), a PostgreSQL restart, and a Redis outage (health, logs, apology, recovery).

Tests run in file order on one profile; the replica kill comes last. Measurements go to reports/scaled.txt.
"""

from __future__ import annotations

import ast
import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from deploy.scaled_profile import ROOT
from settings import get_settings
from staff_api.rasa_client import rasa_auth_headers
from tests.fakes.processes import wait_until_healthy
from tests.scaled.conftest import (
    PG_CLUSTER,
    ensure_postgres_running,
    ensure_redis_running,
    postgres_up,
    redis_up,
    say,
    stored_event_count,
    tracker,
)


def _channel_constant(name: str) -> str:
    """A string constant of channels/turn.py (that module imports Rasa, which this venv does not have)."""
    tree = ast.parse((ROOT / "channels" / "turn.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError(name)


STORE_DOWN_REPLY = _channel_constant("STORE_DOWN_REPLY").format(hotline=get_settings().support_hotline)
MEASURED: dict = {}
QUESTION = "đăng ký khai sinh cần giấy tờ gì"
SENDERS_BY_REPLICA: dict = {}


@pytest.fixture(scope="module", autouse=True)
def report(profile):
    """Write what the tests measured to reports/scaled.txt at the end."""
    yield
    MEASURED["resident memory per process"] = {name: f"{rss_mb(proc.pid):.0f} MB"
                                               for name, proc in sorted(profile.procs.items())
                                               if proc.poll() is None}
    MEASURED.setdefault("profile startup (2 Rasa + 2 action servers + nginx, parallel)",
                        f"{profile.startup_s:.0f} s")
    out = ROOT / "reports" / "scaled.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text("".join(f"{key}: {value}\n" for key, value in MEASURED.items()), encoding="utf-8")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def health(base: str) -> requests.Response:
    """GET the REST channel's store health route of one replica (or of nginx)."""
    return requests.get(f"{base}/webhooks/rest/health", timeout=15)


def spaced_lowercase(code: str) -> str:
    """"H07.99-251120-0012" as a citizen might type it: "h07.99 251120 0012"."""
    return code.lower().replace("-", " ")


def test_each_conversation_stays_on_one_replica_and_both_replicas_serve(profile):
    # New senders until each replica holds at least 3 conversations (the hash ring depends on the random ports).
    replicas: dict = {}
    senders: list = []
    for i in range(40):
        if len(replicas) >= 6 and min(list(replicas.values()).count(r) for r in (0, 1)) >= 3:
            break
        sender = f"scaled-sticky-{i:02d}"
        senders.append(sender)
        first = say(profile, sender, "xin chào")
        second = say(profile, sender, QUESTION)
        assert first.status == second.status == 200
        assert first.text and "Đăng ký khai sinh" in second.text, second.text
        assert first.replica == second.replica, sender
        replicas[sender] = first.replica
        SENDERS_BY_REPLICA.setdefault(first.replica, sender)
    assert set(replicas.values()) == {0, 1}, replicas
    # The staff API's /conversations/<id>/... calls reach the replica that holds the conversation too.
    for sender in senders[:4]:
        resp = requests.get(f"{profile.url}/conversations/{sender}/tracker",
                            headers=rasa_auth_headers(profile.rasa_api_token), timeout=30)
        assert resp.status_code == 200
        assert profile.replica_of(resp.headers["X-Rasa-Replica"]) == replicas[sender]
    MEASURED["senders per replica"] = {r: list(replicas.values()).count(r) for r in (0, 1)}


def test_the_console_reads_its_analytics_from_the_postgresql_tracker_store(profile):
    """The help-desk console of the scaled profile: services and trackers both in the profile's PostgreSQL."""
    from deploy.scaled_profile import ACTIONS_PY, free_port

    password = "mat-khau-giam-sat-2026"
    env = {**profile.env, "TRACKER_DB_URL": profile.database_url}
    done = subprocess.run([str(ACTIONS_PY), "-m", "console", "users", "add", "giam-sat", "--role", "supervisor",
                           "--password-stdin", "--no-force-change"], cwd=ROOT, env=env, input=password + "\n",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    port = free_port()
    log = profile.workdir / "console-test.log"
    proc = subprocess.Popen([str(ACTIONS_PY), "-m", "console", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, proc, log, 90)
        session = requests.Session()
        login = session.post(base + "/api/login", json={"name": "giam-sat", "password": password}, timeout=30)
        assert login.status_code == 200, login.text
        data = session.get(base + "/api/analytics?days=1", timeout=60).json()
        conversations = data["conversations"]
        assert conversations["source_available"] is True
        # The stickiness test held at least 6 conversations, each with a procedure question answered.
        assert conversations["total_conversations"] >= 6, conversations
        assert conversations["shares"]["answered"] is not None
        assert any("khai sinh" in (p["name"] or "").lower() for p in conversations["top_procedures"]), conversations
        MEASURED["console analytics from PostgreSQL: conversations today"] = conversations["total_conversations"]
    finally:
        proc.terminate()
        proc.wait(20)


def test_health_is_ok_when_every_store_answers(profile):
    for base in [*profile.rasa_urls, profile.url]:
        resp = health(base)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"status": "ok", "down": [], "lock_store": "ok", "tracker_store": "ok"}


def test_redis_down_is_reported_apologised_for_and_recovered_from(profile):
    sender = SENDERS_BY_REPLICA[0]
    assert redis_up()
    try:
        subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], capture_output=True, timeout=30)
        for _ in range(50):
            if not redis_up():
                break
            time.sleep(0.1)
        assert not redis_up()
        for _ in range(2):  # asked twice: the ERROR is logged once per outage, not per request
            for base in profile.rasa_urls:
                resp = health(base)
                assert resp.status_code == 503, resp.text
                assert resp.json() == {"status": "down", "down": ["lock_store"], "lock_store": "down",
                                       "tracker_store": "ok"}
        through_nginx = health(profile.url)
        assert through_nginx.status_code == 503 and through_nginx.json()["down"] == ["lock_store"]
        turn = say(profile, sender, QUESTION)
        assert turn.status == 200
        assert turn.text == STORE_DOWN_REPLY
        MEASURED["Redis down: apology turn latency"] = f"{turn.seconds * 1000:.0f} ms"
        for i in (0, 1):
            log = profile.log(f"rasa-{i}").read_text(errors="replace")
            assert log.count("Health: lock_store RedisLockStore is unreachable (ConnectionError).") == 1, i
        log = profile.log(f"rasa-{turn.replica}").read_text(errors="replace")
        assert "Message not handled: lock store (Redis) failed (LockError); sent apology to the user." in log
    finally:
        ensure_redis_running()
    assert redis_up()
    started = time.perf_counter()
    deadline = started + 30
    while time.perf_counter() < deadline and health(profile.rasa_urls[0]).status_code != 200:
        time.sleep(0.2)
    MEASURED["Redis back: health 200 again after"] = f"{time.perf_counter() - started:.1f} s"
    for base in profile.rasa_urls:
        assert health(base).status_code == 200
    turn = say(profile, sender, QUESTION)
    assert turn.status == 200 and "Đăng ký khai sinh" in turn.text, turn.text
    for i in (0, 1):
        assert "Health: lock_store RedisLockStore is reachable again." in profile.log(f"rasa-{i}").read_text(
            errors="replace")


def pg_cluster(action: str) -> float:
    """``pg_ctlcluster <action>`` on the machine's cluster; seconds it took."""
    started = time.perf_counter()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *PG_CLUSTER, action], check=True, timeout=120,
                   capture_output=True)
    return time.perf_counter() - started


def test_postgres_down_then_restarted_loses_no_tracker_or_feedback_and_the_servers_reconnect(profile):
    from core.feedback import FeedbackStore

    sender = SENDERS_BY_REPLICA[1]
    content = "Đèn đường ngõ 7 phố Nguyễn Trãi hỏng cả tuần nay, tối rất tối và nguy hiểm"
    assert "lĩnh vực" in say(profile, sender, "tôi muốn gửi phản ánh kiến nghị").text
    assert "nội dung" in say(profile, sender, "Hạ tầng").text
    say(profile, sender, content)
    assert "số điện thoại hoặc email" in say(profile, sender, "phường Đông Ngàn, thị xã Từ Sơn").text
    assert "0912345678" in say(profile, sender, "0912 345 678").text
    ack = say(profile, sender, "/affirm").text
    match = re.search(r"PA-\d{6}-\d{4}", ack)
    assert match, ack
    code = match.group(0)
    events_before = {s: stored_event_count(profile, s) for s in SENDERS_BY_REPLICA.values()}
    slots_before = tracker(profile, sender)["slots"]

    # 1. PostgreSQL stopped: health names the tracker store, the citizen gets the apology, nothing is half-saved.
    try:
        MEASURED["PostgreSQL stop took"] = f"{pg_cluster('stop'):.1f} s"
        assert not postgres_up()
        for base in profile.rasa_urls:
            resp = health(base)
            assert resp.status_code == 503, resp.text
            assert resp.json()["down"] == ["tracker_store"], resp.text
        for replica, s in sorted(SENDERS_BY_REPLICA.items()):
            turn = say(profile, s, QUESTION)
            assert turn.status == 200 and turn.replica == replica
            # Rasa's fail-safe store would have answered without the history; the channel withdraws that answer.
            assert turn.text == STORE_DOWN_REPLY, turn.text
        MEASURED["PostgreSQL down: apology turn latency"] = f"{turn.seconds * 1000:.0f} ms"
    finally:
        ensure_postgres_running()
    assert postgres_up()
    for i in (0, 1):
        log = profile.log(f"rasa-{i}").read_text(errors="replace")
        assert log.count("Health: tracker_store ReconnectingSQLTrackerStore is unreachable (") == 1, i
        assert "Message not handled: tracker store (SQL database) failed; sent apology to the user." in log, i
        assert "0912345678" not in log and content not in log, i
    report = FeedbackStore(profile.services_database()).get(code)
    assert report is not None and report.content == content and report.contact == "0912345678"
    for s, count in events_before.items():
        assert stored_event_count(profile, s) == count, s  # the apologised turns left no trace

    # 2. Back, and then restarted once more: every replica answers the very next turn (pre-pinged pool).
    for attempt in ("after start", "after restart"):
        if attempt == "after restart":
            MEASURED["PostgreSQL restart took"] = f"{pg_cluster('restart'):.1f} s"
        for replica, s in sorted(SENDERS_BY_REPLICA.items()):
            text = f"Tra cứu phản ánh {code}" if s == sender else QUESTION
            before = stored_event_count(profile, s)
            turn = say(profile, s, text)
            assert turn.status == 200 and turn.replica == replica
            expected = code if s == sender else "Đăng ký khai sinh"
            assert expected in turn.text and turn.text != STORE_DOWN_REPLY, (attempt, turn.text)
            assert stored_event_count(profile, s) > before
    for base in profile.rasa_urls:
        assert health(base).status_code == 200
    after = tracker(profile, sender)["slots"]
    assert {k: v for k, v in after.items() if k.startswith("feedback")} == {
        k: v for k, v in slots_before.items() if k.startswith("feedback")}


def test_the_web_widget_sends_the_sticky_key_and_stays_on_one_replica(profile):
    from playwright import sync_api

    from tests.fakes.browser import CHROMIUM, CHROMIUM_ARGS, bot_count, send_message, wait_for_reply

    seen: list = []

    def on_response(resp) -> None:
        req = resp.request
        if "/webhooks/rest/webhook" in req.url or "/socket.io/" in req.url:
            seen.append({"url": req.url, "header": req.headers.get("x-sender-id"), "status": resp.status,
                         "replica": resp.headers.get("x-rasa-replica"), "body": req.post_data})

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(locale="vi-VN")
            page.on("response", on_response)
            page.goto(profile.web_url)
            for question in ("làm giấy khai sinh cần giấy tờ gì", "lệ phí bao nhiêu"):
                before = bot_count(page)
                send_message(page, question)
                wait_for_reply(page, before, "đăng ký khai sinh")  # the helper lowercases the page text
            page.wait_for_timeout(500)
        finally:
            browser.close()
    rest = [r for r in seen if "/webhooks/rest/webhook" in r["url"] and r["body"]]
    assert len(rest) == 2, seen
    senders = {json.loads(r["body"])["sender"] for r in rest}
    assert len(senders) == 1
    sender = senders.pop()
    assert all(r["header"] == sender and r["status"] == 200 for r in rest), rest
    sockets = [r for r in seen if "/socket.io/" in r["url"] and r["replica"]]
    assert sockets and all(f"sender={sender}" in r["url"] for r in sockets), sockets
    replicas = {profile.replica_of(r["replica"]) for r in rest + sockets}
    assert len(replicas) == 1, seen  # REST turns and the push socket on the conversation's replica


def test_killing_the_replica_mid_conversation_loses_nothing(profile):
    code, last4, status = profile.demo[0]
    sender = "scaled-failover-status"
    first = say(profile, sender, "tôi muốn tra cứu tình trạng hồ sơ")
    assert "mã hồ sơ" in first.text, first.text
    second = say(profile, sender, spaced_lowercase(code))
    assert "4 chữ số cuối" in second.text, second.text
    assert second.replica == first.replica
    serving = first.replica
    other = 1 - serving
    before = tracker(profile, sender)
    assert before["active_loop"].get("name"), before["active_loop"]
    assert before["slots"]["application_code"], before["slots"]
    stored = stored_event_count(profile, sender)

    profile.kill_rasa(serving)  # SIGKILL between two turns of the status-lookup form

    # The survivor reads the very same tracker from PostgreSQL, before any new turn.
    seen = tracker(profile, sender, base=profile.rasa_urls[other])
    assert [(e["event"], e["timestamp"]) for e in seen["events"]] == [
        (e["event"], e["timestamp"]) for e in before["events"]]
    assert seen["slots"] == before["slots"] and seen["active_loop"] == before["active_loop"]
    third = say(profile, sender, last4)
    assert third.status == 200 and third.replica == other
    assert status in third.text and "4 chữ số cuối" not in third.text, third.text
    assert "không tìm thấy" not in third.text.lower(), third.text
    again = say(profile, sender, f"hồ sơ {code} giờ sao rồi")
    assert again.replica == other and status in again.text and "4 chữ số cuối" not in again.text, again.text
    assert stored_event_count(profile, sender) > stored
    MEASURED["failover: turn latency before the kill (code turn)"] = f"{second.seconds * 1000:.0f} ms"
    MEASURED["failover: first turn after the kill (sender waited)"] = f"{third.seconds * 1000:.0f} ms"
    MEASURED["failover: next turn"] = f"{again.seconds * 1000:.0f} ms"
    MEASURED["failover: events in PostgreSQL before the kill / after"] = (
        f"{stored} / {stored_event_count(profile, sender)}")


def redis_lock_exists(profile, sender: str) -> bool:
    """Whether Rasa's ticket lock of ``sender`` is in Redis (the profile's db and key prefix)."""
    out = subprocess.run(["redis-cli", "-p", str(profile.redis["port"]), "-n", str(profile.redis["db"]), "exists",
                          f"{profile.redis_key_prefix}:lock:{sender}"], capture_output=True, text=True, timeout=10)
    return out.stdout.strip() == "1"


def test_a_replica_killed_while_answering_costs_that_one_message_and_a_lock_wait(profile):
    """The known limit, measured: the in-flight request fails (nginx does not replay a POST) and the dead
    replica's ticket lock holds the conversation until it expires (TICKET_LOCK_LIFETIME, 20 s in this profile)."""
    import threading

    dead = next(i for i in range(profile.replicas) if f"rasa-{i}" not in profile.procs)
    started = time.perf_counter()
    profile.start_rasa(dead)  # the replica killed by the previous test comes back
    MEASURED["killed replica restarted in"] = f"{time.perf_counter() - started:.0f} s"
    sender = next(f"scaled-inflight-{i}" for i in range(40)
                  if say(profile, f"scaled-inflight-{i}", "xin chào").replica == dead)  # one it serves again
    actions = [profile.procs[f"actions-{i}"] for i in range(profile.replicas)]
    in_flight: dict = {}
    try:
        for proc in actions:  # freeze the action servers: the next turn stops inside Rasa, holding its lock
            proc.send_signal(signal.SIGSTOP)
        thread = threading.Thread(target=lambda: in_flight.update(turn=say(profile, sender, QUESTION)))
        thread.start()
        deadline = time.monotonic() + 30
        while not redis_lock_exists(profile, sender) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert redis_lock_exists(profile, sender)
        time.sleep(0.5)
        profile.kill_rasa(dead)
        thread.join(60)
    finally:
        for proc in actions:
            proc.send_signal(signal.SIGCONT)
    assert in_flight["turn"].status == 502  # that one message failed; the widget shows it and retries
    # The widget retries after its backoff (1 s, then longer). A retry within ~1 s of the lost request can wedge
    # on Rasa's lock (its own ticket expires in the same 1 s polling step as the dead one: it then waits until the
    # balancer's 120 s timeout cancels it), so this retry comes 2 s later, as the widget's second attempt would.
    time.sleep(2)
    started = time.perf_counter()
    retry = say(profile, sender, QUESTION)
    waited = time.perf_counter() - started
    assert retry.status == 200 and retry.replica == 1 - dead and "Đăng ký khai sinh" in retry.text, retry.text
    MEASURED["replica killed mid-answer: the retried message waited (stale ticket lock)"] = f"{waited:.1f} s"
    assert waited < 30, waited  # bounded by the profile's 20 s lock lifetime, not Rasa's default 60 s
    user_texts = [e.get("text") for e in tracker(profile, sender)["events"] if e["event"] == "user"]
    assert user_texts == ["xin chào", QUESTION]  # the in-flight message was never recorded; the retry was
