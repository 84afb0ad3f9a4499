"""Status lookup actions: the form's extraction/validation and the lookup, with tracker fixtures."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_dialogue import ActionSessionStart
from actions.actions_status import ActionCheckStatus, ValidateApplicationStatusForm
from core.status.answer import format_status
from core.status.models import ApplicationStatus, StatusEvent
from core.status.ratelimit import LimitDecision
from settings import get_settings
from tests.fakes.responses import rendered, response_text
from tests.fakes.trackers import form_tracker

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
VN = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = "H07.99-251120-0012"
NOW = datetime(2025, 11, 27, 9, 0, tzinfo=VN)


@pytest.fixture(autouse=True)
def services_db(settings_env, tmp_path):
    """The configured services database (where action_check_status reads the notification subscriptions before
    offering them) is a fresh SQLite file of the test."""
    from actions.actions_notifications import notification_subscriptions

    settings_env(SERVICES_DB=str(tmp_path / "configured.db"), DATABASE_URL=None)
    notification_subscriptions.cache_clear()
    yield
    notification_subscriptions.cache_clear()


def tracker(text, intent="inform", slots=None, requested=None, sender="citizen-1", confidence=0.9, channel="rest"):
    """A tracker inside the status form whose latest message is ``text`` (come in on ``channel``)."""
    return form_tracker("application_status_form", text, intent, slots=slots, requested=requested, sender=sender,
                        confidence=confidence, channel=channel)


def run(action, trk, domain=None):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, trk, domain if domain is not None else DOMAIN))
    return rendered(dispatcher.messages), events


def slots_of(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def application(status="Đang xử lý") -> ApplicationStatus:
    received = datetime(2025, 11, 20, 8, 15, tzinfo=VN)
    return ApplicationStatus(
        code=CODE, procedure_code="1.001193", procedure_name="Đăng ký khai sinh", applicant_name="Nguyễn Văn A",
        received_at=received, due_at=datetime(2025, 11, 28, 17, 0, tzinfo=VN), status=status,
        status_since=datetime(2025, 11, 21, 10, 0, tzinfo=VN), agency="UBND xã Tiên Du",
        history=[StatusEvent("Đã tiếp nhận", received, "Bộ phận Một cửa xã Tiên Du"),
                 StatusEvent(status, datetime(2025, 11, 21, 10, 0, tzinfo=VN), "UBND xã Tiên Du")],
    )


class FakeBackend:
    """Knows one application, verified by "5678"."""

    def __init__(self, fail=False):
        self.calls = []
        self.fail = fail

    def lookup(self, code, verification):
        self.calls.append((code, verification))
        if self.fail:
            raise RuntimeError("database is down")
        return application() if (code, verification) == (CODE, "5678") else None


class FakeLimiter:
    def __init__(self, allowed=True, retry_after_s=0, proved=()):
        self.decision = LimitDecision(allowed, retry_after_s)
        self.checked, self.recorded = [], []
        self.proved = set(proved)  # (sender, code) pairs the server saw verified

    def verified(self, sender_id, code):
        return (sender_id, code) in self.proved

    def check(self, sender_id, code=None, client=None):
        self.checked.append((sender_id, code))
        return self.decision

    def record(self, sender_id, code, success, client=None):
        self.recorded.append((sender_id, code, success))


# ---- the form: extraction and validation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "H07.99-251120-0012",
        "h07.99 251120 0012",
        "mã hồ sơ của tôi là H07.99 - 251120 - 0012 ạ",
        "H0799-251120-0012",
        "h07.99.251120.0012",
    ],
)
def test_code_in_any_format_is_extracted_canonical(typed):
    messages, events = run(ValidateApplicationStatusForm(), tracker(typed, "check_application_status",
                                                                    requested="application_code"))
    assert messages == []
    assert slots_of(events) == {"application_code": CODE}


def test_code_in_the_triggering_message_fills_the_slot_at_activation():
    _, events = run(ValidateApplicationStatusForm(), tracker(f"tra cứu hồ sơ {CODE}", "check_application_status"))
    assert slots_of(events)["application_code"] == CODE


def test_malformed_code_explains_the_format():
    messages, events = run(ValidateApplicationStatusForm(), tracker("mã của tôi là 12345", "inform",
                                                                    requested="application_code"))
    assert messages[0]["response"] == "utter_status_bad_code"
    assert messages[0]["text"] == response_text("utter_status_bad_code")
    assert slots_of(events) == {"application_code": None}


def test_other_question_during_the_form_is_left_to_the_rules():
    # Nothing extracted → the Rasa form rejects itself and the procedure rule answers (data/rules/forms.yml).
    messages, events = run(ValidateApplicationStatusForm(), tracker("làm giấy khai sinh cần giấy tờ gì",
                                                                    "ask_procedure", requested="application_code"))
    assert messages == []
    assert "application_code" not in slots_of(events)


@pytest.mark.parametrize(
    "typed, digits",
    [("5678", "5678"), ("4 số cuối là 5678", "5678"), ("0912 345 678", "5678"), ("5 6 7 8", "5678"),
     ("số căn cước 001099005678", "5678")],
)
def test_verification_digits(typed, digits):
    trk = tracker(typed, "inform", slots={"application_code": CODE}, requested="status_verification")
    messages, events = run(ValidateApplicationStatusForm(), trk)
    assert messages == []
    assert slots_of(events) == {"status_verification": digits}


def test_too_few_digits_are_asked_again():
    trk = tracker("56", "inform", slots={"application_code": CODE}, requested="status_verification")
    messages, events = run(ValidateApplicationStatusForm(), trk)
    assert messages[0]["response"] == "utter_status_bad_digits"
    assert messages[0]["text"] == response_text("utter_status_bad_digits")
    assert slots_of(events) == {"status_verification": None}


def test_digits_of_the_code_are_not_taken_as_verification():
    trk = tracker(CODE, "check_application_status", slots={"application_code": "H01.34-251003-0110"},
                  requested="status_verification")
    _, events = run(ValidateApplicationStatusForm(), trk)
    assert slots_of(events) == {"application_code": CODE}


def test_verified_code_is_not_verified_again():
    trk = tracker(f"hồ sơ {CODE} giờ sao rồi", "check_application_status",
                  slots={"verified_applications": {CODE: "5678"}})
    form = ValidateApplicationStatusForm(limiter=FakeLimiter(proved={("rest:citizen-1", CODE)}))
    _, events = run(form, trk)
    assert slots_of(events) == {"application_code": CODE, "requested_slot": None}  # form done: no question


def test_prefilled_verified_slot_without_a_server_record_still_asks_for_the_digits():
    """A tracker claiming the code was verified, but the server never saw this conversation prove it."""
    trk = tracker(f"hồ sơ {CODE} giờ sao rồi", "check_application_status",
                  slots={"verified_applications": {CODE: "5678"}})
    form = ValidateApplicationStatusForm(limiter=FakeLimiter(proved={("someone-else", CODE)}))
    _, events = run(form, trk)
    assert slots_of(events) == {"application_code": CODE}  # the form goes on to ask status_verification


# ---- the lookup ------------------------------------------------------------------------------------------


def lookup(slots, backend=None, limiter=None, sender="citizen-1", channel="rest"):
    backend = backend or FakeBackend()
    limiter = limiter or FakeLimiter()
    action = ActionCheckStatus(backend=backend, limiter=limiter, clock=lambda: NOW)
    messages, events = run(action, tracker("5678", slots=slots, sender=sender, channel=channel))
    return messages, events, backend, limiter


def test_happy_path_answers_with_the_status_and_remembers_the_code():
    messages, events, backend, limiter = lookup({"application_code": CODE, "status_verification": "5678"})
    assert [m["text"] for m in messages] == [format_status(application(), NOW.date()),
                                             response_text("utter_notify_offer", code="H07.99-******-0012")]
    assert "UBND xã Tiên Du" in messages[0]["text"]
    assert slots_of(events) == {"application_code": None, "status_verification": None, "notification_offer": CODE,
                                "verified_applications": {CODE: "5678"}}
    assert limiter.recorded == [("rest:citizen-1", CODE, True)]


def test_wrong_verification_and_unknown_code_get_the_same_neutral_message():
    wrong, events, _, limiter = lookup({"application_code": CODE, "status_verification": "1111"})
    unknown, _, _, _ = lookup({"application_code": "H07.99-251120-9999", "status_verification": "5678"})
    assert wrong == unknown
    assert "không tìm thấy hồ sơ" in wrong[0]["text"].lower()
    assert "Nguyễn" not in wrong[0]["text"] and "Đăng ký khai sinh" not in wrong[0]["text"]
    assert limiter.recorded == [("rest:citizen-1", CODE, False)]
    assert slots_of(events)["verified_applications"] is None


def test_rate_limited_sender_is_told_when_to_retry_and_nothing_is_looked_up():
    limiter = FakeLimiter(allowed=False, retry_after_s=610)
    messages, _, backend, _ = lookup({"application_code": CODE, "status_verification": "5678"}, limiter=limiter)
    assert "11 phút" in messages[0]["text"]
    assert "tạm khóa" in messages[0]["text"]
    assert backend.calls == []


def test_remembered_code_is_looked_up_without_asking_or_counting():
    slots = {"application_code": CODE, "status_verification": None, "verified_applications": {CODE: "5678"}}
    messages, _, backend, limiter = lookup(slots, limiter=FakeLimiter(proved={("rest:citizen-1", CODE)}))
    assert backend.calls == [(CODE, "5678")]
    assert limiter.checked == [] and limiter.recorded == []
    assert "Đăng ký khai sinh" in messages[0]["text"]


def test_forged_verified_slot_reveals_nothing(tmp_path):
    """A forged action call whose tracker pre-fills ``verified_applications`` with a guess (finding 1 of issue
    13): on the real SQLite services, no status, no name, no lookup, and the guesser learns nothing."""
    from core.db import Database
    from core.status.ratelimit import AttemptLimiter
    from core.status.sqlite import SqliteStatusBackend

    db = Database(str(tmp_path / "services.db"))
    backend = SqliteStatusBackend(db)
    backend.save(application(), phone="0912345678", id_number="001099001234")
    limiter = AttemptLimiter(db)
    for guess in ("1111", "5678"):  # a wrong guess and the right one get the same answer
        slots = {"application_code": CODE, "status_verification": None, "verified_applications": {CODE: guess}}
        messages, events, _, _ = lookup(slots, backend, limiter, sender="forger")
        assert [m["text"] for m in messages] == [response_text("utter_status_missing")]
        assert "verified_applications" not in slots_of(events)
    # The same conversation after really proving both factors: remembered from then on.
    lookup({"application_code": CODE, "status_verification": "5678"}, backend, limiter, sender="owner")
    slots = {"application_code": CODE, "status_verification": None, "verified_applications": {CODE: "5678"}}
    messages, *_ = lookup(slots, backend, limiter, sender="owner")
    assert messages[0]["text"] == format_status(application(), NOW.date())


def test_verification_on_zalo_is_not_inherited_by_a_rest_caller_reusing_the_sender_id(tmp_path):
    """Finding 4 of issue 13: the channel is the one the message came in on, so a REST client posting as a Zalo
    user's id (whose tracker remembers a verified code) does not count as that verified conversation."""
    from core.db import Database
    from core.status.ratelimit import AttemptLimiter
    from core.status.sqlite import SqliteStatusBackend

    db = Database(str(tmp_path / "services.db"))
    backend = SqliteStatusBackend(db)
    backend.save(application(), phone="0912345678", id_number="001099001234")
    limiter = AttemptLimiter(db)
    zalo_user = "2512523625412515"
    lookup({"application_code": CODE, "status_verification": "5678"}, backend, limiter, sender=zalo_user,
           channel="zalo")
    slots = {"application_code": CODE, "status_verification": None, "verified_applications": {CODE: "5678"}}
    messages, *_ = lookup(slots, backend, limiter, sender=zalo_user, channel="rest")
    assert [m["text"] for m in messages] == [response_text("utter_status_missing")]
    messages, *_ = lookup(slots, backend, limiter, sender=zalo_user, channel="zalo")
    assert messages[0]["text"] == format_status(application(), NOW.date())


