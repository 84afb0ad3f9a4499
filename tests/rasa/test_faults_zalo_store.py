"""Fault: a Zalo turn whose conversation cannot be saved (tracker SQLite full) gets an apology, like REST.

The error is real: Rasa's own SQLTrackerStore saving into a SQLite file capped with ``PRAGMA max_page_count``
(SQLITE_FULL). ``on_new_message`` stands in for Rasa's processor: it answers, then saves the tracker (as
``MessageProcessor.handle_message`` does), and the save raises. Stock Rasa wraps the store in
FailSafeTrackerStore, which swallows save errors; stores that re-raise (channels/tracker_store.py) and the
Redis lock store reach the channel this way.
"""

from __future__ import annotations

import asyncio
import logging
import zlib

from rasa.shared.core.trackers import DialogueStateTracker

from channels.turn import store_down_reply
from tests.fakes.full_tracker_store import TwoTurnsOneFailing, full_tracker_store, turn_events
from tests.fakes.zalo_api_server import text_event
from tests.fakes.zalo_channel import APP_ID, call, make_channel

PHONE_TEXT = "số điện thoại của tôi là 0912 345 678, nhờ cán bộ gọi lại giúp"


def test_zalo_turn_not_saved_gets_the_apology_and_no_user_text_in_the_log(fake, tmp_path, caplog):
    channel = make_channel(fake, tmp_path)
    store = full_tracker_store(tmp_path / "tracker.db")

    async def processor(message):
        await message.output_channel.send_text_message(message.sender_id, "Cán bộ sẽ gọi lại cho bạn.")
        # A whole turn's events (Rasa saves the user message, the actions and the replies together).
        tracker = DialogueStateTracker.from_events(message.sender_id, turn_events(message.text))
        await store.save(tracker)  # SQLITE_FULL: "database or disk is full"

    async def go():
        with caplog.at_level(logging.ERROR):
            status = await call(channel, processor, text_event(APP_ID, "500", PHONE_TEXT, msg_id="full-1"))
            await channel.dispatcher.join()
        return status

    status = asyncio.run(go())
    assert status == (200, {"status": "accepted"})
    assert fake.delivered("500") == ["Cán bộ sẽ gọi lại cho bạn.", store_down_reply()]
    assert "OperationalError" in caplog.text and "not handled" in caplog.text, caplog.text
    assert "0912" not in caplog.text and "gọi lại giúp" not in caplog.text, caplog.text


def users_on_different_workers(channel) -> tuple:
    """Two Zalo user ids whose messages go to different worker queues, so that their turns run at the same time."""
    def queue(user: str) -> int:
        return zlib.crc32(user.encode("utf-8")) % channel.dispatcher.workers

    users = [str(800 + i) for i in range(50)]
    return users[0], next(user for user in users if queue(user) != queue(users[0]))


def test_a_failed_save_gets_the_apology_and_leaves_another_users_turn_alone(fake, tmp_path, caplog):
    """Rasa's fail-safe store swallows a failed save, so the turn is answered and then forgotten: that turn gets the
    apology after its answer. Another user's turn running at the same time, saved correctly, gets only its answer."""
    channel = make_channel(fake, tmp_path, workers=2)
    steady_user, failing_user = users_on_different_workers(channel)
    processor = TwoTurnsOneFailing(steady_user, tmp_path)

    async def go():
        with caplog.at_level(logging.ERROR):
            statuses = [await call(channel, processor, text_event(APP_ID, steady_user, "lệ phí bao nhiêu")),
                        await call(channel, processor, text_event(APP_ID, failing_user, PHONE_TEXT))]
            await channel.dispatcher.join()
        return statuses

    assert asyncio.run(go()) == [(200, {"status": "accepted"})] * 2
    assert fake.delivered(steady_user) == [processor.STEADY_ANSWER]
    assert fake.delivered(failing_user) == [processor.FAILING_ANSWER, store_down_reply()]
    assert "not handled: tracker store (SQL database) failed" in caplog.text, caplog.text
    assert "0912" not in caplog.text and "gọi lại giúp" not in caplog.text, caplog.text
