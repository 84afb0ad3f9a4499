"""Fault: the SQLite services database cannot be written (disk full).

No mocks: SQLite itself refuses the write. Two ways, both real:

* ``PRAGMA max_page_count`` on every connection, after the file was filled up to that many pages: every write
  that needs a page fails with SQLITE_FULL ("database or disk is full"), on any machine;
* (root only) the database on a 1 MB tmpfs, filled with a filler file: the kernel answers ENOSPC and SQLite
  fails the write ("disk I/O error" in WAL mode).

Expected: the store raises, nothing is half-written (no tracking code is used up), the citizen is told in
Vietnamese that saving failed and is given the hotline — never the acknowledgement with a code — and the real
cause is in the log. Once there is room again, filing works and gets the first code of the day.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.actions_feedback import ActionFeedbackStatus, ActionFileFeedback
from actions.actions_handoff import ActionHandoff
from core.db import Database
from core.feedback import FeedbackStore
from core.handoff import HandoffStore
from settings import get_settings
from tests.fakes.disk import fill_disk, tmpfs
from tests.fakes.responses import rendered, response_text

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2025, 11, 27, 14, 5, tzinfo=VN)
# A long report (a diary of the same incident): its row needs a new page, so a full file cannot take it.
CONTENT = " ".join(
    f"Tối ngày {day}/11, đèn đường ngõ 7 phố Nguyễn Trãi vẫn không sáng, cả đoạn đường tối om, người già và "
    "học sinh đi học thêm về phải soi đèn điện thoại, đã có hai người ngã xe vì ổ gà ở đầu ngõ."
    for day in range(1, 21)
)


class CappedDatabase(Database):
    """The services database with SQLite's own size limit set on every connection it opens."""

    max_pages: int | None = None

    def _connect(self):
        raw = super()._connect()
        if self.dialect == "sqlite" and self.max_pages:
            raw.execute(f"PRAGMA max_page_count = {int(self.max_pages)}")
        return raw


def fill_to_the_brim(db: CappedDatabase) -> None:
    """Cap the file at its current size, then use up the free space left in its pages (real SQLITE_FULL)."""
    db.ensure_schema()
    with db.transaction() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS filler (blob TEXT)")
    with db.read() as conn:
        db.max_pages = int(conn.one("PRAGMA page_count")["page_count"])
    raw = db._connect()
    try:
        for size in (2000, 200, 20, 1):  # big rows first, then smaller ones fill the remaining gaps
            while True:
                try:
                    raw.execute("INSERT INTO filler VALUES (?)", ("x" * size,))
                except sqlite3.OperationalError as exc:
                    assert "full" in str(exc), exc
                    break
    finally:
        raw.close()


def rows(db: Database, table: str) -> int:
    with db.read() as conn:
        return int(conn.one(f"SELECT count(*) AS n FROM {table}")["n"])


