"""Privacy: after a conversation with a phone number, a CCCD number and an application code, the Rasa and
action-server logs (both at DEBUG, where Rasa logs every user text) hold none of them unmasked.

Runs its own stack (tests/e2e/conftest.py's Stack with ``--debug`` on both servers) so the shared stack keeps
its log level. The tracker store (SQLite tracker.db) is inspected and what it holds is written to
reports/fuzz/privacy.json: Rasa stores the citizen's raw text there by design (it is the conversation record),
so the test asserts only what the actions control: no slot keeps the full ID or phone number after the turn.
The last test runs the retention job (console/retention.py) as if 31 days had passed: the stored conversation
is then masked too, and Rasa still loads and continues it.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import datetime

import pytest

from tests.e2e.conftest import MODEL, ROOT, Stack, say, wait_http

PHONE = "0912345678"
CCCD = "001203004567"
CODE = "H07.99-251120-0012"
SECRETS = {
    "phone": [PHONE, "091 234 5678", "0912.345.678"],
    "cccd": [CCCD],
    "application code": [CODE, "h07.99 251120 0012", "251120-0012"],
}
MASKED = ["091*******", "H07.99-******-0012", "001*********"]


class DebugStack(Stack):
    """The e2e stack with both servers logging at DEBUG (no chat page; Rasa loads while the actions warm up)."""

    def _start(self, name, cmd):
        if name in ("rasa", "actions") and "--debug" not in cmd:
            cmd = [*cmd, "--debug"]
        return super()._start(name, cmd)

    def start(self) -> None:
        """Start Rasa first (its model load is the slow part), then the action server; wait for both."""
        rasa = self._start("rasa", self.rasa_command())
        self.start_actions()
        wait_http(f"{self.rasa_url}/webhooks/rest/", 300, rasa, self.workdir / "rasa.log")


@pytest.fixture(scope="module")
def debug_stack(tmp_path_factory):
    from core.db import VN_TZ, Database
    from core.status.models import ApplicationStatus, StatusEvent
    from core.status.sqlite import SqliteStatusBackend

    if not MODEL.exists():
        pytest.fail("No trained model at models/tthc.tar.gz: run `make train` (make test does it).")
    running = DebugStack(tmp_path_factory.mktemp("privacy"))
    db = Database(str(running.services_db))
    db.ensure_schema()
    received = datetime(2025, 11, 20, 8, 15, tzinfo=VN_TZ)
    app = ApplicationStatus(
        code=CODE, procedure_code="1.001193", procedure_name="Đăng ký khai sinh", applicant_name="Nguyễn Văn A",
        received_at=received, due_at=datetime(2025, 11, 28, 17, 0, tzinfo=VN_TZ), status="Đang xử lý",
        status_since=datetime(2025, 11, 21, 10, 0, tzinfo=VN_TZ), agency="UBND xã Tiên Du",
        history=[StatusEvent("Đã tiếp nhận", received, "Bộ phận Một cửa xã Tiên Du")])
    SqliteStatusBackend(db).save(app, phone=PHONE, id_number=CCCD)
    try:
        running.start()
        yield running
    finally:
        running.shutdown()


def texts(messages: list) -> str:
    return "\n".join(m.get("text", "") for m in messages)


@pytest.fixture(scope="module")
def conversation(debug_stack):
    """A status lookup verified with the full phone number, then the CCCD number and a remembered code."""
    sender = "privacy-citizen"
    turns = [
        ("tôi muốn tra cứu tình trạng hồ sơ", "mã hồ sơ"),
        (f"mã hồ sơ của tôi là {CODE}", "4 chữ số cuối"),
        (f"số điện thoại của tôi là {PHONE}", "Đang xử lý"),
        (f"số căn cước của tôi là {CCCD}, sđt 091 234 5678", None),
        (f"hồ sơ {CODE.lower().replace('-', ' ')} giờ sao rồi", "Đang xử lý"),
    ]
    replies = []
    for text, expected in turns:
        reply = texts(say(debug_stack, sender, text))
        replies.append(reply)
        if expected:
            assert expected in reply, (text, reply)
    for name in ("rasa", "actions"):
        debug_stack.stop(name)  # flush and close the logs before reading them
    return {"sender": sender, "replies": replies}


def _occurrences(text: str) -> dict:
    return {kind: sorted({v for v in values if v.lower() in text.lower()}) for kind, values in SECRETS.items()}


@pytest.mark.parametrize("log_name", ["rasa.log", "actions.log"])
def test_logs_hold_no_unmasked_personal_data(debug_stack, conversation, log_name):
    log = (debug_stack.workdir / log_name).read_text(encoding="utf-8", errors="replace")
    assert "DEBUG" in log, f"{log_name} is not at DEBUG level: the test would prove nothing"
    found = {kind: values for kind, values in _occurrences(log).items() if values}
    lines = [line[:200] for line in log.splitlines() if any(v.lower() in line.lower() for vs in found.values()
                                                            for v in vs)]
    assert not found, f"{log_name} holds unmasked {found}: {lines[:5]}"
    # Nor the verification factor (the phone's last four digits) where Rasa prints slot values.
    factor = re.findall(r"status_verification\W{1,12}(?:value:\s*)?'?5678|: '5678'", log)
    assert not factor, f"{log_name} shows the verification digits: {factor[:3]}"
    # The conversation did reach the log, masked (otherwise the check above proves nothing).
    assert any(masked in log for masked in MASKED), f"no masked personal data in {log_name}"


def test_tracker_store_contents_are_reported(debug_stack, conversation):
    """What Rasa's tracker store keeps; the slots set by the actions never keep the full phone/ID number."""
    db = sqlite3.connect(f"file:{debug_stack.workdir / 'tracker.db'}?mode=ro", uri=True)
    rows = db.execute("SELECT type_name, action_name, data FROM events WHERE sender_id = ?",
                      (conversation["sender"],)).fetchall()
    db.close()
    assert rows, "no events stored"
    user_texts, slots = [], []
    for type_name, _action, data in rows:
        event = json.loads(data)
        if type_name == "user":
            user_texts.append(event.get("text") or "")
        elif type_name == "slot":
            slots.append((event.get("name"), event.get("value")))
    raw = "\n".join(data for _, _, data in rows)
    slot_values = json.dumps([value for _, value in slots], ensure_ascii=False)
    report = {
        "events": len(rows),
        "user_texts_with_unmasked": _occurrences("\n".join(user_texts)),
        "all_event_data_with_unmasked": _occurrences(raw),
        "slots_with_unmasked": _occurrences(slot_values),
        "slots_set": sorted({name for name, _ in slots}),
        "verified_applications_values": [value for name, value in slots if name == "verified_applications"],
        "status_verification_values": [value for name, value in slots if name == "status_verification"],
    }
    out = ROOT / "reports" / "fuzz" / "privacy.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, ensure_ascii=False, indent=1))
    # No slot keeps the full phone or ID number (only the last four digits are kept as the factor).
    assert not report["slots_with_unmasked"]["phone"] and not report["slots_with_unmasked"]["cccd"], report
    assert not any(re.fullmatch(r"\d{9,12}", str(v or "")) for v in report["status_verification_values"]), report
    # The one-time verification slot is emptied after the lookup (its last value is None).
    assert report["status_verification_values"] and report["status_verification_values"][-1] is None, report


