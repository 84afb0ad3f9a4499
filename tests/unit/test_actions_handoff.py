"""Human handoff actions: the offer, the ticket + pause, staff replies; office-hours wording of the wait."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_dialogue import ActionHandleFallback
from actions.actions_handoff import (
    ActionDeliverStaffReply,
    ActionHandoff,
    ActionOfferHandoff,
    build_transcript,
)
from tests.fakes.knowledge import abstaining_service
from tests.fakes.responses import rendered

VN = ZoneInfo("Asia/Ho_Chi_Minh")
MONDAY_10AM = datetime(2025, 11, 24, 10, 0, tzinfo=VN)
SATURDAY_9PM = datetime(2025, 11, 29, 21, 0, tzinfo=VN)
T0 = MONDAY_10AM.timestamp()


@dataclass
class Ticket:
    id: int
    sender_id: str
    channel: str
    transcript: list
    reason: str


@dataclass
class Reply:
    id: int
    text: str
    staff: str = "cb.tiepnhan"


@dataclass
class FakeHandoffStore:
    tickets: list = field(default_factory=list)
    replies: dict = field(default_factory=dict)
    delivered: list = field(default_factory=list)
    fail: bool = False

    def open_ticket(self, sender_id, channel, transcript, reason):
        if self.fail:
            raise OSError("disk full")
        ticket = Ticket(len(self.tickets) + 1, sender_id, channel, transcript, reason)
        self.tickets.append(ticket)
        return ticket

    def pending_replies(self, sender_id):
        return [r for r in self.replies.get(sender_id, []) if r.id not in self.delivered]

    def mark_delivered(self, reply_ids):
        self.delivered.extend(reply_ids)


def conversation(latest_text="có", latest_intent="affirm", slots=None):
    """A tracker: a question the bot could not answer, a request for a human, then ``latest_text``."""
    events = [
        {"event": "session_started"},
        {"event": "user", "text": "thủ tục cấp phép khai thác cát sông",
         "parse_data": {"intent": {"name": "ask_procedure"}}, "timestamp": T0 + 1},
        {"event": "bot", "text": "Xin lỗi, tôi chưa có thông tin về nội dung này.", "timestamp": T0 + 2},
        {"event": "user", "text": "/request_human", "parse_data": {"intent": {"name": "request_human"}},
         "timestamp": T0 + 3},
        {"event": "bot", "text": "Bạn có muốn chuyển không?", "timestamp": T0 + 4},
        {"event": "user", "text": latest_text, "parse_data": {"intent": {"name": latest_intent}}, "timestamp": T0 + 5,
         "input_channel": "rest"},
    ]
    latest = {"text": latest_text, "intent": {"name": latest_intent, "confidence": 0.95}, "entities": []}
    return Tracker(sender_id="citizen-7", slots=slots or {}, latest_message=latest, events=events, paused=False,
                   followup_action=None, active_loop={}, latest_action_name="action_listen")


def run(action, tracker):
    """The messages as the citizen gets them (domain.yml's responses filled) and the events."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return rendered(dispatcher.messages), events


def test_offer_names_the_wait_and_asks_yes_no(monkeypatch):
    monkeypatch.setattr("actions.actions_handoff.offer_wait", lambda now: f"WAIT@{now:%H:%M}")
    messages, events = run(ActionOfferHandoff(clock=lambda: MONDAY_10AM),
                           conversation("/request_human", "request_human"))
    assert messages[0]["response"] == "utter_offer_handoff"
    assert "WAIT@10:00" in messages[0]["text"]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert [b["title"] for b in messages[0]["buttons"]] == ["Có, gặp cán bộ", "Không, tôi hỏi tiếp"]
    slots = {e["name"]: e["value"] for e in events}
    assert slots == {"handoff_offered": True, "handoff_reason": "knowledge_abstained"}


def test_offer_in_hours_promises_nothing_before_yes():
    messages, _ = run(ActionOfferHandoff(clock=lambda: MONDAY_10AM),
                      conversation("tôi muốn gặp cán bộ", "request_human"))
    assert messages[0]["text"] == (
        "Tôi có thể chuyển cuộc trò chuyện này cho cán bộ hỗ trợ. Trong giờ làm việc, cán bộ trực thường trả lời "
        "sau ít phút. Bạn có muốn chuyển không?")


def test_typed_request_is_a_user_request(monkeypatch):
    monkeypatch.setattr("actions.actions_handoff.offer_wait", lambda now: "")
    _, events = run(ActionOfferHandoff(), conversation("tôi muốn gặp cán bộ", "request_human"))
    assert {e["name"]: e["value"] for e in events}["handoff_reason"] == "user_request"


def test_yes_stores_the_ticket_with_the_transcript_then_pauses(monkeypatch):
    monkeypatch.setattr("actions.actions_handoff.expected_wait", lambda now: "Cán bộ sẽ trả lời trong ít phút.")
    store = FakeHandoffStore()
    messages, events = run(ActionHandoff(store=store, clock=lambda: MONDAY_10AM),
                           conversation(slots={"handoff_reason": "knowledge_abstained"}))
    ticket = store.tickets[0]
    assert (ticket.sender_id, ticket.channel, ticket.reason) == ("citizen-7", "rest", "knowledge_abstained")
    assert [m["role"] for m in ticket.transcript] == ["user", "bot", "user", "bot", "user"]
    assert ticket.transcript[0]["text"] == "thủ tục cấp phép khai thác cát sông"
    assert messages[0]["response"] == "utter_handoff_opened"
    assert "(mã yêu cầu 1)" in messages[0]["text"]
    assert "Cán bộ sẽ trả lời trong ít phút." in messages[0]["text"]
    assert events[-1] == {"event": "pause", "timestamp": None}
    assert {"event": "slot", "name": "handoff_offered", "value": False, "timestamp": None} in events


@pytest.mark.parametrize("noise", [",,", "̠͗ؒ͜؏🔬̥", "🙏🙏", "𝧊̬", "؟؟ ...", "   "])
def test_noise_read_as_yes_opens_no_ticket(noise):
    """Found by fuzzing: symbols/emoji the NLU classified as affirm must not pause the bot."""
    store = FakeHandoffStore()
    messages, events = run(ActionHandoff(store=store, clock=lambda: MONDAY_10AM), conversation(noise, "affirm"))
    assert store.tickets == []
    assert messages[0]["response"] == "utter_handoff_unclear"
    assert messages[0]["text"].startswith("Tôi chưa rõ ý bạn.") and "gặp cán bộ" in messages[0]["text"]
    assert all(e["event"] != "pause" for e in events)


@pytest.mark.parametrize("answer", ["/affirm", "có", "Có ạ", "ok", "vang", "đồng ý 👍", "yes please"])
def test_real_yes_opens_a_ticket(monkeypatch, answer):
    monkeypatch.setattr("actions.actions_handoff.expected_wait", lambda now: "")
    store = FakeHandoffStore()
    run(ActionHandoff(store=store, clock=lambda: MONDAY_10AM), conversation(answer, "affirm"))
    assert len(store.tickets) == 1


def test_store_failure_gives_the_hotline_and_does_not_pause(monkeypatch):
    monkeypatch.setattr("actions.actions_handoff.expected_wait", lambda now: "")
    messages, events = run(ActionHandoff(store=FakeHandoffStore(fail=True)), conversation())
    assert messages[0]["response"] == "utter_handoff_error"
    assert "18001096" in messages[0]["text"]
    assert all(e["event"] != "pause" for e in events)


def test_transcript_covers_the_current_session_only():
    trk = conversation()
    trk.events.insert(0, {"event": "user", "text": "câu hỏi của phiên trước", "parse_data": {}})
    assert all(m["text"] != "câu hỏi của phiên trước" for m in build_transcript(trk))
    assert len(build_transcript(trk, limit=2)) == 2


def test_transcript_shows_tapped_buttons_by_their_title():
    trk = conversation()
    trk.events.extend([
        {"event": "bot", "text": "Bạn có muốn chuyển không?",
         "data": {"buttons": [{"title": "Có, gặp cán bộ", "payload": "/affirm"},
                              {"title": "Không, cảm ơn", "payload": "/deny"}]}},
        {"event": "user", "text": "/affirm", "parse_data": {"intent": {"name": "affirm"}}},
        {"event": "user", "text": "/deny", "parse_data": {"intent": {"name": "deny"}}},
        {"event": "bot", "text": "Vâng ạ."},
        {"event": "user", "text": "/affirm", "parse_data": {"intent": {"name": "affirm"}}},
    ])
    texts = [m["text"] for m in build_transcript(trk)[-5:]]
    assert texts == ["Bạn có muốn chuyển không?", "[Bấm nút] Có, gặp cán bộ", "[Bấm nút] Không, cảm ơn",
                     "Vâng ạ.", "[Bấm nút]"]


def test_transcript_hides_the_verification_digits():
    trk = conversation()
    trk.events.extend([
        {"event": "user", "text": "tra cứu hồ sơ H07.99-251120-0012",
         "parse_data": {"intent": {"name": "check_status"}}},
        {"event": "bot", "text": "Để bảo vệ thông tin của bạn, vui lòng nhập 4 chữ số cuối của số điện thoại hoặc "
                                 "số căn cước đã khai khi nộp hồ sơ."},
        {"event": "user", "text": "5678", "parse_data": {"intent": {"name": "inform"}}},
        {"event": "user", "text": "cho tôi gặp cán bộ", "parse_data": {"intent": {"name": "request_human"}}},
    ])
    texts = [m["text"] for m in build_transcript(trk)[-3:]]
    assert texts[1:] == ["****", "cho tôi gặp cán bộ"]


def test_staff_replies_are_delivered_once():
    store = FakeHandoffStore(replies={"citizen-7": [Reply(11, "Chào anh, hồ sơ cần thêm bản sao sổ đỏ."),
                                                    Reply(12, "Anh nộp tại Bộ phận Một cửa huyện nhé.")]})
    messages, _ = run(ActionDeliverStaffReply(store=store), conversation())
    assert [m["text"] for m in messages] == [
        "💬 Cán bộ hỗ trợ: Chào anh, hồ sơ cần thêm bản sao sổ đỏ.",
        "💬 Cán bộ hỗ trợ: Anh nộp tại Bộ phận Một cửa huyện nhé.",
    ]
    assert store.delivered == [11, 12]
    again, _ = run(ActionDeliverStaffReply(store=store), conversation())
    assert again == []


def test_second_fallback_sets_the_offer_slot_first_does_not():
    def fallback(text):
        return {"event": "user", "text": text, "parse_data": {"intent": {"name": "nlu_fallback"}}}

    first = conversation("asdf", "nlu_fallback")
    first.events[:] = [fallback("asdf")]
    _, events = run(ActionHandleFallback(abstaining_service()), first)
    assert events == [{"event": "slot", "name": "handoff_offered", "value": False, "timestamp": None}]
    second = conversation("zzz", "nlu_fallback")
    second.events[:] = [fallback("asdf"), {"event": "bot", "text": "..."}, fallback("zzz")]
    _, events = run(ActionHandleFallback(abstaining_service()), second)
    assert {"event": "slot", "name": "handoff_offered", "value": True, "timestamp": None} in events


def test_expected_wait_in_and_outside_office_hours():
    """The real office-hours wording: inside hours a short wait; on a Saturday night, Monday morning."""
    from core.office_hours import expected_wait_message

    inside = expected_wait_message(MONDAY_10AM)
    outside = expected_wait_message(SATURDAY_9PM)
    assert inside != outside
    assert "thứ Hai" in outside
    assert "thứ Hai" not in inside


def test_handoff_message_outside_office_hours_says_when():
    store = FakeHandoffStore()
    messages, _ = run(ActionHandoff(store=store, clock=lambda: SATURDAY_9PM), conversation())
    assert "thứ Hai" in messages[0]["text"]


def test_ticket_and_replies_on_the_real_store(tmp_path, monkeypatch):
    """The embedded SQLite HandoffStore: one ticket per sender, transcript kept, replies delivered once."""
    from core.db import Database
    from core.handoff import HandoffStore

    monkeypatch.setattr("actions.actions_handoff.expected_wait", lambda now: "")
    store = HandoffStore(Database(str(tmp_path / "services.db")))
    messages, events = run(ActionHandoff(store=store), conversation())
    [ticket] = store.list_open()
    assert ticket.sender_id == "citizen-7" and ticket.id in messages[0]["text"]
    assert store.get(ticket.id).transcript[0]["text"] == "thủ tục cấp phép khai thác cát sông"
    assert store.get(ticket.id).transcript[0]["at"] == "2025-11-24T10:00:01+07:00"
    run(ActionHandoff(store=store), conversation())
    assert len(store.list_open()) == 1  # asking twice does not open a second ticket
    store.add_reply(ticket.id, "Chào anh, tôi là cán bộ một cửa.", "cb.tiepnhan")
    first, _ = run(ActionDeliverStaffReply(store=store), conversation())
    second, _ = run(ActionDeliverStaffReply(store=store), conversation())
    assert [m["text"] for m in first] == ["💬 Cán bộ hỗ trợ: Chào anh, tôi là cán bộ một cửa."]
    assert second == []