def test_backend_failure_gives_an_apology_not_a_trace():
    messages, _, _, _ = lookup({"application_code": CODE, "status_verification": "5678"},
                               backend=FakeBackend(fail=True))
    assert "gián đoạn" in messages[0]["text"]
    assert "Traceback" not in messages[0]["text"] and "database" not in messages[0]["text"]


def test_verified_status_is_forgotten_when_a_new_session_starts():
    trk = tracker("xin chào", "greet", slots={"verified_applications": {CODE: "5678"}, "procedure_code": "1.001193",
                                              "application_code": CODE, "notification_offer": CODE})
    _, events = run(ActionSessionStart(), trk, domain={"session_config": {"carry_over_slots_to_new_session": True}})
    assert events[0]["event"] == "session_started" and events[-1]["name"] == "action_listen"
    carried = slots_of(events)
    assert carried == {"procedure_code": "1.001193", "hotline": get_settings().support_hotline}


def test_rate_limit_on_the_real_sqlite_services(tmp_path):
    """Five wrong digits on the embedded backend, then the sixth attempt is refused even with the right ones."""
    from core.db import Database
    from core.status.ratelimit import AttemptLimiter
    from core.status.sqlite import SqliteStatusBackend

    db = Database(str(tmp_path / "services.db"))
    backend = SqliteStatusBackend(db)
    backend.save(application(), phone="0912345678", id_number="001099001234")
    limiter = AttemptLimiter(db)
    for wrong in ("1111", "2222", "3333", "4444", "9999"):
        messages, *_ = lookup({"application_code": CODE, "status_verification": wrong}, backend, limiter)
        assert "không tìm thấy hồ sơ" in messages[0]["text"].lower()
    messages, *_ = lookup({"application_code": CODE, "status_verification": "5678"}, backend, limiter)
    assert "tạm khóa" in messages[0]["text"]