def test_retention_masks_the_stored_conversation_and_rasa_resumes_it(debug_stack, conversation):
    """31 days later the retention job masks the conversation in the tracker store; Rasa still loads it, and the
    citizen who asks about the same application must verify again (the remembered factor is gone)."""
    from console.retention import RetentionJob

    tracker = debug_stack.workdir / "tracker.db"
    later = time.time() + 31 * 86400
    report = RetentionJob(tracker, None, clock=lambda: later).run()
    assert report.errors == [] and report.events_redacted > 0, report
    db = sqlite3.connect(f"file:{tracker}?mode=ro", uri=True)
    rows = [json.loads(data) for (data,) in db.execute(
        "SELECT data FROM events WHERE sender_id = ? ORDER BY id", (conversation["sender"],))]
    db.close()
    raw = json.dumps(rows, ensure_ascii=False)
    assert not any(_occurrences(raw).values()), _occurrences(raw)
    assert "091*******" in raw and "H07.99-******-0012" in raw
    factors = [e["value"] for e in rows if e.get("event") == "slot" and e.get("name") == "status_verification"]
    assert factors and set(factors) <= {"****", None}, factors
    remembered = [e["value"] for e in rows if e.get("event") == "slot" and e.get("name") == "verified_applications"]
    assert remembered and all(set((v or {}).values()) <= {"****"} for v in remembered), remembered

    debug_stack.start()
    reply = texts(say(debug_stack, conversation["sender"], f"hồ sơ {CODE} giờ sao rồi"))
    assert "4 chữ số cuối" in reply and "Đang xử lý" not in reply, reply
    assert "Đang xử lý" in texts(say(debug_stack, conversation["sender"], "5678"))
