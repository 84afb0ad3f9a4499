"""End-to-end faults of the embedded profile (issue 7): real servers, real processes, nothing mocked.

* The action server dies mid-conversation: citizens on the REST channel and on Zalo get the Vietnamese apology;
  once it is back, a follow-up is answered about the procedure asked before the outage (the history survived
  in the tracker store).
* The disk is full: with the tracker store and the services database on a full file system, the citizen's
  "yes" to file a report gets an apology with the hotline, not an acknowledgement; once there is room, the same
  "yes" files it with the day's first code (nothing half-done, no code used up) and no phone number is logged.
* The knowledge index is damaged: an action server started on a damaged COPY of models/kb-index says so in its
  log and on GET /health/knowledge (naming the file and `make build-index`), apologises with the hotline to
  procedure questions, and answers again as soon as the index is rebuilt, without a restart.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from staff_api.rasa_client import rasa_auth_headers
from tests.e2e.conftest import ACTIONS_PY, MODEL, ROOT, Stack, free_port, say, wait_http
from tests.fakes.disk import fill_disk, tmpfs
from tests.fakes.responses import rendered
from tests.fakes.zalo_webhook import replies, send

HOTLINE = "18001096"
APOLOGY_WORDS = ("Xin lỗi", "sự cố tạm thời", HOTLINE)  # channels.turn.ACTIONS_DOWN_REPLY (Rasa venv only)
QUESTION = "làm giấy khai sinh cần giấy tờ gì"
FOLLOW_UP = "mất bao lâu?"


def texts(messages: list) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def user_texts(stack: Stack, sender: str) -> list:
    tracker = requests.get(f"{stack.rasa_url}/conversations/{sender}/tracker",
                           headers=rasa_auth_headers(stack.rasa_api_token), timeout=10).json()
    return [e.get("text") for e in tracker["events"] if e.get("event") == "user"]


def test_outage_apologises_on_rest_and_zalo_and_the_conversation_continues(stack):
    rest_user, zalo_user = "e2e-fault-outage", "1000000000000000090"
    first = texts(say(stack, rest_user, QUESTION))
    assert "Đăng ký khai sinh" in first and "Giấy tờ phải nộp" in first, first
    send(stack, zalo_user, QUESTION)
    zalo_before = replies(stack, zalo_user)
    assert "Đăng ký khai sinh" in "\n".join(zalo_before)

    stack.stop("actions")
    try:
        down = texts(say(stack, rest_user, FOLLOW_UP))
        assert all(word in down for word in APOLOGY_WORDS), down
        send(stack, zalo_user, FOLLOW_UP)
        zalo_down = replies(stack, zalo_user, at_least=len(zalo_before) + 1)[len(zalo_before):]
        assert len(zalo_down) == 1 and all(word in zalo_down[0] for word in APOLOGY_WORDS), zalo_down
    finally:
        stack.start_actions()

    after = texts(say(stack, rest_user, FOLLOW_UP))
    assert "Đăng ký khai sinh" in after and "Thời hạn giải quyết" in after, after
    assert user_texts(stack, rest_user) == [QUESTION, FOLLOW_UP, FOLLOW_UP]  # nothing of the history was lost
    seen = len(zalo_before) + 1
    send(stack, zalo_user, FOLLOW_UP)
    zalo_after = "\n".join(replies(stack, zalo_user, at_least=seen + 1)[seen:])
    assert "Đăng ký khai sinh" in zalo_after and "Thời hạn giải quyết" in zalo_after, zalo_after
    assert user_texts(stack, zalo_user) == [QUESTION, FOLLOW_UP, FOLLOW_UP]


# ---- damaged knowledge index ------------------------------------------------------------------------------


INDEX_SERVER_TOKEN = "e2e-damaged-index-token"


def action_call(base_url: str, question: str) -> list:
    """One ``action_answer_procedure`` call, as Rasa sends it; the texts of the responses (domain.yml's responses
    filled, as Rasa would)."""
    latest = {"text": question, "intent": {"name": "ask_procedure", "confidence": 1.0}, "entities": []}
    body = {
        "next_action": "action_answer_procedure", "sender_id": "e2e-index", "version": "3.6.21", "domain": {},
        "tracker": {"sender_id": "e2e-index", "slots": {}, "latest_message": latest, "paused": False,
                    "events": [{"event": "user", "text": question, "parse_data": latest}],
                    "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"},
    }
    resp = requests.post(f"{base_url}/webhook", json=body, timeout=300,
                         headers={"Authorization": f"Bearer {INDEX_SERVER_TOKEN}"})
    assert resp.status_code == 200, resp.text
    return [r.get("text") or "" for r in rendered(resp.json()["responses"])]


@pytest.fixture
def damaged_index_server(tmp_path):
    """An action server on a copy of the real index whose dense.faiss was cut in half."""
    real = ROOT / "models" / "kb-index"
    if not (real / "config.json").exists():
        pytest.fail("No knowledge index at models/kb-index: run `make build-index` (make test does it).")
    pristine = tmp_path / "pristine" / "kb-index"
    shutil.copytree(real, pristine)
    served = tmp_path / "served" / "kb-index"
    shutil.copytree(real, served)
    accents = ROOT / "models" / "kb-accents.json"
    if accents.exists():
        shutil.copy(accents, served.parent / "kb-accents.json")
    faiss_file = served / "dense.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[: faiss_file.stat().st_size // 2])
    port = free_port()
    log = tmp_path / "actions.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "KB_ENCODER_THREADS": "1", "KB_INDEX_DIR": str(served), "SERVICES_DB": str(tmp_path / "s.db"),
           "STATUS_BACKEND": "sqlite", "ACTION_SERVER_TOKEN": INDEX_SERVER_TOKEN}
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen([str(ACTIONS_PY), "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/health", 120, proc, log)
        yield {"url": base, "log": log, "served": served, "pristine": pristine}
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for_log(log: Path, needle: str, seconds: float = 60.0) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if needle in text:
            return text
        time.sleep(0.5)
    pytest.fail(f"{needle!r} never appeared in the action server log:\n{log.read_text(errors='replace')[-3000:]}")


def test_damaged_index_is_reported_apologised_for_and_picked_up_once_rebuilt(damaged_index_server):
    server = damaged_index_server
    logged = wait_for_log(server["log"], "Knowledge index unusable")
    assert "dense.faiss" in logged and "make build-index" in logged, logged[-2000:]
    health = requests.get(f"{server['url']}/health/knowledge", timeout=30)
    assert health.status_code == 503, health.text
    assert health.json()["status"] == "error" and health.json()["file"].endswith("dense.faiss")
    assert requests.get(f"{server['url']}/health", timeout=10).status_code == 200  # still alive: other services

    [answer] = action_call(server["url"], QUESTION)
    assert answer.startswith("Xin lỗi, hệ thống tra cứu thủ tục đang gặp sự cố") and HOTLINE in answer, answer

    shutil.rmtree(server["served"])
    shutil.copytree(server["pristine"], server["served"])  # what `make build-index` does: a new folder in place
    health = requests.get(f"{server['url']}/health/knowledge", timeout=30)
    assert health.status_code == 200 and health.json()["entries"] > 2600, health.text
    answer = "\n".join(action_call(server["url"], QUESTION))
    assert "Đăng ký khai sinh" in answer and "Giấy tờ phải nộp" in answer, answer
    assert json.loads(health.text)["status"] == "ok"


# ---- disk full (tracker store and services database on a tiny file system) -------------------------------

FEEDBACK_CONTENT = "Cống thoát nước đầu ngõ 12 phố Lý Thái Tổ bị tắc, mưa xuống là nước tràn vào nhà dân"
PHONE = "0912 345 678"


@pytest.fixture
def tiny_disk_stack(tmp_path_factory):
    """A second stack whose tracker store and services database live on a 16 MB tmpfs (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    if not MODEL.exists():
        pytest.fail("No trained model at models/tthc.tar.gz: run `make train` (make test does it).")
    with tmpfs(tmp_path_factory.mktemp("tiny-disk"), "16m") as mount:
        stack = Stack(tmp_path_factory.mktemp("full-stack"))  # logs stay on the normal disk
        stack.services_db = mount / "services.db"
        stack.env["SERVICES_DB"] = str(stack.services_db)
        (stack.workdir / "endpoints.yml").write_text(
            f'action_endpoint:\n  url: "{stack.actions_url}/webhook"\n'
            "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"
            f'tracker_store:\n  type: channels.tracker_store.ReconnectingSQLTrackerStore\n'
            f'  dialect: "sqlite"\n  db: "{mount / "tracker.db"}"\n'
        )
        try:
            stack.start()
            yield stack, mount
        finally:
            stack.shutdown()


def test_disk_full_turn_is_not_acknowledged_and_nothing_is_lost(tiny_disk_stack):
    from core.db import Database
    from core.feedback import FeedbackStore

    stack, mount = tiny_disk_stack
    sender = "e2e-disk-full"
    assert "lĩnh vực" in texts(say(stack, sender, "tôi muốn gửi phản ánh kiến nghị"))
    assert "nội dung" in texts(say(stack, sender, "Hạ tầng"))
    say(stack, sender, FEEDBACK_CONTENT)
    assert "số điện thoại hoặc email" in texts(say(stack, sender, "phường Suối Hoa, thành phố Bắc Ninh"))
    assert "0912345678" in texts(say(stack, sender, PHONE))

    filler = fill_disk(mount)
    try:
        reply = texts(say(stack, sender, "/affirm"))
    finally:
        filler.unlink()
    assert not re.search(r"PA-\d{6}-\d{4}", reply) and "đã được ghi nhận" not in reply, reply
    assert "Xin lỗi" in reply and HOTLINE in reply, reply
    # Both stores really hit the full disk: the action could not file the report, Rasa could not save the turn
    # (our tracker store marks the failed save on the turn; the REST channel answers with the apology).
    actions_log = (stack.workdir / "actions.log").read_text(errors="replace")
    rasa_log = (stack.workdir / "rasa.log").read_text(errors="replace")
    assert "Filing a feedback report failed" in actions_log, actions_log[-3000:]
    saved_failed = [line for line in rasa_log.splitlines()
                    if "trying to save conversation tracker" in line or "tracker store (SQL database) failed" in line]
    assert saved_failed, rasa_log[-3000:]
    report_file = ROOT / "reports" / "faults_disk_full.txt"
    report_file.parent.mkdir(exist_ok=True)
    logged = "\n".join(line[:400] for line in saved_failed)
    report_file.write_text(f"Reply to the citizen's \"yes\" with the disk full:\n{reply}\n\nRasa log:\n{logged}\n",
                           encoding="utf-8")

    # Room again: the form is still at its last saved question, so the citizen's "yes" now files the report.
    reply = texts(say(stack, sender, "/affirm"))
    match = re.search(r"PA-\d{6}-(\d{4})", reply)
    assert match and match.group(1) == "0001", reply  # the failed attempt used no tracking code
    report = FeedbackStore(Database(str(stack.services_db))).get(match.group(0))
    assert report is not None and report.content == FEEDBACK_CONTENT and report.contact == "0912345678"
    for log in ("rasa.log", "actions.log"):
        text = (stack.workdir / log).read_text(errors="replace")
        assert "0912345678" not in text and PHONE not in text, f"phone number unmasked in {log}"

    # A plain question while the disk is full: the answer could not be saved, so the citizen gets the apology
    # rather than an answer the conversation would then forget; with room again it is answered and remembered.
    filler = fill_disk(mount)
    try:
        reply = texts(say(stack, "e2e-disk-full-question", "làm giấy khai sinh cần giấy tờ gì"))
    finally:
        filler.unlink()
    assert "sự cố tạm thời" in reply and HOTLINE in reply and "Giấy tờ phải nộp" not in reply, reply
    assert "Giấy tờ phải nộp" in texts(say(stack, "e2e-disk-full-question", "làm giấy khai sinh cần giấy tờ gì"))
    follow_up = texts(say(stack, "e2e-disk-full-question", "mất bao lâu?"))
    assert "Đăng ký khai sinh" in follow_up and "Thời hạn giải quyết" in follow_up, follow_up