def test_cross_sender_guessing_from_one_client_is_stopped(tmp_path):
    """Issue 13, finding 2: each guess from a new sender id, all from one client (the channel's metadata): the
    client is stopped, while the owner, from another client, still gets the answer."""
    from core.db import Database
    from core.status.ratelimit import AttemptLimiter
    from core.status.sqlite import SqliteStatusBackend

    db = Database(str(tmp_path / "services.db"))
    backend = SqliteStatusBackend(db)
    backend.save(application(), phone="0912345678", id_number="001099001234")
    limiter = AttemptLimiter(db)

    def attempt(sender, digits, client):
        action = ActionCheckStatus(backend=backend, limiter=limiter, clock=lambda: NOW)
        trk = tracker(digits, slots={"application_code": CODE, "status_verification": digits}, sender=sender)
        trk.events[-1]["metadata"] = {"client": client, "channel": "web"}
        return [m["text"] for m in run(action, trk)[0]]

    for i, guess in enumerate(("1111", "2222", "3333", "4444", "9999")):
        assert "không tìm thấy hồ sơ" in attempt(f"web-guess-{i}", guess, "client-attacker")[0].lower()
    assert "tạm khóa" in attempt("web-guess-new", "5678", "client-attacker")[0]
    assert attempt("web-owner", "5678", "client-owner")[0] == format_status(application(), NOW.date())
