"""Handoff tickets: one open per sender, transcript stored, replies pending until delivered, close."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from core.db import VN_TZ
from core.handoff import HandoffError, HandoffStore
from tests.fakes.databases import make_database

TRANSCRIPT = [
    {"role": "user", "text": "Tôi muốn hỏi về hồ sơ đất đai", "at": "2025-11-27T09:00:00+07:00"},
    {"role": "bot", "text": "Xin lỗi, tôi chưa hiểu ý ông/bà.", "at": "2025-11-27T09:00:01+07:00"},
    {"role": "user", "text": "Tôi muốn gặp cán bộ", "at": "2025-11-27T09:00:20+07:00"},
]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    for db in make_database(request.param, tmp_path):
        yield HandoffStore(db, clock=lambda: datetime(2025, 11, 27, 9, 1, tzinfo=VN_TZ))


def test_open_ticket_once_per_sender(store):
    ticket = store.open_ticket("web-1", "socketio", TRANSCRIPT, "user_request")
    assert ticket.id == "HT-251127-0001" and ticket.status == "open"
    assert ticket.transcript == TRANSCRIPT
    again = store.open_ticket("web-1", "socketio", TRANSCRIPT + [{"role": "user", "text": "alo"}], "fallback")
    assert again.id == ticket.id
    other = store.open_ticket("web-2", "rest", [], "fallback")
    assert other.id == "HT-251127-0002"
    assert [t.id for t in store.list_open()] == ["HT-251127-0001", "HT-251127-0002"]
    assert store.list_open()[0].summary()["last_user_message"] == "Tôi muốn gặp cán bộ"


def test_concurrent_open_for_same_sender(store):
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        ids.append(store.open_ticket("web-7", "rest", TRANSCRIPT, "user_request").id)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 8 and len(set(ids)) == 1
    assert len(store.list_open()) == 1


def test_replies_pending_then_delivered(store):
    ticket = store.open_ticket("web-1", "rest", TRANSCRIPT, "user_request")
    r1 = store.add_reply(ticket.id, "Chào ông, tôi là cán bộ Một cửa phường Kinh Bắc.", "can_bo_lan")
    r2 = store.add_reply(ticket.id, "Ông cho tôi xin mã hồ sơ ạ.", "can_bo_lan")
    assert [r.text for r in store.pending_replies("web-1")] == [r1.text, r2.text]
    assert store.mark_delivered([r1.id]) == 1
    assert store.mark_delivered([r1.id]) == 0
    assert [r.id for r in store.pending_replies("web-1")] == [r2.id]
    full = store.get(ticket.id)
    delivered = [(r.staff, r.delivered_at is not None) for r in full.replies]
    assert delivered == [("can_bo_lan", True), ("can_bo_lan", False)]
    assert full.to_dict()["replies"][0]["text"] == r1.text


def test_close_then_new_ticket(store):
    ticket = store.open_ticket("web-1", "rest", TRANSCRIPT, "user_request")
    closed = store.close(ticket.id, "can_bo_lan")
    assert closed.status == "closed" and closed.closed_by == "can_bo_lan"
    assert store.list_open() == []
    with pytest.raises(HandoffError) as info:
        store.add_reply(ticket.id, "muộn rồi", "cb")
    assert info.value.status == 409
    with pytest.raises(HandoffError) as info:
        store.close(ticket.id, "cb")
    assert info.value.status == 409
    assert store.open_ticket("web-1", "rest", [], "user_request").id == "HT-251127-0002"


def test_errors(store):
    with pytest.raises(HandoffError) as info:
        store.add_reply("HT-000000-0000", "xin chào", "cb")
    assert info.value.status == 404 and info.value.message == "Không tìm thấy yêu cầu HT-000000-0000."
    ticket = store.open_ticket("web-1", "rest", [], "user_request")
    with pytest.raises(HandoffError, match="trống"):
        store.add_reply(ticket.id, "   ", "cb")
    assert store.get("HT-000000-0000") is None