def feedback_tracker(sender: str = "citizen-full") -> Tracker:
    """A tracker at the end of the feedback form (all slots filled, consent given)."""
    latest = {"text": "/affirm", "intent": {"name": "affirm", "confidence": 1.0}, "entities": []}
    slots = {"feedback_topic": "hạ tầng", "feedback_content": CONTENT, "feedback_location": "phường Đông Ngàn",
             "feedback_contact": "0912345678", "feedback_consent": True}
    return Tracker(sender_id=sender, slots=slots, latest_message=latest,
                   events=[{"event": "user", "text": "/affirm", "parse_data": latest, "input_channel": "rest"}],
                   paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen")


def handoff_tracker(sender: str = "citizen-full") -> Tracker:
    latest = {"text": "có", "intent": {"name": "affirm", "confidence": 0.95}, "entities": []}
    documents = "\n".join(f"- Giấy tờ số {n}: bản sao có chứng thực hoặc bản chính để đối chiếu" for n in range(60))
    events = [
        {"event": "user", "text": "thủ tục cấp phép khai thác cát sông cần giấy tờ gì",
         "parse_data": {"intent": {"name": "ask_procedure"}}},
        {"event": "bot", "text": "Giấy tờ phải nộp:\n" + documents},  # a long answer: the transcript needs a page
        {"event": "user", "text": "Tôi muốn gặp cán bộ", "parse_data": {"intent": {"name": "request_human"}}},
        {"event": "bot", "text": "Bạn có muốn chuyển không?"},
        {"event": "user", "text": "có", "parse_data": latest, "input_channel": "rest"},
    ]
    return Tracker(sender_id=sender, slots={}, latest_message=latest, events=events, paused=False,
                   followup_action=None, active_loop={}, latest_action_name="action_listen")


def run(action, tracker: Tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return [m["text"] for m in rendered(dispatcher.messages)], events


def store_error_text() -> str:
    settings = get_settings()
    return response_text("utter_feedback_store_error", url=settings.feedback_url, hotline=settings.support_hotline)


@pytest.fixture
def full_db(tmp_path):
    db = CappedDatabase(str(tmp_path / "services.db"))
    old = FeedbackStore(db, clock=lambda: NOW).create("môi trường", "Rác thải đổ trộm bên bờ sông", "xã Phù Chẩn",
                                                      None, False, "citizen-old", "rest")
    fill_to_the_brim(db)
    db.old_code = old.code
    return db


# ---- SQLITE_FULL through max_page_count ------------------------------------------------------------------


def test_feedback_store_raises_database_full_and_keeps_nothing(full_db):
    store = FeedbackStore(full_db, clock=lambda: NOW)
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        store.create("hạ tầng", CONTENT, "phường Đông Ngàn", "0912345678", True, "citizen-full", "rest")
    assert rows(full_db, "feedback_reports") == 1 and rows(full_db, "feedback_events") == 1
    full_db.max_pages = None  # room again
    report = store.create("hạ tầng", CONTENT, "phường Đông Ngàn", "0912345678", True, "citizen-full", "rest")
    assert report.code == "PA-251127-0002"  # the failed attempt used no code


def test_feedback_action_says_saving_failed_not_received(full_db, caplog):
    action = ActionFileFeedback(store=FeedbackStore(full_db, clock=lambda: NOW))
    with caplog.at_level(logging.ERROR, logger="actions.actions_feedback"):
        texts, events = run(action, feedback_tracker())
    assert texts == [store_error_text()]
    assert "chưa lưu được phản ánh" in texts[0] and get_settings().support_hotline in texts[0]
    assert "PA-" not in texts[0] and "ghi nhận" not in texts[0]
    assert {e["name"] for e in events if e["event"] == "slot"} >= {"feedback_content", "feedback_topic"}
    logged = "\n".join(r.getMessage() + "\n" + (r.exc_text or "") for r in caplog.records)
    assert "Filing a feedback report failed" in logged and "database or disk is full" in caplog.text, logged
    assert "cannot rollback" not in caplog.text  # the real cause is not masked by the rollback
    assert rows(full_db, "feedback_reports") == 1


def test_lookups_still_work_while_the_database_is_full(full_db):
    latest = {"text": f"tra cứu phản ánh {full_db.old_code}", "intent": {"name": "check_feedback_status"},
              "entities": []}
    trk = Tracker(sender_id="citizen-old", slots={}, latest_message=latest, events=[], paused=False,
                  followup_action=None, active_loop={}, latest_action_name="action_listen")
    texts, _ = run(ActionFeedbackStatus(store=FeedbackStore(full_db)), trk)
    assert full_db.old_code in texts[0] and "Đã tiếp nhận" in texts[0], texts


def test_handoff_action_gives_the_hotline_and_does_not_pause(full_db, monkeypatch):
    monkeypatch.setattr("actions.actions_handoff.expected_wait", lambda now: "")
    store = HandoffStore(full_db, clock=lambda: NOW)
    texts, events = run(ActionHandoff(store=store), handoff_tracker())
    assert texts == [response_text("utter_handoff_error", hotline=get_settings().support_hotline)]
    assert "mã yêu cầu" not in texts[0] and "HT-" not in texts[0]
    assert all(e["event"] != "pause" for e in events)
    assert rows(full_db, "handoff_tickets") == 0
    full_db.max_pages = None
    texts, events = run(ActionHandoff(store=store), handoff_tracker())
    assert "HT-251127-0001" in texts[0] and events[-1]["event"] == "pause"


# ---- a real full file system (tmpfs), when this process may mount one -----------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs mounted for this test (needs root), unmounted afterwards."""
    with tmpfs(tmp_path / "tiny", "1m") as mount:
        yield mount


def test_feedback_on_a_full_disk_is_not_acknowledged_then_recovers(tiny_disk, caplog):
    db = Database(str(tiny_disk / "services.db"))
    store = FeedbackStore(db, clock=lambda: NOW)
    assert store.create("môi trường", "Rác thải đổ trộm", "xã Phù Chẩn", None, False, "s0", "rest").code.endswith(
        "0001"
    )
    filler = fill_disk(tiny_disk)
    with caplog.at_level(logging.ERROR, logger="actions.actions_feedback"):
        texts, _ = run(ActionFileFeedback(store=store), feedback_tracker())
    assert texts == [store_error_text()], texts
    assert "PA-" not in texts[0]
    assert "disk I/O error" in caplog.text or "database or disk is full" in caplog.text, caplog.text
    filler.unlink()
    texts, _ = run(ActionFileFeedback(store=store), feedback_tracker())
    assert "PA-251127-0002" in texts[0], texts  # the failed attempt used no code
    assert store.get("PA-251127-0002").content == CONTENT
